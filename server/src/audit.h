#pragma once
/**
 * @file audit.h
 * The audit trail (docs/audit.md): one FHIR R4 AuditEvent per line (JSON
 * Lines), appended to a file opened with O_APPEND, each record hash-chained to
 * the one before it. Private to server/.
 *
 * Trust assumptions: the chain shows that lines were changed, removed,
 * inserted or reordered, but not that the newest lines were cut off or that
 * the whole file was rewritten with a fresh chain; for that the chain head
 * must be kept somewhere else (anchoring with RFC 3161 is not done yet).
 * Times are the caller's (server/ owns the clock).
 */
#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"

namespace hanko::server {

/** The AuditEvent.extension url carrying the chain link; hanko.example is hanko's own namespace. */
inline constexpr std::string_view kAuditChainUrl = "https://hanko.example/fhir/StructureDefinition/audit-chain";
/** The link of the first record of a file: SHA-256 of the empty string. */
inline constexpr std::string_view kAuditGenesis = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
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
  const std::filesystem::path& path() const { return m_options.file; }

 private:
  AuditLog(AuditOptions options, int fd, std::string head);
  AuditOptions m_options;
  int m_fd = -1;
  mutable std::mutex m_mu;
  std::string m_head;
};

struct AuditVerification {
  bool ok = false;
  std::size_t records = 0;  ///< lines checked and intact
  std::size_t line = 0;     ///< first bad line (1-based) when !ok
  std::string reason;       ///< one line
  std::string head;         ///< hex SHA-256 of the last intact line
};

/**
 * Reads `file` line by line and recomputes the chain. A changed line breaks
 * the link of the next line, a removed or reordered line the link at the gap;
 * an inserted line fails itself or the line after it. Error only when the file
 * cannot be read.
 */
Result<AuditVerification> verify_audit_file(const std::filesystem::path& file);

}  // namespace hanko::server
