#pragma once
/**
 * @file ossl.h
 * Owning handles for OpenSSL objects. Every OpenSSL object in hanko lives in
 * one of these; nobody calls *_free by hand.
 */
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/error.h"

namespace hanko::ossl {

template <auto Fn>
struct Deleter {
  template <class T>
  void operator()(T* p) const noexcept {
    if (p != nullptr) {
      Fn(p);
    }
  }
};

template <class T, auto Fn>
using Ptr = std::unique_ptr<T, Deleter<Fn>>;

using X509Ptr = Ptr<X509, X509_free>;
using X509CrlPtr = Ptr<X509_CRL, X509_CRL_free>;
using X509StorePtr = Ptr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = Ptr<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509NamePtr = Ptr<X509_NAME, X509_NAME_free>;
using X509ExtPtr = Ptr<X509_EXTENSION, X509_EXTENSION_free>;
using EvpPkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using BioPtr = Ptr<BIO, BIO_free_all>;
using BignumPtr = Ptr<BIGNUM, BN_free>;
using Asn1IntegerPtr = Ptr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1TimePtr = Ptr<ASN1_TIME, ASN1_TIME_free>;
using Asn1ObjectPtr = Ptr<ASN1_OBJECT, ASN1_OBJECT_free>;
using Asn1OctetStringPtr = Ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>;
using EcdsaSigPtr = Ptr<ECDSA_SIG, ECDSA_SIG_free>;
using TsReqPtr = Ptr<TS_REQ, TS_REQ_free>;
using TsRespPtr = Ptr<TS_RESP, TS_RESP_free>;
using TsRespCtxPtr = Ptr<TS_RESP_CTX, TS_RESP_CTX_free>;
using TsVerifyCtxPtr = Ptr<TS_VERIFY_CTX, TS_VERIFY_CTX_free>;
using TsMsgImprintPtr = Ptr<TS_MSG_IMPRINT, TS_MSG_IMPRINT_free>;
using TsTstInfoPtr = Ptr<TS_TST_INFO, TS_TST_INFO_free>;
using Pkcs7Ptr = Ptr<PKCS7, PKCS7_free>;
using CmsPtr = Ptr<CMS_ContentInfo, CMS_ContentInfo_free>;
using X509AlgorPtr = Ptr<X509_ALGOR, X509_ALGOR_free>;
using GeneralNamesPtr = Ptr<GENERAL_NAMES, GENERAL_NAMES_free>;

// OCSP and CRL handles (revocation checking, development responder).
using OcspRequestPtr = Ptr<OCSP_REQUEST, OCSP_REQUEST_free>;
using OcspResponsePtr = Ptr<OCSP_RESPONSE, OCSP_RESPONSE_free>;
using OcspBasicRespPtr = Ptr<OCSP_BASICRESP, OCSP_BASICRESP_free>;
using OcspCertIdPtr = Ptr<OCSP_CERTID, OCSP_CERTID_free>;
using X509RevokedPtr = Ptr<X509_REVOKED, X509_REVOKED_free>;
using CrlDistPointsPtr = Ptr<CRL_DIST_POINTS, CRL_DIST_POINTS_free>;
using AuthorityInfoAccessPtr = Ptr<AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free>;
using IssuingDistPointPtr = Ptr<ISSUING_DIST_POINT, ISSUING_DIST_POINT_free>;
using Asn1EnumeratedPtr = Ptr<ASN1_ENUMERATED, ASN1_ENUMERATED_free>;
using ExtendedKeyUsagePtr = Ptr<EXTENDED_KEY_USAGE, EXTENDED_KEY_USAGE_free>;

/** An owned STACK_OF(X509), freeing its certificates too. */
struct X509StackDeleter {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_pop_free(s, X509_free); }
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackDeleter>;

/** Frees memory OpenSSL allocated for the caller (e.g. the string of BN_bn2hex). */
struct OpensslFree {
  void operator()(void* p) const noexcept { OPENSSL_free(p); }
};
/** An owned C string from OpenSSL: `OpensslStringPtr hex(BN_bn2hex(bn))`. */
using OpensslStringPtr = std::unique_ptr<char, OpensslFree>;

/** An owned STACK_OF(X509) that does NOT own its certificates (sk_X509_free only): for borrowed lists. */
struct X509ViewStackDeleter {
  void operator()(STACK_OF(X509) * s) const noexcept { sk_X509_free(s); }
};
using X509ViewStackPtr = std::unique_ptr<STACK_OF(X509), X509ViewStackDeleter>;

/** Serializes with an i2d function: `to_der<i2d_X509>(cert)`. */
template <auto I2d, class T>
Bytes to_der(const T* obj) {
  int len = I2d(const_cast<T*>(obj), nullptr);
  if (len <= 0) {
    return {};
  }
  Bytes out(static_cast<std::size_t>(len));
  unsigned char* p = out.data();
  I2d(const_cast<T*>(obj), &p);
  return out;
}

/** Parses one DER certificate; nullptr if malformed or followed by trailing bytes. */
X509Ptr x509_from_der(ByteView der);
Bytes x509_to_der(const X509* cert);
/**
 * x509_from_der through a small process-wide cache keyed by the exact DER
 * bytes: the same certificate arriving again (x5c of each signed Bundle)
 * is decoded once. The returned certificate is shared (an extra reference)
 * and must be treated as read-only, as any certificate shared between
 * threads. Thread-safe. nullptr if malformed, exactly as x509_from_der.
 */
X509Ptr cached_x509_from_der(ByteView der);
/** Reads every certificate (PEM, or one DER) from a file. */
Result<std::vector<X509Ptr>> load_certificates(const std::string& path);
/** Reads all PEM certificates in a string. */
std::vector<X509Ptr> certificates_from_pem(std::string_view pem);
/** Reads a private key (PEM, unencrypted) from a file. */
Result<EvpPkeyPtr> load_private_key(const std::string& path);
std::string x509_to_pem(const X509* cert);
X509Ptr up_ref(X509* cert);

/** The subject or issuer as an RFC 2253 string (UTF-8). */
std::string name_to_string(const X509_NAME* name);
/** The serial number in upper-case hex. */
std::string serial_hex(const X509* cert);
/** SHA-256 of the certificate's DER. */
Bytes cert_sha256(const X509* cert);

/**
 * Parses one DER CRL (CertificateList, RFC 5280 section 5.1); nullptr if
 * malformed or followed by trailing bytes. Never reads past `der`.
 */
X509CrlPtr x509_crl_from_der(ByteView der);
/** Every "X509 CRL" PEM block in a string (empty if none parses). */
std::vector<X509CrlPtr> x509_crls_from_pem(std::string_view pem);

/** ASN1_TIME <-> TimePoint. */
std::optional<TimePoint> asn1_time_to_timepoint(const ASN1_TIME* t);
Asn1TimePtr timepoint_to_asn1(TimePoint t);

}  // namespace hanko::ossl
