// The REST service on 127.0.0.1 port 0 in its development defaults: a real
// HTTP round trip, and every error an OperationOutcome with the right status.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include "fixture.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/common/ossl.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "report_schema.h"

namespace hanko::test {
namespace {

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string retry_after;
};

class Rest : public ::testing::Test {
 protected:
  void SetUp() override {
    config.listen_host = "127.0.0.1";
    config.listen_port = 0;
    config.data_dir = temp_dir("rest-data");
    config.max_body_bytes = 256u << 10;
    auto s = server::Service::create(config, clock);
    ASSERT_TRUE(s) << s.error().message;
    service = std::move(*s);
    http = std::make_unique<server::HttpServer>(*service, config);
    ASSERT_TRUE(http->start());
  }
  void TearDown() override {
    if (http) {
      http->stop();
    }
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& content_type = "application/fhir+json") {
    Poco::Net::HTTPClientSession session("127.0.0.1", http->port());
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (method == "POST") {
      req.setContentType(content_type);
      req.setContentLength(static_cast<std::streamsize>(body.size()));
      session.sendRequest(req) << body;
    } else {
      session.sendRequest(req);
    }
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    Reply r;
    r.status = resp.getStatus();
    r.content_type = resp.getContentType();
    r.retry_after = resp.get("Retry-After", "");
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
  }

  static void expect_outcome(const Reply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.content_type, "application/fhir+json");
    auto v = json::parse(r.body);
    ASSERT_TRUE(v) << r.body;
    EXPECT_EQ(*v->find_string("resourceType"), "OperationOutcome");
    const auto& issue = v->find("issue")->as_array().front();
    EXPECT_EQ(*issue.find_string("severity"), "error");
    EXPECT_FALSE(issue.find_string("diagnostics")->empty());
  }

  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  std::unique_ptr<server::Service> service;
  std::unique_ptr<server::HttpServer> http;
  std::string bundle = read_text(data_file("bundles/simple-prescription.json"));
};

TEST_F(Rest, SignThenVerifyRoundTrip) {
  for (const char* level : {"B-B", "B-T"}) {
    auto s = call("POST", std::string("/v1/sign?level=") + level, bundle);
    ASSERT_EQ(s.status, 200) << s.body;
    EXPECT_EQ(s.content_type, "application/fhir+json");
    auto signed_b = json::parse(s.body);
    ASSERT_TRUE(signed_b);
    EXPECT_TRUE(signed_b->find("signature"));
    clock.advance(std::chrono::seconds(60));
    auto v = call("POST", "/v1/verify", s.body);
    ASSERT_EQ(v.status, 200) << v.body;
    EXPECT_EQ(v.content_type, "application/json");
    auto report = json::parse(v.body);
    ASSERT_TRUE(report);
    expect_valid_report(*report);
    EXPECT_EQ(*report->find_string("indication"), "TOTAL-PASSED") << v.body;
    const auto& sig = report->find("signatures")->as_array().front();
    EXPECT_EQ(*sig.find_string("format"), std::string("JAdES-BASELINE-") + (level[2] == 'B' ? "B" : "T"));
    EXPECT_EQ(*sig.find("signer")->find_string("role"), "Medical Doctor");
  }
}

TEST_F(Rest, VerifyAtAChosenTime) {
  auto s = call("POST", "/v1/sign?level=B-B", bundle);
  ASSERT_EQ(s.status, 200);
  auto v = call("POST", "/v1/verify?at=2020-01-01T00:00:00Z", s.body);
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(*json::parse(v.body)->find_string("indication"), "INDETERMINATE");
  expect_outcome(call("POST", "/v1/verify?at=soon", s.body), 400);
}

TEST_F(Rest, ChangedBundleIsReportedFailedWith200) {
  auto s = call("POST", "/v1/sign?level=B-B", bundle);
  ASSERT_EQ(s.status, 200);
  std::string changed = s.body;
  changed.replace(changed.find("東京 太郎"), std::string("東京 太郎").size(), "大阪 花子");
  auto v = call("POST", "/v1/verify", changed);
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(*json::parse(v.body)->find_string("indication"), "TOTAL-FAILED");
}

TEST_F(Rest, ErrorsAreOperationOutcomes) {
  expect_outcome(call("POST", "/v1/sign", "{not json"), 400);
  expect_outcome(call("POST", "/v1/sign", bundle, "text/plain"), 415);
  expect_outcome(call("POST", "/v1/verify", bundle, "text/xml"), 415);
  expect_outcome(call("POST", "/v1/verify", bundle, "application/xml"), 400);  // JSON sent as XML
  expect_outcome(call("POST", "/v1/sign", std::string(300u << 10, ' ')), 413);
  std::string collection = bundle;
  collection.replace(collection.find("\"document\""), 10, "\"collection\"");
  expect_outcome(call("POST", "/v1/sign", collection), 422);
  expect_outcome(call("POST", "/v1/verify", bundle), 422);  // nothing to verify
  expect_outcome(call("POST", "/v1/sign", "{\"resourceType\":\"Patient\"}"), 422);
  expect_outcome(call("POST", "/v1/sign?level=B-Z", bundle), 400);
  expect_outcome(call("GET", "/v1/sign"), 405);
  expect_outcome(call("GET", "/v1/nothing"), 404);
  auto once = call("POST", "/v1/sign?level=B-B", bundle);
  ASSERT_EQ(once.status, 200);
  expect_outcome(call("POST", "/v1/sign?level=B-B", once.body), 409);
  EXPECT_EQ(call("POST", "/v1/sign?level=B-B&replace=true", once.body).status, 200);
}

TEST_F(Rest, Healthz) {
  auto r = call("GET", "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(*json::parse(r.body)->find_string("status"), "ok");
}

TEST_F(Rest, DevPkiIsMadeOnceAndReused) {
  EXPECT_TRUE(std::filesystem::exists(config.data_dir / "dev-pki" / "manifest.json"));
  EXPECT_TRUE(std::filesystem::exists(config.data_dir / "hanko.db"));
  auto again = server::Service::create(config, clock);
  ASSERT_TRUE(again) << again.error().message;
  bool reused = false;
  for (const auto& line : (*again)->describe()) {
    reused = reused || line.find("using the development PKI") != std::string::npos;
  }
  EXPECT_TRUE(reused);
}

TEST(RestTsaDown, UnreachableTsaIs503WithRetryAfter) {
  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  config.listen_port = 0;
  config.data_dir = temp_dir("rest-tsa-down");
  config.tsa_url = "http://127.0.0.1:1/";  // nothing listens on port 1
  config.tsa_timeout_ms = 2000;
  auto s = server::Service::create(config, clock);
  ASSERT_TRUE(s) << s.error().message;
  auto r = (*s)->sign("application/fhir+json", read_text(data_file("bundles/simple-prescription.json")), "level=B-T");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("127.0.0.1:1"), std::string::npos) << "names the TSA";
  bool retry = false;
  for (const auto& [k, v] : r.headers) {
    retry = retry || k == "Retry-After";
  }
  EXPECT_TRUE(retry);
}

TEST_F(Rest, XmlIsSignedAsXmlAndVerifiedToAJsonReport) {
  std::string xml = read_text(data_file("bundles/simple-prescription.xml"));
  auto s = call("POST", "/v1/sign?level=B-T", xml, "application/fhir+xml");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(s.content_type, "application/fhir+xml");
  EXPECT_NE(s.body.find("application/signature+xml"), std::string::npos);
  auto v = call("POST", "/v1/verify", s.body, "application/fhir+xml");
  ASSERT_EQ(v.status, 200) << v.body;
  EXPECT_EQ(v.content_type, "application/json");
  auto report = json::parse(v.body);
  ASSERT_TRUE(report) << v.body;
  EXPECT_EQ(*report->find_string("indication"), "TOTAL-PASSED") << v.body;
  EXPECT_EQ(*report->find("signatures")->as_array()[0].find_string("format"), "XAdES-BASELINE-T");
  expect_valid_report(*report);
  // Not XML, or XML with a DTD: 400; XML that is not a document: 422; nothing to verify: 422.
  expect_outcome(call("POST", "/v1/verify", "<!DOCTYPE b [<!ENTITY x 'y'>]><b/>", "application/fhir+xml"), 400);
  expect_outcome(call("POST", "/v1/sign", "<Patient xmlns=\"http://hl7.org/fhir\"/>", "application/fhir+xml"), 422);
  expect_outcome(call("POST", "/v1/verify", xml, "application/fhir+xml"), 422);
}

TEST_F(Rest, ContentTypeIsCaseInsensitiveAndABusyPortIsAnError) {
  auto r = call("POST", "/v1/sign?level=B-B", bundle, "Application/FHIR+JSON; charset=UTF-8");
  EXPECT_EQ(r.status, 200) << r.body;
  server::ServiceConfig same = config;
  same.listen_port = http->port();
  server::HttpServer second(*service, same);
  auto started = second.start();
  ASSERT_FALSE(started) << "a second server on a busy port must not share it";
  EXPECT_NE(started.error().message.find(std::to_string(http->port())), std::string::npos) << started.error().message;
}

TEST(RestDevMode, RestartAfterTheCrlsExpiredReissuesThemAndStillSigns) {
  // A development data directory used again 40 days later: the CRLs made with
  // the PKI (valid 30 days) are re-issued at start-up, so signing still works.
  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  config.listen_port = 0;
  config.data_dir = temp_dir("rest-dev-later");
  config.default_level = "B-B";
  {
    auto first = server::Service::create(config, clock);
    ASSERT_TRUE(first) << first.error().message;
  }
  clock.set(sign_time() + std::chrono::days(40));
  auto later = server::Service::create(config, clock);
  ASSERT_TRUE(later) << later.error().message;
  bool said = false;
  for (const auto& line : (*later)->describe()) {
    said = said || line.find("re-issued the development CRLs") != std::string::npos;
  }
  EXPECT_TRUE(said);
  std::string body = read_text(data_file("bundles/simple-prescription.json"));
  auto r = (*later)->sign("application/fhir+json", body, "");
  ASSERT_EQ(r.status, 200) << r.body;
  auto v = (*later)->verify("application/fhir+json", r.body, "");
  EXPECT_NE(v.body.find("TOTAL-PASSED"), std::string::npos) << v.body;
  // The dev "revoked" signer is still listed, with its original revocation time.
  auto pki = certstore::load_dev_pki(config.data_dir / "dev-pki");
  ASSERT_TRUE(pki);
  auto crls = ossl::x509_crls_from_pem(read_text(pki->crl));
  ASSERT_EQ(crls.size(), 1u);
  ASSERT_NE(X509_CRL_get_REVOKED(crls.front().get()), nullptr);
  EXPECT_EQ(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crls.front().get())), 1);
  auto again = server::Service::create(config, clock);
  ASSERT_TRUE(again);
  for (const auto& line : (*again)->describe()) {
    EXPECT_EQ(line.find("re-issued"), std::string::npos) << "fresh CRLs are left alone";
  }
}

TEST(RestSignerGuard, SignerWithoutTheRoleIsRefusedWith422NamingTheRule) {
  // A service configured with the dev pharmacist key: a prescription is refused.
  FixedClock clock{sign_time()};
  const auto& p = dev_pki().get("pharmacist");
  server::ServiceConfig config;
  config.listen_port = 0;
  config.data_dir = temp_dir("rest-guard");
  config.signer_cert = p.cert.string();
  config.signer_key = p.key.string();
  config.signer_chain = p.chain.string();
  config.trust_dir = dev_pki().trust_dir;
  config.default_level = "B-B";
  auto s = server::Service::create(config, clock);
  ASSERT_TRUE(s) << s.error().message;
  auto r = (*s)->sign("application/fhir+json", read_text(data_file("bundles/simple-prescription.json")), "");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_NE(r.body.find("business-rule"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("qualification"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("Pharmacist"), std::string::npos) << r.body;
  // A non-prescription document (another Composition.type) may be signed by a pharmacist.
  std::string other = read_text(data_file("bundles/simple-prescription.json"));
  auto pos = other.find("57833-6");
  ASSERT_NE(pos, std::string::npos);
  other.replace(pos, 7, "18842-5");
  auto ok = (*s)->sign("application/fhir+json", other, "");
  EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST(RestConfig, PolicyRevocationAndHttpKeysAreReadAndChecked) {
  auto dir = temp_dir("rest-config-policy");
  write_text(dir / "hanko.properties",
             "revocation.order = crl-only\nrevocation.fetch = false\nhttp.timeoutMs = 3000\n"
             "policy.rules = prescription,any-document\n"
             "policy.rule.prescription.docType = http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes|57833-6\n"
             "policy.rule.prescription.roles = Medical Doctor\n"
             "policy.rule.any-document.docType = *\npolicy.rule.any-document.roles = *\n"
             "crypto.RSA.minBits = 3072\n");
  auto c = server::load_config((dir / "hanko.properties").string(), {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->revocation_order, "crl-only");
  EXPECT_FALSE(c->revocation_fetch);
  EXPECT_EQ(c->http_timeout_ms, 3000);
  EXPECT_EQ(c->policy_keys.at("policy.rule.prescription.roles"), "Medical Doctor");
  EXPECT_EQ(c->crypto_keys.at("crypto.RSA.minBits"), "3072");
  write_text(dir / "bad-order.properties", "revocation.order = soft-fail\n");
  auto bad = server::load_config((dir / "bad-order.properties").string(), {});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("revocation.order"), std::string::npos) << bad.error().message;
  write_text(dir / "bad-policy.properties", "policy.rule.prescription.roles =\n");
  auto badp = server::load_config((dir / "bad-policy.properties").string(), {});
  ASSERT_FALSE(badp);
  EXPECT_NE(badp.error().message.find("policy.rule.prescription.roles"), std::string::npos) << badp.error().message;
}

TEST(RestConfig, BadConfigurationNamesTheKeyAndFile) {
  auto dir = temp_dir("rest-config");
  write_text(dir / "hanko.properties", "server.listen = 127.0.0.1:8080\nsigning.level = B-Q\n");
  auto c = server::load_config((dir / "hanko.properties").string(), {});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("signing.level"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("hanko.properties"), std::string::npos) << c.error().message;
  write_text(dir / "typo.properties", "server.lisen = 127.0.0.1:8080\n");
  auto t = server::load_config((dir / "typo.properties").string(), {});
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("server.lisen"), std::string::npos) << t.error().message;
  auto ok = server::load_config("", {{"server.listen", "127.0.0.1:9999"}});
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->listen_port, 9999);
  EXPECT_TRUE(ok->dev);
}

}  // namespace
}  // namespace hanko::test
