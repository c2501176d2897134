#pragma once
/**
 * @file database.h
 * The database layer on Poco::Data. The embedded SQLite file under the data
 * directory is the default; PostgreSQL (several instances sharing the work)
 * comes with the archive. Schema changes are numbered migrations recorded in
 * the table schema_migrations, applied in order at open.
 */
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"

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

 private:
  struct Impl;
  explicit Database(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::store
