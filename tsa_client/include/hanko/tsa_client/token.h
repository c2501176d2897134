#pragma once
/**
 * @file token.h
 * RFC 3161 TimeStampToken parsing and verification.
 *
 * Trust assumptions: a token is untrusted input. parse_token() only decodes;
 * verify_token() is the check. The TSA is trusted only through the TrustStore
 * passed in (its anchors and the id-kp-timeStamping purpose), and only at the
 * time passed in; nothing here reads a clock.
 */
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "hanko/certstore/trust_store.h"
#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"
#include "hanko/common/ossl.h"

namespace hanko::tsa {

/** The content of a TimeStampToken (its TSTInfo and certificates). */
struct TokenInfo {
  /** TSTInfo.genTime (fractions of a second kept down to microseconds). */
  TimePoint gen_time;
  /** TSTInfo.accuracy as a duration; nullopt when absent. */
  std::optional<std::chrono::microseconds> accuracy;
  /** TSTInfo.serialNumber in upper-case hex. */
  std::string serial_hex;
  /** TSTInfo.policy as a dotted OID. */
  std::string policy_oid;
  /** TSTInfo.messageImprint.hashAlgorithm (only hanko's allow-list is representable). */
  DigestAlg imprint_alg = DigestAlg::sha256;
  /** TSTInfo.messageImprint.hashedMessage. */
  Bytes imprint;
  /** TSTInfo.nonce as unsigned big-endian bytes; nullopt when absent. */
  std::optional<Bytes> nonce;
  /** The signer certificate found in the token (nullptr if the token carries none). */
  ossl::X509Ptr tsa_cert;
  /** All certificates in the token, in token order. */
  std::vector<ossl::X509Ptr> certs;
};

/**
 * Parses a TimeStampToken (CMS ContentInfo, DER) without checking it.
 *
 * RFC 3161 2.4.2: "The time-stamp token MUST NOT contain any signatures other
 * than the signature of the TSA." A token with other than exactly one
 * SignerInfo, an eContentType other than id-ct-TSTInfo, trailing bytes or an
 * imprint algorithm outside sha256/384/512 is refused (Errc::invalid_argument,
 * Errc::unsupported for the algorithm).
 */
Result<TokenInfo> parse_token(ByteView token_der);

/** The outcome of verify_token(), from the first failed check. */
enum class TokenStatus {
  ok,
  malformed,          ///< not a TimeStampToken, or an imprint algorithm off the allow-list
  imprint_mismatch,   ///< messageImprint is not the digest of the data
  signature_invalid,  ///< the CMS signature (or content digest) does not verify, or no signer certificate
  signer_mismatch,    ///< SigningCertificate(V2) ESSCertID(v2) does not name the signer certificate
  chain_failure,      ///< the TSA certificate does not chain to the trust store for timestamping at `at`
};

/** The report of verify_token(). `info` is set whenever the token parsed. */
struct TokenVerification {
  TokenStatus status = TokenStatus::malformed;
  std::string message;
  std::optional<TokenInfo> info;
  certstore::ChainResult chain;
};

/** The name of a TokenStatus ("ok", "imprint_mismatch", ...). */
std::string_view token_status_name(TokenStatus s);

/**
 * Checks a token over `data`, in this order:
 *  1. structure (parse_token);
 *  2. messageImprint: the digest of `data` is recomputed with the token's
 *     imprint algorithm (sha256/384/512 only) and compared in constant time.
 *     RFC 3161 2.4.2: "The messageImprint MUST have the same value as the
 *     similar field in TimeStampReq";
 *  3. the CMS signature of the single signer, over the signed attributes and
 *     the encapsulated TSTInfo, with the signer certificate from the token;
 *  4. ESSCertID / ESSCertIDv2 of SigningCertificate(V2): RFC 3161 2.4.1 and
 *     RFC 5816: the first certificate identifier must be the signer's;
 *  5. the TSA certificate: chain to `trust` at time `at` with the
 *     timestamping purpose, and RFC 3161 2.3: "The corresponding certificate
 *     MUST contain only one instance of the extended key usage field extension
 *     ... with KeyPurposeID having value: id-kp-timeStamping. This extension
 *     MUST be critical." A TSA certificate whose EKU is not critical fails
 *     here (chain_failure).
 * @param at the time at which the TSA certificate must be valid (usually genTime
 *        for a fresh token, or a later point under long-term validation).
 */
TokenVerification verify_token(ByteView token_der, ByteView data, const certstore::TrustStore& trust, TimePoint at);

}  // namespace hanko::tsa
