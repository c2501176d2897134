#pragma once
/**
 * @file verifier.h
 * Validation of a signed FHIR JSON Bundle following ETSI EN 319 102-1:
 * format, signed data (the #document canonical bytes), signature value,
 * signing certificate identification (x5t#S256), X.509 validation against
 * the trust anchors at the validation time, the signature timestamp as
 * proof of existence (POE), past certificate validation at the POE time when
 * the signer's certificate has expired or been revoked since, and the HPKI
 * constraints (keyUsage nonRepudiation, hcRole).
 *
 * Then, for the signer's chain: revocation (OCSP and CRL through the
 * RevocationChecker, no soft-fail), cryptographic constraints (a dated
 * table of algorithms and key sizes) and the qualification policy (which
 * roles may sign which document types; hcRole for HPKI, the qualification
 * registry for JPKI).
 *
 * Trust assumptions: only the anchors in the TrustStores are trusted;
 * certificates in x5c, fetched from AIA caIssuers and in the timestamp
 * token are untrusted input. The validation time is passed in; nothing here
 * reads the wall clock.
 */
#include <string_view>
#include <vector>

#include "hanko/certstore/revocation.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"
#include "hanko/verifier/policy.h"
#include "hanko/verifier/report.h"

namespace hanko {
class HttpClient;
}
namespace hanko::store {
class Database;
}

namespace hanko::verifier {

struct VerifyOptions {
  const certstore::TrustStore* signature_trust = nullptr;  ///< anchors for signer certificates
  const certstore::TrustStore* tsa_trust = nullptr;        ///< anchors for TSAs (nullptr: signature_trust)
  TimePoint validation_time;
  /** OCSP/CRL checking of the signer's chain; nullptr: not checked (the report says so in a warning). */
  const certstore::RevocationChecker* revocation = nullptr;
  /** Which roles may sign which documents; nullptr: QualificationPolicy::defaults(). */
  const QualificationPolicy* qualification = nullptr;
  /** Acceptable algorithms and key sizes; nullptr: CryptoConstraints::defaults(). */
  const CryptoConstraints* crypto = nullptr;
  /** The qualification registry (JPKI and other role-less signers); nullptr: none. */
  store::Database* registry = nullptr;
  /** Fetches missing intermediates from the AIA caIssuers URL; nullptr: no fetching. */
  const HttpClient* aia_fetcher = nullptr;
  /** Skip the qualification policy (testing only; the report says so). */
  bool skip_qualification = false;
};

/** The outcome of check_signer: may this certificate sign this document now? */
struct SignerCheck {
  bool ok = false;
  Indication indication = Indication::indeterminate;
  SubIndication sub_indication = SubIndication::none;
  std::string rule;     ///< the rule that refused: "certificate-chain", "revocation", "crypto", "key-usage", "qualification"
  std::string message;  ///< one line naming the rule and what is wrong
  SignatureReport details;
};

/**
 * The signing-side guard: runs the checks a verifier would run on a
 * signature made now by `signer` (chain at `opts.validation_time`,
 * revocation, cryptographic constraints, keyUsage, qualification for the
 * Bundle's document type), so that hanko never produces a signature it would
 * itself reject.
 */
SignerCheck check_signer(const X509* signer, const std::vector<const X509*>& chain, const json::Value& bundle,
                         const VerifyOptions& options);

/**
 * Validates the signature of a parsed document Bundle. Errc::no_signature
 * when it carries none, Errc::not_a_document when it is not a document
 * Bundle; every other finding is in the report.
 */
Result<ValidationReport> verify_bundle(const json::Value& bundle, const VerifyOptions& options);

/**
 * Validates the XAdES signature (Bundle.signature, sigFormat
 * application/signature+xml) of a FHIR XML document Bundle with the same
 * checks, policy and report as the JSON side: signature core (references,
 * SignedInfo signature, SigningCertificateV2, wrapping defences), timestamps,
 * chain, revocation, constraints and qualification. Errc::invalid_argument
 * for text that is not acceptable XML, Errc::not_a_document, Errc::no_signature.
 */
Result<ValidationReport> verify_xml_bundle_text(std::string_view xml, const VerifyOptions& options);

/** Parses, then verify_bundle. Errc::invalid_argument for text that is not JSON. */
Result<ValidationReport> verify_bundle_text(std::string_view text, const VerifyOptions& options);

}  // namespace hanko::verifier
