#pragma once
/**
 * @file timestamp_source.h
 * Where RFC 3161 timestamps come from: a remote TSA over HTTP, or the
 * development TSA in the same process. Both share one request/response path
 * (request_timestamp) and the same checks of the response.
 *
 * Trust assumptions: the response checks here make sure the token answers our
 * request (status, nonce, imprint, policy, signature, ESSCertID, TSA
 * certificate purpose). They do not establish trust in the TSA: chain
 * validation against a trust store is verify_token()'s job.
 */
#include <functional>
#include <optional>
#include <string>

#include "hanko/common/bytes.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"
#include "hanko/common/http_client.h"

namespace hanko::tsa {

/** Where timestamps come from. */
class TimestampSource {
 public:
  virtual ~TimestampSource() = default;
  /**
   * Gets a token over `data` (hashes it with `alg`), checks the response
   * (status granted, nonce echoed, imprint, TSA cert EKU timeStamping
   * critical) and returns the TimeStampToken DER. Errc::network when
   * unreachable, Errc::remote_rejected on a rejection or a bad response.
   */
  virtual Result<Bytes> timestamp(ByteView data, DigestAlg alg = DigestAlg::sha256) = 0;
  /** A human-readable description, e.g. the URL. */
  virtual std::string describe() const = 0;
};

/** Carries one DER TimeStampReq to a TSA and returns its DER TimeStampResp. */
using TsaTransport = std::function<Result<Bytes>(ByteView request_der)>;

/**
 * The shared request/response path. Builds a TimeStampReq (version 1,
 * messageImprint = alg(data), 64-bit random nonce, certReq TRUE, reqPolicy if
 * given), sends it through `transport` and checks the TimeStampResp:
 *  - RFC 3161 2.4.2: status granted (0) or grantedWithMods (1), and then a
 *    timeStampToken present; anything else is Errc::remote_rejected with the
 *    status, statusString and failInfo;
 *  - the token parses, TSTInfo.nonce equals the request's nonce ("the nonce
 *    ... MUST have the same value as the similar field in TimeStampReq"),
 *    messageImprint equals the request's, policy equals reqPolicy if one was
 *    requested;
 *  - the CMS signature verifies with the certificate in the token, the
 *    ESSCertID(v2) names that certificate, and that certificate has the
 *    id-kp-timeStamping extended key usage, alone and critical (RFC 3161 2.3).
 * Transport errors are passed through unchanged; every response defect is
 * Errc::remote_rejected.
 * @return the TimeStampToken DER exactly as the TSA sent it.
 */
Result<Bytes> request_timestamp(const TsaTransport& transport, ByteView data, DigestAlg alg,
                                const std::optional<std::string>& policy_oid = std::nullopt);

/**
 * A remote TSA over HTTP (RFC 3161 section 3.4): POST with Content-Type
 * application/timestamp-query; the answer must be 200 with Content-Type
 * application/timestamp-reply.
 */
class HttpTsaClient final : public TimestampSource {
 public:
  /**
   * @param url the TSA's http(s) URL
   * @param options timeouts, size limit, proxy, credentials, TLS files and observer for
   *        the HTTP exchange; an empty purpose becomes "tsa"
   * @param policy_oid reqPolicy to ask for (the token's policy must then match)
   */
  HttpTsaClient(std::string url, HttpOptions options = {}, std::optional<std::string> policy_oid = std::nullopt);

  Result<Bytes> timestamp(ByteView data, DigestAlg alg = DigestAlg::sha256) override;
  std::string describe() const override { return m_url; }

 private:
  std::string m_url;
  HttpClient m_http;
  std::optional<std::string> m_policy;
};

}  // namespace hanko::tsa
