#pragma once
/**
 * @file validation_context.h
 * Everything a verification (or the signing-side guard) needs, built once
 * from the configuration: the trust stores for signature CAs, TSAs and OCSP
 * responders, the HTTP client for CRL/OCSP/AIA, the revocation checker with
 * its cache in the store, the qualification policy and the cryptographic
 * constraints. Shared by `hanko verify`, `hanko sign` and the service.
 * Private to server/.
 */
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hanko/certstore/revocation.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/http_client.h"
#include "hanko/server/config.h"
#include "hanko/verifier/policy.h"
#include "hanko/verifier/verifier.h"

namespace hanko::store {
class Database;
}

namespace hanko::server {

class ValidationContext {
 public:
  /**
   * Loads trust.dir (required), trust.tsaDir, trust.ocspDir,
   * trust.intermediatesDir; every CRL file in trust.dir is also a configured
   * CRL for the revocation checker, after revocation.crlFiles. `db` (may be
   * null) holds the revocation cache and the qualification registry and must
   * outlive the context.
   */
  static Result<std::unique_ptr<ValidationContext>> create(const ServiceConfig& config, store::Database* db,
                                                            HttpObserver observer = {});

  /** Options for a verification at `at`. */
  verifier::VerifyOptions options(TimePoint at) const;

  const certstore::TrustStore& signature_trust() const { return m_signature; }
  /** trust.tsaDir, or the signature anchors when it is not set. */
  const certstore::TrustStore& tsa_trust() const { return m_tsa ? *m_tsa : m_signature; }
  const certstore::RevocationChecker* revocation() const { return m_revocation.get(); }
  const HttpClient& http() const { return m_http; }
  /** Lines for the start-up log. */
  std::vector<std::string> describe() const;

 private:
  ValidationContext(HttpOptions http) : m_http(std::move(http)) {}
  HttpClient m_http;
  certstore::TrustStore m_signature;
  std::optional<certstore::TrustStore> m_tsa;
  certstore::TrustStore m_ocsp;
  std::unique_ptr<certstore::RevocationChecker> m_revocation;
  verifier::QualificationPolicy m_policy;
  verifier::CryptoConstraints m_crypto;
  store::Database* m_db = nullptr;
  bool m_aia_fetch = true;
  std::vector<std::string> m_notes;
};

/** HTTP options from the http.* keys (also for the TSA client). */
/** The HTTP client options of the configuration (http.*), reporting every call to `observer` under `purpose`. */
HttpOptions http_options(const ServiceConfig& config, HttpObserver observer = {}, std::string purpose = {});

}  // namespace hanko::server
