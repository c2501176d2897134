#pragma once
/**
 * @file signers.h
 * Named signers: the `signers.*` configuration keys, the keys they open,
 * and a description of each for reports (GET /v1/signers).
 *
 * Keys (full names, as server/src/config.cpp collects them):
 *
 *   signers.default               = ALIAS (optional with one signer)
 *   signers.<alias>.source        = pem | pkcs12 | pkcs11
 *   pem:    .cert, .key (required), .chain
 *   pkcs12: .file (required), .passwordFile | .passwordEnv (exactly one), .chain
 *   pkcs11: .module, .tokenLabel, .keyLabel (required), .pinFile | .pinEnv
 *           (exactly one), .cert (PEM instead of the token's certificate), .chain
 *
 * An alias is 1-64 characters of [A-Za-z0-9_-], and not "default". A key
 * that its source does not use is an error, as is an unknown key. Every
 * Error names the configuration key it is about. docs/keys.md has examples.
 */
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/key_source.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"

namespace hanko::certstore {

/** The keys of one signer, as written (unchecked paths, no secrets: only where they are). */
struct SignerConfig {
  std::string alias;
  std::string source;         ///< "pem", "pkcs12" or "pkcs11"
  std::string cert;           ///< .cert
  std::string key;            ///< .key (pem)
  std::string chain;          ///< .chain
  std::string file;           ///< .file (pkcs12)
  std::string password_file;  ///< .passwordFile (pkcs12)
  std::string password_env;   ///< .passwordEnv (pkcs12)
  std::string module;         ///< .module (pkcs11)
  std::string token_label;    ///< .tokenLabel (pkcs11)
  std::string key_label;      ///< .keyLabel (pkcs11)
  std::string pin_file;       ///< .pinFile (pkcs11)
  std::string pin_env;        ///< .pinEnv (pkcs11)
};

/** Every signer of the configuration, by alias (sorted), and the default alias ("" when there is none). */
struct SignersConfig {
  std::vector<SignerConfig> signers;
  std::string default_alias;
};

/**
 * Checks the `signers.*` keys (full names; other keys are ignored) without
 * opening anything. The default is signers.default, or the only signer
 * when there is one; with several signers and no signers.default there is
 * no default. Errors name the key.
 */
Result<SignersConfig> parse_signers_config(const std::map<std::string, std::string>& keys);

/**
 * Opens one signer: reads its password or PIN (file or environment),
 * loads the key and sets its label() to the alias. Errors name the key
 * (e.g. "signers.hsm.pinFile: ...").
 */
Result<std::shared_ptr<SigningKey>> open_signer(const SignerConfig& config);

/** What GET /v1/signers shows about a signer. */
struct SignerDescription {
  std::string alias;
  std::string source;                  ///< "pem", "pkcs12", "pkcs11"
  std::string alg;                     ///< "RS256" or "ES256"
  std::vector<CertSummary> chain;      ///< the signer's certificate first, then its chain
  std::vector<std::string> chain_pem;  ///< the same certificates in PEM
  TimePoint not_before{}, not_after{};  ///< validity of the signer's certificate
  std::optional<std::string> hc_role;  ///< HPKI hcRole when the certificate has one
};

/** Describes a key; the alias is key.label(). */
SignerDescription describe_signer(const SigningKey& key);

/** The signers of a configuration, opened. */
class SignerSet {
 public:
  SignerSet() = default;

  /** The aliases, sorted. */
  const std::vector<std::string>& aliases() const { return m_aliases; }
  /** The default alias, "" when there is none. */
  const std::string& default_alias() const { return m_default; }
  bool empty() const { return m_aliases.empty(); }
  /** The signer with this alias, or nullptr. */
  std::shared_ptr<const SigningKey> find(std::string_view alias) const;
  /** The default signer, or nullptr when there is none. */
  std::shared_ptr<const SigningKey> default_signer() const { return find(m_default); }
  /** One description per signer, in alias order. */
  std::vector<SignerDescription> describe() const;

  /** Adds an opened key under `alias` (load_signers does this). */
  void add(std::string alias, std::shared_ptr<const SigningKey> key);
  void set_default(std::string alias) { m_default = std::move(alias); }

 private:
  std::vector<std::string> m_aliases;
  std::map<std::string, std::shared_ptr<const SigningKey>, std::less<>> m_keys;
  std::string m_default;
};

/** parse_signers_config, then open_signer for each signer. */
Result<SignerSet> load_signers(const std::map<std::string, std::string>& keys);

}  // namespace hanko::certstore
