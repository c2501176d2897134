#pragma once
/**
 * @file archive.h
 * The long-term archive (issue 8, docs/archive.md): signed FHIR document
 * Bundles (JAdES JSON, XAdES XML) kept verifiable for their legal retention
 * period by archive timestamps renewed before they expire (domain.md
 * section 4; GL 6.0 14.2: "keep the timestamp verifiable for the whole legal
 * retention period").
 *
 *  - ingest(): validates the document (the verifier, at `now`) and keeps it
 *    only when TOTAL-PASSED, raises it to B-LTA (signer::extend_bundle) and
 *    stores the submitted text and the B-LTA evidence as versions 0 and 1.
 *    The same signature submitted twice is the same item (the id is the
 *    SHA-256 of the signature value).
 *  - renew_due(): renews every item whose next renewal date has come: a new
 *    archive timestamp over everything before it, with fresh validation data
 *    of the previous one, validated, then committed in one transaction as a
 *    new version (earlier versions are never changed). Items are claimed
 *    with a lease, so several instances on one PostgreSQL share the work and
 *    an item whose renewer died is taken again once its lease expires.
 *  - get() / report() / find() read; export_item() and purge() act only when
 *    called, and say what they did for the audit trail.
 *
 * Trust assumptions: submitted documents are untrusted until the verifier
 * says TOTAL-PASSED; trust comes only from the services given (trust stores,
 * revocation checker, TSA). The database is the service's own state and is
 * trusted as written by hanko; every renewal re-validates the stored
 * document anyway. Nothing here reads the clock: every time is an argument.
 */
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/archive/schedule.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/signer/augment.h"
#include "hanko/verifier/report.h"
#include "hanko/verifier/verifier.h"

namespace hanko::store {
class Database;
}

namespace hanko::archive {

/** What the item looks like at a given time (computed from the stored state and that time). */
enum class ItemStatus {
  ok,               ///< evidence valid; the next renewal is in the future (or none is needed)
  due,              ///< the next renewal date has passed; renew_due() will renew it
  overdue,          ///< the evidence deadline (TSA certificate notAfter or an algorithm sunset) has passed unrenewed
  failing,          ///< the last renewal attempt failed; retried at retry_at (exponential backoff)
  retention_ended,  ///< the retention period is over: no more renewals; export/purge on explicit call
  purged,           ///< the documents were deleted by purge(); the row remains as a record
};
/** "ok", "due", "overdue", "failing", "retention-ended", "purged". */
std::string_view item_status_name(ItemStatus s);
std::optional<ItemStatus> item_status_from_name(std::string_view name);

/** One stored version of an item's document (every version is kept). */
struct EvidenceVersion {
  int version = 0;                          ///< 0: as submitted; 1: raised to B-LTA at ingest; 2...: renewals
  std::string kind;                         ///< "submitted" | "archived" | "renewal"
  TimePoint created;                        ///< the `now` / `as_of` it was made at (whole seconds)
  std::string level;                        ///< "B-B" ... "B-LTA" as carried
  std::string sha256;                       ///< hex of the document bytes of this version
  std::optional<TimePoint> archive_time;    ///< genTime of its last archive timestamp
  std::optional<TimePoint> tsa_not_after;   ///< notAfter of that timestamp's TSA certificate
  std::string digest;                       ///< that timestamp's imprint digest ("SHA-256"), empty for none
  std::string note;                         ///< what was added
};

/** An archived item (its stored state and its status at the time asked). */
struct ArchiveItem {
  std::string id;                   ///< 64 lower-case hex digits: SHA-256 of the signature value
  std::string content_type;         ///< "application/fhir+json" | "application/fhir+xml"
  std::string document_identifier;  ///< Bundle.identifier.value
  std::string document_sha256;      ///< hex, of the signed #document bytes (the report's document_sha256)
  std::string patient;              ///< the Patient's first identifier value, else Composition.subject.reference
  std::string document_type;        ///< Composition.type code, e.g. "57833-6"
  std::string caller;               ///< who ingested it
  TimePoint archived_at;
  TimePoint retention_end;
  ItemStatus status = ItemStatus::ok;  ///< at the time asked
  std::string state;                ///< stored state: "active" | "failing" | "purged"
  int current_version = 0;
  int renewals = 0;                 ///< archive timestamps added by renew_due
  std::optional<TimePoint> next_renewal;       ///< none: no renewal needed before the retention end
  std::optional<TimePoint> evidence_deadline;  ///< when the current evidence stops being verifiable (no margin)
  int failures = 0;                 ///< consecutive failed renewals
  std::optional<TimePoint> retry_at;
  std::string last_error;
  std::optional<std::string> lease_owner;
  std::optional<TimePoint> lease_expires;
};

/** get(): the item, its current document and the list of all its versions. */
struct ArchivedDocument {
  ArchiveItem item;
  std::string document;                   ///< the current version's text
  std::vector<EvidenceVersion> versions;  ///< oldest first
};

/** Successful ingest(). */
struct Ingested {
  ArchiveItem item;
  bool created = false;                ///< false: the same signature was archived before (the existing item)
  verifier::ValidationReport report;   ///< the validation of the submitted document at `now`
};

/** Why ingest() refused. */
enum class IngestFailure {
  invalid,        ///< not a signed FHIR document Bundle, malformed (error.code: invalid_argument, not_a_document, no_signature, ...)
  rejected,       ///< TOTAL-FAILED: the report says why (REST: 422 with the report)
  indeterminate,  ///< INDETERMINATE (e.g. TRY_LATER, revocation unavailable): try again later (REST: 503 + Retry-After)
  augmentation,   ///< B-LTA could not be made (TSA or revocation source down: error.code network/remote_rejected/policy)
  storage,        ///< the database failed (error.code io)
};
std::string_view ingest_failure_name(IngestFailure f);

struct IngestError {
  IngestFailure kind = IngestFailure::invalid;
  Error error;
  std::optional<verifier::ValidationReport> report;  ///< for rejected and indeterminate
  std::chrono::seconds retry_after{0};                ///< for indeterminate and augmentation failures
};

using IngestResult = std::expected<Ingested, IngestError>;

/** find(): all given fields must match (empty / nullopt: any). */
struct FindQuery {
  std::string identifier{};            ///< Bundle.identifier.value
  std::string patient{};              ///< ArchiveItem::patient
  std::optional<ItemStatus> status{}; ///< status at `at`
  TimePoint at{};                     ///< the time the status is computed for
  std::size_t limit = 100;
};

/** One renewal attempt, reported to the progress callback of renew_due(). */
struct RenewProgress {
  std::string item_id;
  bool renewed = false;
  std::string message;    ///< what was added, or why it failed
  std::size_t done = 0;   ///< attempts so far in this call
};

/** What renew_due() did (for /metrics and the audit trail). */
struct RenewSummary {
  std::size_t claimed = 0;     ///< items this call claimed
  std::size_t renewed = 0;     ///< committed renewals
  std::size_t failed = 0;      ///< failed attempts (recorded on the item with a retry time)
  std::size_t lost_lease = 0;  ///< results dropped because the lease had passed to another worker
  std::size_t remaining_due = 0;  ///< items still due at as_of after this call (limit reached, leased elsewhere, retry later)
  std::vector<std::string> errors;  ///< one line per failure: "<id>: <message>"
};

/** Counts of items by status at a time (for /metrics). */
struct ArchiveCounts {
  std::size_t total = 0, ok = 0, due = 0, overdue = 0, failing = 0, retention_ended = 0, purged = 0;
};

/** export_item(): every version's text, and the record of the export. */
struct ExportedItem {
  ArchiveItem item;
  std::vector<EvidenceVersion> versions;
  std::vector<std::string> documents;  ///< documents[i] is the text of versions[i]
};

/** purge(): what was deleted. */
struct PurgeResult {
  std::string item_id;
  TimePoint at;
  TimePoint retention_end;
  std::size_t versions_deleted = 0;
  std::size_t bytes_deleted = 0;
  std::vector<std::string> version_sha256;  ///< the hashes of what was deleted, for the audit record
};

/** The services the archive validates and augments with; pointers are not owned and must outlive the Archive. */
struct ArchiveServices {
  /** Trust stores, revocation checker, policies; validation_time is set by each call. */
  verifier::VerifyOptions verify;
  /** TSA, trust stores, revocation checker for augmentation; `now` and `archive_digest` are set by each call. */
  signer::ExtendContext extend;
};

/**
 * Configuration. Keys (the server reads them and fills this struct; see
 * docs/archive.md): archive.retention.<code> = <years>, archive.retention.default,
 * archive.marginDays, archive.algorithm.<NAME>.sunset, archive.leaseSeconds,
 * archive.retryInitialSeconds, archive.retryMaxSeconds.
 */
struct ArchiveConfig {
  RetentionTable retention = RetentionTable::defaults();
  AlgorithmTable algorithms = AlgorithmTable::defaults();
  ScheduleOptions schedule;
  /** Names this instance in leases (with a per-call counter); empty: 32 random hex digits. */
  std::string instance_id;
  /**
   * Fault injection for crash tests: called at named points of ingest and
   * renewal with the item id ("renew.claimed", "renew.extended",
   * "renew.verified", "renew.in_transaction" (inside the commit transaction,
   * after its writes, before COMMIT), "renew.committed",
   * "ingest.extended", "ingest.in_transaction", "ingest.committed").
   * nullptr in production.
   */
  std::function<void(std::string_view point, const std::string& item_id)> fault_hook;
};

/**
 * The archive over one store::Database (SQLite or PostgreSQL, one code path).
 * Thread-safe as far as the Database is (each call takes its own
 * connections); several Archive objects, processes or instances may share
 * one database.
 */
class Archive {
 public:
  /** The Database must outlive the Archive (its migrations must have run: Database::open does). */
  Archive(store::Database& db, ArchiveServices services, ArchiveConfig config = {});

  /**
   * Validates `document` (a signed FHIR Bundle, JSON or XML; `content_type`
   * "application/fhir+json" / "application/fhir+xml", or empty to decide by
   * the first byte) at `now`, and archives it when TOTAL-PASSED: raised to
   * B-LTA at `now`, stored as versions 0 (as submitted) and 1 (B-LTA) with
   * its retention end and next renewal date. The same signature again
   * returns the existing item (created = false) without validating or
   * augmenting anything.
   */
  IngestResult ingest(std::string_view document, std::string_view content_type, std::string_view caller,
                      TimePoint now);

  /** The item, its current document and all versions, with the status at `at`. Errc::not_found. */
  Result<ArchivedDocument> get(std::string_view id, TimePoint at);
  /** The text of one version (Errc::not_found for an unknown item or version, or after purge). */
  Result<std::string> version_document(std::string_view id, int version);
  /** Validates the current document at `at` (now, or a past or future time). Errc::not_found; purged: Errc::expired. */
  Result<verifier::ValidationReport> report(std::string_view id, TimePoint at);
  /** Items matching the query, ordered by archived_at then id. */
  Result<std::vector<ArchiveItem>> find(const FindQuery& query);
  /** Counts by status at `at`. */
  Result<ArchiveCounts> counts(TimePoint at);

  /**
   * Renews the items due at `as_of` (next_renewal <= as_of, retention not
   * ended, no live lease, retry time passed), at most `limit` of them. Each:
   * claim (lease), extend to B-LTA with a new archive timestamp (digest from
   * the algorithm table), validate the result at `as_of` (must be
   * TOTAL-PASSED), commit the new version in one transaction on condition
   * that the lease is still ours. A failure is recorded on the item (state
   * failing, retry_at by exponential backoff, last_error) and counted.
   * `progress` (may be empty) is called after each attempt.
   */
  RenewSummary renew_due(TimePoint as_of, std::size_t limit,
                         const std::function<void(const RenewProgress&)>& progress = {});

  /**
   * Every version of the item with its text, for an export at the end of
   * retention (or any time); records an "export" event naming `actor`.
   * Errc::not_found; after purge Errc::expired.
   */
  Result<ExportedItem> export_item(std::string_view id, std::string_view actor, TimePoint at);
  /**
   * Deletes the item's documents once its retention has ended (at >=
   * retention_end; Errc::conflict before), keeping the item row as a record
   * (state "purged") and an event with the deleted versions' hashes.
   * Errc::not_found; a second purge: Errc::expired.
   */
  Result<PurgeResult> purge(std::string_view id, std::string_view actor, TimePoint at);

  const ArchiveConfig& config() const { return m_config; }

 private:
  struct Claimed;
  Result<std::vector<Claimed>> claim(TimePoint as_of, std::size_t max, const std::string& owner);
  Result<std::string> renew_one(const Claimed& c, TimePoint as_of, const std::string& owner, RenewSummary& summary);
  void record_failure(const Claimed& c, TimePoint as_of, const std::string& owner, const std::string& message,
                      RenewSummary& summary);
  void hook(std::string_view point, const std::string& id) const;

  store::Database& m_db;
  ArchiveServices m_services;
  ArchiveConfig m_config;
  std::string m_instance;
};

/**
 * The id of a signed Bundle's signature: SHA-256 (lower-case hex) of the
 * signature value (JWS: the base64url signature part as transported; XAdES:
 * the ds:SignatureValue text without white space). Errc::invalid_argument,
 * Errc::no_signature.
 */
Result<std::string> signature_id(std::string_view document);

}  // namespace hanko::archive
