// Validation a pharmacy can rely on (issue 4): trust, revocation over real
// HTTP (the project's DevRevocationServer on 127.0.0.1, port 0, with an
// injected clock), the qualification policy, the qualification registry,
// cryptographic constraints and past-time validation. One row per case with
// its expected indication and sub-indication, as Botan's x509 tests do.
//
// A TSA certificate whose timeStamping EKU is not critical cannot make a token
// with OpenSSL's TSA; its refusal is tested on forged tokens in
// tests/unit/tsa_client (TokenTest.NonCriticalEkuIsChainFailure,
// ResponseChecks.TsaCertificateWithNonCriticalEkuIsRefused).
//
// Times: the PKI is made at pki_time(); signatures are made at sign_time()
// (one day later) unless a row says otherwise; every clock is pinned.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/dev_revocation_server.h"
#include "hanko/certstore/revocation.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/base64.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/http_client.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/signing_key.h"
#include "hanko/store/database.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/verifier/policy.h"
#include "hanko/verifier/verifier.h"
#include "report_schema.h"
#include "test_support.h"

namespace hanko::test {
namespace {

using namespace std::chrono;
using certstore::DevRevocationServer;
using certstore::RevocationOrder;
using verifier::Indication;
using verifier::SubIndication;

/** A key of any size, for the rows that need what PemSigningKey refuses to load (RSA-1024). */
class RawSigningKey final : public signer::SigningKey {
 public:
  RawSigningKey(ossl::X509Ptr cert, ossl::EvpPkeyPtr key, std::vector<ossl::X509Ptr> chain)
      : m_cert(std::move(cert)), m_key(std::move(key)), m_chain(std::move(chain)) {}
  signer::JwsAlg alg() const override { return signer::JwsAlg::RS256; }
  Result<Bytes> sign(ByteView data) const override {
    ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, m_key.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
      return fail(Errc::crypto, "sign");
    }
    Bytes sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
      return fail(Errc::crypto, "sign");
    }
    sig.resize(len);
    return sig;
  }
  const X509* certificate() const override { return m_cert.get(); }
  const std::vector<ossl::X509Ptr>& chain() const override { return m_chain; }
  std::string_view source() const override { return "test"; }

 private:
  ossl::X509Ptr m_cert;
  ossl::EvpPkeyPtr m_key;
  std::vector<ossl::X509Ptr> m_chain;
};

/** The whole world of one case: a PKI pointing at a live revocation server, a TSA, a registry. */
class World {
 public:
  World() {
    auto server = DevRevocationServer::start("127.0.0.1", 0, rev_clock);
    EXPECT_TRUE(server) << server.error().message;
    revocation_server = std::move(*server);
    dir = temp_dir("validation-world");
    certstore::DevPkiOptions o;
    o.revocation_base_url = revocation_server->base_url();
    auto made = certstore::generate_dev_pki(dir / "pki", pki_time(), o);
    EXPECT_TRUE(made) << made.error().message;
    pki = std::move(*made);
    // "revoked" stays revoked at pki_time(), as in the CRL file of the trust folder.
    auto served = certstore::serve_dev_pki(*revocation_server, pki, pki_time());
    EXPECT_TRUE(served) << served.error().message;
    // Anchors only: revocation comes from the server, not from CRL files.
    for (const char* root : {"hpki-root", "jpki-root", "tsa-root"}) {
      trust.add_anchor(load(pki.get(root).cert));
    }
    auto db_opened = store::Database::open_sqlite(dir / "hanko.db");
    EXPECT_TRUE(db_opened) << db_opened.error().message;
    db = std::move(*db_opened);
    const auto& t = pki.get("tsa");
    auto dev = tsa::DevTsa::load(t.cert.string(), t.key.string(), t.chain.string(), tsa_clock);
    EXPECT_TRUE(dev) << dev.error().message;
    dev_tsa = std::move(*dev);
    tsa = std::make_unique<tsa::InProcessTsa>(*dev_tsa);
  }

  static ossl::X509Ptr load(const std::filesystem::path& p) {
    auto certs = ossl::load_certificates(p.string());
    EXPECT_TRUE(certs && !certs->empty()) << p;
    return certs && !certs->empty() ? std::move(certs->front()) : nullptr;
  }

  const X509* cert(const std::string& id) {
    auto it = m_certs.find(id);
    if (it == m_certs.end()) {
      it = m_certs.emplace(id, load(pki.get(id).cert)).first;
    }
    return it->second.get();
  }
  const X509* ca() { return cert("hpki-signing-ca"); }

  json::Value bundle() const {
    auto v = json::parse(read_text(data_file("bundles/simple-prescription.json")));
    EXPECT_TRUE(v) << v.error().message;
    return *v;
  }

  std::unique_ptr<signer::SigningKey> key(const std::string& id) const {
    const auto& item = pki.get(id);
    if (id == "rsa1024") {
      auto k = ossl::load_private_key(item.key.string());
      EXPECT_TRUE(k);
      std::vector<ossl::X509Ptr> chain;
      if (!item.chain.empty()) {
        auto c = ossl::load_certificates(item.chain.string());
        if (c) chain = std::move(*c);
      }
      return std::make_unique<RawSigningKey>(load(item.cert), std::move(*k), std::move(chain));
    }
    auto k = signer::PemSigningKey::load(item.cert.string(), item.key.string(), item.chain.string());
    EXPECT_TRUE(k) << id << ": " << k.error().message;
    return k ? std::move(*k) : nullptr;
  }

  json::Value sign(const std::string& id, signer::Level level, TimePoint when) {
    tsa_clock.set(when);
    auto k = key(id);
    signer::SignOptions opts;
    opts.level = level;
    opts.signing_time = when;
    auto r = signer::sign_bundle(bundle(), *k, tsa.get(), opts);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->bundle : json::Value();
  }

  certstore::RevocationChecker checker() const {
    certstore::RevocationOptions o;
    o.order = order;
    return certstore::RevocationChecker(http, ocsp_trust, db.get(), o);
  }

  verifier::ValidationReport verify(const json::Value& b, TimePoint at) {
    rev_clock.set(at);
    auto rc = checker();
    verifier::VerifyOptions opts;
    opts.signature_trust = &trust;
    opts.tsa_trust = &trust;
    opts.validation_time = at;
    opts.revocation = &rc;
    opts.registry = db.get();
    opts.aia_fetcher = &http;
    auto r = verifier::verify_bundle(b, opts);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : verifier::ValidationReport{};
  }

  verifier::SignerCheck check_signer(const std::string& id, TimePoint at) {
    rev_clock.set(at);
    auto rc = checker();
    verifier::VerifyOptions opts;
    opts.signature_trust = &trust;
    opts.validation_time = at;
    opts.revocation = &rc;
    opts.registry = db.get();
    auto k = key(id);
    std::vector<const X509*> chain;
    for (const auto& c : k->chain()) {
      chain.push_back(c.get());
    }
    return verifier::check_signer(k->certificate(), chain, bundle(), opts);
  }

  FixedClock rev_clock{sign_time()};
  FixedClock tsa_clock{sign_time()};
  std::unique_ptr<DevRevocationServer> revocation_server;
  std::filesystem::path dir;
  certstore::DevPki pki;
  certstore::TrustStore trust;
  certstore::TrustStore ocsp_trust;
  HttpClient http;
  std::unique_ptr<store::Database> db;
  std::unique_ptr<tsa::DevTsa> dev_tsa;
  std::unique_ptr<tsa::InProcessTsa> tsa;
  RevocationOrder order = RevocationOrder::ocsp_then_crl;

 private:
  std::map<std::string, ossl::X509Ptr> m_certs;
};

struct Case {
  std::string name;
  std::function<verifier::ValidationReport(World&)> run;
  Indication indication;
  SubIndication sub;
  std::string message_contains;  ///< a substring the signature's errors must hold ("" = no check)
};

/** GoogleTest prints a parameter with PrintTo: the row's name, not its bytes. */
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string all_errors(const verifier::SignatureReport& s) {
  std::string out;
  for (const auto& e : s.errors) {
    out += e + "\n";
  }
  return out;
}

const TimePoint kSign = sign_time();

std::vector<Case> cases() {
  using L = signer::Level;
  return {
      {"valid_ocsp_good",
       [](World& w) { return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1)); },
       Indication::total_passed, SubIndication::none, ""},
      {"valid_crl_good",
       [](World& w) {
         w.order = RevocationOrder::crl_only;
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::total_passed, SubIndication::none, ""},
      {"expired_before_signing",
       [](World& w) { return w.verify(w.sign("expired", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::out_of_bounds_no_poe, ""},
      {"expired_after_the_timestamp",
       [](World& w) { return w.verify(w.sign("doctor", L::B_T, kSign), kSign + days(6 * 365)); },
       Indication::total_passed, SubIndication::none, ""},
      {"expired_without_timestamp",
       [](World& w) { return w.verify(w.sign("doctor", L::B_B, kSign), kSign + days(6 * 365)); },
       Indication::indeterminate, SubIndication::out_of_bounds_no_poe, ""},
      {"revoked_before_the_timestamp_ocsp",
       [](World& w) {
         EXPECT_TRUE(w.revocation_server->revoke(w.ca(), w.cert("doctor"), kSign - hours(1), 1));
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::total_failed, SubIndication::revoked, "revoked"},
      {"revoked_after_the_timestamp_ocsp",
       [](World& w) {
         auto b = w.sign("doctor", L::B_T, kSign);
         EXPECT_TRUE(w.revocation_server->revoke(w.ca(), w.cert("doctor"), kSign + days(1), 1));
         return w.verify(b, kSign + days(2));
       },
       Indication::total_passed, SubIndication::none, ""},
      {"revoked_before_the_timestamp_crl",
       [](World& w) {
         w.order = RevocationOrder::crl_only;
         EXPECT_TRUE(w.revocation_server->revoke(w.ca(), w.cert("doctor"), kSign - hours(1), 1));
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::total_failed, SubIndication::revoked, "revoked"},
      {"revoked_after_the_timestamp_crl",
       [](World& w) {
         w.order = RevocationOrder::crl_only;
         auto b = w.sign("doctor", L::B_T, kSign);
         EXPECT_TRUE(w.revocation_server->revoke(w.ca(), w.cert("doctor"), kSign + days(1), 1));
         return w.verify(b, kSign + days(2));
       },
       Indication::total_passed, SubIndication::none, ""},
      {"revoked_without_timestamp",
       [](World& w) {
         EXPECT_TRUE(w.revocation_server->revoke(w.ca(), w.cert("doctor"), kSign - hours(1), 1));
         return w.verify(w.sign("doctor", L::B_B, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::revoked_no_poe, ""},
      {"ocsp_unknown",
       [](World& w) {
         w.order = RevocationOrder::ocsp_only;
         EXPECT_TRUE(w.revocation_server->set_unknown(w.ca(), ossl::serial_hex(w.cert("doctor"))));
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::certificate_chain_general_failure, "unknown"},
      {"ocsp_responder_not_authorized",
       [](World& w) {
         w.order = RevocationOrder::ocsp_only;
         auto k = ossl::load_private_key(w.pki.get("ocsp-unauthorized").key.string());
         EXPECT_TRUE(w.revocation_server->set_responder(w.ca(), w.cert("ocsp-unauthorized"), k->get()));
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::try_later, "/ocsp"},
      {"crl_with_a_bad_signature",
       [](World& w) {
         w.order = RevocationOrder::crl_only;
         w.revocation_server->set_fault(DevRevocationServer::Fault::crl_bad_signature);
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::try_later, "/crl/"},
      {"ocsp_and_crl_unreachable",
       [](World& w) {
         w.revocation_server->set_fault(DevRevocationServer::Fault::http_500);
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::try_later, "http://127.0.0.1:"},
      {"ocsp_down_falls_back_to_crl",
       [](World& w) {
         w.revocation_server->set_fault(DevRevocationServer::Fault::hang_up, DevRevocationServer::Endpoint::ocsp);
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::total_passed, SubIndication::none, ""},
      {"ocsp_answer_for_another_certificate",
       [](World& w) {
         w.order = RevocationOrder::ocsp_only;
         w.revocation_server->set_fault(DevRevocationServer::Fault::ocsp_other_cert);
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::try_later, ""},
      {"crl_of_100_mb",
       [](World& w) {
         w.order = RevocationOrder::crl_only;
         HttpOptions small;
         small.max_response_bytes = 1u << 20;
         w.http = HttpClient(small);
         w.revocation_server->set_fault(DevRevocationServer::Fault::huge_body, DevRevocationServer::Endpoint::crl);
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::try_later, "/crl/"},
      {"dentist_on_a_prescription",
       [](World& w) { return w.verify(w.sign("dentist", L::B_T, kSign), kSign + hours(1)); },
       Indication::total_passed, SubIndication::none, ""},
      {"pharmacist_on_a_prescription",
       [](World& w) { return w.verify(w.sign("pharmacist", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::sig_constraints_failure, "Pharmacist"},
      {"nurse_on_a_prescription",
       [](World& w) { return w.verify(w.sign("nurse", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::sig_constraints_failure, "Nurse"},
      {"no_hc_role",
       [](World& w) { return w.verify(w.sign("no-role", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::sig_constraints_failure, ""},
      {"hpki_policy_oid_not_allowed",
       [](World& w) { return w.verify(w.sign("wrong-policy", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::chain_constraints_failure, "1.2.392.100495.1.5.1.2.3.1"},
      {"jpki_without_registry_entry",
       [](World& w) { return w.verify(w.sign("jpki-signer", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::sig_constraints_failure, "registry"},
      {"jpki_with_registry_entry",
       [](World& w) {
         auto id = certstore::jpki_identity(w.cert("jpki-signer"));
         EXPECT_TRUE(id && id->birth_date);
         store::RegistryEntry e;
         e.jpki_name = id->name;
         e.jpki_birth_date = *id->birth_date;
         e.role = "Medical Doctor";
         e.licence_number = "654321";
         e.valid_from = pki_time() - days(365);
         e.valid_to = pki_time() + days(365);
         EXPECT_TRUE(w.db->add_registry_entry(e));
         return w.verify(w.sign("jpki-signer", L::B_T, kSign), kSign + hours(1));
       },
       Indication::total_passed, SubIndication::none, ""},
      {"sha1_signed_certificate_without_poe",
       [](World& w) { return w.verify(w.sign("sha1", L::B_B, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::crypto_constraints_failure_no_poe, "SHA-1"},
      {"sha1_signed_certificate_timestamped_after_sunset",
       [](World& w) { return w.verify(w.sign("sha1", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::crypto_constraints_failure, "SHA-1"},
      {"rsa_1024_key",
       [](World& w) { return w.verify(w.sign("rsa1024", L::B_T, kSign), kSign + hours(1)); },
       Indication::indeterminate, SubIndication::crypto_constraints_failure, "1024"},
      {"chain_to_an_untrusted_root",
       [](World& w) {
         w.trust = certstore::TrustStore();
         w.trust.add_anchor(World::load(w.pki.get("tsa-root").cert));
         return w.verify(w.sign("doctor", L::B_T, kSign), kSign + hours(1));
       },
       Indication::indeterminate, SubIndication::no_certificate_chain_found, "trust anchor"},
  };
}

class ValidationTable : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationTable, GivesTheExpectedIndication) {
  const Case& c = GetParam();
  World w;
  auto r = c.run(w);
  ASSERT_EQ(r.signatures.size(), 1u);
  const auto& s = r.signatures.front();
  EXPECT_EQ(verifier::indication_name(r.indication), verifier::indication_name(c.indication)) << verifier::to_text(r);
  EXPECT_EQ(verifier::sub_indication_name(r.sub_indication), verifier::sub_indication_name(c.sub))
      << verifier::to_text(r);
  if (!c.message_contains.empty()) {
    EXPECT_NE(all_errors(s).find(c.message_contains), std::string::npos)
        << "errors should mention '" << c.message_contains << "':\n" << verifier::to_text(r);
  }
  expect_valid_report(verifier::to_json(r));
}

INSTANTIATE_TEST_SUITE_P(Issue4, ValidationTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

// --- The report says where revocation data came from -----------------------------

TEST(ValidationReport, NamesTheRevocationSourceAndTheQualificationRule) {
  World w;
  auto r = w.verify(w.sign("doctor", signer::Level::B_T, kSign), kSign + hours(1));
  ASSERT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  const auto& s = r.signatures.front();
  ASSERT_EQ(s.revocation.size(), 2u) << "the signer and the signing CA";
  EXPECT_EQ(s.revocation[0].status, "good");
  EXPECT_EQ(s.revocation[0].source, "OCSP");
  EXPECT_NE(s.revocation[0].url.find(w.revocation_server->base_url()), std::string::npos);
  EXPECT_TRUE(s.revocation[0].produced_at.has_value());
  EXPECT_EQ(s.revocation[1].source, "CRL") << "the signing CA has a CRL distribution point only";
  ASSERT_TRUE(s.qualification);
  EXPECT_EQ(s.qualification->outcome, "QUALIFIED");
  EXPECT_EQ(s.qualification->source, "hcRole");
  EXPECT_EQ(s.qualification->rule, "prescription");
  ASSERT_TRUE(s.best_signature_time);
  std::string text = verifier::to_text(r);
  EXPECT_NE(text.find("Qualification: QUALIFIED"), std::string::npos) << text;
  EXPECT_NE(text.find("Revocation of"), std::string::npos) << text;
}

TEST(ValidationReport, FreshRevocationDataIsReusedFromTheCacheWithoutNetwork) {
  World w;
  auto b = w.sign("doctor", signer::Level::B_T, kSign);
  auto first = w.verify(b, kSign + hours(1));
  ASSERT_EQ(first.indication, Indication::total_passed) << verifier::to_text(first);
  w.revocation_server->stop();
  auto second = w.verify(b, kSign + hours(2));
  EXPECT_EQ(second.indication, Indication::total_passed) << verifier::to_text(second);
  ASSERT_FALSE(second.signatures.front().revocation.empty());
  EXPECT_TRUE(second.signatures.front().revocation[0].from_cache);
  // Past nextUpdate the cache is not enough, and the server is gone: TRY_LATER.
  auto third = w.verify(b, kSign + days(30));
  EXPECT_EQ(third.sub_indication, SubIndication::try_later) << verifier::to_text(third);
}

TEST(ValidationReport, MissingIntermediateIsFetchedFromAiaCaIssuers) {
  World w;
  // A key loaded without its chain: x5c holds the signer only, so the
  // verifier must fetch the signing CA itself.
  const auto& item = w.pki.get("doctor");
  auto k = signer::PemSigningKey::load(item.cert.string(), item.key.string(), "");
  ASSERT_TRUE(k) << k.error().message;
  signer::SignOptions opts;
  opts.level = signer::Level::B_B;
  opts.signing_time = kSign;
  auto signed_bundle = signer::sign_bundle(w.bundle(), **k, nullptr, opts);
  ASSERT_TRUE(signed_bundle) << signed_bundle.error().message;
  auto r = w.verify(signed_bundle->bundle, kSign + hours(1));
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  bool fetched = false;
  for (const auto& warning : r.signatures.front().warnings) {
    fetched = fetched || warning.find("AIA caIssuers") != std::string::npos;
  }
  EXPECT_TRUE(fetched) << verifier::to_text(r);
}

TEST(ValidationBadInput, ChainOfAThousandCertificatesIsRefusedQuickly) {
  World w;
  auto b = w.sign("doctor", signer::Level::B_B, kSign);
  auto data = b.find("signature")->find_string("data");
  auto jws = to_string(*base64_decode(*data));
  auto dot = jws.find('.');
  auto header = json::parse(to_string(*base64url_decode(jws.substr(0, dot))));
  ASSERT_TRUE(header);
  json::Array x5c = header->find("x5c")->as_array();
  json::Value one = x5c.back();
  while (x5c.size() < 1000) {
    x5c.push_back(one);
  }
  header->set("x5c", json::Value(std::move(x5c)));
  std::string forged = base64url_encode(as_bytes(json::serialize(*header))) + jws.substr(dot);
  b.find("signature")->set("data", json::Value(base64_encode(as_bytes(forged))));
  auto r = w.verify(b, kSign + hours(1));
  EXPECT_NE(r.indication, Indication::total_passed);
  EXPECT_EQ(r.sub_indication, SubIndication::format_failure) << verifier::to_text(r);
}

// --- The signing-side guard (hanko never makes a signature it would reject) -------

struct SignerCase {
  std::string name;
  std::string key;
  std::function<void(World&)> setup;
  bool ok;
  std::string rule;
};

void PrintTo(const SignerCase& c, std::ostream* os) { *os << c.name; }

class SignerGuard : public ::testing::TestWithParam<SignerCase> {};

TEST_P(SignerGuard, RefusesWhatTheVerifierWouldReject) {
  const SignerCase& c = GetParam();
  World w;
  if (c.setup) {
    c.setup(w);
  }
  auto check = w.check_signer(c.key, kSign);
  EXPECT_EQ(check.ok, c.ok) << check.message;
  if (!c.ok) {
    EXPECT_EQ(check.rule, c.rule) << check.message;
    EXPECT_NE(check.message.find(c.rule), std::string::npos) << check.message;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Issue4, SignerGuard,
    ::testing::Values(
        SignerCase{"doctor_may_sign", "doctor", nullptr, true, ""},
        SignerCase{"expired_is_refused", "expired", nullptr, false, "certificate-chain"},
        SignerCase{"revoked_is_refused", "revoked", nullptr, false, "revocation"},
        SignerCase{"untrusted_is_refused", "doctor",
                   [](World& w) {
                     w.trust = certstore::TrustStore();
                     w.trust.add_anchor(World::load(w.pki.get("tsa-root").cert));
                   },
                   false, "certificate-chain"},
        SignerCase{"pharmacist_may_not_sign_a_prescription", "pharmacist", nullptr, false, "qualification"},
        SignerCase{"unreachable_revocation_is_refused", "doctor",
                   [](World& w) { w.revocation_server->set_fault(DevRevocationServer::Fault::http_500); }, false,
                   "revocation"}),
    [](const ::testing::TestParamInfo<SignerCase>& i) { return i.param.name; });

}  // namespace
}  // namespace hanko::test
