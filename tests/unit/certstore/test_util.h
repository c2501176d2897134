#pragma once
/** Helpers shared by the certstore tests. */
#include <filesystem>
#include <string_view>

#include "hanko/certstore/dev_pki.h"
#include "hanko/common/bytes.h"
#include "hanko/common/ossl.h"

namespace hanko::certstore::testing {

/** Bytes from hex text; whitespace and `--` comments up to the end of the line are ignored. */
Bytes hx(std::string_view annotated);

/** The first certificate of a PEM file; fails the test (throws) when absent. */
ossl::X509Ptr load_cert(const std::filesystem::path& p);
/** The certificate of a dev PKI item. */
ossl::X509Ptr item_cert(const DevPki& pki, std::string_view id);
/** The certificates of an item's chain file (empty when none). */
std::vector<ossl::X509Ptr> item_chain(const DevPki& pki, std::string_view id);
/** The private key of an item. */
ossl::EvpPkeyPtr item_key(const DevPki& pki, std::string_view id);

/**
 * A second, independent development PKI, generated once per test process at
 * test::pki_time() into a folder that held stale files before (so it also
 * shows that generation overwrites).
 */
const DevPki& second_pki();

/** A copy of `base` with every extension `nid` removed and a raw one added (value `der`); signature left stale. */
ossl::X509Ptr with_extension(const X509* base, int nid, bool critical, ByteView der);

/**
 * The test process's development PKI with every item this source tree
 * generates: test::dev_pki() when it is current, else (a fixture left by an
 * older build in the same build tree) a fresh one generated once per process.
 */
const DevPki& current_pki();

/** Where a reissued certificate points for revocation data. */
struct RevocationPointers {
  std::string base_url;                       ///< "http://127.0.0.1:PORT"; "" for no CDP/AIA at all
  std::string crl_name = "hpki-signing-ca";   ///< CDP <base>/crl/<crl_name>.crl ("" for none)
  bool ocsp = true;                           ///< AIA OCSP <base>/ocsp
};

/**
 * A copy of `base` with a fresh random serial, its cRLDistributionPoints and
 * authorityInfoAccess replaced as `where` says, signed (SHA-256) by
 * `issuer_key`, and re-parsed so that every cached encoding is fresh.
 */
ossl::X509Ptr reissue(const X509* base, EVP_PKEY* issuer_key, const RevocationPointers& where);

}  // namespace hanko::certstore::testing
