#include "hanko/common/http_client.h"

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ostream>

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
