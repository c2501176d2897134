// Long-term signatures (issue 8): B-B -> B-T -> B-LT -> B-LTA -> B-LTA for
// FHIR JSON (JAdES) and XML (XAdES), validation with the network off, refusals
// (revoked signer, unreachable revocation), tampering, foreign signatures, and
// a ten-year simulation with archive timestamp renewals.
//
// Everything is real: a PKI made in the test at chosen times (the keys are
// the development PKI's; the certificates are issued here with the validity
// each case needs), the project's DevRevocationServer (CRL and OCSP over HTTP
// on 127.0.0.1, port 0) and DevTsa instances behind TsaHttpServer, each with
// its own pinned clock. No test sleeps or reads the wall clock.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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
#include "hanko/signer/augment.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/jades.h"
#include "hanko/signer/signing_key.h"
#include "hanko/signer/xades.h"
#include "hanko/signer/xml.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/token.h"
#include "hanko/tsa_client/tsa_http_server.h"
#include "hanko/verifier/verifier.h"
#include "long_term_pki.h"
#include "report_schema.h"
#include "test_support.h"

namespace hanko::test {
namespace {

using namespace std::chrono;
using certstore::DevRevocationServer;
using signer::ExtendLevel;
using signer::SignatureLevel;
using verifier::Indication;
using verifier::SubIndication;

constexpr auto kMonth = days(30);
constexpr auto kYear = days(365);

// The PKI made at chosen times is the shared LtPki (tests/support/long_term_pki.h).

/** A development TSA with its own clock, over real HTTP. */
struct Tsa {
  std::unique_ptr<FixedClock> clock;
  std::unique_ptr<tsa::DevTsa> dev;
  std::unique_ptr<tsa::TsaHttpServer> server;
  std::unique_ptr<tsa::HttpTsaClient> client;
  ~Tsa() {
    if (server) {
      server->stop();
    }
  }
};

/** Whether `after` is `before` with one contiguous run of bytes inserted (everything that was there is kept). */
bool is_insertion(std::string_view before, std::string_view after) {
  if (after.size() < before.size()) {
    return false;
  }
  std::size_t p = 0;
  while (p < before.size() && before[p] == after[p]) {
    ++p;
  }
  const std::size_t tail = before.size() - p;
  return after.substr(after.size() - tail) == before.substr(p);
}

/** The JWS text of Bundle.signature.data of a JSON Bundle text. */
std::string jws_of(const std::string& bundle) {
  auto v = json::parse(bundle);
  EXPECT_TRUE(v);
  auto data = base64_decode(*v->find("signature")->find_string("data"));
  EXPECT_TRUE(data);
  return to_string(*data);
}

/** The ds:Signature document of an XML Bundle text. */
std::string signature_of(const std::string& bundle) {
  auto core = signer::verify_xades_core(bundle);
  EXPECT_TRUE(core) << core.error().message;
  return core ? core->signature_xml : std::string();
}

/** Bundle.signature.data of a JSON Bundle text set to base64(jws), re-serialized. */
std::string with_jws(const std::string& bundle, const std::string& jws) {
  auto v = json::parse(bundle);
  v->find("signature")->set("data", json::Value(base64_encode(as_bytes(jws))));
  return json::serialize(*v, 2);
}

std::string with_signature_xml(const std::string& bundle, const std::string& sig) {
  const std::string old = base64_encode(as_bytes(signature_of(bundle)));
  std::string out = bundle;
  const auto pos = out.find(old);
  EXPECT_NE(pos, std::string::npos);
  out.replace(pos, old.size(), base64_encode(as_bytes(sig)));
  return out;
}

class LongTerm : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = DevRevocationServer::start("127.0.0.1", 0, rev_clock);
    ASSERT_TRUE(server) << server.error().message;
    rev = std::move(*server);
    pki = std::make_unique<LtPki>(t0, rev->base_url());
    ASSERT_TRUE(pki->serve(*rev));
    sig_trust.add_anchor(ossl::up_ref(pki->root.get()));
    tsa_trust.add_anchor(ossl::up_ref(pki->tsa_root.get()));
  }

  std::unique_ptr<Tsa> make_tsa(TimePoint nb, TimePoint na, const std::string& cn) {
    auto t = std::make_unique<Tsa>();
    t->clock = std::make_unique<FixedClock>(nb);
    t->dev = std::make_unique<tsa::DevTsa>(pki->tsa(nb, na, cn), up(pki->tsa_key.get()), std::vector<ossl::X509Ptr>{},
                                           *t->clock);
    EXPECT_TRUE(t->dev->check());
    t->server = std::make_unique<tsa::TsaHttpServer>(*t->dev, "127.0.0.1", 0);
    t->server->start();
    t->client = std::make_unique<tsa::HttpTsaClient>(t->server->url());
    return t;
  }

  std::unique_ptr<signer::SigningKey> signing_key(TimePoint nb, TimePoint na) {
    std::vector<ossl::X509Ptr> chain;
    chain.push_back(ossl::up_ref(pki->ca.get()));
    auto k = signer::PemSigningKey::create(pki->signer(nb, na), up(pki->signer_key.get()), std::move(chain));
    EXPECT_TRUE(k) << k.error().message;
    return k ? std::move(*k) : nullptr;
  }

  std::string json_bundle_text() const { return read_text(data_file("bundles/simple-prescription.json")); }
  std::string xml_bundle_text() const { return read_text(data_file("bundles/simple-prescription.xml")); }

  /** Signs at `when` (B-B or B-T with `tsa`), as text. */
  std::string sign(bool xml_form, const signer::SigningKey& key, signer::Level level, TimePoint when, Tsa* tsa) {
    if (tsa != nullptr) {
      tsa->clock->set(when);
    }
    signer::SignOptions opts;
    opts.level = level;
    opts.signing_time = when;
    if (xml_form) {
      auto r = signer::sign_xml_bundle(xml_bundle_text(), key, tsa != nullptr ? tsa->client.get() : nullptr, opts);
      EXPECT_TRUE(r) << r.error().message;
      return r ? r->bundle_xml : std::string();
    }
    auto b = json::parse(json_bundle_text());
    auto r = signer::sign_bundle(*b, key, tsa != nullptr ? tsa->client.get() : nullptr, opts);
    EXPECT_TRUE(r) << r.error().message;
    return r ? json::serialize(r->bundle, 2) : std::string();
  }

  Result<signer::ExtendedBundle> extend(const std::string& bundle, ExtendLevel target, TimePoint now, Tsa& tsa,
                                        DigestAlg digest = DigestAlg::sha256, const HttpClient* aia = nullptr) {
    rev_clock.set(now);
    tsa.clock->set(now);
    certstore::RevocationChecker rc(http, certstore::TrustStore{}, nullptr, certstore::RevocationOptions{});
    signer::ExtendContext ctx;
    ctx.tsa = tsa.client.get();
    ctx.signature_trust = &sig_trust;
    ctx.tsa_trust = &tsa_trust;
    ctx.revocation = &rc;
    ctx.now = now;
    ctx.archive_digest = digest;
    ctx.aia_fetcher = aia;
    return signer::extend_bundle(bundle, target, ctx);
  }

  std::string extended(const std::string& bundle, ExtendLevel target, TimePoint now, Tsa& tsa,
                       DigestAlg digest = DigestAlg::sha256) {
    auto r = extend(bundle, target, now, tsa, digest);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->bundle : std::string();
  }

  /** Verifies at `at`; `network` false: the revocation checker may not fetch anything. */
  verifier::ValidationReport verify(const std::string& bundle, TimePoint at, bool network) {
    if (network) {
      rev_clock.set(at);
    }
    certstore::RevocationOptions ro;
    ro.fetch = network;
    certstore::RevocationChecker rc(http, certstore::TrustStore{}, nullptr, ro);
    verifier::VerifyOptions opts;
    opts.signature_trust = &sig_trust;
    opts.tsa_trust = &tsa_trust;
    opts.validation_time = at;
    opts.revocation = &rc;
    auto r = bundle.front() == '<' ? verifier::verify_xml_bundle_text(bundle, opts)
                                   : verifier::verify_bundle_text(bundle, opts);
    EXPECT_TRUE(r) << r.error().message;
    if (r) {
      expect_valid_report(verifier::to_json(*r));
    }
    return r ? *r : verifier::ValidationReport{};
  }

  TimePoint t0 = sign_time();
  FixedClock rev_clock{sign_time()};
  std::unique_ptr<DevRevocationServer> rev;
  std::unique_ptr<LtPki> pki;
  certstore::TrustStore sig_trust;
  certstore::TrustStore tsa_trust;
  HttpClient http;
};

std::string prefix(bool xml_form) { return xml_form ? "XAdES-BASELINE-" : "JAdES-BASELINE-"; }

/** The signed parts stay byte for byte, and what was unsigned before is still there, unchanged. */
void expect_kept(bool xml_form, const std::string& before, const std::string& after) {
  if (xml_form) {
    const std::string a = signature_of(before);
    const std::string b = signature_of(after);
    EXPECT_TRUE(is_insertion(a, b)) << "the old signature document is not kept byte for byte:\n" << a << "\n" << b;
  } else {
    auto a = json::parse(jws_of(before));
    auto b = json::parse(jws_of(after));
    if (!a) {  // compact B-B: "protected..signature"
      const std::string s = jws_of(before);
      ASSERT_TRUE(b);
      EXPECT_EQ(s, *b->find_string("protected") + ".." + *b->find_string("signature"));
    } else {
      ASSERT_TRUE(b);
      EXPECT_EQ(*a->find_string("protected"), *b->find_string("protected"));
      EXPECT_EQ(*a->find_string("signature"), *b->find_string("signature"));
      const auto& old_items = a->find("header")->find("etsiU")->as_array();
      const auto& new_items = b->find("header")->find("etsiU")->as_array();
      ASSERT_GT(new_items.size(), old_items.size());
      for (std::size_t i = 0; i < old_items.size(); ++i) {
        EXPECT_EQ(old_items[i].as_string(), new_items[i].as_string()) << "etsiU item " << i << " changed";
      }
    }
  }
  // The Bundle text around Bundle.signature.data is unchanged.
  const std::string old_data = xml_form ? base64_encode(as_bytes(signature_of(before))) : base64_encode(as_bytes(jws_of(before)));
  const auto pos = before.find(old_data);
  ASSERT_NE(pos, std::string::npos);
  EXPECT_EQ(after.substr(0, pos), before.substr(0, pos));
  EXPECT_EQ(after.substr(after.size() - (before.size() - pos - old_data.size())), before.substr(pos + old_data.size()));
}

class Levels : public LongTerm, public ::testing::WithParamInterface<bool> {};

TEST_P(Levels, EachStepAddsOnlyAndVerifies) {
  const bool xml_form = GetParam();
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
  rev_clock.set(t0);
  const std::string b0 = sign(xml_form, *key, signer::Level::B_B, t0, nullptr);
  auto r0 = verify(b0, t0 + hours(1), true);
  EXPECT_EQ(r0.indication, Indication::total_passed) << verifier::to_text(r0);
  EXPECT_EQ(r0.signatures.front().format, prefix(xml_form) + "B");

  // B-T
  auto e1 = extend(b0, ExtendLevel::B_T, t0 + hours(1), *tsa);
  ASSERT_TRUE(e1) << e1.error().message;
  EXPECT_EQ(e1->before, SignatureLevel::B_B);
  EXPECT_EQ(e1->after, SignatureLevel::B_T);
  ASSERT_EQ(e1->timestamps_added.size(), 1u);
  expect_kept(xml_form, b0, e1->bundle);
  auto r1 = verify(e1->bundle, t0 + hours(2), true);
  EXPECT_EQ(r1.indication, Indication::total_passed) << verifier::to_text(r1);
  EXPECT_EQ(r1.signatures.front().format, prefix(xml_form) + "T");

  // B-T again: unchanged.
  auto same = extend(e1->bundle, ExtendLevel::B_T, t0 + hours(2), *tsa);
  ASSERT_TRUE(same);
  EXPECT_FALSE(same->changed);
  EXPECT_EQ(same->bundle, e1->bundle);

  // B-LT: certificates and revocation data of the signer's and the TSA's chains.
  auto e2 = extend(e1->bundle, ExtendLevel::B_LT, t0 + hours(3), *tsa);
  ASSERT_TRUE(e2) << e2.error().message;
  EXPECT_EQ(e2->after, SignatureLevel::B_LT);
  EXPECT_GE(e2->certificates_added, 2u) << "the roots and the TSA certificate are not in x5c";
  EXPECT_GE(e2->crls_added + e2->ocsp_responses_added, 3u) << "signer, signing CA and TSA";
  expect_kept(xml_form, e1->bundle, e2->bundle);
  for (bool network : {true, false}) {
    auto r2 = verify(e2->bundle, t0 + hours(4), network);
    EXPECT_EQ(r2.indication, Indication::total_passed) << verifier::to_text(r2);
    EXPECT_EQ(r2.signatures.front().format, prefix(xml_form) + "LT");
    ASSERT_EQ(r2.signatures.front().revocation.size(), 2u);
    for (const auto& rr : r2.signatures.front().revocation) {
      EXPECT_EQ(rr.status, "good");
      EXPECT_EQ(rr.url.rfind("embedded ", 0), 0u) << rr.url;
    }
  }

  // B-LTA, then B-LTA again with SHA-384.
  auto e3 = extend(e2->bundle, ExtendLevel::B_LTA, t0 + days(1), *tsa);
  ASSERT_TRUE(e3) << e3.error().message;
  EXPECT_EQ(e3->after, SignatureLevel::B_LTA);
  expect_kept(xml_form, e2->bundle, e3->bundle);
  auto r3 = verify(e3->bundle, t0 + days(1) + hours(1), false);
  EXPECT_EQ(r3.indication, Indication::total_passed) << verifier::to_text(r3);
  EXPECT_EQ(r3.signatures.front().format, prefix(xml_form) + "LTA");
  EXPECT_EQ(r3.signatures.front().timestamps.size(), 2u);
  auto e4 = extend(e3->bundle, ExtendLevel::B_LTA, t0 + days(2), *tsa, DigestAlg::sha384);
  ASSERT_TRUE(e4) << e4.error().message;
  EXPECT_EQ(e4->before, SignatureLevel::B_LTA);
  EXPECT_GE(e4->crls_added + e4->ocsp_responses_added, 1u) << "the previous archive timestamp's TSA";
  expect_kept(xml_form, e3->bundle, e4->bundle);
  // With the network off, and with the revocation server gone.
  rev->stop();
  for (bool network : {false, true}) {
    auto r4 = verify(e4->bundle, t0 + days(3), network);
    EXPECT_EQ(r4.indication, Indication::total_passed) << verifier::to_text(r4);
    const auto& s = r4.signatures.front();
    EXPECT_EQ(s.format, prefix(xml_form) + "LTA");
    ASSERT_EQ(s.timestamps.size(), 3u);
    EXPECT_EQ(s.timestamps[0].type, "SIGNATURE_TIMESTAMP");
    EXPECT_EQ(s.timestamps[1].type, "ARCHIVE_TIMESTAMP");
    EXPECT_EQ(s.timestamps[2].type, "ARCHIVE_TIMESTAMP");
    EXPECT_EQ(s.timestamps[1].digest_algorithm, "SHA-256");
    EXPECT_EQ(s.timestamps[2].digest_algorithm, "SHA-384");
    for (const auto& t : s.timestamps) {
      EXPECT_EQ(t.indication, verifier::BlockIndication::passed) << t.message;
    }
    ASSERT_TRUE(s.timestamps[0].control_time);
    EXPECT_EQ(*s.timestamps[0].control_time, *s.timestamps[1].gen_time)
        << "the signature timestamp's proof of existence is the first archive timestamp";
    ASSERT_TRUE(s.best_signature_time);
    EXPECT_EQ(*s.best_signature_time, t0 + hours(1));
  }
}

INSTANTIATE_TEST_SUITE_P(JsonAndXml, Levels, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Xml" : "Json"; });

class Refusals : public LongTerm, public ::testing::WithParamInterface<bool> {};

TEST_P(Refusals, RevokedSignerGetsNoBLt) {
  const bool xml_form = GetParam();
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
  const std::string bt = sign(xml_form, *key, signer::Level::B_T, t0, tsa.get());
  ASSERT_TRUE(rev->revoke(pki->ca.get(), key->certificate(), t0 + hours(1), 1));
  auto r = extend(bt, ExtendLevel::B_LT, t0 + hours(2), *tsa);
  ASSERT_FALSE(r) << "a revoked signer must not get B-LT data";
  EXPECT_EQ(r.error().code, Errc::policy);
  EXPECT_NE(r.error().message.find("revoked"), std::string::npos) << r.error().message;
  // B-T still works: it needs no revocation data.
  auto b0 = sign(xml_form, *key, signer::Level::B_B, t0, nullptr);
  EXPECT_TRUE(extend(b0, ExtendLevel::B_T, t0 + hours(2), *tsa));
}

TEST_P(Refusals, UnreachableRevocationGetsNoBLt) {
  const bool xml_form = GetParam();
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
  const std::string bt = sign(xml_form, *key, signer::Level::B_T, t0, tsa.get());
  rev->set_fault(DevRevocationServer::Fault::http_500);
  auto r = extend(bt, ExtendLevel::B_LT, t0 + hours(2), *tsa);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
  EXPECT_NE(r.error().message.find(rev->base_url()), std::string::npos) << "names the URL: " << r.error().message;
  rev->stop();
  auto r2 = extend(bt, ExtendLevel::B_LTA, t0 + hours(2), *tsa);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code, Errc::network);
  // The control: with the server answering, the same call works.
}

TEST_P(Refusals, ExpiredSignerGetsNoBLtButKeepsItsLevel) {
  const bool xml_form = GetParam();
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + kMonth);
  const std::string bt = sign(xml_form, *key, signer::Level::B_T, t0, tsa.get());
  auto late = extend(bt, ExtendLevel::B_LT, t0 + 2 * kMonth, *tsa);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, Errc::policy);
  EXPECT_NE(late.error().message.find("expired"), std::string::npos) << late.error().message;
  auto in_time = extend(bt, ExtendLevel::B_LT, t0 + days(10), *tsa);
  EXPECT_TRUE(in_time) << in_time.error().message;
}

TEST_P(Refusals, BrokenSignatureIsNotExtended) {
  const bool xml_form = GetParam();
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
  std::string b0 = sign(xml_form, *key, signer::Level::B_B, t0, nullptr);
  // Change the Composition status, which the signature covers.
  const std::string from = xml_form ? "<status value=\"final\"/>" : "\"status\": \"final\"";
  const std::string to = xml_form ? "<status value=\"amended\"/>" : "\"status\": \"amended\"";
  const auto pos = b0.find(from);
  ASSERT_NE(pos, std::string::npos);
  b0.replace(pos, from.size(), to);
  auto r = extend(b0, ExtendLevel::B_T, t0 + hours(1), *tsa);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

INSTANTIATE_TEST_SUITE_P(JsonAndXml, Refusals, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Xml" : "Json"; });

// --- Tampering ------------------------------------------------------------------------

class Tampering : public LongTerm {
 protected:
  std::string lta(bool xml_form, std::unique_ptr<Tsa>& tsa) {
    tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
    auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
    const std::string bt = sign(xml_form, *key, signer::Level::B_T, t0, tsa.get());
    return extended(bt, ExtendLevel::B_LTA, t0 + hours(1), *tsa);
  }
};

/** etsiU item `i` of a JSON Bundle's JWS, decoded. */
json::Value item(const std::string& bundle, std::size_t i) {
  auto jws = json::parse(jws_of(bundle));
  auto raw = base64url_decode(jws->find("header")->find("etsiU")->as_array()[i].as_string());
  return *json::parse(to_string(*raw));
}

std::string with_item(const std::string& bundle, std::size_t i, const json::Value& v) {
  auto jws = json::parse(jws_of(bundle));
  jws->find("header")->find("etsiU")->as_array()[i] = json::Value(base64url_encode(as_bytes(json::serialize(v))));
  return with_jws(bundle, json::serialize(*jws));
}

TEST_F(Tampering, JsonArchiveTimestampOverOtherDataFails) {
  std::unique_ptr<Tsa> tsa;
  const std::string b = lta(false, tsa);
  auto good = verify(b, t0 + hours(2), false);
  ASSERT_EQ(good.indication, Indication::total_passed) << verifier::to_text(good);
  // A genuine token from the same TSA, over other data.
  auto other = tsa->client->timestamp(as_bytes(std::string_view("something else")));
  ASSERT_TRUE(other);
  auto jws = json::parse(jws_of(b));
  const std::size_t last = jws->find("header")->find("etsiU")->as_array().size() - 1;
  json::Value arc = item(b, last);
  ASSERT_NE(arc.find("arcTst"), nullptr);
  arc = json::Value(json::Object{{"arcTst", json::Value(json::Object{{"tstTokens", json::Value(json::Array{json::Value(json::Object{{"val", json::Value(base64_encode(*other))}})})}})}});
  auto r = verify(with_item(b, last, arc), t0 + hours(2), false);
  EXPECT_EQ(r.indication, Indication::total_failed) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::hash_failure);
}

TEST_F(Tampering, JsonArchiveTimestampWithBrokenSignatureFails) {
  std::unique_ptr<Tsa> tsa;
  const std::string b = lta(false, tsa);
  auto jws = json::parse(jws_of(b));
  const std::size_t last = jws->find("header")->find("etsiU")->as_array().size() - 1;
  json::Value arc = item(b, last);
  auto der = base64_decode(*arc.find("arcTst")->find("tstTokens")->as_array()[0].find_string("val"));
  // The last bytes of the token are the TSA's RSA signature value.
  (*der)[der->size() - 5] ^= 0x01;
  arc = json::Value(json::Object{{"arcTst", json::Value(json::Object{{"tstTokens", json::Value(json::Array{json::Value(json::Object{{"val", json::Value(base64_encode(*der))}})})}})}});
  auto r = verify(with_item(b, last, arc), t0 + hours(2), false);
  EXPECT_EQ(r.indication, Indication::total_failed) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::sig_crypto_failure);
}

TEST_F(Tampering, JsonChangedXValsEntryFails) {
  std::unique_ptr<Tsa> tsa;
  const std::string b = lta(false, tsa);
  auto jws = json::parse(jws_of(b));
  const auto& items = jws->find("header")->find("etsiU")->as_array();
  std::size_t xi = items.size();
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (item(b, i).find("xVals") != nullptr) {
      xi = i;
    }
  }
  ASSERT_LT(xi, items.size());
  // Another real certificate in place of the first one: covered by the archive timestamp.
  json::Value xv = item(b, xi);
  auto other = dev_cert("hpki-root");
  xv.find("xVals")->as_array()[0] =
      json::Value(json::Object{{"x509Cert", json::Value(json::Object{{"val", json::Value(base64_encode(ossl::x509_to_der(other.get())))}})}});
  auto r = verify(with_item(b, xi, xv), t0 + hours(2), false);
  EXPECT_EQ(r.indication, Indication::total_failed) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::hash_failure);
  // An xVals entry that is not a certificate at all is a format failure (also at B-LT).
  xv.find("xVals")->as_array()[0] =
      json::Value(json::Object{{"x509Cert", json::Value(json::Object{{"val", json::Value("AAAA")}})}});
  auto r2 = verify(with_item(b, xi, xv), t0 + hours(2), false);
  EXPECT_EQ(r2.indication, Indication::total_failed) << verifier::to_text(r2);
  EXPECT_EQ(r2.sub_indication, SubIndication::format_failure);
}

TEST_F(Tampering, XmlChangedCertificateValuesFails) {
  std::unique_ptr<Tsa> tsa;
  const std::string b = lta(true, tsa);
  auto good = verify(b, t0 + hours(2), false);
  ASSERT_EQ(good.indication, Indication::total_passed) << verifier::to_text(good);
  std::string sig = signature_of(b);
  const std::string open = "<xades:EncapsulatedX509Certificate>";
  auto pos = sig.find(open);
  ASSERT_NE(pos, std::string::npos);
  auto end = sig.find('<', pos + open.size());
  auto other = dev_cert("hpki-root");
  sig.replace(pos + open.size(), end - pos - open.size(), base64_encode(ossl::x509_to_der(other.get())));
  auto r = verify(with_signature_xml(b, sig), t0 + hours(2), false);
  EXPECT_EQ(r.indication, Indication::total_failed) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::hash_failure);
}

TEST_F(Tampering, XmlArchiveTimestampOverOtherDataFails) {
  std::unique_ptr<Tsa> tsa;
  const std::string b = lta(true, tsa);
  std::string sig = signature_of(b);
  auto other = tsa->client->timestamp(as_bytes(std::string_view("something else")));
  ASSERT_TRUE(other);
  const auto ats = sig.rfind("ArchiveTimeStamp");
  const std::string open = "<xades:EncapsulatedTimeStamp>";
  auto pos = sig.rfind(open);
  ASSERT_GT(pos, sig.rfind("ArchiveTimeStamp", ats - 1));
  auto end = sig.find('<', pos + open.size());
  sig.replace(pos + open.size(), end - pos - open.size(), base64_encode(*other));
  auto r = verify(with_signature_xml(b, sig), t0 + hours(2), false);
  EXPECT_EQ(r.indication, Indication::total_failed) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::hash_failure);
}

TEST_F(Tampering, RenewingAfterTamperingIsRefused) {
  std::unique_ptr<Tsa> tsa;
  const std::string b = lta(false, tsa);
  auto jws = json::parse(jws_of(b));
  const auto& items = jws->find("header")->find("etsiU")->as_array();
  std::size_t xi = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (item(b, i).find("xVals") != nullptr) {
      xi = i;
    }
  }
  json::Value xv = item(b, xi);
  xv.find("xVals")->as_array().pop_back();
  auto r = extend(with_item(b, xi, xv), ExtendLevel::B_LTA, t0 + days(1), *tsa);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument) << r.error().message;
  EXPECT_TRUE(extend(b, ExtendLevel::B_LTA, t0 + days(1), *tsa)) << "the untouched signature renews";
}

// --- Ten years: renewals before each TSA expires ---------------------------------------

class TenYears : public LongTerm, public ::testing::WithParamInterface<bool> {};

TEST_P(TenYears, RenewedSignatureStaysValidAndUnrenewedDoesNot) {
  const bool xml_form = GetParam();
  // Signer valid for one year, the first TSA for two.
  auto key = signing_key(t0 - days(1), t0 + kYear);
  std::vector<std::unique_ptr<Tsa>> tsas;
  tsas.push_back(make_tsa(t0 - kMonth, t0 + 2 * kYear, "LT Test TSA 1"));
  const std::string bt = sign(xml_form, *key, signer::Level::B_T, t0, tsas[0].get());
  const std::string first = extended(bt, ExtendLevel::B_LTA, t0 + kMonth, *tsas[0]);
  ASSERT_FALSE(first.empty());
  auto soon = verify(first, t0 + kMonth + hours(1), false);
  EXPECT_EQ(soon.indication, Indication::total_passed) << verifier::to_text(soon);

  // Renew every 21 months with a new TSA whose certificate lives two years.
  std::string current = first;
  TimePoint renewal = t0 + kMonth;
  for (int n = 2; renewal + 21 * kMonth < t0 + 10 * kYear; ++n) {
    renewal += 21 * kMonth;
    tsas.push_back(make_tsa(renewal - days(1), renewal + 2 * kYear, "LT Test TSA " + std::to_string(n)));
    current = extended(current, ExtendLevel::B_LTA, renewal, *tsas.back());
    ASSERT_FALSE(current.empty()) << "renewal " << n;
  }
  const TimePoint later = t0 + 10 * kYear;
  auto renewed = verify(current, later, false);
  EXPECT_EQ(renewed.indication, Indication::total_passed) << verifier::to_text(renewed);
  const auto& s = renewed.signatures.front();
  EXPECT_EQ(s.timestamps.size(), tsas.size() + 1) << "one signature timestamp and one archive timestamp per TSA";
  ASSERT_TRUE(s.best_signature_time);
  EXPECT_EQ(*s.best_signature_time, t0);

  // Without the renewals every certificate has expired and nothing proves the
  // signature existed while they were valid.
  auto unrenewed = verify(first, later, false);
  EXPECT_EQ(unrenewed.indication, Indication::indeterminate) << verifier::to_text(unrenewed);
  EXPECT_EQ(unrenewed.sub_indication, SubIndication::out_of_bounds_no_poe);
  for (const auto& t : unrenewed.signatures.front().timestamps) {
    EXPECT_NE(t.indication, verifier::BlockIndication::passed);
  }
  // Renewing once the previous TSA certificate has expired is too late.
  auto too_late = extend(first, ExtendLevel::B_LTA, t0 + 3 * kYear, *tsas.back());
  ASSERT_FALSE(too_late);
  EXPECT_EQ(too_late.error().code, Errc::policy) << too_late.error().message;
}

INSTANTIATE_TEST_SUITE_P(JsonAndXml, TenYears, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "Xml" : "Json"; });

// --- Signatures not made by hanko ----------------------------------------------------------

/** RSASSA-PKCS1-v1_5 SHA-256 with a raw key. */
Bytes rsa_sign(EVP_PKEY* key, std::string_view data) {
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()), 1);
  Bytes sig(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()), 1);
  sig.resize(len);
  return sig;
}

TEST_F(LongTerm, ForeignJadesSignatureIsExtendedToBLta) {
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto signer_cert = pki->signer(t0 - days(1), t0 + 2 * kYear);
  // Assembled here, not by hanko's signer: other member order, sigT instead of
  // iat, commId as a plain string, compact serialization.
  auto bundle = json::parse(json_bundle_text());
  auto doc = signer::canonical_document(*bundle, signer::jcs());
  ASSERT_TRUE(doc);
  std::string header = "{\"x5c\":[\"" + base64_encode(ossl::x509_to_der(signer_cert.get())) + "\",\"" +
                       base64_encode(ossl::x509_to_der(pki->ca.get())) +
                       "\"],\"alg\":\"RS256\",\"sigT\":\"" + format_rfc3339(t0) +
                       "\",\"srCms\":[{\"commId\":\"urn:oid:1.2.840.10065.1.12.1.1\"}]}";
  const std::string protected_b64 = base64url_encode(as_bytes(header));
  const std::string input = protected_b64 + "." + base64url_encode(as_bytes(*doc));
  const std::string jws = protected_b64 + ".." + base64url_encode(rsa_sign(pki->signer_key.get(), input));
  json::Object sig;
  sig.emplace_back("type", json::Value(json::Array{json::Value(json::Object{
                               {"system", json::Value("urn:iso-astm:E1762-95:2013")},
                               {"code", json::Value("1.2.840.10065.1.12.1.1")}})}));
  sig.emplace_back("when", json::Value(format_rfc3339(t0, true)));
  sig.emplace_back("who", json::Value(json::Object{{"display", json::Value("Foreign Signer")}}));
  sig.emplace_back("sigFormat", json::Value("application/jose"));
  sig.emplace_back("targetFormat", json::Value(std::string(signer::jcs().target_format())));
  sig.emplace_back("data", json::Value(base64_encode(as_bytes(jws))));
  bundle->set("signature", json::Value(std::move(sig)));
  const std::string b0 = json::serialize(*bundle);  // compact, unlike hanko's output
  rev_clock.set(t0);
  auto r0 = verify(b0, t0 + hours(1), true);
  ASSERT_EQ(r0.indication, Indication::total_passed) << verifier::to_text(r0);

  auto e = extend(b0, ExtendLevel::B_LTA, t0 + hours(1), *tsa);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->before, SignatureLevel::B_B);
  EXPECT_EQ(e->after, SignatureLevel::B_LTA);
  EXPECT_EQ(e->timestamps_added.size(), 2u) << "sigTst and arcTst";
  expect_kept(false, b0, e->bundle);
  rev->stop();
  auto r = verify(e->bundle, t0 + hours(2), false);
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  EXPECT_EQ(r.signatures.front().format, "JAdES-BASELINE-LTA");
}

TEST_F(LongTerm, ForeignXadesSignatureIsExtendedToBLta) {
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto signer_cert = pki->signer(t0 - days(1), t0 + 2 * kYear);
  const std::string bundle = xml_bundle_text();
  auto bdoc = signer::xml::Document::parse(bundle);
  ASSERT_TRUE(bdoc);
  auto doc_bytes = signer::xml::fhir_xml_document(*bdoc);
  ASSERT_TRUE(doc_bytes);
  std::string identifier;
  {
    const std::string key = "<identifier>";
    auto p = bundle.find("<value value=\"", bundle.find(key));
    auto q = bundle.find('"', p + 14);
    identifier = bundle.substr(p + 14, q - p - 14);
  }
  // Assembled by hand: XML-DSig as the default namespace, XAdES under the
  // prefix "xa", line breaks between elements, no IssuerSerialV2.
  const std::string dsig = std::string(signer::kXmlDsigNamespace);
  const std::string cert_digest = base64_encode(ossl::cert_sha256(signer_cert.get()));
  std::string sig =
      "<Signature xmlns=\"" + dsig + "\" Id=\"S1\">\n"
      "<SignedInfo>\n"
      "<CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
      "<SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\n"
      "<Reference URI=\"" + identifier + "\">\n"
      "<DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
      "<DigestValue>" + base64_encode(sha256(*doc_bytes)) + "</DigestValue>\n"
      "</Reference>\n"
      "<Reference Type=\"http://uri.etsi.org/01903#SignedProperties\" URI=\"#SP1\">\n"
      "<Transforms><Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></Transforms>\n"
      "<DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
      "<DigestValue>SPDIGEST</DigestValue>\n"
      "</Reference>\n"
      "</SignedInfo>\n"
      "<SignatureValue>SIGVALUE</SignatureValue>\n"
      "<KeyInfo><X509Data>\n"
      "<X509Certificate>" + base64_encode(ossl::x509_to_der(signer_cert.get())) + "</X509Certificate>\n"
      "<X509Certificate>" + base64_encode(ossl::x509_to_der(pki->ca.get())) + "</X509Certificate>\n"
      "</X509Data></KeyInfo>\n"
      "<Object><xa:QualifyingProperties xmlns:xa=\"http://uri.etsi.org/01903/v1.3.2#\" Target=\"#S1\">\n"
      "<xa:SignedProperties Id=\"SP1\">\n"
      "<xa:SignedSignatureProperties>\n"
      "<xa:SigningTime>" + format_rfc3339(t0) + "</xa:SigningTime>\n"
      "<xa:SigningCertificateV2><xa:Cert><xa:CertDigest>"
      "<DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><DigestValue>" + cert_digest +
      "</DigestValue></xa:CertDigest></xa:Cert></xa:SigningCertificateV2>\n"
      "</xa:SignedSignatureProperties>\n"
      "<xa:SignedDataObjectProperties>\n"
      "<xa:CommitmentTypeIndication><xa:CommitmentTypeId><xa:Identifier>urn:oid:1.2.840.10065.1.12.1.1</xa:Identifier>"
      "</xa:CommitmentTypeId><xa:AllSignedDataObjects/></xa:CommitmentTypeIndication>\n"
      "</xa:SignedDataObjectProperties>\n"
      "</xa:SignedProperties>\n"
      "</xa:QualifyingProperties></Object>\n"
      "</Signature>";
  const signer::xml::C14nOptions exc{signer::xml::C14nMethod::exc_c14n, false, {}};
  auto parsed = signer::xml::Document::parse(sig);
  ASSERT_TRUE(parsed) << parsed.error().message;
  auto sp = signer::xml::canonicalize_element(*parsed, signer::xml::ElementSelector::by_id("SP1"), exc);
  ASSERT_TRUE(sp);
  sig.replace(sig.find("SPDIGEST"), 8, base64_encode(sha256(*sp)));
  parsed = signer::xml::Document::parse(sig);
  auto si = signer::xml::canonicalize_element(*parsed, signer::xml::ElementSelector::by_path("/Signature/SignedInfo"), exc);
  ASSERT_TRUE(si);
  sig.replace(sig.find("SIGVALUE"), 8, base64_encode(rsa_sign(pki->signer_key.get(), *si)));
  // Bundle.signature, appended as the last child of the Bundle.
  const std::string fs =
      "<signature><type><system value=\"urn:iso-astm:E1762-95:2013\"/><code value=\"1.2.840.10065.1.12.1.1\"/></type>"
      "<when value=\"" + format_rfc3339(t0, true) + "\"/><who><display value=\"Foreign Signer\"/></who>"
      "<targetFormat value=\"" + std::string(signer::kXmlTargetFormat) + "\"/>"
      "<sigFormat value=\"application/signature+xml\"/><data value=\"" + base64_encode(as_bytes(sig)) + "\"/></signature>\n";
  std::string b0 = bundle;
  b0.insert(b0.rfind("</Bundle>"), fs);
  rev_clock.set(t0);
  auto r0 = verify(b0, t0 + hours(1), true);
  ASSERT_EQ(r0.indication, Indication::total_passed) << verifier::to_text(r0);

  auto e = extend(b0, ExtendLevel::B_LTA, t0 + hours(1), *tsa);
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->after, SignatureLevel::B_LTA);
  expect_kept(true, b0, e->bundle);
  auto e2 = extend(e->bundle, ExtendLevel::B_LTA, t0 + days(1), *tsa, DigestAlg::sha512);
  ASSERT_TRUE(e2) << e2.error().message;
  expect_kept(true, e->bundle, e2->bundle);
  rev->stop();
  auto r = verify(e2->bundle, t0 + days(2), false);
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  EXPECT_EQ(r.signatures.front().format, "XAdES-BASELINE-LTA");
  EXPECT_EQ(r.signatures.front().timestamps.size(), 3u);
}

// --- The TSA's and the CAs' revocation, from the embedded data -------------------------------

TEST_F(LongTerm, RevokedTsaGetsNoBLt) {
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
  const std::string bt = sign(false, *key, signer::Level::B_T, t0, tsa.get());
  ASSERT_TRUE(rev->revoke(pki->tsa_root.get(), tsa->dev->certificate(), t0 + hours(1), 1));
  auto r = extend(bt, ExtendLevel::B_LT, t0 + hours(2), *tsa);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::policy);
  EXPECT_NE(r.error().message.find("LT Test TSA 1"), std::string::npos) << r.error().message;
}

TEST_F(LongTerm, EmbeddedDataThatRevokesTheTsaWins) {
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
  const std::string bt = sign(false, *key, signer::Level::B_T, t0, tsa.get());
  const std::string blt = extended(bt, ExtendLevel::B_LT, t0 + hours(1), *tsa);
  auto control = verify(blt, t0 + hours(3), false);
  ASSERT_EQ(control.signatures.front().timestamps.size(), 1u);
  EXPECT_EQ(control.signatures.front().timestamps[0].indication, verifier::BlockIndication::passed)
      << control.signatures.front().timestamps[0].message;
  // The TSA key was compromised before the token was made; a later CRL says so.
  ASSERT_TRUE(rev->revoke(pki->tsa_root.get(), tsa->dev->certificate(), t0 - hours(1), 1));
  rev_clock.set(t0 + hours(2));
  auto crl = http.get(rev->base_url() + "/crl/lt-tsa-root.crl");
  ASSERT_TRUE(crl && crl->status == 200);
  auto jws = json::parse(jws_of(blt));
  json::Value vd(json::Object{{"tstVD", json::Value(json::Object{{"rVals", json::Value(json::Object{
                                            {"crlVals", json::Value(json::Array{json::Value(json::Object{
                                                            {"val", json::Value(base64_encode(as_bytes(crl->body)))}})})}})}})}});
  jws->find("header")->find("etsiU")->as_array().emplace_back(base64url_encode(as_bytes(json::serialize(vd))));
  auto r = verify(with_jws(blt, json::serialize(*jws)), t0 + hours(3), false);
  const auto& s = r.signatures.front();
  ASSERT_EQ(s.timestamps.size(), 1u);
  EXPECT_EQ(s.timestamps[0].indication, verifier::BlockIndication::failed) << s.timestamps[0].message;
  EXPECT_EQ(s.timestamps[0].sub_indication, SubIndication::revoked);
  EXPECT_FALSE(s.best_signature_time) << "a revoked TSA proves nothing";
}

TEST_F(LongTerm, EmbeddedRevocationDataNeedsProofOfExistenceWhileItsSignerWasValid) {
  // A signing CA that expires after two years; the TSA lives ten.
  auto tsa = make_tsa(t0 - kMonth, t0 + 10 * kYear, "LT Test TSA 1");
  auto ca = pki->short_ca(t0 - kYear, t0 + 2 * kYear);
  ASSERT_TRUE(rev->add_ca(ca.get(), pki->ca_key.get(), "lt-short-ca"));
  std::vector<ossl::X509Ptr> chain;
  chain.push_back(ossl::up_ref(ca.get()));
  auto key = signer::PemSigningKey::create(pki->signer_under(ca.get(), "lt-short-ca", t0 - days(1), t0 + kYear),
                                           up(pki->signer_key.get()), std::move(chain));
  ASSERT_TRUE(key);
  const std::string bt = sign(false, **key, signer::Level::B_T, t0, tsa.get());
  const std::string blt = extended(bt, ExtendLevel::B_LT, t0 + hours(1), *tsa);
  const std::string blta = extended(blt, ExtendLevel::B_LTA, t0 + hours(1), *tsa);
  // Three years on, the CA that signed the signer's OCSP response has expired.
  const TimePoint later = t0 + 3 * kYear;
  auto lt = verify(blt, later, false);
  EXPECT_EQ(lt.indication, Indication::indeterminate) << verifier::to_text(lt);
  EXPECT_EQ(lt.sub_indication, SubIndication::revocation_out_of_bounds_no_poe);
  // The archive timestamp proves the response existed while the CA was valid.
  auto lta = verify(blta, later, false);
  EXPECT_EQ(lta.indication, Indication::total_passed) << verifier::to_text(lta);
}

TEST_F(LongTerm, MissingIntermediateIsFetchedOnceAndEmbedded) {
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  // x5c holds the signer certificate only; the CA is named by AIA caIssuers.
  auto key = signer::PemSigningKey::create(pki->signer(t0 - days(1), t0 + 2 * kYear), up(pki->signer_key.get()), {});
  ASSERT_TRUE(key);
  const std::string bt = sign(false, **key, signer::Level::B_T, t0, tsa.get());
  auto without = extend(bt, ExtendLevel::B_LT, t0 + hours(1), *tsa);
  ASSERT_FALSE(without) << "no chain without the intermediate";
  EXPECT_EQ(without.error().code, Errc::policy);
  auto with = extend(bt, ExtendLevel::B_LT, t0 + hours(1), *tsa, DigestAlg::sha256, &http);
  ASSERT_TRUE(with) << with.error().message;
  rev->stop();
  // Offline, the verifier finds the intermediate in xVals.
  auto bt_report = verify(bt, t0 + hours(2), false);
  EXPECT_EQ(bt_report.indication, Indication::indeterminate) << verifier::to_text(bt_report);
  EXPECT_EQ(bt_report.sub_indication, SubIndication::no_certificate_chain_found);
  auto lt_report = verify(with->bundle, t0 + hours(2), false);
  EXPECT_EQ(lt_report.indication, Indication::total_passed) << verifier::to_text(lt_report);
  EXPECT_EQ(lt_report.signatures.front().chain.size(), 3u);
}

TEST_F(LongTerm, TimestampFromAnUntrustedTsaIsNotAdded) {
  auto tsa = make_tsa(t0 - kMonth, t0 + 5 * kYear, "LT Test TSA 1");
  auto key = signing_key(t0 - days(1), t0 + 2 * kYear);
  const std::string blta = extended(sign(false, *key, signer::Level::B_T, t0, tsa.get()), ExtendLevel::B_LTA,
                                    t0 + hours(1), *tsa);
  // A TSA under a root that is not among the TSA trust anchors.
  auto other_root = issue(lt_name("LT Other TSA Root").get(), pki->tsa_root_key.get(), nullptr, pki->tsa_root_key.get(),
                          t0 - kYear, t0 + 20 * kYear,
                          {{NID_basic_constraints, "critical,CA:TRUE"},
                           {NID_key_usage, "critical,keyCertSign,cRLSign"},
                           {NID_subject_key_identifier, "hash"}});
  auto other_cert = issue(lt_name("LT Untrusted TSA").get(), pki->tsa_key.get(), other_root.get(), pki->tsa_root_key.get(),
                          t0 - kYear, t0 + 5 * kYear,
                          {{NID_basic_constraints, "critical,CA:FALSE"},
                           {NID_key_usage, "critical,digitalSignature"},
                           {NID_ext_key_usage, "critical,timeStamping"},
                           {NID_subject_key_identifier, "hash"},
                           {NID_authority_key_identifier, "keyid:always"}});
  Tsa untrusted;
  untrusted.clock = std::make_unique<FixedClock>(t0);
  untrusted.dev = std::make_unique<tsa::DevTsa>(std::move(other_cert), up(pki->tsa_key.get()), std::vector<ossl::X509Ptr>{},
                                                *untrusted.clock);
  untrusted.server = std::make_unique<tsa::TsaHttpServer>(*untrusted.dev, "127.0.0.1", 0);
  untrusted.server->start();
  untrusted.client = std::make_unique<tsa::HttpTsaClient>(untrusted.server->url());
  auto renewal = extend(blta, ExtendLevel::B_LTA, t0 + days(1), untrusted);
  ASSERT_FALSE(renewal);
  EXPECT_EQ(renewal.error().code, Errc::policy);
  EXPECT_NE(renewal.error().message.find("LT Untrusted TSA"), std::string::npos) << renewal.error().message;
  auto bt = extend(sign(true, *key, signer::Level::B_B, t0, nullptr), ExtendLevel::B_T, t0 + hours(1), untrusted);
  ASSERT_FALSE(bt);
  EXPECT_EQ(bt.error().code, Errc::policy);
  // Once its root is trusted, the same TSA renews.
  tsa_trust.add_anchor(ossl::up_ref(other_root.get()));
  auto trusted = extend(blta, ExtendLevel::B_LTA, t0 + days(1), untrusted);
  EXPECT_TRUE(trusted) << trusted.error().message;
}

}  // namespace
}  // namespace hanko::test
