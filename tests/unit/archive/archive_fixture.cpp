#include "archive_fixture.h"

#include <openssl/evp.h>

#include "hanko/certstore/dev_pki.h"
#include "hanko/common/json.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/xades.h"

namespace hanko::archive::testing {

using namespace std::chrono;

namespace {

using test::up;

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
  tsas.push_back(std::make_unique<tsa::DevTsa>(pki->tsa(nb, na, "LT Test TSA " + std::to_string(tsas.size() + 1)),
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
