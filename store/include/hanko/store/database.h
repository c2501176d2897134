#pragma once
/**
 * @file database.h
 * The database layer on Poco::Data, on one of two backends: an embedded
 * SQLite file under the data directory (the default), or a PostgreSQL server
 * that several instances share (a two-step signing may be prepared on one
 * instance and completed on another). One code path; the differences are in
 * Dialect (dialect.h). Schema changes are numbered migrations recorded in the
 * table schema_migrations, applied in order at open, once per database, under
 * a lock. docs/storage.md describes the schema.
 *
 * Trust: the database is the service's own state. Its contents are trusted as
 * written by hanko; cached revocation data is checked again on use.
 */
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/store/dialect.h"

namespace Poco::Data {
class Session;
}

namespace hanko::store {

/**
 * Revocation data fetched from the network (a CRL or an OCSP response), kept
 * until its nextUpdate so that a verification needs no network while the data
 * is fresh. The bytes are stored exactly as received; whoever reads them back
 * checks them again (signature, issuer, times) before use.
 */
struct CachedRevocation {
  std::string key;                       ///< "crl|<url>" or "ocsp|<issuer key hash hex>|<serial hex>"
  std::string kind;                      ///< "crl" | "ocsp"
  std::string url;                       ///< where it was fetched from
  Bytes der;                             ///< the CRL or the OCSPResponse, DER
  TimePoint this_update;
  std::optional<TimePoint> next_update;  ///< absent: the source gave none
  TimePoint fetched_at;
};

/**
 * A qualification registry entry: who a JPKI (or other role-less) signer is
 * qualified as. An entry matches a certificate by its SHA-256, or by the JPKI
 * name and birth date otherNames (so that a renewed My Number card keeps its
 * entry).
 */
struct RegistryEntry {
  std::int64_t id = 0;               ///< assigned by add_registry_entry
  std::string cert_sha256;           ///< lower-case hex of the certificate DER; empty to match by identity
  std::string jpki_name;             ///< 氏名 as in the certificate (otherName 1.2.392.200149.8.5.5.1)
  std::string jpki_birth_date;       ///< 生年月日 EYYYYMMDD (otherName 1.2.392.200149.8.5.5.4)
  std::string role;                  ///< e.g. "Medical Doctor"
  std::string licence_number;        ///< the national licence (免許) number
  TimePoint valid_from;
  TimePoint valid_to;
  std::string note;                  ///< who registered it and on what evidence
};

/**
 * The prepared state of a two-step signing (POST /v1/sign/prepare, then
 * /v1/sign/complete, possibly on another instance sharing the database).
 * The store keeps the payload as opaque bytes; the signer serialises it.
 */
struct SigningSession {
  std::string id;         ///< 32 lower-case hex digits (128 random bits); new_signing_session_id()
  TimePoint created;      ///< stored in whole seconds (rounded down)
  TimePoint expires;      ///< the session can be consumed while now < expires; whole seconds
  std::string client_id;  ///< who prepared it; the caller compares it on completion
  Bytes payload;          ///< the prepared state, opaque; may be empty
};

/** A Poco::Data session: the connection a transaction() callback runs its statements on. */
using Session = Poco::Data::Session;

/** How Database::open connects. */
struct OpenOptions {
  /** Most connections held at once (PostgreSQL and SQLite); calls beyond wait for one. At least 1. */
  std::size_t max_connections = 8;
  /** SQLite: how long a writer waits for the write lock before failing (PRAGMA busy_timeout). */
  std::chrono::milliseconds sqlite_busy_timeout{10000};
  /** PostgreSQL: connect_timeout, unless the connection string sets one. */
  std::chrono::seconds connect_timeout{10};
};

/**
 * The database. Thread-safe: each call takes a connection from a small pool
 * (Poco::Data sessions are not thread-safe; one is used by one thread at a
 * time) and gives it back.
 */
class Database {
 public:
  /**
   * Opens the database named by `target` (the `store.url` setting) and applies
   * pending migrations:
   * - a PostgreSQL connection string, as a URI
   *   (`postgresql://hanko@127.0.0.1:5432/hanko?sslmode=disable`) or in
   *   libpq's `host=127.0.0.1 port=5432 dbname=hanko user=hanko` form; the
   *   password comes from PGPASSWORD or ~/.pgpass (libpq). Values with spaces
   *   are refused (Poco 1.11 splits the string at spaces). The database must
   *   exist; the user needs CREATE on its schema for the migrations;
   * - anything else: an SQLite file, created if missing (its folder must exist).
   * Errc::invalid_argument for an empty target or a malformed connection string, Errc::io when the
   * database cannot be opened or migrated. Messages never contain the password.
   */
  static Result<std::unique_ptr<Database>> open(std::string_view target, const OpenOptions& options = {});
  /** Opens (creating if needed) the SQLite file and applies pending migrations. */
  static Result<std::unique_ptr<Database>> open_sqlite(const std::filesystem::path& file,
                                                       const OpenOptions& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /** The schema version after migrations (the highest applied; may exceed what this build knows). */
  int schema_version() const;
  /** The dialect of the backend: placeholders, types, row locking. */
  const Dialect& dialect() const;
  /** The target without its password (describe_target). */
  const std::string& description() const;

  /**
   * Runs `body` in one transaction on one connection: begins it
   * (dialect().begin_immediate() on SQLite, BEGIN on PostgreSQL), calls
   * `body`, and commits when it returns success; rolls back when it returns an
   * error (which is returned), or throws (a Poco exception becomes Errc::io, any
   * other std::exception Errc::internal). A failed commit is Errc::io.
   *
   * Inside `body` use only the given session (the Database's own calls take
   * another connection and, on SQLite, would wait for the write lock this
   * transaction holds). On PostgreSQL a failed statement aborts the
   * transaction: let the exception leave `body`. There is no automatic retry.
   */
  Result<void> transaction(const std::function<Result<void>(Session&)>& body);

  /**
   * Runs `body` on one pooled connection outside any transaction (each
   * statement commits on its own): for reads that need several statements
   * on one connection without taking SQLite's write lock. A Poco exception
   * becomes Errc::io, another std::exception Errc::internal.
   */
  Result<void> read(const std::function<Result<void>(Session&)>& body);

  /** Stores a small named value (used for service facts such as the dev PKI's creation). */
  Result<void> put_setting(const std::string& name, const std::string& value);
  Result<std::optional<std::string>> get_setting(const std::string& name);

  /** Inserts or replaces the cached revocation data under its key. */
  Result<void> put_revocation(const CachedRevocation& entry);
  /** The cached revocation data under `key`, if any (fresh or not: the caller decides). */
  Result<std::optional<CachedRevocation>> get_revocation(const std::string& key);
  /** Number of cached revocation entries (for `hanko trust list` and tests). */
  Result<std::size_t> revocation_count();

  /** Adds an entry; returns its id. Errc::invalid_argument if it names neither a certificate nor a name and birth date, or has no role. */
  Result<std::int64_t> add_registry_entry(const RegistryEntry& entry);
  /** Every entry, by id. */
  Result<std::vector<RegistryEntry>> list_registry();
  /** Removes an entry; false when no entry has that id. */
  Result<bool> remove_registry_entry(std::int64_t id);
  /**
   * Entries matching a certificate: by cert_sha256, or (when name is not
   * empty) by jpki_name and jpki_birth_date. Validity is not filtered: the
   * caller compares valid_from/valid_to with the signing time.
   */
  Result<std::vector<RegistryEntry>> find_registry(const std::string& cert_sha256, const std::string& jpki_name,
                                                   const std::string& jpki_birth_date);

  /**
   * Stores a new signing session. Errc::invalid_argument when the id is not
   * 32 lower-case hex digits or expires is not after created; Errc::conflict
   * when a session with that id exists already.
   */
  Result<void> create_signing_session(const SigningSession& session);
  /**
   * Marks the session used and returns it, exactly once, also across
   * processes and instances sharing the database (a conditional UPDATE in a
   * transaction; the row count decides). The stored payload is cleared then.
   * Errc::not_found for an unknown id (or one already purged),
   * Errc::conflict when it was already used, Errc::expired when
   * now >= expires (an expired session stays unused).
   */
  Result<SigningSession> consume_signing_session(const std::string& id, TimePoint now);
  /**
   * Deletes every session, used or not, that expired before `before`; returns
   * how many. Used sessions are kept until they expire, so that a second
   * completion is told "already used" rather than "unknown".
   */
  Result<std::size_t> purge_signing_sessions(TimePoint before);

 private:
  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/** A new signing session id: 16 bytes from RAND_bytes as 32 lower-case hex digits. Errc::crypto if the RNG fails. */
Result<std::string> new_signing_session_id();

}  // namespace hanko::store
