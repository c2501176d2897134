#include "hanko/tsa_client/tsa_http_server.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/NetSSL.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>

#include <openssl/ts.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>

#include "der_util.h"
#include "hanko/common/digest.h"

namespace hanko::tsa {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

void send_text(HTTPServerResponse& resp, HTTPResponse::HTTPStatus status, const std::string& text) {
  resp.setStatus(status);
  resp.setContentType("text/plain; charset=utf-8");
  resp.setContentLength(static_cast<std::streamsize>(text.size()));
  resp.sendBuffer(text.data(), text.size());
}

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  auto not_space = [](unsigned char c) { return std::isspace(c) == 0; };
  t.erase(t.begin(), std::find_if(t.begin(), t.end(), not_space));
  t.erase(std::find_if(t.rbegin(), t.rend(), not_space).base(), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

/** What the handlers share with the server object. */
struct State {
  DevTsa& tsa;
  TsaHttpServerOptions options;
  std::mutex mu;
  std::condition_variable cv;
  TsaFault fault = TsaFault::none;  ///< guarded by mu
  bool latch_open = true;           ///< guarded by mu
  std::size_t held = 0;             ///< guarded by mu
  std::atomic<std::size_t> requests{0};

  State(DevTsa& t, TsaHttpServerOptions o) : tsa(t), options(std::move(o)) {}

  /** The fault for this request; waits on the latch for TsaFault::hold. */
  TsaFault take_fault() {
    std::unique_lock lock(mu);
    const TsaFault f = fault;
    if (f == TsaFault::hold) {
      ++held;
      cv.wait(lock, [this] { return latch_open; });
      --held;
    }
    return f;
  }
};

/** A TimeStampResp with status rejection and failInfo systemFailure (DER by hand, as DevTsa does). */
Bytes injected_rejection() {
  const Bytes status = der::small_integer(TS_STATUS_REJECTION);
  const Bytes text = der::tlv(0x30, der::tlv(0x0c, as_bytes("fault injected")));
  const Bytes fail_info = der::single_bit(TS_INFO_SYSTEM_FAILURE);
  return der::tlv(0x30, der::tlv(0x30, der::concat({status, text, fail_info})));
}

/** Constant time, whatever the lengths: compare the digests. */
bool same_secret(std::string_view a, std::string_view b) { return ct_equal(sha256(a), sha256(b)); }

/** RFC 3161 3.4: one TimeStampReq per POST, the answer in the HTTP response. */
class TsaHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit TsaHandler(State& state) : m_state(state) {}

  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
    try {
      handle(req, resp);
    } catch (...) {
      if (!resp.sent()) {
        resp.setKeepAlive(false);
        send_text(resp, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
      }
    }
  }

 private:
  bool authorized(const HTTPServerRequest& req) const {
    const auto& o = m_state.options;
    if (o.basic_user.empty()) {
      return true;
    }
    if (!req.hasCredentials()) {
      return false;
    }
    try {
      Poco::Net::HTTPBasicCredentials creds(req);
      // Both compared, always: no early exit on the user name.
      const bool user_ok = same_secret(creds.getUsername(), o.basic_user);
      const bool password_ok = same_secret(creds.getPassword(), o.basic_password);
      return user_ok && password_ok;
    } catch (const Poco::Exception&) {
      return false;  // another scheme, or bad base64
    }
  }

  void handle(HTTPServerRequest& req, HTTPServerResponse& resp) {
    m_state.requests.fetch_add(1);
    if (!authorized(req)) {
      resp.set("WWW-Authenticate", "Basic realm=\"hanko development TSA\", charset=\"UTF-8\"");
      resp.setKeepAlive(false);
      send_text(resp, HTTPResponse::HTTP_UNAUTHORIZED, "credentials required\n");
      return;
    }
    if (req.getMethod() != Poco::Net::HTTPRequest::HTTP_POST) {
      resp.set("Allow", "POST");
      resp.setKeepAlive(false);
      send_text(resp, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "only POST is allowed\n");
      return;
    }
    if (media_type(req.getContentType()) != "application/timestamp-query") {
      resp.setKeepAlive(false);
      send_text(resp, HTTPResponse::HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/timestamp-query\n");
      return;
    }
    if (req.hasContentLength() && req.getContentLength64() > static_cast<Poco::Int64>(TsaHttpServer::max_body_bytes)) {
      resp.setKeepAlive(false);
      send_text(resp, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "request body too large\n");
      return;
    }
    // Bounded read: never more than max_body_bytes + one buffer, whatever the framing says.
    std::string body;
    std::istream& in = req.stream();
    char buf[4096];
    while (in) {
      in.read(buf, sizeof buf);
      const auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) {
        break;
      }
      if (body.size() + n > TsaHttpServer::max_body_bytes) {
        resp.setKeepAlive(false);
        send_text(resp, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "request body too large\n");
        return;
      }
      body.append(buf, n);
    }
    Bytes answer;
    switch (m_state.take_fault()) {
      case TsaFault::http_500:
        resp.setKeepAlive(false);
        send_text(resp, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "fault injected\n");
        return;
      case TsaFault::garbage:
        answer = to_bytes("this is not a DER TimeStampResp");
        break;
      case TsaFault::rejection:
        answer = injected_rejection();
        break;
      case TsaFault::none:
      case TsaFault::hold:
        answer = m_state.tsa.respond(as_bytes(body));
        break;
    }
    resp.setStatus(HTTPResponse::HTTP_OK);
    resp.setContentType("application/timestamp-reply");
    resp.setContentLength(static_cast<std::streamsize>(answer.size()));
    resp.sendBuffer(answer.data(), answer.size());
  }

  State& m_state;
};

class TsaHandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit TsaHandlerFactory(State& state) : m_state(state) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new TsaHandler(m_state);  // Poco takes ownership
  }

 private:
  State& m_state;
};

/** Poco::Net::initializeSSL / uninitializeSSL (reference counted by Poco) for a TLS server's lifetime. */
struct SslInit {
  bool active = false;
  explicit SslInit(bool on) : active(on) {
    if (active) {
      Poco::Net::initializeSSL();
    }
  }
  ~SslInit() {
    if (active) {
      Poco::Net::uninitializeSSL();
    }
  }
  SslInit(const SslInit&) = delete;
  SslInit& operator=(const SslInit&) = delete;
};

Poco::Net::ServerSocket make_socket(const TsaHttpServerOptions& o) {
  if (o.tls_cert.empty()) {
    return Poco::Net::ServerSocket();
  }
  Poco::Net::Context::Params p;
  p.certificateFile = o.tls_cert;
  p.privateKeyFile = o.tls_key;
  p.caLocation = o.tls_client_ca;
  p.loadDefaultCAs = false;
  p.verificationMode =
      o.tls_client_ca.empty() ? Poco::Net::Context::VERIFY_NONE : Poco::Net::Context::VERIFY_STRICT;
  Poco::Net::Context::Ptr ctx = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, p);
  ctx->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  // Poco's "extended" check would match the client certificate's names against the client's
  // address; a client certificate names a party, not a host: chain validation is the check.
  ctx->enableExtendedCertificateVerification(false);
  return Poco::Net::SecureServerSocket(ctx);
}

}  // namespace

struct TsaHttpServer::Impl {
  SslInit ssl;  // first: torn down last
  State state;
  std::string host;
  bool tls = false;
  Poco::Net::ServerSocket socket;
  Poco::ThreadPool pool{1, 8};
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::mutex mu;
  bool started = false;
  bool stopped = false;
  std::uint16_t bound_port = 0;

  Impl(DevTsa& tsa, std::string h, std::uint16_t port, TsaHttpServerOptions o)
      : ssl(!o.tls_cert.empty()),
        state(tsa, std::move(o)),
        host(std::move(h)),
        tls(!state.options.tls_cert.empty()),
        socket(make_socket(state.options)) {
    // SO_REUSEADDR but not SO_REUSEPORT (Poco's two-argument constructor sets both): a busy port is an error.
    socket.bind(Poco::Net::SocketAddress(host, port), true, false);
    socket.listen(64);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    bound_port = socket.address().port();
    params->setMaxThreads(6);
    params->setMaxQueued(64);
    params->setTimeout(Poco::Timespan(10, 0));
    params->setKeepAlive(false);  // one request per connection: stop() never waits on idle keep-alives
    server = std::make_unique<Poco::Net::HTTPServer>(new TsaHandlerFactory(state), pool, socket, params);
  }

  void open_latch() {
    {
      std::lock_guard lock(state.mu);
      state.latch_open = true;
    }
    state.cv.notify_all();
  }
};

TsaHttpServer::TsaHttpServer(DevTsa& tsa, std::string host, std::uint16_t port, TsaHttpServerOptions options)
    : m_impl(std::make_unique<Impl>(tsa, std::move(host), port, std::move(options))) {}

TsaHttpServer::~TsaHttpServer() {
  try {
    stop();
  } catch (...) {
    // nothing sensible to do while destroying
  }
}

void TsaHttpServer::start() {
  std::lock_guard lock(m_impl->mu);
  if (m_impl->started || m_impl->stopped) {
    return;
  }
  m_impl->server->start();
  m_impl->started = true;
}

void TsaHttpServer::stop() {
  std::lock_guard lock(m_impl->mu);
  if (m_impl->stopped) {
    return;
  }
  m_impl->stopped = true;
  m_impl->open_latch();  // a held request must not keep stop() waiting
  if (m_impl->started) {
    m_impl->server->stopAll(false);
    m_impl->pool.joinAll();
  }
  m_impl->socket.close();
}

std::uint16_t TsaHttpServer::port() const { return m_impl->bound_port; }

std::string TsaHttpServer::url() const {
  std::string h = m_impl->host;
  if (h.empty() || h == "0.0.0.0" || h == "::" || h == "[::]") {
    h = "127.0.0.1";
  } else if (h.find(':') != std::string::npos && h.front() != '[') {
    h = "[" + h + "]";
  }
  return (m_impl->tls ? "https://" : "http://") + h + ":" + std::to_string(port()) + "/";
}

void TsaHttpServer::set_fault(TsaFault fault) {
  std::lock_guard lock(m_impl->state.mu);
  m_impl->state.fault = fault;
  if (fault == TsaFault::hold) {
    m_impl->state.latch_open = false;
  }
}

void TsaHttpServer::release_held() { m_impl->open_latch(); }

std::size_t TsaHttpServer::request_count() const { return m_impl->state.requests.load(); }

std::size_t TsaHttpServer::held_count() const {
  std::lock_guard lock(m_impl->state.mu);
  return m_impl->state.held;
}

}  // namespace hanko::tsa
