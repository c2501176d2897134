#pragma once
/**
 * @file cert_info.h
 * What hanko reads out of a signer certificate: a summary for reports, the
 * HPKI hcRole, the JPKI identity (基本4情報), keyUsage and policies.
 *
 * Trust assumption: these functions only read the certificate; they say
 * nothing about whether it is trusted. Validate the chain (trust_store.h)
 * before relying on anything read here.
 */
#include <optional>
#include <string>
#include <vector>

#include <openssl/x509.h>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"

namespace hanko::certstore {

/** OIDs used by the HPKI and JPKI profiles (domain.md sections 1 and 2). */
inline constexpr const char* kOidHcActor = "1.0.17090.0.1";              ///< id-hcpki-at-healthcareactor
inline constexpr const char* kOidJhpkiCdata = "1.2.392.100495.1.6.1.1";  ///< id-jhpki-cdata (codingSchemeReference)
inline constexpr const char* kOidHpkiSignPolicy = "1.2.392.100495.1.5.1.1.0.1";
inline constexpr const char* kOidJpkiSignPolicy = "1.2.392.200149.8.5.1.1.20";
inline constexpr const char* kOidJpkiName = "1.2.392.200149.8.5.5.1";
inline constexpr const char* kOidJpkiGender = "1.2.392.200149.8.5.5.3";
inline constexpr const char* kOidJpkiBirthDate = "1.2.392.200149.8.5.5.4";
inline constexpr const char* kOidJpkiAddress = "1.2.392.200149.8.5.5.5";

/** The fields of a certificate a report shows. */
struct CertSummary {
  std::string subject, issuer, serial_hex, sha256_hex;
  TimePoint not_before, not_after;
};

/** Subject and issuer (RFC 2253), serial (upper-case hex), SHA-256 of the DER (lower-case hex), validity. */
CertSummary summarize(const X509* cert);

/**
 * hcRole from subjectDirectoryAttributes (ISO 17090 / HPKI CP): nullopt if
 * absent; an Error if the extension is malformed. Reads only the
 * codeDataFreeText of HCActor entries with codingSchemeReference
 * 1.2.392.100495.1.6.1.1.
 *
 * The CP's ASN.1 (all context tags EXPLICIT):
 *   HCActor ::= SEQUENCE { codedData [0] CodedData, regionalHCActorData [1] ... OPTIONAL }
 *   CodedData ::= SET { codingSchemeReference [0] OID,
 *                       codeDataValue [1] NumericString OPTIONAL,
 *                       codeDataFreeText [2] DirectoryString }
 * The JAHIS IC card guideline sets one hcRole per certificate; when several
 * entries match, the first one is returned.
 */
Result<std::optional<std::string>> hc_role(const X509* cert);

/** 基本4情報 of a JPKI signing certificate (subjectAltName otherNames, UTF8String values). */
struct JpkiIdentity {
  std::string name;                       ///< 1.2.392.200149.8.5.5.1 氏名
  std::optional<std::string> gender;      ///< .5.3 性別 (JIS X 0303: 1/2/9)
  std::optional<std::string> birth_date;  ///< .5.4 生年月日 EYYYYMMDD
  std::optional<std::string> address;     ///< .5.5 住所
};

/** The JPKI identity, or nullopt when the certificate has no JPKI name otherName (or its subjectAltName is malformed). */
std::optional<JpkiIdentity> jpki_identity(const X509* cert);

/** Whether keyUsage is present and asserts nonRepudiation (contentCommitment). */
bool has_non_repudiation(const X509* cert);

/** The policy OIDs of certificatePolicies in dotted form, in certificate order (empty if none or malformed). */
std::vector<std::string> policy_oids(const X509* cert);

/** The http(s) caIssuers URLs of the authorityInfoAccess extension (RFC 5280 4.2.2.1), in certificate order. */
std::vector<std::string> ca_issuers_urls(const X509* cert);

/** The http(s) OCSP responder URLs of the authorityInfoAccess extension (RFC 5280 4.2.2.1). */
std::vector<std::string> ocsp_urls(const X509* cert);

}  // namespace hanko::certstore
