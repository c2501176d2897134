#pragma once
/**
 * Internal: the request/response path of request_timestamp() and the HTTP
 * transport of HttpTsaClient, telling where an exchange failed (for the
 * TsaPool's attempts). Not installed.
 */
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/bytes.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"
#include "hanko/common/http_client.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/tsa_pool.h"

namespace hanko::tsa::detail {

/**
 * request_timestamp(), and on failure sets `failure`: the transport's own
 * classification if it set one, otherwise timeout / unreachable / config /
 * malformed from the error; rejected for a PKIStatus refusal; malformed for
 * an answer that is not a TimeStampResp or has no token; bad_token for a
 * token that does not answer the request.
 */
Result<Bytes> exchange(const TsaTransport& transport, ByteView data, DigestAlg alg,
                       const std::optional<std::string>& policy_oid, TsaFailure& failure);

/**
 * RFC 3161 section 3.4 over `http`: POST application/timestamp-query, the
 * answer must be 200 application/timestamp-reply. Sets `failure` to
 * http_status or malformed for those defects (the error is then
 * Errc::remote_rejected); network errors pass through unchanged. `http` and
 * `failure` must outlive the returned transport.
 */
TsaTransport http_transport(const HttpClient& http, const std::string& url, TsaFailure& failure);

/** Untrusted text made printable (control characters become '?') and at most `max` bytes long. */
std::string sanitize(std::string_view s, std::size_t max = 200);

}  // namespace hanko::tsa::detail
