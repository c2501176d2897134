#pragma once
/**
 * @file audit.h
 * The audit trail (docs/audit.md): one FHIR R4 AuditEvent per line (JSON
 * Lines), appended to a file opened with O_APPEND, each record hash-chained to
 * the one before it. Private to server/.
 *
 * Trust assumptions: the chain shows that lines were changed, removed,
 * inserted or reordered. That the newest lines were not cut off, or the
 * whole file rewritten with a fresh chain, is shown by anchors: on a
 * schedule the chain head is timestamped by a TSA (RFC 3161) and the token is
 * written as an "audit-anchor" record; a rewritten chain cannot carry the
 * old tokens, and lines cut after the last anchor are the only ones at risk.
 * Times are the caller's (server/ owns the clock).
 */
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"

namespace hanko::tsa {
class TimestampSource;
}
namespace hanko::certstore {
class TrustStore;
}

namespace hanko::server {

/** The AuditEvent.extension url carrying the chain link; hanko.example is hanko's own namespace. */
inline constexpr std::string_view kAuditChainUrl = "https://hanko.example/fhir/StructureDefinition/audit-chain";
/** The link of the first record of a file: SHA-256 of the empty string. */
inline constexpr std::string_view kAuditGenesis = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** AuditEvent.extension urls of an anchor record: the chain head it timestamps, and the RFC 3161 token. */
inline constexpr std::string_view kAuditAnchorHeadUrl = "https://hanko.example/fhir/StructureDefinition/audit-anchor-head";
inline constexpr std::string_view kAuditAnchorTokenUrl = "https://hanko.example/fhir/StructureDefinition/audit-anchor-token";
/** Longest line written or read. */
inline constexpr std::size_t kAuditMaxLine = 1u << 20;

/** One audited request. Empty strings are left out of the AuditEvent. */
struct AuditRecord {
  TimePoint when;
  std::string operation;      ///< sign | verify | healthz | unknown (AuditEvent.subtype)
  std::string action;         ///< C | R | U | D | E
  int outcome = 0;            ///< 0 success, 4 minor failure, 8 serious failure, 12 major failure
  std::string outcome_desc;
  std::string client_id;      ///< empty: "anonymous"
  std::string client_subject; ///< TLS client certificate subject or token sub (AuditEvent.agent.name)
  std::string auth_method;    ///< tls-client-certificate | bearer-jwt (AuditEvent.agent.altId)
  std::string source_ip;
  std::string document_identifier;
  std::string document_sha256;  ///< hex, of the canonical #document bytes
  std::string patient_reference;
  std::string signer;         ///< signer certificate subject and serial
  int http_status = 0;
  std::string anchor_head;  ///< anchor records: the hex chain head timestamped (imprint = SHA-256 of these 64 ASCII bytes)
  Bytes anchor_token;       ///< anchor records: the RFC 3161 TimeStampToken (DER)
};

/** AuditEvent.outcome for an HTTP status: 2xx/3xx 0, 4xx 4, 5xx 8. */
int audit_outcome_for_status(int http_status);

/** The AuditEvent of `record`, linked to `previous_sha256_hex` (the chain extension comes first). */
json::Value audit_event(const AuditRecord& record, std::string_view source_id, std::string_view previous_sha256_hex);

struct AuditOptions {
  std::filesystem::path file;
  std::string source_id = "hanko";  ///< AuditEvent.source.observer
  bool fsync = true;                ///< fsync after every record
};

/**
 * An append-only, hash-chained AuditEvent log. Thread-safe. Holds an
 * exclusive flock on the file so that two processes cannot fork the chain.
 */
class AuditLog {
 public:
  /**
   * Opens or creates the file and continues its chain from the last line (read
   * from the end, at most kAuditMaxLine bytes). A last line without '\n' (torn
   * write) or that is not JSON is an Error: repair the file first
   * (`hanko audit verify` names the line).
   */
  static Result<std::unique_ptr<AuditLog>> open(const AuditOptions& options);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  /** Writes one record (one write(2) of the whole line), then fsyncs if configured. */
  Result<void> append(const AuditRecord& record);
  /** Hex SHA-256 of the last line written (kAuditGenesis for an empty file). */
  std::string head() const;
  /** Lines in the file (counted once at open, then kept). */
  std::uint64_t records() const;
  /**
   * Timestamps the current chain head with `tsa` and appends an
   * "audit-anchor" record carrying the token. Does nothing (returns false)
   * when the head was anchored already. The TSA is called without holding
   * the log's lock, so requests keep being audited meanwhile.
   */
  Result<bool> anchor(tsa::TimestampSource& tsa, TimePoint now);
  /** When the last anchor of this process was written; nullopt before the first. */
  std::optional<TimePoint> last_anchor() const;
  const std::filesystem::path& path() const { return m_options.file; }

 private:
  AuditLog(AuditOptions options, int fd, std::string head, std::uint64_t records);
  Result<void> append_locked(const AuditRecord& record);
  AuditOptions m_options;
  int m_fd = -1;
  mutable std::mutex m_mu;
  std::string m_head;
  std::uint64_t m_records = 0;
  std::string m_anchored_head;
  std::optional<TimePoint> m_last_anchor;
};

struct AuditVerification {
  bool ok = false;
  std::size_t records = 0;  ///< lines checked and intact
  std::size_t line = 0;     ///< first bad line (1-based) when !ok
  std::string reason;       ///< one line
  std::string head;         ///< hex SHA-256 of the last intact line
  std::size_t anchors = 0;  ///< anchor records found (and checked)
  bool anchors_verified = false;  ///< the anchors' TSA signatures and chains were checked (a TSA trust store was given)
  std::size_t last_anchor_line = 0;  ///< 0 when none
  std::optional<TimePoint> last_anchor_time;  ///< genTime of the last anchor
};

/**
 * Reads `file` line by line and recomputes the chain. A changed line breaks
 * the link of the next line, a removed or reordered line the link at the gap;
 * an inserted line fails itself or the line after it. Anchor records are
 * checked too: the head they name must be the link of a line at or before
 * them (among the 100,000 before), the token's imprint must be the SHA-256 of
 * that head, and, when `tsa_trust` is given, the token's signature and TSA
 * chain must verify at its genTime (tsa::verify_token). Error only when the
 * file cannot be read.
 */
Result<AuditVerification> verify_audit_file(const std::filesystem::path& file,
                                            const certstore::TrustStore* tsa_trust = nullptr);

}  // namespace hanko::server
