#pragma once
/**
 * @file key_source.h
 * Where signatures are made. A SigningKey signs, names its certificate
 * chain and says where it lives. Three key sources implement it:
 *
 *  - PemSigningKey: an unencrypted PEM key file (development);
 *  - Pkcs12SigningKey: a password-protected PKCS#12 file (OpenSSL PKCS12_parse);
 *  - Pkcs11SigningKey: a key on a token or HSM, reached through its
 *    PKCS#11 module (dlopen, C_GetFunctionList); the key never leaves it.
 *
 * Every source checks, when it is opened, that the key belongs to the
 * certificate and is on hanko's allow-list (RSA >= 2048 bits for RS256,
 * EC P-256 for ES256). Signing is callable from several threads at once.
 *
 * Secrets (PKCS#12 passwords, PINs) come from a file or an environment
 * variable (read_secret_file, read_secret_env), never from a command line;
 * they are held in a Secret, which zeroes its memory (OPENSSL_cleanse), and
 * never appear in an Error message. docs/keys.md describes the sources and
 * their configuration (signers.h).
 *
 * Trust assumption: a key source says nothing about whether its
 * certificate is trusted; the signing-side guard (verifier::check_signer)
 * validates it before hanko signs.
 */
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/error.h"
#include "hanko/common/ossl.h"

namespace hanko::certstore {

/** JWS algorithms on hanko's allow-list (RFC 7518). */
enum class JwsAlg { RS256, ES256 };

/** "RS256" or "ES256". */
std::string_view jws_alg_name(JwsAlg alg);
/** nullopt for anything off the allow-list ("none", "HS256", ...). */
std::optional<JwsAlg> jws_alg_from_name(std::string_view name);

/**
 * A password or PIN in memory: move-only, zeroed (OPENSSL_cleanse) when
 * destroyed or moved over. Never printed.
 */
class Secret {
 public:
  Secret() = default;
  /** Copies `text`; the caller zeroes its own copy. */
  explicit Secret(std::string_view text);
  Secret(Secret&& other) noexcept;
  Secret& operator=(Secret&& other) noexcept;
  Secret(const Secret&) = delete;
  Secret& operator=(const Secret&) = delete;
  ~Secret();

  std::string_view view() const { return m_data.empty() ? std::string_view() : std::string_view(m_data.data(), m_data.size() - 1); }
  /** NUL-terminated. */
  const char* c_str() const { return m_data.empty() ? "" : m_data.data(); }
  std::size_t size() const { return view().size(); }
  bool empty() const { return size() == 0; }

 private:
  void wipe() noexcept;
  std::vector<char> m_data;  ///< text followed by a NUL, or empty
};

/**
 * The first line of a file (a trailing "\n" or "\r\n" removed). Errors
 * name the file, never its content. Files over 4 KiB are refused.
 */
Result<Secret> read_secret_file(const std::string& path);
/** The value of the environment variable `name`; an Error if it is not set. */
Result<Secret> read_secret_env(const std::string& name);

/**
 * A signing key and its certificate. Implementations are safe to call from
 * several threads at once (sign, sign_digest and the accessors).
 */
class SigningKey {
 public:
  virtual ~SigningKey() = default;
  virtual JwsAlg alg() const = 0;
  /**
   * Signs `data` and returns the JWS signature value: RSASSA-PKCS1-v1_5
   * with SHA-256 for RS256; for ES256 the 64-byte R||S form of RFC 7518
   * section 3.4 (not DER).
   */
  virtual Result<Bytes> sign(ByteView data) const = 0;
  /**
   * Signs a precomputed SHA-256 hash (32 bytes): RSASSA-PKCS1-v1_5 over the
   * DER DigestInfo of the hash for RS256, ECDSA over the hash for ES256
   * (64-byte R||S). `sign(data)` equals `sign_digest(sha256(data))` (up to
   * ECDSA's randomness). For two-step signing. The default refuses with
   * Errc::unsupported.
   */
  virtual Result<Bytes> sign_digest(ByteView sha256) const;
  /** The signer's certificate. */
  virtual const X509* certificate() const = 0;
  /** Intermediates up to, not including, the trust anchor. */
  virtual const std::vector<ossl::X509Ptr>& chain() const = 0;
  /** Where the key lives: "pem", "pkcs12", "pkcs11". */
  virtual std::string_view source() const = 0;
  /** The alias the key was configured under (signers.<alias>.*), "" if none. */
  virtual std::string_view label() const { return {}; }
};

/** A key held in memory (PEM and PKCS#12 files); not for direct use. */
class InMemorySigningKey : public SigningKey {
 public:
  JwsAlg alg() const override { return m_alg; }
  Result<Bytes> sign(ByteView data) const override;
  Result<Bytes> sign_digest(ByteView sha256) const override;
  const X509* certificate() const override { return m_cert.get(); }
  const std::vector<ossl::X509Ptr>& chain() const override { return m_chain; }
  std::string_view label() const override { return m_label; }
  /** Sets the alias label() returns; call before sharing the key between threads. */
  void set_label(std::string label) { m_label = std::move(label); }

 protected:
  InMemorySigningKey(ossl::X509Ptr cert, ossl::EvpPkeyPtr key, std::vector<ossl::X509Ptr> chain, JwsAlg alg);

 private:
  ossl::X509Ptr m_cert;
  ossl::EvpPkeyPtr m_key;
  std::vector<ossl::X509Ptr> m_chain;
  JwsAlg m_alg;
  std::string m_label;
};

/**
 * The checks every key source makes on a key and its certificate: the key
 * belongs to the certificate (when `key` is a private key), RSA keys have
 * >= 2048 bits (RS256), EC keys are on P-256 (ES256); anything else is
 * refused (Errc::policy). `key` may be the certificate's own public key, to
 * check only type and size.
 */
Result<JwsAlg> check_key_policy(const X509* cert, EVP_PKEY* key, bool is_private);

/** A key held in memory, read from unencrypted PEM (development) files. */
class PemSigningKey final : public InMemorySigningKey {
 public:
  /**
   * Loads and checks that the key matches the certificate; RSA keys must be
   * >= 2048 bits, EC keys P-256. Certificates after the first in
   * `cert_path` and those of `chain_path` make the chain.
   */
  static Result<std::unique_ptr<PemSigningKey>> load(const std::string& cert_path, const std::string& key_path,
                                                     const std::string& chain_path = {});
  static Result<std::unique_ptr<PemSigningKey>> create(ossl::X509Ptr cert, ossl::EvpPkeyPtr key,
                                                       std::vector<ossl::X509Ptr> chain);
  std::string_view source() const override { return "pem"; }

 private:
  using InMemorySigningKey::InMemorySigningKey;
};

/** A key read from a password-protected PKCS#12 file (kept in memory after loading). */
class Pkcs12SigningKey final : public InMemorySigningKey {
 public:
  /**
   * Opens `path` with `password` (PKCS12_parse), and checks the key as
   * PemSigningKey does. The chain is the other certificates of the file
   * (self-signed ones, i.e. roots, left out), ordered from the signer's
   * issuer upwards, followed by the certificates of `chain_path`. A wrong
   * password is an Errc::invalid_argument saying so. Files encrypted with
   * legacy algorithms (RC2-40) need the OpenSSL legacy provider, which
   * hanko does not load: re-export them (docs/keys.md).
   */
  static Result<std::unique_ptr<Pkcs12SigningKey>> load(const std::string& path, const Secret& password,
                                                        const std::string& chain_path = {});
  /** As PemSigningKey::create, for a key and certificate already taken out of a PKCS#12 file. */
  static Result<std::unique_ptr<Pkcs12SigningKey>> create(ossl::X509Ptr cert, ossl::EvpPkeyPtr key,
                                                          std::vector<ossl::X509Ptr> chain);
  std::string_view source() const override { return "pkcs12"; }

 private:
  using InMemorySigningKey::InMemorySigningKey;
};

/** Where a PKCS#11 key is (signers.<alias>.module, .tokenLabel, .keyLabel, .cert, .chain). */
struct Pkcs11Config {
  std::string module;       ///< path of the PKCS#11 module (.so), e.g. /usr/lib/softhsm/libsofthsm2.so
  std::string token_label;  ///< CK_TOKEN_INFO.label (at most 32 bytes; trailing blanks ignored)
  std::string key_label;    ///< CKA_LABEL of the private key (and of its CKO_CERTIFICATE)
  std::string cert_path;    ///< PEM certificate to use instead of the token's; "" = the token's
  std::string chain_path;   ///< PEM intermediates; "" = none
  std::size_t max_sessions = 4;  ///< size of the session pool (>= 1)
};

/**
 * A key on a PKCS#11 token. The module is loaded with dlopen and shared by
 * every key that names the same file; it is initialised with
 * CKF_OS_LOCKING_OK (CKR_CRYPTOKI_ALREADY_INITIALIZED is accepted) and
 * finalised when the last key using it goes, if hanko initialised it.
 *
 * Signing: CKM_RSA_PKCS over the DER DigestInfo of the SHA-256 hash
 * (RS256), CKM_ECDSA over the hash (ES256). Every signature the token
 * returns is verified against the certificate before it is handed out, so
 * a key replaced behind hanko's back cannot produce a bad signature.
 *
 * Threads: a pool of up to Pkcs11Config::max_sessions sessions (all logged
 * in, since PKCS#11 login state is per token, not per session); each
 * signature takes an idle session or opens one, and waits when all are busy.
 *
 * Recovery: when a call fails with CKR_SESSION_HANDLE_INVALID,
 * CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN, CKR_TOKEN_NOT_PRESENT,
 * CKR_TOKEN_NOT_RECOGNIZED, CKR_DEVICE_REMOVED, CKR_DEVICE_ERROR,
 * CKR_SLOT_ID_INVALID, CKR_KEY_HANDLE_INVALID, CKR_OBJECT_HANDLE_INVALID or
 * CKR_CRYPTOKI_NOT_INITIALIZED, the key drops its sessions, initialises the
 * module again if needed, finds the slot by token label, logs in, finds
 * the key by label and retries once, within the same request. A rejected
 * PIN (CKR_PIN_INCORRECT, CKR_PIN_LOCKED, ...) is never retried: the key
 * then refuses every later signature without logging in again, so a wrong
 * PIN cannot lock the token.
 */
class Pkcs11SigningKey final : public SigningKey {
 public:
  struct State;  ///< defined in certstore/src only

  /**
   * Loads the module, finds the token and the key, logs in with `pin`,
   * reads the certificate (the CKO_CERTIFICATE with the key's label, or
   * `cert_path`), checks the key policy, compares the token's public key
   * with the certificate and makes a test signature. Errors name the
   * module, token or key label, and the PKCS#11 return value; never the PIN.
   */
  static Result<std::unique_ptr<Pkcs11SigningKey>> open(const Pkcs11Config& config, Secret pin);

  /** For certstore's own use (open); State cannot be made outside it. */
  explicit Pkcs11SigningKey(std::unique_ptr<State> state);
  ~Pkcs11SigningKey() override;
  Pkcs11SigningKey(const Pkcs11SigningKey&) = delete;
  Pkcs11SigningKey& operator=(const Pkcs11SigningKey&) = delete;

  JwsAlg alg() const override;
  /** sign_digest(sha256(data)). */
  Result<Bytes> sign(ByteView data) const override;
  Result<Bytes> sign_digest(ByteView sha256) const override;
  const X509* certificate() const override;
  const std::vector<ossl::X509Ptr>& chain() const override;
  std::string_view source() const override { return "pkcs11"; }
  std::string_view label() const override;
  /** Sets the alias label() returns; call before sharing the key between threads. */
  void set_label(std::string label);
  /** How many times the key re-established its sessions (recovery), for logs and tests. */
  std::uint64_t recoveries() const;

 private:
  std::unique_ptr<State> m;
};

/** ECDSA helpers shared with the verifier: DER <-> fixed-size R||S (RFC 7518 section 3.4). */
Result<Bytes> ecdsa_der_to_raw(ByteView der, std::size_t field_bytes);
Result<Bytes> ecdsa_raw_to_der(ByteView raw);

/** The DER DigestInfo (RFC 8017 section 9.2) of a SHA-256 hash: the input of CKM_RSA_PKCS for RS256. */
Bytes sha256_digest_info(ByteView sha256);

}  // namespace hanko::certstore
