// Long-term parts of JAdES and XAdES signatures (hanko/signer/augment.h):
// reading sigTst/xVals/rVals/tstVD/arcTst and their XAdES counterparts, the
// archive-timestamp message imprints, B-T augmentation without touching what
// is there, the refusals that need no network, and the certstore side that
// long-term validation relies on (RevocationChecker::check_supplied).
// B-LT and B-LTA with live revocation servers: tests/integration/long_term_test.cpp.
#include "hanko/signer/augment.h"

#include <gtest/gtest.h>

#include <memory>
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
#include "hanko/signer/bundle.h"
#include "hanko/signer/jades.h"
#include "hanko/signer/xades.h"
#include "hanko/signer/xml.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/token.h"
#include "test_support.h"

namespace hanko::signer {
namespace {

using namespace std::chrono;
using test::dev_pki;
using test::pki_time;
using test::read_text;
using test::sign_time;

std::unique_ptr<SigningKey> load_key(const std::string& id) {
  const auto& item = dev_pki().get(id);
  auto k = PemSigningKey::load(item.cert.string(), item.key.string(), item.chain.string());
  EXPECT_TRUE(k) << k.error().message;
  return k ? std::move(*k) : nullptr;
}

ossl::X509Ptr cert(const std::string& id) {
  auto c = ossl::load_certificates(dev_pki().get(id).cert.string());
  return std::move(c->front());
}

Bytes crl_der(const std::filesystem::path& pem) {
  auto crls = ossl::x509_crls_from_pem(read_text(pem));
  EXPECT_FALSE(crls.empty()) << pem;
  return ossl::to_der<i2d_X509_CRL>(crls.front().get());
}

/** Whether `after` is `before` with one contiguous run of bytes inserted. */
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

class Augment : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& t = dev_pki().get("tsa");
    auto dev = tsa::DevTsa::load(t.cert.string(), t.key.string(), t.chain.string(), tsa_clock);
    ASSERT_TRUE(dev) << dev.error().message;
    dev_tsa = std::move(*dev);
    tsa = std::make_unique<tsa::InProcessTsa>(*dev_tsa);
    auto ts = certstore::TrustStore::load_dir(dev_pki().trust_dir);
    ASSERT_TRUE(ts);
    trust = std::make_unique<certstore::TrustStore>(std::move(*ts));
  }

  std::string json_signed(Level level) {
    auto b = json::parse(read_text(test::data_file("bundles/simple-prescription.json")));
    SignOptions o;
    o.level = level;
    o.signing_time = sign_time();
    auto k = load_key("doctor");
    auto r = sign_bundle(*b, *k, tsa.get(), o);
    EXPECT_TRUE(r) << r.error().message;
    return json::serialize(r->bundle, 2);
  }

  std::string xml_signed(Level level) {
    SignOptions o;
    o.level = level;
    o.signing_time = sign_time();
    auto k = load_key("doctor");
    auto r = sign_xml_bundle(read_text(test::data_file("bundles/simple-prescription.xml")), *k, tsa.get(), o);
    EXPECT_TRUE(r) << r.error().message;
    return r->bundle_xml;
  }

  ExtendContext context() {
    ExtendContext c;
    c.tsa = tsa.get();
    c.signature_trust = trust.get();
    c.now = sign_time() + hours(1);
    return c;
  }

  FixedClock tsa_clock{sign_time() + hours(1)};
  std::unique_ptr<tsa::DevTsa> dev_tsa;
  std::unique_ptr<tsa::InProcessTsa> tsa;
  std::unique_ptr<certstore::TrustStore> trust;
};

std::string jws_of(const std::string& bundle) {
  auto v = json::parse(bundle);
  return to_string(*base64_decode(*v->find("signature")->find_string("data")));
}

std::string item(const json::Value& v) { return base64url_encode(as_bytes(json::serialize(v))); }

json::Value pki(ByteView der) { return json::Value(json::Object{{"val", json::Value(base64_encode(der))}}); }

json::Value container(ByteView token) {
  return json::Value(json::Object{{"tstTokens", json::Value(json::Array{pki(token)})}});
}

std::string flattened(const std::string& prot, const std::string& sig, const std::vector<std::string>& items) {
  json::Array a;
  for (const auto& i : items) {
    a.emplace_back(i);
  }
  return json::serialize(json::Value(json::Object{{"protected", json::Value(prot)},
                                                  {"header", json::Value(json::Object{{"etsiU", json::Value(std::move(a))}})},
                                                  {"signature", json::Value(sig)}}));
}

// --- Levels -----------------------------------------------------------------------------

TEST(AugmentLevels, NamesRoundTrip) {
  for (auto l : {ExtendLevel::B_T, ExtendLevel::B_LT, ExtendLevel::B_LTA}) {
    EXPECT_EQ(extend_level_from_name(extend_level_name(l)), l);
  }
  EXPECT_EQ(extend_level_from_name("b-lta"), ExtendLevel::B_LTA);
  EXPECT_FALSE(extend_level_from_name("B-B"));
  EXPECT_FALSE(extend_level_from_name("LTA"));
  EXPECT_EQ(signature_level_name(SignatureLevel::B_LT), "B-LT");
}

// --- Reading JAdES ------------------------------------------------------------------------

TEST(ReadJades, CompactIsBaselineB) {
  auto v = read_jades_long_term("eyJhbGciOiJSUzI1NiJ9..c2ln", "doc");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->level, SignatureLevel::B_B);
  EXPECT_TRUE(v->timestamps.empty());
}

TEST(ReadJades, ItemsAndArchiveImprintInput) {
  const Bytes token = {0x30, 0x03, 0x02, 0x01, 0x01};  // not parsed here
  auto ca = cert("hpki-signing-ca");
  const Bytes crl = crl_der(dev_pki().crl);
  const std::vector<std::string> items = {
      item(json::Value(json::Object{{"sigTst", container(token)}})),
      item(json::Value(json::Object{{"xVals", json::Value(json::Array{json::Value(json::Object{{"x509Cert", pki(ossl::x509_to_der(ca.get()))}})})}})),
      item(json::Value(json::Object{{"rVals", json::Value(json::Object{{"crlVals", json::Value(json::Array{pki(crl)})}})}})),
      item(json::Value(json::Object{{"arcTst", container(token)}})),
      item(json::Value(json::Object{{"tstVD", json::Value(json::Object{{"rVals", json::Value(json::Object{{"crlVals", json::Value(json::Array{pki(crl)})}})}})}})),
      item(json::Value(json::Object{{"sigPSt", json::Value("x")}})),
      item(json::Value(json::Object{{"arcTst", container(token)}})),
  };
  const std::string jws = flattened("UFJPVA", "U0lH", items);
  auto v = read_jades_long_term(jws, "the document");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->level, SignatureLevel::B_LTA);
  EXPECT_EQ(v->property_count, items.size());
  ASSERT_EQ(v->timestamps.size(), 3u);
  EXPECT_EQ(v->timestamps[0].kind, EmbeddedTimestamp::Kind::signature);
  EXPECT_EQ(v->timestamps[0].covered, "U0lH") << "sigTst covers the ASCII base64url signature value";
  // TS 119 182-1 clause 5.3.6.3: BASE64URL(payload) "." protected "." signature "." earlier items.
  const std::string head = base64url_encode(as_bytes(std::string_view("the document"))) + ".UFJPVA.U0lH.";
  EXPECT_EQ(v->timestamps[1].covered, head + items[0] + items[1] + items[2]);
  EXPECT_EQ(v->timestamps[2].covered, head + items[0] + items[1] + items[2] + items[3] + items[4] + items[5]);
  EXPECT_EQ(v->timestamps[2].position, 6u);
  ASSERT_EQ(v->values.size(), 3u);
  EXPECT_EQ(v->values[0].certificates.size(), 1u);
  EXPECT_EQ(v->values[1].crls, std::vector<Bytes>{crl});
  EXPECT_EQ(v->values[2].kind, EmbeddedValues::Kind::timestamp);
  ASSERT_EQ(v->ignored.size(), 1u);
  EXPECT_NE(v->ignored[0].find("sigPSt"), std::string::npos);
  // Any change to an earlier item changes what the archive timestamps cover.
  auto changed = items;
  changed[1] = item(json::Value(json::Object{{"xVals", json::Value(json::Array{})}}));
  auto w = read_jades_long_term(flattened("UFJPVA", "U0lH", changed), "the document");
  ASSERT_TRUE(w);
  EXPECT_NE(w->timestamps[1].covered, v->timestamps[1].covered);
  auto x = read_jades_long_term(jws, "another document");
  EXPECT_NE(x->timestamps[1].covered, v->timestamps[1].covered);
}

TEST(ReadJades, OldArchiveTimestampFormIsAccepted) {
  const Bytes token = {0x30, 0x00};
  json::Value old(json::Object{{"arcTst", json::Value(json::Object{{"tstContainer", container(token)},
                                                                    {"timeStamped", json::Value("all")}})}});
  auto v = read_jades_long_term(flattened("UA", "Uw", {item(old)}), "d");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->level, SignatureLevel::B_LTA);
  old.as_object()[0].second.set("timeStamped", json::Value("previousArcTst"));
  auto w = read_jades_long_term(flattened("UA", "Uw", {item(old)}), "d");
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().code, Errc::unsupported);
}

TEST(ReadJades, MalformedItemsAreRefused) {
  const Bytes token = {0x30, 0x00};
  auto two = json::Value(json::Object{{"tstTokens", json::Value(json::Array{pki(token), pki(token)})}});
  struct Case {
    const char* name;
    std::string jws;
    Errc code;
  };
  const std::vector<Case> cases = {
      {"two tokens in sigTst", flattened("UA", "Uw", {item(json::Value(json::Object{{"sigTst", two}}))}), Errc::invalid_argument},
      {"no token in arcTst",
       flattened("UA", "Uw", {item(json::Value(json::Object{{"arcTst", json::Value(json::Object{{"tstTokens", json::Value(json::Array{})}})}}))}),
       Errc::invalid_argument},
      {"xVals value not a certificate",
       flattened("UA", "Uw", {item(json::Value(json::Object{{"xVals", json::Value(json::Array{json::Value(json::Object{{"x509Cert", pki(token)}})})}}))}),
       Errc::invalid_argument},
      {"ocspVals value not an OCSP response",
       flattened("UA", "Uw", {item(json::Value(json::Object{{"rVals", json::Value(json::Object{{"ocspVals", json::Value(json::Array{pki(token)})}})}}))}),
       Errc::invalid_argument},
      {"item with two members",
       flattened("UA", "Uw", {item(json::Value(json::Object{{"sigTst", container(token)}, {"xVals", json::Value(json::Array{})}}))}),
       Errc::invalid_argument},
      {"mixed base64url and clear JSON",
       "{\"protected\":\"UA\",\"header\":{\"etsiU\":[\"" + item(json::Value(json::Object{{"sigTst", container(token)}})) +
           "\",{\"sigTst\":" + json::serialize(container(token)) + "}]},\"signature\":\"Uw\"}",
       Errc::invalid_argument},
      {"arcTst among clear JSON items",
       "{\"protected\":\"UA\",\"header\":{\"etsiU\":[{\"arcTst\":" + json::serialize(container(token)) +
           "}]},\"signature\":\"Uw\"}",
       Errc::unsupported},
      {"attached payload", "{\"protected\":\"UA\",\"payload\":\"eA\",\"signature\":\"Uw\"}", Errc::invalid_argument},
  };
  for (const auto& c : cases) {
    auto v = read_jades_long_term(c.jws, "d");
    ASSERT_FALSE(v) << c.name;
    EXPECT_EQ(v.error().code, c.code) << c.name << ": " << v.error().message;
  }
  // The control: clear-JSON sigTst items are read (only arcTst needs canonicalization).
  auto ok = read_jades_long_term(
      "{\"protected\":\"UA\",\"header\":{\"etsiU\":[{\"sigTst\":" + json::serialize(container(token)) + "}]},\"signature\":\"Uw\"}", "d");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->level, SignatureLevel::B_T);
}

// --- Reading XAdES ---------------------------------------------------------------------------

TEST_F(Augment, XadesArchiveImprintInputFollowsEn319132) {
  const std::string bundle = xml_signed(Level::B_T);
  auto core = verify_xades_core(bundle);
  ASSERT_TRUE(core);
  ASSERT_EQ(core->status, XadesStatus::ok) << core->message;
  auto bdoc = xml::Document::parse(bundle);
  auto document = xml::fhir_xml_document(*bdoc);
  ASSERT_TRUE(document);
  // Add CertificateValues, an ArchiveTimeStamp and an unknown property by hand.
  auto ca = cert("hpki-signing-ca");
  std::string sig = core->signature_xml;
  const std::string added =
      "<xades:CertificateValues Id=\"cv-1\"><xades:EncapsulatedX509Certificate>" +
      base64_encode(ossl::x509_to_der(ca.get())) +
      "</xades:EncapsulatedX509Certificate></xades:CertificateValues>"
      "<xadesv141:ArchiveTimeStamp xmlns:xadesv141=\"http://uri.etsi.org/01903/v1.4.1#\" Id=\"ats-1\">"
      "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
      "<xades:EncapsulatedTimeStamp>MAA=</xades:EncapsulatedTimeStamp></xadesv141:ArchiveTimeStamp>"
      "<xades:Unknown/>";
  sig.insert(sig.find("</xades:UnsignedSignatureProperties>"), added);
  auto v = read_xades_long_term(sig, *document);
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v->level, SignatureLevel::B_LTA);
  ASSERT_EQ(v->timestamps.size(), 2u);
  EXPECT_EQ(v->timestamps[0].covered, core->timestamps[0].covered);
  ASSERT_EQ(v->values.size(), 1u);
  EXPECT_EQ(v->values[0].certificates.size(), 1u);
  EXPECT_EQ(v->ignored.size(), 1u);
  // Expected, computed independently: the document octets, exc-C14N of
  // SignedProperties (the Reference's transform), then SignedInfo,
  // SignatureValue, KeyInfo and the earlier unsigned properties.
  auto sd = xml::Document::parse(sig);
  ASSERT_TRUE(sd);
  const xml::C14nOptions exc{xml::C14nMethod::exc_c14n, false, {}};
  auto c = [&](const std::string& path) {
    auto r = xml::canonicalize_element(*sd, xml::ElementSelector::by_path(path), exc);
    EXPECT_TRUE(r) << path;
    return *r;
  };
  const std::string usp = "/Signature/Object/QualifyingProperties/UnsignedProperties/UnsignedSignatureProperties";
  const std::string expected = *document + c("/Signature/Object/QualifyingProperties/SignedProperties") +
                               c("/Signature/SignedInfo") + c("/Signature/SignatureValue") + c("/Signature/KeyInfo") +
                               c(usp + "/SignatureTimeStamp") + c(usp + "/CertificateValues");
  EXPECT_EQ(v->timestamps[1].covered, expected);
  // A changed earlier property changes the input.
  std::string changed = sig;
  changed.replace(changed.find("Id=\"cv-1\""), 9, "Id=\"cv-2\"");
  auto w = read_xades_long_term(changed, *document);
  ASSERT_TRUE(w);
  EXPECT_NE(w->timestamps[1].covered, v->timestamps[1].covered);
}

TEST_F(Augment, XadesMalformedPropertiesAreRefused) {
  const std::string bundle = xml_signed(Level::B_T);
  const std::string sig = verify_xades_core(bundle)->signature_xml;
  const auto at = sig.find("</xades:UnsignedSignatureProperties>");
  struct Case {
    const char* name;
    std::string added;
    Errc code;
  };
  const std::vector<Case> cases = {
      {"certificate that is not DER",
       "<xades:CertificateValues><xades:EncapsulatedX509Certificate>MAA=</xades:EncapsulatedX509Certificate></xades:CertificateValues>",
       Errc::invalid_argument},
      {"CRL that is not DER",
       "<xades:RevocationValues><xades:CRLValues><xades:EncapsulatedCRLValue>MAA=</xades:EncapsulatedCRLValue></xades:CRLValues></xades:RevocationValues>",
       Errc::invalid_argument},
      {"archive timestamp without CanonicalizationMethod (C14N 1.0)",
       "<xadesv141:ArchiveTimeStamp xmlns:xadesv141=\"http://uri.etsi.org/01903/v1.4.1#\"><xades:EncapsulatedTimeStamp>MAA=</xades:EncapsulatedTimeStamp></xadesv141:ArchiveTimeStamp>",
       Errc::unsupported},
      {"archive timestamp with two tokens",
       "<xadesv141:ArchiveTimeStamp xmlns:xadesv141=\"http://uri.etsi.org/01903/v1.4.1#\"><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/><xades:EncapsulatedTimeStamp>MAA=</xades:EncapsulatedTimeStamp><xades:EncapsulatedTimeStamp>MAA=</xades:EncapsulatedTimeStamp></xadesv141:ArchiveTimeStamp>",
       Errc::invalid_argument},
  };
  for (const auto& c : cases) {
    std::string s = sig;
    s.insert(at, c.added);
    auto v = read_xades_long_term(s, "doc");
    ASSERT_FALSE(v) << c.name;
    EXPECT_EQ(v.error().code, c.code) << c.name << ": " << v.error().message;
  }
}

// --- B-T augmentation ------------------------------------------------------------------------

TEST_F(Augment, JsonBaselineBGetsASignatureTimestampAndKeepsEverything) {
  const std::string b0 = json_signed(Level::B_B);
  auto e = extend_bundle(b0, ExtendLevel::B_T, context());
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_TRUE(e->changed);
  EXPECT_EQ(e->before, SignatureLevel::B_B);
  EXPECT_EQ(e->after, SignatureLevel::B_T);
  ASSERT_EQ(e->timestamps_added.size(), 1u);
  EXPECT_EQ(e->timestamps_added[0], sign_time() + hours(1));
  const std::string old_jws = jws_of(b0);
  auto nj = json::parse(jws_of(e->bundle));
  ASSERT_TRUE(nj);
  EXPECT_EQ(old_jws, *nj->find_string("protected") + ".." + *nj->find_string("signature"));
  // Only Bundle.signature.data changed in the Bundle text.
  const std::string old_data = base64_encode(as_bytes(old_jws));
  const auto pos = b0.find(old_data);
  EXPECT_EQ(e->bundle.substr(0, pos), b0.substr(0, pos));
  EXPECT_EQ(e->bundle.substr(e->bundle.size() - (b0.size() - pos - old_data.size())), b0.substr(pos + old_data.size()));
  // The token covers the signature value.
  auto view = read_jades_long_term(jws_of(e->bundle), "");
  ASSERT_TRUE(view);
  ASSERT_EQ(view->timestamps.size(), 1u);
  auto check = tsa::verify_token(view->timestamps[0].token, as_bytes(view->timestamps[0].covered), *trust, sign_time() + hours(2));
  EXPECT_EQ(check.status, tsa::TokenStatus::ok) << check.message;
  // Raising only: B-T again gives the Bundle back as it is.
  auto again = extend_bundle(e->bundle, ExtendLevel::B_T, context());
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->bundle, e->bundle);
}

TEST_F(Augment, JsonCompactBundleTextIsKeptOutsideTheData) {
  auto pretty = json::parse(json_signed(Level::B_T));
  const std::string compact = json::serialize(*pretty);  // not hanko's usual layout
  auto e = extend_bundle(compact, ExtendLevel::B_T, context());
  ASSERT_TRUE(e);
  EXPECT_FALSE(e->changed);
  EXPECT_EQ(e->bundle, compact);
}

TEST_F(Augment, XmlBaselineBGetsASignatureTimestampByInsertionOnly) {
  const std::string b0 = xml_signed(Level::B_B);
  auto e = extend_bundle(b0, ExtendLevel::B_T, context());
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_EQ(e->after, SignatureLevel::B_T);
  auto before = verify_xades_core(b0);
  auto after = verify_xades_core(e->bundle);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, XadesStatus::ok) << after->message;
  EXPECT_TRUE(is_insertion(before->signature_xml, after->signature_xml));
  ASSERT_EQ(after->timestamps.size(), 1u);
  auto check = tsa::verify_token(after->timestamps[0].token_der, as_bytes(after->timestamps[0].covered), *trust,
                                 sign_time() + hours(2));
  EXPECT_EQ(check.status, tsa::TokenStatus::ok) << check.message;
  EXPECT_NE(after->signature_xml.find("<xades:UnsignedProperties><xades:UnsignedSignatureProperties><xades:SignatureTimeStamp"),
            std::string::npos);
}

TEST_F(Augment, BaselineLtNeedsARevocationChecker) {
  auto e = extend_bundle(json_signed(Level::B_T), ExtendLevel::B_LT, context());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::invalid_argument);
  auto x = extend_bundle(xml_signed(Level::B_T), ExtendLevel::B_LTA, context());
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().code, Errc::invalid_argument);
}

TEST_F(Augment, BaselineTNeedsATimestampSource) {
  ExtendContext c = context();
  c.tsa = nullptr;
  auto e = extend_bundle(json_signed(Level::B_B), ExtendLevel::B_T, c);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::invalid_argument);
}

TEST_F(Augment, ChangedSignatureIsNotExtended) {
  std::string b = json_signed(Level::B_B);
  auto v = json::parse(b);
  auto jws = jws_of(b);
  jws[jws.size() - 3] = jws[jws.size() - 3] == 'A' ? 'B' : 'A';  // inside the signature value
  v->find("signature")->set("data", json::Value(base64_encode(as_bytes(jws))));
  auto e = extend_bundle(json::serialize(*v, 2), ExtendLevel::B_T, context());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::invalid_argument);
  EXPECT_NE(e.error().message.find("does not verify"), std::string::npos) << e.error().message;
}

TEST_F(Augment, ClearJsonItemsAreNotExtended) {
  std::string b = json_signed(Level::B_T);
  auto v = json::parse(b);
  auto jws = json::parse(jws_of(b));
  auto& items = jws->find("header")->find("etsiU")->as_array();
  items[0] = *json::parse(to_string(*base64url_decode(items[0].as_string())));
  v->find("signature")->set("data", json::Value(base64_encode(as_bytes(json::serialize(*jws)))));
  auto e = extend_bundle(json::serialize(*v, 2), ExtendLevel::B_LTA, context());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::unsupported);
}

TEST_F(Augment, UnsignedBundleHasNothingToExtend) {
  auto e = extend_bundle(read_text(test::data_file("bundles/simple-prescription.json")), ExtendLevel::B_T, context());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().code, Errc::no_signature);
  auto x = extend_bundle(read_text(test::data_file("bundles/simple-prescription.xml")), ExtendLevel::B_T, context());
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().code, Errc::no_signature);
}

// --- Supplied revocation data (certstore) -------------------------------------------------------

class Supplied : public ::testing::Test {
 protected:
  certstore::RevocationChecker checker() const {
    certstore::RevocationOptions o;
    o.fetch = false;
    return certstore::RevocationChecker(HttpClient{}, certstore::TrustStore{}, nullptr, o);
  }
  ossl::X509Ptr ca = cert("hpki-signing-ca");
  ossl::X509Ptr doctor = cert("doctor");
  ossl::X509Ptr revoked = cert("revoked");
  certstore::SuppliedRevocationData data{{crl_der(dev_pki().crl)}, {}};
};

TEST_F(Supplied, CrlIssuedAfterTheTimeAsked) {
  auto rc = checker();
  // The dev CRL is issued at pki_time(), valid 30 days.
  auto good = rc.check_supplied(doctor.get(), ca.get(), pki_time() - hours(1), data, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(good.status, certstore::RevocationStatus::good) << good.message;
  EXPECT_EQ(good.source, certstore::RevocationSourceKind::crl);
  EXPECT_EQ(good.url, "supplied CRL 0");
  EXPECT_EQ(good.der, data.crls[0]);
  // Issued before the time asked about: it cannot say anything about it.
  auto early = rc.check_supplied(doctor.get(), ca.get(), pki_time() + days(2), data, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(early.status, certstore::RevocationStatus::unavailable) << early.message;
  // issued_after does not hold nextUpdate against the data; current_at does.
  auto later = rc.check_supplied(doctor.get(), ca.get(), pki_time() + days(60), data, certstore::SuppliedTime::current_at);
  EXPECT_EQ(later.status, certstore::RevocationStatus::unavailable) << later.message;
  auto now = rc.check_supplied(doctor.get(), ca.get(), pki_time() + days(1), data, certstore::SuppliedTime::current_at);
  EXPECT_EQ(now.status, certstore::RevocationStatus::good) << now.message;
}

TEST_F(Supplied, RevokedTamperedAndForeignData) {
  auto rc = checker();
  auto r = rc.check_supplied(revoked.get(), ca.get(), pki_time() - hours(1), data, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(r.status, certstore::RevocationStatus::revoked) << r.message;
  ASSERT_TRUE(r.revocation_time);
  certstore::SuppliedRevocationData bad = data;
  bad.crls[0][bad.crls[0].size() - 3] ^= 0x01;  // in the CRL's signature
  auto t = rc.check_supplied(doctor.get(), ca.get(), pki_time() - hours(1), bad, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(t.status, certstore::RevocationStatus::invalid) << t.message;
  certstore::SuppliedRevocationData other{{crl_der(dev_pki().root_crl)}, {}};
  auto o = rc.check_supplied(doctor.get(), ca.get(), pki_time() - hours(1), other, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(o.status, certstore::RevocationStatus::unavailable) << "another CA's CRL says nothing: " << o.message;
  auto none = rc.check_supplied(doctor.get(), ca.get(), pki_time(), certstore::SuppliedRevocationData{}, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(none.status, certstore::RevocationStatus::unavailable);
}

TEST(SuppliedOcsp, FetchedResponseIsHandedOutAndReadBack) {
  FixedClock clock{sign_time()};
  auto server = certstore::DevRevocationServer::start("127.0.0.1", 0, clock);
  ASSERT_TRUE(server) << server.error().message;
  certstore::DevPkiOptions o;
  o.revocation_base_url = (*server)->base_url();
  auto pki = certstore::generate_dev_pki(test::temp_dir("augment-ocsp"), pki_time(), o);
  ASSERT_TRUE(pki) << pki.error().message;
  ASSERT_TRUE(certstore::serve_dev_pki(**server, *pki, pki_time()));
  auto load = [&](const std::string& id) { return std::move(ossl::load_certificates(pki->get(id).cert.string())->front()); };
  auto ca = load("hpki-signing-ca");
  auto doctor = load("doctor");
  HttpClient http;
  certstore::RevocationChecker online(http, certstore::TrustStore{}, nullptr, certstore::RevocationOptions{});
  auto fetched = online.check(doctor.get(), ca.get(), sign_time());
  ASSERT_EQ(fetched.status, certstore::RevocationStatus::good) << fetched.message;
  ASSERT_EQ(fetched.source, certstore::RevocationSourceKind::ocsp);
  ASSERT_FALSE(fetched.der.empty());
  ASSERT_FALSE(fetched.responder_certificate.empty());
  auto root_crl = online.check(ca.get(), load("hpki-root").get(), sign_time());
  ASSERT_EQ(root_crl.status, certstore::RevocationStatus::good) << root_crl.message;
  EXPECT_EQ(root_crl.source, certstore::RevocationSourceKind::crl);
  EXPECT_TRUE(ossl::x509_crl_from_der(root_crl.der)) << "a DER CRL, whatever the server sent";
  (*server)->stop();
  certstore::RevocationOptions off;
  off.fetch = false;
  certstore::RevocationChecker offline(http, certstore::TrustStore{}, nullptr, off);
  certstore::SuppliedRevocationData d{{}, {fetched.der}};
  auto read = offline.check_supplied(doctor.get(), ca.get(), sign_time() - minutes(1), d, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(read.status, certstore::RevocationStatus::good) << read.message;
  EXPECT_EQ(read.url, "supplied OCSP response 0");
  // As current data it is stale a year later (issued_after is what long-term validation uses).
  auto stale = offline.check_supplied(doctor.get(), ca.get(), sign_time() + days(400), d, certstore::SuppliedTime::current_at);
  EXPECT_EQ(stale.status, certstore::RevocationStatus::unavailable) << stale.message;
  // The response is about the doctor, not about another certificate of the same CA.
  auto other = offline.check_supplied(load("nurse").get(), ca.get(), sign_time() - minutes(1), d, certstore::SuppliedTime::issued_after);
  EXPECT_EQ(other.status, certstore::RevocationStatus::unavailable);
}

}  // namespace
}  // namespace hanko::signer
