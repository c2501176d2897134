#include "hanko/store/database.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Data/LOB.h>
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>
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
      // 2: revocation cache (CRLs and OCSP responses as fetched; times are Unix seconds)
      "CREATE TABLE IF NOT EXISTS revocation_cache (key TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL, "
      "der BLOB NOT NULL, this_update INTEGER NOT NULL, next_update INTEGER, fetched_at INTEGER NOT NULL)",
      // 3: qualification registry (JPKI and other role-less signers)
      "CREATE TABLE IF NOT EXISTS qualification_registry (id INTEGER PRIMARY KEY AUTOINCREMENT, "
      "cert_sha256 TEXT NOT NULL, jpki_name TEXT NOT NULL, jpki_birth_date TEXT NOT NULL, role TEXT NOT NULL, "
      "licence_number TEXT NOT NULL, valid_from INTEGER NOT NULL, valid_to INTEGER NOT NULL, note TEXT NOT NULL)",
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
  // Poco's SQLite connector retries a failed open for its login timeout
  // (60 s): a folder that does not exist is reported at once instead.
  std::error_code ec;
  const auto parent = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(parent, ec)) {
    return fail(Errc::io, "cannot open the database " + file.string() + ": the folder " + parent.string() +
                              " does not exist");
  }
  auto impl = std::make_unique<Impl>();
  try {
    impl->session = std::make_unique<Poco::Data::Session>("SQLite", file.string(), 5);
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

namespace {
using RegistryRow = Poco::Tuple<Poco::Int64, std::string, std::string, std::string, std::string, std::string, Poco::Int64,
                                Poco::Int64, std::string>;

RegistryEntry from_row(const RegistryRow& r) {
  RegistryEntry e;
  e.id = r.get<0>();
  e.cert_sha256 = r.get<1>();
  e.jpki_name = r.get<2>();
  e.jpki_birth_date = r.get<3>();
  e.role = r.get<4>();
  e.licence_number = r.get<5>();
  e.valid_from = from_unix(r.get<6>());
  e.valid_to = from_unix(r.get<7>());
  e.note = r.get<8>();
  return e;
}

constexpr const char* kRegistryColumns =
    "id, cert_sha256, jpki_name, jpki_birth_date, role, licence_number, valid_from, valid_to, note";
}  // namespace

Result<void> Database::put_revocation(const CachedRevocation& entry) {
  std::lock_guard lock(m_impl->mu);
  try {
    std::string key = entry.key;
    std::string kind = entry.kind;
    std::string url = entry.url;
    Poco::Data::BLOB der(entry.der.data(), entry.der.size());
    Poco::Int64 this_update = to_unix(entry.this_update);
    Poco::Nullable<Poco::Int64> next_update;
    if (entry.next_update) {
      next_update = to_unix(*entry.next_update);
    }
    Poco::Int64 fetched_at = to_unix(entry.fetched_at);
    *m_impl->session << "INSERT INTO revocation_cache (key, kind, url, der, this_update, next_update, fetched_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET kind = excluded.kind, "
                        "url = excluded.url, der = excluded.der, this_update = excluded.this_update, "
                        "next_update = excluded.next_update, fetched_at = excluded.fetched_at",
        use(key), use(kind), use(url), use(der), use(this_update), use(next_update), use(fetched_at), now;
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot cache revocation data " + entry.key + ": " + e.displayText());
  }
  return {};
}

Result<std::optional<CachedRevocation>> Database::get_revocation(const std::string& key) {
  std::lock_guard lock(m_impl->mu);
  try {
    std::string k = key;
    std::vector<Poco::Tuple<std::string, std::string, Poco::Data::BLOB, Poco::Int64, Poco::Nullable<Poco::Int64>, Poco::Int64>>
        rows;
    *m_impl->session << "SELECT kind, url, der, this_update, next_update, fetched_at FROM revocation_cache WHERE key = ?",
        use(k), into(rows), now;
    if (rows.empty()) {
      return std::optional<CachedRevocation>{};
    }
    const auto& r = rows.front();
    CachedRevocation c;
    c.key = key;
    c.kind = r.get<0>();
    c.url = r.get<1>();
    const auto& blob = r.get<2>();
    c.der.assign(blob.rawContent(), blob.rawContent() + blob.size());
    c.this_update = from_unix(r.get<3>());
    if (!r.get<4>().isNull()) {
      c.next_update = from_unix(r.get<4>().value());
    }
    c.fetched_at = from_unix(r.get<5>());
    return std::optional<CachedRevocation>{std::move(c)};
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot read cached revocation data " + key + ": " + e.displayText());
  }
}

Result<std::size_t> Database::revocation_count() {
  std::lock_guard lock(m_impl->mu);
  try {
    Poco::Int64 n = 0;
    *m_impl->session << "SELECT COUNT(*) FROM revocation_cache", into(n), now;
    return static_cast<std::size_t>(n);
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot count cached revocation data: " + e.displayText());
  }
}

Result<std::int64_t> Database::add_registry_entry(const RegistryEntry& entry) {
  if (entry.role.empty()) {
    return fail(Errc::invalid_argument, "a registry entry needs a role");
  }
  if (entry.cert_sha256.empty() && (entry.jpki_name.empty() || entry.jpki_birth_date.empty())) {
    return fail(Errc::invalid_argument, "a registry entry names a certificate (SHA-256) or a JPKI name and birth date");
  }
  if (entry.valid_to <= entry.valid_from) {
    return fail(Errc::invalid_argument, "a registry entry's validity ends after it starts");
  }
  std::lock_guard lock(m_impl->mu);
  try {
    RegistryEntry e = entry;
    Poco::Int64 from = to_unix(e.valid_from);
    Poco::Int64 to = to_unix(e.valid_to);
    auto& s = *m_impl->session;
    s.begin();
    s << "INSERT INTO qualification_registry (cert_sha256, jpki_name, jpki_birth_date, role, licence_number, "
         "valid_from, valid_to, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        use(e.cert_sha256), use(e.jpki_name), use(e.jpki_birth_date), use(e.role), use(e.licence_number), use(from),
        use(to), use(e.note), now;
    Poco::Int64 id = 0;
    s << "SELECT last_insert_rowid()", into(id), now;
    s.commit();
    return static_cast<std::int64_t>(id);
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot add the registry entry: " + e.displayText());
  }
}

Result<std::vector<RegistryEntry>> Database::list_registry() {
  std::lock_guard lock(m_impl->mu);
  try {
    std::vector<RegistryRow> rows;
    *m_impl->session << "SELECT " + std::string(kRegistryColumns) + " FROM qualification_registry ORDER BY id",
        into(rows), now;
    std::vector<RegistryEntry> out;
    for (const auto& r : rows) {
      out.push_back(from_row(r));
    }
    return out;
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot list the registry: " + e.displayText());
  }
}

Result<bool> Database::remove_registry_entry(std::int64_t id) {
  std::lock_guard lock(m_impl->mu);
  try {
    Poco::Int64 i = id;
    Poco::Data::Statement st(*m_impl->session);
    st << "DELETE FROM qualification_registry WHERE id = ?", use(i);
    std::size_t n = st.execute();
    return n > 0;
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot remove registry entry " + std::to_string(id) + ": " + e.displayText());
  }
}

Result<std::vector<RegistryEntry>> Database::find_registry(const std::string& cert_sha256, const std::string& jpki_name,
                                                           const std::string& jpki_birth_date) {
  std::lock_guard lock(m_impl->mu);
  try {
    std::string sha = cert_sha256;
    std::string name = jpki_name;
    std::string birth = jpki_birth_date;
    std::vector<RegistryRow> rows;
    *m_impl->session << "SELECT " + std::string(kRegistryColumns) +
                            " FROM qualification_registry WHERE (cert_sha256 <> '' AND cert_sha256 = ?) OR "
                            "(? <> '' AND jpki_name = ? AND jpki_birth_date = ?) ORDER BY id",
        use(sha), use(name), use(name), use(birth), into(rows), now;
    std::vector<RegistryEntry> out;
    for (const auto& r : rows) {
      out.push_back(from_row(r));
    }
    return out;
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot search the registry: " + e.displayText());
  }
}

}  // namespace hanko::store
