#pragma once
/**
 * @file database.h
 * The database layer on Poco::Data. The embedded SQLite file under the data
 * directory is the default; PostgreSQL (several instances sharing the work)
 * comes with the archive. Schema changes are numbered migrations recorded in
 * the table schema_migrations, applied in order at open.
 */
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "hanko/common/error.h"

namespace hanko::store {

class Database {
 public:
  /** Opens (creating if needed) the SQLite file and applies pending migrations. */
  static Result<std::unique_ptr<Database>> open_sqlite(const std::filesystem::path& file);
  ~Database();

  /** The schema version after migrations. */
  int schema_version() const;
  /** "sqlite" (later "postgresql"): for the dialect layer. */
  std::string dialect() const;

  /** Stores a small named value (used for service facts such as the dev PKI's creation). */
  Result<void> put_setting(const std::string& name, const std::string& value);
  Result<std::optional<std::string>> get_setting(const std::string& name);

 private:
  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::store
