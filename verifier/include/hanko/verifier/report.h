#pragma once
/**
 * @file report.h
 * The validation report: ETSI EN 319 102-1 indications and sub-indications,
 * per signature the signer, role, times, timestamps and every check made.
 * Its JSON form ("hanko-validation-report/2") is described by
 * docs/report-schema.json.
 */
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/clock.h"
#include "hanko/common/json.h"

namespace hanko::verifier {

enum class Indication { total_passed, total_failed, indeterminate };
/** Building blocks (timestamps, checks) use PASSED/FAILED/INDETERMINATE. */
enum class BlockIndication { passed, failed, indeterminate };

/** EN 319 102-1 v1.3.1 Table 6 sub-indications hanko reports. */
enum class SubIndication {
  none,
  format_failure,
  hash_failure,
  sig_crypto_failure,
  revoked,
  expired,
  not_yet_valid,
  sig_constraints_failure,
  chain_constraints_failure,
  certificate_chain_general_failure,
  crypto_constraints_failure,
  no_signing_certificate_found,
  no_certificate_chain_found,
  revoked_no_poe,
  revoked_ca_no_poe,
  out_of_bounds_no_poe,
  out_of_bounds_not_revoked,
  revocation_out_of_bounds_no_poe,
  crypto_constraints_failure_no_poe,
  no_poe,
  try_later,
  signed_data_not_found,
};

std::string_view indication_name(Indication i);           ///< "TOTAL-PASSED" ...
std::string_view indication_uri(Indication i);            ///< urn:etsi:019102:mainindication:total-passed
std::string_view block_indication_name(BlockIndication i);  ///< "PASSED" ...
std::string_view sub_indication_name(SubIndication s);    ///< "HASH_FAILURE" ...; "" for none
std::string sub_indication_uri(SubIndication s);          ///< urn:etsi:019102:subindication:HASH_FAILURE

struct CertificateInfo {
  std::string subject;
  std::string issuer;
  std::string serial_number;  ///< upper-case hex
  std::string sha256;         ///< hex of the DER
  TimePoint not_before;
  TimePoint not_after;
};

struct CheckResult {
  std::string name;  ///< e.g. "signature-value", "certificate-chain", "key-usage"
  BlockIndication result = BlockIndication::passed;
  std::string message;
};

struct TimestampReport {
  std::string type = "SIGNATURE_TIMESTAMP";  ///< "SIGNATURE_TIMESTAMP" (sigTst, SignatureTimeStamp) | "ARCHIVE_TIMESTAMP" (arcTst, ArchiveTimeStamp)
  BlockIndication indication = BlockIndication::indeterminate;
  SubIndication sub_indication = SubIndication::none;
  std::optional<TimePoint> gen_time;
  std::string serial_number;
  std::string policy;
  std::optional<CertificateInfo> tsa;
  std::string message;
  /**
   * When the TSA chain was checked: the validation time, or (EN 319 102-1
   * past validation) the genTime of the earliest valid later archive
   * timestamp, which proves the token existed then.
   */
  std::optional<TimePoint> control_time;
  std::string digest_algorithm;  ///< the messageImprint algorithm ("SHA-256", ...), empty when the token did not parse
};

/** Revocation status of one certificate of the chain, and where it came from. */
struct RevocationReport {
  std::string certificate;             ///< subject of the certificate checked
  std::string status;                  ///< "good" | "revoked" | "unknown" | "unavailable" | "invalid" | "not-checked"
  std::string source;                  ///< "OCSP" | "CRL" | "" (none usable)
  std::string url;                     ///< where the data came from (a file path for a configured CRL)
  std::string responder;               ///< OCSP signer or CRL issuer subject
  std::optional<TimePoint> produced_at;   ///< OCSP producedAt
  std::optional<TimePoint> this_update;
  std::optional<TimePoint> next_update;
  std::optional<TimePoint> revocation_time;
  std::optional<std::string> revocation_reason;
  bool from_cache = false;
  std::string message;
  std::vector<std::string> attempts;   ///< every source tried, with its outcome
};

/** The qualification decision: may this signer sign this kind of document? */
struct QualificationReport {
  std::string outcome;                 ///< "QUALIFIED" | "NOT_QUALIFIED" | "NOT_VERIFIABLE" | "POLICY_NOT_ALLOWED" | "NOT_CHECKED"
  std::optional<std::string> role;     ///< the role relied on
  std::string source;                  ///< "hcRole" | "registry" | "none"
  std::string rule;                    ///< the policy rule applied
  std::string document_type;           ///< "system|code" of Composition.type, empty when unknown
  std::optional<std::int64_t> registry_id;
  std::string licence_number;
  std::string message;
};

struct SignatureReport {
  std::string id;  ///< "signature-1"
  std::string format;  ///< "JAdES-BASELINE-B" | -T | -LT | -LTA, "XAdES-BASELINE-B" ... -LTA, or "unknown"
  Indication indication = Indication::indeterminate;
  SubIndication sub_indication = SubIndication::none;
  std::string algorithm;  ///< "RS256" ...
  std::string target_format;
  std::string signature_type;  ///< commitment type OID
  std::optional<CertificateInfo> signer;
  std::optional<std::string> role;       ///< hcRole
  bool non_repudiation = false;
  std::vector<std::string> policies;
  std::vector<CertificateInfo> chain;    ///< signer first, anchor last
  std::optional<TimePoint> claimed_signing_time;
  std::optional<TimePoint> best_signature_time;  ///< the earliest POE of the signature
  std::vector<TimestampReport> timestamps;
  std::vector<RevocationReport> revocation;  ///< signer first, up to (not including) the anchor
  std::optional<QualificationReport> qualification;
  std::vector<CheckResult> checks;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::string who;  ///< Signature.who as written (reference or display)
};

struct ValidationReport {
  TimePoint validation_time;
  std::string document_identifier;
  std::string document_sha256;  ///< hex, of the canonical #document bytes (empty if not computed)
  Indication indication = Indication::indeterminate;
  SubIndication sub_indication = SubIndication::none;
  std::vector<SignatureReport> signatures;
};

/** The JSON form (schema "hanko-validation-report/2"). */
json::Value to_json(const ValidationReport& report);
/** A text form a pharmacist can read. */
std::string to_text(const ValidationReport& report);

/** Exit code of `hanko verify`: 0 passed, 1 failed, 2 indeterminate. */
int exit_code(const ValidationReport& report);

}  // namespace hanko::verifier
