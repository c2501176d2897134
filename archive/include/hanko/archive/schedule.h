#pragma once
/**
 * @file schedule.h
 * When an archived signature must be renewed, and for how long it is kept.
 * Pure functions of their arguments (no database, no clock), so that the
 * schedule can be tested and explained on its own (docs/archive.md).
 *
 *  - Retention: by document type (Composition.type code): a prescription
 *    (57833-6) 3 years (薬剤師法 §27), other documents 5 years (医師法 §24);
 *    configurable per code.
 *  - Evidence deadline: the earliest of the notAfter of the TSA certificate
 *    of the last archive timestamp and the sunset dates (algorithm table) of
 *    the algorithms that timestamp relies on: its imprint digest and the TSA's
 *    key. After it, the archive timestamp no longer proves anything (EN 319
 *    102-1 5.6.2: a POE needs a timestamp whose TSA certificate and
 *    algorithms are still acceptable).
 *  - Next renewal: deadline - margin (180 days by default); none when that
 *    falls on or after the retention end (the evidence outlives the duty).
 */
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/archive/retention.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"

namespace hanko::archive {

/** One retention rule: documents whose Composition.type code is `code` are kept `years` years. */
struct RetentionRule {
  std::string code;
  int years = 5;
};

/** Retention periods by document type. */
struct RetentionTable {
  std::vector<RetentionRule> rules;  ///< first match wins
  int default_years = 5;             ///< any other document type (and documents without a type)

  /** 57833-6 (prescription): 3 years; default 5 years (default_retention()). */
  static RetentionTable defaults();
  /** The years for a type code. */
  int years_for(std::string_view code) const;
  /** `from` plus the years for `code`, by the calendar (29 February becomes 28 February). */
  TimePoint end_for(std::string_view code, TimePoint from) const;
};

/**
 * One algorithm and its sunset: after that date a timestamp relying on it is
 * no longer taken as proof (ETSI TS 119 312 / the verifier's crypto table).
 * Names: digests "SHA-256", "SHA-384", "SHA-512"; keys "RSA-<bits class>"
 * ("RSA-1024" for < 2048 bits, "RSA-2048" for 2048..3071, "RSA-3072" for
 * 3072..4095, "RSA-4096" above), "EC-<field bits>" ("EC-256", "EC-384",
 * "EC-521"), "Ed25519", "Ed448".
 */
struct AlgorithmEntry {
  std::string name;
  std::optional<TimePoint> sunset;  ///< none: no date known
};

struct AlgorithmTable {
  std::vector<AlgorithmEntry> entries;

  /**
   * RSA-1024 2014-01-01, RSA-2048 2031-01-01 (NIST SP 800-57 part 1 rev. 5
   * table 4: 112-bit security through 2030), SHA-256, SHA-384, SHA-512,
   * RSA-3072, RSA-4096, EC-256, EC-384, EC-521: no date. Configure
   * (archive.algorithm.<NAME>.sunset) as guidance changes.
   */
  static AlgorithmTable defaults();
  /** The sunset of `name`; nullopt when none or unknown. */
  std::optional<TimePoint> sunset(std::string_view name) const;
  /** Sets (or adds) an entry. */
  void set(std::string name, std::optional<TimePoint> sunset);
  /**
   * The digest for a new archive timestamp made at `now`: the first of
   * SHA-256, SHA-384, SHA-512 whose sunset is unset or later than now +
   * `margin` (weakest first: some TSAs refuse SHA-512); SHA-512 when all are
   * near their sunset.
   */
  DigestAlg archive_digest(TimePoint now, std::chrono::seconds margin) const;
};

/** Timing of renewals, leases and retries. */
struct ScheduleOptions {
  std::chrono::seconds margin = std::chrono::days(180);  ///< renew this long before the evidence deadline
  std::chrono::seconds lease = std::chrono::minutes(15);  ///< a claim holds an item this long
  std::chrono::seconds retry_initial = std::chrono::hours(1);  ///< first retry after a failure
  std::chrono::seconds retry_max = std::chrono::days(7);       ///< backoff ceiling
  std::size_t claim_batch = 8;                            ///< items claimed per claim transaction
  std::chrono::seconds ingest_retry_after = std::chrono::minutes(5);  ///< IngestError::retry_after
};

/** What the schedule needs from the last archive timestamp of a document. */
struct ArchiveEvidence {
  std::string level;                        ///< "B-LTA" ...
  std::optional<TimePoint> archive_time;    ///< genTime of the last archive timestamp
  std::optional<TimePoint> tsa_not_after;   ///< its TSA certificate's notAfter
  std::string digest;                       ///< its imprint digest name, "SHA-256" ...
  std::string tsa_key;                      ///< its TSA key as an algorithm table name, "RSA-2048" ...
};

/**
 * Reads the last archive timestamp of a signed Bundle (JSON or XML) and its
 * TSA certificate (the token's signer certificate). No archive timestamp:
 * the fields stay empty. Errc::invalid_argument for a document or token that
 * does not parse.
 */
Result<ArchiveEvidence> read_archive_evidence(std::string_view document);

/** The algorithm table name of a key ("RSA-2048", "EC-256", ...); "" when unknown. */
std::string key_class_name(std::string_view algorithm, int bits);

/**
 * The evidence deadline: min(tsa_not_after, sunset(digest), sunset(tsa_key));
 * nullopt when the document has no archive timestamp.
 */
std::optional<TimePoint> evidence_deadline(const ArchiveEvidence& evidence, const AlgorithmTable& algorithms);

/** deadline - margin, or nullopt when that is at or after `retention_end` (or there is no deadline). */
std::optional<TimePoint> next_renewal(std::optional<TimePoint> deadline, TimePoint retention_end,
                                      std::chrono::seconds margin);

/** Retry delay after the n-th consecutive failure (n >= 1): retry_initial * 2^(n-1), at most retry_max. */
std::chrono::seconds retry_delay(int failures, const ScheduleOptions& options);

}  // namespace hanko::archive
