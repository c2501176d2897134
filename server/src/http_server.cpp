// The HTTP(S) server around a Service: TLS with Poco NetSSL, routing,
// admission control, request limits, graceful shutdown, audit records.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerRequestImpl.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/SecureStreamSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/X509Certificate.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <atomic>
#include <csignal>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "archive_api.h"
#include "audit.h"
#include "hanko/common/file.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/server/service.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "http_internal.h"
#include "metrics.h"
#include "router.h"

namespace hanko::server {

namespace {

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.starts_with("127.");
}

std::string openssl_error_text() {
  unsigned long e = ERR_get_error();
  if (e == 0) {
    return "unknown OpenSSL error";
  }
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

/**
 * Client certificates are requested in the handshake and checked by hanko at
 * the HTTP layer (chain to tls.clientCa at the service's time, then the client
 * list), so that a wrong certificate is a 401 with an audit record instead of
 * a silent handshake failure. The handshake still proves possession of the key.
 */
int accept_any_client_certificate(int /*preverify_ok*/, X509_STORE_CTX* /*ctx*/) { return 1; }

/** The server's TLS context: TLS 1.2 and 1.3 only, the configured suites, key and chain read by hanko. */
Result<Poco::Net::Context::Ptr> make_tls_context(const ServiceConfig& c) {
  Poco::Net::initializeSSL();
  Poco::Net::Context::Params p;
  p.verificationMode = Poco::Net::Context::VERIFY_NONE;
  p.loadDefaultCAs = false;
  p.cipherList = c.tls_ciphers;
  Poco::Net::Context::Ptr ctx;
  try {
    ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
  } catch (const Poco::Exception& e) {
    return fail(Errc::invalid_argument, "configuration key tls.ciphers: " + e.displayText());
  }
  SSL_CTX* ssl = ctx->sslContext();
  if (SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION) != 1) {
    return fail(Errc::crypto, "cannot require TLS 1.2: " + openssl_error_text());
  }
  if (SSL_CTX_set_cipher_list(ssl, c.tls_ciphers.c_str()) != 1) {
    return fail(Errc::invalid_argument, "configuration key tls.ciphers: no usable suite in '" + c.tls_ciphers + "'");
  }
  SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  if (SSL_CTX_use_certificate_chain_file(ssl, c.tls_cert.c_str()) != 1) {
    return fail(Errc::invalid_argument,
                "configuration key tls.cert: cannot read a PEM certificate chain from " + c.tls_cert + ": " +
                    openssl_error_text());
  }
  {
    auto text = read_file(c.tls_key);
    if (!text) {
      return fail(Errc::invalid_argument, "configuration key tls.key: " + text.error().message);
    }
    ossl::BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
    // No passphrase callback: an encrypted key fails here with a clear message instead of prompting.
    ossl::EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return -1; }, nullptr));
    OPENSSL_cleanse(text->data(), text->size());
    if (!key) {
      ERR_clear_error();
      return fail(Errc::invalid_argument, "configuration key tls.key: " + c.tls_key +
                                              " is not an unencrypted PEM private key");
    }
    if (SSL_CTX_use_PrivateKey(ssl, key.get()) != 1 || SSL_CTX_check_private_key(ssl) != 1) {
      ERR_clear_error();
      return fail(Errc::invalid_argument, "configuration key tls.key: the key does not match tls.cert");
    }
  }
  if (c.tls_client_auth != "none") {
    int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
    if (c.tls_client_auth == "required") {
      mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    }
    // The client CA names are sent in the CertificateRequest so that clients pick the right certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(c.tls_client_ca.c_str());
    if (names == nullptr) {
      ERR_clear_error();
      return fail(Errc::invalid_argument,
                  "configuration key tls.clientCa: no PEM certificate in " + c.tls_client_ca);
    }
    SSL_CTX_set_client_CA_list(ssl, names);
    SSL_CTX_set_verify(ssl, mode, accept_any_client_certificate);
    // Sessions are not resumed across connections with different client certificates.
    static const unsigned char sid[] = "hanko";
    SSL_CTX_set_session_id_context(ssl, sid, sizeof sid - 1);
  }
  return ctx;
}

/** The anchors of tls.clientCa, for the HTTP-layer check of client certificates. */
Result<std::vector<ossl::X509Ptr>> load_client_cas(const std::string& file) {
  auto text = read_file(file);
  if (!text) {
    return fail(Errc::invalid_argument, "configuration key tls.clientCa: " + text.error().message);
  }
  std::vector<ossl::X509Ptr> out;
  ossl::BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(x);
  }
  ERR_clear_error();
  if (out.empty()) {
    return fail(Errc::invalid_argument, "configuration key tls.clientCa: no PEM certificate in " + file);
  }
  return out;
}

/** Checks a TLS client certificate against the tls.clientCa anchors at `now`; the reason when it fails. */
std::optional<std::string> check_client_chain(X509* leaf, const std::vector<ossl::X509Ptr>& anchors, TimePoint now) {
  ossl::X509StorePtr store(X509_STORE_new());
  for (const auto& a : anchors) {
    X509_STORE_add_cert(store.get(), a.get());
  }
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, nullptr) != 1) {
    ERR_clear_error();
    return std::string("cannot check the client certificate");
  }
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx.get()),
                             static_cast<time_t>(std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()));
  const int ok = X509_verify_cert(ctx.get());
  ERR_clear_error();
  if (ok == 1) {
    return std::nullopt;
  }
  return std::string("the client certificate is not trusted: ") +
         X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

}  // namespace

// --- Admission control ---------------------------------------------------------

Admission::Admission(int max_active, int max_waiting) : m_max_active(max_active), m_max_waiting(max_waiting) {}

Admission::Verdict Admission::enter(std::chrono::milliseconds max_wait, const std::function<void()>& on_queued) {
  std::unique_lock lock(m_mu);
  if (m_stopping) {
    return Verdict::stopping;
  }
  if (m_active < m_max_active) {
    ++m_active;
    return Verdict::admitted;
  }
  if (m_waiting >= m_max_waiting) {
    ++m_rejected;
    return Verdict::saturated;
  }
  ++m_waiting;
  if (on_queued) {
    lock.unlock();
    on_queued();
    lock.lock();
  }
  const bool got = m_cv.wait_for(lock, max_wait, [&] { return m_active < m_max_active || m_stopping; });
  --m_waiting;
  if (m_stopping) {
    return Verdict::stopping;
  }
  if (!got) {
    ++m_rejected;
    return Verdict::saturated;
  }
  ++m_active;
  return Verdict::admitted;
}

void Admission::leave() {
  {
    std::lock_guard lock(m_mu);
    --m_active;
  }
  m_cv.notify_all();
}

void Admission::begin_stop() {
  {
    std::lock_guard lock(m_mu);
    m_stopping = true;
  }
  m_cv.notify_all();
}

HttpServerStats Admission::stats() const {
  std::lock_guard lock(m_mu);
  return HttpServerStats{m_active, m_waiting, m_rejected};
}

// --- The request handler ---------------------------------------------------------

namespace {

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(ServerState& state) : m_state(state) {}

  void handleRequest(Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) override {
    InFlight guard(m_state);
    Metrics::InFlight gauge = m_state.metrics.track_in_flight();
    const auto started = std::chrono::steady_clock::now();
    RequestInfo info;
    info.method = req.getMethod();
    info.source_ip = req.clientAddress().host().toString();
    HttpAnswer a;
    try {
      a = handle(req, info);
    } catch (const Poco::TimeoutException&) {
      a = operation_outcome(408, "timeout", "the request was not received within server.requestTimeoutMs");
      a.headers.emplace_back("Connection", "close");
    } catch (const std::exception& e) {
      a = operation_outcome(500, "exception", std::string("internal error: ") + e.what());
    }
    if (info.audit) {
      audit(info, a);
    }
    m_state.metrics.observe_request(info.route, info.method, a.status,
                                    std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    const auto status = static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status);
    resp.setStatusAndReason(status, Poco::Net::HTTPResponse::getReasonForStatus(status));
    resp.setContentType(a.content_type);
    for (const auto& [k, v] : a.headers) {
      resp.set(k, v);
    }
    if (m_state.tls) {
      resp.set("Strict-Transport-Security", "max-age=31536000");
    }
    resp.set("X-Content-Type-Options", "nosniff");
    resp.set("Cache-Control", "no-store");
    try {
      resp.setContentLength(static_cast<std::streamsize>(a.body.size()));
      resp.send().write(a.body.data(), static_cast<std::streamsize>(a.body.size()));
    } catch (const Poco::Exception&) {
      // The client went away; the request is audited already.
    }
  }

 private:
  struct RequestInfo {
    std::string method;
    std::string operation = "unknown";
    std::string route = "other";  ///< the route pattern (metrics label)
    std::string source_ip;
    std::string client_id;
    std::string client_subject;
    std::string auth_method;
    bool audit = true;
    std::optional<Caller> caller;  ///< set once the request is authenticated
  };

  HttpAnswer handle(Poco::Net::HTTPServerRequest& req, RequestInfo& info) {
    std::string path;
    std::string query;
    try {
      Poco::URI uri(req.getURI());
      path = uri.getPath();
      query = uri.getRawQuery();
    } catch (const Poco::Exception&) {
      return operation_outcome(400, "invalid", "the request URI is malformed");
    }
    RouteMatch m = match_route(info.method, path);
    if (m.kind == RouteMatch::Kind::not_found) {
      return operation_outcome(404, "not-found", "no such endpoint: " + path.substr(0, 200));
    }
    if (m.kind == RouteMatch::Kind::wrong_method) {
      auto a = operation_outcome(405, "not-supported", "method not allowed; use " + m.allow);
      a.headers.emplace_back("Allow", m.allow);
      return a;
    }
    const RouteSpec& route = *m.route;
    info.operation = std::string(route.operation);
    info.route = std::string(route.pattern);
    const RouteAccess access = route_access(info.method, path, m_state.config.metrics_protected);
    if (!access.canonical) {
      return operation_outcome(404, "not-found", "no such endpoint (the path is not in canonical form)");
    }
    const bool probe = route.operation == "healthz" || route.operation == "openapi" || route.operation == "metrics";
    if (probe && !m_state.config.audit_healthz) {
      info.audit = false;
    }
    // Authentication and authorization (docs/security.md): every route but the public ones.
    if (m_state.auth && !access.is_public) {
      info.audit = true;  // a protected probe (/metrics) is audited like any other request
      if (auto refused = authenticate(req, access, info)) {
        return *refused;
      }
    }
    if (route.operation == "healthz") {
      return m_state.service.health();
    }
    if (route.operation == "openapi") {
      HttpAnswer a;
      a.content_type = "application/json";
      a.body = std::string(openapi_json());
      return a;
    }
    if (route.operation == "metrics") {
      if (m_state.audit != nullptr) {
        m_state.metrics.set_audit_chain_length(m_state.audit->records());
        if (auto last = m_state.audit->last_anchor()) {
          m_state.metrics.set_audit_anchor_age_seconds(
              std::chrono::duration<double>(m_state.service.now() - *last).count());
        }
      }
      if (m_state.archive != nullptr) {
        if (auto counts = m_state.archive->archive().counts(m_state.service.now())) {
          m_state.metrics.set_archive_items("ok", counts->ok);
          m_state.metrics.set_archive_items("due", counts->due);
          m_state.metrics.set_archive_items("overdue", counts->overdue);
          m_state.metrics.set_archive_items("failing", counts->failing);
        }
      }
      HttpAnswer a;
      a.content_type = std::string(kMetricsContentType);
      a.body = m_state.metrics.render();
      return a;
    }
    // Admission control: a bounded number of requests run, a bounded number wait, the rest get 503 now
    // (Poco's own queue would drop the connection without an answer).
    std::optional<AdmissionTicket> ticket;
    if (route.admission) {
      const auto verdict = m_state.admission.enter(std::chrono::milliseconds(m_state.config.request_timeout_ms), [&] {
        if (m_state.hooks.on_queued) m_state.hooks.on_queued(route.operation);
      });
      if (verdict != Admission::Verdict::admitted) {
        m_state.metrics.count_rejected("saturated");
        auto a = operation_outcome(503, "transient",
                                   verdict == Admission::Verdict::stopping
                                       ? "the service is shutting down; retry on another instance"
                                       : "the service is busy (server.maxThreads requests running, server.maxQueued waiting); retry later");
        a.headers.emplace_back("Retry-After", "1");
        a.headers.emplace_back("Connection", "close");
        drain_body(req);
        return a;
      }
      ticket.emplace(m_state.admission);
    }
    if (m_state.hooks.on_admitted) {
      m_state.hooks.on_admitted(route.operation);
    }
    std::string body;
    if (route.has_body) {
      if (!read_body(req, body)) {
        m_state.metrics.count_rejected("too_large");
        auto a = operation_outcome(413, "too-costly", "the body is larger than server.maxBodyBytes (" +
                                                          std::to_string(m_state.config.max_body_bytes) + " bytes)");
        a.headers.emplace_back("Connection", "close");
        return a;
      }
      // Poco's body stream turns a receive timeout or a closed connection into end-of-stream: a body
      // shorter than its Content-Length did not arrive within server.requestTimeoutMs.
      if (req.hasContentLength() && static_cast<Poco::Int64>(body.size()) != req.getContentLength64()) {
        m_state.metrics.count_rejected("timeout");
        auto a = operation_outcome(408, "timeout", "the body did not arrive within server.requestTimeoutMs (" +
                                                       std::to_string(body.size()) + " of " +
                                                       std::to_string(req.getContentLength64()) + " bytes)");
        a.headers.emplace_back("Connection", "close");
        return a;
      }
    }
    const std::string content_type = req.getContentType();
    // The authenticated client; with authentication off, a caller allowed every signer.
    const Caller caller = info.caller ? *info.caller : (m_state.auth ? Caller{} : Caller::unauthenticated());
    if (route.operation == "sign") {
      return m_state.service.sign(caller, content_type, body, query);
    }
    if (route.operation == "sign-prepare") {
      return m_state.service.prepare(caller, content_type, body, query);
    }
    if (route.operation == "sign-complete") {
      return m_state.service.complete(caller, content_type, body, query);
    }
    if (route.operation == "signers") {
      return m_state.service.signers(caller);
    }
    if (route.operation == "extend") {
      return m_state.archive->extend(content_type, body, query);
    }
    if (route.operation == "archive-ingest") {
      return m_state.archive->ingest(caller, content_type, body);
    }
    if (route.operation == "archive-find") {
      return m_state.archive->find(query);
    }
    if (route.operation == "archive-get") {
      return m_state.archive->get(m.params.at("id"));
    }
    if (route.operation == "archive-report") {
      return m_state.archive->report(m.params.at("id"), query);
    }
    if (route.operation == "verify") {
      return m_state.service.verify(content_type, body, query);
    }
    return operation_outcome(500, "exception", "route without a handler: " + std::string(route.pattern));
  }

  /**
   * Authenticates the request (TLS client certificate checked against
   * tls.clientCa at the service's time, or a bearer JWT) and checks the
   * route's scope: nullopt when it may go on, else the 401 or 403 answer.
   */
  std::optional<HttpAnswer> authenticate(Poco::Net::HTTPServerRequest& req, const RouteAccess& access,
                                         RequestInfo& info) {
    const TimePoint now = m_state.service.now();
    const std::string authorization = req.get("Authorization", "");
    std::optional<Poco::Net::X509Certificate> peer;
    std::optional<std::string> chain_error;
    if (m_state.tls && !m_state.client_cas.empty()) {
      auto* impl = dynamic_cast<Poco::Net::HTTPServerRequestImpl*>(&req);
      if (impl != nullptr) {
        try {
          Poco::Net::SecureStreamSocket secure(impl->socket());
          if (secure.havePeerCertificate()) {
            peer.emplace(secure.peerCertificate());
            chain_error = check_client_chain(const_cast<X509*>(peer->certificate()), m_state.client_cas, now);
          }
        } catch (const Poco::Exception&) {
          // not a TLS connection: no client certificate
        }
      }
    }
    AuthRequest ar;
    ar.authorization = authorization;
    ar.peer_certificate = (peer && !chain_error) ? peer->certificate() : nullptr;
    if (chain_error && authorization.empty()) {
      m_state.metrics.count_rejected("unauthenticated");
      info.client_subject = peer->subjectName();
      auto a = operation_outcome(401, "login", *chain_error);
      a.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"hanko\"");
      return a;
    }
    AuthOutcome outcome = m_state.auth->authenticate(ar, now);
    if (!outcome.ok()) {
      const AuthFailure& f = outcome.failure();
      m_state.metrics.count_rejected("unauthenticated");
      info.client_subject = f.subject;
      auto a = operation_outcome(f.http_status, "login", f.reason);
      a.headers.emplace_back("WWW-Authenticate", f.www_authenticate);
      return a;
    }
    const Principal& p = outcome.principal();
    info.client_id = p.client_id;
    info.client_subject = p.subject;
    info.auth_method = p.method;
    info.caller = Caller{p.client_id, p.signers, true};
    if (!access.scope.empty() && !has_scope(p, access.scope)) {
      m_state.metrics.count_rejected("forbidden");
      auto a = operation_outcome(403, "forbidden",
                                 "client " + p.client_id + " lacks the scope " + std::string(access.scope));
      a.headers.emplace_back("WWW-Authenticate", insufficient_scope_challenge(access.scope));
      return a;
    }
    return std::nullopt;
  }

  /** Appends the audit record of this request; a failure is logged, never thrown. */
  void audit(const RequestInfo& info, const HttpAnswer& a) noexcept {
    if (m_state.audit == nullptr) {
      return;
    }
    try {
      AuditRecord r;
      r.operation = info.operation;
      r.when = m_state.service.now();
      r.action = "E";
      r.http_status = a.status;
      r.outcome = audit_outcome_for_status(a.status);
      r.outcome_desc = "HTTP " + std::to_string(a.status) + " " +
                       Poco::Net::HTTPResponse::getReasonForStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(a.status));
      if (a.status >= 400) {
        if (auto v = json::parse(a.body); v) {
          const json::Value* issues = v->find("issue");
          if (issues != nullptr && issues->is_array() && !issues->as_array().empty()) {
            if (const std::string* d = issues->as_array().front().find_string("diagnostics")) {
              r.outcome_desc += ": " + d->substr(0, 500);
            }
          }
        }
      }
      r.client_id = info.client_id;
      r.client_subject = info.client_subject;
      r.auth_method = info.auth_method;
      r.source_ip = info.source_ip;
      r.document_identifier = a.audit.document_identifier;
      r.document_sha256 = a.audit.document_sha256;
      r.patient_reference = a.audit.patient_reference;
      r.signer = a.audit.signer;
      if (auto done = m_state.audit->append(r); !done) {
        std::cerr << "hanko: audit: " << done.error().message << std::endl;
      }
    } catch (const std::exception& e) {
      std::cerr << "hanko: audit: " << e.what() << std::endl;
    }
  }

  bool read_body(Poco::Net::HTTPServerRequest& req, std::string& body) const {
    const std::size_t max_body = m_state.config.max_body_bytes;
    std::istream& in = req.stream();
    if (req.hasContentLength() && req.getContentLength64() > static_cast<Poco::Int64>(max_body)) {
      // Drain a bounded amount so that the client reads our 413 instead of a reset.
      drain(in, max_body + (1u << 20));
      return false;
    }
    char buf[65536];
    while (in) {
      in.read(buf, sizeof buf);
      auto n = static_cast<std::size_t>(in.gcount());
      if (body.size() + n > max_body) {
        drain(in, 1u << 20);
        return false;
      }
      body.append(buf, n);
    }
    return true;
  }

  void drain_body(Poco::Net::HTTPServerRequest& req) const {
    try {
      drain(req.stream(), m_state.config.max_body_bytes);
    } catch (const Poco::Exception&) {
    }
  }

  static void drain(std::istream& in, std::size_t limit) {
    char buf[65536];
    std::size_t total = 0;
    while (in && total < limit) {
      in.read(buf, sizeof buf);
      total += static_cast<std::size_t>(in.gcount());
    }
  }

  ServerState& m_state;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ServerState& state) : m_state(state) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    return new Handler(m_state);  // Poco takes ownership
  }

 private:
  ServerState& m_state;
};

}  // namespace

// --- HttpServer --------------------------------------------------------------------

struct HttpServer::Impl {
  ServerState state;
  // The audit anchoring schedule (audit.anchorIntervalSeconds).
  std::thread anchor_thread;
  std::mutex anchor_mu;
  std::condition_variable anchor_cv;
  bool anchor_stop = false;
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  Poco::Net::ServerSocket socket;
  std::unique_ptr<AuditLog> audit;  ///< outlives `server` (reset after it in stop())
  std::unique_ptr<ArchiveApi> archive;
  // The archive renewal schedule (archive.renewIntervalSeconds).
  std::thread renew_thread;
  std::uint16_t port = 0;
  bool stopped = false;

  Impl(Service& s, const ServiceConfig& c) : state(s, c) {}
};

HttpServer::HttpServer(Service& service, const ServiceConfig& config)
    : m_impl(std::make_unique<Impl>(service, config)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::set_hooks(HttpServerHooks hooks) { m_impl->state.hooks = std::move(hooks); }

HttpServerStats HttpServer::stats() const { return m_impl->state.admission.stats(); }

bool HttpServer::tls() const { return m_impl->state.tls; }

std::vector<std::string> HttpServer::describe() const { return m_impl->state.notes; }

Result<void> HttpServer::start() {
  const ServiceConfig& c = m_impl->state.config;
  auto& st = m_impl->state;
  // A client that goes away while TLS writes its alert or close_notify would otherwise kill the
  // whole process with SIGPIPE (OpenSSL writes with write(2), not send(MSG_NOSIGNAL)).
  std::signal(SIGPIPE, SIG_IGN);
  st.tls = !c.tls_cert.empty();
  if (!st.tls && !is_loopback(c.listen_host) && !c.allow_insecure_listen) {
    return fail(Errc::invalid_argument, "configuration key server.listen in " + c.source + ": plain HTTP on " +
                                            c.listen_host +
                                            " is refused; configure tls.cert and tls.key (or server.allowInsecure = true "
                                            "behind a TLS-terminating proxy)");
  }
  auto auth_config = auth_config_from(c.auth_keys);
  if (!auth_config) {
    return fail(Errc::invalid_argument, auth_config.error().message + " (" + c.source + ")");
  }
  if (auth_config->enabled()) {
    for (const auto& client : auth_config->clients) {
      if ((!client.cert_subject.empty() || !client.cert_sha256.empty()) && c.tls_client_auth == "none") {
        return fail(Errc::invalid_argument, "configuration key clients." + client.id + " in " + c.source +
                                                ": a client certificate needs tls.clientAuth = optional or required");
      }
    }
    auto auth = Authenticator::create(*auth_config);
    if (!auth) {
      return fail(Errc::invalid_argument, auth.error().message + " (" + c.source + ")");
    }
    st.auth.emplace(std::move(*auth));
    for (const auto& note : st.auth->jwks().notes()) {
      st.notes.push_back("auth.jwt.jwksFile: " + note);
    }
    st.notes.push_back("authentication: " + std::to_string(auth_config->clients.size()) +
                       " API client(s) (clients.*), scopes enforced");
  } else if (!is_loopback(c.listen_host)) {
    return fail(Errc::invalid_argument, "configuration in " + c.source + ": no API clients (clients.*) are configured; "
                                        "without authentication hanko listens on loopback only (docs/security.md)");
  } else {
    st.notes.push_back("AUTHENTICATION IS OFF: every request from this machine is accepted with every scope "
                       "(development only; configure clients.* before anything else can reach this port)");
  }
  Poco::Net::Context::Ptr ctx;
  if (st.tls) {
    auto made = make_tls_context(c);
    if (!made) {
      return std::unexpected(made.error());
    }
    ctx = *made;
    if (c.tls_client_auth != "none") {
      auto cas = load_client_cas(c.tls_client_ca);
      if (!cas) {
        return std::unexpected(cas.error());
      }
      st.client_cas = std::move(*cas);
    }
    st.notes.push_back("TLS 1.2/1.3 with " + c.tls_cert + (c.tls_client_auth == "none" ? std::string()
                                                                : ", client certificates " + c.tls_client_auth +
                                                                      " (CA " + c.tls_client_ca + ")"));
  } else {
    st.notes.push_back(std::string("PLAIN HTTP without TLS") +
                       (is_loopback(c.listen_host) ? " (loopback only)" : " (server.allowInsecure)"));
  }
  try {
    Poco::Net::SocketAddress addr(c.listen_host, c.listen_port);
    // SO_REUSEADDR but not SO_REUSEPORT (Poco's one-argument constructor sets
    // both, so a second instance would silently share the port): a busy port is an error.
    if (st.tls) {
      Poco::Net::SecureServerSocket secure(ctx);
      secure.bind(addr, true, false);
      secure.listen(128);
      m_impl->socket = secure;
    } else {
      Poco::Net::ServerSocket plain;
      plain.bind(addr, true, false);
      plain.listen(128);
      m_impl->socket = plain;
    }
    m_impl->port = m_impl->socket.address().port();
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot listen on " + c.listen_host + ":" + std::to_string(c.listen_port) + ": " +
                              e.displayText());
  }
  // The audit log is opened once the port is ours (a busy port is reported as such).
  if (!m_impl->audit) {
    AuditOptions audit;
    audit.file = c.audit_file.empty() ? c.data_dir / "audit.jsonl" : c.audit_file;
    audit.source_id = c.audit_source_id;
    audit.fsync = c.audit_fsync;
    auto log = AuditLog::open(audit);
    if (!log) {
      return std::unexpected(log.error());
    }
    m_impl->audit = std::move(*log);
  }
  st.audit = m_impl->audit.get();
  if (!m_impl->archive) {
    auto api = ArchiveApi::create(st.service);
    if (!api) {
      return std::unexpected(api.error());
    }
    m_impl->archive = std::move(*api);
  }
  st.archive = m_impl->archive.get();
  try {
    // Threads: the workers, the requests allowed to wait for one, and a few for probes and 503 answers.
    const int threads = c.max_threads + c.max_queued + 4;
    m_impl->pool = std::make_unique<Poco::ThreadPool>(2, threads);
    auto* params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(threads);
    params->setMaxQueued(threads * 4);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(Poco::Timespan(5, 0));
    params->setTimeout(Poco::Timespan(static_cast<long>(c.request_timeout_ms / 1000),
                                      static_cast<long>(c.request_timeout_ms % 1000) * 1000));
    m_impl->server = std::make_unique<Poco::Net::HTTPServer>(new Factory(st), *m_impl->pool, m_impl->socket, params);
    m_impl->server->start();
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot start the HTTP server: " + e.displayText());
  }
  if (c.audit_anchor_interval_seconds > 0 && st.service.timestamp_source() != nullptr) {
    st.notes.push_back("audit: " + m_impl->audit->path().string() + ", chain head timestamped every " +
                       std::to_string(c.audit_anchor_interval_seconds) + " s by " +
                       st.service.timestamp_source()->describe());
    m_impl->anchor_thread = std::thread([this] {
      const auto interval = std::chrono::seconds(m_impl->state.config.audit_anchor_interval_seconds);
      std::unique_lock lock(m_impl->anchor_mu);
      while (!m_impl->anchor_cv.wait_for(lock, interval, [this] { return m_impl->anchor_stop; })) {
        lock.unlock();
        if (auto done = anchor_audit(); !done) {
          std::cerr << "hanko: " << done.error().message << " (retried at the next interval)" << std::endl;
        }
        lock.lock();
      }
    });
  } else {
    st.notes.push_back("audit: " + m_impl->audit->path().string() +
                       (c.audit_anchor_interval_seconds > 0 ? " (not anchored: no TSA is configured)"
                                                            : " (anchoring off: audit.anchorIntervalSeconds = 0)"));
  }
  const long renew_interval = renew_interval_seconds(c);
  if (renew_interval > 0 && st.service.timestamp_source() != nullptr) {
    st.notes.push_back("archive: due items renewed every " + std::to_string(renew_interval) + " s");
    m_impl->renew_thread = std::thread([this, renew_interval] {
      std::unique_lock lock(m_impl->anchor_mu);
      while (!m_impl->anchor_cv.wait_for(lock, std::chrono::seconds(renew_interval), [this] { return m_impl->anchor_stop; })) {
        lock.unlock();
        renew_archive();
        lock.lock();
      }
    });
  }
  return {};
}

long HttpServer::renew_interval_seconds(const ServiceConfig& c) {
  auto it = c.archive_keys.find("archive.renewIntervalSeconds");
  return it == c.archive_keys.end() ? 3600 : std::stol(it->second);  // checked by archive_config_from
}

void HttpServer::renew_archive() {
  auto& st = m_impl->state;
  if (st.archive == nullptr) {
    return;
  }
  const TimePoint now = st.service.now();
  auto summary = st.archive->renew_due(now);
  if (summary.claimed == 0) {
    return;
  }
  if (st.audit != nullptr) {
    AuditRecord r;
    r.when = now;
    r.operation = "archive-renew";
    r.action = "U";
    r.outcome = summary.failed == 0 ? 0 : 4;
    r.outcome_desc = std::to_string(summary.renewed) + " renewed, " + std::to_string(summary.failed) + " failed, " +
                     std::to_string(summary.remaining_due) + " still due";
    for (std::size_t i = 0; i < summary.errors.size() && i < 5; ++i) {
      r.outcome_desc += "; " + summary.errors[i].substr(0, 200);
    }
    if (auto done = st.audit->append(r); !done) {
      std::cerr << "hanko: audit: " << done.error().message << std::endl;
    }
  }
  for (const auto& e : summary.errors) {
    std::cerr << "hanko: archive renewal: " << e << std::endl;
  }
}

Result<bool> HttpServer::anchor_audit() {
  auto& st = m_impl->state;
  if (st.audit == nullptr) {
    return fail(Errc::invalid_argument, "the server is not running");
  }
  tsa::TimestampSource* tsa = st.service.timestamp_source();
  if (tsa == nullptr) {
    return fail(Errc::invalid_argument, "no TSA is configured to anchor the audit trail");
  }
  return st.audit->anchor(*tsa, st.service.now());
}

void HttpServer::stop() {
  if (!m_impl || !m_impl->server || m_impl->stopped) {
    return;
  }
  m_impl->stopped = true;
  auto& st = m_impl->state;
  {
    std::lock_guard lock(m_impl->anchor_mu);
    m_impl->anchor_stop = true;
  }
  m_impl->anchor_cv.notify_all();
  if (m_impl->anchor_thread.joinable()) {
    m_impl->anchor_thread.join();
  }
  if (m_impl->renew_thread.joinable()) {
    m_impl->renew_thread.join();
  }
  // 1. Stop accepting: no new connections (the listening socket is closed, so clients are refused, not queued).
  m_impl->server->stop();
  try {
    m_impl->socket.close();
  } catch (const Poco::Exception&) {
  }
  // 2. Requests waiting for admission get 503; requests running finish, within server.shutdownGraceMs.
  st.admission.begin_stop();
  if (st.hooks.on_stopping) {
    st.hooks.on_stopping();
  }
  const bool idle = st.wait_idle(std::chrono::milliseconds(st.config.shutdown_grace_ms));
  // 3. Close the connections: gracefully (Poco waits for each connection's current request), or abort
  //    them when the grace period is over.
  m_impl->server->stopAll(!idle);
  m_impl->pool->joinAll();
  m_impl->server.reset();
  m_impl->pool.reset();
  st.audit = nullptr;
  m_impl->audit.reset();
}

std::uint16_t HttpServer::port() const { return m_impl->port; }

// --- ServerState ---------------------------------------------------------------------

ServerState::ServerState(Service& s, const ServiceConfig& c)
    : service(s), config(c), admission(c.max_threads, c.max_queued), metrics(s.metrics()) {}

bool ServerState::wait_idle(std::chrono::milliseconds grace) {
  std::unique_lock lock(in_flight_mu);
  return in_flight_cv.wait_for(lock, grace, [&] { return in_flight == 0; });
}

InFlight::InFlight(ServerState& s) : m_state(s) {
  std::lock_guard lock(s.in_flight_mu);
  ++s.in_flight;
}

InFlight::~InFlight() {
  {
    std::lock_guard lock(m_state.in_flight_mu);
    --m_state.in_flight;
  }
  m_state.in_flight_cv.notify_all();
}

}  // namespace hanko::server
