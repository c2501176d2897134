#pragma once
/**
 * @file revocation.h
 * Revocation status of one certificate from OCSP (RFC 6960) and CRLs
 * (RFC 5280), with an optional cache in the database so that a verification
 * needs no network while the data is fresh.
 *
 * WARNING - trust assumptions:
 *  - The caller vouches for `issuer`: it must be the certificate that issued
 *    `cert` on an already validated chain (check() only confirms that
 *    `issuer` signed `cert`). CRLs must be signed by that issuer's key, and
 *    OCSP responses by the issuer itself, by a responder certificate the
 *    issuer issued with id-kp-OCSPSigning, or by a responder anchored in the
 *    `ocsp_trust` store given to the constructor. Nothing else is trusted.
 *  - Everything fetched over the network or read from the cache or from
 *    configured CRL files is untrusted input: it is parsed with bounds
 *    (HttpClient size limit, max_crl_bytes for files), and every check
 *    (signature, issuer, scope, times) runs again each time it is used,
 *    including for cached data.
 *  - Not supported (reported as `invalid`, never silently accepted): delta
 *    CRLs, indirect CRLs, CRLs partitioned by reason, unknown critical CRL or
 *    CRL entry extensions. The revocation status of a delegated OCSP
 *    responder's own certificate is not checked (RFC 6960 section 4.2.2.2.1
 *    leaves this to local policy; responders normally carry
 *    id-pkix-ocsp-nocheck).
 *  - No wall clock: the validation time `at` is passed in; the cache records
 *    `at` as fetched_at.
 */
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "hanko/certstore/trust_store.h"
#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/http_client.h"

namespace hanko::store {
class Database;
}

namespace hanko::certstore {

/** The revocation status of a certificate. */
enum class RevocationStatus {
  good,         ///< a fresh, authentic source says the certificate is not revoked
  revoked,      ///< a fresh, authentic source lists it (revocation_time says when; it may be after `at`)
  unknown,      ///< an authentic OCSP response says "unknown" (RFC 6960 section 2.2)
  unavailable,  ///< no usable data could be obtained: network error, HTTP error, tryLater, stale data, no URL
  invalid,      ///< data was obtained but failed a check (signature, issuer, authorization, nonce, scope, times, syntax)
};

/** Where a status came from. */
enum class RevocationSourceKind { ocsp, crl };

/** "good", "revoked", "unknown", "unavailable", "invalid". */
std::string_view revocation_status_name(RevocationStatus s);
/** "ocsp", "crl". */
std::string_view revocation_source_name(RevocationSourceKind k);
/**
 * The RFC 5280 section 5.3.1 name of a CRLReason code ("keyCompromise", ...),
 * or "reason(N)" for a value the RFC does not define.
 */
std::string revocation_reason_name(int code);

/** The outcome of RevocationChecker::check. */
struct RevocationResult {
  RevocationStatus status = RevocationStatus::unavailable;
  /** The source that decided (for unavailable/invalid: the last source tried). */
  RevocationSourceKind source = RevocationSourceKind::ocsp;
  /** The URL the deciding data came from (a file path for configured CRL files; "" when nothing was tried). */
  std::string url;
  /** revocationDate (CRL) or revocationTime (OCSP) when status is revoked. */
  std::optional<TimePoint> revocation_time;
  /** CRLReason name (revocation_reason_name) when the source gave one. */
  std::optional<std::string> revocation_reason;
  /** thisUpdate / nextUpdate of the deciding CRL or single response; producedAt of an OCSP response. */
  std::optional<TimePoint> this_update, next_update, produced_at;
  /** The data came from the database cache, not from the network. */
  bool from_cache = false;
  /** Subject (RFC 2253) of the OCSP signer or the CRL issuer of the deciding data. */
  std::string responder;
  /** One line a person understands, naming the certificate and the URL(s). */
  std::string message;
  /** Each source tried and its outcome, in order, e.g. "OCSP http://127.0.0.1:5/ocsp: connection refused". */
  std::vector<std::string> attempts;
  /**
   * For good, revoked and unknown: the data that decided, DER (a CRL's
   * CertificateList, or the whole OCSPResponse), re-encoded from the parsed
   * object for CRLs (so a PEM CRL becomes DER) and as received for OCSP. This
   * is what a long-term signature embeds (JAdES rVals, XAdES RevocationValues).
   */
  Bytes der;
  /** For OCSP: the DER certificate that signed the response (the CA or a delegated responder); else empty. */
  Bytes responder_certificate;
};

/**
 * Revocation data carried inside a signature (JAdES rVals/tstVD, XAdES
 * RevocationValues/TimeStampValidationData): untrusted bytes, checked exactly
 * like fetched data.
 */
struct SuppliedRevocationData {
  std::vector<Bytes> crls;            ///< DER CertificateList
  std::vector<Bytes> ocsp_responses;  ///< DER OCSPResponse
};

/** How supplied revocation data must relate to the time given to check_supplied(). */
enum class SuppliedTime {
  /** Fresh at `at`, exactly as fetched data must be (thisUpdate <= at + skew, at <= nextUpdate). */
  current_at,
  /**
   * Issued at or after `at` (thisUpdate >= at - clock_skew), so that it would
   * list a revocation that happened before `at`. Its nextUpdate is not held
   * against it: long-term validation reads it years later (EN 319 102-1
   * 5.6.2.1 past certificate validation; the caller establishes its proof of
   * existence). Every other check (signature, issuer, authorization, scope,
   * responder validity at producedAt) runs as for fetched data, at the
   * datum's own thisUpdate (CRL) or max(thisUpdate, producedAt) (OCSP).
   */
  issued_after,
};

/** Which sources to consult and in what order. */
enum class RevocationOrder { ocsp_then_crl, crl_then_ocsp, ocsp_only, crl_only };

/** Settings of a RevocationChecker. */
struct RevocationOptions {
  RevocationOrder order = RevocationOrder::ocsp_then_crl;
  /** false: no network at all; only the cache and crl_files are consulted. */
  bool fetch = true;
  /**
   * Send a nonce (RFC 6960 section 4.4.1) with every OCSP request and require
   * the response to echo it. A response without it (or with another value)
   * is then `invalid`. Cached responses are reused without a nonce check.
   */
  bool ocsp_nonce = true;
  /** Tolerance for thisUpdate/producedAt in the future and (OCSP only) nextUpdate in the past. */
  std::chrono::seconds clock_skew{300};
  /** A CRL or OCSP response without nextUpdate is fresh for this long after its thisUpdate. */
  std::chrono::seconds max_age_without_next_update{std::chrono::hours(24)};
  /** Largest CRL accepted, fetched (the HttpClient limit is set to this per CRL request) or read from a file. */
  std::size_t max_crl_bytes = 32u << 20;
  /**
   * CRL files (DER, or PEM with one or more CRLs) read once at construction and
   * consulted first for certificates whose issuer name matches. Files that
   * cannot be read are listed by load_errors() and in every CRL attempt list.
   */
  std::vector<std::filesystem::path> crl_files;
};

/**
 * Checks the revocation status of certificates, per RFC 5280 (CRLs) and
 * RFC 6960 (OCSP).
 *
 * Order: the two sources are tried in RevocationOptions::order. The second
 * source is tried only when the first gives `unavailable` or `invalid`; good,
 * revoked and unknown are final. When no source gives a final answer the
 * status is `invalid` if some data was obtained and failed a check, else
 * `unavailable`; the message names every URL tried.
 *
 * CRL (RFC 5280 section 6.3.3): configured files whose issuer name matches
 * come first; otherwise the http URIs of the certificate's
 * cRLDistributionPoints, each taken from the cache (key "crl|<url>") while
 * fresh, else fetched (DER or PEM). Checks: "Verify that the issuer of the
 * complete CRL matches the certificate issuer" (the CRL issuer name equals the
 * certificate's issuer name), "Validate the signature on the complete CRL
 * using the public key validated in step (f)" (the issuer's key; and the
 * issuer's keyUsage, if present, allows cRLSign), the issuingDistributionPoint
 * scope (onlyContainsUserCerts/CACerts/AttributeCerts, distribution point
 * names), no unsupported critical extension, thisUpdate <= at + clock_skew.
 * A CRL is fresh while at <= nextUpdate (without nextUpdate: thisUpdate +
 * max_age_without_next_update); a stale cached CRL is fetched again, and a
 * CRL still stale after that gives `unavailable`. A listed serial is
 * `revoked` with revocation_time = revocationDate, also when that date is
 * after `at` (RFC 5280 section 5.3.2: revocationDate is "the date on which the
 * revocation occurred"; the verifier compares it with proof-of-existence
 * times). An entry with reason removeFromCRL does not revoke.
 *
 * OCSP (RFC 6960): a request for one CertID (hash SHA-1, as section 4.3 and
 * RFC 5019 require of clients for interoperability) with a nonce when
 * enabled, POSTed as application/ocsp-request to each http OCSP URI of the
 * certificate's authorityInfoAccess. The response must be "successful" (other
 * statuses, e.g. tryLater, are `unavailable`) and carry a BasicOCSPResponse
 * that passes RFC 6960 section 3.2: "1. The certificate identified in a
 * received response corresponds to the certificate that was identified in the
 * corresponding request; 2. The signature on the response is valid; 3. The
 * identity of the signer matches the intended recipient of the request;
 * 4. The signer is currently authorized to provide a response for the
 * certificate in question; 5. The time at which the status being indicated is
 * known to be correct (thisUpdate) is sufficiently recent; 6. When available,
 * the time at or before which newer information will be available about the
 * status of the certificate (nextUpdate) is greater than the current time."
 * Authorized signers (section 4.2.2.2): the issuing CA; a certificate issued
 * directly by it with id-kp-OCSPSigning in extendedKeyUsage, valid at
 * producedAt; a responder anchored in `ocsp_trust` (an anchor itself, or a
 * certificate with id-kp-OCSPSigning chaining to an anchor at `at`). Any
 * other signer gives `invalid` naming it. Times as OCSP_check_validity does,
 * but against `at`: thisUpdate <= at + skew, nextUpdate >= at - skew (or,
 * without nextUpdate, at - skew <= thisUpdate + max_age_without_next_update),
 * nextUpdate >= thisUpdate, producedAt <= at + skew. A response whose
 * nextUpdate has passed is `unavailable` (stale); other time failures are
 * `invalid`. Successful responses are cached under
 * "ocsp|<issuer key hash hex>|<serial hex>" (issuerKeyHash as in the SHA-1
 * CertID, lower case; serial as ossl::serial_hex, upper case).
 *
 * Cache: an entry is used while at <= next_update (without next_update:
 * this_update + max_age_without_next_update), and is re-checked like fresh
 * data (except the OCSP nonce) on every use; from_cache is then true.
 * Failures to write the cache are reported in attempts, not as a status.
 */
class RevocationChecker {
 public:
  /**
   * @param http copied (its options are the base of every request; CRL fetches use max_crl_bytes as the size limit)
   * @param ocsp_trust locally trusted OCSP responders; its anchors are copied
   * @param cache may be null; must outlive the checker
   */
  RevocationChecker(const HttpClient& http, const TrustStore& ocsp_trust, store::Database* cache, RevocationOptions opts);
  ~RevocationChecker();
  RevocationChecker(RevocationChecker&&) noexcept;
  RevocationChecker& operator=(RevocationChecker&&) noexcept;
  RevocationChecker(const RevocationChecker&) = delete;
  RevocationChecker& operator=(const RevocationChecker&) = delete;

  /**
   * Status of `cert` (issued by `issuer`) for validation at time `at`.
   * Never throws for bad data; a null argument or an `issuer` that did not
   * sign `cert` gives `invalid`. Thread-safe.
   */
  RevocationResult check(const X509* cert, const X509* issuer, TimePoint at) const;

  /**
   * Status of `cert` from `data` only: no network, no cache, no configured
   * CRL files. OCSP responses are tried first, then CRLs (whatever
   * RevocationOptions::order says; each supplied datum is final or unusable
   * on its own). OCSP CertIDs with SHA-1 or SHA-256 are matched. The result's
   * `url` is "supplied OCSP response N" / "supplied CRL N" (0-based index in
   * `data`); `der` is that datum. When nothing usable is found the status is
   * `invalid` if some datum about this certificate failed a check, else
   * `unavailable`. Thread-safe.
   */
  RevocationResult check_supplied(const X509* cert, const X509* issuer, TimePoint at, const SuppliedRevocationData& data,
                                  SuppliedTime mode) const;

  /** One line per configured CRL file that could not be used (unreadable, too large, not a CRL). */
  const std::vector<std::string>& load_errors() const;

  const RevocationOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::certstore
