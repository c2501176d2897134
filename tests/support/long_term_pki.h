#pragma once
/**
 * A PKI made at chosen times for long-term signature tests (issue 8): the
 * keys of the test process's development PKI (test::dev_pki()), certificates
 * issued here with the validity each case needs, pointing at a
 * certstore::DevRevocationServer (CRL and OCSP over HTTP on 127.0.0.1).
 * Shared by tests/integration/long_term_test.cpp, the archive tests
 * (tests/unit/archive) and bench/archive_bench.cpp.
 *
 * CRL names served (LtPki::serve): "lt-root" (the HPKI root, for the signing
 * CA), "lt-ca" (the signing CA, for signers; OCSP at <base>/ocsp, caIssuers
 * <base>/certs/lt-ca.der), "lt-tsa-root" (the TSA root, for TSA
 * certificates). TSA authorities made with tsa_authority() serve their own.
 *
 * Failures are reported with gtest EXPECT_* (and a null pointer returned).
 */
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/ossl.h"

namespace hanko::certstore {
class DevRevocationServer;
}

namespace hanko::test {

/** The private key of a dev PKI item ("hpki-root", "doctor", "tsa", ...). */
ossl::EvpPkeyPtr dev_key(const std::string& id);
/** The certificate of a dev PKI item. */
ossl::X509Ptr dev_cert(const std::string& id);
/** Another reference to `key`. */
ossl::EvpPkeyPtr up(EVP_PKEY* key);
/** A fresh EC P-256 key (a TSA's key at a rollover). */
ossl::EvpPkeyPtr new_ec_key();
/** C=JP, O=Hanko LT Test, CN=cn. */
ossl::X509NamePtr lt_name(const std::string& cn);

/**
 * Issues a certificate for `subject_key` (self-signed when `issuer` is null),
 * valid nb..na, with the extensions of `copy_from` except the identifier,
 * CDP and AIA ones, then `exts` (OpenSSL config syntax), signed with SHA-256.
 */
ossl::X509Ptr issue(const X509_NAME* subject, EVP_PKEY* subject_key, const X509* issuer, EVP_PKEY* issuer_key,
                    TimePoint nb, TimePoint na, const std::vector<std::pair<int, std::string>>& exts,
                    const X509* copy_from = nullptr);

/** A TSA root of its own (a TSA operator's new hierarchy at a rollover), its CRL served under crl_name. */
struct TsaAuthority {
  ossl::EvpPkeyPtr root_key;
  ossl::X509Ptr root;
  std::string crl_name;
};

/**
 * A root, a signing CA and a TSA root valid from t0 - 1 year to t0 + 50
 * years, whose certificates point at a DevRevocationServer at `base`
 * ("http://127.0.0.1:PORT").
 */
class LtPki {
 public:
  LtPki(TimePoint t0, std::string base);

  /** An HPKI doctor certificate (hcRole, policies, keyUsage of the dev PKI's "doctor") valid nb..na. */
  ossl::X509Ptr signer(TimePoint nb, TimePoint na) const;
  /** The same, issued by `issuer` (key ca_key) whose CRL the server serves as <crl_name>. */
  ossl::X509Ptr signer_under(const X509* issuer, const std::string& crl_name, TimePoint nb, TimePoint na) const;
  /** A signing CA (key ca_key) under the root, valid nb..na. */
  ossl::X509Ptr short_ca(TimePoint nb, TimePoint na) const;
  /** A TSA certificate (EKU timeStamping only, critical) for tsa_key under tsa_root, valid nb..na. */
  ossl::X509Ptr tsa(TimePoint nb, TimePoint na, const std::string& cn) const;

  /**
   * A new TSA root (fresh EC P-256 key, valid nb..na) named `cn`, registered
   * with `server` under `crl_name`; add its root to the TSA trust yourself.
   * Errors from the server come back as Errc::io.
   */
  Result<TsaAuthority> tsa_authority(TimePoint nb, TimePoint na, const std::string& cn, const std::string& crl_name,
                                     certstore::DevRevocationServer& server) const;
  /** A TSA certificate for `key` under `authority`, valid nb..na. */
  ossl::X509Ptr tsa_under(const TsaAuthority& authority, EVP_PKEY* key, TimePoint nb, TimePoint na,
                          const std::string& cn) const;

  /** Registers the root, the signing CA and the TSA root with the server (lt-root, lt-ca, lt-tsa-root). */
  Result<void> serve(certstore::DevRevocationServer& server) const;

  ossl::EvpPkeyPtr root_key, ca_key, tsa_root_key, signer_key, tsa_key;
  ossl::X509Ptr root, ca, tsa_root;

 private:
  std::string m_base;
};

}  // namespace hanko::test
