#pragma once
/**
 * @file bundle.h
 * Signing a FHIR R4 document Bundle: the #document bytes (root id, meta and
 * signature removed, canonicalized) are signed with a detached JAdES JWS,
 * and Bundle.signature is filled (type, when, who, sigFormat
 * application/jose, targetFormat, data).
 */
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/jades.h"
#include "hanko/signer/signing_key.h"

namespace hanko::signer {

/** The coding system of Signature.type (ASTM E1762-95). */
inline constexpr std::string_view kSignatureTypeSystem = "urn:iso-astm:E1762-95:2013";
/** Author's Signature, the default Signature.type. */
inline constexpr std::string_view kAuthorSignature = "1.2.840.10065.1.12.1.1";

/** The display text of an ASTM E1762-95 signature type code (1.2.840.10065.1.12.1.1 to .18); nullopt if unknown. */
std::optional<std::string_view> signature_type_display(std::string_view code);

struct SignOptions {
  Level level = Level::B_T;
  TimePoint signing_time;                            ///< passed in: nothing below server/ reads the clock
  std::string signature_type = std::string(kAuthorSignature);
  const Canonicalizer* canonicalizer = nullptr;      ///< nullptr: JCS
  bool replace = false;                              ///< replace an existing Bundle.signature
  /**
   * XAdES only: the suffix of the ds:Signature element Ids (sig-<suffix>,
   * sp-<suffix>, ...), 1-64 characters of [A-Za-z0-9_-]; empty: 16 random hex
   * digits. For reproducing a signature (tests, two-step comparisons).
   */
  std::string xml_id_suffix;
};

/** Parses a FHIR JSON Bundle of type document (Errc::invalid_argument, Errc::not_a_document). */
Result<json::Value> parse_document_bundle(std::string_view text, std::size_t max_bytes = 64u << 20);

/** The Composition of a document Bundle: the resource of the first entry (bdl-11), or nullptr. */
const json::Value* composition_of(const json::Value& bundle);

/** Checks that a parsed resource is a Bundle of type document. */
Result<void> check_document_bundle(const json::Value& bundle);

struct SignedBundle {
  json::Value bundle;         ///< with Bundle.signature filled
  std::string jws;            ///< the JWS text (also in signature.data, base64)
  std::string canonical_sha256_hex;  ///< SHA-256 of the signed #document bytes
};

/**
 * Signs a document Bundle. Refuses (Errc::already_signed) a Bundle that has a
 * signature unless options.replace. B-T needs `tsa`.
 * This is prepare_bundle, key.sign(signing input), complete_bundle.
 */
Result<SignedBundle> sign_bundle(json::Value bundle, const SigningKey& key, tsa::TimestampSource* tsa,
                                 const SignOptions& options);

/**
 * A Bundle signature made up to its signature value: everything that is
 * signed is fixed here (the #document bytes, the protected header with the
 * signing time, Bundle.signature but for its `data`).
 */
struct PreparedBundle {
  json::Value bundle;                ///< the Bundle with Bundle.signature filled but for `data` (added last)
  PreparedJws jws;                   ///< the protected header and the bytes to sign
  std::string canonical_sha256_hex;  ///< SHA-256 of the signed #document bytes
};

/**
 * The first half of sign_bundle, without a key: checks the Bundle and the
 * options as sign_bundle does (Errc::not_a_document, already_signed,
 * invalid_argument) and fixes what will be signed. `signer.certificate` and
 * `signer.chain` go into x5c, `signer.alg` into alg.
 */
Result<PreparedBundle> prepare_bundle(json::Value bundle, const SignerCertificates& signer, const SignOptions& options);

/**
 * The second half: the JWS of `prepared` with `signature_value` (JWS form,
 * not checked here), B-T timestamped by `tsa`, as Bundle.signature.data.
 */
Result<SignedBundle> complete_bundle(PreparedBundle prepared, ByteView signature_value, tsa::TimestampSource* tsa);

/** Bundle.identifier.value, or empty. */
std::string bundle_identifier(const json::Value& bundle);

}  // namespace hanko::signer
