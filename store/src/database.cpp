#include "hanko/store/database.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>

#include <mutex>
#include <optional>
#include <vector>

namespace hanko::store {

using namespace Poco::Data::Keywords;

namespace {
/** Numbered migrations; never edit one that has shipped, add a new one. */
const std::vector<std::string>& migrations() {
  static const std::vector<std::string> m = {
      // 1: service settings
      "CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
  };
  return m;
}
}  // namespace

struct Database::Impl {
  std::mutex mu;
  std::unique_ptr<Poco::Data::Session> session;
  int version = 0;
};

Database::Database(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::open_sqlite(const std::filesystem::path& file) {
  static std::once_flag once;
  std::call_once(once, [] { Poco::Data::SQLite::Connector::registerConnector(); });
  auto impl = std::make_unique<Impl>();
  try {
    impl->session = std::make_unique<Poco::Data::Session>("SQLite", file.string());
    auto& s = *impl->session;
    s << "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        now;
    int current = 0;
    s << "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", into(current), now;
    const auto& m = migrations();
    for (int v = current + 1; v <= static_cast<int>(m.size()); ++v) {
      s.begin();
      s << m[static_cast<std::size_t>(v - 1)], now;
      s << "INSERT INTO schema_migrations (version) VALUES (?)", use(v), now;
      s.commit();
    }
    impl->version = static_cast<int>(m.size());
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot open the database " + file.string() + ": " + e.displayText());
  }
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

int Database::schema_version() const { return m_impl->version; }
std::string Database::dialect() const { return "sqlite"; }

Result<void> Database::put_setting(const std::string& name, const std::string& value) {
  std::lock_guard lock(m_impl->mu);
  try {
    std::string n = name;
    std::string v = value;
    *m_impl->session << "INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        use(n), use(v), now;
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot store setting " + name + ": " + e.displayText());
  }
  return {};
}

Result<std::optional<std::string>> Database::get_setting(const std::string& name) {
  std::lock_guard lock(m_impl->mu);
  try {
    std::string n = name;
    std::vector<std::string> values;
    *m_impl->session << "SELECT value FROM settings WHERE name = ?", use(n), into(values), now;
    if (values.empty()) {
      return std::optional<std::string>{};
    }
    return std::optional<std::string>{values.front()};
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot read setting " + name + ": " + e.displayText());
  }
}

}  // namespace hanko::store
