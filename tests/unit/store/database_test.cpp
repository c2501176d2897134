// The database layer on its embedded SQLite file: migrations, the revocation
// cache and the qualification registry.
#include "hanko/store/database.h"

#include <gtest/gtest.h>

#include "test_support.h"

namespace hanko::store {
namespace {

std::unique_ptr<Database> open_fresh(std::string_view tag) {
  auto dir = test::temp_dir(tag);
  auto db = Database::open_sqlite(dir / "hanko.db");
  EXPECT_TRUE(db.has_value()) << (db ? "" : db.error().message);
  return std::move(*db);
}

TEST(Database, MigrationsApplyOnceAndSurviveReopen) {
  auto dir = test::temp_dir("db-reopen");
  {
    auto db = Database::open_sqlite(dir / "hanko.db");
    ASSERT_TRUE(db);
    EXPECT_EQ((*db)->schema_version(), 3);
    ASSERT_TRUE((*db)->put_setting("a", "1"));
  }
  auto db = Database::open_sqlite(dir / "hanko.db");
  ASSERT_TRUE(db);
  EXPECT_EQ((*db)->schema_version(), 3);
  auto v = (*db)->get_setting("a");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->value_or(""), "1");
}

TEST(Database, UnopenablePathIsAnIoError) {
  auto db = Database::open_sqlite("/nonexistent-folder/x/hanko.db");
  ASSERT_FALSE(db);
  EXPECT_EQ(db.error().code, Errc::io);
  EXPECT_NE(db.error().message.find("/nonexistent-folder/x/hanko.db"), std::string::npos);
}

TEST(Database, RevocationCacheRoundTripAndReplace) {
  auto db = open_fresh("db-rev");
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

TEST(Database, RegistryAddFindListRemove) {
  auto db = open_fresh("db-reg");
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
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
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

TEST(Database, RegistryRefusesIncompleteEntries) {
  auto db = open_fresh("db-reg-bad");
  RegistryEntry e = jpki_entry();
  e.role.clear();
  EXPECT_EQ(db->add_registry_entry(e).error().code, Errc::invalid_argument);
  e = jpki_entry();
  e.jpki_birth_date.clear();
  EXPECT_EQ(db->add_registry_entry(e).error().code, Errc::invalid_argument);
  e = jpki_entry();
  e.valid_to = e.valid_from;
  EXPECT_EQ(db->add_registry_entry(e).error().code, Errc::invalid_argument);
}

}  // namespace
}  // namespace hanko::store
