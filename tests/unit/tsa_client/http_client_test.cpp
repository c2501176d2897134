#include "hanko/common/http_client.h"

#include <Poco/Net/HTTPBasicCredentials.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <ostream>
#include <stdexcept>

#include "hanko/tsa_client/tsa_http_server.h"
#include "test_support.h"
#include "tsa_test_util.h"

namespace hanko {
namespace {

using tsa::testutil::closed_port;
using tsa::testutil::LambdaServer;

/** Serves /small (5 bytes), /big (10 KiB with Content-Length), /chunked (10 KiB chunked), /redirect, /echo. */
LambdaServer::Handler test_routes() {
  return [](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    const std::string& uri = req.getURI();
    if (uri == "/small") {
      resp.setContentType("text/plain");
      resp.sendBuffer("hello", 5);
    } else if (uri == "/big") {
      std::string body(10 * 1024, 'x');
      resp.setContentType("application/octet-stream");
      resp.setContentLength(static_cast<std::streamsize>(body.size()));
      resp.sendBuffer(body.data(), body.size());
    } else if (uri == "/chunked") {
      resp.setChunkedTransferEncoding(true);
      resp.setContentType("application/octet-stream");
      std::ostream& out = resp.send();
      for (int i = 0; i < 10; ++i) {
        out << std::string(1024, 'y');
        out.flush();
      }
    } else if (uri == "/redirect") {
      resp.redirect("/small");
    } else if (uri == "/echo") {
      std::string body;
      char buf[1024];
      while (req.stream().read(buf, sizeof buf) || req.stream().gcount() > 0) {
        body.append(buf, static_cast<std::size_t>(req.stream().gcount()));
      }
      resp.setContentType(req.getContentType());
      resp.sendBuffer(body.data(), body.size());
    } else {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
      resp.send();
    }
  };
}

TEST(HttpClient, GetReturnsStatusBodyAndContentType) {
  LambdaServer server(test_routes());
  HttpClient client;
  auto r = client.get(server.url("/small"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->content_type, "text/plain");
}

TEST(HttpClient, NonSuccessStatusIsAResponseNotAnError) {
  LambdaServer server(test_routes());
  auto r = HttpClient().get(server.url("/missing"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 404);
}

TEST(HttpClient, PostSendsBodyAndContentType) {
  LambdaServer server(test_routes());
  std::string payload("\x00\x01\x02 binary", 10);
  auto r = HttpClient().post(server.url("/echo"), "application/timestamp-query", payload);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, payload);
  EXPECT_EQ(r->content_type, "application/timestamp-query");
}

TEST(HttpClient, EmptyPostBody) {
  LambdaServer server(test_routes());
  auto r = HttpClient().post(server.url("/echo"), "application/octet-stream", "");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "");
}

TEST(HttpClient, SizeLimitWithContentLength) {
  LambdaServer server(test_routes());
  HttpOptions small;
  small.max_response_bytes = 1024;
  auto r = HttpClient(small).get(server.url("/big"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::too_large) << r.error().message;

  HttpOptions exact;
  exact.max_response_bytes = 10 * 1024;
  auto ok = HttpClient(exact).get(server.url("/big"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->body.size(), 10u * 1024);
}

TEST(HttpClient, SizeLimitWhileReceivingChunked) {
  LambdaServer server(test_routes());
  HttpOptions small;
  small.max_response_bytes = 3000;
  auto r = HttpClient(small).get(server.url("/chunked"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::too_large) << r.error().message;

  auto ok = HttpClient().get(server.url("/chunked"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->body.size(), 10u * 1024);
}

TEST(HttpClient, DoesNotFollowRedirects) {
  LambdaServer server(test_routes());
  auto r = HttpClient().get(server.url("/redirect"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 302);
  EXPECT_NE(r->body, "hello");
}

TEST(HttpClient, OnlyHttpAndHttps) {
  HttpClient client;
  for (const char* url : {"file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/"}) {
    auto r = client.get(url);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << url << ": " << r.error().message;
  }
  auto bad = client.get("http://bad url\r\nInjected: yes");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
  LambdaServer server(test_routes());
  auto header_injection = client.post(server.url("/echo"), "text/plain\r\nX-Evil: 1", "x");
  ASSERT_FALSE(header_injection);
  EXPECT_EQ(header_injection.error().code, Errc::invalid_argument);
}

TEST(HttpClient, ConnectionRefusedIsNetworkErrorWithUrl) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto start = std::chrono::steady_clock::now();
  auto r = HttpClient().get(url);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
  EXPECT_NE(r.error().message.find(url), std::string::npos) << r.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(HttpClient, TotalTimeoutIsNetworkErrorWithUrl) {
  // A listening socket that never accepts: the TCP handshake completes (backlog),
  // the request is sent and no answer ever comes.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  const std::string url = "http://127.0.0.1:" + std::to_string(silent.address().port()) + "/slow";
  HttpOptions opt;
  opt.total_timeout = std::chrono::milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  auto r = HttpClient(opt).get(url);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
  EXPECT_NE(r.error().message.find(url), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("timeout"), std::string::npos) << r.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(5));
}

TEST(HttpClient, IgnoresProxyEnvironmentUnlessConfigured) {
  LambdaServer server(test_routes());
  const std::string dead_proxy = "http://127.0.0.1:" + std::to_string(closed_port());
  ::setenv("http_proxy", dead_proxy.c_str(), 1);
  ::setenv("HTTP_PROXY", dead_proxy.c_str(), 1);
  ::setenv("no_proxy", "", 1);
  auto direct = HttpClient().get(server.url("/small"));
  HttpOptions via;
  via.proxy = dead_proxy;
  auto proxied = HttpClient(via).get(server.url("/small"));
  ::unsetenv("http_proxy");
  ::unsetenv("HTTP_PROXY");
  ::unsetenv("no_proxy");
  ASSERT_TRUE(direct) << direct.error().message;
  EXPECT_EQ(direct->body, "hello");
  // The configured (dead) proxy is used, so the request fails.
  ASSERT_FALSE(proxied);
  EXPECT_EQ(proxied.error().code, Errc::network);
}

}  // namespace
}  // namespace hanko

namespace hanko {
namespace {

using tsa::testutil::closed_port;
using tsa::testutil::LambdaServer;

/** Collects HttpEvents. */
struct Events {
  std::mutex mu;
  std::vector<HttpEvent> list;
  HttpObserver observer() {
    return [this](const HttpEvent& e) {
      std::lock_guard lock(mu);
      list.push_back(e);
    };
  }
};

/** Answers with the basic-auth user name it received ("-" for none) and 401 without credentials. */
LambdaServer::Handler auth_echo() {
  return [](Poco::Net::HTTPServerRequest& req, Poco::Net::HTTPServerResponse& resp) {
    if (!req.hasCredentials()) {
      resp.setStatus(Poco::Net::HTTPResponse::HTTP_UNAUTHORIZED);
      resp.set("WWW-Authenticate", "Basic realm=\"test\"");
      resp.send();
      return;
    }
    Poco::Net::HTTPBasicCredentials creds(req);
    const std::string body = creds.getUsername() + ":" + (creds.getPassword() == "pw-123" ? "right" : "wrong");
    resp.setContentType("text/plain");
    resp.sendBuffer(body.data(), body.size());
  };
}

TEST(HttpClientObserver, SeesSuccessStatusAndFailureWithPurpose) {
  LambdaServer server(test_routes());
  Events ev;
  HttpOptions o;
  o.purpose = "ocsp";
  o.observer = ev.observer();
  HttpClient client(o);
  ASSERT_TRUE(client.get(server.url("/small")));
  ASSERT_TRUE(client.get(server.url("/missing")));
  const std::string down = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  ASSERT_FALSE(client.post(down, "text/plain", "x"));
  std::lock_guard lock(ev.mu);
  ASSERT_EQ(ev.list.size(), 3u);
  EXPECT_EQ(ev.list[0].purpose, "ocsp");
  EXPECT_EQ(ev.list[0].url, server.url("/small"));
  EXPECT_EQ(ev.list[0].status, 200);
  EXPECT_TRUE(ev.list[0].ok);
  EXPECT_GE(ev.list[0].seconds, 0.0);
  EXPECT_EQ(ev.list[1].status, 404);
  EXPECT_FALSE(ev.list[1].ok);
  EXPECT_EQ(ev.list[2].url, down);
  EXPECT_EQ(ev.list[2].status, 0);
  EXPECT_FALSE(ev.list[2].ok);
  EXPECT_FALSE(ev.list[2].timed_out);
}

TEST(HttpClientObserver, SeesATimeoutAndAnExceptionDoesNotHurt) {
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  Events ev;
  HttpOptions o;
  o.total_timeout = std::chrono::milliseconds(300);
  o.observer = ev.observer();
  auto r = HttpClient(o).get("http://127.0.0.1:" + std::to_string(silent.address().port()) + "/");
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_timeout(r.error())) << r.error().message;
  {
    std::lock_guard lock(ev.mu);
    ASSERT_EQ(ev.list.size(), 1u);
    EXPECT_TRUE(ev.list[0].timed_out);
    EXPECT_FALSE(ev.list[0].ok);
  }
  LambdaServer server(test_routes());
  HttpOptions throwing;
  throwing.observer = [](const HttpEvent&) { throw std::runtime_error("observer bug"); };
  auto ok = HttpClient(throwing).get(server.url("/small"));
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->body, "hello");
  // A refused connection is not a timeout.
  auto refused = HttpClient().get("http://127.0.0.1:" + std::to_string(closed_port()) + "/");
  ASSERT_FALSE(refused);
  EXPECT_FALSE(is_timeout(refused.error()));
}

TEST(HttpClientCredentials, BasicAuthIsSentRightOrWrong) {
  LambdaServer server(auth_echo());
  HttpOptions right;
  right.user = "clinic";
  right.password = "pw-123";
  auto r = HttpClient(right).get(server.url("/"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "clinic:right");

  HttpOptions wrong = right;
  wrong.password = "pw-124";
  auto w = HttpClient(wrong).get(server.url("/"));
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->body, "clinic:wrong");

  auto none = HttpClient().get(server.url("/"));
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->status, 401);
}

TEST(HttpClientCredentials, NeverInClearBeyondLoopbackNorInMessages) {
  HttpOptions o;
  o.user = "clinic";
  o.password = "Very-Secret-42";
  Events ev;
  o.observer = ev.observer();
  // Refused before any connection: no DNS lookup of tsa.example happens.
  auto r = HttpClient(o).post("http://tsa.example/tsp", "application/timestamp-query", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find("refusing to send HTTP credentials over plain http"), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("Very-Secret-42"), std::string::npos);

  auto colon = HttpClient([] {
                 HttpOptions c;
                 c.user = "a:b";
                 c.password = "p";
                 return c;
               }())
                   .get("https://127.0.0.1:1/");
  ASSERT_FALSE(colon);
  EXPECT_EQ(colon.error().code, Errc::invalid_argument);

  EXPECT_TRUE(may_send_credentials("https://tsa.example/"));
  EXPECT_TRUE(may_send_credentials("HTTPS://tsa.example/"));
  EXPECT_TRUE(may_send_credentials("http://127.0.0.1:8318/"));
  EXPECT_TRUE(may_send_credentials("http://127.1.2.3/"));
  EXPECT_TRUE(may_send_credentials("http://localhost:8318/"));
  EXPECT_TRUE(may_send_credentials("http://[::1]:8318/"));
  EXPECT_FALSE(may_send_credentials("http://tsa.example/"));
  EXPECT_FALSE(may_send_credentials("http://127.0.0.1.evil.example/"));
  EXPECT_FALSE(may_send_credentials("http://10.0.0.1/"));
  EXPECT_FALSE(may_send_credentials("ftp://127.0.0.1/"));
}

TEST(HttpClientCredentials, UserinfoInTheUrlIsRefusedAndRedacted) {
  Events ev;
  HttpOptions o;
  o.observer = ev.observer();
  const std::string url = "http://user:Hidden-99@127.0.0.1:" + std::to_string(closed_port()) + "/x";
  auto r = HttpClient(o).get(url);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_EQ(r.error().message.find("Hidden-99"), std::string::npos) << r.error().message;
  {
    std::lock_guard lock(ev.mu);
    ASSERT_EQ(ev.list.size(), 1u);
    EXPECT_EQ(ev.list[0].url.find("Hidden-99"), std::string::npos) << ev.list[0].url;
  }
  EXPECT_EQ(redact_url("https://u:p@host:1/path?q=a@b"), "https://***@host:1/path?q=a@b");
  EXPECT_EQ(redact_url("https://host/path@x"), "https://host/path@x");
  EXPECT_EQ(redact_url("http://127.0.0.1:80/"), "http://127.0.0.1:80/");
  EXPECT_EQ(redact_url("not a url"), "not a url");
}

/** An https server (the development TSA over TLS), optionally asking for client certificates. */
struct TlsFixture {
  std::filesystem::path dir = test::temp_dir("http-client-tls");
  tsa::testutil::TestCert server_ca = tsa::testutil::make_tls_ca("test server CA");
  tsa::testutil::TestCert server = tsa::testutil::issue_tls_cert(server_ca, "127.0.0.1", true);
  tsa::testutil::TestCert client_ca = tsa::testutil::make_tls_ca("test client CA");
  tsa::testutil::TestCert client = tsa::testutil::issue_tls_cert(client_ca, "client", false);
  std::string server_ca_file = tsa::testutil::write_cert_pem(dir / "server-ca.pem", server_ca.cert.get());
  std::string client_cert = tsa::testutil::write_cert_pem(dir / "client.pem", client.cert.get());
  std::string client_key = tsa::testutil::write_key_pem(dir / "client.key", client.key.get());
  tsa::testutil::DevTsaFixture fx;
  std::unique_ptr<tsa::TsaHttpServer> https;

  explicit TlsFixture(bool mutual) {
    tsa::TsaHttpServerOptions o;
    o.tls_cert = tsa::testutil::write_cert_pem(dir / "server.pem", server.cert.get());
    o.tls_key = tsa::testutil::write_key_pem(dir / "server.key", server.key.get());
    if (mutual) {
      o.tls_client_ca = tsa::testutil::write_cert_pem(dir / "client-ca.pem", client_ca.cert.get());
    }
    https = std::make_unique<tsa::TsaHttpServer>(*fx.tsa, "127.0.0.1", 0, o);
    https->start();
  }
};

TEST(HttpClientTls, CaFileDecidesWhichServersAreTrusted) {
  TlsFixture f(false);
  HttpOptions trusted;
  trusted.ca_file = f.server_ca_file;
  auto r = HttpClient(trusted).get(f.https->url());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 405);  // the TSA answers GET with 405: TLS worked

  auto system_cas = HttpClient().get(f.https->url());
  ASSERT_FALSE(system_cas);
  EXPECT_EQ(system_cas.error().code, Errc::network) << system_cas.error().message;

  HttpOptions other;
  other.ca_file = f.client_cert;  // a certificate file that is not the server's CA
  auto wrong_ca = HttpClient(other).get(f.https->url());
  ASSERT_FALSE(wrong_ca);
  EXPECT_EQ(wrong_ca.error().code, Errc::network) << wrong_ca.error().message;

  HttpOptions missing;
  missing.ca_file = (f.dir / "absent.pem").string();
  auto no_file = HttpClient(missing).get(f.https->url());
  ASSERT_FALSE(no_file);
  EXPECT_EQ(no_file.error().code, Errc::invalid_argument) << no_file.error().message;
}

TEST(HttpClientTls, ClientCertificateForMutualTls) {
  TlsFixture f(true);
  HttpOptions with_cert;
  with_cert.ca_file = f.server_ca_file;
  with_cert.client_cert = f.client_cert;
  with_cert.client_key = f.client_key;
  auto r = HttpClient(with_cert).get(f.https->url());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 405);

  HttpOptions without = with_cert;
  without.client_cert.clear();
  without.client_key.clear();
  auto refused = HttpClient(without).get(f.https->url());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::network) << refused.error().message;

  HttpOptions half = with_cert;
  half.client_key.clear();
  auto h = HttpClient(half).get(f.https->url());
  ASSERT_FALSE(h);
  EXPECT_EQ(h.error().code, Errc::invalid_argument);

  HttpOptions bad_key = with_cert;
  bad_key.client_key = f.server_ca_file;  // not a key
  auto k = HttpClient(bad_key).get(f.https->url());
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, Errc::invalid_argument) << k.error().message;
}

}  // namespace
}  // namespace hanko
