// The service as a hospital runs it: HTTPS on 127.0.0.1 port 0 with real TLS,
// admission control, graceful shutdown and GET /openapi.json. No sleeps: the
// server's fault-injection hooks hold requests, latches say where they are.
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <latch>
#include <set>
#include <thread>

#include "fixture.h"
#include "hanko/common/json.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "router.h"
#include "tls_material.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string retry_after;
  std::string www_authenticate;
  std::string hsts;
};

/** A one-shot gate: threads wait() until open() is called. */
class Gate {
 public:
  void wait() { m_future.wait(); }
  void open() {
    std::call_once(m_once, [&] { m_promise.set_value(); });
  }

 private:
  std::promise<void> m_promise;
  std::shared_future<void> m_future = m_promise.get_future().share();
  std::once_flag m_once;
};

/** Result of a raw TLS handshake: the negotiated version, or the error. */
struct Handshake {
  bool ok = false;
  std::string version;
  std::string error;
};

/** Connects to 127.0.0.1:port and handshakes with the given protocol range (OpenSSL directly). */
Handshake raw_handshake(std::uint16_t port, int min_version, int max_version) {
  Handshake h;
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, max_version);
  SSL_CTX_set_security_level(ctx, 0);  // let the client offer old protocols; the server must refuse them
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    h.error = "connect failed";
  } else {
    SSL* ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
      h.ok = true;
      h.version = SSL_get_version(ssl);
      SSL_shutdown(ssl);
    } else {
      char buf[256];
      ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
      h.error = buf;
    }
    SSL_free(ssl);
  }
  ERR_clear_error();
  ::close(fd);
  SSL_CTX_free(ctx);
  return h;
}

class Https : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Poco::Net::initializeSSL();
    s_material = new TlsMaterial(make_tls_material(temp_dir("tls-material"), sign_time()));
    s_data = new fs::path(temp_dir("https-data"));
  }

  /** A configuration with TLS on 127.0.0.1 port 0 and its own audit file. */
  server::ServiceConfig tls_config() {
    server::ServiceConfig c;
    c.listen_host = "127.0.0.1";
    c.listen_port = 0;
    c.data_dir = *s_data;
    c.audit_file = temp_dir("https-audit") / "audit.jsonl";
    c.tls_cert = s_material->server.cert.string();
    c.tls_key = s_material->server.key.string();
    return c;
  }

  void start(const server::ServiceConfig& c, server::HttpServerHooks hooks = {}) {
    config = c;
    if (!s_service) {
      s_clock = new FixedClock(sign_time());
      auto s = server::Service::create(config, *s_clock);
      ASSERT_TRUE(s) << s.error().message;
      s_service = s->release();
    }
    http = std::make_unique<server::HttpServer>(*s_service, config);
    http->set_hooks(std::move(hooks));
    auto started = http->start();
    ASSERT_TRUE(started) << started.error().message;
  }

  void TearDown() override {
    if (http) {
      http->stop();
    }
  }

  /** An HTTPS client context trusting the test TLS CA, with an optional client certificate. */
  static Poco::Net::Context::Ptr client_context(const TlsPair* client) {
    Poco::Net::Context::Params p;
    p.caLocation = s_material->ca.string();
    p.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    p.loadDefaultCAs = false;
    if (client != nullptr) {
      p.certificateFile = client->cert.string();
      p.privateKeyFile = client->key.string();
    }
    return new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, p);
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const TlsPair* client = nullptr, const std::string& bearer = "",
             const std::string& content_type = "application/fhir+json") {
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (http->tls()) {
      session = std::make_unique<Poco::Net::HTTPSClientSession>("127.0.0.1", http->port(), client_context(client));
    } else {
      session = std::make_unique<Poco::Net::HTTPClientSession>("127.0.0.1", http->port());
    }
    session->setTimeout(Poco::Timespan(120, 0));
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!bearer.empty()) {
      req.set("Authorization", "Bearer " + bearer);
    }
    if (method == "POST") {
      req.setContentType(content_type);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      session->sendRequest(req) << body;
    } else {
      session->sendRequest(req);
    }
    Poco::Net::HTTPResponse resp;
    std::istream& in = session->receiveResponse(resp);
    Reply r;
    r.status = resp.getStatus();
    r.content_type = resp.getContentType();
    r.retry_after = resp.get("Retry-After", "");
    r.www_authenticate = resp.get("WWW-Authenticate", "");
    r.hsts = resp.get("Strict-Transport-Security", "");
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
  }

  static inline TlsMaterial* s_material = nullptr;
  static inline fs::path* s_data = nullptr;
  static inline server::Service* s_service = nullptr;  // shared by the suite (the dev PKI is made once)
  static inline FixedClock* s_clock = nullptr;  // outlives the shared service
  server::ServiceConfig config;
  std::unique_ptr<server::HttpServer> http;
  std::string bundle = read_text(data_file("bundles/simple-prescription.json"));
};

TEST_F(Https, ServesOverTls13ByDefaultWithHsts) {
  start(tls_config());
  EXPECT_TRUE(http->tls());
  auto r = call("GET", "/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.hsts, "max-age=31536000");
  auto h = raw_handshake(http->port(), TLS1_2_VERSION, TLS1_3_VERSION);
  ASSERT_TRUE(h.ok) << h.error;
  EXPECT_EQ(h.version, "TLSv1.3");
}

TEST_F(Https, AcceptsTls12AndRefusesTls11AndTls10) {
  start(tls_config());
  auto v12 = raw_handshake(http->port(), TLS1_2_VERSION, TLS1_2_VERSION);
  ASSERT_TRUE(v12.ok) << v12.error;
  EXPECT_EQ(v12.version, "TLSv1.2");
  EXPECT_FALSE(raw_handshake(http->port(), TLS1_1_VERSION, TLS1_1_VERSION).ok);
  EXPECT_FALSE(raw_handshake(http->port(), TLS1_VERSION, TLS1_VERSION).ok);
}

TEST_F(Https, PlainHttpToTheTlsPortGetsNoAnswer) {
  start(tls_config());
  Poco::Net::HTTPClientSession plain("127.0.0.1", http->port());
  plain.setTimeout(Poco::Timespan(30, 0));
  Poco::Net::HTTPRequest req("GET", "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
  Poco::Net::HTTPResponse resp;
  EXPECT_ANY_THROW({
    plain.sendRequest(req);
    plain.receiveResponse(resp);
  });
}

TEST_F(Https, SignsAndVerifiesOverTls) {
  start(tls_config());
  auto signed_reply = call("POST", "/v1/sign", bundle);
  ASSERT_EQ(signed_reply.status, 200) << signed_reply.body;
  auto verified = call("POST", "/v1/verify", signed_reply.body);
  ASSERT_EQ(verified.status, 200) << verified.body;
  EXPECT_NE(verified.body.find("TOTAL-PASSED"), std::string::npos);
}

TEST_F(Https, PlainHttpOnANonLoopbackAddressIsRefusedAtStart) {
  server::ServiceConfig c = tls_config();
  c.tls_cert.clear();
  c.tls_key.clear();
  c.listen_host = "0.0.0.0";
  c.source = "hanko.properties";
  start(tls_config());  // makes the shared service
  server::HttpServer other(*s_service, c);
  auto started = other.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("server.listen"), std::string::npos) << started.error().message;
  EXPECT_NE(started.error().message.find("tls.cert"), std::string::npos);
}

TEST_F(Https, TlsConfigurationErrorsNameTheKey) {
  start(tls_config());
  {
    server::ServiceConfig c = tls_config();
    c.tls_key = s_material->ehr.key.string();  // another key
    auto r = server::HttpServer(*s_service, c).start();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("tls.key"), std::string::npos) << r.error().message;
  }
  {
    server::ServiceConfig c = tls_config();
    c.tls_cert = (*s_data / "missing.pem").string();
    auto r = server::HttpServer(*s_service, c).start();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("tls.cert"), std::string::npos) << r.error().message;
  }
  {
    server::ServiceConfig c = tls_config();
    c.tls_ciphers = "NO-SUCH-SUITE";
    auto r = server::HttpServer(*s_service, c).start();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("tls.ciphers"), std::string::npos) << r.error().message;
  }
}

TEST_F(Https, TlsKeysAreCheckedWhenTheConfigurationIsLoaded) {
  auto missing_key = server::load_config("", {{"tls.cert", "a.pem"}});
  ASSERT_FALSE(missing_key);
  EXPECT_NE(missing_key.error().message.find("tls.key"), std::string::npos);
  auto bad_mode = server::load_config("", {{"tls.cert", "a.pem"}, {"tls.key", "k.pem"}, {"tls.clientAuth", "maybe"}});
  ASSERT_FALSE(bad_mode);
  EXPECT_NE(bad_mode.error().message.find("tls.clientAuth"), std::string::npos);
  auto no_ca = server::load_config("", {{"tls.cert", "a.pem"}, {"tls.key", "k.pem"}, {"tls.clientAuth", "required"}});
  ASSERT_FALSE(no_ca);
  EXPECT_NE(no_ca.error().message.find("tls.clientCa"), std::string::npos);
  auto ok = server::load_config("", {{"tls.cert", "a.pem"}, {"tls.key", "k.pem"}, {"tls.clientAuth", "optional"},
                                     {"tls.clientCa", "ca.pem"}});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->tls_client_auth, "optional");
}

// --- Admission control -------------------------------------------------------------

TEST_F(Https, ASaturatedServerAnswers503WithRetryAfterAndRecovers) {
  server::ServiceConfig c = tls_config();
  c.max_threads = 1;
  c.max_queued = 1;
  Gate release;
  std::latch running(1);
  std::latch queued(1);
  std::atomic<int> admitted{0};
  server::HttpServerHooks hooks;
  hooks.on_admitted = [&](std::string_view op) {
    if (op == "verify" && admitted.fetch_add(1) == 0) {
      running.count_down();
      release.wait();  // the first request holds the only worker
    }
  };
  hooks.on_queued = [&](std::string_view) { queued.count_down(); };
  start(c, hooks);
  auto signed_reply = call("POST", "/v1/sign", bundle);  // before saturation
  ASSERT_EQ(signed_reply.status, 200) << signed_reply.body;

  auto first = std::async(std::launch::async, [&] { return call("POST", "/v1/verify", signed_reply.body); });
  running.wait();
  auto second = std::async(std::launch::async, [&] { return call("POST", "/v1/verify", signed_reply.body); });
  queued.wait();
  EXPECT_EQ(http->stats().active, 1);
  EXPECT_EQ(http->stats().waiting, 1);

  auto third = call("POST", "/v1/verify", signed_reply.body);
  EXPECT_EQ(third.status, 503) << third.body;
  EXPECT_EQ(third.retry_after, "1");
  EXPECT_NE(third.body.find("busy"), std::string::npos);
  EXPECT_EQ(http->stats().rejected, 1u);
  // Probes are not subject to admission control.
  EXPECT_EQ(call("GET", "/healthz").status, 200);

  release.open();
  EXPECT_EQ(first.get().status, 200);
  EXPECT_EQ(second.get().status, 200);
  EXPECT_EQ(call("POST", "/v1/verify", signed_reply.body).status, 200);
}

// --- Graceful shutdown ----------------------------------------------------------------

TEST_F(Https, StopFinishesTheRequestInFlightThenClosesThePort) {
  Gate release;
  std::latch running(1);
  std::latch stopping(1);
  server::HttpServerHooks hooks;
  hooks.on_admitted = [&](std::string_view op) {
    if (op == "sign") {
      running.count_down();
      release.wait();
    }
  };
  hooks.on_stopping = [&] { stopping.count_down(); };
  start(tls_config(), hooks);
  const std::uint16_t port = http->port();
  auto in_flight = std::async(std::launch::async, [&] { return call("POST", "/v1/sign", bundle); });
  running.wait();
  auto stopper = std::async(std::launch::async, [&] { http->stop(); });
  stopping.wait();
  // The port is closed once stop() has begun: a new client is refused, not queued.
  EXPECT_FALSE(raw_handshake(port, TLS1_2_VERSION, TLS1_3_VERSION).ok);
  release.open();
  auto r = in_flight.get();
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"signature\""), std::string::npos);
  stopper.get();
}

TEST_F(Https, RequestsWaitingForAdmissionAtShutdownGet503) {
  server::ServiceConfig c = tls_config();
  c.max_threads = 1;
  c.max_queued = 4;
  Gate release;
  std::latch running(1);
  std::latch queued(1);
  std::latch stopping(1);
  std::atomic<int> n{0};
  server::HttpServerHooks hooks;
  hooks.on_admitted = [&](std::string_view op) {
    if (op == "verify" && n.fetch_add(1) == 0) {
      running.count_down();
      release.wait();
    }
  };
  hooks.on_queued = [&](std::string_view) { queued.count_down(); };
  hooks.on_stopping = [&] { stopping.count_down(); };
  start(c, hooks);
  const std::string body = R"({"resourceType":"Bundle","type":"document"})";
  auto first = std::async(std::launch::async, [&] { return call("POST", "/v1/verify", body); });
  running.wait();
  auto waiting = std::async(std::launch::async, [&] { return call("POST", "/v1/verify", body); });
  queued.wait();
  auto stopper = std::async(std::launch::async, [&] { http->stop(); });
  stopping.wait();
  auto w = waiting.get();
  EXPECT_EQ(w.status, 503) << w.body;
  EXPECT_NE(w.body.find("shutting down"), std::string::npos);
  release.open();
  EXPECT_NE(first.get().status, 503);
  stopper.get();
}

// --- Limits --------------------------------------------------------------------------

TEST_F(Https, OversizedBodyIs413) {
  server::ServiceConfig c = tls_config();
  c.max_body_bytes = 64u << 10;
  start(c);
  auto r = call("POST", "/v1/verify", std::string(100u << 10, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("server.maxBodyBytes"), std::string::npos);
}

TEST_F(Https, ABodyThatNeverArrivesIs408AfterTheRequestTimeout) {
  server::ServiceConfig c = tls_config();
  c.request_timeout_ms = 300;
  start(c);
  Poco::Net::HTTPSClientSession session("127.0.0.1", http->port(), client_context(nullptr));
  session.setTimeout(Poco::Timespan(60, 0));
  Poco::Net::HTTPRequest req("POST", "/v1/verify", Poco::Net::HTTPMessage::HTTP_1_1);
  req.setContentType("application/fhir+json");
  req.setContentLength(1000);
  session.sendRequest(req) << "{";  // 1 of 1000 bytes, then nothing
  Poco::Net::HTTPResponse resp;
  std::istream& in = session.receiveResponse(resp);
  std::string body;
  Poco::StreamCopier::copyToString(in, body);
  EXPECT_EQ(resp.getStatus(), 408) << body;
}

// --- GET /openapi.json -------------------------------------------------------------------

TEST_F(Https, OpenApiListsExactlyTheRoutesServed) {
  start(tls_config());
  auto r = call("GET", "/openapi.json");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  auto doc = json::parse(r.body);
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(doc->find_string("openapi")->substr(0, 2), "3.");
  const json::Value* paths = doc->find("paths");
  ASSERT_TRUE(paths != nullptr && paths->is_object());
  std::set<std::string> documented;
  for (const auto& [path, item] : paths->as_object()) {
    for (const auto& [method, op] : item.as_object()) {
      if (method == "parameters") continue;
      std::string upper;
      for (char ch : method) upper.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
      documented.insert(upper + " " + path);
    }
  }
  std::set<std::string> served;
  for (const auto& route : server::route_table()) {
    served.insert(std::string(route.method) + " " + std::string(route.pattern));
  }
  EXPECT_EQ(documented, served);
  // And every served route answers something other than 404/405 (it is really routed).
  for (const auto& route : server::route_table()) {
    std::string path(route.pattern);
    for (std::size_t b; (b = path.find('{')) != std::string::npos;) {
      path.replace(b, path.find('}', b) - b + 1, "x");
    }
    auto reply = call(std::string(route.method), path, route.has_body ? "{}" : "");
    EXPECT_NE(reply.status, 404) << route.method << " " << route.pattern;
    EXPECT_NE(reply.status, 405) << route.method << " " << route.pattern;
  }
}

}  // namespace
}  // namespace hanko::test
