// Crash safety: a renewer killed with SIGKILL (in a fork()ed child, from a
// fault-injection hook) at each step leaves every item as it was or fully
// renewed; a later renew_due, once the lease has expired, completes it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "archive_fixture.h"
#include "hanko/common/digest.h"

namespace hanko::archive::testing {
namespace {

using namespace std::chrono;


class CrashAt : public ArchiveTest {};

void check_consistent(Archive& archive, const std::string& id, TimePoint at) {
  auto got = archive.get(id, at);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(static_cast<int>(got->versions.size()), got->item.current_version + 1)
      << "one stored version per version number, none half-written";
  for (const auto& v : got->versions) {
    auto doc = archive.version_document(id, v.version);
    ASSERT_TRUE(doc);
    EXPECT_EQ(hex(sha256(*doc)), v.sha256) << "version " << v.version;
  }
  auto rep = archive.report(id, at);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->indication, verifier::Indication::total_passed) << verifier::to_text(*rep);
}

TEST_P(CrashAt, EveryStep) {
  new_tsa(t0 - days(30), t0 + 2 * kYear);
  auto key = signing_key(t0 - days(1), t0 + kYear);
  const std::string doc = sign_json(*key, t0);
  // Twenty years of retention, so that every renewal leaves another one due.
  ArchiveConfig base;
  base.retention.rules = {{"57833-6", 20}};
  auto archive = make_archive(*db, base);
  at(t0 + hours(1));
  int n = 0;
  for (const std::string point : {"renew.in_transaction", "renew.committed", "renew.claimed", "renew.extended",
                                  "renew.verified"}) {
    SCOPED_TRACE(point);
    // A fresh item for each point (the earlier ones are renewed far into the future).
    at(t0 + hours(1));
    tsa.use(tsas.front().get());
    auto in = archive->ingest(n == 0 ? doc : sign_json(*key, t0 + seconds(n), n + 1), "", "client", t0 + hours(1));
    ++n;
    ASSERT_TRUE(in) << in.error().error.message;
    const std::string id = in->item.id;
    TimePoint due = *in->item.next_renewal;
    new_tsa(due - days(1), due + 2 * kYear);
    int expected_version = 1;
    at(due);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // The child: its own connection, a hook that kills it at `point`.
      auto cdb = store::Database::open(target);
      if (!cdb) {
        _exit(3);
      }
      ArchiveConfig config = base;
      config.fault_hook = [point](std::string_view p, const std::string&) {
        if (p == point) {
          raise(SIGKILL);
        }
      };
      Archive child(**cdb, services(), config);
      auto s = child.renew_due(due, 100);
      fprintf(stderr, "child not killed: claimed %zu renewed %zu %s\n", s.claimed, s.renewed,
              s.errors.empty() ? "" : s.errors.front().c_str());
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status << " exit " << WEXITSTATUS(status);

    auto fresh = open_db();
    auto check = make_archive(*fresh, base);
    check_consistent(*check, id, due);
    auto it = check->get(id, due)->item;
    if (std::string(point) == "renew.committed") {
      EXPECT_EQ(it.current_version, expected_version + 1) << "fully renewed";
      EXPECT_FALSE(it.lease_owner);
      ++expected_version;
    } else {
      EXPECT_EQ(it.current_version, expected_version) << "as it was";
      EXPECT_TRUE(it.lease_owner) << "still leased by the dead renewer";
      // Another renewer passes over it while the lease lasts, then completes it.
      EXPECT_EQ(check->renew_due(due, 100).claimed, 0u);
      const TimePoint later = due + check->config().schedule.lease;
      at(later);
      auto s = check->renew_due(later, 100);
      EXPECT_EQ(s.renewed, 1u) << (s.errors.empty() ? "" : s.errors.front());
      ++expected_version;
      check_consistent(*check, id, later);
    }
    it = check->get(id, due)->item;
    EXPECT_EQ(it.current_version, expected_version);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashAt, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         backend_name);

}  // namespace
}  // namespace hanko::archive::testing
