#pragma once
/**
 * Internal pieces shared by token.cpp (verify_token), tsa_client.cpp (the
 * response checks) and dev_tsa.cpp. Not installed.
 */
#include <openssl/ess.h>

#include <climits>
#include <optional>
#include <string>

#include "hanko/common/bytes.h"
#include "hanko/common/digest.h"
#include "hanko/common/error.h"
#include "hanko/common/ossl.h"
#include "hanko/tsa_client/token.h"

namespace hanko::tsa::detail {

using EssSigningCertPtr = ossl::Ptr<ESS_SIGNING_CERT, ESS_SIGNING_CERT_free>;
using EssSigningCertV2Ptr = ossl::Ptr<ESS_SIGNING_CERT_V2, ESS_SIGNING_CERT_V2_free>;
using TsStatusInfoPtr = ossl::Ptr<TS_STATUS_INFO, TS_STATUS_INFO_free>;

/**
 * Parses DER with a d2i function; the whole input must be consumed. Frees the
 * object and clears the OpenSSL error queue on failure.
 */
template <class T, auto D2i, auto Free>
ossl::Ptr<T, Free> d2i_full(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(LONG_MAX)) {
    return nullptr;
  }
  const unsigned char* p = der.data();
  ossl::Ptr<T, Free> obj(D2i(nullptr, &p, static_cast<long>(der.size())));
  if (!obj || p != der.data() + der.size()) {
    clear_openssl_errors();
    return nullptr;
  }
  return obj;
}

/** A parsed token: the CMS structure, its TSTInfo and the decoded fields. */
struct ParsedToken {
  ossl::CmsPtr cms;
  ossl::TsTstInfoPtr tst;
  CMS_SignerInfo* signer_info = nullptr;  ///< owned by cms
  TokenInfo info;
};

/** parse_token() keeping the OpenSSL objects. */
Result<ParsedToken> parse(ByteView token_der);

/**
 * Verifies the CMS signature of the single SignerInfo with the signer
 * certificate carried in the token (no chain building): signed attributes and
 * the messageDigest of the encapsulated TSTInfo. The signature's digest must be
 * sha256/384/512. Errc::crypto on failure.
 */
Result<void> check_signature(ParsedToken& token);

/**
 * RFC 3161 2.4.1 / RFC 5816: SigningCertificate (ESSCertID) or
 * SigningCertificateV2 (ESSCertIDv2) must be present, and its first
 * certificate identifier must match the signer certificate. Errc::crypto on
 * failure.
 */
Result<void> check_signing_cert(ParsedToken& token);

/**
 * RFC 3161 2.3: the TSA certificate's extended key usage must be present
 * once, hold only id-kp-timeStamping and be critical; keyUsage, if present,
 * only digitalSignature/nonRepudiation. Errc::policy on failure.
 */
Result<void> check_tsa_certificate(const X509* cert);

/** sha256/384/512 from an OpenSSL NID; nullopt for anything else. */
std::optional<DigestAlg> digest_alg_from_nid(int nid);
int digest_nid(DigestAlg alg);
const EVP_MD* evp_md(DigestAlg alg);

/** The dotted text of an OID (empty if it cannot be printed). */
std::string oid_text(const ASN1_OBJECT* obj);

}  // namespace hanko::tsa::detail
