#pragma once
/**
 * @file two_step.h
 * Two-step signing, for keys that never leave the signer's device (an HPKI
 * card, a remote signing service): hanko prepares the signature, the device
 * signs one SHA-256 hash, hanko checks the value and finishes.
 *
 *   prepare_json_signature / prepare_xml_signature
 *       fix everything that is signed (the #document bytes, the signing
 *       time, the JWS protected header or the XAdES SignedInfo and
 *       SignedProperties, Bundle.signature but for its data) and say what to
 *       sign: hash_to_sign = SHA-256 of the JWS Signing Input (JAdES) or of
 *       the exclusive C14N of ds:SignedInfo (XAdES);
 *   the device signs: RSASSA-PKCS1-v1_5 over digest_info(hash_to_sign)
 *       (CKM_RSA_PKCS on a card), or ECDSA P-256 over hash_to_sign
 *       (CKM_ECDSA);
 *   complete_signature
 *       checks the value with the certificate over hash_to_sign (ECDSA as
 *       DER or as r||s, normalised to r||s, the form of JWS and of the
 *       profile's ecdsa-sha256), adds the B-T timestamp and returns exactly
 *       the prepared document with the value in it.
 *
 * One-step signing (sign_bundle, sign_xml_bundle) runs the same halves with
 * a SigningKey in between, so both produce the same bytes.
 *
 * A PreparedSignature can be stored (to_json / prepared_signature_from_json,
 * e.g. in a store::SigningSession) and completed elsewhere. Trust: the
 * stored form is hanko's own state, trusted as written; reading it checks
 * again that what will be returned is what is signed (JSON: the #document
 * and the protected header hash to hash_to_sign; XML: ds:SignedInfo hashes
 * to it and its References match the SignedProperties and the Bundle's
 * #document; Errc::internal otherwise), so that the two halves cannot
 * drift apart. The signature
 * value is untrusted input: it is used only after it verified.
 */
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/jades.h"
#include "hanko/signer/xades.h"

namespace hanko::tsa {
class TimestampSource;
}

namespace hanko::signer {

/** FHIR JSON (signed with JAdES) or FHIR XML (signed with XAdES). */
enum class DocumentFormat { fhir_json, fhir_xml };

/** The version tag of PreparedSignature's stored form. */
inline constexpr std::string_view kPreparedSignatureFormat = "hanko-prepared-signature/1";

/** A signature prepared for a key that signs elsewhere. */
struct PreparedSignature {
  DocumentFormat format = DocumentFormat::fhir_json;
  Level level = Level::B_T;
  JwsAlg alg = JwsAlg::RS256;
  TimePoint signing_time;            ///< whole seconds (JWS iat, XAdES SigningTime, Signature.when)
  ossl::X509Ptr certificate;         ///< the signer's certificate: the value must verify with its key
  Bytes hash_to_sign;                ///< SHA-256 of the bytes to be signed (32 bytes)
  std::string document_identifier;   ///< Bundle.identifier.value, or ""
  std::string document_sha256_hex;   ///< SHA-256 of the signed #document bytes
  std::string canonicalization;      ///< JSON: the Canonicalizer's name ("jcs", "fhir-json")
  std::optional<PreparedBundle> json;     ///< format fhir_json
  std::optional<PreparedXmlBundle> xml;   ///< format fhir_xml
};

/**
 * Prepares a JAdES signature of a FHIR JSON document Bundle for the
 * certificate `signer.certificate` (x5c: it, then `signer.chain`), whose
 * key must be on hanko's allow-list (RSA >= 2048 bits or EC P-256; else
 * Errc::policy); `signer.alg` is ignored and taken from the certificate.
 * The same refusals as sign_bundle.
 */
Result<PreparedSignature> prepare_json_signature(json::Value bundle, const SignerCertificates& signer,
                                                 const SignOptions& options);

/** The same for a FHIR XML document Bundle and XAdES (refusals as sign_xml_bundle). */
Result<PreparedSignature> prepare_xml_signature(std::string_view bundle_xml, const SignerCertificates& signer,
                                                const SignOptions& options);

/** "RS256"/"ES256" (JAdES), or the XML-DSig SignatureMethod URI (XAdES). */
std::string signature_algorithm(const PreparedSignature& prepared);

/** The DER DigestInfo (RFC 8017 section 9.2) of hash_to_sign: what an RSA card signs with CKM_RSA_PKCS. */
Bytes digest_info(const PreparedSignature& prepared);

/**
 * Checks a signature value made elsewhere over hash_to_sign with the
 * prepared certificate's key and returns it in the form the format needs.
 * RSA: RSASSA-PKCS1-v1_5 with SHA-256, exactly as long as the modulus.
 * ECDSA P-256: the DER Ecdsa-Sig-Value or the 64-byte r||s; returned as r||s.
 * A value of the wrong shape: Errc::invalid_argument; one that does not
 * verify (another key, other bytes): Errc::policy, naming the certificate.
 */
Result<Bytes> check_signature_value(const PreparedSignature& prepared, ByteView value);

/** The signed document. */
struct CompletedSignature {
  DocumentFormat format = DocumentFormat::fhir_json;
  json::Value bundle;               ///< fhir_json: the Bundle with Bundle.signature
  std::string bundle_xml;           ///< fhir_xml: the Bundle with Bundle.signature
  std::string document_sha256_hex;  ///< SHA-256 of the signed #document bytes
};

/**
 * check_signature_value, then the prepared document with the value (and for
 * B-T the timestamp from `tsa`, Errc::invalid_argument when null).
 */
Result<CompletedSignature> complete_signature(PreparedSignature prepared, ByteView value, tsa::TimestampSource* tsa);

/** The stored form (a JSON object tagged kPreparedSignatureFormat). The bytes to sign are not kept, only their hash. */
json::Value to_json(const PreparedSignature& prepared);

/**
 * Reads the stored form back. Errc::internal when it is not what to_json
 * writes, or when the document no longer hashes to hash_to_sign.
 */
Result<PreparedSignature> prepared_signature_from_json(const json::Value& stored);

}  // namespace hanko::signer
