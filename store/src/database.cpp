#include "hanko/store/database.h"

#include <Poco/Data/LOB.h>
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/Nullable.h>
#include <Poco/Tuple.h>
#include <openssl/rand.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <vector>

#include "pool.h"
#include "target.h"

namespace hanko::store {

using namespace Poco::Data::Keywords;

namespace {

/**
 * Numbered migrations: entry i is version i + 1, a list of statements run in
 * one transaction. Never edit one that has shipped; add a new one. The SQLite
 * text of versions 1-3 is what earlier builds ran.
 */
std::vector<std::vector<std::string>> migrations(const Dialect& d) {
  const std::string i64(d.int64_type());
  const std::string blob(d.blob_type());
  return {
      // 1: service settings
      {"CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL)"},
      // 2: revocation cache (CRLs and OCSP responses as fetched; times are Unix seconds)
      {"CREATE TABLE IF NOT EXISTS revocation_cache (key TEXT PRIMARY KEY, kind TEXT NOT NULL, url TEXT NOT NULL, "
       "der " + blob + " NOT NULL, this_update " + i64 + " NOT NULL, next_update " + i64 + ", fetched_at " + i64 +
       " NOT NULL)"},
      // 3: qualification registry (JPKI and other role-less signers)
      {"CREATE TABLE IF NOT EXISTS qualification_registry (id " + std::string(d.serial_primary_key()) + ", "
       "cert_sha256 TEXT NOT NULL, jpki_name TEXT NOT NULL, jpki_birth_date TEXT NOT NULL, role TEXT NOT NULL, "
       "licence_number TEXT NOT NULL, valid_from " + i64 + " NOT NULL, valid_to " + i64 + " NOT NULL, "
       "note TEXT NOT NULL)"},
      // 4: signing sessions (two-step signing; times are Unix seconds, used_at NULL until consumed)
      {"CREATE TABLE IF NOT EXISTS signing_sessions (id TEXT PRIMARY KEY, client_id TEXT NOT NULL, "
       "created_at " + i64 + " NOT NULL, expires_at " + i64 + " NOT NULL, used_at " + i64 + ", "
       "payload " + blob + " NOT NULL)",
       "CREATE INDEX IF NOT EXISTS signing_sessions_expires ON signing_sessions (expires_at)"},
      // 5: the archive (archive/, docs/archive.md): items, every evidence version, and events
      {"CREATE TABLE IF NOT EXISTS archive_items (id TEXT PRIMARY KEY, content_type TEXT NOT NULL, "
       "document_identifier TEXT NOT NULL, document_sha256 TEXT NOT NULL, patient TEXT NOT NULL, "
       "document_type TEXT NOT NULL, caller TEXT NOT NULL, archived_at " + i64 + " NOT NULL, "
       "retention_end " + i64 + " NOT NULL, state TEXT NOT NULL, current_version " + i64 + " NOT NULL, "
       "renewals " + i64 + " NOT NULL, next_renewal " + i64 + ", evidence_deadline " + i64 + ", "
       "failures " + i64 + " NOT NULL, retry_at " + i64 + ", last_error TEXT NOT NULL, "
       "lease_owner TEXT, lease_expires " + i64 + ")",
       "CREATE INDEX IF NOT EXISTS archive_items_next_renewal ON archive_items (next_renewal)",
       "CREATE INDEX IF NOT EXISTS archive_items_identifier ON archive_items (document_identifier)",
       "CREATE INDEX IF NOT EXISTS archive_items_patient ON archive_items (patient)",
       "CREATE TABLE IF NOT EXISTS archive_versions (item_id TEXT NOT NULL, version " + i64 + " NOT NULL, "
       "kind TEXT NOT NULL, created_at " + i64 + " NOT NULL, level TEXT NOT NULL, sha256 TEXT NOT NULL, "
       "archive_time " + i64 + ", tsa_not_after " + i64 + ", digest TEXT NOT NULL, note TEXT NOT NULL, "
       "document " + blob + " NOT NULL, PRIMARY KEY (item_id, version))",
       "CREATE TABLE IF NOT EXISTS archive_events (id " + std::string(d.serial_primary_key()) + ", "
       "item_id TEXT NOT NULL, at " + i64 + " NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, "
       "detail TEXT NOT NULL)",
       "CREATE INDEX IF NOT EXISTS archive_events_item ON archive_events (item_id)"},
  };
}

/** The key of the PostgreSQL advisory lock the migrations run under ("hanko" in ASCII). */
constexpr const char* kMigrationLockKey = "448345844079";

std::string schema_migrations_table(const Dialect& d) {
  if (d.backend() == Backend::sqlite) {
    return "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
           "applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)";
  }
  return "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
         "applied_at TEXT NOT NULL DEFAULT to_char(CURRENT_TIMESTAMP AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'))";
}

Poco::Data::BLOB to_blob(const Bytes& b) { return Poco::Data::BLOB(b.data(), b.size()); }
Bytes from_blob(const Poco::Data::BLOB& b) {
  return b.size() == 0 ? Bytes{} : Bytes(b.rawContent(), b.rawContent() + b.size());
}

bool is_session_id(std::string_view id) {
  return id.size() == 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void register_connectors() {
  static std::once_flag once;
  std::call_once(once, [] {
    Poco::Data::SQLite::Connector::registerConnector();
    Poco::Data::PostgreSQL::Connector::registerConnector();
  });
}

}  // namespace

struct Database::Impl {
  explicit Impl(Backend b) : dialect(b) {}

  Dialect dialect;
  std::string description;
  std::unique_ptr<detail::SessionPool> pool;
  int version = 0;

  /** Runs `f(session)` on a pooled session; a Poco exception becomes Errc::io "<what>: <text>". */
  template <class F>
  auto run(const std::string& what, F&& f) -> decltype(f(std::declval<Session&>())) {
    try {
      auto lease = pool->acquire();
      return f(*lease);
    } catch (const Poco::Exception& e) {
      return fail(Errc::io, what + ": " + e.displayText());
    }
  }

  void begin(Session& s) const {
    if (dialect.backend() == Backend::sqlite) {
      s << std::string(dialect.begin_immediate()), now;
    } else {
      // Poco's PostgreSQL session must know about the transaction: it then defers
      // DEALLOCATE of prepared statements to the end (they would fail in an aborted one).
      s.begin();
    }
  }
  void commit(Session& s) const {
    if (dialect.backend() == Backend::sqlite) {
      s << "COMMIT", now;
    } else {
      s.commit();
    }
  }
  void rollback(Session& s) const {
    if (dialect.backend() == Backend::sqlite) {
      s << "ROLLBACK", now;
    } else {
      s.rollback();
    }
  }

  Result<void> transaction(const std::function<Result<void>(Session&)>& body) {
    detail::SessionPool::Lease lease;
    try {
      lease = pool->acquire();
    } catch (const Poco::Exception& e) {
      return fail(Errc::io, "cannot connect to the database: " + e.displayText());
    }
    Session& s = *lease;
    try {
      begin(s);
    } catch (const Poco::Exception& e) {
      lease.discard();
      return fail(Errc::io, "cannot begin a transaction: " + e.displayText());
    }
    Result<void> r;
    try {
      r = body(s);
    } catch (const Poco::Exception& e) {
      r = fail(Errc::io, e.displayText());
    } catch (const std::exception& e) {
      r = fail(Errc::internal, e.what());
    }
    if (!r) {
      try {
        rollback(s);
      } catch (...) {
        lease.discard();  // closing the connection rolls back
      }
      return r;
    }
    try {
      commit(s);
    } catch (const Poco::Exception& e) {
      try {
        rollback(s);
      } catch (...) {
      }
      lease.discard();
      return fail(Errc::io, "cannot commit: " + e.displayText());
    }
    return {};
  }

  Result<void> migrate() {
    const auto steps = migrations(dialect);
    return transaction([&](Session& s) -> Result<void> {
      if (dialect.backend() == Backend::postgresql) {
        // Two instances starting together: the second waits here until the first committed.
        s << "SELECT pg_advisory_xact_lock(" + std::string(kMigrationLockKey) + ")", now;
      }
      // SQLite: BEGIN IMMEDIATE already holds the database's write lock.
      s << schema_migrations_table(dialect), now;
      int current = 0;
      s << "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", into(current), now;
      for (int v = current + 1; v <= static_cast<int>(steps.size()); ++v) {
        for (const auto& statement : steps[static_cast<std::size_t>(v - 1)]) {
          s << statement, now;
        }
        s << dialect.sql("INSERT INTO schema_migrations (version) VALUES (?)"), use(v), now;
      }
      version = std::max(current, static_cast<int>(steps.size()));
      return {};
    });
  }
};

Database::Database(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Database::~Database() = default;

Result<std::unique_ptr<Database>> Database::open(std::string_view target, const OpenOptions& options) {
  if (target.empty()) {
    // SQLite would open a private temporary database for "": nothing would be kept.
    return fail(Errc::invalid_argument, "no database named: give an SQLite file or a PostgreSQL connection string");
  }
  if (!is_postgresql_target(target)) {
    return open_sqlite(std::filesystem::path(target), options);
  }
  register_connectors();
  auto impl = std::make_unique<Impl>(Backend::postgresql);
  impl->description = describe_target(target);
  auto conn = detail::poco_connection_string(target, options.connect_timeout);
  if (!conn) {
    return std::unexpected(conn.error());
  }
  const auto timeout = static_cast<std::size_t>(options.connect_timeout.count());
  impl->pool = std::make_unique<detail::SessionPool>(
      [c = *conn, timeout] {
        auto s = std::make_unique<Poco::Data::Session>("PostgreSQL", c, timeout);
        // CREATE ... IF NOT EXISTS and the like send NOTICEs, which libpq prints on stderr.
        *s << "SET client_min_messages TO WARNING", now;
        return s;
      },
      options.max_connections);
  try {
    impl->pool->acquire();  // connect once now, so that a wrong connection string fails here
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot open the database " + impl->description + ": " + e.displayText());
  }
  if (auto m = impl->migrate(); !m) {
    return fail(m.error().code, "cannot migrate the database " + impl->description + ": " + m.error().message);
  }
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

Result<std::unique_ptr<Database>> Database::open_sqlite(const std::filesystem::path& file, const OpenOptions& options) {
  register_connectors();
  // Poco's SQLite connector retries a failed open for its login timeout
  // (60 s): a folder that does not exist is reported at once instead.
  std::error_code ec;
  const auto parent = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(parent, ec)) {
    return fail(Errc::io, "cannot open the database " + file.string() + ": the folder " + parent.string() +
                              " does not exist");
  }
  auto impl = std::make_unique<Impl>(Backend::sqlite);
  impl->description = describe_target(file.string());
  const std::string busy = "PRAGMA busy_timeout = " + std::to_string(options.sqlite_busy_timeout.count());
  auto factory = [path = file.string(), busy] {
    auto s = std::make_unique<Poco::Data::Session>("SQLite", path, 5);
    *s << busy, now;  // before anything else, so that the statements below wait for a lock too
    return s;
  };
  impl->pool = std::make_unique<detail::SessionPool>(factory, options.max_connections);
  try {
    auto first = impl->pool->acquire();
    // WAL: readers do not block the writer nor it them; the setting stays with the file.
    // synchronous stays FULL (the default): a committed transaction survives a power cut.
    std::string mode;
    *first << "PRAGMA journal_mode = WAL", into(mode), now;
  } catch (const Poco::Exception& e) {
    return fail(Errc::io, "cannot open the database " + file.string() + ": " + e.displayText());
  }
  if (auto m = impl->migrate(); !m) {
    return fail(Errc::io, "cannot open the database " + file.string() + ": " + m.error().message);
  }
  return std::unique_ptr<Database>(new Database(std::move(impl)));
}

int Database::schema_version() const { return m_impl->version; }
const Dialect& Database::dialect() const { return m_impl->dialect; }
const std::string& Database::description() const { return m_impl->description; }

Result<void> Database::transaction(const std::function<Result<void>(Session&)>& body) {
  return m_impl->transaction(body);
}

Result<void> Database::read(const std::function<Result<void>(Session&)>& body) {
  try {
    return m_impl->run("database read", [&](Session& s) { return body(s); });
  } catch (const std::exception& e) {
    return fail(Errc::internal, e.what());
  }
}

Result<void> Database::put_setting(const std::string& name, const std::string& value) {
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot store setting " + name, [&](Session& s) -> Result<void> {
    std::string n = name;
    std::string v = value;
    s << d.sql("INSERT INTO settings (name, value) VALUES (?, ?) "
               "ON CONFLICT (name) DO UPDATE SET value = excluded.value"),
        use(n), use(v), now;
    return {};
  });
}

Result<std::optional<std::string>> Database::get_setting(const std::string& name) {
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot read setting " + name, [&](Session& s) -> Result<std::optional<std::string>> {
    std::string n = name;
    std::vector<std::string> values;
    s << d.sql("SELECT value FROM settings WHERE name = ?"), use(n), into(values), now;
    if (values.empty()) {
      return std::optional<std::string>{};
    }
    return std::optional<std::string>{values.front()};
  });
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
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot cache revocation data " + entry.key, [&](Session& s) -> Result<void> {
    std::string key = entry.key;
    std::string kind = entry.kind;
    std::string url = entry.url;
    Poco::Data::BLOB der = to_blob(entry.der);
    Poco::Int64 this_update = to_unix(entry.this_update);
    Poco::Nullable<Poco::Int64> next_update;
    if (entry.next_update) {
      next_update = to_unix(*entry.next_update);
    }
    Poco::Int64 fetched_at = to_unix(entry.fetched_at);
    s << d.sql("INSERT INTO revocation_cache (key, kind, url, der, this_update, next_update, fetched_at) "
               "VALUES (?, ?, ?, " + std::string(d.blob_param()) + ", ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
               "kind = excluded.kind, url = excluded.url, der = excluded.der, this_update = excluded.this_update, "
               "next_update = excluded.next_update, fetched_at = excluded.fetched_at"),
        use(key), use(kind), use(url), use(der), use(this_update), use(next_update), use(fetched_at), now;
    return {};
  });
}

Result<std::optional<CachedRevocation>> Database::get_revocation(const std::string& key) {
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot read cached revocation data " + key,
                     [&](Session& s) -> Result<std::optional<CachedRevocation>> {
    std::string k = key;
    std::vector<Poco::Tuple<std::string, std::string, Poco::Data::BLOB, Poco::Int64, Poco::Nullable<Poco::Int64>,
                            Poco::Int64>>
        rows;
    s << d.sql("SELECT kind, url, der, this_update, next_update, fetched_at FROM revocation_cache WHERE key = ?"),
        use(k), into(rows), now;
    if (rows.empty()) {
      return std::optional<CachedRevocation>{};
    }
    const auto& r = rows.front();
    CachedRevocation c;
    c.key = key;
    c.kind = r.get<0>();
    c.url = r.get<1>();
    c.der = from_blob(r.get<2>());
    c.this_update = from_unix(r.get<3>());
    if (!r.get<4>().isNull()) {
      c.next_update = from_unix(r.get<4>().value());
    }
    c.fetched_at = from_unix(r.get<5>());
    return std::optional<CachedRevocation>{std::move(c)};
  });
}

Result<std::size_t> Database::revocation_count() {
  return m_impl->run("cannot count cached revocation data", [&](Session& s) -> Result<std::size_t> {
    Poco::Int64 n = 0;
    s << "SELECT COUNT(*) FROM revocation_cache", into(n), now;
    return static_cast<std::size_t>(n);
  });
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
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot add the registry entry", [&](Session& s) -> Result<std::int64_t> {
    RegistryEntry e = entry;
    Poco::Int64 from = to_unix(e.valid_from);
    Poco::Int64 to = to_unix(e.valid_to);
    Poco::Int64 id = 0;
    s << d.sql("INSERT INTO qualification_registry (cert_sha256, jpki_name, jpki_birth_date, role, licence_number, "
               "valid_from, valid_to, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id"),
        use(e.cert_sha256), use(e.jpki_name), use(e.jpki_birth_date), use(e.role), use(e.licence_number), use(from),
        use(to), use(e.note), into(id), now;
    return static_cast<std::int64_t>(id);
  });
}

Result<std::vector<RegistryEntry>> Database::list_registry() {
  return m_impl->run("cannot list the registry", [&](Session& s) -> Result<std::vector<RegistryEntry>> {
    std::vector<RegistryRow> rows;
    s << "SELECT " + std::string(kRegistryColumns) + " FROM qualification_registry ORDER BY id", into(rows), now;
    std::vector<RegistryEntry> out;
    for (const auto& r : rows) {
      out.push_back(from_row(r));
    }
    return out;
  });
}

Result<bool> Database::remove_registry_entry(std::int64_t id) {
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot remove registry entry " + std::to_string(id), [&](Session& s) -> Result<bool> {
    Poco::Int64 i = id;
    Poco::Data::Statement st(s);
    st << d.sql("DELETE FROM qualification_registry WHERE id = ?"), use(i);
    return st.execute() > 0;
  });
}

Result<std::vector<RegistryEntry>> Database::find_registry(const std::string& cert_sha256, const std::string& jpki_name,
                                                           const std::string& jpki_birth_date) {
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot search the registry", [&](Session& s) -> Result<std::vector<RegistryEntry>> {
    std::string sha = cert_sha256;
    std::string name = jpki_name;
    std::string birth = jpki_birth_date;
    std::vector<RegistryRow> rows;
    s << d.sql("SELECT " + std::string(kRegistryColumns) +
               " FROM qualification_registry WHERE (cert_sha256 <> '' AND cert_sha256 = ?) OR "
               "(CAST(? AS TEXT) <> '' AND jpki_name = ? AND jpki_birth_date = ?) ORDER BY id"),
        use(sha), use(name), use(name), use(birth), into(rows), now;
    std::vector<RegistryEntry> out;
    for (const auto& r : rows) {
      out.push_back(from_row(r));
    }
    return out;
  });
}

Result<std::string> new_signing_session_id() {
  Bytes b(16);
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot make a signing session id"));
  }
  return hex(b);
}

Result<void> Database::create_signing_session(const SigningSession& session) {
  if (!is_session_id(session.id)) {
    return fail(Errc::invalid_argument, "a signing session id is 32 lower-case hex digits");
  }
  if (session.expires <= session.created) {
    return fail(Errc::invalid_argument, "a signing session expires after it is created");
  }
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot store the signing session", [&](Session& s) -> Result<void> {
    std::string id = session.id;
    std::string client = session.client_id;
    Poco::Int64 created = to_unix(session.created);
    Poco::Int64 expires = to_unix(session.expires);
    Poco::Data::BLOB payload = to_blob(session.payload);
    Poco::Data::Statement st(s);
    st << d.sql("INSERT INTO signing_sessions (id, client_id, created_at, expires_at, used_at, payload) "
                "VALUES (?, ?, ?, ?, NULL, " + std::string(d.blob_param()) + ") ON CONFLICT (id) DO NOTHING"),
        use(id), use(client), use(created), use(expires), use(payload);
    if (st.execute() == 0) {
      return fail(Errc::conflict, "a signing session with this id exists already");
    }
    return {};
  });
}

Result<SigningSession> Database::consume_signing_session(const std::string& id, TimePoint at) {
  if (!is_session_id(id)) {
    return fail(Errc::not_found, "unknown signing session");
  }
  const auto& d = m_impl->dialect;
  SigningSession out;
  auto r = m_impl->transaction([&](Session& s) -> Result<void> {
    std::string i = id;
    Poco::Int64 t = to_unix(at);
    // The claim: one statement that only an unused, unexpired row passes. On
    // PostgreSQL a second claimer waits for the first's row lock and then sees
    // used_at set; on SQLite BEGIN IMMEDIATE lets one writer in at a time.
    Poco::Data::Statement claim(s);
    claim << d.sql("UPDATE signing_sessions SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?"),
        use(t), use(i), use(t);
    const std::size_t claimed = claim.execute();
    std::vector<Poco::Tuple<std::string, Poco::Int64, Poco::Int64, Poco::Nullable<Poco::Int64>, Poco::Data::BLOB>> rows;
    s << d.sql("SELECT client_id, created_at, expires_at, used_at, payload FROM signing_sessions WHERE id = ?"),
        use(i), into(rows), now;
    if (rows.empty()) {
      return fail(Errc::not_found, "unknown signing session");
    }
    const auto& row = rows.front();
    if (claimed == 0) {
      if (!row.get<3>().isNull()) {
        return fail(Errc::conflict, "the signing session was already used");
      }
      return fail(Errc::expired, "the signing session expired at " + format_rfc3339(from_unix(row.get<2>())));
    }
    out.id = id;
    out.client_id = row.get<0>();
    out.created = from_unix(row.get<1>());
    out.expires = from_unix(row.get<2>());
    out.payload = from_blob(row.get<4>());
    // The prepared state is handed out once; it is not kept.
    Poco::Data::BLOB empty;
    s << d.sql("UPDATE signing_sessions SET payload = " + std::string(d.blob_param()) + " WHERE id = ?"), use(empty),
        use(i), now;
    return {};
  });
  if (!r) {
    if (r.error().code == Errc::io) {
      return fail(Errc::io, "cannot consume the signing session: " + r.error().message);
    }
    return std::unexpected(r.error());
  }
  return out;
}

Result<std::size_t> Database::purge_signing_sessions(TimePoint before) {
  const auto& d = m_impl->dialect;
  return m_impl->run("cannot purge signing sessions", [&](Session& s) -> Result<std::size_t> {
    Poco::Int64 t = to_unix(before);
    Poco::Data::Statement st(s);
    st << d.sql("DELETE FROM signing_sessions WHERE expires_at < ?"), use(t);
    return st.execute();
  });
}

}  // namespace hanko::store
