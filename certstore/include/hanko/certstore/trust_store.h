#pragma once
/**
 * @file trust_store.h
 * Trust anchors, intermediates and CRLs, and chain validation at a given time.
 *
 * Trust assumptions: every certificate added with add_anchor() (or found
 * self-signed by load_dir()) is trusted unconditionally for every purpose;
 * intermediates and caller-supplied certificates are only path-building
 * material. Revocation is checked against the CRLs added here only (no
 * network fetch); a certificate for which no CRL is loaded is not checked.
 */
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"
#include "hanko/common/ossl.h"

namespace hanko::certstore {

/** What the leaf certificate must be good for. */
enum class Purpose {
  signature,     ///< document signatures: keyUsage (if present) allows nonRepudiation or digitalSignature
  timestamping,  ///< RFC 3161 TSA: OpenSSL's timestamp-signing purpose (EKU timeStamping only, critical)
};

enum class ChainStatus { ok, no_chain_found, expired, not_yet_valid, revoked, signature_failure, constraints_failure, general_failure };

/** "ok", "no_chain_found", ... */
std::string_view chain_status_name(ChainStatus s);

/** The outcome of TrustStore::verify. */
struct ChainResult {
  ChainStatus status = ChainStatus::general_failure;
  std::string message;                    ///< human readable, names the certificate (subject) at fault
  std::vector<ossl::X509Ptr> chain;       ///< leaf first, anchor last (as built)
  int depth = -1;                         ///< which certificate failed (0 = leaf)
  /**
   * The revocationDate of the certificate at `depth` when a loaded CRL lists it.
   * Set also when status is ok because the revocation came after the
   * validation time (so the caller can apply its own rules, e.g. ETSI EN 319
   * 102-1 proof of existence before revocation).
   */
  std::optional<TimePoint> revocation_time;
};

/** A set of trust anchors, intermediates and CRLs. Move-only. */
class TrustStore {
 public:
  TrustStore();
  ~TrustStore();
  TrustStore(TrustStore&&) noexcept;
  TrustStore& operator=(TrustStore&&) noexcept;
  TrustStore(const TrustStore&) = delete;
  TrustStore& operator=(const TrustStore&) = delete;

  /**
   * Loads every certificate (.pem, .crt, .cer, .der) and CRL (.crl, .crl.pem)
   * in dir (non-recursive, extensions case-insensitive): self-signed certificates become anchors, others
   * intermediates. Fails if the folder is missing, a file cannot be parsed,
   * or the folder holds no anchor.
   */
  static Result<TrustStore> load_dir(const std::filesystem::path& dir);

  void add_anchor(ossl::X509Ptr cert);
  void add_intermediate(ossl::X509Ptr cert);
  void add_crl(ossl::X509CrlPtr crl);
  std::size_t anchor_count() const;
  const std::vector<ossl::X509Ptr>& anchors() const;
  /** Intermediates added or loaded (path-building material only). */
  const std::vector<ossl::X509Ptr>& intermediates() const;
  /** CRLs added or loaded. */
  const std::vector<ossl::X509CrlPtr>& crls() const;

  /**
   * Builds and checks the chain of `leaf` at time `at`
   * (X509_V_FLAG_USE_CHECK_TIME), with `untrusted` extra certificates (e.g.
   * from x5c). Purpose::timestamping applies OpenSSL's timestamp-signing
   * purpose (EKU timeStamping only, critical). Purpose::signature accepts a
   * leaf whose keyUsage (if present) has nonRepudiation or digitalSignature
   * and whose extendedKeyUsage (if present) is not limited to timeStamping /
   * OCSPSigning. When CRLs are loaded, OpenSSL's CRL check
   * (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL) runs; a certificate
   * whose issuer has no loaded CRL is not an error, and the CRL's own
   * thisUpdate/nextUpdate are not held against it (the CRL states what was
   * revoked when; freshness is the caller's policy). RFC 5280 section 5.3.2:
   * revocationDate is "the date on which the revocation occurred", so a
   * certificate revoked after `at` is reported ok with revocation_time set;
   * one revoked at or before `at` is ChainStatus::revoked.
   * Thread-safe for concurrent verify() calls (not concurrent with add_*).
   */
  ChainResult verify(const X509* leaf, const std::vector<const X509*>& untrusted, TimePoint at, Purpose purpose) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace hanko::certstore
