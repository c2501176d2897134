#pragma once
/**
 * @file jades.h
 * JAdES (ETSI TS 119 182-1) detached JWS for FHIR Bundles.
 *
 * Profile (docs/formats.md has the full text):
 * - protected header: alg (RS256|ES256), x5c (signer first, then chain),
 *   x5t#S256, iat (claimed signing time, NumericDate; TS 119 182-1 since
 *   2025 says iat replaces sigT), srCms [{commId:{id:"urn:oid:<type>"}}].
 *   No crit: TS 119 182-1 clause 5.1.9 requires it only with sigD or b64,
 *   which hanko does not use.
 * - payload: detached (RFC 7515 Appendix F), the canonical #document bytes.
 * - B-B: compact serialization "header..signature".
 * - B-T: flattened JSON serialization with unprotected header
 *   {"etsiU":[b64url({"sigTst":{"tstTokens":[{"val":"<base64 DER>"}]}})]};
 *   the token's imprint is the hash of the ASCII base64url signature value.
 */
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/json.h"
#include "hanko/signer/signing_key.h"

namespace hanko::tsa {
class TimestampSource;
}

namespace hanko::signer {

enum class Level { B_B, B_T };
std::string_view level_name(Level level);  ///< "B-B", "B-T"
std::optional<Level> level_from_name(std::string_view name);

/** The commitment type OID prefix used in srCms: "urn:oid:". */
inline constexpr std::string_view kUrnOid = "urn:oid:";

struct JwsSignParams {
  TimePoint signing_time;
  std::vector<std::string> commitment_oids;  ///< e.g. "1.2.840.10065.1.12.1.1"
  Level level = Level::B_T;
};

/**
 * The certificate side of a signer: what a signature is prepared with when
 * the key is elsewhere (two-step signing), or a key's own certificates.
 */
struct SignerCertificates {
  const X509* certificate = nullptr;  ///< the signer's certificate (not owned)
  std::vector<const X509*> chain;     ///< intermediates, in x5c / KeyInfo order (not owned)
  JwsAlg alg = JwsAlg::RS256;         ///< the algorithm of the signature value
};

/** The certificate, chain and algorithm of `key` (pointers into the key: keep it alive). */
SignerCertificates signer_certificates(const SigningKey& key);

/**
 * Makes a detached JAdES signature over `payload`. For B-T the timestamp
 * source is asked for a token over the signature value; it must not be null.
 * Returns the JWS text (compact for B-B, flattened JSON for B-T).
 * This is prepare_jades, key.sign(signing input), complete_jades.
 */
Result<std::string> make_jades(std::string_view payload, const SigningKey& key, const JwsSignParams& params,
                               tsa::TimestampSource* tsa);

/** A JAdES signature made up to its signature value (the first half of make_jades). */
struct PreparedJws {
  std::string protected_b64;  ///< the protected header as it will be transported (base64url)
  std::string signing_input;  ///< ASCII(protected_b64 || '.' || BASE64URL(payload)): the bytes the key signs
  Level level = Level::B_T;
};

/**
 * The protected header (alg, x5c, x5t#S256, iat, srCms) and the JWS
 * Signing Input of a detached signature over `payload`. No key and no TSA
 * are needed; B-T is timestamped by complete_jades.
 */
Result<PreparedJws> prepare_jades(std::string_view payload, const SignerCertificates& signer,
                                  const JwsSignParams& params);

/**
 * The JWS text of a prepared signature: `signature_value` in JWS form
 * (RSASSA-PKCS1-v1_5 bytes, or ECDSA R||S), and for B-T a timestamp over
 * the ASCII base64url signature value from `tsa` (Errc::invalid_argument when
 * null). The value is not checked here (two_step.h checks values made
 * elsewhere).
 */
Result<std::string> complete_jades(std::string_view protected_b64, Level level, ByteView signature_value,
                                   tsa::TimestampSource* tsa);

/** A JWS as transported, decoded but not checked. */
struct ParsedJws {
  bool json_serialization = false;
  std::string protected_b64;     ///< the protected header as transported (base64url)
  json::Value header;            ///< the decoded protected header (a JSON object)
  std::string payload_b64;       ///< empty for a detached payload
  std::string signature_b64;     ///< the signature value as transported
  Bytes signature;               ///< decoded signature value
  std::vector<json::Value> etsi_u;  ///< decoded etsiU items (objects)
};

/** Parses compact ("h.p.s") or flattened JSON serialization; FORMAT errors are Errc::invalid_argument. */
Result<ParsedJws> parse_jws(std::string_view text);

/** The JWS Signing Input for a detached payload: ASCII(protected_b64 || '.' || BASE64URL(payload)). */
std::string signing_input(std::string_view protected_b64, std::string_view payload);

}  // namespace hanko::signer
