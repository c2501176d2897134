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
#include <sstream>
#include <latch>
#include <set>
#include <thread>

#include "fixture.h"
#include <openssl/core_names.h>
#include <openssl/hmac.h>

#include "hanko/common/base64.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "audit.h"
#include "hanko/certstore/trust_store.h"
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
    EXPECT_EQ(reply.body.find("no such endpoint"), std::string::npos) << route.method << " " << route.pattern;
    EXPECT_NE(reply.status, 405) << route.method << " " << route.pattern;
  }
}

// --- Authentication and authorization ------------------------------------------------

/** An identity provider of the test: an RSA-2048 key, its JWKS file, and JWTs it issues. */
struct TestIdp {
  ossl::EvpPkeyPtr key{EVP_RSA_gen(2048)};
  fs::path jwks_file;
  std::string issuer = "https://idp.hospital.test";

  static std::string b64(std::string_view s) { return base64url_encode(as_bytes(s)); }
  static std::string b64(const Bytes& b) { return base64url_encode(b); }

  std::string bn(const char* name) const {
    BIGNUM* v = nullptr;
    EVP_PKEY_get_bn_param(key.get(), name, &v);
    Bytes out(static_cast<std::size_t>(BN_num_bytes(v)));
    BN_bn2bin(v, out.data());
    BN_free(v);
    return b64(out);
  }

  void write_jwks(const fs::path& dir) {
    jwks_file = dir / "jwks.json";
    write_text(jwks_file, R"({"keys":[{"kty":"RSA","kid":"idp-1","use":"sig","alg":"RS256","n":")" + bn(OSSL_PKEY_PARAM_RSA_N) +
                              R"(","e":")" + bn(OSSL_PKEY_PARAM_RSA_E) + R"("}]})");
  }

  /** A token for `sub`, valid from an hour before `now` for `lifetime` (negative: expired). */
  std::string token(const std::string& sub, TimePoint now, std::chrono::seconds lifetime = std::chrono::seconds(600),
                    const std::string& alg = "RS256", const std::string& audience = "hanko") const {
    const auto secs = [](TimePoint t) { return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count(); };
    const std::string header = R"({"alg":")" + alg + R"(","typ":"JWT","kid":"idp-1"})";
    const std::string payload = R"({"iss":")" + issuer + R"(","aud":")" + audience + R"(","sub":")" + sub +
                                R"(","iat":)" + std::to_string(secs(now) - 3600) + R"(,"nbf":)" +
                                std::to_string(secs(now) - 3600) + R"(,"exp":)" + std::to_string(secs(now + lifetime)) + "}";
    const std::string input = b64(header) + "." + b64(payload);
    if (alg == "none") {
      return input + ".";
    }
    Bytes sig;
    if (alg == "HS256") {
      // The classic confusion: HMAC keyed with the RSA public key's bytes.
      const std::string secret = bn(OSSL_PKEY_PARAM_RSA_N);
      unsigned int len = 0;
      sig.resize(EVP_MAX_MD_SIZE);
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), sig.data(), &len);
      sig.resize(len);
    } else {
      ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get());
      std::size_t len = 0;
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
      sig.resize(len);
      EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()), input.size());
      sig.resize(len);
    }
    return input + "." + b64(sig);
  }
};

class HttpsAuth : public Https {
 protected:
  void SetUp() override {
    idp.write_jwks(temp_dir("idp"));
  }

  /** TLS with optional client certificates, four API clients and a JWT issuer. */
  server::ServiceConfig auth_config() {
    server::ServiceConfig c = tls_config();
    c.tls_client_auth = "optional";
    c.tls_client_ca = s_material->ca.string();
    c.auth_keys = {
        {"clients.ehr.certSha256", cert_sha256_hex(s_material->ehr.cert)},
        {"clients.ehr.scopes", "sign,verify"},
        {"clients.ehr.signers", "dev-doctor"},
        {"clients.pharmacy.certSubject", "CN=pharmacy-1,O=Test Pharmacy"},
        {"clients.pharmacy.scopes", "verify"},
        {"clients.batch.tokenSubject", "batch-job"},
        {"clients.batch.scopes", "verify"},
        {"clients.ops.tokenSubject", "ops-console"},
        {"clients.ops.scopes", "admin"},
        {"auth.jwt.issuer", idp.issuer},
        {"auth.jwt.audience", "hanko"},
        {"auth.jwt.jwksFile", idp.jwks_file.string()},
    };
    return c;
  }

  std::vector<json::Value> audit_events() {
    std::vector<json::Value> out;
    std::istringstream in(read_text(config.audit_file));
    for (std::string line; std::getline(in, line);) {
      auto v = json::parse(line);
      EXPECT_TRUE(v) << line;
      if (v) out.push_back(std::move(*v));
    }
    return out;
  }

  static std::string who(const json::Value& ev) {
    return *ev.find("agent")->as_array().front().find("who")->find("identifier")->find_string("value");
  }
  static std::string outcome(const json::Value& ev) { return *ev.find_string("outcome"); }

  TestIdp idp;
};

TEST_F(HttpsAuth, TheMatrixOfCredentialsScopesAndStatusesIsEnforcedAndAudited) {
  start(auth_config());
  const TimePoint now = sign_time();
  struct Case {
    std::string name;
    std::string method, path;
    const TlsPair* cert;
    std::string token;
    int status;
    std::string who;         // audited client id
    std::string challenge;   // part of WWW-Authenticate, when 401/403
  };
  const std::string verify_body = R"({"resourceType":"Bundle","type":"document"})";
  const std::vector<Case> cases = {
      {"no credentials", "POST", "/v1/verify", nullptr, "", 401, "anonymous", "Bearer realm=\"hanko\""},
      {"listed client certificate (SHA-256)", "POST", "/v1/sign", &s_material->ehr, "", 200, "ehr", ""},
      {"signer the client may not use", "POST", "/v1/sign?signer=dev-doctor-ec", &s_material->ehr, "", 403, "ehr", ""},
      {"listed client certificate (subject)", "POST", "/v1/verify", &s_material->pharmacy, "", 422, "pharmacy", ""},
      {"client certificate lacking the scope", "POST", "/v1/sign", &s_material->pharmacy, "", 403, "pharmacy",
       "insufficient_scope"},
      {"certificate from the right CA, not listed", "POST", "/v1/verify", &s_material->unlisted, "", 401, "anonymous", "Bearer"},
      {"same subject from another CA", "POST", "/v1/verify", &s_material->impostor, "", 401, "anonymous", "Bearer"},
      {"expired client certificate", "POST", "/v1/verify", &s_material->expired, "", 401, "anonymous", "Bearer"},
      {"valid JWT", "POST", "/v1/verify", nullptr, idp.token("batch-job", now), 422, "batch", ""},
      {"valid JWT lacking the scope", "POST", "/v1/sign", nullptr, idp.token("batch-job", now), 403, "batch",
       "insufficient_scope"},
      {"expired JWT", "POST", "/v1/verify", nullptr, idp.token("batch-job", now, std::chrono::seconds(-3600)), 401,
       "anonymous", "invalid_token"},
      {"JWT with alg none", "POST", "/v1/verify", nullptr, idp.token("batch-job", now, std::chrono::seconds(600), "none"),
       401, "anonymous", "invalid_token"},
      {"JWT with HS256", "POST", "/v1/verify", nullptr, idp.token("batch-job", now, std::chrono::seconds(600), "HS256"),
       401, "anonymous", "invalid_token"},
      {"JWT for another audience", "POST", "/v1/verify", nullptr,
       idp.token("batch-job", now, std::chrono::seconds(600), "RS256", "other-service"), 401, "anonymous", "invalid_token"},
      {"JWT of no client", "POST", "/v1/verify", nullptr, idp.token("stranger", now), 401, "anonymous", ""},
      {"invalid JWT with a valid client certificate", "POST", "/v1/sign", &s_material->ehr,
       idp.token("batch-job", now, std::chrono::seconds(-3600)), 401, "anonymous", "invalid_token"},
      {"health check needs nothing", "GET", "/healthz", nullptr, "", 200, "", ""},
      {"metrics unprotected by default", "GET", "/metrics", nullptr, "", 200, "", ""},
  };
  std::size_t audited = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string body = c.method == "POST" ? (c.path.starts_with("/v1/sign") ? bundle : verify_body) : "";
    auto r = call(c.method, c.path, body, c.cert, c.token);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (!c.challenge.empty()) {
      EXPECT_NE(r.www_authenticate.find(c.challenge), std::string::npos) << r.www_authenticate;
    }
    if (c.status == 401 || c.status == 403) {
      EXPECT_EQ(r.content_type, "application/fhir+json");
      EXPECT_NE(r.body.find("OperationOutcome"), std::string::npos);
    }
    if (!c.who.empty()) {
      ++audited;
      auto events = audit_events();
      ASSERT_EQ(events.size(), audited);
      EXPECT_EQ(who(events.back()), c.who);
      EXPECT_EQ(outcome(events.back()), c.status < 400 ? "0" : "4");
      const std::string line = json::serialize(events.back());
      EXPECT_NE(line.find("\"address\":\"127.0.0.1\""), std::string::npos);
      EXPECT_EQ(line.find(c.token.empty() ? std::string("\x01") : c.token), std::string::npos) << "token in the audit";
    }
  }
  // The subject of an authenticated client is in the record.
  auto events = audit_events();
  EXPECT_NE(json::serialize(events[1]).find("ehr-1"), std::string::npos);
  EXPECT_NE(json::serialize(events[1]).find("tls-client-certificate"), std::string::npos);
}

/** The value of one series in a Prometheus text exposition; 0 when absent. */
double metric(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return 0;
}

TEST_F(HttpsAuth, ProtectedMetricsNeedTheAdminScopeAndCount) {
  server::ServiceConfig c = auth_config();
  c.metrics_protected = true;
  start(c);
  const TimePoint now = sign_time();
  const std::vector<std::string> series = {
      R"(hanko_http_requests_total{route="/v1/sign",method="POST",status="200"})",
      R"(hanko_http_requests_total{route="/metrics",method="GET",status="401"})",
      R"(hanko_http_requests_total{route="/metrics",method="GET",status="403"})",
      R"(hanko_http_rejected_total{reason="unauthenticated"})",
      R"(hanko_http_rejected_total{reason="forbidden"})",
      R"(hanko_signatures_total{format="jades",level="B-T"})",
      R"(hanko_validations_total{format="jades",indication="TOTAL-PASSED"})",
      R"(hanko_http_request_duration_seconds_bucket{route="/v1/sign",method="POST",le="+Inf"})",
      R"(hanko_http_request_duration_seconds_count{route="/v1/sign",method="POST"})",
  };
  auto scrape = [&] {
    auto m = call("GET", "/metrics", "", nullptr, idp.token("ops-console", now));
    EXPECT_EQ(m.status, 200) << m.body;
    EXPECT_NE(m.content_type.find("text/plain"), std::string::npos);
    return m.body;
  };
  const std::string before = scrape();
  EXPECT_EQ(call("GET", "/metrics").status, 401);
  EXPECT_EQ(call("GET", "/metrics", "", nullptr, idp.token("batch-job", now)).status, 403);
  auto signed_reply = call("POST", "/v1/sign", bundle, &s_material->ehr);
  ASSERT_EQ(signed_reply.status, 200) << signed_reply.body;
  ASSERT_EQ(call("POST", "/v1/verify", signed_reply.body, &s_material->ehr).status, 200);
  const std::string after = scrape();
  for (const auto& name : series) {
    EXPECT_EQ(metric(after, name) - metric(before, name), 1) << name << "\n" << after;
  }
  EXPECT_GT(metric(after, "hanko_audit_chain_length"), metric(before, "hanko_audit_chain_length"));
}

TEST_F(HttpsAuth, WithoutClientsAuthenticationIsOffOnLoopbackOnlyAndSaysSo) {
  server::ServiceConfig c = tls_config();
  start(c);
  bool loud = false;
  for (const auto& line : http->describe()) {
    loud = loud || line.find("AUTHENTICATION IS OFF") != std::string::npos;
  }
  EXPECT_TRUE(loud);
  server::ServiceConfig wide = tls_config();
  wide.listen_host = "0.0.0.0";
  auto refused = server::HttpServer(*s_service, wide).start();
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("clients."), std::string::npos) << refused.error().message;
}

TEST_F(HttpsAuth, ClientCertificatesWithoutClientAuthIsAConfigurationError) {
  server::ServiceConfig c = auth_config();
  c.tls_client_auth = "none";
  start(tls_config());
  auto r = server::HttpServer(*s_service, c).start();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("tls.clientAuth"), std::string::npos) << r.error().message;
}

// --- Audit anchoring -----------------------------------------------------------------

TEST_F(Https, TheAuditChainHeadIsAnchoredWithRfc3161AndVerifyChecksTheAnchors) {
  start(tls_config());
  ASSERT_EQ(call("GET", "/v1/nothing-here").status, 404);
  ASSERT_EQ(call("POST", "/v1/verify", "{}").status, 422);
  auto anchored = http->anchor_audit();
  ASSERT_TRUE(anchored) << anchored.error().message;
  EXPECT_TRUE(*anchored);
  auto again = http->anchor_audit();
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again) << "nothing new since the last anchor";
  ASSERT_EQ(call("GET", "/v1/nothing-here").status, 404);
  http->stop();

  auto trust = certstore::TrustStore::load_dir(*s_data / "dev-pki" / "trust");
  ASSERT_TRUE(trust) << trust.error().message;
  const fs::path file = config.audit_file;
  auto v = server::verify_audit_file(file, &*trust);
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->ok) << v->line << ": " << v->reason;
  EXPECT_EQ(v->records, 4u);
  EXPECT_EQ(v->anchors, 1u);
  EXPECT_TRUE(v->anchors_verified);
  EXPECT_EQ(v->last_anchor_line, 3u);
  ASSERT_TRUE(v->last_anchor_time.has_value());
  EXPECT_EQ(*v->last_anchor_time, sign_time());

  const std::string text = read_text(file);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[2].find("audit-anchor-token"), std::string::npos);
  auto join = [](const std::vector<std::string>& ls) {
    std::string out;
    for (const auto& l : ls) out += l + "\n";
    return out;
  };
  // A token that was changed (one base64 character of the signature) no longer verifies.
  {
    std::vector<std::string> changed = lines;
    const auto at = changed[2].find("audit-anchor-token");
    const std::string marker = "valueBase64Binary\":\"";
    const auto value = changed[2].find(marker, at) + marker.size();
    const auto end = changed[2].find('"', value);
    char& ch = changed[2][end - 10];
    ch = ch == 'A' ? 'B' : 'A';
    // The anchor check of line 3 fails before the broken link of line 4 is reached.
    const fs::path f = temp_dir("audit-changed") / "audit.jsonl";
    write_text(f, join(changed));
    auto r = server::verify_audit_file(f, &*trust);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->line, 3u) << r->reason;
  }
  // The same file checked without TSA trust: imprints are checked, signatures are not.
  {
    auto r = server::verify_audit_file(file, nullptr);
    ASSERT_TRUE(r);
    EXPECT_TRUE(r->ok);
    EXPECT_FALSE(r->anchors_verified);
  }
  // An anchor copied into a rewritten chain names a head the new chain never had.
  {
    std::vector<std::string> rewritten = {lines[2]};
    const std::string genesis(server::kAuditGenesis);
    const std::string marker = "audit-chain\",\"valueString\":\"";
    const auto link = rewritten[0].find(marker) + marker.size();
    std::string first = rewritten[0];
    first.replace(link, 64, genesis);
    const fs::path f = temp_dir("audit-rewritten") / "audit.jsonl";
    write_text(f, first + "\n");
    auto r = server::verify_audit_file(f, &*trust);
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->ok);
    EXPECT_NE(r->reason.find("anchor"), std::string::npos) << r->reason;
  }
}

TEST_F(Https, AnchoringWithoutATsaIsAClearError) {
  start(tls_config());
  http->stop();
  auto r = http->anchor_audit();
  ASSERT_FALSE(r);
}

}  // namespace
}  // namespace hanko::test
