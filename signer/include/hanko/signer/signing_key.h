#pragma once
/**
 * @file signing_key.h
 * Where signatures are made. A SigningKey signs the JWS signing input and
 * names its certificate chain; the PEM implementation is the first key
 * source, PKCS#12 and PKCS#11 (HSM) implement the same interface later.
 */
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/error.h"
#include "hanko/common/ossl.h"

namespace hanko::signer {

/** JWS algorithms on hanko's allow-list (RFC 7518). */
enum class JwsAlg { RS256, ES256 };

std::string_view jws_alg_name(JwsAlg alg);
/** nullopt for anything off the allow-list ("none", "HS256", ...). */
std::optional<JwsAlg> jws_alg_from_name(std::string_view name);

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
  /** The signer's certificate. */
  virtual const X509* certificate() const = 0;
  /** Intermediates up to, not including, the trust anchor. */
  virtual const std::vector<ossl::X509Ptr>& chain() const = 0;
  /** Where the key lives, for reports and GET /v1/signers later: "pem", "pkcs12", "pkcs11". */
  virtual std::string_view source() const = 0;
};

/** A key held in memory, read from unencrypted PEM (development) files. */
class PemSigningKey final : public SigningKey {
 public:
  /** Loads and checks that the key matches the certificate; RSA keys must be >= 2048 bits, EC keys P-256. */
  static Result<std::unique_ptr<PemSigningKey>> load(const std::string& cert_path, const std::string& key_path,
                                                     const std::string& chain_path = {});
  static Result<std::unique_ptr<PemSigningKey>> create(ossl::X509Ptr cert, ossl::EvpPkeyPtr key,
                                                       std::vector<ossl::X509Ptr> chain);

  JwsAlg alg() const override { return m_alg; }
  Result<Bytes> sign(ByteView data) const override;
  const X509* certificate() const override { return m_cert.get(); }
  const std::vector<ossl::X509Ptr>& chain() const override { return m_chain; }
  std::string_view source() const override { return "pem"; }

 private:
  PemSigningKey(ossl::X509Ptr cert, ossl::EvpPkeyPtr key, std::vector<ossl::X509Ptr> chain, JwsAlg alg);
  ossl::X509Ptr m_cert;
  ossl::EvpPkeyPtr m_key;
  std::vector<ossl::X509Ptr> m_chain;
  JwsAlg m_alg;
};

/** ECDSA helpers shared with the verifier: DER <-> fixed-size R||S (RFC 7518 section 3.4). */
Result<Bytes> ecdsa_der_to_raw(ByteView der, std::size_t field_bytes);
Result<Bytes> ecdsa_raw_to_der(ByteView raw);

}  // namespace hanko::signer
