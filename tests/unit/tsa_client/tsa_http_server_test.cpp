#include "hanko/tsa_client/tsa_http_server.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "hanko/common/http_client.h"
#include "hanko/tsa_client/token.h"
#include "test_support.h"
#include "tsa_test_util.h"

namespace hanko::tsa {
namespace {

using namespace testutil;

const std::string kData = "a FHIR document";
constexpr std::string_view kQuery = "application/timestamp-query";

class TsaHttpServerTest : public ::testing::Test {
 protected:
  DevTsaFixture fx;
  TsaHttpServer server{*fx.tsa, "127.0.0.1", 0};
  void SetUp() override { server.start(); }
};

TEST_F(TsaHttpServerTest, UrlAndPort) {
  EXPECT_NE(server.port(), 0);
  EXPECT_EQ(server.url(), "http://127.0.0.1:" + std::to_string(server.port()) + "/");
}

TEST_F(TsaHttpServerTest, HttpTsaClientGetsAVerifiableToken) {
  HttpTsaClient client(server.url());
  EXPECT_EQ(client.describe(), server.url());
  auto token = client.timestamp(as_bytes(kData));
  ASSERT_TRUE(token) << token.error().message;
  auto v = verify_token(*token, as_bytes(kData), dev_trust(), test::sign_time());
  ASSERT_EQ(v.status, TokenStatus::ok) << v.message;
  EXPECT_EQ(v.info->gen_time, test::sign_time());

  auto with_policy = HttpTsaClient(server.url(), {}, "2.999.3161.1").timestamp(as_bytes(kData), DigestAlg::sha512);
  EXPECT_TRUE(with_policy) << with_policy.error().message;
  auto refused = HttpTsaClient(server.url(), {}, "1.2.3.4").timestamp(as_bytes(kData));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::remote_rejected);
  EXPECT_NE(refused.error().message.find("unacceptedPolicy"), std::string::npos) << refused.error().message;
}

TEST_F(TsaHttpServerTest, MalformedRequestGetsRejectionAndServerStaysUp) {
  HttpClient http;
  auto r = http.post(server.url(), kQuery, "this is not a TimeStampReq");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "application/timestamp-reply");
  EXPECT_EQ(response_status(as_bytes(r->body)), 2);
  EXPECT_TRUE(response_fail_bit(as_bytes(r->body), TS_INFO_BAD_DATA_FORMAT));

  auto empty = http.post(server.url(), kQuery, "");
  ASSERT_TRUE(empty) << empty.error().message;
  EXPECT_EQ(response_status(as_bytes(empty->body)), 2);

  auto token = HttpTsaClient(server.url()).timestamp(as_bytes(kData));
  EXPECT_TRUE(token) << token.error().message;
}

TEST_F(TsaHttpServerTest, WrongContentTypeIs415) {
  const std::string req = to_string(make_request(as_bytes(kData), DigestAlg::sha256, 1, true));
  auto r = HttpClient().post(server.url(), "application/octet-stream", req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 415);
  // Parameters and case do not matter.
  auto ok = HttpClient().post(server.url(), "Application/TimeStamp-Query; charset=binary", req);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(response_status(as_bytes(ok->body)), 0);
}

TEST_F(TsaHttpServerTest, GetIs405) {
  auto r = HttpClient().get(server.url());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 405);
}

TEST_F(TsaHttpServerTest, OversizedBodyIs413) {
  const std::string big(TsaHttpServer::max_body_bytes + 1, '\x30');
  auto r = HttpClient().post(server.url(), kQuery, big);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 413);
  const std::string limit(TsaHttpServer::max_body_bytes, '\x30');
  auto at_limit = HttpClient().post(server.url(), kQuery, limit);
  ASSERT_TRUE(at_limit) << at_limit.error().message;
  EXPECT_EQ(at_limit->status, 200);  // read in full; a rejection, since it is not a request
  EXPECT_EQ(response_status(as_bytes(at_limit->body)), 2);
}

TEST_F(TsaHttpServerTest, ResponseSizeLimitIsRemoteRejected) {
  HttpOptions tiny;
  tiny.max_response_bytes = 100;
  auto r = HttpTsaClient(server.url(), tiny).timestamp(as_bytes(kData));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::remote_rejected) << r.error().message;
}

TEST_F(TsaHttpServerTest, StopIsIdempotentAndClosesThePort) {
  const std::string url = server.url();
  server.stop();
  server.stop();
  auto r = HttpTsaClient(url).timestamp(as_bytes(kData));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network) << r.error().message;
}

TEST(TsaHttpClient, UnreachableTsaIsNetworkErrorFast) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  auto start = std::chrono::steady_clock::now();
  auto r = HttpTsaClient(url).timestamp(as_bytes(kData));
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
  EXPECT_NE(r.error().message.find(url), std::string::npos) << r.error().message;
  EXPECT_LT(elapsed, std::chrono::seconds(3));
}

TEST(TsaHttpClient, NonTsaAnswersAreRemoteRejected) {
  LambdaServer wrong_status([](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setStatus(Poco::Net::HTTPResponse::HTTP_SERVICE_UNAVAILABLE);
    resp.send();
  });
  auto r = HttpTsaClient(wrong_status.url()).timestamp(as_bytes(kData));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::remote_rejected);
  EXPECT_NE(r.error().message.find("503"), std::string::npos) << r.error().message;

  LambdaServer wrong_type([](Poco::Net::HTTPServerRequest&, Poco::Net::HTTPServerResponse& resp) {
    resp.setContentType("text/html");
    resp.sendBuffer("<html></html>", 13);
  });
  auto t = HttpTsaClient(wrong_type.url()).timestamp(as_bytes(kData));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::remote_rejected);
  EXPECT_NE(t.error().message.find("text/html"), std::string::npos) << t.error().message;
}


TEST(TsaHttpServerAuth, BasicAuthRequiredWhenConfigured) {
  DevTsaFixture fx;
  TsaHttpServerOptions o;
  o.basic_user = "clinic";
  o.basic_password = "pw-Secret";
  TsaHttpServer server(*fx.tsa, "127.0.0.1", 0, o);
  server.start();
  const std::string req = to_string(make_request(as_bytes(kData), DigestAlg::sha256, 7, true));

  auto none = HttpClient().post(server.url(), kQuery, req);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->status, 401);

  HttpOptions wrong;
  wrong.user = "clinic";
  wrong.password = "pw-secret";
  auto w = HttpClient(wrong).post(server.url(), kQuery, req);
  ASSERT_TRUE(w) << w.error().message;
  EXPECT_EQ(w->status, 401);

  HttpOptions other_user = wrong;
  other_user.user = "clinik";
  other_user.password = "pw-Secret";
  auto u = HttpClient(other_user).post(server.url(), kQuery, req);
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->status, 401);

  HttpOptions right = wrong;
  right.password = "pw-Secret";
  auto r = HttpClient(right).post(server.url(), kQuery, req);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(response_status(as_bytes(r->body)), 0);
  EXPECT_EQ(server.request_count(), 4u);

  // Through HttpTsaClient: a 401 is a refusal, with the status in the message.
  auto t = HttpTsaClient(server.url()).timestamp(as_bytes(kData));
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().code, Errc::remote_rejected);
  EXPECT_NE(t.error().message.find("401"), std::string::npos) << t.error().message;
  EXPECT_TRUE(HttpTsaClient(server.url(), right).timestamp(as_bytes(kData)));
}

TEST_F(TsaHttpServerTest, InjectedFaults) {
  const std::string req = to_string(make_request(as_bytes(kData), DigestAlg::sha256, 7, true));
  server.set_fault(TsaFault::http_500);
  auto five = HttpClient().post(server.url(), kQuery, req);
  ASSERT_TRUE(five);
  EXPECT_EQ(five->status, 500);

  server.set_fault(TsaFault::garbage);
  auto garbage = HttpClient().post(server.url(), kQuery, req);
  ASSERT_TRUE(garbage);
  EXPECT_EQ(garbage->status, 200);
  EXPECT_EQ(garbage->content_type, "application/timestamp-reply");
  EXPECT_EQ(response_status(as_bytes(garbage->body)), -1);

  server.set_fault(TsaFault::rejection);
  auto rej = HttpClient().post(server.url(), kQuery, req);
  ASSERT_TRUE(rej);
  EXPECT_EQ(response_status(as_bytes(rej->body)), 2);
  EXPECT_TRUE(response_fail_bit(as_bytes(rej->body), TS_INFO_SYSTEM_FAILURE));

  server.set_fault(TsaFault::none);
  auto ok = HttpClient().post(server.url(), kQuery, req);
  ASSERT_TRUE(ok);
  EXPECT_EQ(response_status(as_bytes(ok->body)), 0);
  EXPECT_EQ(server.request_count(), 4u);
}

TEST_F(TsaHttpServerTest, HeldRequestTimesOutTheClientAndGoesOnWhenReleased) {
  server.set_fault(TsaFault::hold);
  HttpOptions quick;
  quick.total_timeout = std::chrono::milliseconds(300);
  auto timed_out = HttpTsaClient(server.url(), quick).timestamp(as_bytes(kData));
  ASSERT_FALSE(timed_out);
  EXPECT_TRUE(is_timeout(timed_out.error())) << timed_out.error().message;

  // A patient client waits on the latch until it is opened.
  Result<Bytes> patient = fail(Errc::internal, "not run");
  std::thread t([&] { patient = HttpTsaClient(server.url()).timestamp(as_bytes(kData)); });
  while (server.held_count() < 2) {  // the timed-out request and the patient one
    std::this_thread::yield();
  }
  server.release_held();
  t.join();
  ASSERT_TRUE(patient) << patient.error().message;
  EXPECT_EQ(server.held_count(), 0u);
  EXPECT_EQ(server.request_count(), 2u);
}

TEST_F(TsaHttpServerTest, StopReleasesHeldRequests) {
  server.set_fault(TsaFault::hold);
  Result<Bytes> held = fail(Errc::internal, "not run");
  std::thread t([&] { held = HttpTsaClient(server.url()).timestamp(as_bytes(kData)); });
  while (server.held_count() < 1) {
    std::this_thread::yield();
  }
  server.stop();  // returns: the latch is opened first
  t.join();
  EXPECT_EQ(server.held_count(), 0u);
}

}  // namespace
}  // namespace hanko::tsa
