#include "archive_fixture.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "hanko/certstore/dev_pki.h"
#include "hanko/common/json.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/xades.h"

namespace hanko::archive::testing {

using namespace std::chrono;

namespace {

ossl::EvpPkeyPtr dev_key(const std::string& id) {
  auto k = ossl::load_private_key(test::dev_pki().get(id).key.string());
  EXPECT_TRUE(k) << id;
  return k ? std::move(*k) : nullptr;
}

ossl::X509Ptr dev_cert(const std::string& id) {
  auto c = ossl::load_certificates(test::dev_pki().get(id).cert.string());
  EXPECT_TRUE(c && !c->empty()) << id;
  return std::move(c->front());
}

ossl::X509NamePtr name(const std::string& cn) {
  ossl::X509NamePtr n(X509_NAME_new());
  X509_NAME_add_entry_by_txt(n.get(), "C", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("JP"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(n.get(), "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Hanko Archive Test"),
                             -1, -1, 0);
  X509_NAME_add_entry_by_txt(n.get(), "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  return n;
}

ossl::X509Ptr issue(const X509_NAME* subject, EVP_PKEY* subject_key, const X509* issuer, EVP_PKEY* issuer_key,
                    TimePoint nb, TimePoint na, const std::vector<std::pair<int, std::string>>& exts,
                    const X509* copy_from = nullptr) {
  ossl::X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ossl::BignumPtr bn(BN_new());
  BN_rand(bn.get(), 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY);
  ossl::Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  X509_set_serialNumber(x.get(), serial.get());
  X509_set_subject_name(x.get(), const_cast<X509_NAME*>(subject));
  X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : const_cast<X509_NAME*>(subject));
  X509_set1_notBefore(x.get(), ossl::timepoint_to_asn1(nb).get());
  X509_set1_notAfter(x.get(), ossl::timepoint_to_asn1(na).get());
  X509_set_pubkey(x.get(), subject_key);
  if (copy_from != nullptr) {
    for (int i = 0; i < X509_get_ext_count(copy_from); ++i) {
      X509_EXTENSION* e = X509_get_ext(copy_from, i);
      const int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));
      if (nid != NID_authority_key_identifier && nid != NID_subject_key_identifier &&
          nid != NID_crl_distribution_points && nid != NID_info_access) {
        X509_add_ext(x.get(), e, -1);
      }
    }
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? const_cast<X509*>(issuer) : x.get(), x.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : exts) {
    ossl::X509ExtPtr e(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    EXPECT_TRUE(e) << OBJ_nid2sn(nid) << " " << value;
    X509_add_ext(x.get(), e.get(), -1);
  }
  EXPECT_GT(X509_sign(x.get(), issuer_key, EVP_sha256()), 0);
  return ossl::x509_from_der(ossl::x509_to_der(x.get()));
}

ossl::EvpPkeyPtr up(EVP_PKEY* k) {
  EVP_PKEY_up_ref(k);
  return ossl::EvpPkeyPtr(k);
}

std::string test_tag() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string tag = std::string(info->test_suite_name()) + "-" + info->name();
  for (char& c : tag) {
    if (c == '/') {
      c = '-';
    }
  }
  return tag;
}

}  // namespace

LtPki::LtPki(TimePoint t0, std::string base) : m_base(std::move(base)) {
  root_key = dev_key("hpki-root");
  ca_key = dev_key("hpki-signing-ca");
  tsa_root_key = dev_key("tsa-root");
  signer_key = dev_key("doctor");
  tsa_key = dev_key("tsa");
  const TimePoint nb = t0 - kYear;
  const TimePoint na = t0 + 50 * kYear;
  root = issue(name("Archive Test HPKI Root").get(), root_key.get(), nullptr, root_key.get(), nb, na,
               {{NID_basic_constraints, "critical,CA:TRUE"},
                {NID_key_usage, "critical,keyCertSign,cRLSign"},
                {NID_subject_key_identifier, "hash"}});
  ca = issue(name("Archive Test HPKI Signing CA").get(), ca_key.get(), root.get(), root_key.get(), nb, na,
             {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
              {NID_key_usage, "critical,keyCertSign,cRLSign"},
              {NID_subject_key_identifier, "hash"},
              {NID_authority_key_identifier, "keyid:always"},
              {NID_crl_distribution_points, "URI:" + m_base + "/crl/ar-root.crl"}});
  tsa_root = issue(name("Archive Test TSA Root").get(), tsa_root_key.get(), nullptr, tsa_root_key.get(), nb, na,
                   {{NID_basic_constraints, "critical,CA:TRUE"},
                    {NID_key_usage, "critical,keyCertSign,cRLSign"},
                    {NID_subject_key_identifier, "hash"}});
}

ossl::X509Ptr LtPki::signer(TimePoint nb, TimePoint na) const {
  auto doctor = dev_cert("doctor");
  return issue(X509_get_subject_name(doctor.get()), signer_key.get(), ca.get(), ca_key.get(), nb, na,
               {{NID_subject_key_identifier, "hash"},
                {NID_authority_key_identifier, "keyid:always"},
                {NID_crl_distribution_points, "URI:" + m_base + "/crl/ar-ca.crl"},
                {NID_info_access, "OCSP;URI:" + m_base + "/ocsp"}},
               doctor.get());
}

ossl::X509Ptr LtPki::tsa(TimePoint nb, TimePoint na, const std::string& cn) const {
  return issue(name(cn).get(), tsa_key.get(), tsa_root.get(), tsa_root_key.get(), nb, na,
               {{NID_basic_constraints, "critical,CA:FALSE"},
                {NID_key_usage, "critical,digitalSignature,nonRepudiation"},
                {NID_ext_key_usage, "critical,timeStamping"},
                {NID_subject_key_identifier, "hash"},
                {NID_authority_key_identifier, "keyid:always"},
                {NID_crl_distribution_points, "URI:" + m_base + "/crl/ar-tsa-root.crl"}});
}

Result<void> LtPki::serve(certstore::DevRevocationServer& server) const {
  for (auto [c, k, n] : {std::tuple{root.get(), root_key.get(), "ar-root"}, std::tuple{ca.get(), ca_key.get(), "ar-ca"},
                         std::tuple{tsa_root.get(), tsa_root_key.get(), "ar-tsa-root"}}) {
    if (auto r = server.add_ca(c, k, n); !r) {
      return r;
    }
  }
  return {};
}

Result<Bytes> RollingTsa::timestamp(ByteView data, DigestAlg alg) {
  std::lock_guard lock(m_mu);
  if (!m_current) {
    return fail(Errc::network, "no TSA reachable (every TSA of the pool is down)");
  }
  return m_current->timestamp(data, alg);
}

void RollingTsa::use(tsa::DevTsa* t) {
  std::lock_guard lock(m_mu);
  m_current = t != nullptr ? std::make_unique<tsa::InProcessTsa>(*t) : nullptr;
}

std::string backend_name(const ::testing::TestParamInfo<store::Backend>& info) {
  return std::string(store::Dialect(info.param).name());
}

void ArchiveTest::SetUp() {
  if (GetParam() == store::Backend::postgresql) {
    HANKO_POSTGRES_OR_SKIP(pg, test_tag());
    target = pg.url;
  } else {
    target = (test::temp_dir(test_tag()) / "hanko.db").string();
  }
  auto server = certstore::DevRevocationServer::start("127.0.0.1", 0, rev_clock);
  ASSERT_TRUE(server) << server.error().message;
  rev = std::move(*server);
  pki = std::make_unique<LtPki>(t0, rev->base_url());
  ASSERT_TRUE(pki->serve(*rev));
  sig_trust.add_anchor(ossl::up_ref(pki->root.get()));
  tsa_trust.add_anchor(ossl::up_ref(pki->tsa_root.get()));
  revocation = std::make_unique<certstore::RevocationChecker>(http, certstore::TrustStore{}, nullptr,
                                                              certstore::RevocationOptions{});
  db = open_db();
  ASSERT_TRUE(db);
}

void ArchiveTest::TearDown() {
  if (rev) {
    rev->stop();
  }
}

tsa::DevTsa& ArchiveTest::new_tsa(TimePoint nb, TimePoint na) {
  tsas.push_back(std::make_unique<tsa::DevTsa>(pki->tsa(nb, na, "Archive Test TSA " + std::to_string(tsas.size() + 1)),
                                               up(pki->tsa_key.get()), std::vector<ossl::X509Ptr>{}, tsa_clock));
  EXPECT_TRUE(tsas.back()->check());
  tsa.use(tsas.back().get());
  return *tsas.back();
}

void ArchiveTest::at(TimePoint t) {
  rev_clock.set(t);
  tsa_clock.set(t);
}

std::unique_ptr<signer::SigningKey> ArchiveTest::signing_key(TimePoint nb, TimePoint na) {
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(ossl::up_ref(pki->ca.get()));
  auto k = signer::PemSigningKey::create(pki->signer(nb, na), up(pki->signer_key.get()), std::move(chain));
  EXPECT_TRUE(k) << k.error().message;
  return k ? std::move(*k) : nullptr;
}

std::string ArchiveTest::sign_json(const signer::SigningKey& key, TimePoint when, int n) {
  at(when);
  auto b = json::parse(test::read_text(test::data_file("bundles/simple-prescription.json")));
  EXPECT_TRUE(b);
  if (n != 1) {
    auto* ident = b->find("identifier");
    ident->set("value", json::Value("1311234567-2026-" + std::to_string(100000000 + n)));
  }
  signer::SignOptions opts;
  opts.level = signer::Level::B_T;
  opts.signing_time = when;
  auto r = signer::sign_bundle(*b, key, &tsa, opts);
  EXPECT_TRUE(r) << r.error().message;
  return r ? json::serialize(r->bundle, 2) : std::string();
}

std::string ArchiveTest::sign_xml(const signer::SigningKey& key, TimePoint when) {
  at(when);
  signer::SignOptions opts;
  opts.level = signer::Level::B_T;
  opts.signing_time = when;
  auto r = signer::sign_xml_bundle(test::read_text(test::data_file("bundles/simple-prescription.xml")), key, &tsa,
                                   opts);
  EXPECT_TRUE(r) << r.error().message;
  return r ? r->bundle_xml : std::string();
}

std::unique_ptr<store::Database> ArchiveTest::open_db() {
  auto d = store::Database::open(target);
  EXPECT_TRUE(d) << (d ? "" : d.error().message);
  return d ? std::move(*d) : nullptr;
}

ArchiveServices ArchiveTest::services() {
  ArchiveServices s;
  s.verify.signature_trust = &sig_trust;
  s.verify.tsa_trust = &tsa_trust;
  s.verify.revocation = revocation.get();
  s.extend.tsa = &tsa;
  s.extend.signature_trust = &sig_trust;
  s.extend.tsa_trust = &tsa_trust;
  s.extend.revocation = revocation.get();
  return s;
}

std::unique_ptr<Archive> ArchiveTest::make_archive(store::Database& d, ArchiveConfig config) {
  return std::make_unique<Archive>(d, services(), std::move(config));
}

}  // namespace hanko::archive::testing
