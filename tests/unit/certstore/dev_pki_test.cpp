#include "hanko/certstore/dev_pki.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdlib>
#include <set>

#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "test_support.h"
#include "test_util.h"

namespace hanko::certstore {
namespace {

namespace fs = std::filesystem;
using testing::item_cert;
using testing::item_key;

const std::vector<std::string> kIds = {"hpki-root",      "hpki-signing-ca", "doctor",      "dentist",           "pharmacist",
                                       "nurse",          "no-role",         "expired",     "revoked",           "doctor-ec",
                                       "rsa1024",        "sha1",            "wrong-policy", "ocsp-responder",   "jpki-root",
                                       "jpki-signer",    "tsa-root",        "tsa",         "tsa-noncritical-eku", "ocsp-unauthorized"};

TimePoint not_before(const X509* c) { return *ossl::asn1_time_to_timepoint(X509_get0_notBefore(c)); }
TimePoint not_after(const X509* c) { return *ossl::asn1_time_to_timepoint(X509_get0_notAfter(c)); }

TEST(DevPki, HasEveryItemWithExistingFiles) {
  const DevPki& pki = testing::current_pki();
  ASSERT_EQ(pki.items.size(), kIds.size());
  for (const auto& id : kIds) {
    const DevPkiItem& item = pki.get(id);
    EXPECT_FALSE(item.kind.empty()) << id;
    EXPECT_FALSE(item.description.empty()) << id;
    EXPECT_TRUE(fs::is_regular_file(item.cert)) << id;
    EXPECT_TRUE(fs::is_regular_file(item.key)) << id;
    if (!item.chain.empty()) {
      EXPECT_TRUE(fs::is_regular_file(item.chain)) << id;
    }
    auto key = item_key(pki, id);
    auto cert = item_cert(pki, id);
    EXPECT_EQ(X509_check_private_key(cert.get(), key.get()), 1) << id << ": key does not match the certificate";
  }
  EXPECT_TRUE(fs::is_regular_file(pki.crl));
  EXPECT_TRUE(fs::is_regular_file(pki.root_crl));
  EXPECT_EQ(pki.root_crl.parent_path(), pki.trust_dir);  // the trust folder answers revocation offline
  EXPECT_TRUE(fs::is_regular_file(pki.trust_dir / "jpki-root.crl.pem"));
  EXPECT_TRUE(fs::is_regular_file(pki.trust_dir / "hpki-root.pem"));
  EXPECT_TRUE(fs::is_regular_file(pki.trust_dir / "jpki-root.pem"));
  EXPECT_TRUE(fs::is_regular_file(pki.trust_dir / "tsa-root.pem"));
  EXPECT_EQ(pki.crl.parent_path(), pki.trust_dir);
}

TEST(DevPki, GetThrowsForUnknownId) {
  EXPECT_THROW((void)testing::current_pki().get("no-such-item"), std::out_of_range);
  EXPECT_NO_THROW((void)testing::current_pki().get("doctor"));
}

TEST(DevPki, ManifestListsEveryFile) {
  const DevPki& pki = testing::current_pki();
  auto text = test::read_text(pki.dir / "manifest.json");
  auto doc = json::parse(text);
  ASSERT_TRUE(doc) << doc.error().message;
  EXPECT_EQ(*doc->find_string("format"), "hanko-dev-pki/1");
  EXPECT_EQ(*doc->find_string("created"), "2026-01-15T00:00:00Z");
  EXPECT_NE(doc->find_string("warning")->find("DEVELOPMENT ONLY"), std::string::npos);
  EXPECT_EQ(*doc->find_string("trust_dir"), "trust");
  EXPECT_EQ(*doc->find_string("crl"), "trust/hpki-signing-ca.crl.pem");
  EXPECT_EQ(*doc->find_string("root_crl"), "trust/hpki-root.crl.pem");
  EXPECT_EQ(*doc->find_string("jpki_root_crl"), "trust/jpki-root.crl.pem");
  EXPECT_EQ(*doc->find_string("tsa_root_crl"), "trust/tsa-root.crl.pem");
  ASSERT_NE(doc->find("revocation_base_url"), nullptr);
  EXPECT_TRUE(doc->find("revocation_base_url")->is_null());

  std::set<std::string> listed = {"manifest.json", "trust/hpki-signing-ca.crl.pem", "trust/hpki-root.crl.pem",
                                  "trust/jpki-root.crl.pem", "trust/tsa-root.crl.pem"};
  for (const auto& v : doc->find("items")->as_array()) {
    for (const char* key : {"cert", "key", "chain"}) {
      if (const std::string* s = v.find_string(key)) {
        EXPECT_FALSE(fs::path(*s).is_absolute()) << *s;
        listed.insert(*s);
      }
    }
  }
  // Files on disk: every one is in the manifest, except the trust roots, which are the trust_dir.
  for (const auto& e : fs::recursive_directory_iterator(pki.dir)) {
    if (!e.is_regular_file()) {
      continue;
    }
    const std::string rel = e.path().lexically_relative(pki.dir).generic_string();
    if (rel.starts_with("trust/") && rel.ends_with("-root.pem")) {
      continue;
    }
    EXPECT_TRUE(listed.contains(rel)) << rel << " is not listed in manifest.json";
  }
  for (const auto& rel : listed) {
    EXPECT_TRUE(fs::is_regular_file(pki.dir / rel)) << rel << " is listed but missing";
  }
}

TEST(DevPki, LoadReadsTheManifestBack) {
  const DevPki& pki = testing::current_pki();
  auto loaded = load_dev_pki(pki.dir);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->trust_dir, pki.trust_dir);
  EXPECT_EQ(loaded->crl, pki.crl);
  EXPECT_EQ(loaded->root_crl, pki.root_crl);
  EXPECT_EQ(loaded->revocation_base_url, "");
  EXPECT_EQ(loaded->created, test::pki_time());
  ASSERT_EQ(loaded->items.size(), pki.items.size());
  for (std::size_t i = 0; i < pki.items.size(); ++i) {
    const auto& a = pki.items[i];
    const auto& b = loaded->items[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.kind, b.kind);
    EXPECT_EQ(a.description, b.description);
    EXPECT_EQ(a.cert, b.cert);
    EXPECT_EQ(a.key, b.key);
    EXPECT_EQ(a.chain, b.chain);
    EXPECT_EQ(a.role, b.role);
  }
}

TEST(DevPki, LoadFailsOnMissingOrBadManifest) {
  auto missing = load_dev_pki(test::temp_dir("no-pki"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("manifest.json"), std::string::npos) << missing.error().message;

  const fs::path bad = test::temp_dir("bad-pki");
  test::write_text(bad / "manifest.json", R"({"format":"something-else/1","items":[]})");
  auto wrong_format = load_dev_pki(bad);
  ASSERT_FALSE(wrong_format);
  EXPECT_NE(wrong_format.error().message.find("format"), std::string::npos);

  test::write_text(bad / "manifest.json",
                   R"({"format":"hanko-dev-pki/1","trust_dir":"trust","crl":"trust/x.crl.pem",)"
                   R"("items":[{"id":"x","kind":"signer","cert":"../../etc/passwd"}]})");
  auto escape = load_dev_pki(bad);
  ASSERT_FALSE(escape);
  EXPECT_NE(escape.error().message.find("inside the folder"), std::string::npos) << escape.error().message;

  test::write_text(bad / "manifest.json", "{not json");
  EXPECT_FALSE(load_dev_pki(bad));
}

TEST(DevPki, Kinds) {
  const DevPki& pki = testing::current_pki();
  EXPECT_EQ(pki.get("hpki-root").kind, "root-ca");
  EXPECT_EQ(pki.get("jpki-root").kind, "root-ca");
  EXPECT_EQ(pki.get("tsa-root").kind, "root-ca");
  EXPECT_EQ(pki.get("hpki-signing-ca").kind, "ca");
  EXPECT_EQ(pki.get("doctor").kind, "signer");
  EXPECT_EQ(pki.get("jpki-signer").kind, "signer");
  EXPECT_EQ(pki.get("tsa").kind, "tsa");
  EXPECT_EQ(pki.get("ocsp-responder").kind, "ocsp-responder");
  EXPECT_EQ(pki.get("ocsp-unauthorized").kind, "ocsp-responder");
  EXPECT_EQ(pki.get("tsa-noncritical-eku").kind, "tsa");
  for (const char* id : {"rsa1024", "sha1", "wrong-policy"}) {
    EXPECT_EQ(pki.get(id).kind, "signer") << id;
    EXPECT_EQ(pki.get(id).role, "Medical Doctor") << id;
  }
  EXPECT_EQ(pki.get("doctor").role, "Medical Doctor");
  EXPECT_EQ(pki.get("dentist").role, "Dentist");
  EXPECT_EQ(pki.get("pharmacist").role, "Pharmacist");
  EXPECT_EQ(pki.get("nurse").role, "Nurse");
  EXPECT_FALSE(pki.get("no-role").role);
  EXPECT_FALSE(pki.get("jpki-signer").role);
}

TEST(DevPki, ValidityWindows) {
  const DevPki& pki = testing::current_pki();
  const TimePoint now = test::pki_time();
  for (const char* id : {"hpki-root", "hpki-signing-ca", "jpki-root", "tsa-root", "tsa", "ocsp-responder", "tsa-noncritical-eku",
                         "ocsp-unauthorized"}) {
    auto c = item_cert(pki, id);
    EXPECT_EQ(not_before(c.get()), utc(2023, 1, 15)) << id;
    EXPECT_EQ(not_after(c.get()), utc(2036, 1, 15)) << id;
  }
  for (const char* id : {"doctor", "dentist", "pharmacist", "nurse", "no-role", "revoked", "doctor-ec", "jpki-signer", "rsa1024", "sha1",
                         "wrong-policy"}) {
    auto c = item_cert(pki, id);
    EXPECT_EQ(not_before(c.get()), now - std::chrono::days{1}) << id;
    EXPECT_EQ(not_after(c.get()), utc(2031, 1, 15)) << id;
  }
  auto expired = item_cert(pki, "expired");
  EXPECT_EQ(not_before(expired.get()), utc(2024, 1, 15));
  EXPECT_EQ(not_after(expired.get()), utc(2025, 1, 15));
}

TEST(DevPki, SerialsAreRandomPositiveSixteenBytes) {
  const DevPki& pki = testing::current_pki();
  std::set<std::string> seen;
  for (const auto& id : kIds) {
    auto c = item_cert(pki, id);
    const ASN1_INTEGER* serial = X509_get0_serialNumber(c.get());
    EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER) << id << " (negative serial)";
    EXPECT_EQ(ASN1_STRING_length(serial), 16) << id;
    EXPECT_TRUE(seen.insert(ossl::serial_hex(c.get())).second) << id << ": duplicate serial";
  }
}

TEST(DevPki, KeyTypesAndSignatureAlgorithm) {
  const DevPki& pki = testing::current_pki();
  for (const auto& id : kIds) {
    auto c = item_cert(pki, id);
    EXPECT_EQ(X509_get_signature_nid(c.get()), id == "sha1" ? NID_sha1WithRSAEncryption : NID_sha256WithRSAEncryption) << id;
    EVP_PKEY* pub = X509_get0_pubkey(c.get());
    if (id == "rsa1024") {
      EXPECT_TRUE(EVP_PKEY_is_a(pub, "RSA"));
      EXPECT_EQ(EVP_PKEY_get_bits(pub), 1024);
    } else if (id == "doctor-ec") {
      EXPECT_TRUE(EVP_PKEY_is_a(pub, "EC"));
      char group[64] = {};
      size_t len = 0;
      ASSERT_EQ(EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, &len), 1);
      EXPECT_STREQ(group, "prime256v1");
    } else {
      EXPECT_TRUE(EVP_PKEY_is_a(pub, "RSA")) << id;
      EXPECT_EQ(EVP_PKEY_get_bits(pub), 2048) << id;
    }
  }
}

TEST(DevPki, CaCertificatesHaveCaConstraints) {
  const DevPki& pki = testing::current_pki();
  for (const char* id : {"hpki-root", "hpki-signing-ca", "jpki-root", "tsa-root"}) {
    auto c = item_cert(pki, id);
    X509* x = c.get();
    EXPECT_NE(X509_get_extension_flags(x) & EXFLAG_CA, 0u) << id;
    const int bc = X509_get_ext_by_NID(x, NID_basic_constraints, -1);
    ASSERT_GE(bc, 0) << id;
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x, bc)), 1) << id;
    const int ku = X509_get_ext_by_NID(x, NID_key_usage, -1);
    ASSERT_GE(ku, 0) << id;
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(x, ku)), 1) << id;
    EXPECT_EQ(X509_get_key_usage(x), static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN)) << id;
    EXPECT_NE(X509_get0_subject_key_id(x), nullptr) << id;
    EXPECT_NE(X509_get0_authority_key_id(x), nullptr) << id;
  }
  for (const char* id : {"doctor", "tsa", "ocsp-responder", "jpki-signer"}) {
    auto c = item_cert(pki, id);
    EXPECT_EQ(X509_get_extension_flags(c.get()) & EXFLAG_CA, 0u) << id;
  }
}

TEST(DevPki, ChainFilesHoldTheIntermediate) {
  const DevPki& pki = testing::current_pki();
  auto ca = item_cert(pki, "hpki-signing-ca");
  for (const char* id : {"doctor", "revoked", "doctor-ec", "ocsp-responder", "rsa1024", "sha1", "wrong-policy"}) {
    auto chain = testing::item_chain(pki, id);
    ASSERT_EQ(chain.size(), 1u) << id;
    EXPECT_EQ(X509_cmp(chain[0].get(), ca.get()), 0) << id;
  }
  for (const char* id : {"hpki-root", "hpki-signing-ca", "jpki-signer", "tsa", "tsa-noncritical-eku", "ocsp-unauthorized"}) {
    EXPECT_TRUE(pki.get(id).chain.empty()) << id;
  }
}

TEST(DevPki, CrlListsRevokedAtCreationTime) {
  const DevPki& pki = testing::current_pki();
  auto text = test::read_text(pki.crl);
  ossl::BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
  ossl::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(crl);
  auto ca = item_cert(pki, "hpki-signing-ca");
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())), 0);
  auto revoked = item_cert(pki, "revoked");
  X509_REVOKED* entry = nullptr;
  ASSERT_EQ(X509_CRL_get0_by_cert(crl.get(), &entry, revoked.get()), 1);
  EXPECT_EQ(ossl::asn1_time_to_timepoint(X509_REVOKED_get0_revocationDate(entry)), test::pki_time());
  auto doctor = item_cert(pki, "doctor");
  EXPECT_EQ(X509_CRL_get0_by_cert(crl.get(), &entry, doctor.get()), 0);
}

TEST(DevPki, TwoGenerationsAreIndependent) {
  const DevPki& other = testing::second_pki();
  for (const auto& id : kIds) {
    auto a = item_cert(testing::current_pki(), id);
    auto b = item_cert(other, id);
    EXPECT_NE(X509_cmp(a.get(), b.get()), 0) << id;
    EXPECT_NE(EVP_PKEY_eq(X509_get0_pubkey(a.get()), X509_get0_pubkey(b.get())), 1) << id << ": same key";
  }
}

TEST(DevPki, OverwritesAnExistingFolder) {
  const DevPki& other = testing::second_pki();  // its folder held a stale doctor.pem and manifest.json
  auto doctor = ossl::load_certificates(other.get("doctor").cert.string());
  ASSERT_TRUE(doctor) << doctor.error().message;
  EXPECT_EQ(doctor->size(), 1u);
  auto loaded = load_dev_pki(other.dir);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->items.size(), kIds.size());
}

TEST(DevPki, GenerationFailsWhenTheFolderCannotBeCreated) {
  const fs::path file = test::temp_dir("pki-blocked") / "a-file";
  test::write_text(file, "x");
  auto r = generate_dev_pki(file / "sub", test::pki_time());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::io);
}

// Cross-check with the openssl command line (skipped when it is not installed).
TEST(DevPki, OpensslCommandLineAgrees) {
  if (std::system("openssl version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl command not available";
  }
  const DevPki& pki = testing::current_pki();
  const fs::path out = test::temp_dir("openssl-cli") / "out.txt";
  const std::string text_cmd = "openssl x509 -noout -text -in '" + pki.get("doctor").cert.string() + "' > '" + out.string() + "' 2>&1";
  ASSERT_EQ(std::system(text_cmd.c_str()), 0);
  const std::string text = test::read_text(out);
  EXPECT_NE(text.find("X509v3 Key Usage: critical\n                Non Repudiation\n"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Certificate Policies: critical"), std::string::npos) << text;
  EXPECT_NE(text.find("1.2.392.100495.1.5.1.1.0.1"), std::string::npos) << text;
  EXPECT_NE(text.find("X509v3 Subject Directory Attributes"), std::string::npos) << text;

  const std::string at = std::to_string(to_unix(test::sign_time()));
  auto verify = [&](std::string_view id, bool crl) {
    std::string cmd = "openssl verify -attime " + at + " -CAfile '" + (pki.trust_dir / "hpki-root.pem").string() + "'";
    if (!pki.get(id).chain.empty()) {
      cmd += " -untrusted '" + pki.get(id).chain.string() + "'";
    }
    if (crl) {
      cmd += " -crl_check -CRLfile '" + pki.crl.string() + "'";
    }
    cmd += " '" + pki.get(id).cert.string() + "' > /dev/null 2>&1";
    return std::system(cmd.c_str());
  };
  EXPECT_EQ(verify("doctor", true), 0);
  EXPECT_NE(verify("revoked", true), 0);
  EXPECT_EQ(verify("revoked", false), 0);
  EXPECT_NE(verify("expired", false), 0);
}

// ---- revocation pointers ------------------------------------------------------------

struct Pointers {
  std::vector<std::string> cdp, ocsp, ca_issuers;
};

std::string uri_of(const GENERAL_NAME* gn) {
  const ASN1_IA5STRING* s = gn->d.uniformResourceIdentifier;
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), static_cast<std::size_t>(ASN1_STRING_length(s)));
}

Pointers pointers(const X509* c) {
  Pointers p;
  ossl::CrlDistPointsPtr dps(static_cast<CRL_DIST_POINTS*>(X509_get_ext_d2i(c, NID_crl_distribution_points, nullptr, nullptr)));
  for (int i = 0; dps && i < sk_DIST_POINT_num(dps.get()); ++i) {
    const DIST_POINT* dp = sk_DIST_POINT_value(dps.get(), i);
    for (int j = 0; dp->distpoint && dp->distpoint->type == 0 && j < sk_GENERAL_NAME_num(dp->distpoint->name.fullname); ++j) {
      p.cdp.push_back(uri_of(sk_GENERAL_NAME_value(dp->distpoint->name.fullname, j)));
    }
  }
  ossl::AuthorityInfoAccessPtr aia(static_cast<AUTHORITY_INFO_ACCESS*>(X509_get_ext_d2i(c, NID_info_access, nullptr, nullptr)));
  for (int i = 0; aia && i < sk_ACCESS_DESCRIPTION_num(aia.get()); ++i) {
    const ACCESS_DESCRIPTION* ad = sk_ACCESS_DESCRIPTION_value(aia.get(), i);
    (OBJ_obj2nid(ad->method) == NID_ad_OCSP ? p.ocsp : p.ca_issuers).push_back(uri_of(ad->location));
  }
  return p;
}

using Uris = std::vector<std::string>;

TEST(DevPki, WithoutBaseUrlOnlyThePlaceholderCdp) {
  const DevPki& pki = testing::current_pki();
  EXPECT_TRUE(pki.revocation_base_url.empty());
  for (const char* id : {"doctor", "dentist", "pharmacist", "nurse", "no-role", "expired", "revoked", "doctor-ec", "rsa1024", "sha1",
                         "wrong-policy"}) {
    auto c = item_cert(pki, id);
    const Pointers p = pointers(c.get());
    EXPECT_EQ(p.cdp, Uris{"http://127.0.0.1/dev-pki/hpki-signing-ca.crl"}) << id;
    EXPECT_TRUE(p.ocsp.empty()) << id;
    EXPECT_TRUE(p.ca_issuers.empty()) << id;
  }
  for (const char* id : {"hpki-root", "hpki-signing-ca", "jpki-root", "jpki-signer", "tsa-root", "tsa", "ocsp-responder"}) {
    auto c = item_cert(pki, id);
    const Pointers p = pointers(c.get());
    EXPECT_TRUE(p.cdp.empty() && p.ocsp.empty() && p.ca_issuers.empty()) << id;
  }
}

TEST(DevPki, BaseUrlPointsTheCertificatesAtTheServer) {
  DevPkiOptions opts;
  opts.revocation_base_url = "http://127.0.0.1:8765/";  // the trailing slash is dropped
  const fs::path dir = test::temp_dir("pki-with-urls");
  auto made = generate_dev_pki(dir, test::pki_time(), opts);
  ASSERT_TRUE(made) << made.error().message;
  const std::string base = "http://127.0.0.1:8765";
  EXPECT_EQ(made->revocation_base_url, base);
  for (const char* id : {"doctor", "revoked", "doctor-ec", "rsa1024", "sha1", "wrong-policy", "expired"}) {
    auto c = item_cert(*made, id);
    const Pointers p = pointers(c.get());
    EXPECT_EQ(p.cdp, Uris{base + "/crl/hpki-signing-ca.crl"}) << id;
    EXPECT_EQ(p.ocsp, Uris{base + "/ocsp"}) << id;
    EXPECT_EQ(p.ca_issuers, Uris{base + "/certs/hpki-signing-ca.der"}) << id;
  }
  auto ca = item_cert(*made, "hpki-signing-ca");
  EXPECT_EQ(pointers(ca.get()).cdp, Uris{base + "/crl/hpki-root.crl"});
  EXPECT_TRUE(pointers(ca.get()).ocsp.empty());
  auto jpki = item_cert(*made, "jpki-signer");
  EXPECT_EQ(pointers(jpki.get()).cdp, Uris{base + "/crl/jpki-root.crl"});
  EXPECT_EQ(pointers(jpki.get()).ocsp, Uris{base + "/ocsp"});
  EXPECT_EQ(pointers(jpki.get()).ca_issuers, Uris{base + "/certs/jpki-root.der"});
  for (const char* id : {"hpki-root", "jpki-root", "tsa-root", "tsa", "ocsp-responder", "ocsp-unauthorized"}) {
    auto c = item_cert(*made, id);
    EXPECT_TRUE(pointers(c.get()).cdp.empty()) << id;
  }
  // The chain still validates, and the manifest remembers the URL.
  auto store = TrustStore::load_dir(made->trust_dir);
  ASSERT_TRUE(store) << store.error().message;
  auto doctor = item_cert(*made, "doctor");
  EXPECT_EQ(store->verify(doctor.get(), {ca.get()}, test::sign_time(), Purpose::signature).status, ChainStatus::ok);
  auto loaded = load_dev_pki(dir);
  ASSERT_TRUE(loaded) << loaded.error().message;
  EXPECT_EQ(loaded->revocation_base_url, base);
}

TEST(DevPki, BadBaseUrlIsRejectedBeforeAnyWork) {
  for (const char* url : {"ftp://127.0.0.1/", "https://127.0.0.1:1", "http://", "http://a,b", "http://a b", "http://a\nb", "127.0.0.1:80"}) {
    const fs::path dir = test::temp_dir("pki-bad-url") / "pki";
    DevPkiOptions opts;
    opts.revocation_base_url = url;
    auto r = generate_dev_pki(dir, test::pki_time(), opts);
    ASSERT_FALSE(r) << url;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << url;
    EXPECT_FALSE(fs::exists(dir)) << url;
  }
}

TEST(DevPki, RootCrlIsSignedByTheRootAndListsNothing) {
  const DevPki& pki = testing::current_pki();
  auto crls = ossl::x509_crls_from_pem(test::read_text(pki.root_crl));
  ASSERT_EQ(crls.size(), 1u);
  auto root = item_cert(pki, "hpki-root");
  auto ca = item_cert(pki, "hpki-signing-ca");
  EXPECT_EQ(X509_CRL_verify(crls[0].get(), X509_get0_pubkey(root.get())), 1);
  EXPECT_NE(X509_CRL_verify(crls[0].get(), X509_get0_pubkey(ca.get())), 1);  // and not by anyone else
  ERR_clear_error();
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crls[0].get()), X509_get_subject_name(root.get())), 0);
  EXPECT_LE(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crls[0].get())), 0);  // -1: no list at all
  EXPECT_EQ(ossl::asn1_time_to_timepoint(X509_CRL_get0_lastUpdate(crls[0].get())), test::pki_time());
}

TEST(DevPki, NegativeTestItemsHaveTheirFlaw) {
  const DevPki& pki = testing::current_pki();
  auto ca = item_cert(pki, "hpki-signing-ca");
  auto tsa_root = item_cert(pki, "tsa-root");
  auto doctor = item_cert(pki, "doctor");

  auto wrong = item_cert(pki, "wrong-policy");
  EXPECT_EQ(policy_oids(wrong.get()), std::vector<std::string>{"1.2.392.100495.1.5.1.2.3.1"});
  EXPECT_EQ(policy_oids(doctor.get()), std::vector<std::string>{kOidHpkiSignPolicy});

  auto sha1 = item_cert(pki, "sha1");
  EXPECT_EQ(X509_get_signature_nid(sha1.get()), NID_sha1WithRSAEncryption);
  EXPECT_EQ(X509_verify(sha1.get(), X509_get0_pubkey(ca.get())), 1);

  auto weak = item_cert(pki, "rsa1024");
  EXPECT_EQ(EVP_PKEY_get_bits(X509_get0_pubkey(weak.get())), 1024);
  EXPECT_EQ(hc_role(weak.get()).value(), "Medical Doctor");

  auto unauthorized = item_cert(pki, "ocsp-unauthorized");
  EXPECT_EQ(X509_check_issued(tsa_root.get(), unauthorized.get()), X509_V_OK);
  EXPECT_NE(X509_check_issued(ca.get(), unauthorized.get()), X509_V_OK);  // not issued by the HPKI CA
  EXPECT_NE(X509_get_extended_key_usage(unauthorized.get()) & XKU_OCSP_SIGN, 0u);
  auto delegated = item_cert(pki, "ocsp-responder");
  EXPECT_EQ(X509_check_issued(ca.get(), delegated.get()), X509_V_OK);

  for (const auto& [id, critical] : std::vector<std::pair<const char*, int>>{{"tsa", 1}, {"tsa-noncritical-eku", 0}}) {
    auto c = item_cert(pki, id);
    const int idx = X509_get_ext_by_NID(c.get(), NID_ext_key_usage, -1);
    ASSERT_GE(idx, 0) << id;
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(c.get(), idx)), critical) << id;
    EXPECT_EQ(X509_get_extended_key_usage(c.get()), static_cast<uint32_t>(XKU_TIMESTAMP)) << id;
  }
}

// pitfalls.md: OpenSSL's timestamp-signing purpose wants the EKU critical. hanko reports such a TSA
// certificate as not fit for time-stamping (a chain failure), never as ok.
TEST(DevPki, TsaWithNonCriticalEkuFailsTheTimestampingPurpose) {
  const DevPki& pki = testing::current_pki();
  auto store = TrustStore::load_dir(pki.trust_dir);
  ASSERT_TRUE(store) << store.error().message;
  auto good = item_cert(pki, "tsa");
  auto flawed = item_cert(pki, "tsa-noncritical-eku");
  ChainResult ok = store->verify(good.get(), {}, test::sign_time(), Purpose::timestamping);
  EXPECT_EQ(ok.status, ChainStatus::ok) << ok.message;
  ChainResult r = store->verify(flawed.get(), {}, test::sign_time(), Purpose::timestamping);
  EXPECT_NE(r.status, ChainStatus::ok) << r.message;
  EXPECT_NE(r.message.find("Hanko Dev TSA (non-critical EKU)"), std::string::npos) << r.message;
}

}  // namespace
}  // namespace hanko::certstore
