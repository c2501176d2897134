#include "hanko/certstore/cert_info.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include "hanko/common/ossl.h"
#include "test_support.h"
#include "test_util.h"

namespace hanko::certstore {
namespace {

using testing::hx;
using testing::item_cert;
using testing::with_extension;

/** subjectDirectoryAttributes of an HPKI "Medical Doctor" (domain.md section 1), written out by hand. */
const Bytes kMedicalDoctorSda = hx(R"(
30 34                                          -- SEQUENCE (SubjectDirectoryAttributes)
  30 32                                        --   SEQUENCE (Attribute)
    06 06 28 81 85 42 00 01                    --     OID 1.0.17090.0.1 id-hcpki-at-healthcareactor
    31 28                                      --     SET (values)
      31 26                                    --       SET (HCActorData)
        30 24                                  --         SEQUENCE (HCActor)
          A0 22                                --           [0] codedData
            31 20                              --             SET (CodedData)
              A0 0C                            --               [0] codingSchemeReference
                06 0A 2A 83 08 86 91 0F 01 06 01 01  --           OID 1.2.392.100495.1.6.1.1
              A2 10                            --               [2] codeDataFreeText
                0C 0E 4D 65 64 69 63 61 6C 20 44 6F 63 74 6F 72  -- UTF8String "Medical Doctor"
)");

Bytes extension_value(const X509* cert, int nid) {
  const int idx = X509_get_ext_by_NID(cert, nid, -1);
  if (idx < 0) {
    return {};
  }
  const ASN1_OCTET_STRING* d = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
  return Bytes(ASN1_STRING_get0_data(d), ASN1_STRING_get0_data(d) + ASN1_STRING_length(d));
}

Result<std::optional<std::string>> role_of_sda(const Bytes& sda) {
  auto doctor = item_cert(test::dev_pki(), "doctor");
  auto cert = with_extension(doctor.get(), NID_subject_directory_attributes, false, sda);
  return hc_role(cert.get());
}

TEST(CertInfo, DoctorExtensionIsExactlyTheDomainDer) {
  auto doctor = item_cert(test::dev_pki(), "doctor");
  EXPECT_EQ(extension_value(doctor.get(), NID_subject_directory_attributes), kMedicalDoctorSda);
  const int idx = X509_get_ext_by_NID(doctor.get(), NID_subject_directory_attributes, -1);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(doctor.get(), idx)), 0);
}

TEST(CertInfo, HcRoleOfEveryDevSigner) {
  const auto& pki = test::dev_pki();
  const std::pair<const char*, const char*> expected[] = {{"doctor", "Medical Doctor"},  {"dentist", "Dentist"},
                                                           {"pharmacist", "Pharmacist"},  {"nurse", "Nurse"},
                                                           {"expired", "Medical Doctor"}, {"revoked", "Medical Doctor"},
                                                           {"doctor-ec", "Medical Doctor"}};
  for (const auto& [id, role] : expected) {
    auto cert = item_cert(pki, id);
    auto r = hc_role(cert.get());
    ASSERT_TRUE(r) << id << ": " << r.error().message;
    ASSERT_TRUE(r->has_value()) << id;
    EXPECT_EQ(**r, role) << id;
    EXPECT_EQ(pki.get(id).role, role) << id;
  }
}

TEST(CertInfo, HcRoleAbsent) {
  const auto& pki = test::dev_pki();
  for (const char* id : {"no-role", "jpki-signer", "tsa", "hpki-signing-ca"}) {
    auto cert = item_cert(pki, id);
    auto r = hc_role(cert.get());
    ASSERT_TRUE(r) << id << ": " << r.error().message;
    EXPECT_FALSE(r->has_value()) << id;
  }
}

TEST(CertInfo, HcRoleFromHandWrittenDer) {
  auto r = role_of_sda(kMedicalDoctorSda);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "Medical Doctor");
}

TEST(CertInfo, HcRoleIgnoresOtherCodingSchemes) {
  // Same as kMedicalDoctorSda but codingSchemeReference 1.2.392.100495.1.6.1.2 (last arc changed).
  auto r = role_of_sda(hx(R"(
30 34 30 32 06 06 28 81 85 42 00 01 31 28 31 26 30 24 A0 22 31 20
  A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 02    -- OID 1.2.392.100495.1.6.1.2 (not id-jhpki-cdata)
  A2 10 0C 0E 4D 65 64 69 63 61 6C 20 44 6F 63 74 6F 72
)"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->has_value());
}

TEST(CertInfo, HcRoleIgnoresOtherAttributes) {
  auto r = role_of_sda(hx(R"(
30 15                                -- SEQUENCE
  30 13                              --   Attribute
    06 08 2B 06 01 05 05 07 09 01    --     OID 1.3.6.1.5.5.7.9.1 dateOfBirth
    31 07                            --     SET
      18 05 31 39 39 39 5A           --       GeneralizedTime (content irrelevant here)
)"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_FALSE(r->has_value());
}

TEST(CertInfo, HcRoleAcceptsPrintableStringAndCodeDataValue) {
  auto r = role_of_sda(hx(R"(
30 39 30 37 06 06 28 81 85 42 00 01 31 2D 31 2B 30 29
  A0 27 31 25                                  -- [0] SET (CodedData)
    A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 01  --   [0] id-jhpki-cdata
    A1 03 12 01 31                             --   [1] NumericString "1" (codeDataValue, "Do not use")
    A2 10 13 0E 4D 65 64 69 63 61 6C 20 44 6F 63 74 6F 72  -- [2] PrintableString "Medical Doctor"
)"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, "Medical Doctor");
}

struct Malformed {
  const char* name;
  const char* hex;
  const char* message_part;
};

class HcRoleMalformed : public ::testing::TestWithParam<Malformed> {};

TEST_P(HcRoleMalformed, IsAnError) {
  auto r = role_of_sda(hx(GetParam().hex));
  ASSERT_FALSE(r) << GetParam().name << " was accepted";
  EXPECT_NE(r.error().message.find(GetParam().message_part), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("hcRole"), std::string::npos) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    CertInfo, HcRoleMalformed,
    ::testing::Values(
        Malformed{"empty", "", "truncated"},
        Malformed{"length beyond the data", R"(
30 40                            -- SEQUENCE claiming 64 octets
  30 32 06 06 28 81 85 42 00 01  -- ... but only 10 follow
)",
                  "claims"},
        Malformed{"inner length beyond its parent", R"(
30 0A                            -- SEQUENCE of 10 octets
  30 7F 06 06 28 81 85 42 00 01  --   Attribute claiming 127 octets
)",
                  "claims"},
        Malformed{"huge long-form length", "30 84 FF FF FF FF 00", "claims"},
        Malformed{"five-octet length", "30 85 01 00 00 00 00", "too large"},
        Malformed{"indefinite length (BER)", "30 80 00 00", "indefinite"},
        Malformed{"non-minimal length", "30 81 05 30 03 06 01 00", "non-minimal"},
        Malformed{"trailing bytes", R"(
30 34 30 32 06 06 28 81 85 42 00 01 31 28 31 26 30 24 A0 22 31 20
  A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 01
  A2 10 0C 0E 4D 65 64 69 63 61 6C 20 44 6F 63 74 6F 72
00                                             -- one byte too many
)",
                  "trailing"},
        Malformed{"not a SEQUENCE", "31 00", "expected tag 0x30"},
        Malformed{"empty SEQUENCE", "30 00", "SIZE"},
        Malformed{"values not a SET", R"(
30 0C 30 0A 06 06 28 81 85 42 00 01
  30 00                                        -- SEQUENCE where SET OF AttributeValue belongs
)",
                  "Attribute.values"},
        Malformed{"codedData with IMPLICIT tag", R"(
30 32 30 30 06 06 28 81 85 42 00 01 31 26 31 24 30 22
  31 20                                        -- SET where [0] codedData belongs
    A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 01
    A2 10 0C 0E 4D 65 64 69 63 61 6C 20 44 6F 63 74 6F 72
)",
                  "codedData [0]"},
        Malformed{"codingSchemeReference not an OID", R"(
30 2D 30 2B 06 06 28 81 85 42 00 01 31 21 31 1F 30 1D A0 1B 31 19
  A0 05 02 03 01 00 01                         -- [0] INTEGER instead of OID
  A2 10 0C 0E 4D 65 64 69 63 61 6C 20 44 6F 63 74 6F 72
)",
                  "codingSchemeReference"},
        Malformed{"codeDataFreeText missing", R"(
30 22 30 20 06 06 28 81 85 42 00 01 31 16 31 14 30 12 A0 10 31 0E
  A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 01    -- only [0]
)",
                  "codeDataFreeText [2] is missing"},
        Malformed{"codingSchemeReference missing", R"(
30 26 30 24 06 06 28 81 85 42 00 01 31 1A 31 18 30 16 A0 14 31 12
  A2 10 0C 0E 4D 65 64 69 63 61 6C 20 44 6F 63 74 6F 72   -- only [2]
)",
                  "codingSchemeReference [0] is missing"},
        Malformed{"invalid UTF-8", R"(
30 28 30 26 06 06 28 81 85 42 00 01 31 1C 31 1A 30 18 A0 16 31 14
  A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 01
  A2 04 0C 02 C3 28                            -- UTF8String with a broken two-byte sequence
)",
                  "UTF-8"},
        Malformed{"truncated OID", R"(
30 27 30 25 06 06 28 81 85 42 00 81            -- last OID octet has the continuation bit
  31 1B 31 19 30 17 A0 15 31 13 A0 03 06 01 2A A2 0C 0C 0A 4D 65 64 69 63 61 6C 20 44 72
)",
                  "truncated OBJECT IDENTIFIER"},
        Malformed{"unknown field in CodedData", R"(
30 2B 30 29 06 06 28 81 85 42 00 01 31 1F 31 1D 30 1B A0 19 31 17
  A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 01
  A5 07 0C 05 48 65 6C 6C 6F                   -- [5] is not part of CodedData
)",
                  "unexpected element"},
        Malformed{"empty role", R"(
30 26 30 24 06 06 28 81 85 42 00 01 31 1A 31 18 30 16 A0 14 31 12
  A0 0C 06 0A 2A 83 08 86 91 0F 01 06 01 01
  A2 02 0C 00                                  -- UTF8String ""
)",
                  "empty"}),
    [](const ::testing::TestParamInfo<Malformed>& info) {
      std::string n;
      for (char c : std::string(info.param.name)) {
        n += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      }
      return n;
    });

TEST(CertInfo, DuplicateSubjectDirectoryAttributesIsAnError) {
  auto doctor = item_cert(test::dev_pki(), "doctor");
  auto cert = with_extension(doctor.get(), NID_subject_directory_attributes, false, kMedicalDoctorSda);
  ossl::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
  ASN1_OCTET_STRING_set(data.get(), kMedicalDoctorSda.data(), static_cast<int>(kMedicalDoctorSda.size()));
  ossl::X509ExtPtr ext(X509_EXTENSION_create_by_NID(nullptr, NID_subject_directory_attributes, 0, data.get()));
  ASSERT_EQ(X509_add_ext(cert.get(), ext.get(), -1), 1);
  auto r = hc_role(cert.get());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("more than once"), std::string::npos);
}

TEST(CertInfo, HpkiSignersHaveTheDomainProfile) {
  const auto& pki = test::dev_pki();
  for (const char* id : {"doctor", "dentist", "pharmacist", "nurse", "no-role", "expired", "revoked", "doctor-ec"}) {
    auto c = item_cert(pki, id);
    X509* x = c.get();
    const int ku = X509_get_ext_by_NID(x, NID_key_usage, -1);
    ASSERT_GE(ku, 0) << id;
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x, ku)), 1) << id;
    EXPECT_EQ(X509_get_key_usage(x), static_cast<uint32_t>(KU_NON_REPUDIATION)) << id << ": nonRepudiation only";
    EXPECT_TRUE(has_non_repudiation(x)) << id;
    EXPECT_LT(X509_get_ext_by_NID(x, NID_ext_key_usage, -1), 0) << id << ": no EKU";
    const int cp = X509_get_ext_by_NID(x, NID_certificate_policies, -1);
    ASSERT_GE(cp, 0) << id;
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x, cp)), 1) << id;
    EXPECT_EQ(policy_oids(x), std::vector<std::string>{kOidHpkiSignPolicy}) << id;
    EXPECT_GE(X509_get_ext_by_NID(x, NID_crl_distribution_points, -1), 0) << id;

    // Subject C=JP,O=<romaji>,CN=<romaji>,serialNumber=...; subjectAltName dirName in kanji.
    const std::string subject = ossl::name_to_string(X509_get_subject_name(x));
    EXPECT_TRUE(subject.starts_with("serialNumber=DEV-HPKI-")) << subject;
    EXPECT_TRUE(subject.ends_with(",C=JP")) << subject;
    ossl::GeneralNamesPtr san(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
    ASSERT_TRUE(san) << id;
    ASSERT_EQ(sk_GENERAL_NAME_num(san.get()), 1) << id;
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(san.get(), 0);
    ASSERT_EQ(gn->type, GEN_DIRNAME) << id;
    const std::string kanji = ossl::name_to_string(gn->d.directoryName);
    EXPECT_NE(kanji.find("O=判子"), std::string::npos) << kanji;
  }
  auto doctor = item_cert(pki, "doctor");
  ossl::GeneralNamesPtr san(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(doctor.get(), NID_subject_alt_name, nullptr, nullptr)));
  EXPECT_EQ(ossl::name_to_string(sk_GENERAL_NAME_value(san.get(), 0)->d.directoryName), "CN=山田 太郎,O=判子総合病院,C=JP");
}

TEST(CertInfo, NonRepudiation) {
  const auto& pki = test::dev_pki();
  EXPECT_TRUE(has_non_repudiation(item_cert(pki, "doctor").get()));
  EXPECT_TRUE(has_non_repudiation(item_cert(pki, "jpki-signer").get()));
  EXPECT_TRUE(has_non_repudiation(item_cert(pki, "tsa").get()));
  EXPECT_FALSE(has_non_repudiation(item_cert(pki, "hpki-root").get()));
  EXPECT_FALSE(has_non_repudiation(item_cert(pki, "ocsp-responder").get()));
  // No keyUsage extension at all: not asserted.
  auto doctor = item_cert(pki, "doctor");
  ossl::X509Ptr bare(X509_dup(doctor.get()));
  ossl::X509ExtPtr removed(X509_delete_ext(bare.get(), X509_get_ext_by_NID(bare.get(), NID_key_usage, -1)));
  ASSERT_GT(X509_sign(bare.get(), testing::item_key(pki, "nurse").get(), EVP_sha256()), 0);  // re-encodes the TBS
  auto reparsed = ossl::x509_from_der(ossl::x509_to_der(bare.get()));
  ASSERT_TRUE(reparsed);
  EXPECT_FALSE(has_non_repudiation(reparsed.get()));
}

TEST(CertInfo, PolicyOids) {
  const auto& pki = test::dev_pki();
  EXPECT_EQ(policy_oids(item_cert(pki, "jpki-signer").get()), std::vector<std::string>{kOidJpkiSignPolicy});
  EXPECT_TRUE(policy_oids(item_cert(pki, "tsa").get()).empty());
  auto doctor = item_cert(pki, "doctor");
  auto broken = with_extension(doctor.get(), NID_certificate_policies, true, hx("30 03 30 01"));
  EXPECT_TRUE(policy_oids(broken.get()).empty());
}

TEST(CertInfo, JpkiIdentityRoundTrips) {
  auto cert = item_cert(test::dev_pki(), "jpki-signer");
  auto id = jpki_identity(cert.get());
  ASSERT_TRUE(id);
  EXPECT_EQ(id->name, "山田 花子");
  EXPECT_EQ(id->gender, "2");
  EXPECT_EQ(id->birth_date, "41990401");
  EXPECT_EQ(id->address, "東京都千代田区千代田1番1号");
  const int ku = X509_get_ext_by_NID(cert.get(), NID_key_usage, -1);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert.get(), ku)), 1);
  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_NON_REPUDIATION));
}

TEST(CertInfo, JpkiIdentityAbsent) {
  const auto& pki = test::dev_pki();
  EXPECT_FALSE(jpki_identity(item_cert(pki, "doctor").get()));  // SAN is a dirName
  EXPECT_FALSE(jpki_identity(item_cert(pki, "tsa").get()));     // no SAN
}

TEST(CertInfo, JpkiIdentityFromHandWrittenSan) {
  auto base = item_cert(test::dev_pki(), "doctor");
  auto only_name = with_extension(base.get(), NID_subject_alt_name, false, hx(R"(
30 1A                                          -- GeneralNames
  A0 18                                        --   [0] otherName
    06 0A 2A 83 08 8C 9B 55 08 05 05 01        --     OID 1.2.392.200149.8.5.5.1 (name)
    A0 0A 0C 08 54 45 53 54 20 E5 A4 AA        --     [0] UTF8String "TEST 太"
)"));
  auto id = jpki_identity(only_name.get());
  ASSERT_TRUE(id);
  EXPECT_EQ(id->name, "TEST 太");
  EXPECT_FALSE(id->gender);
  EXPECT_FALSE(id->birth_date);
  EXPECT_FALSE(id->address);

  auto broken_utf8 = with_extension(base.get(), NID_subject_alt_name, false, hx(R"(
30 19 A0 17
  06 0A 2A 83 08 8C 9B 55 08 05 05 01          -- name
  A0 09 0C 07 54 45 53 54 20 E5 A4             -- UTF8String with the kanji cut short
)"));
  EXPECT_FALSE(jpki_identity(broken_utf8.get()));  // an invalid value is ignored, so there is no name

  auto gender_only = with_extension(base.get(), NID_subject_alt_name, false, hx(R"(
30 13 A0 11
  06 0A 2A 83 08 8C 9B 55 08 05 05 03          -- OID 1.2.392.200149.8.5.5.3 (gender)
  A0 03 0C 01 32                               -- "2"
)"));
  EXPECT_FALSE(jpki_identity(gender_only.get()));  // no name: not a JPKI identity

  auto garbage = with_extension(base.get(), NID_subject_alt_name, false, hx("30 05 A0 03 06 01"));
  EXPECT_FALSE(jpki_identity(garbage.get()));
}

TEST(CertInfo, SummarizeDoctor) {
  auto cert = item_cert(test::dev_pki(), "doctor");
  CertSummary s = summarize(cert.get());
  EXPECT_EQ(s.subject, "serialNumber=DEV-HPKI-0001,CN=Yamada Taro,O=Hanko Sogo Byoin,C=JP");
  EXPECT_EQ(s.issuer, "CN=Hanko-Dev-HPKI-SignCA-forNonRepudiation,OU=Hanko Dev HPKI CA,O=Hanko Development PKI,C=JP");
  EXPECT_EQ(s.serial_hex, ossl::serial_hex(cert.get()));
  EXPECT_EQ(s.serial_hex.size(), 32u);
  EXPECT_EQ(s.sha256_hex, hex(ossl::cert_sha256(cert.get())));
  EXPECT_EQ(s.sha256_hex.size(), 64u);
  EXPECT_EQ(s.not_before, test::pki_time() - std::chrono::days{1});
  EXPECT_EQ(s.not_after, utc(2031, 1, 15));
}

TEST(CertInfo, TsaExtendedKeyUsageIsCriticalTimeStampingOnly) {
  auto tsa = item_cert(test::dev_pki(), "tsa");
  const int idx = X509_get_ext_by_NID(tsa.get(), NID_ext_key_usage, -1);
  ASSERT_GE(idx, 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(tsa.get(), idx)), 1);
  EXPECT_EQ(X509_get_extended_key_usage(tsa.get()), static_cast<uint32_t>(XKU_TIMESTAMP));
  EXPECT_EQ(X509_get_key_usage(tsa.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION));
  const int ku = X509_get_ext_by_NID(tsa.get(), NID_key_usage, -1);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(tsa.get(), ku)), 1);
}

TEST(CertInfo, OcspResponderProfile) {
  auto ocsp = item_cert(test::dev_pki(), "ocsp-responder");
  EXPECT_EQ(X509_get_extended_key_usage(ocsp.get()), static_cast<uint32_t>(XKU_OCSP_SIGN));
  EXPECT_GE(X509_get_ext_by_NID(ocsp.get(), NID_id_pkix_OCSP_noCheck, -1), 0);
  auto ca = item_cert(test::dev_pki(), "hpki-signing-ca");
  EXPECT_EQ(X509_NAME_cmp(X509_get_issuer_name(ocsp.get()), X509_get_subject_name(ca.get())), 0);
}

}  // namespace
}  // namespace hanko::certstore
