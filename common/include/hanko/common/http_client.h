#pragma once
/**
 * @file http_client.h
 * A small blocking HTTP client on libcurl, for the TSA, OCSP and CRL fetches.
 *
 * Trust assumptions: the client only moves bytes. It follows no redirects,
 * speaks only http and https, ignores proxy environment variables unless a
 * proxy is configured, and bounds both time and response size. Whatever it
 * returns is untrusted and must be checked by the caller.
 */
#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "hanko/common/error.h"

namespace hanko {

/** Limits and settings of an HttpClient. */
struct HttpOptions {
  /** Time allowed to establish the TCP (and TLS) connection. */
  std::chrono::milliseconds connect_timeout{5000};
  /** Time allowed for the whole exchange, connection included. */
  std::chrono::milliseconds total_timeout{15000};
  /** Largest accepted response body; larger answers fail with Errc::too_large. */
  std::size_t max_response_bytes = 4u << 20;
  /** Proxy URL; empty means no proxy at all (http_proxy & co. are ignored). */
  std::string proxy;
  std::string user_agent = "hanko/0.1";
};

/** A response of any HTTP status; the caller decides what a non-2xx status means. */
struct HttpResponse {
  long status = 0;
  std::string content_type;  ///< the Content-Type header as sent (may be empty)
  std::string body;
};

/**
 * A blocking HTTP client. Each call uses its own libcurl easy handle, so one
 * HttpClient may be used from several threads at once.
 *
 * Errors: Errc::invalid_argument for a URL that is malformed or not http(s);
 * Errc::too_large when the body exceeds max_response_bytes; Errc::network for
 * everything else (connection refused, timeout, DNS, TLS), with the URL in the
 * message.
 */
class HttpClient {
 public:
  explicit HttpClient(HttpOptions options = {});

  /** POSTs `body` with the given Content-Type. */
  Result<HttpResponse> post(const std::string& url, std::string_view content_type, std::string_view body) const;
  /** GETs `url`. */
  Result<HttpResponse> get(const std::string& url) const;

  const HttpOptions& options() const { return m_options; }

 private:
  HttpOptions m_options;
};

}  // namespace hanko
