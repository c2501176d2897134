#pragma once
/**
 * @file service.h
 * The hanko service: what POST /v1/sign and /v1/verify do, independent of
 * HTTP, and the HTTP server around it. server/ is the only module that reads
 * the wall clock; it hands the time down.
 */
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/server/config.h"

namespace hanko::server {

/** What the audit trail records about the document of a request, when known (docs/audit.md). */
struct AuditFacts {
  std::string document_identifier;  ///< Bundle.identifier.value
  std::string document_sha256;      ///< hex SHA-256 of the canonical #document bytes
  std::string patient_reference;    ///< Composition.subject.reference, or the Patient entry
  std::string signer;               ///< signer certificate "subject, serial HEX"
};

/** An HTTP answer: status, content type, body, extra headers. */
struct HttpAnswer {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  AuditFacts audit;  ///< not sent; for the audit record
};

/** A FHIR OperationOutcome with one error issue. */
HttpAnswer operation_outcome(int status, std::string_view code, std::string_view diagnostics);
/** Maps an Error to its HTTP status and OperationOutcome. */
HttpAnswer error_answer(const Error& e);

class Service {
 public:
  /** Builds the service from its configuration; in dev mode creates the dev PKI under data_dir on first start. */
  static Result<std::unique_ptr<Service>> create(const ServiceConfig& config, const Clock& clock);
  ~Service();

  /** POST /v1/sign. `query` is the raw query string. */
  HttpAnswer sign(std::string_view content_type, std::string_view body, std::string_view query);
  /** POST /v1/verify. */
  HttpAnswer verify(std::string_view content_type, std::string_view body, std::string_view query);
  /** GET /healthz. */
  HttpAnswer health() const;

  const ServiceConfig& config() const;
  /** The service's clock (the time of audit records). */
  TimePoint now() const;
  /** Lines describing the setup, for the start-up log (dev mode says so loudly). */
  std::vector<std::string> describe() const;

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/** The Poco HTTP server around a Service. */
class HttpServer {
 public:
  HttpServer(Service& service, const ServiceConfig& config);
  ~HttpServer();
  /** Binds and starts; port 0 picks a free port. */
  Result<void> start();
  /** Stops accepting and waits for requests in flight. */
  void stop();
  std::uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::server
