#pragma once
/**
 * @file tsa_http_server.h
 * An HTTP(S) front end for the development TSA (RFC 3161 section 3.4), with
 * optional basic authentication, optional mutual TLS, and fault injection
 * for the tests of TsaPool's failover.
 *
 * WARNING: DEVELOPMENT ONLY, like DevTsa.
 */
#include <cstdint>
#include <memory>
#include <string>

#include "hanko/tsa_client/dev_tsa.h"

namespace hanko::tsa {

/** Settings of a TsaHttpServer beyond host and port. */
struct TsaHttpServerOptions {
  /**
   * When basic_user is set, every request must carry these HTTP basic
   * credentials (RFC 7617); otherwise the answer is 401 with
   * WWW-Authenticate. Compared in constant time; never logged.
   */
  std::string basic_user;
  std::string basic_password;
  /** https: the server's PEM certificate (chain after the leaf allowed) and unencrypted PEM key. Empty: http. */
  std::string tls_cert;
  std::string tls_key;
  /**
   * With tls_cert: a PEM file of the CAs a client certificate must chain to.
   * When set, a client without a valid certificate fails the TLS handshake
   * (mutual TLS); when empty, no client certificate is asked for.
   */
  std::string tls_client_ca;
};

/** A fault the server injects into its answers (for failover tests). */
enum class TsaFault {
  none,       ///< answer normally
  http_500,   ///< 500 Internal Server Error
  garbage,    ///< 200 application/timestamp-reply with bytes that are not DER
  rejection,  ///< 200 with a TimeStampResp of status rejection (failInfo systemFailure)
  hold,       ///< keep the request open until release_held() or stop(), then answer normally
};

/**
 * Serves a DevTsa over HTTP (or HTTPS) with Poco::Net::HTTPServer: POST with
 * Content-Type application/timestamp-query -> 200 application/timestamp-reply;
 * other methods 405, other content types 415, body > 64 KiB 413 (read with a
 * bounded loop), missing or wrong credentials 401 when basic auth is on.
 * Port 0 picks a free port.
 *
 * The socket is bound in the constructor (so port() is known before start());
 * a stopped server cannot be started again.
 */
class TsaHttpServer {
 public:
  /** Largest request body accepted. */
  static constexpr std::size_t max_body_bytes = 64u << 10;

  /**
   * Binds host:port (throws Poco::Exception when that fails, or when the TLS
   * files cannot be loaded: start-up only).
   * @param tsa must outlive the server
   */
  TsaHttpServer(DevTsa& tsa, std::string host, std::uint16_t port, TsaHttpServerOptions options = {});
  ~TsaHttpServer();  ///< stops
  TsaHttpServer(const TsaHttpServer&) = delete;
  TsaHttpServer& operator=(const TsaHttpServer&) = delete;

  void start();
  /** Releases held requests, stops accepting and waits for the requests in progress. Idempotent. */
  void stop();
  std::uint16_t port() const;
  /** "http://127.0.0.1:PORT/" or "https://..." (the bound host, or 127.0.0.1 for a wildcard address). */
  std::string url() const;

  /**
   * Fault injection for tests: applies to requests that arrive from now on
   * (after the method, Content-Type, size and credential checks). Setting
   * TsaFault::hold closes the latch: requests wait until release_held().
   */
  void set_fault(TsaFault fault);
  /** Opens the latch: every held request (and every later one) goes on. */
  void release_held();
  /** Requests received so far (every request, whatever the answer). */
  std::size_t request_count() const;
  /** Requests waiting on the latch right now. */
  std::size_t held_count() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::tsa
