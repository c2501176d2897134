#pragma once
/**
 * @file service.h
 * The hanko service: what POST /v1/sign and /v1/verify do, independent of
 * HTTP, and the HTTP server around it. server/ is the only module that reads
 * the wall clock; it hands the time down.
 */
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  std::string format;               ///< jades | xades: signatures made or validated (metrics)
  std::string level;                ///< B-B | B-T | ...: the level of a signature made (metrics)
  std::string indication;           ///< TOTAL-PASSED | TOTAL-FAILED | INDETERMINATE of a validation (metrics)
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

class Metrics;
}  // namespace hanko::server
namespace hanko::tsa {
class TimestampSource;
}
namespace hanko::store {
class Database;
}
namespace hanko::server {

/**
 * Who is asking, as the HTTP layer authenticated it: what the signing
 * operations need to decide which signers a request may use and whether a
 * two-step session belongs to it.
 */
struct Caller {
  std::string client_id;             ///< the configured client (clients.<id>); "" when authentication is off
  std::vector<std::string> signers;  ///< the signer aliases it may use (clients.<id>.signers), or {"*"}
  bool authenticated = false;        ///< false: authentication is off (loopback development)

  /** Authentication off: nobody in particular, allowed every signer. */
  static Caller unauthenticated() { return Caller{"", {"*"}, false}; }
  /** Whether it may sign with the signer `alias` (listed, or "*"). */
  bool may_use(std::string_view alias) const;
};

class Service {
 public:
  /**
   * Builds the service from its configuration: the signers (signers.*, the
   * legacy signer.cert/signer.key as alias "default", or in dev mode the dev
   * PKI's doctors as "dev-doctor" and "dev-doctor-ec"), the TSA, the
   * database; in dev mode creates the dev PKI under data_dir on first start.
   */
  static Result<std::unique_ptr<Service>> create(const ServiceConfig& config, const Clock& clock);
  ~Service();

  /**
   * POST /v1/sign. `query` is the raw query string (level, replace, signer).
   * The signer is ?signer=ALIAS or the default signer; 403 when `caller` may
   * not use it, 404 when it does not exist (said only to callers that may use it).
   */
  HttpAnswer sign(const Caller& caller, std::string_view content_type, std::string_view body, std::string_view query);
  /** POST /v1/sign for a caller allowed every signer (authentication off). */
  HttpAnswer sign(std::string_view content_type, std::string_view body, std::string_view query) {
    return sign(Caller::unauthenticated(), content_type, body, query);
  }
  /** GET /v1/signers: the signers `caller` may use. */
  HttpAnswer signers(const Caller& caller) const;
  /**
   * POST /v1/sign/prepare: the first step of two-step signing (docs/api.md).
   * Runs the signer check on the given certificate chain, fixes what is
   * signed and stores it as a signing session of `caller` for
   * signing.sessionTtlSeconds; answers the hash to sign.
   */
  HttpAnswer prepare(const Caller& caller, std::string_view content_type, std::string_view body, std::string_view query);
  /**
   * POST /v1/sign/complete: uses up the session (once, across instances
   * sharing the database), checks the signature value and answers the
   * signed Bundle exactly as prepared. 404 unknown, 409 used, 410 expired,
   * 403 prepared by another caller, 422 a value that does not verify.
   */
  HttpAnswer complete(const Caller& caller, std::string_view content_type, std::string_view body, std::string_view query);
  /** POST /v1/verify. */
  HttpAnswer verify(std::string_view content_type, std::string_view body, std::string_view query);
  /** GET /healthz. */
  HttpAnswer health() const;

  const ServiceConfig& config() const;
  /** The service's clock (the time of audit records). */
  TimePoint now() const;
  /** The service's metrics (GET /metrics): signatures, validations, upstream calls; the HTTP server adds requests. */
  Metrics& metrics();
  /** The timestamp source of the service (TSA pool, single TSA or dev TSA); nullptr when none is configured. */
  tsa::TimestampSource* timestamp_source();
  /** The service's database (SQLite file under data.dir by default). */
  store::Database& database();
  /** Lines describing the setup, for the start-up log (dev mode says so loudly). */
  std::vector<std::string> describe() const;

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/**
 * Fault-injection points of the HTTP server, for tests that must not depend
 * on timing: each is called on the thread named, and may block.
 */
struct HttpServerHooks {
  /** On the worker thread, after admission and before the route runs. */
  std::function<void(std::string_view operation)> on_admitted;
  /** On the worker thread, when the request starts waiting for admission. */
  std::function<void(std::string_view operation)> on_queued;
  /** On the thread calling stop(), once no new request is accepted, before waiting for requests in flight. */
  std::function<void()> on_stopping;
};

struct HttpServerStats {
  int active = 0;             ///< requests running (admitted)
  int waiting = 0;            ///< requests waiting for admission
  std::uint64_t rejected = 0; ///< requests answered 503 because the server was saturated
};

/**
 * The Poco HTTP(S) server around a Service: TLS 1.2/1.3 when tls.cert is set
 * (plain HTTP only on loopback unless server.allowInsecure), hanko's own
 * admission control (503 + Retry-After when saturated), an audit record per
 * request, graceful shutdown.
 */
class HttpServer {
 public:
  HttpServer(Service& service, const ServiceConfig& config);
  ~HttpServer();
  /** Test hooks; set before start(). */
  void set_hooks(HttpServerHooks hooks);
  /** Binds and starts; port 0 picks a free port. */
  Result<void> start();
  /**
   * Graceful shutdown: stops accepting (the port is closed), answers requests
   * waiting for admission with 503, lets running requests finish within
   * server.shutdownGraceMs, then closes every connection. Idempotent.
   */
  void stop();
  std::uint16_t port() const;
  bool tls() const;
  HttpServerStats stats() const;
  /** Start-up lines (TLS or plain HTTP, authentication). */
  std::vector<std::string> describe() const;
  /**
   * Anchors the audit chain head now with the service's TSA (what the
   * audit.anchorIntervalSeconds schedule does); false when nothing was
   * appended since the last anchor. Error when no TSA is configured or it fails.
   */
  Result<bool> anchor_audit();
  /** Renews the archive items due now and audits what happened (what the archive.renewIntervalSeconds schedule does). */
  void renew_archive();

 private:
  static long renew_interval_seconds(const ServiceConfig& c);
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::server
