#pragma once
/**
 * @file augment.h
 * Long-term signatures: raising an existing JAdES (FHIR JSON) or XAdES (FHIR
 * XML) signature to baseline B-T, B-LT or B-LTA, and reading the long-term
 * parts of a signature back for validation.
 *
 * Levels (ETSI TS 119 182-1 for JAdES, EN 319 132-1 for XAdES; docs/formats.md
 * section 10 has the exact layouts):
 *  - B-T: a signature timestamp (JAdES etsiU `sigTst`, XAdES
 *    `xades:SignatureTimeStamp`), added when the signature has none.
 *  - B-LT: every certificate (`xVals` / `xades:CertificateValues`) and every
 *    CRL and OCSP response (`rVals` / `xades:RevocationValues`) needed to
 *    validate the signer's chain and each signature timestamp's TSA chain,
 *    collected at `now` while they are valid. Refused (never a silent B-T)
 *    when a chain does not validate at `now`, when a certificate is revoked,
 *    or when revocation data cannot be obtained or fails its checks.
 *  - B-LTA: an archive timestamp (`arcTst` / `xadesv141:ArchiveTimeStamp`)
 *    over the signed data, the signature and every unsigned property before
 *    it. Repeatable: each renewal first adds the validation data of the
 *    previous archive timestamp's TSA (`tstVD` /
 *    `xadesv141:TimeStampValidationData`), then a new archive timestamp that
 *    covers everything before it, optionally with a stronger digest.
 *
 * Augmentation only appends. The signed parts (the JWS protected header and
 * signature value; SignedInfo, SignatureValue, KeyInfo, SignedProperties) and
 * the existing unsigned properties are kept byte for byte; the rest of the
 * Bundle text is kept too (only Bundle.signature.data changes), unless the
 * old data value cannot be found verbatim in the text, in which case the
 * Bundle is re-serialized (JSON: two-space indentation; XML: as parsed).
 *
 * Trust assumptions: the input is untrusted. Before anything is added the
 * signature value is verified (JAdES: over the #document bytes with x5c[0];
 * XAdES: signer::verify_xades_core), and an existing last archive timestamp
 * must still match what it covers. Trust in the certificates comes only from
 * the TrustStores in the ExtendContext; revocation only from the
 * RevocationChecker (its checks, its cache, its network access). Nothing here
 * reads the clock: `now` is passed in.
 */
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"

namespace hanko {
class HttpClient;
}
namespace hanko::tsa {
class TimestampSource;
}
namespace hanko::certstore {
class TrustStore;
class RevocationChecker;
}  // namespace hanko::certstore

namespace hanko::signer {

/** The levels a signature can be raised to. */
enum class ExtendLevel { B_T, B_LT, B_LTA };
/** "B-T", "B-LT", "B-LTA". */
std::string_view extend_level_name(ExtendLevel level);
/** Parses "B-T"/"b-t", "B-LT"/"b-lt", "B-LTA"/"b-lta"; nullopt otherwise. */
std::optional<ExtendLevel> extend_level_from_name(std::string_view name);

/** The baseline level a signature carries (what is present, not whether it is valid). */
enum class SignatureLevel { B_B, B_T, B_LT, B_LTA };
/** "B-B", "B-T", "B-LT", "B-LTA". */
std::string_view signature_level_name(SignatureLevel level);

/** What augmentation needs. Pointers are not owned and must outlive the call. */
struct ExtendContext {
  /** Signature timestamps (B-T) and archive timestamps (B-LTA); required for those steps. */
  tsa::TimestampSource* tsa = nullptr;
  /** Anchors and intermediates for the signer's chain; required for B-LT and B-LTA. */
  const certstore::TrustStore* signature_trust = nullptr;
  /** Anchors for TSA chains; nullptr: signature_trust. */
  const certstore::TrustStore* tsa_trust = nullptr;
  /** Where OCSP responses and CRLs come from (its network, cache and CRL files); required for B-LT and B-LTA. */
  const certstore::RevocationChecker* revocation = nullptr;
  /** Fetches intermediates missing from the signature by their AIA caIssuers URL; nullptr: no fetching. */
  const HttpClient* aia_fetcher = nullptr;
  /** The time of the augmentation: chains and revocation are checked at this time. */
  TimePoint now;
  /** The message-imprint digest of a new archive timestamp (sha256, or sha384/sha512 for a stronger renewal). */
  DigestAlg archive_digest = DigestAlg::sha256;
};

/** The outcome of an augmentation. */
struct ExtendedBundle {
  std::string bundle;               ///< the Bundle text with the new Bundle.signature.data
  SignatureLevel before = SignatureLevel::B_B;
  SignatureLevel after = SignatureLevel::B_B;
  bool changed = false;             ///< false: the signature already was at the level asked (Bundle returned as given)
  std::size_t certificates_added = 0;
  std::size_t crls_added = 0;
  std::size_t ocsp_responses_added = 0;
  std::vector<TimePoint> timestamps_added;  ///< genTime of each timestamp added, in order
  std::vector<std::string> notes;           ///< one line per thing added, for logs and API answers
};

/**
 * Raises the signature of a signed FHIR document Bundle, JSON (JAdES) or XML
 * (XAdES; chosen by the first non-blank byte '<'), to `target`.
 *
 * Raising only: a signature already at `target` (or above it, for B-T and
 * B-LT) is returned unchanged (changed = false); B-LTA on a B-LTA signature
 * renews it with one more archive timestamp. Lower levels are passed through
 * on the way (B-B -> B-T -> B-LT -> B-LTA).
 *
 * Errors: Errc::invalid_argument (not JSON/XML, the signature does not verify,
 * malformed validation data, an earlier archive timestamp that no longer
 * matches), Errc::not_a_document, Errc::no_signature, Errc::unsupported
 * (clear-JSON etsiU items, the general JWS JSON serialization, an
 * UnsignedProperties without UnsignedSignatureProperties), Errc::policy (a
 * chain that does not validate at `now`, a revoked certificate: B-LT data can
 * only be collected while the certificates are valid; a new timestamp whose
 * TSA does not validate with the TSA trust at `now`: every new token is
 * checked before it is added, unless no trust store is set), Errc::network
 * (revocation data could not be obtained), Errc::remote_rejected (revocation
 * data failed its checks or says "unknown"; a TSA refused), and the
 * TimestampSource's errors.
 */
Result<ExtendedBundle> extend_bundle(std::string_view bundle, ExtendLevel target, const ExtendContext& ctx);

/** extend_bundle(), the Bundle text only. */
Result<std::string> extend_bundle_text(std::string_view bundle, ExtendLevel target, const ExtendContext& ctx);

/** JSON only (JAdES). */
Result<ExtendedBundle> extend_json_bundle(std::string_view bundle, ExtendLevel target, const ExtendContext& ctx);
/** XML only (XAdES). */
Result<ExtendedBundle> extend_xml_bundle(std::string_view bundle, ExtendLevel target, const ExtendContext& ctx);

// --- Reading the long-term parts back (for the verifier) -------------------------

/** One timestamp token in the unsigned properties. */
struct EmbeddedTimestamp {
  enum class Kind { signature, archive };
  Kind kind = Kind::signature;
  Bytes token;             ///< the RFC 3161 TimeStampToken, DER
  std::string covered;     ///< the exact bytes its messageImprint must be the digest of
  std::size_t position = 0;  ///< index of its unsigned property (etsiU item / UnsignedSignatureProperties child)
};

/** Certificates and revocation data of one unsigned property. */
struct EmbeddedValues {
  enum class Kind {
    signature,  ///< JAdES xVals / rVals, XAdES CertificateValues / RevocationValues
    timestamp,  ///< JAdES tstVD, XAdES xadesv141:TimeStampValidationData
  };
  Kind kind = Kind::signature;
  std::size_t position = 0;
  std::vector<Bytes> certificates;    ///< DER certificates
  std::vector<Bytes> crls;            ///< DER CertificateLists
  std::vector<Bytes> ocsp_responses;  ///< DER OCSPResponses
};

/** The long-term parts of a signature, in document order. */
struct LongTermView {
  SignatureLevel level = SignatureLevel::B_B;
  std::vector<EmbeddedTimestamp> timestamps;  ///< signature and archive timestamps, in order
  std::vector<EmbeddedValues> values;         ///< validation data, in order
  std::vector<std::string> ignored;           ///< unsigned properties not processed, one line each
  std::size_t property_count = 0;             ///< number of unsigned properties
};

/**
 * Reads sigTst, xVals, rVals, tstVD and arcTst from a JWS as transported
 * (compact: B-B, nothing to read; flattened JSON serialization otherwise).
 * `document` is the detached payload (the #document bytes the JWS signs):
 * an archive timestamp covers BASE64URL(document) "." protected "."
 * signature "." and every earlier etsiU item as transported (TS 119 182-1
 * clause 5.3.6.3, base64url items). Errc::invalid_argument for a malformed
 * item (a sigTst or arcTst without exactly one token, values that are not
 * base64 DER, mixed base64url and clear JSON items); Errc::unsupported for an
 * arcTst among clear-JSON items (it would need canonAlg canonicalization).
 * Other etsiU items are listed in `ignored`.
 */
Result<LongTermView> read_jades_long_term(std::string_view jws, std::string_view document);

/**
 * Reads SignatureTimeStamp, CertificateValues, RevocationValues,
 * xadesv141:TimeStampValidationData and xadesv141:ArchiveTimeStamp from a
 * ds:Signature document of hanko's XAdES profile (as verify_xades_core
 * accepts it). `document` is the FHIR XML #document bytes (the octets of the
 * document Reference). An ArchiveTimeStamp covers (EN 319 132-1 clause
 * 5.5.2.2): the output of each ds:Reference in order (the document octets;
 * the exclusive C14N of SignedProperties), then the canonicalized
 * ds:SignedInfo, ds:SignatureValue and ds:KeyInfo, then each earlier child of
 * UnsignedSignatureProperties, canonicalized with the timestamp's
 * CanonicalizationMethod (exclusive C14N or C14N 1.1, without comments).
 * Errc::invalid_argument for malformed properties; other properties are
 * listed in `ignored`.
 */
Result<LongTermView> read_xades_long_term(std::string_view signature_xml, std::string_view document);

}  // namespace hanko::signer
