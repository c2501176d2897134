// Named server-side signers through the real service on 127.0.0.1 port 0:
// signers.* with PEM, PKCS#12 and SoftHSM2 keys, GET /v1/signers,
// POST /v1/sign?signer=, the legacy signer.cert as "default", the dev
// doctors, which client may use which signer (bearer JWTs over loopback), and
// one audit record per request.
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <openssl/core_names.h>
#include <openssl/pkcs12.h>

#include <fstream>

#include "fixture.h"
#include "hanko/certstore/cert_info.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/common/base64.h"
#include "hanko/common/ossl.h"
#include "hanko/server/config.h"
#include "hanko/server/service.h"
#include "softhsm.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;
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
};

Reply call(std::uint16_t port, const std::string& method, const std::string& path, const std::string& body = "",
           const std::string& content_type = "application/fhir+json", const std::string& bearer = "") {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!bearer.empty()) {
    req.set("Authorization", "Bearer " + bearer);
  }
  if (method == "POST") {
    req.setContentType(content_type);
    req.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(req) << body;
  } else {
    session.sendRequest(req);
  }
  Poco::Net::HTTPResponse resp;
  std::istream& in = session.receiveResponse(resp);
  Reply r;
  r.status = resp.getStatus();
  r.content_type = resp.getContentType();
  Poco::StreamCopier::copyToString(in, r.body);
  return r;
}

std::size_t audit_lines(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    n += line.empty() ? 0 : 1;
  }
  return n;
}

std::string diagnostics(const Reply& r) {
  auto v = json::parse(r.body);
  if (!v || v->find("issue") == nullptr) {
    return {};
  }
  const std::string* d = v->find("issue")->as_array().front().find_string("diagnostics");
  return d != nullptr ? *d : std::string();
}

ossl::X509Ptr first_cert(const fs::path& pem) {
  auto certs = ossl::load_certificates(pem.string());
  EXPECT_TRUE(certs && !certs->empty());
  return std::move(certs->front());
}

/** The signer certificate in a signed JSON Bundle (x5c[0] of the JWS). */
ossl::X509Ptr signer_of(const std::string& signed_json) {
  auto b = json::parse(signed_json);
  const std::string* data = b ? b->find("signature")->find_string("data") : nullptr;
  if (data == nullptr) {
    return nullptr;
  }
  auto jws = signer::parse_jws(to_string(*base64_decode(*data)));
  if (!jws) {
    return nullptr;
  }
  return ossl::x509_from_der(*base64_decode(jws->header.find("x5c")->as_array().front().as_string()));
}

/** A PKCS#12 file of a dev PKI item, protected with `password` (AES, the OpenSSL 3 default). */
fs::path write_p12(const fs::path& dir, const certstore::DevPkiItem& item, const std::string& password) {
  auto key = ossl::load_private_key(item.key.string());
  EXPECT_TRUE(key);
  auto cert = first_cert(item.cert);
  auto chain = ossl::load_certificates(item.chain.string());
  ossl::X509StackPtr ca(sk_X509_new_null());
  for (auto& c : *chain) {
    sk_X509_push(ca.get(), c.release());
  }
  ossl::Ptr<PKCS12, PKCS12_free> p12(
      PKCS12_create(password.c_str(), "signer", key->get(), cert.get(), ca.get(), 0, 0, 0, 0, 0));
  EXPECT_TRUE(p12);
  const fs::path path = dir / (item.id + ".p12");
  const Bytes der = ossl::to_der<i2d_PKCS12>(p12.get());
  write_text(path, to_string(der));
  return path;
}

/** An identity provider of the test: an RSA-2048 key, its JWKS file and the RS256 tokens it issues. */
struct Idp {
  ossl::EvpPkeyPtr key{EVP_RSA_gen(2048)};
  fs::path jwks_file;
  std::string issuer = "https://idp.signers.test";

  std::string bn(const char* name) const {
    BIGNUM* v = nullptr;
    EVP_PKEY_get_bn_param(key.get(), name, &v);
    ossl::BignumPtr owned(v);
    Bytes out(static_cast<std::size_t>(BN_num_bytes(v)));
    BN_bn2bin(v, out.data());
    return base64url_encode(out);
  }
  void write_jwks(const fs::path& dir) {
    jwks_file = dir / "jwks.json";
    write_text(jwks_file, R"({"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":")" +
                              bn(OSSL_PKEY_PARAM_RSA_N) + R"(","e":")" + bn(OSSL_PKEY_PARAM_RSA_E) + R"("}]})");
  }
  std::string token(const std::string& sub, TimePoint now) const {
    const long long t = to_unix(now);
    const std::string header = R"({"alg":"RS256","typ":"JWT","kid":"k1"})";
    const std::string claims = R"({"iss":")" + issuer + R"(","aud":"hanko","sub":")" + sub + R"(","iat":)" +
                               std::to_string(t - 60) + R"(,"exp":)" + std::to_string(t + 600) + "}";
    const std::string input = base64url_encode(as_bytes(header)) + "." + base64url_encode(as_bytes(claims));
    ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    std::size_t len = 0;
    EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(ctx.get(), nullptr, &len, as_bytes(input).data(), input.size());
    Bytes sig(len);
    EVP_DigestSign(ctx.get(), sig.data(), &len, as_bytes(input).data(), input.size());
    sig.resize(len);
    return input + "." + base64url_encode(sig);
  }
};

/**
 * A service with three named signers of the test PKI: "pem-doctor" (PEM,
 * RSA, the default), "p12-ec" (PKCS#12, EC P-256) and "hsm" (a SoftHSM2
 * token holding the doctor's RSA key), plus "pharm" (PEM, a pharmacist).
 */
class NamedSigners : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(kSoftHsmModule)) {
      GTEST_SKIP() << "SoftHSM2 is not installed (" << kSoftHsmModule << "): apt-get install softhsm2";
    }
    ASSERT_EQ(SoftHsm::get().initialize(), static_cast<CK_RV>(CKR_OK));
    dir = temp_dir("named-signers");
    const auto& doctor = dev_pki().get("doctor");
    const auto& ec = dev_pki().get("doctor-ec");
    const auto& pharmacist = dev_pki().get("pharmacist");
    token = SoftHsm::get().create_token("signers");
    {
      auto key = ossl::load_private_key(doctor.key.string());
      ASSERT_TRUE(key);
      token.import_key("doctor", key->get(), "01");
      token.import_cert("doctor", first_cert(doctor.cert).get(), "01");
    }
    write_text(dir / "p12.password", "p12 secret\n");
    const fs::path p12 = write_p12(dir, ec, "p12 secret");
    config.listen_host = "127.0.0.1";
    config.listen_port = 0;
    config.data_dir = dir / "data";
    config.trust_dir = dev_pki().trust_dir;  // the test PKI, not the service's own dev PKI
    config.default_level = "B-B";
    config.audit_fsync = false;
    config.signer_keys = {
        {"signers.default", "pem-doctor"},
        {"signers.pem-doctor.source", "pem"},
        {"signers.pem-doctor.cert", doctor.cert.string()},
        {"signers.pem-doctor.key", doctor.key.string()},
        {"signers.pem-doctor.chain", doctor.chain.string()},
        {"signers.p12-ec.source", "pkcs12"},
        {"signers.p12-ec.file", p12.string()},
        {"signers.p12-ec.passwordFile", (dir / "p12.password").string()},
        {"signers.hsm.source", "pkcs11"},
        {"signers.hsm.module", kSoftHsmModule},
        {"signers.hsm.tokenLabel", token.label},
        {"signers.hsm.keyLabel", "doctor"},
        {"signers.hsm.pinFile", token.pin_file.string()},
        {"signers.hsm.chain", doctor.chain.string()},
        {"signers.pharm.source", "pem"},
        {"signers.pharm.cert", pharmacist.cert.string()},
        {"signers.pharm.key", pharmacist.key.string()},
        {"signers.pharm.chain", pharmacist.chain.string()},
    };
  }
  void start() {
    auto s = server::Service::create(config, clock);
    ASSERT_TRUE(s) << s.error().message;
    service = std::move(*s);
    http = std::make_unique<server::HttpServer>(*service, config);
    auto started = http->start();
    ASSERT_TRUE(started) << started.error().message;
  }
  void TearDown() override {
    if (http) {
      http->stop();
    }
  }
  Reply post(const std::string& path, const std::string& body, const std::string& bearer = "",
             const std::string& type = "application/fhir+json") {
    return call(http->port(), "POST", path, body, type, bearer);
  }
  fs::path audit_file() const { return config.data_dir / "audit.jsonl"; }

  fs::path dir;
  SoftHsmToken token;
  FixedClock clock{sign_time()};
  server::ServiceConfig config;
  std::unique_ptr<server::Service> service;
  std::unique_ptr<server::HttpServer> http;
  std::string bundle = read_text(data_file("bundles/simple-prescription.json"));
};

TEST_F(NamedSigners, ListsEverySignerWithItsChainRoleValidityAndDefault) {
  start();
  bool noted = false;
  for (const auto& line : service->describe()) {
    noted = noted || line.starts_with("signer hsm (pkcs11, RS256): ");
  }
  EXPECT_TRUE(noted) << "the start-up notes list the signers";
  auto r = call(http->port(), "GET", "/v1/signers");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  const auto list = r.json().find("signers")->as_array();
  ASSERT_EQ(list.size(), 4u);
  std::vector<std::string> aliases;
  for (const auto& s : list) aliases.push_back(*s.find_string("alias"));
  EXPECT_EQ(aliases, (std::vector<std::string>{"hsm", "p12-ec", "pem-doctor", "pharm"}));
  struct Want {
    std::string source, alg, role;
    bool is_default;
    std::string item;
  };
  const std::map<std::string, Want> want = {{"hsm", {"pkcs11", "RS256", "Medical Doctor", false, "doctor"}},
                                            {"p12-ec", {"pkcs12", "ES256", "Medical Doctor", false, "doctor-ec"}},
                                            {"pem-doctor", {"pem", "RS256", "Medical Doctor", true, "doctor"}},
                                            {"pharm", {"pem", "RS256", "Pharmacist", false, "pharmacist"}}};
  for (const auto& s : list) {
    const Want& w = want.at(*s.find_string("alias"));
    SCOPED_TRACE(*s.find_string("alias"));
    EXPECT_EQ(*s.find_string("source"), w.source);
    EXPECT_EQ(*s.find_string("algorithm"), w.alg);
    EXPECT_EQ(*s.find_string("hcRole"), w.role);
    EXPECT_EQ(s.find("default")->as_bool(), w.is_default);
    const auto cert = first_cert(dev_pki().get(w.item).cert);
    const auto summary = certstore::summarize(cert.get());
    EXPECT_EQ(*s.find_string("subject"), summary.subject);
    EXPECT_EQ(*s.find_string("serialNumber"), summary.serial_hex);
    EXPECT_EQ(*s.find_string("notBefore"), format_rfc3339(summary.not_before));
    EXPECT_EQ(*s.find_string("notAfter"), format_rfc3339(summary.not_after));
    const auto& chain = s.find("certificateChain")->as_array();
    ASSERT_EQ(chain.size(), 2u) << "the signer and the HPKI signing CA";
    auto leaf = ossl::x509_from_der(*base64_decode(chain[0].as_string()));
    ASSERT_TRUE(leaf);
    EXPECT_EQ(X509_cmp(leaf.get(), cert.get()), 0);
    auto ca = ossl::x509_from_der(*base64_decode(chain[1].as_string()));
    ASSERT_TRUE(ca);
    EXPECT_EQ(X509_cmp(ca.get(), first_cert(dev_pki().get("hpki-signing-ca").cert).get()), 0);
  }
  EXPECT_EQ(audit_lines(audit_file()), 1u);
}

TEST_F(NamedSigners, SignsWithThePemPkcs12AndPkcs11SignerNamed) {
  start();
  std::size_t requests = 0;
  struct Case {
    std::string query, item, alg;
  };
  for (const Case& c : std::vector<Case>{{"", "doctor", "RS256"},
                                         {"?signer=pem-doctor", "doctor", "RS256"},
                                         {"?signer=p12-ec", "doctor-ec", "ES256"},
                                         {"?signer=hsm", "doctor", "RS256"}}) {
    SCOPED_TRACE(c.query);
    auto s = post("/v1/sign" + c.query, bundle);
    ++requests;
    ASSERT_EQ(s.status, 200) << s.body;
    auto who = signer_of(s.body);
    ASSERT_TRUE(who);
    EXPECT_EQ(X509_cmp(who.get(), first_cert(dev_pki().get(c.item).cert).get()), 0);
    auto v = post("/v1/verify", s.body);
    ++requests;
    ASSERT_EQ(v.status, 200) << v.body;
    EXPECT_EQ(*v.json().find_string("indication"), "TOTAL-PASSED") << v.body;
  }
  // FHIR XML with the token's key.
  const std::string xml = read_text(data_file("bundles/simple-prescription.xml"));
  auto sx = post("/v1/sign?signer=hsm", xml, "", "application/fhir+xml");
  ++requests;
  ASSERT_EQ(sx.status, 200) << sx.body;
  auto vx = post("/v1/verify", sx.body, "", "application/fhir+xml");
  ++requests;
  EXPECT_EQ(*vx.json().find_string("indication"), "TOTAL-PASSED") << vx.body;
  // The signing-side guard runs on the signer used: the pharmacist may not sign a prescription.
  auto pharm = post("/v1/sign?signer=pharm", bundle);
  ++requests;
  EXPECT_EQ(pharm.status, 422) << pharm.body;
  EXPECT_NE(diagnostics(pharm).find("qualification"), std::string::npos) << pharm.body;
  // Unknown (with authentication off every alias may be asked for): 404; not an alias at all: 400.
  auto unknown = post("/v1/sign?signer=nobody", bundle);
  ++requests;
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_EQ(diagnostics(unknown), "no such signer: nobody");
  auto bad = post("/v1/sign?signer=a%20b", bundle);
  ++requests;
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(audit_lines(audit_file()), requests) << "one audit record per request";
}

TEST_F(NamedSigners, ClientsSeeAndUseOnlyTheirSigners) {
  Idp idp;
  idp.write_jwks(dir);
  config.auth_keys = {
      {"clients.ehr.tokenSubject", "ehr-1"},      {"clients.ehr.scopes", "sign,verify"},
      {"clients.ehr.signers", "pem-doctor,gone"}, {"clients.all.tokenSubject", "all-1"},
      {"clients.all.scopes", "sign"},             {"clients.all.signers", "*"},
      {"clients.none.tokenSubject", "none-1"},    {"clients.none.scopes", "sign"},
      {"auth.jwt.issuer", idp.issuer},            {"auth.jwt.audience", "hanko"},
      {"auth.jwt.jwksFile", idp.jwks_file.string()},
  };
  start();
  const std::string ehr = idp.token("ehr-1", clock.now());
  const std::string all = idp.token("all-1", clock.now());
  const std::string none = idp.token("none-1", clock.now());
  auto aliases = [&](const std::string& token) {
    std::vector<std::string> out;
    auto r = call(http->port(), "GET", "/v1/signers", "", "", token);
    EXPECT_EQ(r.status, 200) << r.body;
    const json::Value list = r.json();
    for (const auto& s : list.find("signers")->as_array()) out.push_back(*s.find_string("alias"));
    return out;
  };
  EXPECT_EQ(aliases(ehr), std::vector<std::string>{"pem-doctor"});
  EXPECT_EQ(aliases(all), (std::vector<std::string>{"hsm", "p12-ec", "pem-doctor", "pharm"}));
  EXPECT_TRUE(aliases(none).empty());
  EXPECT_EQ(call(http->port(), "GET", "/v1/signers").status, 401);
  // ehr: its signer (also as the default) works; another one is 403, whether it exists or not.
  EXPECT_EQ(post("/v1/sign", bundle, ehr).status, 200);
  EXPECT_EQ(post("/v1/sign?signer=pem-doctor", bundle, ehr).status, 200);
  auto other = post("/v1/sign?signer=hsm", bundle, ehr);
  EXPECT_EQ(other.status, 403) << other.body;
  EXPECT_EQ(diagnostics(other), "client ehr may not use the signer hsm");
  EXPECT_EQ(post("/v1/sign?signer=nobody", bundle, ehr).status, 403) << "no hint that it does not exist";
  // A listed alias that is not configured: the client may know it is missing.
  EXPECT_EQ(post("/v1/sign?signer=gone", bundle, ehr).status, 404);
  // all: everything, and 404 for what does not exist.
  EXPECT_EQ(post("/v1/sign?signer=p12-ec", bundle, all).status, 200);
  EXPECT_EQ(post("/v1/sign?signer=nobody", bundle, all).status, 404);
  // none: not even the default, which is not named to it.
  auto no_default = post("/v1/sign", bundle, none);
  EXPECT_EQ(no_default.status, 403);
  EXPECT_EQ(diagnostics(no_default), "client none may not use the default signer");
  // Each request left one record naming the client.
  std::ifstream in(audit_file(), std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 12u);
  EXPECT_NE(lines[6].find("\"value\":\"ehr\""), std::string::npos) << lines[6];
  EXPECT_NE(lines[6].find("may not use the signer hsm"), std::string::npos) << lines[6];
}

TEST_F(NamedSigners, ABadSignerKeyStopsTheServiceNamingTheKey) {
  config.signer_keys["signers.hsm.pinFile"] = (dir / "missing.pin").string();
  auto s = server::Service::create(config, clock);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find("signers.hsm.pinFile"), std::string::npos) << s.error().message;
  config.signer_keys.erase("signers.hsm.pinFile");
  config.signer_keys["signers.hsm.pinEnv"] = "HANKO_TEST_UNSET_PIN_VARIABLE";
  auto e = server::Service::create(config, clock);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message.find("signers.hsm.pinEnv"), std::string::npos) << e.error().message;
}

TEST(Signers, TheLegacySignerIsDefaultAndDevModeOffersBothDoctors) {
  FixedClock clock{sign_time()};
  {
    const auto& d = dev_pki().get("doctor");
    server::ServiceConfig config;
    config.data_dir = temp_dir("signers-legacy");
    config.signer_cert = d.cert.string();
    config.signer_key = d.key.string();
    config.signer_chain = d.chain.string();
    config.trust_dir = dev_pki().trust_dir;
    config.default_level = "B-B";
    auto s = server::Service::create(config, clock);
    ASSERT_TRUE(s) << s.error().message;
    auto list = json::parse((*s)->signers(server::Caller::unauthenticated()).body);
    const auto& items = list->find("signers")->as_array();
    ASSERT_EQ(items.size(), 1u);
    EXPECT_EQ(*items[0].find_string("alias"), "default");
    EXPECT_TRUE(items[0].find("default")->as_bool());
    const std::string body = read_text(data_file("bundles/simple-prescription.json"));
    EXPECT_EQ((*s)->sign("application/fhir+json", body, "signer=default").status, 200);
    EXPECT_EQ((*s)->sign("application/fhir+json", body, "").status, 200);
  }
  {
    server::ServiceConfig config;
    config.data_dir = temp_dir("signers-dev");
    auto s = server::Service::create(config, clock);
    ASSERT_TRUE(s) << s.error().message;
    auto list = json::parse((*s)->signers(server::Caller::unauthenticated()).body);
    const auto& items = list->find("signers")->as_array();
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(*items[0].find_string("alias"), "dev-doctor");
    EXPECT_TRUE(items[0].find("default")->as_bool());
    EXPECT_EQ(*items[1].find_string("alias"), "dev-doctor-ec");
    EXPECT_EQ(*items[1].find_string("algorithm"), "ES256");
    EXPECT_FALSE(items[1].find("default")->as_bool());
    const std::string body = read_text(data_file("bundles/simple-prescription.json"));
    auto signed_ec = (*s)->sign("application/fhir+json", body, "signer=dev-doctor-ec");
    ASSERT_EQ(signed_ec.status, 200) << signed_ec.body;
    auto jws = signer::parse_jws(to_string(*base64_decode(*json::parse(signed_ec.body)->find("signature")->find_string("data"))));
    ASSERT_TRUE(jws);
    EXPECT_EQ(*jws->header.find_string("alg"), "ES256");
    clock.advance(std::chrono::seconds(60));
    auto v = (*s)->verify("application/fhir+json", signed_ec.body, "");
    EXPECT_NE(v.body.find("TOTAL-PASSED"), std::string::npos) << v.body;
  }
}

TEST(Signers, ConfigurationKeys) {
  auto dir = temp_dir("signers-config");
  write_text(dir / "a.properties",
             "signers.doc.source = pem\nsigners.doc.cert = /x.pem\nsigners.doc.key = /x.key\n"
             "signing.sessionTtlSeconds = 120\ntrust.dir = /trust\n");
  auto c = server::load_config((dir / "a.properties").string(), {});
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_FALSE(c->dev) << "a configured signer ends the development default";
  EXPECT_EQ(c->signing_session_ttl_seconds, 120);
  EXPECT_EQ(c->signer_keys.at("signers.doc.source"), "pem");
  auto defaults = server::load_config("", {});
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->signing_session_ttl_seconds, 300);
  EXPECT_TRUE(defaults->dev);
  for (const char* bad : {"5", "86401", "soon"}) {
    auto r = server::load_config("", {{"signing.sessionTtlSeconds", bad}});
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("signing.sessionTtlSeconds"), std::string::npos) << r.error().message;
  }
  auto no_signer = server::load_config("", {{"dev.enabled", "false"}, {"trust.dir", "/trust"}});
  ASSERT_FALSE(no_signer);
  EXPECT_NE(no_signer.error().message.find("signers.*"), std::string::npos) << no_signer.error().message;
  auto half = server::load_config("", {{"signer.cert", "/x.pem"}});
  ASSERT_FALSE(half);
  EXPECT_NE(half.error().message.find("signer.key"), std::string::npos) << half.error().message;
}

}  // namespace
}  // namespace hanko::test
