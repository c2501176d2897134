// The qualification policy (who may sign which document type, HPKI hcRole,
// JPKI and the qualification registry), the comparison of the signer with
// Signature.who, the cryptographic constraints and the parsing of both
// policies from configuration keys. Tables: one row per case, each check
// with a passing and a failing row.
#include "hanko/verifier/policy.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/common/ossl.h"
#include "hanko/store/database.h"
#include "test_support.h"

namespace hanko::verifier {
namespace {

// ---- fixtures -------------------------------------------------------------------------

ossl::X509Ptr dev_cert(std::string_view id) {
  auto certs = ossl::load_certificates(test::dev_pki().get(id).cert.string());
  if (!certs || certs->empty()) {
    throw std::runtime_error("cannot load dev PKI certificate " + std::string(id));
  }
  return std::move(certs->front());
}

json::Value load_json(const std::filesystem::path& p) {
  auto v = json::parse(test::read_text(p));
  if (!v) {
    throw std::runtime_error("bad JSON " + p.string() + ": " + v.error().message);
  }
  return std::move(*v);
}

json::Value parse_json(std::string_view text) {
  auto v = json::parse(text);
  if (!v) {
    throw std::runtime_error("bad JSON in test: " + v.error().message);
  }
  return std::move(*v);
}

const json::Value& example_bundle() {
  static const json::Value b = load_json(test::source_dir() / "examples" / "prescription-bundle.json");
  return b;
}

/** The example Bundle with extra entries appended (JSON objects as text). */
json::Value example_with(const std::vector<std::string>& entries) {
  json::Value b = example_bundle();
  for (const auto& e : entries) {
    b.find("entry")->as_array().push_back(parse_json(e));
  }
  return b;
}

enum class KeyKind { rsa2048, rsa1024, ec_p256, ec_p224, ec_p384 };

EVP_PKEY* cached_key(KeyKind k) {
  static std::map<KeyKind, ossl::EvpPkeyPtr> keys;
  auto& slot = keys[k];
  if (!slot) {
    switch (k) {
      case KeyKind::rsa2048: slot.reset(EVP_RSA_gen(2048)); break;
      case KeyKind::rsa1024: slot.reset(EVP_RSA_gen(1024)); break;
      case KeyKind::ec_p256: slot.reset(EVP_EC_gen("P-256")); break;
      case KeyKind::ec_p224: slot.reset(EVP_EC_gen("P-224")); break;
      case KeyKind::ec_p384: slot.reset(EVP_EC_gen("P-384")); break;
    }
    if (!slot) {
      throw std::runtime_error("key generation failed");
    }
  }
  return slot.get();
}

/** A self-signed test certificate made with OpenSSL; chain the setters. */
struct CertSpec {
  KeyKind key_kind = KeyKind::rsa2048;
  const EVP_MD* (*digest)() = EVP_sha256;
  std::string cn = "Test Signer";
  std::string ku = "critical,nonRepudiation";  ///< OpenSSL conf syntax; empty: no keyUsage
  std::string pols;                            ///< "oid,oid"; empty: no certificatePolicies
  std::vector<std::string> copies;             ///< dev PKI ids whose hcRole/subjectAltName are copied
  std::optional<Bytes> sda;                    ///< a raw subjectDirectoryAttributes value

  CertSpec& key(KeyKind k) { key_kind = k; return *this; }
  CertSpec& md(const EVP_MD* (*d)()) { digest = d; return *this; }
  CertSpec& key_usage(std::string v) { ku = std::move(v); return *this; }
  CertSpec& policies(std::string v) { pols = std::move(v); return *this; }
  CertSpec& copy_from(std::string id) { copies.push_back(std::move(id)); return *this; }
  CertSpec& raw_sda(Bytes v) { sda = std::move(v); return *this; }
};

ossl::X509Ptr make_cert(const CertSpec& s) {
  EVP_PKEY* key = cached_key(s.key_kind);
  ossl::X509Ptr cert(X509_new());
  ossl::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(s.cn.data()),
                             static_cast<int>(s.cn.size()), -1, 0);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 42);
  auto nb = ossl::timepoint_to_asn1(utc(2010, 1, 1));
  auto na = ossl::timepoint_to_asn1(utc(2036, 1, 1));
  X509_set1_notBefore(cert.get(), nb.get());
  X509_set1_notAfter(cert.get(), na.get());
  X509_set_subject_name(cert.get(), name.get());
  X509_set_issuer_name(cert.get(), name.get());
  X509_set_pubkey(cert.get(), key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const std::string& value) {
    ossl::X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1) {
      throw std::runtime_error("cannot add extension " + value);
    }
  };
  if (!s.ku.empty()) {
    add(NID_key_usage, s.ku);
  }
  if (!s.pols.empty()) {
    // certificatePolicies ::= SEQUENCE OF PolicyInformation (RFC 5280 section 4.2.1.4), no qualifiers.
    ossl::Ptr<CERTIFICATEPOLICIES, CERTIFICATEPOLICIES_free> pols(CERTIFICATEPOLICIES_new());
    std::size_t start = 0;
    while (true) {
      const auto comma = s.pols.find(',', start);
      const std::string oid = s.pols.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      ossl::Ptr<POLICYINFO, POLICYINFO_free> info(POLICYINFO_new());
      info->policyid = OBJ_txt2obj(oid.c_str(), 1);
      if (info->policyid == nullptr || sk_POLICYINFO_push(pols.get(), info.get()) <= 0) {
        throw std::runtime_error("bad policy OID " + oid);
      }
      info.release();  // owned by the stack now
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
    if (X509_add1_ext_i2d(cert.get(), NID_certificate_policies, pols.get(), 1, X509V3_ADD_DEFAULT) != 1) {
      throw std::runtime_error("cannot add certificatePolicies");
    }
  }
  for (const auto& id : s.copies) {
    auto src = dev_cert(id);
    for (int nid : {NID_subject_directory_attributes, NID_subject_alt_name}) {
      const int idx = X509_get_ext_by_NID(src.get(), nid, -1);
      if (idx >= 0 && X509_add_ext(cert.get(), X509_get_ext(src.get(), idx), -1) != 1) {
        throw std::runtime_error("cannot copy an extension");
      }
    }
  }
  if (s.sda) {
    ossl::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
    ASN1_OCTET_STRING_set(data.get(), s.sda->data(), static_cast<int>(s.sda->size()));
    ossl::X509ExtPtr ext(X509_EXTENSION_create_by_NID(nullptr, NID_subject_directory_attributes, 0, data.get()));
    X509_add_ext(cert.get(), ext.get(), -1);
  }
  if (X509_sign(cert.get(), key, s.digest()) <= 0) {
    throw std::runtime_error("X509_sign failed");
  }
  // Through DER, so that nothing cached while building survives.
  auto out = ossl::x509_from_der(ossl::x509_to_der(cert.get()));
  if (!out) {
    throw std::runtime_error("made certificate does not parse");
  }
  return out;
}

std::string cert_sha(const X509* c) { return certstore::summarize(c).sha256_hex; }

const DocumentType kPrescription{std::string(kDocTypeSystem), std::string(kDocTypePrescription), "処方箋"};
const DocumentType kDischarge{std::string(kDocTypeSystem), "18842-5", "退院時サマリー"};
const DocumentType kOtherSystem{"http://example.org/doc-types", std::string(kDocTypePrescription), ""};

// ---- registry fixtures --------------------------------------------------------------------

enum class Reg {
  none,                  ///< no registry configured (nullptr)
  empty,                 ///< a registry without entries
  identity_doctor,       ///< JPKI name + birth date, Medical Doctor, covering the signing time
  identity_pharmacist,   ///< JPKI name + birth date, Pharmacist
  identity_expired,      ///< ended before the signing time
  identity_future,       ///< starts after the signing time
  other_person,          ///< same name, other birth date
  sha_dentist,           ///< the certificate's SHA-256, Dentist
  sha_doctor_and_pharm,  ///< two current entries for the certificate: Pharmacist (first) and Medical Doctor
};

std::unique_ptr<store::Database> make_registry(Reg reg, const X509* cert) {
  if (reg == Reg::none) {
    return nullptr;
  }
  auto db = store::Database::open_sqlite(test::temp_dir("policy-registry") / "hanko.db");
  if (!db) {
    throw std::runtime_error("cannot open registry: " + db.error().message);
  }
  auto add = [&](std::string sha, std::string name, std::string birth, std::string role, TimePoint from, TimePoint to) {
    store::RegistryEntry e;
    e.cert_sha256 = std::move(sha);
    e.jpki_name = std::move(name);
    e.jpki_birth_date = std::move(birth);
    e.role = std::move(role);
    e.licence_number = "MD-123456";
    e.valid_from = from;
    e.valid_to = to;
    e.note = "policy_test";
    if (!(*db)->add_registry_entry(e)) {
      throw std::runtime_error("cannot add registry entry");
    }
  };
  const TimePoint from = utc(2025, 1, 1);
  const TimePoint to = utc(2027, 1, 1);
  switch (reg) {
    case Reg::none:
    case Reg::empty: break;
    case Reg::identity_doctor: add("", "山田 花子", "41990401", "Medical Doctor", from, to); break;
    case Reg::identity_pharmacist: add("", "山田 花子", "41990401", "Pharmacist", from, to); break;
    case Reg::identity_expired: add("", "山田 花子", "41990401", "Medical Doctor", utc(2024, 1, 1), utc(2026, 1, 1)); break;
    case Reg::identity_future: add("", "山田 花子", "41990401", "Medical Doctor", utc(2026, 2, 1), utc(2028, 1, 1)); break;
    case Reg::other_person: add("", "山田 花子", "41990402", "Medical Doctor", from, to); break;
    case Reg::sha_dentist: add(cert_sha(cert), "", "", "Dentist", from, to); break;
    case Reg::sha_doctor_and_pharm:
      add(cert_sha(cert), "", "", "Pharmacist", from, to);
      add(cert_sha(cert), "", "", "Medical Doctor", from, to);
      break;
  }
  return std::move(*db);
}

// ---- decide_qualification: the dev PKI signers -------------------------------------------

struct QualCase {
  const char* label;
  const char* cert;  ///< dev PKI id
  std::optional<DocumentType> doc;
  Reg reg;
  QualificationOutcome want;
  const char* source;
  const char* role;         ///< nullptr: no role expected
  const char* message_has;  ///< substring of the message
};

void PrintTo(const QualCase& c, std::ostream* os) { *os << c.label; }

class Qualification : public ::testing::TestWithParam<QualCase> {};

TEST_P(Qualification, Decides) {
  const QualCase& c = GetParam();
  auto cert = dev_cert(c.cert);
  auto registry = make_registry(c.reg, cert.get());
  const auto d = decide_qualification(cert.get(), c.doc, test::sign_time(), QualificationPolicy::defaults(), registry.get());
  EXPECT_EQ(outcome_name(d.outcome), outcome_name(c.want)) << d.message;
  EXPECT_EQ(d.source, c.source) << d.message;
  if (c.role != nullptr) {
    EXPECT_EQ(d.role.value_or("(none)"), c.role);
  } else {
    EXPECT_FALSE(d.role.has_value()) << *d.role;
  }
  EXPECT_NE(d.message.find(c.message_has), std::string::npos) << "message: " << d.message;
  if (d.source == "registry") {
    EXPECT_TRUE(d.registry_id.has_value());
    EXPECT_EQ(d.licence_number, "MD-123456");
  } else {
    EXPECT_FALSE(d.registry_id.has_value());
  }
}

using O = QualificationOutcome;

const QualCase kQualCases[] = {
    // HPKI hcRole against the prescription rule.
    {"DoctorPrescription", "doctor", kPrescription, Reg::none, O::qualified, "hcRole", "Medical Doctor",
     "hcRole Medical Doctor may sign a prescription (rule prescription)"},
    {"DentistPrescription", "dentist", kPrescription, Reg::none, O::qualified, "hcRole", "Dentist", "rule prescription"},
    {"EcDoctorPrescription", "doctor-ec", kPrescription, Reg::none, O::qualified, "hcRole", "Medical Doctor", "may sign"},
    {"PharmacistPrescription", "pharmacist", kPrescription, Reg::none, O::not_qualified, "hcRole", "Pharmacist",
     "hcRole Pharmacist may not sign a prescription (rule prescription allows Medical Doctor, Dentist)"},
    {"NursePrescription", "nurse", kPrescription, Reg::none, O::not_qualified, "hcRole", "Nurse",
     "hcRole Nurse may not sign a prescription"},
    // Other document types fall to any-document.
    {"PharmacistDischarge", "pharmacist", kDischarge, Reg::none, O::qualified, "hcRole", "Pharmacist",
     "may sign this document (rule any-document)"},
    {"NurseUnknownType", "nurse", std::nullopt, Reg::none, O::qualified, "hcRole", "Nurse", "rule any-document"},
    // The rule is bound to its code system: code 57833-6 in another system is not this rule's prescription.
    {"PharmacistPrescriptionCodeOtherSystem", "pharmacist", kOtherSystem, Reg::none, O::qualified, "hcRole", "Pharmacist",
     "rule any-document"},
    // HPKI without hcRole: not verifiable, unless registered by certificate.
    {"NoRoleNoRegistry", "no-role", kPrescription, Reg::none, O::not_verifiable, "none", nullptr,
     "carries no hcRole, so the qualification is not electronically verifiable"},
    {"NoRoleEmptyRegistry", "no-role", kPrescription, Reg::empty, O::not_verifiable, "none", nullptr, "hanko registry add"},
    {"NoRoleRegisteredBySha", "no-role", kPrescription, Reg::sha_dentist, O::qualified, "registry", "Dentist",
     "registered role Dentist may sign a prescription"},
    // JPKI: only the registry can tell.
    {"JpkiNoRegistry", "jpki-signer", kPrescription, Reg::none, O::not_verifiable, "none", nullptr,
     "the qualification of a JPKI signer is not electronically verifiable: register it with `hanko registry add`"},
    {"JpkiEmptyRegistry", "jpki-signer", kPrescription, Reg::empty, O::not_verifiable, "none", nullptr,
     "the qualification of a JPKI signer is not electronically verifiable: register it with `hanko registry add`"},
    {"JpkiRegisteredByIdentity", "jpki-signer", kPrescription, Reg::identity_doctor, O::qualified, "registry",
     "Medical Doctor", "registered role Medical Doctor may sign a prescription (rule prescription) (registry entry #1)"},
    {"JpkiRegisteredBySha", "jpki-signer", kPrescription, Reg::sha_dentist, O::qualified, "registry", "Dentist",
     "registered role Dentist"},
    {"JpkiRegisteredPharmacistPrescription", "jpki-signer", kPrescription, Reg::identity_pharmacist, O::not_qualified,
     "registry", "Pharmacist", "registered role Pharmacist may not sign a prescription"},
    {"JpkiRegistrationExpired", "jpki-signer", kPrescription, Reg::identity_expired, O::not_verifiable, "none", nullptr,
     "not at the signing time 2026-01-16T09:30:00Z"},
    {"JpkiRegistrationNotYetValid", "jpki-signer", kPrescription, Reg::identity_future, O::not_verifiable, "none", nullptr,
     "is valid from 2026-02-01T00:00:00Z"},
    {"JpkiRegistrationOfAnotherPerson", "jpki-signer", kPrescription, Reg::other_person, O::not_verifiable, "none", nullptr,
     "register it with `hanko registry add`"},
    // Of several current entries, the one the rule accepts is used.
    {"JpkiTwoEntriesPicksAcceptedRole", "jpki-signer", kPrescription, Reg::sha_doctor_and_pharm, O::qualified, "registry",
     "Medical Doctor", "(registry entry #2)"},
    // An HPKI signer with hcRole is judged on hcRole, never on the registry.
    {"HcRoleWinsOverRegistry", "pharmacist", kPrescription, Reg::sha_dentist, O::not_qualified, "hcRole", "Pharmacist",
     "hcRole Pharmacist may not sign"},
};

INSTANTIATE_TEST_SUITE_P(Policy, Qualification, ::testing::ValuesIn(kQualCases),
                         [](const ::testing::TestParamInfo<QualCase>& i) { return std::string(i.param.label); });

TEST(QualificationDetails, RegistryWarningsAndRule) {
  auto cert = dev_cert("jpki-signer");
  auto by_identity = make_registry(Reg::identity_doctor, cert.get());
  auto d = decide_qualification(cert.get(), kPrescription, test::sign_time(), QualificationPolicy::defaults(), by_identity.get());
  EXPECT_EQ(d.rule, "prescription");
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_NE(d.warnings[0].find("matched the JPKI name and birth date"), std::string::npos);

  auto by_sha = make_registry(Reg::sha_dentist, cert.get());
  d = decide_qualification(cert.get(), kPrescription, test::sign_time(), QualificationPolicy::defaults(), by_sha.get());
  EXPECT_TRUE(d.warnings.empty()) << d.warnings.front();

  auto two = make_registry(Reg::sha_doctor_and_pharm, cert.get());
  d = decide_qualification(cert.get(), kPrescription, test::sign_time(), QualificationPolicy::defaults(), two.get());
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_NE(d.warnings[0].find("different roles"), std::string::npos);

  d = decide_qualification(cert.get(), kPrescription, test::sign_time(), QualificationPolicy::defaults(), nullptr);
  ASSERT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.warnings[0], "no qualification registry is configured");
}

TEST(QualificationDetails, RegistryValidityBoundaries) {
  // valid_from <= t < valid_to: the first instant counts, the last does not.
  auto cert = dev_cert("jpki-signer");
  auto reg = make_registry(Reg::identity_doctor, cert.get());  // 2025-01-01 .. 2027-01-01
  const auto p = QualificationPolicy::defaults();
  EXPECT_EQ(decide_qualification(cert.get(), kPrescription, utc(2025, 1, 1), p, reg.get()).outcome, O::qualified);
  EXPECT_EQ(decide_qualification(cert.get(), kPrescription, utc(2024, 12, 31, 23, 59, 59), p, reg.get()).outcome,
            O::not_verifiable);
  EXPECT_EQ(decide_qualification(cert.get(), kPrescription, utc(2026, 12, 31, 23, 59, 59), p, reg.get()).outcome,
            O::qualified);
  EXPECT_EQ(decide_qualification(cert.get(), kPrescription, utc(2027, 1, 1), p, reg.get()).outcome, O::not_verifiable);
}

TEST(QualificationDetails, NullSignerIsNotVerifiable) {
  const auto d = decide_qualification(nullptr, kPrescription, test::sign_time(), QualificationPolicy::defaults(), nullptr);
  EXPECT_EQ(d.outcome, O::not_verifiable);
  EXPECT_EQ(d.source, "none");
}

// ---- decide_qualification: certificate profiles and policy variants ---------------------

struct ProfileCase {
  const char* label;
  std::function<ossl::X509Ptr()> cert;
  std::function<QualificationPolicy()> policy;
  std::optional<DocumentType> doc;
  Reg reg;
  QualificationOutcome want;
  const char* message_has;
};

void PrintTo(const ProfileCase& c, std::ostream* os) { *os << c.label; }

QualificationPolicy defaults() { return QualificationPolicy::defaults(); }

const std::string kSignCp = certstore::kOidHpkiSignPolicy;
const std::string kAuthCp = "1.2.392.100495.1.5.1.2.0.1";  // HPKI authentication arc: not for signing

std::vector<ProfileCase> profile_cases() {
  return {
      // Policy OID allow-list: HPKI.
      {"HpkiPolicyAllowed", [] { return dev_cert("doctor"); }, defaults, kPrescription, Reg::none, O::qualified, "may sign"},
      {"HpkiPolicyExcludedByAllowList", [] { return dev_cert("doctor"); },
       [] {
         auto p = defaults();
         p.hpki_policy_oids = {"1.2.3.4"};
         return p;
       },
       kPrescription, Reg::none, O::policy_not_allowed,
       "the HPKI certificate policy 1.2.392.100495.1.5.1.1.0.1 is not accepted for signing (allowed: 1.2.3.4)"},
      {"HpkiAuthenticationPolicy", [] { return make_cert(CertSpec().policies(kAuthCp).copy_from("doctor")); }, defaults,
       kPrescription, Reg::none, O::policy_not_allowed, "1.2.392.100495.1.5.1.2.0.1 is not accepted"},
      {"HpkiMadeWithSigningPolicy", [] { return make_cert(CertSpec().policies(kSignCp).copy_from("doctor")); }, defaults,
       kPrescription, Reg::none, O::qualified, "hcRole Medical Doctor may sign"},
      {"HcRoleWithoutAnyPolicy", [] { return make_cert(CertSpec().copy_from("doctor")); }, defaults, kPrescription, Reg::none,
       O::policy_not_allowed, "policy (none) is not accepted"},
      // keyUsage nonRepudiation.
      {"HpkiWithoutNonRepudiation",
       [] { return make_cert(CertSpec().key_usage("critical,digitalSignature").policies(kSignCp).copy_from("doctor")); },
       defaults, kPrescription, Reg::none, O::policy_not_allowed, "keyUsage lacks nonRepudiation"},
      {"HpkiWithoutNonRepudiationNotRequired",
       [] { return make_cert(CertSpec().key_usage("critical,digitalSignature").policies(kSignCp).copy_from("doctor")); },
       [] {
         auto p = defaults();
         p.require_non_repudiation = false;
         return p;
       },
       kPrescription, Reg::none, O::qualified, "may sign"},
      // A malformed hcRole is no evidence.
      {"MalformedHcRole", [] { return make_cert(CertSpec().policies(kSignCp).raw_sda(Bytes{0x30, 0x00})); }, defaults,
       kPrescription, Reg::none, O::not_verifiable, "hcRole in the signer certificate is malformed"},
      // Policy OID allow-list: JPKI.
      {"JpkiPolicyExcluded", [] { return dev_cert("jpki-signer"); },
       [] {
         auto p = defaults();
         p.jpki_policy_oids = {"1.2.392.200149.8.5.1.0.20"};
         return p;
       },
       kPrescription, Reg::identity_doctor, O::policy_not_allowed, "JPKI certificate policy 1.2.392.200149.8.5.1.1.20"},
      {"JpkiAuthenticationCertificate",
       [] { return make_cert(CertSpec().key_usage("critical,digitalSignature").policies("1.2.392.200149.8.5.1.3.30")); },
       defaults, kPrescription, Reg::none, O::policy_not_allowed, "1.2.392.200149.8.5.1.3.30 is not accepted"},
      {"JpkiShapedByOtherNameOnly", [] { return make_cert(CertSpec().copy_from("jpki-signer")); }, defaults, kPrescription,
       Reg::identity_doctor, O::policy_not_allowed, "JPKI certificate policy (none)"},
      // Neither profile: only the registry by certificate.
      {"OtherProfileNoRegistry", [] { return make_cert(CertSpec()); }, defaults, kPrescription, Reg::none, O::not_verifiable,
       "neither HPKI nor JPKI"},
      {"OtherProfileRegisteredBySha", [] { return make_cert(CertSpec()); }, defaults, kPrescription, Reg::sha_dentist, O::qualified,
       "registered role Dentist"},
      {"OtherProfileWithoutNonRepudiation", [] { return make_cert(CertSpec().key_usage("critical,digitalSignature")); }, defaults,
       kPrescription, Reg::sha_dentist, O::policy_not_allowed, "lacks nonRepudiation"},
      // Rules: unknown role for a fallback rule, no rule at all, a custom rule.
      {"RoleNotAHealthcareRole", [] { return dev_cert("pharmacist"); },
       [] {
         auto p = defaults();
         p.healthcare_roles = {"Medical Doctor", "Dentist"};
         return p;
       },
       kDischarge, Reg::none, O::not_qualified, "is not a healthcare role this policy knows"},
      {"AnyRoleWhenHealthcareRolesEmpty", [] { return dev_cert("pharmacist"); },
       [] {
         auto p = defaults();
         p.healthcare_roles.clear();
         return p;
       },
       kDischarge, Reg::none, O::qualified, "may sign"},
      {"NoRuleApplies", [] { return dev_cert("doctor"); },
       [] {
         auto p = defaults();
         p.rules.pop_back();  // only "prescription" is left
         return p;
       },
       kDischarge, Reg::none, O::not_qualified, "no qualification rule applies to the document type"},
      {"CustomRuleAcceptsPharmacist", [] { return dev_cert("pharmacist"); },
       [] {
         auto p = defaults();
         p.rules.insert(p.rules.begin(), QualificationRule{"dispensing", std::string(kDocTypeSystem), "18842-5", {"Pharmacist"}});
         return p;
       },
       kDischarge, Reg::none, O::qualified, "(rule dispensing)"},
      {"CustomRuleRefusesDoctor", [] { return dev_cert("doctor"); },
       [] {
         auto p = defaults();
         p.rules.insert(p.rules.begin(), QualificationRule{"dispensing", std::string(kDocTypeSystem), "18842-5", {"Pharmacist"}});
         return p;
       },
       kDischarge, Reg::none, O::not_qualified, "(rule dispensing allows Pharmacist)"},
  };
}

class Profiles : public ::testing::TestWithParam<ProfileCase> {};

TEST_P(Profiles, Decides) {
  const ProfileCase& c = GetParam();
  auto cert = c.cert();
  auto registry = make_registry(c.reg, cert.get());
  const auto d = decide_qualification(cert.get(), c.doc, test::sign_time(), c.policy(), registry.get());
  EXPECT_EQ(outcome_name(d.outcome), outcome_name(c.want)) << d.message;
  EXPECT_NE(d.message.find(c.message_has), std::string::npos) << "message: " << d.message;
}

INSTANTIATE_TEST_SUITE_P(Policy, Profiles, ::testing::ValuesIn(profile_cases()),
                         [](const ::testing::TestParamInfo<ProfileCase>& i) { return std::string(i.param.label); });

TEST(QualificationOutcomes, NamesAndSubIndications) {
  EXPECT_EQ(outcome_name(O::qualified), "QUALIFIED");
  EXPECT_EQ(outcome_name(O::not_qualified), "NOT_QUALIFIED");
  EXPECT_EQ(outcome_name(O::not_verifiable), "NOT_VERIFIABLE");
  EXPECT_EQ(outcome_name(O::policy_not_allowed), "POLICY_NOT_ALLOWED");
  EXPECT_EQ(sub_indication_for(O::qualified), SubIndication::none);
  EXPECT_EQ(sub_indication_for(O::not_qualified), SubIndication::sig_constraints_failure);
  EXPECT_EQ(sub_indication_for(O::not_verifiable), SubIndication::sig_constraints_failure);
  EXPECT_EQ(sub_indication_for(O::policy_not_allowed), SubIndication::chain_constraints_failure);
}

// ---- document_type ------------------------------------------------------------------------

TEST(DocumentTypeOf, ExamplePrescriptionBundle) {
  const auto t = document_type(example_bundle());
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->system, kDocTypeSystem);
  EXPECT_EQ(t->code, "57833-6");
  EXPECT_EQ(t->display, "処方箋");
  // And the example's prescriber, a Medical Doctor, is qualified for it.
  auto doctor = dev_cert("doctor");
  EXPECT_EQ(decide_qualification(doctor.get(), t, test::sign_time(), defaults(), nullptr).outcome, O::qualified);
  auto pharmacist = dev_cert("pharmacist");
  EXPECT_EQ(decide_qualification(pharmacist.get(), t, test::sign_time(), defaults(), nullptr).outcome, O::not_qualified);
}

TEST(DocumentTypeOf, TestDataBundle) {
  const auto t = document_type(load_json(test::data_file("bundles/simple-prescription.json")));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->code, "57833-6");
}

TEST(DocumentTypeOf, BundleWithoutComposition) {
  const auto b = parse_json(R"({"resourceType":"Bundle","type":"document","entry":[
    {"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"p"}},
    {"fullUrl":"urn:uuid:2","resource":{"resourceType":"Composition","type":{"coding":[{"system":"s","code":"57833-6"}]}}}]})");
  EXPECT_FALSE(document_type(b).has_value());  // the Composition must be the first entry
  EXPECT_FALSE(document_type(parse_json(R"({"resourceType":"Bundle","entry":[]})")).has_value());
  EXPECT_FALSE(document_type(parse_json(R"({"resourceType":"Bundle"})")).has_value());
  EXPECT_FALSE(document_type(parse_json(R"([1,2])")).has_value());
}

TEST(DocumentTypeOf, CompositionWithoutCodedType) {
  EXPECT_FALSE(document_type(parse_json(R"({"entry":[{"resource":{"resourceType":"Composition"}}]})")).has_value());
  EXPECT_FALSE(
      document_type(parse_json(R"({"entry":[{"resource":{"resourceType":"Composition","type":{"text":"処方箋"}}}]})"))
          .has_value());
  const auto t = document_type(parse_json(
      R"({"entry":[{"resource":{"resourceType":"Composition","type":{"coding":[{"system":"s"},{"code":"x"}]}}}]})"));
  ASSERT_TRUE(t.has_value());  // codings without a code are skipped
  EXPECT_EQ(t->code, "x");
  EXPECT_EQ(t->system, "");
}

TEST(DocumentTypeOf, PolicyPicksTheCodingOfTheEarliestRule) {
  const auto b = parse_json(R"({"entry":[{"resource":{"resourceType":"Composition","type":{"coding":[
      {"system":"http://example.org/local","code":"memo"},
      {"system":"http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes","code":"57833-6"}]}}}]})");
  const auto first = document_type(b);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->code, "memo");
  const auto by_policy = document_type(b, defaults());
  ASSERT_TRUE(by_policy.has_value());
  EXPECT_EQ(by_policy->code, "57833-6");
  // So a pharmacist cannot escape the prescription rule with an extra coding.
  auto pharmacist = dev_cert("pharmacist");
  EXPECT_EQ(decide_qualification(pharmacist.get(), by_policy, test::sign_time(), defaults(), nullptr).outcome,
            O::not_qualified);
  // Without a matching coding, the first one.
  const auto none = document_type(parse_json(
      R"({"entry":[{"resource":{"resourceType":"Composition","type":{"coding":[{"code":"a"},{"code":"b"}]}}}]})"),
      defaults());
  ASSERT_TRUE(none.has_value());
  EXPECT_EQ(none->code, "a");
}

// ---- compare_signer_with_bundle -------------------------------------------------------------

constexpr const char* kPractitionerUrn = "urn:uuid:c5e3a7b9-2d4f-4b8c-8e1a-3f5d7b9c1e2a";  // 山田　太郎

struct CompareCase {
  const char* label;
  const char* cert;
  std::string who;
  std::vector<std::string> extra_entries;
  const char* warning_has;  ///< nullptr: no warning expected
};

void PrintTo(const CompareCase& c, std::ostream* os) { *os << c.label; }

std::vector<CompareCase> compare_cases() {
  const std::string role_entry =
      R"({"fullUrl":"urn:uuid:role-1","resource":{"resourceType":"PractitionerRole","id":"role-1",
          "practitioner":{"reference":"urn:uuid:c5e3a7b9-2d4f-4b8c-8e1a-3f5d7b9c1e2a"}}})";
  return {
      // Kanji name of the HPKI subjectAltName dirName against 山田　太郎 (full-width space).
      {"DoctorMatchesByUrn", "doctor", kPractitionerUrn, {}, nullptr},
      {"DoctorMatchesByTypeAndId", "doctor", "Practitioner/practitioner-01", {}, nullptr},
      {"DentistDoesNotMatch", "dentist", kPractitionerUrn, {}, "is the Practitioner 山田　太郎"},
      {"DoctorViaPractitionerRole", "doctor", "urn:uuid:role-1", {role_entry}, nullptr},
      {"DentistViaPractitionerRole", "dentist", "urn:uuid:role-1", {role_entry}, "is the Practitioner 山田　太郎"},
      // Romaji, any case, full-width letters.
      {"RomajiUpperCase", "doctor", "urn:uuid:r1",
       {R"({"fullUrl":"urn:uuid:r1","resource":{"resourceType":"Practitioner","name":[{"family":"YAMADA","given":["TARO"]}]}})"},
       nullptr},
      {"RomajiFullWidth", "doctor", "urn:uuid:r2",
       {R"({"fullUrl":"urn:uuid:r2","resource":{"resourceType":"Practitioner","name":[{"text":"ＹＡＭＡＤＡ　Ｔａｒｏ"}]}})"}, nullptr},
      {"RomajiOtherPerson", "doctor", "urn:uuid:r3",
       {R"({"fullUrl":"urn:uuid:r3","resource":{"resourceType":"Practitioner","name":[{"family":"Yamada","given":["Jiro"]}]}})"},
       "is the Practitioner Yamada Jiro"},
      // JPKI name otherName.
      {"JpkiNameMatches", "jpki-signer", "urn:uuid:j1",
       {R"({"fullUrl":"urn:uuid:j1","resource":{"resourceType":"Practitioner","name":[{"family":"山田","given":["花子"]}]}})"},
       nullptr},
      {"JpkiNameMismatch", "jpki-signer", kPractitionerUrn, {}, "山田 花子"},
      // Signature.who missing, dangling or pointing elsewhere.
      {"WhoAbsent", "doctor", "", {}, "Signature.who has no reference"},
      // Signature.who.display (the signer writes the certificate's CN when no author is a Practitioner).
      {"WhoDisplayMatches", "doctor", "Yamada Taro", {}, nullptr},
      {"WhoDisplayKanjiMatches", "doctor", "山田太郎", {}, nullptr},
      {"WhoDisplayMismatch", "doctor", "Sato Hanako", {}, "Signature.who names Sato Hanako but the signer certificate names Yamada Taro / 山田 太郎"},
      {"WhoDoesNotResolve", "doctor", "urn:uuid:00000000-0000-4000-8000-000000000000", {}, "does not resolve"},
      {"WhoIsAnOrganization", "doctor", "urn:uuid:d6f4b8c0-3e5a-4c9d-9f2b-4a6e8c0d2f3b", {},
       "points at a Organization, not a Practitioner"},
      {"PractitionerRoleWithoutPractitioner", "doctor", "urn:uuid:role-2",
       {R"({"fullUrl":"urn:uuid:role-2","resource":{"resourceType":"PractitionerRole"}})"}, "names no practitioner"},
      {"PractitionerRoleDangling", "doctor", "urn:uuid:role-3",
       {R"({"fullUrl":"urn:uuid:role-3","resource":{"resourceType":"PractitionerRole","practitioner":{"reference":"urn:uuid:gone"}}})"},
       "does not resolve"},
      {"PractitionerWithoutName", "doctor", "urn:uuid:n1",
       {R"({"fullUrl":"urn:uuid:n1","resource":{"resourceType":"Practitioner"}})"}, "has no name"},
  };
}

class CompareSigner : public ::testing::TestWithParam<CompareCase> {};

TEST_P(CompareSigner, Warns) {
  const CompareCase& c = GetParam();
  auto cert = dev_cert(c.cert);
  const json::Value bundle = example_with(c.extra_entries);
  const auto w = compare_signer_with_bundle(cert.get(), std::string("Medical Doctor"), bundle, c.who);
  if (c.warning_has == nullptr) {
    EXPECT_TRUE(w.empty()) << w.front();
  } else {
    ASSERT_EQ(w.size(), 1u);
    EXPECT_NE(w[0].find(c.warning_has), std::string::npos) << w[0];
  }
}

INSTANTIATE_TEST_SUITE_P(Policy, CompareSigner, ::testing::ValuesIn(compare_cases()),
                         [](const ::testing::TestParamInfo<CompareCase>& i) { return std::string(i.param.label); });

TEST(CompareSignerDetails, MismatchNamesCertificateNamesAndRole) {
  auto cert = dev_cert("dentist");
  const auto w = compare_signer_with_bundle(cert.get(), std::string("Dentist"), example_bundle(), kPractitionerUrn);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("Suzuki Ichiro"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("鈴木 一郎"), std::string::npos) << w[0];
  EXPECT_NE(w[0].find("the signer (Dentist)"), std::string::npos) << w[0];
}

// ---- cryptographic constraints --------------------------------------------------------------

struct CertCryptoCase {
  const char* label;
  std::function<ossl::X509Ptr()> cert;
  TimePoint at;
  std::function<CryptoConstraints()> constraints;
  bool ok;
  std::optional<TimePoint> sunset;
  const char* message_has;
};

void PrintTo(const CertCryptoCase& c, std::ostream* os) { *os << c.label; }

CryptoConstraints crypto_defaults() { return CryptoConstraints::defaults(); }

std::vector<CertCryptoCase> cert_crypto_cases() {
  const TimePoint now = test::sign_time();
  return {
      {"DevDoctorRsa2048", [] { return dev_cert("doctor"); }, now, crypto_defaults, true, std::nullopt,
       "RSA-2048 key, SHA-256 certificate signature"},
      {"DevDoctorEcP256", [] { return dev_cert("doctor-ec"); }, now, crypto_defaults, true, std::nullopt, "EC-256 key"},
      {"MadeEcP256", [] { return make_cert(CertSpec().key(KeyKind::ec_p256)); }, now, crypto_defaults, true, std::nullopt,
       "EC-256 key, SHA-256"},
      {"MadeEcP224Refused", [] { return make_cert(CertSpec().key(KeyKind::ec_p224)); }, now, crypto_defaults, false, std::nullopt,
       "EC-224 is shorter than the minimum of 256 bits"},
      {"MadeRsa1024Refused", [] { return make_cert(CertSpec().key(KeyKind::rsa1024)); }, now, crypto_defaults, false, std::nullopt,
       "RSA-1024 is shorter than the minimum of 2048 bits"},
      {"Sha1SignedRefusedWithSunset", [] { return make_cert(CertSpec().md(EVP_sha1)); }, now, crypto_defaults, false,
       utc(2013, 1, 1), "SHA-1 is not acceptable for signatures made after 2013-01-01T00:00:00Z"},
      {"Sha1SignedBeforeSunset", [] { return make_cert(CertSpec().md(EVP_sha1)); }, utc(2012, 12, 31), crypto_defaults, true,
       std::nullopt, "SHA-1 certificate signature"},
      {"Sha1AndRsa1024NoSunset", [] { return make_cert(CertSpec().key(KeyKind::rsa1024).md(EVP_sha1)); }, now, crypto_defaults,
       false, std::nullopt, "RSA-1024"},  // a POE does not help a short key: no sunset
      {"Sha384Signed", [] { return make_cert(CertSpec().md(EVP_sha384)); }, now, crypto_defaults, true, std::nullopt, "SHA-384"},
      {"Sha224NotInTable", [] { return make_cert(CertSpec().md(EVP_sha224)); }, now, crypto_defaults, false, std::nullopt,
       "(SHA-224) is not an accepted algorithm"},
      {"EcNotInTable", [] { return make_cert(CertSpec().key(KeyKind::ec_p256)); }, now,
       [] {
         auto c = crypto_defaults();
         std::erase_if(c.table, [](const AlgorithmConstraint& r) { return r.name == "EC"; });
         return c;
       },
       false, std::nullopt, "key (EC) is not an accepted algorithm"},
      {"RsaMin3072RefusesDoctor", [] { return dev_cert("doctor"); }, now,
       [] {
         auto c = crypto_defaults();
         for (auto& r : c.table) {
           if (r.name == "RSA") {
             r.min_bits = 3072;
           }
         }
         return c;
       },
       false, std::nullopt, "RSA-2048 is shorter than the minimum of 3072 bits"},
      {"RsaSunsetReached", [] { return dev_cert("doctor"); }, now,
       [] {
         auto c = crypto_defaults();
         for (auto& r : c.table) {
           if (r.name == "RSA") {
             r.sunset = utc(2026, 1, 1);
           }
         }
         return c;
       },
       false, utc(2026, 1, 1), "key RSA is not acceptable"},
  };
}

class CertificateCrypto : public ::testing::TestWithParam<CertCryptoCase> {};

TEST_P(CertificateCrypto, Checks) {
  const CertCryptoCase& c = GetParam();
  auto cert = c.cert();
  const auto r = check_certificate_crypto(cert.get(), c.at, c.constraints());
  EXPECT_EQ(r.ok, c.ok) << r.message;
  EXPECT_EQ(r.sunset, c.sunset) << r.message;
  EXPECT_NE(r.message.find(c.message_has), std::string::npos) << "message: " << r.message;
}

INSTANTIATE_TEST_SUITE_P(Policy, CertificateCrypto, ::testing::ValuesIn(cert_crypto_cases()),
                         [](const ::testing::TestParamInfo<CertCryptoCase>& i) { return std::string(i.param.label); });

TEST(CertificateCryptoDetails, TwoSunsetsGiveTheEarliest) {
  auto cert = make_cert(CertSpec().md(EVP_sha1));
  auto c = crypto_defaults();
  for (auto& r : c.table) {
    if (r.name == "RSA") {
      r.sunset = utc(2020, 1, 1);
    }
  }
  const auto r = check_certificate_crypto(cert.get(), test::sign_time(), c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.sunset, utc(2013, 1, 1)) << r.message;
  EXPECT_EQ(check_certificate_crypto(nullptr, test::sign_time(), c).ok, false);
}

struct SigCryptoCase {
  const char* label;
  const char* alg;
  std::function<ossl::X509Ptr()> cert;
  TimePoint at;
  std::function<CryptoConstraints()> constraints;
  bool ok;
  std::optional<TimePoint> sunset;
  const char* message_has;
};

void PrintTo(const SigCryptoCase& c, std::ostream* os) { *os << c.label; }

std::vector<SigCryptoCase> sig_crypto_cases() {
  const TimePoint now = test::sign_time();
  auto sunset_rs256 = [] {
    auto c = crypto_defaults();
    for (auto& r : c.table) {
      if (r.name == "RS256") {
        r.sunset = utc(2020, 1, 1);
      }
    }
    return c;
  };
  return {
      {"Rs256Rsa2048", "RS256", [] { return dev_cert("doctor"); }, now, crypto_defaults, true, std::nullopt,
       "RS256 with a RSA-2048 key"},
      {"Es256P256", "ES256", [] { return dev_cert("doctor-ec"); }, now, crypto_defaults, true, std::nullopt,
       "ES256 with a EC-256 key"},
      {"Ps256Rsa2048", "PS256", [] { return dev_cert("doctor"); }, now, crypto_defaults, true, std::nullopt, "PS256"},
      {"Es384P384", "ES384", [] { return make_cert(CertSpec().key(KeyKind::ec_p384)); }, now, crypto_defaults, true, std::nullopt,
       "ES384"},
      {"Rs256Rsa1024", "RS256", [] { return make_cert(CertSpec().key(KeyKind::rsa1024)); }, now, crypto_defaults, false,
       std::nullopt, "RSA-1024 is shorter than the minimum of 2048 bits"},
      {"Es256WithRsaKey", "ES256", [] { return dev_cert("doctor"); }, now, crypto_defaults, false, std::nullopt,
       "ES256 needs a EC prime256v1 key, but the signer's key is RSA-2048"},
      {"Es384WithP256Key", "ES384", [] { return dev_cert("doctor-ec"); }, now, crypto_defaults, false, std::nullopt,
       "ES384 needs a EC secp384r1 key"},
      {"Rs256WithEcKey", "RS256", [] { return dev_cert("doctor-ec"); }, now, crypto_defaults, false, std::nullopt,
       "RS256 needs a RSA key"},
      {"Hs256Refused", "HS256", [] { return dev_cert("doctor"); }, now, crypto_defaults, false, std::nullopt,
       "\"HS256\" is not a public-key signature algorithm"},
      {"NoneRefused", "none", [] { return dev_cert("doctor"); }, now, crypto_defaults, false, std::nullopt,
       "\"none\" is not"},
      {"EdDsaNotInDefaults", "EdDSA", [] { return dev_cert("doctor"); }, now, crypto_defaults, false, std::nullopt,
       "JWS algorithm (EdDSA) is not an accepted algorithm"},
      {"Rs256AfterItsSunset", "RS256", [] { return dev_cert("doctor"); }, now, sunset_rs256, false, utc(2020, 1, 1),
       "JWS algorithm RS256 is not acceptable for signatures made after 2020-01-01T00:00:00Z"},
      {"Rs256BeforeItsSunset", "RS256", [] { return dev_cert("doctor"); }, utc(2019, 6, 1), sunset_rs256, true,
       std::nullopt, "acceptable at 2019-06-01T00:00:00Z"},
  };
}

class SignatureCrypto : public ::testing::TestWithParam<SigCryptoCase> {};

TEST_P(SignatureCrypto, Checks) {
  const SigCryptoCase& c = GetParam();
  auto cert = c.cert();
  const auto r = check_signature_crypto(c.alg, cert.get(), c.at, c.constraints());
  EXPECT_EQ(r.ok, c.ok) << r.message;
  EXPECT_EQ(r.sunset, c.sunset) << r.message;
  EXPECT_NE(r.message.find(c.message_has), std::string::npos) << "message: " << r.message;
}

INSTANTIATE_TEST_SUITE_P(Policy, SignatureCrypto, ::testing::ValuesIn(sig_crypto_cases()),
                         [](const ::testing::TestParamInfo<SigCryptoCase>& i) { return std::string(i.param.label); });

TEST(CryptoDefaults, Table) {
  const auto c = CryptoConstraints::defaults();
  ASSERT_NE(c.find("RSA"), nullptr);
  EXPECT_EQ(c.find("RSA")->min_bits, 2048);
  ASSERT_NE(c.find("EC"), nullptr);
  EXPECT_EQ(c.find("EC")->min_bits, 256);
  ASSERT_NE(c.find("SHA-1"), nullptr);
  EXPECT_EQ(c.find("SHA-1")->sunset, utc(2013, 1, 1));
  for (const char* n : {"SHA-256", "SHA-384", "SHA-512", "RS256", "ES256"}) {
    ASSERT_NE(c.find(n), nullptr) << n;
    EXPECT_FALSE(c.find(n)->sunset.has_value()) << n;
  }
  EXPECT_EQ(c.find("MD5"), nullptr);
}

// ---- configuration parsing -------------------------------------------------------------------

TEST(PolicyConfig, EmptyAndUnrelatedKeysGiveDefaults) {
  const std::map<std::string, std::string> keys = {{"server.port", "8443"}, {"policyx", "1"}, {"cryptox.y", "2"}};
  auto p = qualification_policy_from(keys);
  ASSERT_TRUE(p) << p.error().message;
  const auto d = QualificationPolicy::defaults();
  ASSERT_EQ(p->rules.size(), 2u);
  EXPECT_EQ(p->rules[0].name, "prescription");
  EXPECT_EQ(p->rules[0].doc_type_system, kDocTypeSystem);
  EXPECT_EQ(p->rules[0].doc_type_code, "57833-6");
  EXPECT_EQ(p->rules[0].roles, (std::vector<std::string>{"Medical Doctor", "Dentist"}));
  EXPECT_EQ(p->rules[1].name, "any-document");
  EXPECT_TRUE(p->rules[1].doc_type_code.empty());
  EXPECT_TRUE(p->rules[1].roles.empty());
  EXPECT_EQ(p->hpki_policy_oids, (std::vector<std::string>{"1.2.392.100495.1.5.1.1.0.1"}));
  EXPECT_EQ(p->jpki_policy_oids, (std::vector<std::string>{"1.2.392.200149.8.5.1.1.20"}));
  EXPECT_EQ(p->healthcare_roles, d.healthcare_roles);
  EXPECT_TRUE(p->require_non_repudiation);

  auto c = crypto_constraints_from(keys);
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->table.size(), CryptoConstraints::defaults().table.size());
}

TEST(PolicyConfig, FullConfiguration) {
  const std::map<std::string, std::string> keys = {
      {"policy.rules", " prescription , dispensing,fallback "},
      {"policy.rule.prescription.roles", "Medical Doctor; Dentist ;Director of Clinic"},
      {"policy.rule.dispensing.docType", "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes|18842-5"},
      {"policy.rule.dispensing.roles", "Pharmacist"},
      {"policy.rule.fallback.docType", "*"},
      {"policy.rule.fallback.roles", "*"},
      {"policy.hpkiPolicyOids", "1.2.392.100495.1.5.1.1.0.1, 1.2.392.100495.1.5.1.1.0.2"},
      {"policy.jpkiPolicyOids", ""},
      {"policy.healthcareRoles", "Medical Doctor;Pharmacist"},
      {"policy.requireNonRepudiation", "No"},
  };
  auto p = qualification_policy_from(keys);
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->rules.size(), 3u);
  EXPECT_EQ(p->rules[0].name, "prescription");  // starts from the default rule
  EXPECT_EQ(p->rules[0].doc_type_code, "57833-6");
  EXPECT_EQ(p->rules[0].roles, (std::vector<std::string>{"Medical Doctor", "Dentist", "Director of Clinic"}));
  EXPECT_EQ(p->rules[1].name, "dispensing");
  EXPECT_EQ(p->rules[1].doc_type_system, kDocTypeSystem);
  EXPECT_EQ(p->rules[1].doc_type_code, "18842-5");
  EXPECT_EQ(p->rules[1].roles, (std::vector<std::string>{"Pharmacist"}));
  EXPECT_EQ(p->rules[2].name, "fallback");
  EXPECT_TRUE(p->rules[2].doc_type_code.empty());
  EXPECT_TRUE(p->rules[2].roles.empty());
  EXPECT_EQ(p->hpki_policy_oids.size(), 2u);
  EXPECT_TRUE(p->jpki_policy_oids.empty());
  EXPECT_EQ(p->healthcare_roles, (std::vector<std::string>{"Medical Doctor", "Pharmacist"}));
  EXPECT_FALSE(p->require_non_repudiation);

  // The parsed policy is the one applied.
  auto pharmacist = dev_cert("pharmacist");
  auto d = decide_qualification(pharmacist.get(), kDischarge, test::sign_time(), *p, nullptr);
  EXPECT_EQ(d.outcome, O::qualified) << d.message;
  EXPECT_EQ(d.rule, "dispensing");
  auto nurse = dev_cert("nurse");
  d = decide_qualification(nurse.get(), std::nullopt, test::sign_time(), *p, nullptr);
  EXPECT_EQ(d.outcome, O::not_qualified) << d.message;  // Nurse is not in policy.healthcareRoles
  auto jpki = dev_cert("jpki-signer");
  d = decide_qualification(jpki.get(), kPrescription, test::sign_time(), *p, nullptr);
  EXPECT_EQ(d.outcome, O::policy_not_allowed) << d.message;  // no JPKI policy allowed
}

TEST(PolicyConfig, CodeOnlyDocTypeMatchesAnySystem) {
  auto p = qualification_policy_from({{"policy.rule.prescription.docType", "57833-6"}});
  ASSERT_TRUE(p) << p.error().message;
  EXPECT_TRUE(p->rules[0].doc_type_system.empty());
  auto pharmacist = dev_cert("pharmacist");
  EXPECT_EQ(decide_qualification(pharmacist.get(), kOtherSystem, test::sign_time(), *p, nullptr).outcome, O::not_qualified);
}

struct BadKey {
  const char* key;
  const char* value;
  const char* message_has;
};

void PrintTo(const BadKey& c, std::ostream* os) { *os << c.key << " = \"" << c.value << "\""; }

/** "policy_rule_prescription_docType_3": the key, made an identifier, and the row. */
std::string bad_key_name(const ::testing::TestParamInfo<BadKey>& i) {
  std::string n;
  for (const char* p = i.param.key; *p != '\0'; ++p) {
    const char ch = *p;
    n += ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')) ? ch : '_';
  }
  return n + "_" + std::to_string(i.index);
}

class BadPolicyKey : public ::testing::TestWithParam<BadKey> {};

TEST_P(BadPolicyKey, IsRefusedNamingTheKey) {
  const BadKey& c = GetParam();
  auto p = qualification_policy_from({{c.key, c.value}});
  ASSERT_FALSE(p) << c.key << " = " << c.value;
  EXPECT_EQ(p.error().code, Errc::invalid_argument);
  EXPECT_NE(p.error().message.find(std::string("configuration key ") + c.key), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find(c.message_has), std::string::npos) << p.error().message;
}

INSTANTIATE_TEST_SUITE_P(Policy, BadPolicyKey,
                         ::testing::Values(BadKey{"policy.rules", "", "give rule names"},
                                           BadKey{"policy.rules", "a,,b", "give rule names"},
                                           BadKey{"policy.rules", "bad name!", "is not a rule name"},
                                           BadKey{"policy.rules", "x,x", "listed twice"},
                                           BadKey{"policy.rule.nosuch.roles", "Nurse", "is not listed in policy.rules"},
                                           BadKey{"policy.rule.prescription.roles", "", "or * for any"},
                                           BadKey{"policy.rule.prescription.roles", "Medical Doctor;;Dentist", "or * for any"},
                                           BadKey{"policy.rule.prescription.docType", "", "* for any document type"},
                                           BadKey{"policy.rule.prescription.docType", "|57833-6", "needs both a system and a code"},
                                           BadKey{"policy.rule.prescription.docType", "http://x|", "needs both"},
                                           BadKey{"policy.rule.prescription.colour", "red", "unknown rule setting"},
                                           BadKey{"policy.rule.prescription", "x", "expected policy.rule.<name>"},
                                           BadKey{"policy.hpkiPolicyOids", "1.2.x", "is not a dotted OID"},
                                           BadKey{"policy.hpkiPolicyOids", "3.1", "is not a dotted OID"},
                                           BadKey{"policy.jpkiPolicyOids", "1.2.3,,1.2.4", "empty item"},
                                           BadKey{"policy.healthcareRoles", "", "or * for any"},
                                           BadKey{"policy.requireNonRepudiation", "maybe", "is not true or false"},
                                           BadKey{"policy.requireNonRepudation", "true", "is unknown"}),
                         bad_key_name);

TEST(CryptoConfig, FullConfiguration) {
  auto c = crypto_constraints_from({{"crypto.algorithms", "RSA, EC,SHA-1,SHA-256,SHA3-256,RS256"},
                                    {"crypto.RSA.minBits", "3072"},
                                    {"crypto.SHA-1.sunset", "none"},
                                    {"crypto.SHA-256.sunset", "2040-01-01T00:00:00Z"},
                                    {"crypto.SHA3-256.sunset", "2050-06-30"}});
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_EQ(c->table.size(), 6u);
  EXPECT_EQ(c->find("RSA")->min_bits, 3072);
  EXPECT_EQ(c->find("EC")->min_bits, 256);  // default kept
  EXPECT_FALSE(c->find("SHA-1")->sunset.has_value());
  EXPECT_EQ(c->find("SHA-256")->sunset, utc(2040, 1, 1));
  EXPECT_EQ(c->find("SHA3-256")->sunset, utc(2050, 6, 30));
  EXPECT_EQ(c->find("ES256"), nullptr);  // not listed: refused
  auto ec = dev_cert("doctor-ec");
  EXPECT_FALSE(check_signature_crypto("ES256", ec.get(), test::sign_time(), *c).ok);
  auto doctor = dev_cert("doctor");
  const auto r = check_signature_crypto("RS256", doctor.get(), test::sign_time(), *c);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("minimum of 3072"), std::string::npos) << r.message;
}

TEST(CryptoConfig, OverridesWithoutAlgorithmList) {
  auto c = crypto_constraints_from({{"crypto.SHA-1.sunset", "2030-01-01"}, {"crypto.EC.minBits", "384"}});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->table.size(), CryptoConstraints::defaults().table.size());
  EXPECT_EQ(c->find("SHA-1")->sunset, utc(2030, 1, 1));
  auto sha1 = make_cert(CertSpec().md(EVP_sha1));
  EXPECT_TRUE(check_certificate_crypto(sha1.get(), test::sign_time(), *c).ok);
  auto ec = dev_cert("doctor-ec");
  EXPECT_FALSE(check_certificate_crypto(ec.get(), test::sign_time(), *c).ok);
}

class BadCryptoKey : public ::testing::TestWithParam<BadKey> {};

TEST_P(BadCryptoKey, IsRefusedNamingTheKey) {
  const BadKey& c = GetParam();
  auto r = crypto_constraints_from({{c.key, c.value}});
  ASSERT_FALSE(r) << c.key << " = " << c.value;
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  EXPECT_NE(r.error().message.find(std::string("configuration key ") + c.key), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(c.message_has), std::string::npos) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(Policy, BadCryptoKey,
                         ::testing::Values(BadKey{"crypto.algorithms", "", "give algorithm names"},
                                           BadKey{"crypto.algorithms", "RSA,FOO", "unknown algorithm \"FOO\""},
                                           BadKey{"crypto.algorithms", "RSA,RSA", "listed twice"},
                                           BadKey{"crypto.RSA.minBits", "abc", "is not a key size"},
                                           BadKey{"crypto.RSA.minBits", "-1", "is not a key size"},
                                           BadKey{"crypto.RSA.minBits", "99999999", "is not a key size"},
                                           BadKey{"crypto.SHA-256.minBits", "256", "only to key algorithms"},
                                           BadKey{"crypto.SHA-1.sunset", "yesterday", "is not a date"},
                                           BadKey{"crypto.FOO.sunset", "2020-01-01", "unknown algorithm \"FOO\""},
                                           BadKey{"crypto.SHA3-256.sunset", "2030-01-01", "is not in crypto.algorithms"},
                                           BadKey{"crypto.RSA.maxBits", "4096", "unknown setting"},
                                           BadKey{"crypto.RSA", "1", "is unknown"}),
                         bad_key_name);

}  // namespace
}  // namespace hanko::verifier
