#pragma once
/**
 * @file policy.h
 * Signature validation constraints that are hanko's own policy rather than
 * PKIX: who may sign which document (the qualification policy, with the
 * qualification registry for signers whose certificate carries no role), and
 * which algorithms and key sizes are acceptable at a given time (the
 * cryptographic constraints, EN 319 102-1 section 5.2.8 / ETSI TS 119 312).
 *
 * Trust assumptions: every function here only reads the certificate and the
 * Bundle. None of them validates the certificate chain, revocation or the
 * signature value: call them only for a signer certificate that the X.509
 * validation building block has accepted (or is about to), and treat a
 * `qualified` decision as "the role constraint is met", never as "the
 * signature is valid". The qualification registry is trusted as configured
 * by the service administrator.
 *
 * Why this exists (domain.md section 0 and 2): for documents that only a
 * licensed professional may issue (a prescription), the national
 * qualification must be electronically verifiable. HPKI certificates carry it
 * as hcRole; JPKI (My Number card) certificates carry no qualification at
 * all, so their holder must be in the registry (`hanko registry add`).
 *
 * How an outcome maps onto EN 319 102-1 v1.3.1 (section 5.1.3, Table 5) —
 * recommended; see sub_indication_for():
 *  - qualified: no objection from this building block.
 *  - not_qualified (the role does not fit the document type):
 *    INDETERMINATE / SIG_CONSTRAINTS_FAILURE. The signature itself is
 *    cryptographically sound and made with a valid certificate; what fails
 *    is a validation constraint on the signer (his role), which EN 319 102-1
 *    reports as INDETERMINATE with SIG_CONSTRAINTS_FAILURE ("one or more
 *    attributes of the signature do not match the validation constraints").
 *    TOTAL-FAILED is reserved for signatures proven bad (FORMAT_FAILURE,
 *    HASH_FAILURE, SIG_CRYPTO_FAILURE, REVOKED, ...); a role mismatch proves
 *    nothing against the signature, and another policy may accept it.
 *  - not_verifiable (no electronic evidence of the qualification: no hcRole,
 *    JPKI without a registry entry, a registry entry that does not cover the
 *    signing time): INDETERMINATE / SIG_CONSTRAINTS_FAILURE as well: the
 *    constraint "the qualification is electronically verifiable" is not met.
 *    It is INDETERMINATE, not FAILED, because registering the signer can turn
 *    the result into TOTAL-PASSED on a later validation.
 *  - policy_not_allowed (certificatePolicies not in the allow-list, or no
 *    keyUsage nonRepudiation): INDETERMINATE / CHAIN_CONSTRAINTS_FAILURE:
 *    these are constraints on the signing certificate, checked by the X.509
 *    certificate validation building block (section 5.2.6; the "acceptable
 *    policies" and key usage constraints of TS 119 172-1).
 * A CryptoCheck failure maps to INDETERMINATE / CRYPTO_CONSTRAINTS_FAILURE,
 * or CRYPTO_CONSTRAINTS_FAILURE_NO_POE when `sunset` is set and no proof of
 * existence before the sunset is available (a POE before it saves the
 * signature, section 5.2.8 and 5.6.2.4).
 *
 * Configuration keys (the server reads them from its Poco configuration and
 * passes them as a flat map; keys outside the "policy." and "crypto."
 * prefixes are ignored, unknown keys inside them are an error naming the
 * key, so that a typo never silently weakens the policy):
 *
 *   policy.rules = prescription,any-document
 *       The rule names, in order (comma-separated; [A-Za-z0-9_-]+, unique).
 *       The first rule matching the document type applies; put the fallback
 *       (docType = *) last. Absent: the default rules. A rule whose name is
 *       one of the defaults starts from that default; any other starts as
 *       "any document, any healthcare role" and needs its keys.
 *   policy.rule.<name>.docType = http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes|57833-6
 *       "system|code", or "code" (any system), or "*" (any document type).
 *   policy.rule.<name>.roles = Medical Doctor;Dentist
 *       Accepted roles, semicolon-separated, compared exactly (case and
 *       spaces matter: they are the hcRole free text), or "*" for any role
 *       of policy.healthcareRoles.
 *   policy.hpkiPolicyOids = 1.2.392.100495.1.5.1.1.0.1
 *       Comma-separated dotted OIDs; an HPKI signer's certificatePolicies
 *       must contain one. May be empty (no HPKI certificate is accepted).
 *   policy.jpkiPolicyOids = 1.2.392.200149.8.5.1.1.20
 *       The same for JPKI signers (the test-environment OID
 *       1.2.392.200149.8.5.1.0.20 is deliberately not a default).
 *   policy.healthcareRoles = Medical Doctor;Dentist;Pharmacist;...
 *       The role strings accepted by a rule with roles = *; "*" accepts any
 *       role string.
 *   policy.requireNonRepudiation = true
 *       true/false (also yes/no, on/off, 1/0): keyUsage must assert
 *       nonRepudiation (contentCommitment).
 *
 *   crypto.algorithms = RSA,EC,SHA-1,SHA-256,SHA-384,SHA-512,RS256,...
 *       The allow-list: every algorithm not listed is refused. Absent: the
 *       defaults (CryptoConstraints::defaults()). A listed default keeps its
 *       default settings unless overridden below.
 *   crypto.<NAME>.minBits = 2048
 *       Minimum key size in bits; only for key algorithms (RSA, EC).
 *   crypto.<NAME>.sunset = 2013-01-01
 *       RFC 3339 date or date-time: not acceptable for signatures made at or
 *       after it; "none" removes a default sunset.
 *   NAME is one of: RSA, EC, Ed25519, Ed448 (keys); MD5, SHA-1, SHA-224,
 *   SHA-256, SHA-384, SHA-512, SHA3-256, SHA3-384, SHA3-512 (digests);
 *   RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA
 *   (JWS "alg" values, RFC 7518 section 3.1 / RFC 8037).
 */
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"
#include "hanko/verifier/report.h"

// OpenSSL's certificate type, without including OpenSSL (house style rule 6).
using X509 = struct x509_st;

namespace hanko::store {
class Database;
}

namespace hanko::verifier {

// ---- Qualification policy -----------------------------------------------------

/** Who may sign one kind of document. */
struct QualificationRule {
  std::string name;             ///< e.g. "prescription"; used in messages and reports
  std::string doc_type_system;  ///< Composition.type coding system; empty = any system
  std::string doc_type_code;    ///< Composition.type coding code; empty = any document type (a fallback rule)
  std::vector<std::string> roles;  ///< accepted roles, exact strings; empty = any of QualificationPolicy::healthcare_roles
};

/** The qualification policy: rules per document type and the certificate profiles accepted. */
struct QualificationPolicy {
  /** First matching rule wins; the last rule, with an empty code, is the fallback. */
  std::vector<QualificationRule> rules;
  /** Allow-list of certificatePolicies for HPKI signers. */
  std::vector<std::string> hpki_policy_oids;
  /** Allow-list of certificatePolicies for JPKI signers. */
  std::vector<std::string> jpki_policy_oids;
  /** The known healthcare role strings (hcRole free text); empty = any role string. */
  std::vector<std::string> healthcare_roles;
  /** keyUsage must assert nonRepudiation (the HPKI and JPKI signing profiles both do). */
  bool require_non_repudiation = true;

  /**
   * Rule "prescription": doc-typecodes 57833-6 by Medical Doctor or Dentist;
   * rule "any-document": any type, any healthcare role. HPKI signing CP
   * 1.2.392.100495.1.5.1.1.0.1, JPKI signing CP 1.2.392.200149.8.5.1.1.20.
   * Healthcare roles: Medical Doctor, Dentist, Pharmacist, Nurse, Public
   * Health Nurse, Midwife, Director of Hospital, Director of Clinic. Only
   * "Medical Doctor" and the two Director strings are confirmed from real
   * certificates (domain.md section 1); the others are presumed: configure.
   */
  static QualificationPolicy defaults();
};

/** The code system of Japanese FHIR document types (JP Core / JAMI). */
inline constexpr std::string_view kDocTypeSystem = "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes";
/** 57833-6: 処方箋 (prescription). */
inline constexpr std::string_view kDocTypePrescription = "57833-6";

/** A document type read from Composition.type.coding. */
struct DocumentType {
  std::string system, code, display;
};

/**
 * The document type: the first Composition.type.coding with a code, where the
 * Composition is the resource of the Bundle's first entry (FHIR R4 document
 * Bundle rule bdl-11). nullopt when there is no Composition there or it has
 * no coded type.
 */
std::optional<DocumentType> document_type(const json::Value& bundle);

/**
 * Like document_type(bundle), but when Composition.type has several codings
 * the one matching the policy's earliest coded rule is returned, so that an
 * extra coding placed first cannot move a prescription out of the
 * prescription rule. Falls back to the first coding.
 */
std::optional<DocumentType> document_type(const json::Value& bundle, const QualificationPolicy& policy);

/** The result of decide_qualification(); see the file comment for the EN 319 102-1 mapping. */
enum class QualificationOutcome {
  qualified,           ///< the role is known and the rule accepts it
  not_qualified,       ///< the role is known but the rule does not accept it (or no rule applies)
  not_verifiable,      ///< no electronic evidence of the role: no hcRole, JPKI without a current registry entry
  policy_not_allowed,  ///< the certificate profile is refused: policy OID not allowed, or no nonRepudiation
};

/** The report's name of an outcome: "QUALIFIED", "NOT_QUALIFIED", "NOT_VERIFIABLE", "POLICY_NOT_ALLOWED" (docs/report-schema.json). */
std::string_view outcome_name(QualificationOutcome outcome);

/**
 * The sub-indication to conclude with (the main indication being
 * INDETERMINATE) when the outcome is not `qualified`: SIG_CONSTRAINTS_FAILURE
 * for not_qualified and not_verifiable, CHAIN_CONSTRAINTS_FAILURE for
 * policy_not_allowed; SubIndication::none for qualified.
 */
SubIndication sub_indication_for(QualificationOutcome outcome);

/** What decide_qualification() found. */
struct QualificationDecision {
  QualificationOutcome outcome = QualificationOutcome::not_verifiable;
  std::optional<std::string> role;           ///< the role relied on (hcRole or registered), if any
  std::string source = "none";               ///< "hcRole" | "registry" | "none"
  std::string rule;                          ///< the rule applied (empty if none applied)
  std::optional<std::int64_t> registry_id;   ///< the registry entry relied on
  std::string licence_number;                ///< from the registry entry
  std::string message;                       ///< one line for a pharmacist: what is missing and how to fix it
  std::vector<std::string> warnings;
};

/**
 * Decides whether the signer was qualified to sign a document of type `doc`
 * at `signing_time` (use the best signature time: the earliest POE, or the
 * claimed signing time when there is none).
 *
 * Classification: HPKI when the certificate carries hcRole (also a malformed
 * one) or a certificatePolicies OID under 1.2.392.100495.1.5; otherwise JPKI
 * when it carries a policy under 1.2.392.200149.8.5 or the JPKI name
 * otherName; otherwise "other".
 *  - HPKI: a policy OID must be in hpki_policy_oids (policy_not_allowed),
 *    nonRepudiation if required (policy_not_allowed), then hcRole decides.
 *    A certificate without hcRole may still be qualified by a registry entry
 *    for its SHA-256; else not_verifiable. A malformed hcRole is
 *    not_verifiable.
 *  - JPKI: a policy OID must be in jpki_policy_oids, nonRepudiation if
 *    required; then the registry: entries for the certificate's SHA-256
 *    first, then for its name and birth date otherNames. An entry counts
 *    only when valid_from <= signing_time < valid_to.
 *  - other: nonRepudiation if required; then the registry by SHA-256 only.
 * The role must be in the rule's roles (exact string compare), or, when the
 * rule lists none, in healthcare_roles (if that is not empty).
 *
 * @param signer        the signing certificate (nullptr gives not_verifiable)
 * @param doc           the document type (document_type()); nullopt: only a fallback rule can apply
 * @param signing_time  compared with the registry entries' validity
 * @param policy        the qualification policy
 * @param registry      the qualification registry; may be nullptr (no registry configured)
 */
QualificationDecision decide_qualification(const X509* signer, const std::optional<DocumentType>& doc,
                                           TimePoint signing_time, const QualificationPolicy& policy,
                                           store::Database* registry);

/**
 * Compares the signer certificate with the Practitioner named by
 * Signature.who and returns warnings (empty when they agree).
 *
 * `who_reference` is Signature.who.reference as written ("urn:uuid:..."
 * matched against entry fullUrl, or "Practitioner/id"); pass "" when
 * Signature.who has no reference or display. A value that cannot be a
 * reference (no '/' and no ':') is taken as Signature.who.display and
 * compared with the certificate's names directly. A PractitionerRole is followed to its
 * practitioner. The Practitioner's names (each HumanName's text,
 * family+given and given+family, in any script) are compared with the
 * certificate's names (subject CN, CN of subjectAltName directoryNames such
 * as the HPKI kanji name, the JPKI name otherName), ignoring case, spaces
 * (including U+3000), the middle dot 「・」 and full-width/half-width forms
 * of ASCII. Warns when Signature.who is absent, does not resolve, points at
 * something other than a Practitioner, or when no name matches. `role` (the
 * role from decide_qualification) is only named in the warnings: FHIR
 * PractitionerRole codes and hcRole strings are different vocabularies.
 */
std::vector<std::string> compare_signer_with_bundle(const X509* signer, const std::optional<std::string>& role,
                                                    const json::Value& bundle, const std::string& who_reference);

/**
 * Reads a QualificationPolicy from flat configuration keys (the "policy."
 * keys documented in the file comment), starting from defaults(). Errors
 * are Errc::invalid_argument and name the key.
 */
Result<QualificationPolicy> qualification_policy_from(const std::map<std::string, std::string>& keys);

// ---- Cryptographic constraints ------------------------------------------------

/** One row of the algorithm table. */
struct AlgorithmConstraint {
  std::string name;                 ///< "RSA", "EC", "SHA-1", "SHA-256", "RS256", ...
  int min_bits = 0;                 ///< minimum key size (key algorithms only); 0 = none
  std::optional<TimePoint> sunset;  ///< not acceptable for signatures made at or after this time
};

/** The algorithm allow-list: an algorithm without a row is refused. */
struct CryptoConstraints {
  std::vector<AlgorithmConstraint> table;

  /**
   * RSA min 2048 bits, EC min 256 bits; SHA-1 with sunset 2013-01-01 (so
   * refused for current signatures, yet a POE before 2013 saves an old one);
   * SHA-256, SHA-384, SHA-512 without sunset; JWS RS256, RS384, RS512,
   * PS256, PS384, PS512, ES256, ES384, ES512 without sunset. MD5, Ed25519
   * and anything else are not listed, so refused.
   */
  static CryptoConstraints defaults();

  /** The row for `name` (exact), or nullptr. */
  const AlgorithmConstraint* find(std::string_view name) const;
};

/** The result of a cryptographic constraints check. */
struct CryptoCheck {
  bool ok = false;
  std::string message;  ///< what was checked, or what is refused and why
  /**
   * Set when every failure is a sunset: a POE of the signature (or of the
   * certificate) before this time saves it (CRYPTO_CONSTRAINTS_FAILURE_NO_POE
   * when there is none). When several sunsets failed, the earliest.
   */
  std::optional<TimePoint> sunset;
};

/**
 * Checks a certificate's public key (type and size) and the digest of the
 * signature on it (e.g. sha1WithRSAEncryption -> SHA-1) against the table
 * at time `at`. Trust anchors need not be checked (their signature is not
 * relied on).
 */
CryptoCheck check_certificate_crypto(const X509* cert, TimePoint at, const CryptoConstraints& constraints);

/**
 * Checks a JWS signature: the "alg" itself must be in the table, its digest
 * (SHA-256 for RS256, ...) too, and the signer's key must fit the algorithm
 * (RSA for RS and PS; the curve of ES256/384/512 is P-256/384/521) and the
 * key's row (minimum size, sunset). `at` is the time the signature was
 * made (the best signature time).
 */
CryptoCheck check_signature_crypto(std::string_view jws_alg, const X509* signer, TimePoint at,
                                   const CryptoConstraints& constraints);

/**
 * Reads CryptoConstraints from flat configuration keys (the "crypto." keys
 * documented in the file comment), starting from defaults(). Errors are
 * Errc::invalid_argument and name the key.
 */
Result<CryptoConstraints> crypto_constraints_from(const std::map<std::string, std::string>& keys);

}  // namespace hanko::verifier
