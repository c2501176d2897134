#pragma once
/**
 * @file xades.h
 * XAdES (ETSI EN 319 132-1 baseline B-B and B-T) detached signatures for FHIR
 * XML document Bundles, and the signature-core checks of a signed one.
 *
 * Profile (docs/formats.md section 9 has it element by element):
 * - a detached ds:Signature with exclusive C14N 1.0 for SignedInfo,
 *   rsa-sha256 or ecdsa-sha256 (raw r||s value), and exactly two References:
 *   the FHIR XML `#document` bytes (URI = Bundle.identifier.value, no
 *   Transforms, SHA-256) and the xades:SignedProperties (by Id, exclusive
 *   C14N, SHA-256);
 * - KeyInfo/X509Data with the signer certificate then its chain;
 * - SignedProperties: SigningTime, SigningCertificateV2 (CertDigest SHA-256,
 *   IssuerSerialV2), DataObjectFormat (application/fhir+xml),
 *   CommitmentTypeIndication (urn:oid:<Signature.type>, AllSignedDataObjects);
 * - B-T: one SignatureTimeStamp over the exclusive C14N of ds:SignatureValue.
 * The ds:Signature document is carried base64 in Bundle.signature.data
 * (sigFormat application/signature+xml), the last child of the root Bundle.
 *
 * Trust assumptions: verify_xades_core() takes untrusted input. It checks the
 * structure (signature-wrapping defences), the two reference digests, the
 * signing-certificate reference and the signature value. It does NOT
 * establish trust in the certificate (chain, revocation, validity time) or
 * in the timestamps: it returns what those checks need. No clock is read.
 */
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/jades.h"
#include "hanko/signer/signing_key.h"

namespace hanko::tsa {
class TimestampSource;
}

namespace hanko::signer {

/** XML-DSig namespace. */
inline constexpr std::string_view kXmlDsigNamespace = "http://www.w3.org/2000/09/xmldsig#";
/** XAdES 1.3.2 namespace (EN 319 132-1). */
inline constexpr std::string_view kXadesNamespace = "http://uri.etsi.org/01903/v1.3.2#";
/** ds:Reference/@Type of the SignedProperties reference. */
inline constexpr std::string_view kXadesSignedPropertiesType = "http://uri.etsi.org/01903#SignedProperties";
/** Algorithm URIs of the profile. */
inline constexpr std::string_view kXmlExcC14n = "http://www.w3.org/2001/10/xml-exc-c14n#";
inline constexpr std::string_view kXmlDsigSha256 = "http://www.w3.org/2001/04/xmlenc#sha256";
inline constexpr std::string_view kXmlDsigRsaSha256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
inline constexpr std::string_view kXmlDsigEcdsaSha256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/** Bundle.signature.sigFormat and targetFormat of an XML signature. */
inline constexpr std::string_view kXmlSigFormat = "application/signature+xml";
inline constexpr std::string_view kXmlTargetFormat =
    "application/fhir+xml;canonicalization=http://hl7.org/fhir/canonicalization/xml#document";

/** The result of sign_xml_bundle(). */
struct SignedXmlBundle {
  std::string bundle_xml;            ///< the Bundle with its FHIR `<signature>` appended (UTF-8, XML declaration)
  std::string signature_xml;         ///< the ds:Signature document (also base64 in signature/data)
  std::string document_sha256_hex;   ///< SHA-256 of the signed #document bytes
};

/**
 * Signs a FHIR XML document Bundle with a XAdES baseline signature.
 *
 * Refused: not a FHIR document Bundle (Errc::not_a_document), no
 * Bundle.identifier.value or one starting with '#' (Errc::invalid_argument:
 * it is the document Reference URI), a Bundle with a signature unless
 * options.replace (Errc::already_signed), an unknown signature type
 * (Errc::invalid_argument), B-T without `tsa` (Errc::invalid_argument).
 * options.canonicalizer is ignored (XML always uses the FHIR XML #document).
 * SigningTime and Signature.when are options.signing_time truncated to
 * whole seconds.
 */
Result<SignedXmlBundle> sign_xml_bundle(std::string_view bundle_xml, const SigningKey& key,
                                        tsa::TimestampSource* tsa, const SignOptions& options);

/**
 * A XAdES Bundle signature made up to its signature value (the first half
 * of sign_xml_bundle): SignedInfo, SignedProperties (with the signing time),
 * KeyInfo and the FHIR Bundle.signature are fixed.
 */
struct PreparedXmlBundle {
  std::string signature_xml;     ///< the ds:Signature document, ds:SignatureValue still empty
  std::string id_suffix;         ///< the Ids' suffix: sig-<id_suffix>, sv-<id_suffix>, ts-<id_suffix>, ...
  std::string signed_info_c14n;  ///< exclusive C14N of ds:SignedInfo: the bytes the key signs
  Bytes signed_info_sha256;      ///< SHA-256 of signed_info_c14n (checked again by complete_xml_bundle)
  std::string bundle_head;       ///< the signed Bundle XML is bundle_head + base64(final ds:Signature) + bundle_tail
  std::string bundle_tail;
  Level level = Level::B_T;
  std::string document_sha256_hex;  ///< SHA-256 of the signed #document bytes
  std::string document_identifier;  ///< Bundle.identifier.value (the document Reference URI)
};

/**
 * The first half of sign_xml_bundle, without a key: the same checks
 * (Errc::not_a_document, invalid_argument, already_signed), the same
 * document. `signer.alg` picks rsa-sha256 or ecdsa-sha256.
 */
Result<PreparedXmlBundle> prepare_xml_bundle(std::string_view bundle_xml, const SignerCertificates& signer,
                                             const SignOptions& options);

/**
 * The second half: puts `signature_value` (RSASSA-PKCS1-v1_5 bytes, or
 * ECDSA r||s; not checked here) into ds:SignatureValue, adds the
 * SignatureTimeStamp from `tsa` for B-T, and assembles the Bundle.
 * Errc::internal when ds:SignedInfo no longer canonicalizes to
 * signed_info_sha256 (the prepared state was changed).
 */
Result<SignedXmlBundle> complete_xml_bundle(const PreparedXmlBundle& prepared, ByteView signature_value,
                                            tsa::TimestampSource* tsa);

/**
 * Checks that a prepared signature read back from storage still signs what
 * it says: ds:SignedInfo canonicalizes to signed_info_sha256, the
 * SignedProperties digest and the #document digest of the Bundle
 * (bundle_head + bundle_tail) match their References, and the latter is
 * document_sha256_hex. Errc::internal otherwise.
 */
Result<void> check_prepared_xml_bundle(const PreparedXmlBundle& prepared);

/** The outcome of the signature-core checks (EN 319 102-1 sub-indications). */
enum class XadesStatus {
  ok,
  format_failure,                ///< FORMAT_FAILURE: malformed, missing parts, off-profile, wrapping
  hash_failure,                  ///< HASH_FAILURE: a reference digest (document or SignedProperties) differs
  sig_crypto_failure,            ///< SIG_CRYPTO_FAILURE: SignatureValue does not verify over c14n(SignedInfo)
  no_signing_certificate_found,  ///< NO_SIGNING_CERTIFICATE_FOUND: SigningCertificateV2 names no KeyInfo certificate
};

/** "ok", "FORMAT_FAILURE", "HASH_FAILURE", "SIG_CRYPTO_FAILURE", "NO_SIGNING_CERTIFICATE_FOUND". */
std::string_view xades_status_name(XadesStatus status);

/** One xades:SignatureTimeStamp. */
struct XadesTimestamp {
  Bytes token_der;      ///< the RFC 3161 TimeStampToken (EncapsulatedTimeStamp, decoded)
  std::string covered;  ///< the exact bytes its messageImprint must cover (c14n of ds:SignatureValue)
};

/** What verify_xades_core() found. Fields are filled as far as parsing got. */
struct XadesCore {
  XadesStatus status = XadesStatus::format_failure;
  std::string message;                    ///< why, when status != ok
  ossl::X509Ptr signer_cert;              ///< the KeyInfo certificate SigningCertificateV2 names
  std::vector<ossl::X509Ptr> chain;       ///< the other KeyInfo certificates, in document order
  std::optional<TimePoint> signing_time;  ///< xades:SigningTime (claimed)
  std::string commitment_type;            ///< CommitmentTypeId/Identifier, "urn:oid:" removed
  std::vector<std::string> fhir_signature_types;  ///< Bundle.signature.type codes
  std::optional<JwsAlg> alg;              ///< RS256 = rsa-sha256, ES256 = ecdsa-sha256
  Level level = Level::B_B;               ///< B_T when a SignatureTimeStamp is present
  std::vector<XadesTimestamp> timestamps; ///< SignatureTimeStamps, document order
  std::string document_uri;               ///< the document Reference URI (= Bundle.identifier.value)
  std::string document_sha256_hex;        ///< SHA-256 of the recomputed #document bytes
  std::string signature_xml;              ///< the decoded ds:Signature document
  /**
   * The parts of the Bundle that the qualification policy reads, in FHIR JSON
   * shape: {"resourceType":"Bundle","identifier":{"value"},"entry":[{"fullUrl",
   * "resource":{"resourceType","id", Composition "type"/"author", Practitioner
   * "name", PractitionerRole "practitioner"}}],"signature":{"who":{"reference"}}}.
   * Set whenever the Bundle parsed, whatever the status.
   */
  json::Value policy_view;
};

/**
 * Reads the ds:Signature from Bundle.signature.data of a signed FHIR XML
 * document Bundle and checks its core (docs/formats.md section 9, "What the
 * verifier checks"). Errors (the Result) only for input that is not a
 * parseable FHIR document Bundle (Errc::invalid_argument, not_a_document,
 * too_large, unsupported) or that has no Bundle.signature (Errc::no_signature);
 * every defect of the signature itself is a status in XadesCore.
 */
Result<XadesCore> verify_xades_core(std::string_view signed_bundle_xml);

/** The policy view (see XadesCore::policy_view) of a FHIR XML document Bundle, for the signing-side checks. */
Result<json::Value> xml_policy_view(std::string_view bundle_xml);

}  // namespace hanko::signer
