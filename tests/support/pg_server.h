#pragma once
/**
 * A throwaway PostgreSQL cluster for a test program: started on first use
 * from the installed server binaries (Debian: /usr/lib/postgresql/<v>/bin,
 * or HANKO_PG_BINDIR) in a temporary folder under /tmp, listening on
 * 127.0.0.1 on a free port with trust authentication for the user "hanko",
 * and stopped (pg_ctl stop -m immediate) when the program exits. As root,
 * initdb and pg_ctl run as the postgres user (runuser), since they refuse
 * root. Each test gets a fresh database of its own.
 *
 * A cluster left behind by a test program that crashed is stopped and
 * removed by the next one (its folder names the owner's pid).
 */
#include <string>
#include <string_view>

#include "hanko/common/error.h"

namespace hanko::test {

/** A fresh, empty database in the test cluster. */
struct PgDatabase {
  std::string name;      ///< the database name
  std::string url;       ///< postgresql://hanko@127.0.0.1:PORT/NAME
  std::string keywords;  ///< host=127.0.0.1 port=PORT dbname=NAME user=hanko
  int port = 0;
};

/**
 * Why PostgreSQL tests cannot run here (no server binaries; as root, no
 * runuser or postgres user), or empty. Always empty when the environment
 * variable HANKO_REQUIRE_POSTGRES is set: then a missing PostgreSQL makes the
 * tests fail instead of being skipped (for CI).
 */
std::string postgres_missing();

/**
 * Creates a new database (CREATE DATABASE with a unique name containing `tag`)
 * in the cluster, starting the cluster on first use. Errc::io with initdb's or
 * the server's log when the cluster cannot be started.
 */
Result<PgDatabase> fresh_postgres_database(std::string_view tag);

/** Runs one SQL statement on database `dbname` of the cluster (libpq, autocommit); for test set-up. */
Result<void> postgres_exec(std::string_view dbname, std::string_view sql);

}  // namespace hanko::test

/**
 * In a test (or SetUp): skips when PostgreSQL is not installed, else declares
 * `const PgDatabase var`, a fresh database, failing the test if none can be made.
 */
#define HANKO_POSTGRES_OR_SKIP(var, tag)                                   \
  if (const auto var##_why = ::hanko::test::postgres_missing();          \
      !var##_why.empty()) {                                                \
    GTEST_SKIP() << "PostgreSQL not available: " << var##_why;            \
  }                                                                        \
  auto var##_made = ::hanko::test::fresh_postgres_database(tag);           \
  ASSERT_TRUE(var##_made) << var##_made.error().message;                   \
  const ::hanko::test::PgDatabase var = *var##_made
