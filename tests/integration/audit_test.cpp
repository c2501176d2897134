// The audit trail end to end: requests to the real REST service on 127.0.0.1
// port 0 each leave one AuditEvent line, and `hanko audit verify` checks the
// chain with exit codes 0 (intact), 1 (broken) and 3 (unusable file).
#include <sys/wait.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <fstream>

#include "audit.h"
#include "fixture.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;

std::vector<json::Value> records_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<json::Value> out;
  std::string line;
  while (std::getline(in, line)) {
    auto v = json::parse(line);
    EXPECT_TRUE(v) << line;
    if (v) {
      out.push_back(std::move(*v));
    }
  }
  return out;
}

std::string operation(const json::Value& ev) { return *ev.find("subtype")->as_array().at(0).find_string("code"); }
std::string outcome(const json::Value& ev) { return *ev.find_string("outcome"); }
std::string client_ip(const json::Value& ev) {
  return *ev.find("agent")->as_array().at(0).find("network")->find_string("address");
}
std::string document_id(const json::Value& ev) {
  const json::Value* entity = ev.find("entity");
  if (entity == nullptr) {
    return "";
  }
  return *entity->as_array().at(0).find("what")->find("identifier")->find_string("value");
}
std::string document_sha256(const json::Value& ev) {
  return *ev.find("entity")->as_array().at(0).find("detail")->as_array().at(0).find_string("valueString");
}

class RestAudit : public ::testing::Test {
 protected:
  void SetUp() override {
    config.listen_host = "127.0.0.1";
    config.listen_port = 0;
    config.data_dir = temp_dir("audit-rest");
    config.audit_fsync = false;
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
  std::pair<int, std::string> call(const std::string& method, const std::string& path, const std::string& body = "",
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
    std::string out;
    Poco::StreamCopier::copyToString(in, out);
    return {resp.getStatus(), out};
  }
  fs::path log() const { return config.data_dir / "audit.jsonl"; }

  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  std::unique_ptr<server::Service> service;
  std::unique_ptr<server::HttpServer> http;
  std::string bundle = read_text(data_file("bundles/simple-prescription.json"));
};

TEST_F(RestAudit, SignAndVerifyEachLeaveOneRecord) {
  const std::string id = *json::parse(bundle)->find("identifier")->find_string("value");
  auto [s1, signed_body] = call("POST", "/v1/sign?level=B-B", bundle);
  ASSERT_EQ(s1, 200) << signed_body;
  auto after_sign = records_of(log());
  ASSERT_EQ(after_sign.size(), 1u);
  clock.advance(std::chrono::seconds(60));
  auto [s2, report] = call("POST", "/v1/verify", signed_body);
  ASSERT_EQ(s2, 200) << report;
  auto recs = records_of(log());
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(operation(recs[0]), "sign");
  EXPECT_EQ(operation(recs[1]), "verify");
  for (const auto& r : recs) {
    EXPECT_EQ(outcome(r), "0");
    EXPECT_EQ(client_ip(r), "127.0.0.1");
    EXPECT_EQ(document_id(r), id);
    EXPECT_EQ(document_sha256(r).size(), 64u);
    EXPECT_EQ(*r.find("agent")->as_array().at(0).find("who")->find("identifier")->find_string("value"), "anonymous");
    EXPECT_EQ(*r.find("source")->find("observer")->find_string("display"), "hanko");
  }
  // The same document: the same canonical digest when signing and verifying.
  EXPECT_EQ(document_sha256(recs[0]), document_sha256(recs[1]));
  // The time is the service's clock.
  EXPECT_EQ(*recs[0].find_string("recorded"), format_rfc3339(sign_time(), true));
  EXPECT_EQ(*recs[1].find_string("recorded"), format_rfc3339(sign_time() + std::chrono::seconds(60), true));
  auto v = server::verify_audit_file(log());
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok) << v->reason;
}

TEST_F(RestAudit, AWrongContentTypeIsAMinorFailure) {
  auto [status, body] = call("POST", "/v1/sign", bundle, "text/plain");
  ASSERT_EQ(status, 415) << body;
  auto recs = records_of(log());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(operation(recs[0]), "sign");
  EXPECT_EQ(outcome(recs[0]), "4");
  EXPECT_NE(recs[0].find_string("outcomeDesc")->find("415"), std::string::npos);
  EXPECT_EQ(client_ip(recs[0]), "127.0.0.1");
  EXPECT_EQ(recs[0].find("entity"), nullptr);
}

TEST_F(RestAudit, HealthChecksAreNotAuditedByDefaultButUnknownPathsAre) {
  EXPECT_EQ(call("GET", "/healthz").first, 200);
  EXPECT_TRUE(records_of(log()).empty());
  EXPECT_EQ(call("GET", "/nope").first, 404);
  auto recs = records_of(log());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(operation(recs[0]), "unknown");
  EXPECT_EQ(outcome(recs[0]), "4");
}

TEST(RestAuditConfig, HealthChecksAreAuditedWhenConfiguredAndTheChainContinuesAfterARestart) {
  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  config.listen_host = "127.0.0.1";
  config.listen_port = 0;
  config.data_dir = temp_dir("audit-rest-healthz");
  config.audit_file = config.data_dir / "logs" / "trail.jsonl";
  config.audit_source_id = "hospital-a";
  config.audit_healthz = true;
  auto service = server::Service::create(config, clock);
  ASSERT_TRUE(service) << service.error().message;
  for (int round = 0; round < 2; ++round) {
    server::HttpServer http(**service, config);
    ASSERT_TRUE(http.start());
    Poco::Net::HTTPClientSession session("127.0.0.1", http.port());
    Poco::Net::HTTPRequest req("GET", "/healthz", Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(req);
    Poco::Net::HTTPResponse resp;
    std::string ignored;
    Poco::StreamCopier::copyToString(session.receiveResponse(resp), ignored);
    EXPECT_EQ(resp.getStatus(), 200);
    http.stop();
  }
  auto recs = records_of(config.audit_file);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(operation(recs[1]), "healthz");
  EXPECT_EQ(*recs[1].find("source")->find("observer")->find_string("display"), "hospital-a");
  auto v = server::verify_audit_file(config.audit_file);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok) << v->reason;
  EXPECT_EQ(v->records, 2u);
}

TEST(RestAuditConfig, ATornAuditLogStopsTheServerFromStarting) {
  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  config.listen_host = "127.0.0.1";
  config.listen_port = 0;
  config.data_dir = temp_dir("audit-rest-torn");
  write_text(config.data_dir / "audit.jsonl", R"({"resourceType":"AuditEvent")");
  auto service = server::Service::create(config, clock);
  ASSERT_TRUE(service) << service.error().message;
  server::HttpServer http(**service, config);
  auto started = http.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("torn"), std::string::npos) << started.error().message;
}

// --- hanko audit verify --------------------------------------------------------


fs::path cli_log(int n) {
  fs::path p = temp_dir("audit-cli") / "audit.jsonl";
  auto log = server::AuditLog::open({p, "hanko", false});
  EXPECT_TRUE(log);
  for (int i = 0; i < n; ++i) {
    server::AuditRecord r;
    r.when = sign_time() + std::chrono::seconds(i);
    r.operation = "sign";
    r.source_ip = "127.0.0.1";
    r.http_status = 200;
    r.document_identifier = "doc-" + std::to_string(i);
    EXPECT_TRUE((*log)->append(r));
  }
  return p;
}

TEST(AuditCli, AnIntactChainExitsZero) {
  CliRun r = run_cli("audit verify '" + cli_log(3).string() + "'");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "3 records, chain intact");
}

TEST(AuditCli, ABrokenChainExitsOneAndNamesTheLine) {
  fs::path p = cli_log(3);
  std::string text = read_text(p);
  auto pos = text.find("doc-0");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 5, "doc-9");
  write_text(p, text);
  CliRun r = run_cli("audit verify '" + p.string() + "'");
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(r.out.rfind("line 2: chain broken", 0), 0u) << r.out;
}

TEST(AuditCli, AnUnusableFileExitsThree) {
  EXPECT_EQ(run_cli("audit verify '" + (temp_dir("audit-cli-missing") / "none.jsonl").string() + "'").code, 3);
  EXPECT_EQ(run_cli("audit verify '" + temp_dir("audit-cli-dir").string() + "'").code, 3);
  EXPECT_EQ(run_cli("audit verify").code, 3);
  EXPECT_EQ(run_cli("audit check x").code, 3);
}

}  // namespace
}  // namespace hanko::test
