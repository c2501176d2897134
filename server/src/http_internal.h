#pragma once
/**
 * @file http_internal.h
 * The state shared by the HTTP server's request handlers: admission control,
 * requests in flight, TLS client anchors. Private to server/.
 */
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <optional>

#include "auth.h"
#include "hanko/common/ossl.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"

namespace hanko::server {

class AuditLog;
class Metrics;
class ArchiveApi;

/**
 * hanko's own admission control: at most `max_active` requests run, at most
 * `max_waiting` wait for a slot (each at most the request timeout), every
 * other request is answered 503 at once. Poco's HTTPServer would instead
 * queue connections and drop them silently when its queue is full.
 */
class Admission {
 public:
  enum class Verdict { admitted, saturated, stopping };
  Admission(int max_active, int max_waiting);
  /** Admits, queues (calling `on_queued` once queued, outside the lock) or refuses. */
  Verdict enter(std::chrono::milliseconds max_wait, const std::function<void()>& on_queued);
  void leave();
  /** From now on every waiting and new request is refused with Verdict::stopping. */
  void begin_stop();
  HttpServerStats stats() const;

 private:
  const int m_max_active;
  const int m_max_waiting;
  mutable std::mutex m_mu;
  std::condition_variable m_cv;
  int m_active = 0;
  int m_waiting = 0;
  std::uint64_t m_rejected = 0;
  bool m_stopping = false;
};

/** Leaves the admission slot on destruction. */
class AdmissionTicket {
 public:
  explicit AdmissionTicket(Admission& a) : m_a(a) {}
  ~AdmissionTicket() { m_a.leave(); }
  AdmissionTicket(const AdmissionTicket&) = delete;
  AdmissionTicket& operator=(const AdmissionTicket&) = delete;

 private:
  Admission& m_a;
};

struct ServerState {
  ServerState(Service& s, const ServiceConfig& c);
  Service& service;
  const ServiceConfig config;
  Admission admission;
  HttpServerHooks hooks;
  AuditLog* audit = nullptr;
  ArchiveApi* archive = nullptr;  ///< the archive routes and the background renewal
  Metrics& metrics;
  std::optional<Authenticator> auth;  ///< empty: authentication is off (loopback development only)
  bool tls = false;
  std::vector<ossl::X509Ptr> client_cas;  ///< tls.clientCa anchors
  std::vector<std::string> notes;         ///< start-up lines

  std::mutex in_flight_mu;
  std::condition_variable in_flight_cv;
  int in_flight = 0;
  /** Waits until no request is being handled, at most `grace`; true when idle. */
  bool wait_idle(std::chrono::milliseconds grace);
};

/** Counts a request in flight for graceful shutdown. */
class InFlight {
 public:
  explicit InFlight(ServerState& s);
  ~InFlight();
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  ServerState& m_state;
};

/** docs/openapi.json, compiled into the binary (GET /openapi.json). */
std::string_view openapi_json();

}  // namespace hanko::server
