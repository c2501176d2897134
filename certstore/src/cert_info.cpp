#include "hanko/certstore/cert_info.h"

#include <openssl/x509v3.h>

#include <array>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "der.h"
#include "hanko/common/bytes.h"
#include "hanko/common/ossl.h"
#include "text.h"

namespace hanko::certstore {

namespace {

using CertPoliciesPtr = ossl::Ptr<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free>;

constexpr std::uint8_t kBmpString = 0x1E;

/** DirectoryString (X.520) as UTF-8: UTF8String, PrintableString and BMPString are accepted. */
Result<std::string> directory_string(const der::Element& e) {
  switch (e.tag) {
    case der::kUtf8String: {
      std::string s = to_string(e.content);
      if (!is_valid_utf8(s)) {
        return fail(Errc::invalid_argument, "codeDataFreeText: UTF8String is not valid UTF-8");
      }
      return s;
    }
    case der::kPrintableString: {
      std::string s = to_string(e.content);
      if (!is_printable_string(s)) {
        return fail(Errc::invalid_argument, "codeDataFreeText: PrintableString holds characters outside its alphabet");
      }
      return s;
    }
    case kBmpString: {
      auto s = bmp_to_utf8(e.content);
      if (!s) {
        return fail(Errc::invalid_argument, "codeDataFreeText: malformed BMPString");
      }
      return *s;
    }
    default:
      return fail(Errc::unsupported, "codeDataFreeText: unsupported DirectoryString type (tag " + std::to_string(e.tag) + ")");
  }
}

/**
 * One HCActor ::= SEQUENCE { codedData [0] CodedData, regionalHCActorData [1] ... OPTIONAL }.
 * Returns the free text when codingSchemeReference is id-jhpki-cdata, nullopt for another scheme.
 */
Result<std::optional<std::string>> read_hc_actor(ByteView actor, ByteView jhpki_cdata) {
  der::Reader r(actor);
  auto coded = r.expect(der::context_constructed(0), "HCActor.codedData [0]");
  if (!coded) {
    return std::unexpected(coded.error());
  }
  if (!r.empty()) {
    auto regional = r.expect(der::context_constructed(1), "HCActor.regionalHCActorData [1]");
    if (!regional) {
      return std::unexpected(regional.error());
    }
    if (!r.empty()) {
      return fail(Errc::invalid_argument, "HCActor: unexpected element after regionalHCActorData");
    }
  }
  der::Reader cr(coded->content);
  auto set = cr.expect(der::kSet, "CodedData SET");
  if (!set) {
    return std::unexpected(set.error());
  }
  if (!cr.empty()) {
    return fail(Errc::invalid_argument, "HCActor.codedData [0]: trailing bytes after CodedData");
  }
  std::optional<ByteView> scheme;
  std::optional<std::string> free_text;
  bool seen_value = false;
  der::Reader fr(set->content);
  while (!fr.empty()) {
    auto field = fr.next();
    if (!field) {
      return fail(field.error().code, "CodedData: " + field.error().message);
    }
    der::Reader inner(field->content);
    if (field->tag == der::context_constructed(0)) {
      if (scheme) {
        return fail(Errc::invalid_argument, "CodedData: codingSchemeReference [0] appears twice");
      }
      auto o = inner.expect(der::kOid, "CodedData.codingSchemeReference [0]");
      if (!o) {
        return std::unexpected(o.error());
      }
      if (auto s = der::oid_to_string(o->content); !s) {
        return fail(s.error().code, "CodedData.codingSchemeReference: " + s.error().message);
      }
      scheme = o->content;
    } else if (field->tag == der::context_constructed(1)) {
      if (seen_value) {
        return fail(Errc::invalid_argument, "CodedData: codeDataValue [1] appears twice");
      }
      seen_value = true;
      auto v = inner.next();  // NumericString, "Do not use": checked for shape only
      if (!v) {
        return fail(v.error().code, "CodedData.codeDataValue [1]: " + v.error().message);
      }
    } else if (field->tag == der::context_constructed(2)) {
      if (free_text) {
        return fail(Errc::invalid_argument, "CodedData: codeDataFreeText [2] appears twice");
      }
      auto v = inner.next();
      if (!v) {
        return fail(v.error().code, "CodedData.codeDataFreeText [2]: " + v.error().message);
      }
      auto text = directory_string(*v);
      if (!text) {
        return std::unexpected(text.error());
      }
      free_text = std::move(*text);
    } else {
      return fail(Errc::invalid_argument, "CodedData: unexpected element with tag " + std::to_string(field->tag));
    }
    if (!inner.empty()) {
      return fail(Errc::invalid_argument, "CodedData: trailing bytes inside a tagged field");
    }
  }
  if (!scheme) {
    return fail(Errc::invalid_argument, "CodedData: codingSchemeReference [0] is missing");
  }
  if (!ct_equal(*scheme, jhpki_cdata)) {
    return std::optional<std::string>{};
  }
  if (!free_text) {
    return fail(Errc::invalid_argument, "CodedData: codeDataFreeText [2] is missing");
  }
  if (free_text->empty()) {
    return fail(Errc::invalid_argument, "CodedData: codeDataFreeText [2] is empty");
  }
  return std::optional<std::string>(std::move(*free_text));
}

/** hcRole from the DER of a subjectDirectoryAttributes extension value. */
Result<std::optional<std::string>> hc_role_from_sda(ByteView sda) {
  static const Bytes kHcActor = *der::oid_content(kOidHcActor);
  static const Bytes kJhpkiCdata = *der::oid_content(kOidJhpkiCdata);

  der::Reader top(sda);
  auto seq = top.expect(der::kSequence, "subjectDirectoryAttributes");
  if (!seq) {
    return std::unexpected(seq.error());
  }
  if (!top.empty()) {
    return fail(Errc::invalid_argument, "subjectDirectoryAttributes: trailing bytes after the SEQUENCE");
  }
  std::optional<std::string> role;
  der::Reader attrs(seq->content);
  if (attrs.empty()) {
    return fail(Errc::invalid_argument, "subjectDirectoryAttributes: empty SEQUENCE (SIZE (1..MAX))");
  }
  while (!attrs.empty()) {
    auto attr = attrs.expect(der::kSequence, "subjectDirectoryAttributes Attribute");
    if (!attr) {
      return std::unexpected(attr.error());
    }
    der::Reader ar(attr->content);
    auto type = ar.expect(der::kOid, "Attribute.type");
    if (!type) {
      return std::unexpected(type.error());
    }
    auto values = ar.expect(der::kSet, "Attribute.values");
    if (!values) {
      return std::unexpected(values.error());
    }
    if (!ar.empty()) {
      return fail(Errc::invalid_argument, "Attribute: trailing bytes after values");
    }
    if (auto t = der::oid_to_string(type->content); !t) {
      return fail(t.error().code, "Attribute.type: " + t.error().message);
    }
    if (!ct_equal(type->content, kHcActor)) {
      continue;  // another directory attribute (e.g. dateOfBirth): not ours
    }
    der::Reader vr(values->content);
    if (vr.empty()) {
      return fail(Errc::invalid_argument, "healthcareactor attribute: no value");
    }
    while (!vr.empty()) {
      auto actor_data = vr.expect(der::kSet, "HCActorData (SET OF HCActor)");
      if (!actor_data) {
        return std::unexpected(actor_data.error());
      }
      der::Reader hr(actor_data->content);
      if (hr.empty()) {
        return fail(Errc::invalid_argument, "HCActorData: empty SET");
      }
      while (!hr.empty()) {
        auto actor = hr.expect(der::kSequence, "HCActor");
        if (!actor) {
          return std::unexpected(actor.error());
        }
        auto r = read_hc_actor(actor->content, kJhpkiCdata);
        if (!r) {
          return std::unexpected(r.error());
        }
        if (*r && !role) {
          role = std::move(*r);  // the first matching entry wins; the rest are still checked for shape
        }
      }
    }
  }
  return role;
}

}  // namespace

CertSummary summarize(const X509* cert) {
  // Every field is a function of the DER, so summaries are cached by the
  // SHA-256 of the DER (computed anyway for sha256_hex): the same
  // certificates (signer, CA, anchor) are summarized several times per
  // verification and again by every verification.
  using Digest = std::array<unsigned char, 32>;
  struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept {
      std::size_t h = 0;
      std::memcpy(&h, d.data(), sizeof h);
      return h;
    }
  };
  struct Cache {
    std::mutex mutex;
    std::unordered_map<Digest, CertSummary, DigestHash> map;
  };
  constexpr std::size_t kMaxEntries = 1024;
  static Cache* cache = new Cache();  // never destroyed: usable from other static destructors

  const Bytes sha = ossl::cert_sha256(cert);
  Digest key{};
  const bool keyed = sha.size() == key.size();
  if (keyed) {
    std::memcpy(key.data(), sha.data(), key.size());
    std::lock_guard<std::mutex> lock(cache->mutex);
    if (auto it = cache->map.find(key); it != cache->map.end()) {
      return it->second;
    }
  }
  CertSummary s;
  s.subject = ossl::name_to_string(X509_get_subject_name(cert));
  s.issuer = ossl::name_to_string(X509_get_issuer_name(cert));
  s.serial_hex = ossl::serial_hex(cert);
  s.sha256_hex = hex(sha);
  s.not_before = ossl::asn1_time_to_timepoint(X509_get0_notBefore(cert)).value_or(TimePoint{});
  s.not_after = ossl::asn1_time_to_timepoint(X509_get0_notAfter(cert)).value_or(TimePoint{});
  if (keyed) {
    std::lock_guard<std::mutex> lock(cache->mutex);
    if (cache->map.size() >= kMaxEntries) {
      cache->map.clear();
    }
    cache->map.try_emplace(key, s);
  }
  return s;
}

Result<std::optional<std::string>> hc_role(const X509* cert) {
  const int idx = X509_get_ext_by_NID(cert, NID_subject_directory_attributes, -1);
  if (idx < 0) {
    return std::optional<std::string>{};
  }
  if (X509_get_ext_by_NID(cert, NID_subject_directory_attributes, idx) >= 0) {
    return fail(Errc::invalid_argument, "subjectDirectoryAttributes appears more than once (RFC 5280 section 4.2)");
  }
  const X509_EXTENSION* ext = X509_get_ext(cert, idx);
  const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(const_cast<X509_EXTENSION*>(ext));
  if (data == nullptr) {
    return fail(Errc::invalid_argument, "subjectDirectoryAttributes: no extension value");
  }
  ByteView der(ASN1_STRING_get0_data(data), static_cast<std::size_t>(ASN1_STRING_length(data)));
  auto r = hc_role_from_sda(der);
  if (!r) {
    return fail(r.error().code, "hcRole: " + r.error().message);
  }
  return r;
}

std::optional<JpkiIdentity> jpki_identity(const X509* cert) {
  int crit = 0;
  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  clear_openssl_errors();
  if (!names) {
    return std::nullopt;
  }
  static const Bytes kName = *der::oid_content(kOidJpkiName);
  static const Bytes kGender = *der::oid_content(kOidJpkiGender);
  static const Bytes kBirth = *der::oid_content(kOidJpkiBirthDate);
  static const Bytes kAddress = *der::oid_content(kOidJpkiAddress);

  std::optional<std::string> name;
  JpkiIdentity id;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    ASN1_OBJECT* type_id = nullptr;
    ASN1_TYPE* value = nullptr;
    if (GENERAL_NAME_get0_otherName(gn, &type_id, &value) != 1 || type_id == nullptr || value == nullptr) {
      continue;
    }
    const int vt = ASN1_TYPE_get(value);
    if (vt != V_ASN1_UTF8STRING && vt != V_ASN1_PRINTABLESTRING && vt != V_ASN1_IA5STRING) {
      continue;
    }
    const ASN1_STRING* str = value->value.asn1_string;
    std::string text(reinterpret_cast<const char*>(ASN1_STRING_get0_data(str)), static_cast<std::size_t>(ASN1_STRING_length(str)));
    if (!is_valid_utf8(text)) {
      continue;
    }
    ByteView oid(OBJ_get0_data(type_id), OBJ_length(type_id));
    if (ct_equal(oid, kName)) {
      if (!name) {
        name = std::move(text);
      }
    } else if (ct_equal(oid, kGender)) {
      if (!id.gender) {
        id.gender = std::move(text);
      }
    } else if (ct_equal(oid, kBirth)) {
      if (!id.birth_date) {
        id.birth_date = std::move(text);
      }
    } else if (ct_equal(oid, kAddress)) {
      if (!id.address) {
        id.address = std::move(text);
      }
    }
  }
  if (!name) {
    return std::nullopt;
  }
  id.name = std::move(*name);
  return id;
}

bool has_non_repudiation(const X509* cert) {
  X509* c = const_cast<X509*>(cert);  // the getters cache extensions; they do not change the certificate
  if ((X509_get_extension_flags(c) & EXFLAG_KUSAGE) == 0) {
    return false;
  }
  return (X509_get_key_usage(c) & KU_NON_REPUDIATION) != 0;
}

std::vector<std::string> policy_oids(const X509* cert) {
  std::vector<std::string> out;
  int crit = 0;
  CertPoliciesPtr pols(static_cast<CERTIFICATEPOLICIES*>(X509_get_ext_d2i(cert, NID_certificate_policies, &crit, nullptr)));
  clear_openssl_errors();
  if (!pols) {
    return out;
  }
  for (int i = 0; i < sk_POLICYINFO_num(pols.get()); ++i) {
    const POLICYINFO* pi = sk_POLICYINFO_value(pols.get(), i);
    char buf[128];
    const int n = OBJ_obj2txt(buf, sizeof buf, pi->policyid, 1);
    if (n > 0 && static_cast<std::size_t>(n) < sizeof buf) {
      out.emplace_back(buf, static_cast<std::size_t>(n));
    }
  }
  return out;
}

namespace {
std::vector<std::string> aia_urls(const X509* cert, int method_nid) {
  std::vector<std::string> out;
  std::unique_ptr<AUTHORITY_INFO_ACCESS, decltype(&AUTHORITY_INFO_ACCESS_free)> holder(
      static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(cert, NID_info_access, nullptr, nullptr)),
      &AUTHORITY_INFO_ACCESS_free);
  AUTHORITY_INFO_ACCESS* aia = holder.get();
  if (aia == nullptr) {
    clear_openssl_errors();
    return out;
  }
  for (int i = 0; i < sk_ACCESS_DESCRIPTION_num(aia); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia, i);
    if (OBJ_obj2nid(ad->method) != method_nid || ad->location == nullptr || ad->location->type != GEN_URI) {
      continue;
    }
    const ASN1_IA5STRING* uri = ad->location->d.uniformResourceIdentifier;
    std::string url(reinterpret_cast<const char*>(ASN1_STRING_get0_data(uri)), static_cast<std::size_t>(ASN1_STRING_length(uri)));
    if (url.starts_with("http://") || url.starts_with("https://")) {
      out.push_back(std::move(url));
    }
  }
  return out;
}
}  // namespace

std::vector<std::string> ca_issuers_urls(const X509* cert) { return aia_urls(cert, NID_ad_ca_issuers); }
std::vector<std::string> ocsp_urls(const X509* cert) { return aia_urls(cert, NID_ad_OCSP); }

}  // namespace hanko::certstore
