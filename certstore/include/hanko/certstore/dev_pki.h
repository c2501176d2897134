#pragma once
/**
 * @file dev_pki.h
 * A development PKI that imitates the shape of the Japanese healthcare PKIs:
 * an HPKI-like root and signing CA with role-bearing signer certificates
 * (hcRole in subjectDirectoryAttributes, as the MHLW HPKI CP profiles it), a
 * JPKI-like root with a My Number style signing certificate (基本4情報 in
 * subjectAltName otherNames), a TSA hierarchy and an OCSP responder.
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
  std::vector<DevPkiItem> items;

  /** The item with this id; throws std::out_of_range if none. */
  const DevPkiItem& get(std::string_view id) const;
};

/**
 * Creates a complete development PKI in `out` (created if missing; existing
 * files are overwritten), valid around `now`. Writes out/manifest.json.
 *
 * Items: hpki-root, hpki-signing-ca, doctor, dentist, pharmacist, nurse,
 * no-role, expired (valid now-2y..now-1y), revoked (in the CRL, revoked at
 * `now`), doctor-ec (EC P-256), jpki-root, jpki-signer, tsa-root, tsa,
 * ocsp-responder. Roots, CAs, the TSA and the OCSP responder are valid
 * now-3y..now+10y; signers now-1d..now+5y.
 */
Result<DevPki> generate_dev_pki(const std::filesystem::path& out, TimePoint now);

/** Reads out/manifest.json back (format "hanko-dev-pki/1"); paths become `dir`/relative. */
Result<DevPki> load_dev_pki(const std::filesystem::path& dir);

}  // namespace hanko::certstore
