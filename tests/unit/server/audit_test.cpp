// The audit trail: the AuditEvent of a record, the hash chain across reopen
// and concurrent appends, and verify_audit_file on every kind of tampering.
#include <gtest/gtest.h>

#include <barrier>
#include <fstream>
#include <sstream>
#include <thread>

#include "audit.h"
#include "hanko/common/bytes.h"
#include "hanko/common/digest.h"
#include "hanko/server/config.h"
#include "test_support.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;
using server::AuditLog;
using server::AuditOptions;
using server::AuditRecord;
using server::verify_audit_file;

AuditRecord record(int i) {
  AuditRecord r;
  r.when = utc(2026, 1, 16, 9, 30, i % 60);
  r.operation = i % 2 == 0 ? "sign" : "verify";
  r.action = "E";
  r.outcome = 0;
  r.outcome_desc = "HTTP 200 OK";
  r.source_ip = "192.0.2.7";
  r.document_identifier = "urn:uuid:doc-" + std::to_string(i);
  r.document_sha256 = hex(sha256("doc " + std::to_string(i)));
  r.patient_reference = "Patient/p" + std::to_string(i);
  r.signer = "CN=Doctor, serial 0A";
  r.http_status = 200;
  return r;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    out.push_back(line);
  }
  return out;
}

void write_lines(const fs::path& p, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& l : lines) {
    text += l + "\n";
  }
  write_text(p, text);
}

/** A log with `n` records. */
fs::path make_log(std::string_view tag, int n) {
  fs::path p = temp_dir(tag) / "audit.jsonl";
  auto log = AuditLog::open({p, "hanko-test", false});
  EXPECT_TRUE(log) << log.error().message;
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE((*log)->append(record(i)));
  }
  return p;
}

TEST(AuditEvent, HasTheFhirElementsAndTheChainExtensionFirst) {
  auto ev = server::audit_event(record(0), "hanko", server::kAuditGenesis);
  EXPECT_EQ(*ev.find_string("resourceType"), "AuditEvent");
  const auto& ext = ev.find("extension")->as_array();
  EXPECT_EQ(*ext.at(0).find_string("url"), server::kAuditChainUrl);
  EXPECT_EQ(*ext.at(0).find_string("valueString"), server::kAuditGenesis);
  EXPECT_EQ(*ev.find("type")->find_string("code"), "rest");
  EXPECT_EQ(*ev.find("subtype")->as_array().at(0).find_string("code"), "sign");
  EXPECT_EQ(*ev.find_string("action"), "E");
  EXPECT_EQ(*ev.find_string("recorded"), "2026-01-16T09:30:00.000Z");
  EXPECT_EQ(*ev.find_string("outcome"), "0");
  const auto& client = ev.find("agent")->as_array().at(0);
  EXPECT_EQ(*client.find("who")->find("identifier")->find_string("value"), "anonymous");
  EXPECT_EQ(*client.find("network")->find_string("address"), "192.0.2.7");
  EXPECT_EQ(*client.find("network")->find_string("type"), "2");
  EXPECT_EQ(*ev.find("source")->find("observer")->find_string("display"), "hanko");
  const auto& entities = ev.find("entity")->as_array();
  ASSERT_EQ(entities.size(), 3u);
  EXPECT_EQ(*entities[0].find("what")->find("identifier")->find_string("value"), "urn:uuid:doc-0");
  EXPECT_EQ(*entities[0].find("detail")->as_array().at(0).find_string("valueString"), hex(sha256("doc 0")));
  EXPECT_EQ(*entities[1].find("what")->find_string("reference"), "Patient/p0");
  EXPECT_EQ(*entities[2].find("what")->find_string("display"), "CN=Doctor, serial 0A");
  // A known client and no document: no entity, the client id as who.
  AuditRecord bare;
  bare.when = utc(2026, 1, 16);
  bare.operation = "healthz";
  bare.client_id = "pharmacy-1";
  auto e2 = server::audit_event(bare, "hanko", server::kAuditGenesis);
  EXPECT_EQ(e2.find("entity"), nullptr);
  EXPECT_EQ(*e2.find("agent")->as_array().at(0).find("who")->find("identifier")->find_string("value"), "pharmacy-1");
}

TEST(AuditEvent, OutcomeFollowsTheHttpStatus) {
  EXPECT_EQ(server::audit_outcome_for_status(200), 0);
  EXPECT_EQ(server::audit_outcome_for_status(415), 4);
  EXPECT_EQ(server::audit_outcome_for_status(422), 4);
  EXPECT_EQ(server::audit_outcome_for_status(503), 8);
}

TEST(AuditLog, FirstRecordLinksToGenesisAndEachLineToTheOneBefore) {
  fs::path p = make_log("audit-chain", 3);
  auto lines = lines_of(p);
  ASSERT_EQ(lines.size(), 3u);
  auto first = json::parse(lines[0]);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first->find("extension")->as_array().at(0).find_string("valueString"), server::kAuditGenesis);
  EXPECT_EQ(server::kAuditGenesis, hex(sha256(std::string_view(""))));
  auto second = json::parse(lines[1]);
  EXPECT_EQ(*second->find("extension")->as_array().at(0).find_string("valueString"), hex(sha256(lines[0])));
  // Compact, one object per line, '\n' terminated.
  EXPECT_EQ(read_text(p).back(), '\n');
  EXPECT_EQ(lines[0].find(": "), std::string::npos);
}

TEST(AuditLog, ChainContinuesAcrossReopen) {
  fs::path p = make_log("audit-reopen", 2);
  {
    auto log = AuditLog::open({p, "hanko", true});
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_EQ((*log)->head(), hex(sha256(lines_of(p).back())));
    ASSERT_TRUE((*log)->append(record(2)));
  }
  auto v = verify_audit_file(p);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok) << v->line << ": " << v->reason;
  EXPECT_EQ(v->records, 3u);
  EXPECT_EQ(v->head, hex(sha256(lines_of(p).back())));
}

TEST(AuditLog, ATornLastLineIsAnErrorAtOpen) {
  fs::path p = make_log("audit-torn-open", 2);
  std::string text = read_text(p);
  write_text(p, text.substr(0, text.size() - 10));
  auto log = AuditLog::open({p, "hanko", false});
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().message.find("torn"), std::string::npos) << log.error().message;
}

TEST(AuditLog, ALastLineThatIsNotJsonIsAnErrorAtOpen) {
  fs::path p = temp_dir("audit-junk-open") / "audit.jsonl";
  write_text(p, "not json\n");
  EXPECT_FALSE(AuditLog::open({p, "hanko", false}));
}

TEST(AuditLog, ASecondWriterOnTheSameFileIsRefused) {
  fs::path p = temp_dir("audit-lock") / "audit.jsonl";
  auto first = AuditLog::open({p, "hanko", false});
  ASSERT_TRUE(first);
  auto second = AuditLog::open({p, "hanko", false});
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("locked"), std::string::npos);
}

TEST(AuditLog, EightThreadsAppendingConcurrentlyKeepTheChainIntact) {
  fs::path p = temp_dir("audit-threads") / "audit.jsonl";
  auto log = AuditLog::open({p, "hanko", false});
  ASSERT_TRUE(log);
  constexpr int kThreads = 8;
  constexpr int kEach = 50;
  std::barrier start(kThreads);
  std::atomic<int> failures{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < kEach; ++i) {
          if (!(*log)->append(record(t * kEach + i))) {
            ++failures;
          }
        }
      });
    }
  }
  EXPECT_EQ(failures.load(), 0);
  auto v = verify_audit_file(p);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok) << v->line << ": " << v->reason;
  EXPECT_EQ(v->records, static_cast<std::size_t>(kThreads * kEach));
}

// --- verify_audit_file: one passing case, then every kind of tampering. -------

TEST(AuditVerify, AnIntactLogPasses) {
  auto v = verify_audit_file(make_log("audit-ok", 5));
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok);
  EXPECT_EQ(v->records, 5u);
}

TEST(AuditVerify, AnEmptyFileIsIntact) {
  fs::path p = temp_dir("audit-empty") / "audit.jsonl";
  write_text(p, "");
  auto v = verify_audit_file(p);
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->ok);
  EXPECT_EQ(v->records, 0u);
  EXPECT_EQ(v->head, server::kAuditGenesis);
}

TEST(AuditVerify, AMissingFileIsAnError) {
  EXPECT_FALSE(verify_audit_file(temp_dir("audit-missing") / "nope.jsonl"));
}

struct Tampered {
  const char* name;
  std::function<void(std::vector<std::string>&)> change;
  std::size_t line;
  const char* reason;
};

class AuditTamper : public ::testing::TestWithParam<Tampered> {};

TEST_P(AuditTamper, IsReportedAtTheRightLine) {
  const auto& t = GetParam();
  fs::path p = make_log(std::string("audit-tamper-") + t.name, 5);
  auto lines = lines_of(p);
  t.change(lines);
  write_lines(p, lines);
  auto v = verify_audit_file(p);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->line, t.line) << v->reason;
  EXPECT_NE(v->reason.find(t.reason), std::string::npos) << v->reason;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AuditTamper,
    ::testing::Values(
        // Line 2 changed: its own link still holds, line 3's breaks.
        Tampered{"changed", [](auto& l) { replace_all(l[1], "192.0.2.7", "192.0.2.8"); }, 3, "SHA-256 of line 2"},
        // Line 3 removed: the new line 3 (was 4) does not link to line 2.
        Tampered{"removed", [](auto& l) { l.erase(l.begin() + 2); }, 3, "chain broken"},
        // The first line removed: line 1 does not link to the genesis value.
        Tampered{"removed-first", [](auto& l) { l.erase(l.begin()); }, 1, "genesis"},
        // A copy of line 1 inserted as line 3.
        Tampered{"inserted", [](auto& l) { l.insert(l.begin() + 2, l[0]); }, 3, "chain broken"},
        // Lines 2 and 3 swapped.
        Tampered{"swapped", [](auto& l) { std::swap(l[1], l[2]); }, 2, "chain broken"},
        // Not JSON at line 4.
        Tampered{"not-json", [](auto& l) { l[3] = "hello"; }, 4, "not JSON"},
        // JSON but not an AuditEvent, and an AuditEvent without the link.
        Tampered{"not-auditevent", [](auto& l) { l[1] = R"({"resourceType":"Patient"})"; }, 2, "not an AuditEvent"},
        Tampered{"no-link", [](auto& l) { l[4] = R"({"resourceType":"AuditEvent"})"; }, 5, "no audit-chain extension"},
        Tampered{"empty-line", [](auto& l) { l.insert(l.begin() + 1, ""); }, 2, "empty line"}),
    [](const auto& info) {
      std::string n = info.param.name;
      replace_all(n, "-", "_");
      return n;
    });

TEST(AuditVerify, ATruncatedLastLineIsReportedAtItsLine) {
  fs::path p = make_log("audit-truncated", 4);
  std::string text = read_text(p);
  write_text(p, text.substr(0, text.size() - 7));
  auto v = verify_audit_file(p);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->line, 4u);
  EXPECT_NE(v->reason.find("torn"), std::string::npos) << v->reason;
}

TEST(AuditVerify, ALineOverOneMebibyteIsRejectedWithoutReadingItAll) {
  fs::path p = make_log("audit-long", 1);
  {
    std::ofstream out(p, std::ios::binary | std::ios::app);
    out << std::string(server::kAuditMaxLine + 10, 'x') << "\n";
  }
  auto v = verify_audit_file(p);
  ASSERT_TRUE(v);
  EXPECT_FALSE(v->ok);
  EXPECT_EQ(v->line, 2u);
  EXPECT_NE(v->reason.find("1 MiB"), std::string::npos);
}

// --- configuration -----------------------------------------------------------

TEST(AuditConfig, DefaultsAndKeys) {
  auto d = server::load_config("", {});
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_TRUE(d->audit_file.empty());  // <data.dir>/audit.jsonl
  EXPECT_EQ(d->audit_source_id, "hanko");
  EXPECT_TRUE(d->audit_fsync);
  EXPECT_FALSE(d->audit_healthz);
  auto c = server::load_config("", {{"audit.file", "/tmp/a.jsonl"},
                                    {"audit.sourceId", "hospital-a"},
                                    {"audit.fsync", "false"},
                                    {"audit.healthz", "true"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->audit_file, fs::path("/tmp/a.jsonl"));
  EXPECT_EQ(c->audit_source_id, "hospital-a");
  EXPECT_FALSE(c->audit_fsync);
  EXPECT_TRUE(c->audit_healthz);
}

TEST(AuditConfig, BadValuesAreRefused) {
  auto b = server::load_config("", {{"audit.fsync", "sometimes"}});
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("audit.fsync"), std::string::npos);
  EXPECT_FALSE(server::load_config("", {{"audit.sourceId", ""}}));
  EXPECT_FALSE(server::load_config("", {{"audit.unknown", "x"}}));
}

}  // namespace
}  // namespace hanko::test
