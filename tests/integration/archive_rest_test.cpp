// The archive and augmentation through the REST service and the CLI, in the
// development defaults on 127.0.0.1 port 0: POST /v1/extend, POST /v1/archive,
// GET /v1/archive[/{id}[/report]], hanko extend, hanko archive renew --due.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <sys/wait.h>

#include "fixture.h"
#include "hanko/common/base64.h"
#include "hanko/common/json.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "archive_api.h"
#include "pg_server.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  std::string level;
  std::string location;
  std::string retry_after;
};

class ArchiveRest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    s_config = new server::ServiceConfig();
    s_config->listen_host = "127.0.0.1";
    s_config->listen_port = 0;
    s_config->data_dir = temp_dir("archive-rest-data");
    s_config->archive_keys = {{"archive.renewIntervalSeconds", "0"}};
    // The service runs on the system clock: B-LT needs the development CRLs, made at start, to be current.
    s_clock = new SystemClock();
    auto s = server::Service::create(*s_config, *s_clock);
    ASSERT_TRUE(s) << s.error().message;
    s_service = s->release();
  }

  void SetUp() override {
    http = std::make_unique<server::HttpServer>(*s_service, *s_config);
    auto started = http->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    if (http) http->stop();
  }

  Reply call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::string& content_type = "application/fhir+json") {
    Poco::Net::HTTPClientSession session("127.0.0.1", http->port());
    session.setTimeout(Poco::Timespan(120, 0));
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
    r.level = resp.get("X-Hanko-Level", "");
    r.location = resp.get("Location", "");
    r.retry_after = resp.get("Retry-After", "");
    Poco::StreamCopier::copyToString(in, r.body);
    return r;
  }

  /** A freshly signed B-T Bundle with its own identifier. */
  std::string signed_bundle(const std::string& identifier) {
    std::string text = read_text(data_file("bundles/simple-prescription.json"));
    auto v = json::parse(text);
    EXPECT_TRUE(v);
    std::string body = json::serialize(edit_json(*v, "1311234567-2026-00000001", identifier));
    auto r = call("POST", "/v1/sign", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.body;
  }

  static inline server::ServiceConfig* s_config = nullptr;
  static inline Clock* s_clock = nullptr;
  static inline server::Service* s_service = nullptr;
  std::unique_ptr<server::HttpServer> http;
};

TEST_F(ArchiveRest, ExtendRaisesTheLevelAndTheResultStillVerifies) {
  const std::string signed_text = signed_bundle("1311234567-2026-00000101");
  auto lt = call("POST", "/v1/extend?level=B-LT", signed_text);
  ASSERT_EQ(lt.status, 200) << lt.body;
  EXPECT_EQ(lt.level, "B-LT");
  EXPECT_EQ(lt.content_type, "application/fhir+json");
  auto lta = call("POST", "/v1/extend?level=B-LTA", lt.body);
  ASSERT_EQ(lta.status, 200) << lta.body;
  EXPECT_EQ(lta.level, "B-LTA");
  auto verified = call("POST", "/v1/verify", lta.body);
  ASSERT_EQ(verified.status, 200);
  EXPECT_NE(verified.body.find("TOTAL-PASSED"), std::string::npos) << verified.body.substr(0, 2000);
  // Only the unsigned part of the JWS changed: the protected header and the signature value are kept.
  auto sig_of = [](const std::string& bundle) {
    auto v = json::parse(bundle);
    return *v->find("signature")->find_string("data");
  };
  auto parts = [](const std::string& compact_or_json) {
    // Bundle.signature.data is base64 of the JWS (flattened JSON for B-T and above).
    auto decoded = base64_decode(compact_or_json);
    EXPECT_TRUE(decoded);
    auto jws = json::parse(std::string(decoded->begin(), decoded->end()));
    EXPECT_TRUE(jws);
    return std::make_pair(*jws->find_string("protected"), *jws->find_string("signature"));
  };
  EXPECT_EQ(parts(sig_of(signed_text)), parts(sig_of(lta.body)));
  EXPECT_NE(sig_of(signed_text), sig_of(lta.body));
}

TEST_F(ArchiveRest, ExtendRefusesABadLevelAndAnUnsignedBundle) {
  const std::string signed_text = signed_bundle("1311234567-2026-00000102");
  EXPECT_EQ(call("POST", "/v1/extend?level=B-X", signed_text).status, 400);
  auto unsigned_bundle = call("POST", "/v1/extend", read_text(data_file("bundles/simple-prescription.json")));
  EXPECT_GE(unsigned_bundle.status, 400);
  EXPECT_LT(unsigned_bundle.status, 500) << unsigned_bundle.body;
  EXPECT_EQ(call("POST", "/v1/extend", signed_text, "text/plain").status, 415);
}

TEST_F(ArchiveRest, ArchiveStoresOnlyValidDocumentsOnceAndReportsThem) {
  const std::string identifier = "1311234567-2026-00000103";
  const std::string signed_text = signed_bundle(identifier);
  auto first = call("POST", "/v1/archive", signed_text);
  ASSERT_EQ(first.status, 201) << first.body;
  auto item = json::parse(first.body);
  ASSERT_TRUE(item);
  const std::string id = *item->find_string("id");
  EXPECT_EQ(first.location, "/v1/archive/" + id);
  EXPECT_EQ(*item->find_string("status"), "ok");
  EXPECT_EQ(*item->find_string("documentType"), "57833-6");

  auto again = call("POST", "/v1/archive", signed_text);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(*json::parse(again.body)->find_string("id"), id);

  auto got = call("GET", "/v1/archive/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  auto doc = json::parse(got.body);
  ASSERT_TRUE(doc);
  EXPECT_GE(doc->find("versions")->as_array().size(), 2u);
  const auto& versions = doc->find("versions")->as_array();
  EXPECT_EQ(*versions.back().find_string("level"), "B-LTA");

  auto report = call("GET", "/v1/archive/" + id + "/report");
  ASSERT_EQ(report.status, 200);
  EXPECT_NE(report.body.find("TOTAL-PASSED"), std::string::npos);
  EXPECT_EQ(call("GET", "/v1/archive/" + id + "/report?at=yesterday").status, 400);

  auto found = call("GET", "/v1/archive?identifier=" + identifier);
  ASSERT_EQ(found.status, 200);
  EXPECT_EQ(json::parse(found.body)->find("total")->as_number().literal, "1");
  EXPECT_EQ(call("GET", "/v1/archive?status=sleepy").status, 400);
  EXPECT_EQ(call("GET", "/v1/archive/" + std::string(64, '0')).status, 404);

  // A changed document is not archived: 422 with the report.
  auto v = json::parse(signed_text);
  std::string changed = json::serialize(edit_json(*v, "東京 太郎", "東京 次郎"));
  auto refused = call("POST", "/v1/archive", changed);
  ASSERT_EQ(refused.status, 422) << refused.body;
  EXPECT_NE(refused.body.find("TOTAL-FAILED"), std::string::npos);

  // The archive shows in /metrics.
  auto metrics = call("GET", "/metrics");
  EXPECT_NE(metrics.body.find("hanko_archive_items{status=\"ok\"}"), std::string::npos);
}


TEST_F(ArchiveRest, CliExtendsAndRenewsDueItems) {
  const std::string signed_text = signed_bundle("1311234567-2026-00000104");
  const fs::path dir = temp_dir("archive-cli");
  write_text(dir / "signed.json", signed_text);
  auto ext = run_cli("extend --level B-LT --data '" + s_config->data_dir.string() + "' --out '" + (dir / "lt.json").string() +
                 "' '" + (dir / "signed.json").string() + "'");
  ASSERT_EQ(ext.code, 0) << ext.err;
  EXPECT_NE(ext.err.find("is B-LT"), std::string::npos) << ext.err;
  EXPECT_NE(read_text(dir / "lt.json"), signed_text);

  ASSERT_EQ(call("POST", "/v1/archive", signed_text).status, 201);
  auto now = run_cli("archive renew --due --data '" + s_config->data_dir.string() + "'");
  ASSERT_EQ(now.code, 0) << now.err;
  EXPECT_NE(now.out.find("0 renewed, 0 failed"), std::string::npos) << now.out;
  auto bad = run_cli("archive renew --due --as-of tomorrow --data '" + s_config->data_dir.string() + "'");
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find("--as-of"), std::string::npos);
  EXPECT_EQ(run_cli("archive renew").code, 3);
  auto missing = run_cli("extend --level B-LT --data '" + s_config->data_dir.string() + "' '" + (dir / "nope.json").string() + "'");
  EXPECT_EQ(missing.code, 3);
}

TEST(ArchiveOnPostgres, TwoServicesShareOnePostgresqlThroughStoreUrl) {
  HANKO_POSTGRES_OR_SKIP(pg, "service");
  SystemClock clock;
  auto make = [&](const std::string& tag) {
    server::ServiceConfig c;
    c.data_dir = temp_dir(tag);
    c.store_url = pg.url;
    return c;
  };
  auto a = server::Service::create(make("pg-service-a"), clock);
  ASSERT_TRUE(a) << a.error().message;
  bool says_postgres = false;
  for (const auto& line : (*a)->describe()) says_postgres = says_postgres || line.find("PostgreSQL") != std::string::npos;
  EXPECT_TRUE(says_postgres);
  auto b = server::Service::create(make("pg-service-b"), clock);
  ASSERT_TRUE(b) << b.error().message;

  // Archived through the first instance, found through the second.
  const std::string identifier = "1311234567-2026-00000201";
  auto bundle = json::parse(read_text(data_file("bundles/simple-prescription.json")));
  ASSERT_TRUE(bundle);
  auto signed_answer = (*a)->sign("application/fhir+json",
                                  json::serialize(edit_json(*bundle, "1311234567-2026-00000001", identifier)), "");
  ASSERT_EQ(signed_answer.status, 200) << signed_answer.body;
  auto api_a = server::ArchiveApi::create(**a);
  ASSERT_TRUE(api_a) << api_a.error().message;
  auto stored = (*api_a)->ingest(server::Caller::unauthenticated(), "application/fhir+json", signed_answer.body);
  ASSERT_EQ(stored.status, 201) << stored.body;
  auto api_b = server::ArchiveApi::create(**b);
  ASSERT_TRUE(api_b) << api_b.error().message;
  auto found = (*api_b)->find("identifier=" + identifier);
  ASSERT_EQ(found.status, 200);
  EXPECT_EQ(json::parse(found.body)->find("total")->as_number().literal, "1") << found.body;

  // A password never goes into the configuration file.
  auto bad = server::load_config("", {{"store.url", "postgresql://hanko:secret@127.0.0.1/db"}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("store.url"), std::string::npos);
  EXPECT_EQ(bad.error().message.find("secret"), std::string::npos);
}

}  // namespace
}  // namespace hanko::test
