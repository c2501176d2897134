// The database layer on both backends (SQLite file, PostgreSQL server):
// migrations, the revocation cache, the qualification registry, blobs, the
// transaction helper and the connection pool.
#include "hanko/store/database.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <atomic>
#include <latch>
#include <thread>

#include "store_fixture.h"

namespace hanko::store {
namespace {

using namespace Poco::Data::Keywords;
using testing::BackendTest;

class DatabaseTest : public BackendTest {};
HANKO_INSTANTIATE_FOR_BACKENDS(DatabaseTest);

std::int64_t count_rows(Database& db, const std::string& table) {
  Poco::Int64 n = -1;
  auto r = db.transaction([&](Session& s) -> Result<void> {
    s << "SELECT COUNT(*) FROM " + table, into(n), now;
    return {};
  });
  EXPECT_TRUE(r) << r.error().message;
  return n;
}

TEST_P(DatabaseTest, MigrationsApplyOnceAndSurviveReopen) {
  {
    auto db = open();
    ASSERT_TRUE(db);
    EXPECT_EQ(db->schema_version(), 5);
    EXPECT_EQ(db->dialect().backend(), GetParam());
    ASSERT_TRUE(db->put_setting("a", "1"));
  }
  auto db = open();
  ASSERT_TRUE(db);
  EXPECT_EQ(db->schema_version(), 5);
  EXPECT_EQ(count_rows(*db, "schema_migrations"), 5);
  auto v = db->get_setting("a");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->value_or(""), "1");
}

TEST_P(DatabaseTest, UpgradesADatabaseAtVersion3) {
  {
    auto db = open();
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->put_setting("kept", "yes"));
    // Back to what a build before signing sessions left behind.
    ASSERT_TRUE(db->transaction([](Session& s) -> Result<void> {
      s << "DROP TABLE signing_sessions", now;
      s << "DROP TABLE archive_events", now;
      s << "DROP TABLE archive_versions", now;
      s << "DROP TABLE archive_items", now;
      s << "DELETE FROM schema_migrations WHERE version >= 4", now;
      return {};
    }));
    EXPECT_EQ(count_rows(*db, "schema_migrations"), 3);
  }
  auto db = open();
  ASSERT_TRUE(db);
  EXPECT_EQ(db->schema_version(), 5);
  EXPECT_EQ(count_rows(*db, "schema_migrations"), 5);
  EXPECT_EQ(count_rows(*db, "signing_sessions"), 0);
  EXPECT_EQ(count_rows(*db, "archive_items"), 0);
  EXPECT_EQ(db->get_setting("kept")->value_or(""), "yes");
}

TEST_P(DatabaseTest, ConcurrentOpensMigrateOnce) {
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::atomic<int> opened{0};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      auto db = Database::open(target());
      if (db && (*db)->schema_version() == 5) {
        ++opened;
      } else {
        errors[static_cast<std::size_t>(i)] = db ? "wrong version" : db.error().message;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (const auto& e : errors) {
    EXPECT_EQ(e, "");
  }
  EXPECT_EQ(opened.load(), kThreads);
  auto db = open();
  ASSERT_TRUE(db);
  EXPECT_EQ(count_rows(*db, "schema_migrations"), 5);
}

TEST_P(DatabaseTest, RevocationCacheRoundTripAndReplace) {
  auto db = open();
  ASSERT_TRUE(db);
  auto none = db->get_revocation("crl|http://x/ca.crl");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());

  CachedRevocation c;
  c.key = "crl|http://x/ca.crl";
  c.kind = "crl";
  c.url = "http://x/ca.crl";
  c.der = {0x30, 0x00, 0xff, 0x00, 0x01};  // binary with NULs survives
  c.this_update = utc(2026, 1, 1);
  c.next_update = utc(2026, 1, 8);
  c.fetched_at = utc(2026, 1, 2);
  ASSERT_TRUE(db->put_revocation(c));
  auto got = db->get_revocation(c.key);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->der, c.der);
  EXPECT_EQ((*got)->kind, "crl");
  EXPECT_EQ((*got)->url, c.url);
  EXPECT_EQ((*got)->this_update, c.this_update);
  EXPECT_EQ((*got)->next_update, c.next_update);
  EXPECT_EQ((*got)->fetched_at, c.fetched_at);

  c.der = {0x30, 0x03, 0x02, 0x01, 0x07};
  c.next_update.reset();
  ASSERT_TRUE(db->put_revocation(c));
  got = db->get_revocation(c.key);
  ASSERT_TRUE(got && got->has_value());
  EXPECT_EQ((*got)->der, c.der);
  EXPECT_FALSE((*got)->next_update.has_value());
  auto n = db->revocation_count();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1u);
}

TEST_P(DatabaseTest, TimesBeyond2038AndBeforeTheEpochRoundTrip) {
  // PostgreSQL's INTEGER is 32 bits: the times are BIGINT there.
  auto db = open();
  ASSERT_TRUE(db);
  CachedRevocation c;
  c.key = "ocsp|aa|01";
  c.kind = "ocsp";
  c.url = "http://x/ocsp";
  c.der = {0x30, 0x00};
  c.this_update = utc(1960, 1, 1);
  c.next_update = utc(2200, 1, 1);  // TimePoint (ns in int64) ends in 2262
  c.fetched_at = utc(2100, 1, 1);
  ASSERT_TRUE(db->put_revocation(c));
  auto got = db->get_revocation(c.key);
  ASSERT_TRUE(got && got->has_value()) << (got ? "" : got.error().message);
  EXPECT_EQ((*got)->this_update, c.this_update);
  EXPECT_EQ((*got)->next_update, c.next_update);
  EXPECT_EQ((*got)->fetched_at, c.fetched_at);
}

TEST_P(DatabaseTest, BlobsWithZeroBytesEmptyAndOneMebibyteRoundTrip) {
  auto db = open();
  ASSERT_TRUE(db);
  Bytes large(1 << 20);
  for (std::size_t i = 0; i < large.size(); ++i) {
    large[i] = static_cast<std::uint8_t>((i * 131) ^ (i >> 8));  // every byte value, zeros included
  }
  const std::vector<Bytes> cases = {Bytes{}, Bytes{0x00}, Bytes{0x00, 0x00, 0x5c, 0x78, 0x00, 0x27}, large};
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CachedRevocation c;
    c.key = "k" + std::to_string(i);
    c.kind = "crl";
    c.url = "http://x";
    c.der = cases[i];
    c.this_update = utc(2026, 1, 1);
    c.fetched_at = utc(2026, 1, 1);
    ASSERT_TRUE(db->put_revocation(c)) << i;
    auto got = db->get_revocation(c.key);
    ASSERT_TRUE(got && got->has_value()) << i;
    EXPECT_EQ((*got)->der.size(), cases[i].size()) << i;
    EXPECT_TRUE((*got)->der == cases[i]) << i;
  }
}

TEST_P(DatabaseTest, AnEmptyBlobBoundAsIsIsNullWhichNotNullRefuses) {
  // The Poco trap blob_param() works around: an empty BLOB is bound as NULL.
  auto db = open();
  ASSERT_TRUE(db);
  const auto& d = db->dialect();
  ASSERT_TRUE(db->transaction([&](Session& s) -> Result<void> {
    s << "CREATE TABLE b (v " + std::string(d.blob_type()) + " NOT NULL)", now;
    return {};
  }));
  auto bare = db->transaction([&](Session& s) -> Result<void> {
    Poco::Data::BLOB empty;
    s << d.sql("INSERT INTO b (v) VALUES (?)"), use(empty), now;
    return {};
  });
  ASSERT_FALSE(bare);
  EXPECT_EQ(bare.error().code, Errc::io);
  auto wrapped = db->transaction([&](Session& s) -> Result<void> {
    Poco::Data::BLOB empty;
    s << d.sql("INSERT INTO b (v) VALUES (" + std::string(d.blob_param()) + ")"), use(empty), now;
    return {};
  });
  ASSERT_TRUE(wrapped) << wrapped.error().message;
  EXPECT_EQ(count_rows(*db, "b"), 1);
}

RegistryEntry jpki_entry() {
  RegistryEntry e;
  e.jpki_name = "山田 花子";
  e.jpki_birth_date = "419800101";
  e.role = "Medical Doctor";
  e.licence_number = "123456";
  e.valid_from = utc(2025, 1, 1);
  e.valid_to = utc(2030, 1, 1);
  e.note = "checked the licence certificate on 2025-01-01";
  return e;
}

TEST_P(DatabaseTest, RegistryAddFindListRemove) {
  auto db = open();
  ASSERT_TRUE(db);
  auto id = db->add_registry_entry(jpki_entry());
  ASSERT_TRUE(id) << id.error().message;
  RegistryEntry by_cert;
  by_cert.cert_sha256 = std::string(64, 'a');
  by_cert.role = "Dentist";
  by_cert.valid_from = utc(2025, 1, 1);
  by_cert.valid_to = utc(2026, 1, 1);
  auto id2 = db->add_registry_entry(by_cert);
  ASSERT_TRUE(id2);
  EXPECT_NE(*id, *id2);

  auto found = db->find_registry(std::string(64, 'b'), "山田 花子", "419800101");
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().id, *id);
  EXPECT_EQ(found->front().jpki_name, "山田 花子");
  EXPECT_EQ(found->front().role, "Medical Doctor");
  EXPECT_EQ(found->front().valid_to, utc(2030, 1, 1));

  found = db->find_registry(std::string(64, 'a'), "", "");
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().role, "Dentist");

  // Same name, other birth date: no match. Empty name never matches empty identity columns.
  found = db->find_registry("", "山田 花子", "419800102");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->empty());
  found = db->find_registry("", "", "");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->empty());

  auto all = db->list_registry();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 2u);
  auto removed = db->remove_registry_entry(*id);
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  removed = db->remove_registry_entry(*id);
  ASSERT_TRUE(removed);
  EXPECT_FALSE(*removed);
  all = db->list_registry();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
}

TEST_P(DatabaseTest, RegistryRefusesIncompleteEntries) {
  auto db = open();
  ASSERT_TRUE(db);
  RegistryEntry e = jpki_entry();
  e.role.clear();
  EXPECT_EQ(db->add_registry_entry(e).error().code, Errc::invalid_argument);
  e = jpki_entry();
  e.jpki_birth_date.clear();
  EXPECT_EQ(db->add_registry_entry(e).error().code, Errc::invalid_argument);
  e = jpki_entry();
  e.valid_to = e.valid_from;
  EXPECT_EQ(db->add_registry_entry(e).error().code, Errc::invalid_argument);
  EXPECT_TRUE(db->add_registry_entry(jpki_entry()));
}

TEST_P(DatabaseTest, TransactionCommitsOnSuccessAndRollsBackOnErrorOrException) {
  auto db = open();
  ASSERT_TRUE(db);
  const auto& d = db->dialect();
  ASSERT_TRUE(db->transaction([&](Session& s) -> Result<void> {
    s << "CREATE TABLE t (n " + std::string(d.int64_type()) + " NOT NULL)", now;
    return {};
  }));
  auto insert = [&](Session& s, Poco::Int64 n) { s << d.sql("INSERT INTO t (n) VALUES (?)"), use(n), now; };

  ASSERT_TRUE(db->transaction([&](Session& s) -> Result<void> {
    insert(s, 1);
    insert(s, 2);
    return {};
  }));
  EXPECT_EQ(count_rows(*db, "t"), 2);

  auto refused = db->transaction([&](Session& s) -> Result<void> {
    insert(s, 3);
    return fail(Errc::policy, "changed my mind");
  });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::policy);
  EXPECT_EQ(refused.error().message, "changed my mind");
  EXPECT_EQ(count_rows(*db, "t"), 2);

  auto broken = db->transaction([&](Session& s) -> Result<void> {
    insert(s, 4);
    s << "INSERT INTO no_such_table VALUES (1)", now;
    return {};
  });
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, Errc::io);
  EXPECT_NE(broken.error().message.find("no_such_table"), std::string::npos) << broken.error().message;
  EXPECT_EQ(count_rows(*db, "t"), 2);

  auto thrown = db->transaction([&](Session& s) -> Result<void> {
    insert(s, 5);
    throw std::runtime_error("bug");
  });
  ASSERT_FALSE(thrown);
  EXPECT_EQ(thrown.error().code, Errc::internal);
  EXPECT_EQ(count_rows(*db, "t"), 2);

  // The connection is usable after each of those.
  ASSERT_TRUE(db->put_setting("after", "ok"));
  EXPECT_EQ(db->get_setting("after")->value_or(""), "ok");
}

TEST_P(DatabaseTest, MoreCallersThanConnectionsWaitForOne) {
  // Poco's SessionPool throws when exhausted; the store's pool waits.
  OpenOptions o;
  o.max_connections = 2;
  auto db = open(o);
  ASSERT_TRUE(db);
  constexpr int kThreads = 8;
  std::latch start(kThreads);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int j = 0; j < 10; ++j) {
        if (db->put_setting("s" + std::to_string(i), std::to_string(j)) && db->get_setting("s" + std::to_string(i))) {
          ++ok;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(ok.load(), kThreads * 10);
  EXPECT_EQ(count_rows(*db, "settings"), kThreads);
}

TEST(DatabaseSqlite, UnopenablePathIsAnIoError) {
  auto db = Database::open_sqlite("/nonexistent-folder/x/hanko.db");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::io);
  EXPECT_NE(db.error().message.find("/nonexistent-folder/x/hanko.db"), std::string::npos);
  auto same = Database::open("/nonexistent-folder/x/hanko.db");
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, Errc::io);
}

TEST(DatabaseSqlite, AnEmptyTargetIsRefused) {
  // SQLite would open a temporary database for "", and keep nothing.
  auto db = Database::open("");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::invalid_argument);
}

TEST(DatabaseSqlite, UsesWalJournal) {
  auto file = test::temp_dir("sqlite-wal") / "hanko.db";
  auto db = Database::open(file.string());
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ((*db)->dialect().backend(), Backend::sqlite);
  std::string mode;
  ASSERT_TRUE((*db)->transaction([&](Session& s) -> Result<void> {
    s << "PRAGMA journal_mode", into(mode), now;
    return {};
  }));
  EXPECT_EQ(mode, "wal");
}

}  // namespace
}  // namespace hanko::store
