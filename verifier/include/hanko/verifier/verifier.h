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
 * Trust assumptions: only the anchors in the TrustStores are trusted;
 * certificates in x5c and in the timestamp token are untrusted input. The
 * validation time is passed in. Revocation is checked only against CRLs
 * loaded into the TrustStore (online CRL/OCSP fetching comes later).
 */
#include <string_view>

#include "hanko/certstore/trust_store.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"
#include "hanko/verifier/report.h"

namespace hanko::verifier {

struct VerifyOptions {
  const certstore::TrustStore* signature_trust = nullptr;  ///< anchors for signer certificates
  const certstore::TrustStore* tsa_trust = nullptr;        ///< anchors for TSAs (nullptr: signature_trust)
  TimePoint validation_time;
};

/**
 * Validates the signature of a parsed document Bundle. Errc::no_signature
 * when it carries none, Errc::not_a_document when it is not a document
 * Bundle; every other finding is in the report.
 */
Result<ValidationReport> verify_bundle(const json::Value& bundle, const VerifyOptions& options);

/** Parses, then verify_bundle. Errc::invalid_argument for text that is not JSON. */
Result<ValidationReport> verify_bundle_text(std::string_view text, const VerifyOptions& options);

}  // namespace hanko::verifier
