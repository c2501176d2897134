#pragma once
/**
 * @file dev_pki.h
 * A development PKI that imitates the shape of the Japanese healthcare PKIs:
 * an HPKI-like root and signing CA with role-bearing signer certificates
 * (hcRole in subjectDirectoryAttributes, as the MHLW HPKI CP profiles it), a
 * JPKI-like root with a My Number style signing certificate (基本4情報 in
 * subjectAltName otherNames), a TSA hierarchy, an OCSP responder, and a few
 * deliberately faulty certificates for negative tests (RSA-1024, SHA-1,
 * wrong policy, an unauthorized OCSP responder, a TSA with a non-critical
 * EKU). With DevPkiOptions::revocation_base_url the certificates point at a
 * live DevRevocationServer (dev_revocation_server.h) for CRLs and OCSP.
 *
 * WARNING: DEVELOPMENT ONLY. The keys are written unencrypted next to the
 * certificates; nothing issued here is trusted by anyone but tests and demos.
 */
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"

namespace hanko::certstore {

/** One certificate of the development PKI and its files. */
struct DevPkiItem {
  std::string id;                   ///< e.g. "doctor"
  std::string kind;                 ///< "root-ca" | "ca" | "signer" | "tsa" | "ocsp-responder"
  std::string description;          ///< one line for humans
  std::filesystem::path cert;       ///< PEM certificate
  std::filesystem::path key;        ///< PEM private key, unencrypted (empty for none)
  std::filesystem::path chain;      ///< PEM intermediates up to, not including, the root (empty if none)
  std::optional<std::string> role;  ///< hcRole for HPKI signers
};

/** A generated (or reloaded) development PKI; all paths are absolute or relative to the working folder as given. */
struct DevPki {
  std::filesystem::path dir;
  std::filesystem::path trust_dir;  ///< folder holding the root CA certificates (HPKI, JPKI, TSA roots), usable as `--trust DIR`
  std::filesystem::path crl;        ///< CRL of the HPKI signing CA (PEM), lists "revoked"
  /**
   * CRL of the HPKI root (PEM, lists nothing): the status of hpki-signing-ca.
   * Kept outside trust_dir. Empty when reloaded from a manifest older than
   * this field.
   */
  std::filesystem::path root_crl;
  /** The base URL the certificates' CDP/AIA point at ("" when generated without one). */
  std::string revocation_base_url;
  /** When the PKI was generated (manifest "created"); "revoked" is revoked at this time. */
  std::optional<TimePoint> created;
  std::vector<DevPkiItem> items;

  /** The item with this id; throws std::out_of_range if none. */
  const DevPkiItem& get(std::string_view id) const;
};

/** Options of generate_dev_pki. */
struct DevPkiOptions {
  /**
   * Base URL of a revocation server ("http://127.0.0.1:PORT", no trailing
   * slash needed), or "" for none. When set, the certificates carry
   * (RFC 5280 sections 4.2.1.13 and 4.2.2.1):
   *  - HPKI signers: cRLDistributionPoints `<base>/crl/hpki-signing-ca.crl`,
   *    authorityInfoAccess OCSP `<base>/ocsp` and caIssuers
   *    `<base>/certs/hpki-signing-ca.der`;
   *  - hpki-signing-ca: cRLDistributionPoints `<base>/crl/hpki-root.crl`;
   *  - jpki-signer: cRLDistributionPoints `<base>/crl/jpki-root.crl`,
   *    authorityInfoAccess OCSP `<base>/ocsp` and caIssuers `<base>/certs/jpki-root.der`.
   * Without it the HPKI signers keep the placeholder CDP
   * http://127.0.0.1/dev-pki/hpki-signing-ca.crl and nothing else points anywhere.
   * Must be an http:// URL without spaces, commas or control characters
   * (Errc::invalid_argument otherwise).
   */
  std::string revocation_base_url;
};

/**
 * Creates a complete development PKI in `out` (created if missing; existing
 * files are overwritten), valid around `now`. Writes out/manifest.json, which
 * lists every file written except the root certificates in trust/ (those are
 * the trust_dir).
 *
 * Items (id: kind):
 *  - hpki-root: root-ca; hpki-signing-ca: ca (under hpki-root)
 *  - doctor, dentist, pharmacist, nurse: signer (HPKI profile with hcRole);
 *    no-role: signer without hcRole
 *  - expired: signer valid now-2y..now-1y
 *  - revoked: signer listed in the CRL (`crl`), revoked at `now`
 *  - doctor-ec: signer with an EC P-256 key
 *  - rsa1024: HPKI-profile signer with an RSA-1024 key (too weak)
 *  - sha1: HPKI-profile signer whose certificate is signed with sha1WithRSAEncryption
 *  - wrong-policy: HPKI-profile signer whose certificatePolicies is
 *    1.2.392.100495.1.5.1.2.3.1 instead of the signing policy
 *  - ocsp-responder: ocsp-responder delegated by hpki-signing-ca (EKU OCSPSigning, ocsp-nocheck)
 *  - ocsp-unauthorized: ocsp-responder with EKU OCSPSigning issued by
 *    tsa-root, hence NOT authorized to answer for hpki-signing-ca (RFC 6960 section 4.2.2.2)
 *  - jpki-root: root-ca; jpki-signer: signer under jpki-root
 *  - tsa-root: root-ca; tsa: tsa (EKU timeStamping only, critical)
 *  - tsa-noncritical-eku: tsa under tsa-root whose timeStamping EKU is NOT
 *    critical (RFC 3161 section 2.3 requires it critical)
 * Roots, CAs, TSAs and OCSP responders are valid now-3y..now+10y; signers
 * now-1d..now+5y. All certificates except "sha1" are signed with SHA-256;
 * all keys except doctor-ec (P-256) and rsa1024 are RSA-2048.
 * Files: `crl` (trust/hpki-signing-ca.crl.pem, lists "revoked") and
 * `root_crl` (trust/hpki-root.crl.pem, empty) and trust/jpki-root.crl.pem
 * (empty), all valid now..now+30d, so that the trust folder alone answers
 * every revocation question about the HPKI and JPKI chains offline.
 */
Result<DevPki> generate_dev_pki(const std::filesystem::path& out, TimePoint now);
/** As above, with options (see DevPkiOptions). */
Result<DevPki> generate_dev_pki(const std::filesystem::path& out, TimePoint now, const DevPkiOptions& options);

/**
 * Re-issues the development CRLs of the trust folder (hpki-signing-ca, still
 * listing "revoked" at the PKI's creation time; hpki-root; jpki-root) at `now`
 * when any of them is missing or expires within 7 days, so that a development
 * service keeps working past the 30 days a CRL is valid. Returns whether it
 * re-issued them.
 */
Result<bool> refresh_dev_crls(const DevPki& pki, TimePoint now);

/** Reads out/manifest.json back (format "hanko-dev-pki/1"); paths become `dir`/relative. */
Result<DevPki> load_dev_pki(const std::filesystem::path& dir);

}  // namespace hanko::certstore
