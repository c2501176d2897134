#pragma once
// A test fixture run once per backend: an SQLite file in a fresh folder, and a
// fresh database in the test program's PostgreSQL cluster (tests/support/pg_server.h).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "hanko/store/database.h"
#include "pg_server.h"
#include "test_support.h"

namespace hanko::store::testing {

inline std::string current_test_tag() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string tag = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& c : tag) {
    if (c == '/') {
      c = '-';
    }
  }
  return tag;
}

class BackendTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    if (GetParam() == Backend::postgresql) {
      HANKO_POSTGRES_OR_SKIP(pg, current_test_tag());
      m_pg = pg;
      m_target = pg.url;
    } else {
      m_target = (test::temp_dir(current_test_tag()) / "hanko.db").string();
    }
  }

  /** The store.url of this test's database. */
  const std::string& target() const { return m_target; }
  bool postgres() const { return GetParam() == Backend::postgresql; }

  /** Opens the test's database; a failed open fails the test (and returns null). */
  std::unique_ptr<Database> open(const OpenOptions& options = {}) const {
    auto db = Database::open(m_target, options);
    EXPECT_TRUE(db.has_value()) << (db ? "" : db.error().message);
    return db ? std::move(*db) : nullptr;
  }

  test::PgDatabase m_pg;
  std::string m_target;
};

inline std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return std::string(Dialect(info.param).name());
}

}  // namespace hanko::store::testing

#define HANKO_INSTANTIATE_FOR_BACKENDS(Suite)                                                                 \
  INSTANTIATE_TEST_SUITE_P(Backends, Suite,                                                                    \
                           ::testing::Values(::hanko::store::Backend::sqlite, ::hanko::store::Backend::postgresql), \
                           ::hanko::store::testing::backend_name)
