// Two-step signing end to end: POST /v1/sign/prepare and /v1/sign/complete
// through the real service on 127.0.0.1 port 0 (development mode, its own dev
// PKI, the in-process dev TSA), with the "card" played by OpenSSL in the test
// and by a SoftHSM2 token; and `hanko sign --prepare / --complete` run as a
// process with `openssl pkeyutl` and a token as the card. Sessions expire by
// moving the service's FixedClock; nothing sleeps.
#include <sys/stat.h>
#include <sys/wait.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <fstream>

#include "fixture.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/key_source.h"
#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/common/ossl.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "hanko/signer/xades.h"
#include "softhsm.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;
using certstore::testing::check_rv;
using certstore::testing::kSoftHsmModule;
using certstore::testing::SoftHsm;
using certstore::testing::SoftHsmToken;

struct Reply {
  int status = 0;
  std::string content_type;
  std::string body;
  json::Value json() const {
    auto v = json::parse(body);
    EXPECT_TRUE(v) << body;
    return v ? *v : json::Value();
  }
  std::string str(const char* name) const {
    const json::Value v = json();
    const std::string* s = v.find_string(name);
    return s != nullptr ? *s : std::string();
  }
  std::string diagnostics() const {
    const json::Value v = json();
    const json::Value* issue = v.find("issue");
    return issue != nullptr ? *issue->as_array().front().find_string("diagnostics") : std::string();
  }
};

Reply call(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body,
           const std::string& content_type) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  req.setContentType(content_type);
  req.setContentLength(static_cast<std::streamsize>(body.size()));
  session.sendRequest(req) << body;
  Poco::Net::HTTPResponse resp;
  std::istream& in = session.receiveResponse(resp);
  Reply r;
  r.status = resp.getStatus();
  r.content_type = resp.getContentType();
  Poco::StreamCopier::copyToString(in, r.body);
  return r;
}

std::vector<json::Value> audit_records(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<json::Value> out;
  for (std::string line; std::getline(in, line);) {
    if (auto v = json::parse(line)) out.push_back(std::move(*v));
  }
  return out;
}

std::string audit_operation(const json::Value& ev) {
  return *ev.find("subtype")->as_array().at(0).find_string("code");
}

/** The signer's device: its certificate, chain and private key (a dev PKI item). */
struct Card {
  ossl::X509Ptr cert;
  std::vector<ossl::X509Ptr> chain;
  ossl::EvpPkeyPtr key;
  const certstore::DevPkiItem* item = nullptr;

  bool rsa() const { return EVP_PKEY_get_base_id(key.get()) == EVP_PKEY_RSA; }
  json::Array chain_b64() const {
    json::Array a;
    a.emplace_back(base64_encode(ossl::x509_to_der(cert.get())));
    for (const auto& c : chain) a.emplace_back(base64_encode(ossl::x509_to_der(c.get())));
    return a;
  }
};

Card card(const certstore::DevPki& pki, const std::string& id) {
  Card c;
  c.item = &pki.get(id);
  auto certs = ossl::load_certificates(c.item->cert.string());
  EXPECT_TRUE(certs && !certs->empty());
  c.cert = std::move(certs->front());
  auto chain = ossl::load_certificates(c.item->chain.string());
  EXPECT_TRUE(chain);
  c.chain = std::move(*chain);
  auto key = ossl::load_private_key(c.item->key.string());
  EXPECT_TRUE(key);
  c.key = std::move(*key);
  return c;
}

/** RSA: PKCS#1 v1.5 over the DigestInfo as given (CKM_RSA_PKCS); EC: ECDSA over the hash, DER out (CKM_ECDSA, then DER). */
Bytes raw_sign(EVP_PKEY* key, const Bytes& input) {
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  EXPECT_EQ(EVP_PKEY_sign_init(ctx.get()), 1);
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING), 1);
  }
  std::size_t len = 0;
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), nullptr, &len, input.data(), input.size()), 1);
  Bytes out(len);
  EXPECT_EQ(EVP_PKEY_sign(ctx.get(), out.data(), &len, input.data(), input.size()), 1);
  out.resize(len);
  return out;
}

/** What the card signs for a prepare answer: the DigestInfo for RSA, the hash for ECDSA. */
Bytes card_sign(const Card& c, const Reply& prepared) {
  const std::string field = c.rsa() ? "digestInfo" : "hashToSign";
  auto input = base64_decode(prepared.str(field.c_str()));
  EXPECT_TRUE(input) << prepared.body;
  return raw_sign(c.key.get(), input.value_or(Bytes{}));
}

/** `text` with everything from `open` up to and including `close` removed (each occurrence). */
std::string without(std::string text, const std::string& open, const std::string& close) {
  for (auto a = text.find(open); a != std::string::npos; a = text.find(open, a)) {
    auto b = text.find(close, a + open.size());
    if (b == std::string::npos) break;
    text.erase(a, b + close.size() - a);
  }
  return text;
}

/** The text between `open` and the next `close`. */
std::string between(const std::string& text, const std::string& open, const std::string& close) {
  auto a = text.find(open);
  if (a == std::string::npos) return {};
  a += open.size();
  auto b = text.find(close, a);
  return b == std::string::npos ? std::string() : text.substr(a, b - a);
}

/** The ds:Signature of a signed FHIR XML Bundle (signature/data decoded). */
std::string xml_signature_of(const std::string& bundle) {
  const std::string data = between(bundle.substr(bundle.rfind("<signature>")), "<data value=\"", "\"");
  auto d = base64_decode(data);
  return d ? to_string(*d) : std::string();
}

/** The JWS of a signed FHIR JSON Bundle. */
signer::ParsedJws jws_of(const json::Value& bundle) {
  const std::string* data = bundle.find("signature")->find_string("data");
  auto jws = signer::parse_jws(to_string(*base64_decode(*data)));
  EXPECT_TRUE(jws) << jws.error().message;
  return jws ? std::move(*jws) : signer::ParsedJws{};
}

/** A PKCS#11 signature by "another application" (the test) with the token's key: the card. */
Bytes token_sign(const SoftHsmToken& t, const std::string& label, CK_MECHANISM_TYPE mechanism, const Bytes& input) {
  CK_FUNCTION_LIST* fn = SoftHsm::get().fn();
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  check_rv(fn->C_OpenSession(t.slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &h), "C_OpenSession");
  const CK_RV login = fn->C_Login(h, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(t.pin.data())),
                                  static_cast<CK_ULONG>(t.pin.size()));
  if (login != CKR_USER_ALREADY_LOGGED_IN) check_rv(login, "C_Login");
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls},
                         {CKA_LABEL, const_cast<char*>(label.data()), static_cast<CK_ULONG>(label.size())}};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  CK_ULONG found = 0;
  check_rv(fn->C_FindObjectsInit(h, tmpl, 2), "C_FindObjectsInit");
  check_rv(fn->C_FindObjects(h, &key, 1, &found), "C_FindObjects");
  fn->C_FindObjectsFinal(h);
  EXPECT_EQ(found, 1u);
  CK_MECHANISM m{mechanism, nullptr, 0};
  check_rv(fn->C_SignInit(h, &m, key), "C_SignInit");
  CK_ULONG len = 0;
  Bytes in = input;
  check_rv(fn->C_Sign(h, in.data(), static_cast<CK_ULONG>(in.size()), nullptr, &len), "C_Sign (length)");
  Bytes out(len);
  check_rv(fn->C_Sign(h, in.data(), static_cast<CK_ULONG>(in.size()), out.data(), &len), "C_Sign");
  out.resize(len);
  fn->C_CloseSession(h);
  return out;
}

// --- REST ------------------------------------------------------------------------------

class TwoStepRest : public ::testing::Test {
 protected:
  void SetUp() override {
    config.listen_host = "127.0.0.1";
    config.listen_port = 0;
    config.data_dir = temp_dir("two-step");
    config.audit_fsync = false;
    config.max_body_bytes = 1u << 20;
    auto s = server::Service::create(config, clock);
    ASSERT_TRUE(s) << s.error().message;
    service = std::move(*s);
    http = std::make_unique<server::HttpServer>(*service, config);
    ASSERT_TRUE(http->start());
    auto loaded = certstore::load_dev_pki(config.data_dir / "dev-pki");
    ASSERT_TRUE(loaded) << loaded.error().message;
    pki = std::move(*loaded);
  }
  void TearDown() override {
    if (http) http->stop();
  }

  /** The prepare envelope for the test Bundle (FHIR JSON or XML) and the card's chain. */
  std::string envelope(bool xml, const Card& c, const std::string& level = "B-T") const {
    json::Object o;
    if (xml) {
      o.emplace_back("bundleXml", json::Value(xml_bundle));
    } else {
      o.emplace_back("bundle", *json::parse(json_bundle));
    }
    o.emplace_back("certificateChain", json::Value(c.chain_b64()));
    o.emplace_back("level", json::Value(level));
    return json::serialize(json::Value(std::move(o)));
  }
  Reply post(const std::string& path, const std::string& body, const std::string& type = "application/json",
             std::uint16_t port = 0) {
    ++requests;
    return call(port != 0 ? port : http->port(), "POST", path, body, type);
  }
  Reply prepare(const std::string& body) { return post("/v1/sign/prepare", body); }
  Reply complete(const std::string& id, const Bytes& value, std::uint16_t port = 0) {
    json::Object o{{"sessionId", json::Value(id)}, {"signatureValue", json::Value(base64_encode(value))}};
    return post("/v1/sign/complete", json::serialize(json::Value(std::move(o))), "application/json", port);
  }
  /** Verifies a signed Bundle a minute later: the report. */
  json::Value verify(const Reply& signed_reply) {
    clock.advance(std::chrono::seconds(60));
    auto v = post("/v1/verify", signed_reply.body, signed_reply.content_type);
    EXPECT_EQ(v.status, 200) << v.body;
    return v.json();
  }
  fs::path audit_file() const { return config.data_dir / "audit.jsonl"; }

  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  std::unique_ptr<server::Service> service;
  std::unique_ptr<server::HttpServer> http;
  certstore::DevPki pki;
  std::size_t requests = 0;
  std::string json_bundle = read_text(data_file("bundles/simple-prescription.json"));
  std::string xml_bundle = read_text(data_file("bundles/simple-prescription.xml"));
};

TEST_F(TwoStepRest, JsonIsExactlyTheOneStepSignatureApartFromValueAndTimestamp) {
  for (const char* id : {"doctor", "doctor-ec"}) {
    SCOPED_TRACE(id);
    const Card c = card(pki, id);
    auto p = prepare(envelope(false, c));
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_EQ(p.content_type, "application/json");
    EXPECT_EQ(p.str("sessionId").size(), 32u);
    EXPECT_EQ(p.str("signingTime"), format_rfc3339(clock.now()));
    EXPECT_EQ(p.str("expires"), format_rfc3339(clock.now() + std::chrono::seconds(300)));
    EXPECT_EQ(p.str("documentFormat"), "application/fhir+json");
    EXPECT_EQ(p.str("level"), "B-T");
    EXPECT_EQ(p.str("hashAlgorithm"), "SHA-256");
    EXPECT_EQ(p.str("signatureAlgorithm"), c.rsa() ? "RS256" : "ES256");
    EXPECT_EQ(base64_decode(p.str("hashToSign"))->size(), 32u);
    EXPECT_EQ(p.json().find("digestInfo") != nullptr, c.rsa()) << "digestInfo only for RSA";
    const Bytes value = card_sign(c, p);  // EC: DER, as most cards and OpenSSL answer
    auto done = complete(p.str("sessionId"), value);
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(done.content_type, "application/fhir+json");
    // The same inputs signed in one step by the service's own key (the same dev PKI doctor) at the same time.
    auto one = post(std::string("/v1/sign?level=B-T&signer=") + (c.rsa() ? "dev-doctor" : "dev-doctor-ec"), json_bundle,
                    "application/fhir+json");
    ASSERT_EQ(one.status, 200) << one.body;
    json::Value two_b = done.json();
    json::Value one_b = one.json();
    const signer::ParsedJws two_jws = jws_of(two_b);
    const signer::ParsedJws one_jws = jws_of(one_b);
    EXPECT_EQ(two_jws.protected_b64, one_jws.protected_b64) << "the same protected header (x5c, iat, srCms)";
    if (c.rsa()) {
      EXPECT_EQ(two_jws.signature_b64, one_jws.signature_b64) << "PKCS#1 v1.5 is deterministic";
    } else {
      EXPECT_EQ(two_jws.signature.size(), 64u) << "the DER value became R||S";
    }
    ASSERT_EQ(two_jws.etsi_u.size(), 1u) << "B-T: timestamped at completion";
    two_b.find("signature")->erase("data");
    one_b.find("signature")->erase("data");
    EXPECT_EQ(json::serialize(two_b, 2), json::serialize(one_b, 2)) << "the same Bundle, byte for byte";
    // And it is a valid B-T signature over the prepared document.
    auto report = verify(done);
    EXPECT_EQ(*report.find_string("indication"), "TOTAL-PASSED") << json::serialize(report);
    EXPECT_EQ(*report.find("signatures")->as_array()[0].find_string("format"), "JAdES-BASELINE-T");
    EXPECT_EQ(*report.find("document")->find_string("canonicalSha256"), p.str("documentSha256"));
    clock.set(sign_time());
  }
}

TEST_F(TwoStepRest, XmlIsExactlyTheOneStepSignatureApartFromValueAndTimestamp) {
  for (const char* id : {"doctor", "doctor-ec"}) {
    SCOPED_TRACE(id);
    const Card c = card(pki, id);
    auto p = prepare(envelope(true, c));
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_EQ(p.str("documentFormat"), "application/fhir+xml");
    EXPECT_EQ(p.str("signatureAlgorithm"), std::string(c.rsa() ? signer::kXmlDsigRsaSha256 : signer::kXmlDsigEcdsaSha256));
    Bytes value = card_sign(c, p);
    if (!c.rsa()) {
      auto raw = certstore::ecdsa_der_to_raw(value, 32);  // this card answers r||s
      ASSERT_TRUE(raw);
      value = *raw;
    }
    auto done = complete(p.str("sessionId"), value);
    ASSERT_EQ(done.status, 200) << done.body;
    EXPECT_EQ(done.content_type, "application/fhir+xml");
    const std::string two_sig = xml_signature_of(done.body);
    ASSERT_NE(two_sig.find("<xades:SignatureTimeStamp"), std::string::npos) << two_sig;
    // One step with the same key, time and Ids: the same document and ds:Signature but for value and timestamp.
    auto key = signer::PemSigningKey::load(c.item->cert.string(), c.item->key.string(), c.item->chain.string());
    ASSERT_TRUE(key) << key.error().message;
    signer::SignOptions o;
    o.level = signer::Level::B_B;
    o.signing_time = *parse_rfc3339(p.str("signingTime"));
    o.xml_id_suffix = between(two_sig, "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" Id=\"sig-", "\"");
    ASSERT_FALSE(o.xml_id_suffix.empty()) << two_sig;
    auto one = signer::sign_xml_bundle(xml_bundle, **key, nullptr, o);
    ASSERT_TRUE(one) << one.error().message;
    auto strip = [](const std::string& sig) {
      return without(without(sig, "Id=\"sv-", "</ds:SignatureValue>"), "<xades:UnsignedProperties>",
                     "</xades:UnsignedProperties>");
    };
    EXPECT_EQ(strip(two_sig), strip(one->signature_xml));
    if (c.rsa()) {
      EXPECT_EQ(between(two_sig, "<ds:SignatureValue", "</ds:SignatureValue>"),
                between(one->signature_xml, "<ds:SignatureValue", "</ds:SignatureValue>"));
    }
    EXPECT_EQ(without(done.body, "<data value=\"", "\""), without(one->bundle_xml, "<data value=\"", "\""));
    auto report = verify(done);
    EXPECT_EQ(*report.find_string("indication"), "TOTAL-PASSED") << json::serialize(report);
    EXPECT_EQ(*report.find("signatures")->as_array()[0].find_string("format"), "XAdES-BASELINE-T");
    clock.set(sign_time());
  }
}

TEST_F(TwoStepRest, SessionsAreUsedOnceExpireAndUnknownOnesAreNotFound) {
  const Card doctor = card(pki, "doctor");
  const Card dentist = card(pki, "dentist");
  // A value from another key: 422 naming the problem; the session is used up all the same.
  auto p1 = prepare(envelope(false, doctor, "B-B"));
  ASSERT_EQ(p1.status, 200) << p1.body;
  auto wrong = complete(p1.str("sessionId"), raw_sign(dentist.key.get(), *base64_decode(p1.str("digestInfo"))));
  EXPECT_EQ(wrong.status, 422) << wrong.body;
  EXPECT_NE(wrong.diagnostics().find("does not verify with the certificate"), std::string::npos) << wrong.body;
  EXPECT_NE(wrong.diagnostics().find("Yamada Taro"), std::string::npos) << wrong.body;
  auto after_wrong = complete(p1.str("sessionId"), card_sign(doctor, p1));
  EXPECT_EQ(after_wrong.status, 409) << after_wrong.body;
  // Used once: the second completion is 409.
  auto p2 = prepare(envelope(false, doctor, "B-B"));
  ASSERT_EQ(p2.status, 200);
  const Bytes v2 = card_sign(doctor, p2);
  EXPECT_EQ(complete(p2.str("sessionId"), v2).status, 200);
  auto again = complete(p2.str("sessionId"), v2);
  EXPECT_EQ(again.status, 409) << again.body;
  EXPECT_NE(again.diagnostics().find("already used"), std::string::npos) << again.body;
  // Expired: 410 once signing.sessionTtlSeconds has passed (and not a second earlier).
  auto p3 = prepare(envelope(false, doctor, "B-B"));
  auto p4 = prepare(envelope(false, doctor, "B-B"));
  ASSERT_EQ(p3.status, 200);
  clock.advance(std::chrono::seconds(299));
  EXPECT_EQ(complete(p4.str("sessionId"), card_sign(doctor, p4)).status, 200);
  clock.advance(std::chrono::seconds(1));
  auto late = complete(p3.str("sessionId"), card_sign(doctor, p3));
  EXPECT_EQ(late.status, 410) << late.body;
  // Unknown: 404, also for something that is not a session id at all.
  EXPECT_EQ(complete("0123456789abcdef0123456789abcdef", v2).status, 404);
  EXPECT_EQ(complete("../../etc/passwd", v2).status, 404);
  // Malformed completions are refused before any session is touched.
  auto p5 = prepare(envelope(false, doctor, "B-B"));
  ASSERT_EQ(p5.status, 200);
  EXPECT_EQ(post("/v1/sign/complete", "{\"sessionId\":\"" + p5.str("sessionId") + "\"}").status, 400);
  EXPECT_EQ(post("/v1/sign/complete", "{\"sessionId\":\"" + p5.str("sessionId") + "\",\"signatureValue\":\"%%\"}").status, 400);
  EXPECT_EQ(post("/v1/sign/complete", "{\"sessionId\":\"" + p5.str("sessionId") + "\",\"signatureValue\":\"AA==\",\"x\":1}").status,
            400);
  EXPECT_EQ(post("/v1/sign/complete", "{}", "application/fhir+json").status, 415);
  // A value of the wrong length reaches the session: 400, and the session is used up.
  auto short_value = complete(p5.str("sessionId"), Bytes(10, 1));
  EXPECT_EQ(short_value.status, 400) << short_value.body;
  EXPECT_EQ(complete(p5.str("sessionId"), card_sign(doctor, p5)).status, 409);
  // Every request left exactly one audit record.
  const auto records = audit_records(audit_file());
  ASSERT_EQ(records.size(), requests);
  EXPECT_EQ(audit_operation(records[0]), "sign-prepare");
  EXPECT_EQ(audit_operation(records[1]), "sign-complete");
  EXPECT_EQ(*records[1].find_string("outcome"), "4");
  const std::string first = json::serialize(records[0]);
  EXPECT_NE(first.find("Yamada Taro"), std::string::npos) << "the signer certificate is recorded";
  EXPECT_NE(first.find(p1.str("documentSha256")), std::string::npos) << "the document digest is recorded";
}

TEST_F(TwoStepRest, PrepareRefusesWhatOneStepSigningRefuses) {
  const Card doctor = card(pki, "doctor");
  const std::string good = envelope(false, doctor, "B-B");
  EXPECT_EQ(post("/v1/sign/prepare", good, "application/fhir+json").status, 415);
  EXPECT_EQ(prepare("{not json").status, 400);
  EXPECT_EQ(prepare("[]").status, 400);
  auto edited = [&](const std::function<void(json::Value&)>& edit) {
    json::Value v = *json::parse(good);
    edit(v);
    return prepare(json::serialize(v));
  };
  auto unknown = edited([](json::Value& v) { v.set("signer", json::Value("doctor")); });
  EXPECT_EQ(unknown.status, 400);
  EXPECT_NE(unknown.diagnostics().find("unknown member 'signer'"), std::string::npos) << unknown.body;
  EXPECT_EQ(edited([&](json::Value& v) { v.set("bundleXml", json::Value(xml_bundle)); }).status, 400);
  EXPECT_EQ(edited([](json::Value& v) { v.erase("bundle"); }).status, 400);
  EXPECT_EQ(edited([](json::Value& v) { v.set("certificateChain", json::Value(json::Array{})); }).status, 400);
  EXPECT_EQ(edited([](json::Value& v) { v.set("certificateChain", json::Value(json::Array{json::Value("not base64!")})); }).status,
            400);
  EXPECT_EQ(edited([](json::Value& v) { v.set("certificateChain", json::Value(json::Array{json::Value("AAAA")})); }).status, 400);
  EXPECT_EQ(edited([](json::Value& v) { v.set("level", json::Value("B-Q")); }).status, 400);
  EXPECT_EQ(edited([](json::Value& v) { v.set("replace", json::Value("yes")); }).status, 400);
  auto patient = edited([](json::Value& v) { v.set("bundle", *json::parse(R"({"resourceType":"Patient"})")); });
  EXPECT_EQ(patient.status, 422) << patient.body;
  // The signing-side guard on the given chain: a pharmacist may not sign a prescription.
  auto pharmacist = prepare(envelope(false, card(pki, "pharmacist"), "B-B"));
  EXPECT_EQ(pharmacist.status, 422) << pharmacist.body;
  EXPECT_NE(pharmacist.diagnostics().find("Pharmacist"), std::string::npos) << pharmacist.body;
  // A revoked signer is refused too.
  auto revoked = prepare(envelope(false, card(pki, "revoked"), "B-B"));
  EXPECT_EQ(revoked.status, 422) << revoked.body;
  // Already signed: 409 unless replace.
  auto one = post("/v1/sign?level=B-B", json_bundle, "application/fhir+json");
  ASSERT_EQ(one.status, 200);
  json::Object o{{"bundle", one.json()}, {"certificateChain", json::Value(doctor.chain_b64())}};
  EXPECT_EQ(prepare(json::serialize(json::Value(o))).status, 409);
  o.emplace_back("replace", json::Value(true));
  EXPECT_EQ(prepare(json::serialize(json::Value(std::move(o)))).status, 200);
  EXPECT_EQ(audit_records(audit_file()).size(), requests);
}

TEST_F(TwoStepRest, ASessionPreparedOnOneInstanceCompletesOnAnother) {
  server::ServiceConfig other = config;
  other.audit_file = config.data_dir / "audit-b.jsonl";
  auto b = server::Service::create(other, clock);  // the same data.dir: the same database file
  ASSERT_TRUE(b) << b.error().message;
  server::HttpServer http_b(**b, other);
  ASSERT_TRUE(http_b.start());
  const Card ec = card(pki, "doctor-ec");
  auto p = prepare(envelope(true, ec));
  ASSERT_EQ(p.status, 200) << p.body;
  const Bytes value = card_sign(ec, p);
  auto done = complete(p.str("sessionId"), value, http_b.port());
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(complete(p.str("sessionId"), value).status, 409) << "used up for every instance";
  auto report = verify(done);
  EXPECT_EQ(*report.find_string("indication"), "TOTAL-PASSED") << json::serialize(report);
  http_b.stop();
  EXPECT_EQ(audit_records(other.audit_file).size(), 1u);
}

TEST_F(TwoStepRest, ASessionBelongsToTheClientThatPreparedIt) {
  const Card doctor = card(pki, "doctor");
  const server::Caller ehr{"ehr", {}, true};
  const server::Caller other{"pharmacy", {"*"}, true};
  auto p = service->prepare(ehr, "application/json", envelope(false, doctor, "B-B"), "");
  ASSERT_EQ(p.status, 200) << p.body;
  auto prepared = json::parse(p.body);
  const std::string id = *prepared->find_string("sessionId");
  const Bytes value = raw_sign(doctor.key.get(), *base64_decode(*prepared->find_string("digestInfo")));
  const std::string body = R"({"sessionId":")" + id + R"(","signatureValue":")" + base64_encode(value) + R"("})";
  auto stolen = service->complete(other, "application/json", body, "");
  EXPECT_EQ(stolen.status, 403) << stolen.body;
  EXPECT_NE(stolen.body.find("prepared by another client"), std::string::npos) << stolen.body;
  EXPECT_FALSE(stolen.audit.document_identifier.empty()) << "the refusal is audited with the document";
  EXPECT_EQ(service->complete(ehr, "application/json", body, "").status, 409) << "a leaked id is burnt";
  auto p2 = service->prepare(ehr, "application/json", envelope(false, doctor, "B-B"), "");
  const std::string id2 = *json::parse(p2.body)->find_string("sessionId");
  const Bytes value2 = raw_sign(doctor.key.get(), *base64_decode(*json::parse(p2.body)->find_string("digestInfo")));
  auto mine = service->complete(ehr, "application/json",
                                R"({"sessionId":")" + id2 + R"(","signatureValue":")" + base64_encode(value2) + R"("})", "");
  EXPECT_EQ(mine.status, 200) << mine.body;
}

TEST_F(TwoStepRest, ASoftHsmTokenIsTheCard) {
  if (!fs::exists(kSoftHsmModule)) {
    GTEST_SKIP() << "SoftHSM2 is not installed (" << kSoftHsmModule << ")";
  }
  ASSERT_EQ(SoftHsm::get().initialize(), static_cast<CK_RV>(CKR_OK));
  SoftHsmToken token = SoftHsm::get().create_token("two-step");
  const Card rsa = card(pki, "doctor");
  const Card ec = card(pki, "doctor-ec");
  token.import_key("rsa", rsa.key.get(), "01");
  token.import_key("ec", ec.key.get(), "02");
  struct Case {
    const Card* c;
    bool xml;
  };
  for (const Case& k : {Case{&rsa, false}, Case{&rsa, true}, Case{&ec, false}, Case{&ec, true}}) {
    SCOPED_TRACE(std::string(k.c->rsa() ? "RSA" : "EC") + (k.xml ? " XML" : " JSON"));
    auto p = prepare(envelope(k.xml, *k.c));
    ASSERT_EQ(p.status, 200) << p.body;
    // CKM_RSA_PKCS over the DigestInfo, CKM_ECDSA over the hash (the token answers r||s).
    const Bytes value = k.c->rsa() ? token_sign(token, "rsa", CKM_RSA_PKCS, *base64_decode(p.str("digestInfo")))
                                   : token_sign(token, "ec", CKM_ECDSA, *base64_decode(p.str("hashToSign")));
    auto done = complete(p.str("sessionId"), value);
    ASSERT_EQ(done.status, 200) << done.body;
    auto report = verify(done);
    EXPECT_EQ(*report.find_string("indication"), "TOTAL-PASSED") << json::serialize(report);
    clock.set(sign_time());
  }
}

// --- The command line ---------------------------------------------------------------------

struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

/** Runs a shell command line (arguments already quoted), stdin closed. */
CliRun shell(const std::string& command) {
  static int n = 0;
  const fs::path dir = temp_dir("two-step-run-" + std::to_string(++n));
  const std::string cmd = command + " </dev/null >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(dir / "out");
  r.err = read_text(dir / "err");
  return r;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

CliRun hanko(const std::string& args) { return shell(q(hanko_binary()) + " " + args); }

class TwoStepCli : public EndToEnd {
 protected:
  void SetUp() override {
    EndToEnd::SetUp();
    dir = temp_dir("two-step-cli");
  }
  /** The certificate and its chain in one PEM file, the signer first. */
  fs::path chain_file(const std::string& id) {
    const auto& item = dev_pki().get(id);
    const fs::path p = dir / (id + "-chain.pem");
    write_text(p, read_text(item.cert) + read_text(item.chain));
    return p;
  }
  CliRun prepare(const std::string& id, const fs::path& bundle, const fs::path& session, const std::string& level) {
    return hanko("sign --prepare --cert-chain " + q(chain_file(id)) + " --trust " + q(dev_pki().trust_dir) +
                 " --at 2026-01-16T09:30:00Z --level " + level + " --out " + q(session) + " " + q(bundle));
  }
  CliRun verify_file(const fs::path& file) {
    return hanko("verify --in " + q(file) + " --trust " + q(dev_pki().trust_dir) + " --at 2026-01-16T10:00:00Z");
  }
  fs::path dir;
  fs::path json_in = data_file("bundles/simple-prescription.json");
  fs::path xml_in = data_file("bundles/simple-prescription.xml");
};

TEST_F(TwoStepCli, RsaCardIsOpensslPkeyutlOverTheDigestInfo) {
  const fs::path session = dir / "rsa.session.json";
  auto p = prepare("doctor", json_in, session, "B-T");
  ASSERT_EQ(p.code, 0) << p.err;
  auto info = json::parse(p.out);
  ASSERT_TRUE(info) << p.out;
  EXPECT_EQ(*info->find_string("session"), session.string());
  EXPECT_EQ(*info->find_string("signatureAlgorithm"), "RS256");
  struct stat st {};
  ASSERT_EQ(::stat(session.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the session holds the patient's document";
  write_text(dir / "rsa.di", to_string(*base64_decode(*info->find_string("digestInfo"))));
  // The "card": openssl pkeyutl signs the DigestInfo with PKCS#1 v1.5 padding, as CKM_RSA_PKCS does.
  auto card = shell("openssl pkeyutl -sign -inkey " + q(dev_pki().get("doctor").key) + " -in " + q(dir / "rsa.di") +
                    " -out " + q(dir / "rsa.sig"));
  ASSERT_EQ(card.code, 0) << card.err;
  // Without a TSA a B-T session cannot be finished: a usage error, and the session stays.
  EXPECT_EQ(hanko("sign --complete " + q(session) + " --signature " + q(dir / "rsa.sig")).code, 3);
  EXPECT_TRUE(fs::exists(session));
  auto done = hanko("sign --complete " + q(session) + " --signature " + q(dir / "rsa.sig") + " --tsa " +
                    tsa_server->url() + " --out " + q(dir / "signed.json"));
  ASSERT_EQ(done.code, 0) << done.err;
  EXPECT_FALSE(fs::exists(session)) << "a completed session file is removed";
  auto v = verify_file(dir / "signed.json");
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("JAdES-BASELINE-T"), std::string::npos) << v.out;
}

TEST_F(TwoStepCli, EcCardSignsTheHashForXmlAndAnotherKeyIsRefused) {
  const fs::path session = dir / "ec.session.json";
  auto p = prepare("doctor-ec", xml_in, session, "B-B");
  ASSERT_EQ(p.code, 0) << p.err;
  auto info = json::parse(p.out);
  ASSERT_TRUE(info) << p.out;
  EXPECT_EQ(*info->find_string("signatureAlgorithm"), std::string(signer::kXmlDsigEcdsaSha256));
  EXPECT_EQ(info->find("digestInfo"), nullptr);
  write_text(dir / "ec.hash", to_string(*base64_decode(*info->find_string("hashToSign"))));
  // Another key first: exit 1 naming the problem; the session file stays for the right value.
  auto wrong = shell("openssl pkeyutl -sign -inkey " + q(dev_pki().get("doctor").key) + " -in " + q(dir / "ec.hash") +
                     " -out " + q(dir / "wrong.sig"));
  ASSERT_EQ(wrong.code, 0) << wrong.err;
  auto refused = hanko("sign --complete " + q(session) + " --signature " + q(dir / "wrong.sig") + " --out " +
                       q(dir / "never.xml"));
  EXPECT_EQ(refused.code, 3) << refused.err << " (an RSA value is the wrong shape for ECDSA)";
  EXPECT_NE(refused.err.find("ECDSA"), std::string::npos) << refused.err;
  auto other_ec = shell("openssl ecparam -name prime256v1 -genkey -noout -out " + q(dir / "other.key") +
                        " && openssl pkeyutl -sign -inkey " + q(dir / "other.key") + " -in " + q(dir / "ec.hash") +
                        " -out " + q(dir / "other.sig"));
  ASSERT_EQ(other_ec.code, 0) << other_ec.err;
  auto foreign = hanko("sign --complete " + q(session) + " --signature " + q(dir / "other.sig") + " --out " +
                       q(dir / "never.xml"));
  EXPECT_EQ(foreign.code, 1) << foreign.err;
  EXPECT_NE(foreign.err.find("does not verify"), std::string::npos) << foreign.err;
  EXPECT_FALSE(fs::exists(dir / "never.xml"));
  // The card: ECDSA over the hash (DER), handed over as base64 text.
  auto card = shell("(openssl pkeyutl -sign -inkey " + q(dev_pki().get("doctor-ec").key) + " -in " + q(dir / "ec.hash") +
                    " | base64 > " + q(dir / "ec.sig.b64") + ")");
  ASSERT_EQ(card.code, 0) << card.err;
  auto done = hanko("sign --complete " + q(session) + " --signature " + q(dir / "ec.sig.b64") + " --out " +
                    q(dir / "signed.xml"));
  ASSERT_EQ(done.code, 0) << done.err;
  auto v = verify_file(dir / "signed.xml");
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  EXPECT_NE(v.out.find("XAdES-BASELINE-B"), std::string::npos) << v.out;
}

TEST_F(TwoStepCli, ASoftHsmTokenSignsTheHashThroughHankosOwnPkcs11Key) {
  if (!fs::exists(kSoftHsmModule)) {
    GTEST_SKIP() << "SoftHSM2 is not installed (" << kSoftHsmModule << ")";
  }
  ASSERT_EQ(SoftHsm::get().initialize(), static_cast<CK_RV>(CKR_OK));
  SoftHsmToken token = SoftHsm::get().create_token("two-step-cli");
  for (const char* id : {"doctor", "doctor-ec"}) {
    SCOPED_TRACE(id);
    const auto& item = dev_pki().get(id);
    auto key = ossl::load_private_key(item.key.string());
    ASSERT_TRUE(key);
    token.import_key(id, key->get(), id);
    auto certs = ossl::load_certificates(item.cert.string());
    token.import_cert(id, certs->front().get(), id);
    certstore::Pkcs11Config pc;
    pc.module = kSoftHsmModule;
    pc.token_label = token.label;
    pc.key_label = id;
    auto pin = certstore::read_secret_file(token.pin_file.string());
    ASSERT_TRUE(pin);
    auto p11 = certstore::Pkcs11SigningKey::open(pc, std::move(*pin));
    ASSERT_TRUE(p11) << p11.error().message;
    const fs::path session = dir / (std::string(id) + ".session.json");
    auto p = prepare(id, json_in, session, "B-B");
    ASSERT_EQ(p.code, 0) << p.err;
    auto info = json::parse(p.out);
    // sign_digest: CKM_RSA_PKCS over the DigestInfo of the hash, or CKM_ECDSA over the hash.
    auto value = (*p11)->sign_digest(*base64_decode(*info->find_string("hashToSign")));
    ASSERT_TRUE(value) << value.error().message;
    write_text(dir / (std::string(id) + ".sig"), to_string(*value));
    auto done = hanko("sign --complete " + q(session) + " --signature " + q(dir / (std::string(id) + ".sig")) +
                      " --out " + q(dir / (std::string(id) + ".signed.json")));
    ASSERT_EQ(done.code, 0) << done.err;
    EXPECT_EQ(verify_file(dir / (std::string(id) + ".signed.json")).code, 0);
  }
}

TEST_F(TwoStepCli, UsageErrors) {
  EXPECT_EQ(hanko("sign --prepare " + q(json_in)).code, 3) << "no --cert-chain";
  EXPECT_EQ(hanko("sign --prepare --cert-chain " + q(chain_file("doctor")) + " " + q(json_in)).code, 3) << "no --trust";
  EXPECT_EQ(hanko("sign --prepare --complete x --cert-chain " + q(chain_file("doctor")) + " " + q(json_in)).code, 3);
  EXPECT_EQ(hanko("sign --complete " + q(dir / "none.json") + " --signature x").code, 3);
  write_text(dir / "not-a-session.json", "{\"format\":\"something else\"}");
  auto r = hanko("sign --complete " + q(dir / "not-a-session.json") + " --signature " + q(dir / "not-a-session.json"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("not a session file"), std::string::npos) << r.err;
  // The signer check runs at prepare: a pharmacist may not sign a prescription (exit 1, one line).
  auto refused = prepare("pharmacist", json_in, dir / "pharm.session.json", "B-B");
  EXPECT_EQ(refused.code, 1) << refused.err;
  EXPECT_NE(refused.err.find("Pharmacist"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir / "pharm.session.json"));
}

}  // namespace
}  // namespace hanko::test
