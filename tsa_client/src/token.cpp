#include "hanko/tsa_client/token.h"

#include <openssl/cms.h>
#include <openssl/objects.h>

#include <cctype>
#include <cstring>

#include "token_internal.h"

namespace hanko::tsa {
namespace detail {

std::optional<DigestAlg> digest_alg_from_nid(int nid) {
  switch (nid) {
    case NID_sha256: return DigestAlg::sha256;
    case NID_sha384: return DigestAlg::sha384;
    case NID_sha512: return DigestAlg::sha512;
    default: return std::nullopt;
  }
}

int digest_nid(DigestAlg alg) {
  switch (alg) {
    case DigestAlg::sha256: return NID_sha256;
    case DigestAlg::sha384: return NID_sha384;
    case DigestAlg::sha512: return NID_sha512;
  }
  return NID_sha256;
}

const EVP_MD* evp_md(DigestAlg alg) {
  switch (alg) {
    case DigestAlg::sha256: return EVP_sha256();
    case DigestAlg::sha384: return EVP_sha384();
    case DigestAlg::sha512: return EVP_sha512();
  }
  return EVP_sha256();
}

std::string oid_text(const ASN1_OBJECT* obj) {
  if (obj == nullptr) {
    return {};
  }
  char buf[256];
  int n = OBJ_obj2txt(buf, sizeof buf, obj, 1);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) {
    return {};
  }
  return std::string(buf, static_cast<std::size_t>(n));
}

namespace {

Bytes asn1_string_bytes(const ASN1_STRING* s) {
  if (s == nullptr || ASN1_STRING_length(s) <= 0) {
    return {};
  }
  const unsigned char* d = ASN1_STRING_get0_data(s);
  return Bytes(d, d + ASN1_STRING_length(s));
}

/** GeneralizedTime with optional fractional seconds (RFC 3161 2.4.2: "YYYYMMDDhhmmss[.s...]Z"). */
std::optional<TimePoint> gen_time_of(const ASN1_GENERALIZEDTIME* t) {
  auto base = ossl::asn1_time_to_timepoint(t);
  if (!base) {
    return std::nullopt;
  }
  const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(t));
  std::string_view text(data, static_cast<std::size_t>(ASN1_STRING_length(t)));
  auto dot = text.find('.');
  if (dot == std::string_view::npos) {
    return base;
  }
  std::int64_t micros = 0;
  int digits = 0;
  for (std::size_t i = dot + 1; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])) != 0; ++i) {
    if (digits < 6) {
      micros = micros * 10 + (text[i] - '0');
      ++digits;
    }
  }
  for (; digits < 6; ++digits) {
    micros *= 10;
  }
  return *base + std::chrono::microseconds(micros);
}

Result<std::optional<std::chrono::microseconds>> accuracy_of(const TS_ACCURACY* acc) {
  if (acc == nullptr) {
    return std::optional<std::chrono::microseconds>{};
  }
  auto get = [](const ASN1_INTEGER* i, std::int64_t max, std::int64_t& out) {
    out = 0;
    if (i == nullptr) {
      return true;
    }
    if (ASN1_INTEGER_get_int64(&out, i) != 1) {
      clear_openssl_errors();
      return false;
    }
    return out >= 0 && out <= max;
  };
  std::int64_t s = 0;
  std::int64_t ms = 0;
  std::int64_t us = 0;
  // RFC 3161 2.4.2: millis [0] INTEGER (1..999), micros [1] INTEGER (1..999).
  if (!get(TS_ACCURACY_get_seconds(acc), 1'000'000'000, s) || !get(TS_ACCURACY_get_millis(acc), 999, ms) ||
      !get(TS_ACCURACY_get_micros(acc), 999, us)) {
    return fail(Errc::invalid_argument, "TSTInfo.accuracy out of range");
  }
  return std::optional<std::chrono::microseconds>(std::chrono::seconds(s) + std::chrono::milliseconds(ms) +
                                                  std::chrono::microseconds(us));
}

}  // namespace

Result<ParsedToken> parse(ByteView token_der) {
  ParsedToken t;
  t.cms = d2i_full<CMS_ContentInfo, d2i_CMS_ContentInfo, CMS_ContentInfo_free>(token_der);
  if (!t.cms) {
    return fail(Errc::invalid_argument, "timestamp token is not a DER CMS ContentInfo");
  }
  if (OBJ_obj2nid(CMS_get0_type(t.cms.get())) != NID_pkcs7_signed) {
    return fail(Errc::invalid_argument, "timestamp token is not CMS SignedData");
  }
  // RFC 3161 2.4.2: "The content type ... MUST be id-ct-TSTInfo".
  if (OBJ_obj2nid(CMS_get0_eContentType(t.cms.get())) != NID_id_smime_ct_TSTInfo) {
    return fail(Errc::invalid_argument, "timestamp token eContentType is not id-ct-TSTInfo");
  }
  ASN1_OCTET_STRING** content = CMS_get0_content(t.cms.get());
  if (content == nullptr || *content == nullptr) {
    return fail(Errc::invalid_argument, "timestamp token has no encapsulated TSTInfo");
  }
  t.tst = d2i_full<TS_TST_INFO, d2i_TS_TST_INFO, TS_TST_INFO_free>(asn1_string_bytes(*content));
  if (!t.tst) {
    return fail(Errc::invalid_argument, "timestamp token TSTInfo does not parse");
  }
  if (TS_TST_INFO_get_version(t.tst.get()) != 1) {
    return fail(Errc::invalid_argument, "TSTInfo version is not v1");
  }
  STACK_OF(CMS_SignerInfo)* signers = CMS_get0_SignerInfos(t.cms.get());
  // RFC 3161 2.4.2: "The time-stamp token MUST NOT contain any signatures other than the signature of the TSA."
  if (signers == nullptr || sk_CMS_SignerInfo_num(signers) != 1) {
    return fail(Errc::invalid_argument, "timestamp token must carry exactly one SignerInfo");
  }
  t.signer_info = sk_CMS_SignerInfo_value(signers, 0);

  TokenInfo& info = t.info;
  auto gen = gen_time_of(TS_TST_INFO_get_time(t.tst.get()));
  if (!gen) {
    return fail(Errc::invalid_argument, "TSTInfo.genTime is not a valid GeneralizedTime");
  }
  info.gen_time = *gen;
  auto acc = accuracy_of(TS_TST_INFO_get_accuracy(t.tst.get()));
  if (!acc) {
    return std::unexpected(acc.error());
  }
  info.accuracy = *acc;

  ossl::BignumPtr serial(ASN1_INTEGER_to_BN(TS_TST_INFO_get_serial(t.tst.get()), nullptr));
  if (!serial) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, "TSTInfo.serialNumber is invalid");
  }
  if (BN_num_bits(serial.get()) > 160) {
    // RFC 3161 2.4.2: "TSA users MUST be ready to accommodate integers up to 160 bits."
    return fail(Errc::invalid_argument, "TSTInfo.serialNumber is longer than 160 bits");
  }
  char* serial_text = BN_bn2hex(serial.get());
  if (serial_text == nullptr) {
    return fail(Errc::internal, "BN_bn2hex failed");
  }
  info.serial_hex = serial_text;
  OPENSSL_free(serial_text);

  info.policy_oid = oid_text(TS_TST_INFO_get_policy_id(t.tst.get()));
  if (info.policy_oid.empty()) {
    return fail(Errc::invalid_argument, "TSTInfo.policy is not a printable OID");
  }

  TS_MSG_IMPRINT* mi = TS_TST_INFO_get_msg_imprint(t.tst.get());
  const ASN1_OBJECT* alg_obj = nullptr;
  X509_ALGOR_get0(&alg_obj, nullptr, nullptr, TS_MSG_IMPRINT_get_algo(mi));
  auto alg = digest_alg_from_nid(OBJ_obj2nid(alg_obj));
  if (!alg) {
    return fail(Errc::unsupported, "TSTInfo.messageImprint algorithm " + oid_text(alg_obj) +
                                       " is not on the allow-list (sha256, sha384, sha512)");
  }
  info.imprint_alg = *alg;
  info.imprint = asn1_string_bytes(TS_MSG_IMPRINT_get_msg(mi));
  if (const ASN1_INTEGER* nonce = TS_TST_INFO_get_nonce(t.tst.get())) {
    info.nonce = asn1_string_bytes(nonce);
  }

  ossl::X509StackPtr certs(CMS_get1_certs(t.cms.get()));
  if (certs) {
    while (sk_X509_num(certs.get()) > 0) {
      info.certs.emplace_back(sk_X509_shift(certs.get()));
    }
  }
  for (const auto& c : info.certs) {
    if (CMS_SignerInfo_cert_cmp(t.signer_info, c.get()) == 0) {
      info.tsa_cert = ossl::up_ref(c.get());
      break;
    }
  }
  clear_openssl_errors();
  return t;
}

Result<void> check_signature(ParsedToken& token) {
  if (!token.info.tsa_cert) {
    return fail(Errc::crypto, "the token carries no signer certificate, so its signature cannot be checked");
  }
  X509_ALGOR* dig_alg = nullptr;
  CMS_SignerInfo_get0_algs(token.signer_info, nullptr, nullptr, &dig_alg, nullptr);
  const ASN1_OBJECT* dig_obj = nullptr;
  if (dig_alg != nullptr) {
    X509_ALGOR_get0(&dig_obj, nullptr, nullptr, dig_alg);
  }
  if (!digest_alg_from_nid(OBJ_obj2nid(dig_obj))) {
    return fail(Errc::crypto, "token signature digest " + oid_text(dig_obj) +
                                  " is not on the allow-list (sha256, sha384, sha512)");
  }
  // Only the CMS mathematics here: trust in the signer certificate is verify_token()'s chain step.
  if (CMS_verify(token.cms.get(), nullptr, nullptr, nullptr, nullptr, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "token signature does not verify"));
  }
  clear_openssl_errors();
  return {};
}

Result<void> check_signing_cert(ParsedToken& token) {
  if (!token.info.tsa_cert) {
    return fail(Errc::crypto, "the token carries no signer certificate");
  }
  CMS_SignerInfo* si = token.signer_info;
  auto read_attr = [si](int nid, bool& present) -> const ASN1_STRING* {
    present = CMS_signed_get_attr_by_NID(si, nid, -1) >= 0;
    // -3: the attribute must occur once, with a single value.
    return static_cast<const ASN1_STRING*>(CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(nid), -3, V_ASN1_SEQUENCE));
  };
  bool v1_present = false;
  bool v2_present = false;
  const ASN1_STRING* v1 = read_attr(NID_id_smime_aa_signingCertificate, v1_present);
  const ASN1_STRING* v2 = read_attr(NID_id_smime_aa_signingCertificateV2, v2_present);
  if ((v1_present && v1 == nullptr) || (v2_present && v2 == nullptr)) {
    clear_openssl_errors();
    return fail(Errc::crypto, "SigningCertificate attribute is repeated, multi-valued or not a SEQUENCE");
  }
  if (v1 == nullptr && v2 == nullptr) {
    return fail(Errc::crypto, "token has neither SigningCertificate nor SigningCertificateV2 (RFC 3161 2.4.1, RFC 5816)");
  }
  detail::EssSigningCertPtr ss;
  detail::EssSigningCertV2Ptr ss2;
  if (v1 != nullptr) {
    ss = d2i_full<ESS_SIGNING_CERT, d2i_ESS_SIGNING_CERT, ESS_SIGNING_CERT_free>(asn1_string_bytes(v1));
    if (!ss) {
      return fail(Errc::crypto, "SigningCertificate attribute does not parse");
    }
  }
  if (v2 != nullptr) {
    ss2 = d2i_full<ESS_SIGNING_CERT_V2, d2i_ESS_SIGNING_CERT_V2, ESS_SIGNING_CERT_V2_free>(asn1_string_bytes(v2));
    if (!ss2) {
      return fail(Errc::crypto, "SigningCertificateV2 attribute does not parse");
    }
  }
  // The signer first: OpenSSL requires the first ESSCertID(v2) to match the first certificate.
  ossl::X509StackPtr chain(sk_X509_new_null());
  if (!chain) {
    return fail(Errc::internal, "out of memory");
  }
  auto push = [&chain](X509* c) {
    ossl::X509Ptr ref = ossl::up_ref(c);
    if (sk_X509_push(chain.get(), ref.get()) > 0) {
      (void)ref.release();
    }
  };
  push(token.info.tsa_cert.get());
  for (const auto& c : token.info.certs) {
    if (X509_cmp(c.get(), token.info.tsa_cert.get()) != 0) {
      push(c.get());
    }
  }
  int rc = OSSL_ESS_check_signing_certs(ss.get(), ss2.get(), chain.get(), 1);
  if (rc != 1) {
    return std::unexpected(openssl_error(
        Errc::crypto, "the ESSCertID(v2) of the token's SigningCertificate does not identify the signer certificate"));
  }
  return {};
}

Result<void> check_tsa_certificate(const X509* cert) {
  if (cert == nullptr) {
    return fail(Errc::policy, "no TSA certificate");
  }
  auto* x = const_cast<X509*>(cert);
  int idx = X509_get_ext_by_NID(x, NID_ext_key_usage, -1);
  if (idx < 0) {
    return fail(Errc::policy, "TSA certificate has no extendedKeyUsage (RFC 3161 2.3 requires id-kp-timeStamping)");
  }
  if (X509_get_ext_by_NID(x, NID_ext_key_usage, idx) >= 0) {
    return fail(Errc::policy, "TSA certificate has more than one extendedKeyUsage extension (RFC 3161 2.3)");
  }
  const uint32_t flags = X509_get_extension_flags(x);
  if ((flags & EXFLAG_INVALID) != 0) {
    return fail(Errc::policy, "TSA certificate has invalid extensions");
  }
  if (X509_get_extended_key_usage(x) != XKU_TIMESTAMP) {
    return fail(Errc::policy, "TSA certificate extendedKeyUsage must be id-kp-timeStamping only (RFC 3161 2.3)");
  }
  if (X509_EXTENSION_get_critical(X509_get_ext(x, idx)) == 0) {
    return fail(Errc::policy, "TSA certificate extendedKeyUsage is not critical (RFC 3161 2.3: \"This extension MUST be critical\")");
  }
  if (X509_check_purpose(x, X509_PURPOSE_TIMESTAMP_SIGN, 0) != 1) {
    clear_openssl_errors();
    return fail(Errc::policy, "TSA certificate keyUsage does not allow timestamping (digitalSignature/nonRepudiation only)");
  }
  return {};
}

}  // namespace detail

Result<TokenInfo> parse_token(ByteView token_der) {
  auto t = detail::parse(token_der);
  if (!t) {
    return std::unexpected(t.error());
  }
  return std::move(t->info);
}

std::string_view token_status_name(TokenStatus s) {
  switch (s) {
    case TokenStatus::ok: return "ok";
    case TokenStatus::malformed: return "malformed";
    case TokenStatus::imprint_mismatch: return "imprint_mismatch";
    case TokenStatus::signature_invalid: return "signature_invalid";
    case TokenStatus::signer_mismatch: return "signer_mismatch";
    case TokenStatus::chain_failure: return "chain_failure";
  }
  return "malformed";
}

TokenVerification verify_token(ByteView token_der, ByteView data, const certstore::TrustStore& trust, TimePoint at) {
  TokenVerification v;
  auto parsed = detail::parse(token_der);
  if (!parsed) {
    v.status = TokenStatus::malformed;
    v.message = parsed.error().message;
    return v;
  }
  detail::ParsedToken& t = *parsed;
  auto finish = [&](TokenStatus status, std::string message) {
    v.status = status;
    v.message = std::move(message);
    v.info = std::move(t.info);
    return std::move(v);
  };

  // RFC 3161 2.4.2: messageImprint "MUST have the same value as the similar field in TimeStampReq".
  const Bytes expected = digest(t.info.imprint_alg, data);
  if (!ct_equal(expected, t.info.imprint)) {
    return finish(TokenStatus::imprint_mismatch, std::string("the token's ") +
                                                     std::string(digest_name(t.info.imprint_alg)) +
                                                     " messageImprint is not the digest of the data");
  }
  if (auto r = detail::check_signature(t); !r) {
    return finish(TokenStatus::signature_invalid, r.error().message);
  }
  if (auto r = detail::check_signing_cert(t); !r) {
    return finish(TokenStatus::signer_mismatch, r.error().message);
  }
  if (auto r = detail::check_tsa_certificate(t.info.tsa_cert.get()); !r) {
    return finish(TokenStatus::chain_failure, r.error().message);
  }
  std::vector<const X509*> untrusted;
  for (const auto& c : t.info.certs) {
    if (X509_cmp(c.get(), t.info.tsa_cert.get()) != 0) {
      untrusted.push_back(c.get());
    }
  }
  v.chain = trust.verify(t.info.tsa_cert.get(), untrusted, at, certstore::Purpose::timestamping);
  if (v.chain.status != certstore::ChainStatus::ok) {
    return finish(TokenStatus::chain_failure,
                  "TSA certificate chain (" + std::string(certstore::chain_status_name(v.chain.status)) +
                      "): " + v.chain.message);
  }
  return finish(TokenStatus::ok, "timestamp token verified; genTime " + format_rfc3339(t.info.gen_time));
}

}  // namespace hanko::tsa
