#pragma once
/**
 * @file tsa_http_server.h
 * An HTTP front end for the development TSA (RFC 3161 section 3.4).
 */
#include <cstdint>
#include <memory>
#include <string>

#include "hanko/tsa_client/dev_tsa.h"

namespace hanko::tsa {

/**
 * Serves a DevTsa over HTTP with Poco::Net::HTTPServer: POST with
 * Content-Type application/timestamp-query -> 200 application/timestamp-reply;
 * other methods 405, other content types 415, body > 64 KiB 413 (read with a
 * bounded loop). Port 0 picks a free port.
 *
 * The socket is bound in the constructor (so port() is known before start());
 * a stopped server cannot be started again.
 */
class TsaHttpServer {
 public:
  /** Largest request body accepted. */
  static constexpr std::size_t max_body_bytes = 64u << 10;

  /**
   * Binds host:port (throws Poco::Exception when that fails: start-up only).
   * @param tsa must outlive the server
   */
  TsaHttpServer(DevTsa& tsa, std::string host, std::uint16_t port);
  ~TsaHttpServer();  ///< stops
  TsaHttpServer(const TsaHttpServer&) = delete;
  TsaHttpServer& operator=(const TsaHttpServer&) = delete;

  void start();
  /** Stops accepting and waits for the requests in progress. Idempotent. */
  void stop();
  std::uint16_t port() const;
  /** "http://127.0.0.1:PORT/" (the bound host, or 127.0.0.1 for a wildcard address). */
  std::string url() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::tsa
