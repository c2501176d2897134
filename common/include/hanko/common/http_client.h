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
#include <functional>
#include <string>
#include <string_view>

#include "hanko/common/error.h"

namespace hanko {

/**
 * One finished HTTP exchange, as reported to HttpOptions::observer (for
 * metrics: upstream latency and failures). It carries no credentials and no
 * body; the URL has any userinfo replaced by "***".
 */
struct HttpEvent {
  std::string purpose;     ///< HttpOptions::purpose ("tsa", "ocsp", "crl", "aia", or empty)
  std::string url;         ///< the requested URL, userinfo redacted
  long status = 0;         ///< the HTTP status, 0 when no response arrived
  bool ok = false;         ///< a response arrived and its status is 2xx
  bool timed_out = false;  ///< the exchange failed on connect_timeout or total_timeout
  double seconds = 0;      ///< duration of the exchange (steady clock, not the wall clock)
};

/**
 * Called once after every request of an HttpClient, whether it succeeded or
 * not, on the calling thread. Must be thread-safe when the client is shared;
 * an exception it throws is swallowed.
 */
using HttpObserver = std::function<void(const HttpEvent&)>;

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

  /** A label for the observer and metrics: "tsa", "ocsp", "crl", "aia". */
  std::string purpose;
  /** Told about every exchange (may be empty). */
  HttpObserver observer;

  /**
   * HTTP basic authentication (RFC 7617) when `user` is not empty. The
   * password is the caller's (read from a file or the environment by whoever
   * configures the client); it is never put into an error message, an
   * HttpEvent or a log line. Credentials are only sent over https, or over
   * http to a loopback host (127.0.0.0/8, ::1, localhost); any other http URL
   * fails with Errc::invalid_argument before a connection is made. A user
   * name with ':' or control characters is refused (RFC 7617 section 2).
   */
  std::string user;
  std::string password;
  /**
   * TLS client authentication (mutual TLS): a PEM certificate file (it may
   * hold the chain after the leaf) and its unencrypted PEM private key file.
   * Both or neither.
   */
  std::string client_cert;
  std::string client_key;
  /**
   * A PEM file of the CA certificates that https servers must chain to. When
   * set, only these CAs are trusted (the system CA folder is not used); when
   * empty, the system CAs are. Server certificates and host names are always
   * checked.
   */
  std::string ca_file;
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
 * Errors: Errc::invalid_argument for a URL that is malformed, not http(s)
 * or carries userinfo (user:password@, refused: use HttpOptions::user), for
 * credentials on a non-loopback http URL, and for a client certificate, key
 * or CA file that cannot be used; Errc::too_large when the body exceeds
 * max_response_bytes; Errc::network for everything else (connection refused,
 * timeout, DNS, TLS handshake), with the URL (userinfo redacted) in the
 * message. is_timeout() tells a timeout apart.
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
  Result<HttpResponse> exchange(const std::string& url, bool is_post, std::string_view content_type,
                                std::string_view body) const;

  HttpOptions m_options;
};

/** Whether an HttpClient error was a timeout (connect_timeout or total_timeout). */
bool is_timeout(const Error& e);

/**
 * Whether HttpOptions credentials may go to `url`: an https URL, or an http
 * URL whose host is a loopback address (127.0.0.0/8, [::1], localhost).
 */
bool may_send_credentials(const std::string& url);

/** `url` with the userinfo of its authority (user:password@) replaced by "***". */
std::string redact_url(std::string_view url);

}  // namespace hanko
