// Authentication and authorization of REST clients (server/src/auth.h): the
// clients.* / auth.* parser, JWKS parsing, JWT verification (every claim and
// header rule with a passing and a failing case), the Authenticator's choice
// between bearer tokens and client certificates, and the route → scope table,
// which must match docs/security.md. Keys and certificates are generated here
// with OpenSSL; tokens are signed here with EVP. Time is pinned.
#include <gtest/gtest.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <random>
#include <set>

#include "auth.h"
#include "hanko/common/base64.h"
#include "hanko/common/bytes.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/signing_key.h"
#include "test_support.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;
using server::AccessRule;
using server::AuthConfig;
using server::Authenticator;
using server::AuthRequest;
using server::Jwks;
using server::JwtSettings;
using server::Principal;

constexpr std::string_view kIssuer = "https://idp.example/realms/hospital";
constexpr std::string_view kAudience = "hanko";

TimePoint now() { return utc(2026, 3, 1, 9, 0, 0); }
long long now_s() { return static_cast<long long>(to_unix(now())); }

// ---- Keys, JWKS, tokens, certificates -------------------------------------------------

ossl::EvpPkeyPtr rsa_key(unsigned bits) { return ossl::EvpPkeyPtr(EVP_RSA_gen(bits)); }
ossl::EvpPkeyPtr ec_key(const char* curve) { return ossl::EvpPkeyPtr(EVP_EC_gen(curve)); }

std::string b64(ByteView b) { return base64url_encode(b); }
std::string b64(std::string_view s) { return base64url_encode(as_bytes(s)); }

Bytes bn_param(const EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &raw), 1) << name;
  ossl::BignumPtr bn(raw);
  Bytes out(pad > 0 ? static_cast<std::size_t>(pad) : static_cast<std::size_t>(BN_num_bytes(bn.get())));
  if (pad > 0) {
    BN_bn2binpad(bn.get(), out.data(), pad);
  } else {
    BN_bn2bin(bn.get(), out.data());
  }
  return out;
}

/** The public JWK of `key` as a JSON object. */
json::Value jwk(const EVP_PKEY* key, std::string_view kid) {
  json::Value k{json::Object{}};
  if (EVP_PKEY_is_a(key, "RSA")) {
    k.set("kty", "RSA");
    k.set("n", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_N)));
    k.set("e", b64(bn_param(key, OSSL_PKEY_PARAM_RSA_E)));
  } else {
    char group[64] = {};
    std::size_t len = 0;
    EXPECT_EQ(EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len), 1);
    const bool p384 = std::string_view(group) == "secp384r1";
    const int size = p384 ? 48 : 32;
    k.set("kty", "EC");
    k.set("crv", p384 ? "P-384" : "P-256");
    k.set("x", b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, size)));
    k.set("y", b64(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, size)));
  }
  if (!kid.empty()) {
    k.set("kid", std::string(kid));
  }
  return k;
}

std::string jwks_json(std::vector<json::Value> keys) {
  json::Value doc{json::Object{}};
  doc.set("keys", json::Array(std::move(keys)));
  return json::serialize(doc);
}

Bytes evp_sign(EVP_PKEY* key, std::string_view input) {
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EXPECT_EQ(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key), 1);
  std::size_t len = 0;
  EXPECT_EQ(EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
  Bytes sig(len);
  EXPECT_EQ(EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()), input.size()), 1);
  sig.resize(len);
  return sig;
}

/** A compact JWS over `header` and `payload` (JSON texts), signed with `key` as `alg` says. */
std::string sign_jwt(std::string_view header, std::string_view payload, EVP_PKEY* key, bool raw_ecdsa = true) {
  const std::string input = b64(header) + "." + b64(payload);
  Bytes sig = evp_sign(key, input);
  if (EVP_PKEY_is_a(key, "EC") && raw_ecdsa) {
    auto raw = signer::ecdsa_der_to_raw(sig, 32);
    EXPECT_TRUE(raw.has_value());
    sig = *raw;
  }
  return input + "." + b64(sig);
}

std::string header(std::string_view alg, std::string_view kid) {
  json::Value h{json::Object{}};
  h.set("alg", std::string(alg));
  h.set("typ", "JWT");
  if (!kid.empty()) {
    h.set("kid", std::string(kid));
  }
  return json::serialize(h);
}

json::Value claims(std::string_view sub = "ehr1-service") {
  json::Value c{json::Object{}};
  c.set("iss", std::string(kIssuer));
  c.set("aud", std::string(kAudience));
  c.set("sub", std::string(sub));
  c.set("iat", now_s() - 10);
  c.set("exp", now_s() + 300);
  return c;
}

JwtSettings settings() {
  JwtSettings s;
  s.issuer = std::string(kIssuer);
  s.audience = std::string(kAudience);
  return s;
}

/** Flips one bit of the base64url text at `pos` (keeping it valid base64url). */
std::string flip_char(std::string s, std::size_t pos) {
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  return s;
}

ossl::X509Ptr make_cert(const std::vector<std::pair<std::string, std::string>>& subject, EVP_PKEY* key, long serial = 1) {
  ossl::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  ossl::Asn1TimePtr nb = ossl::timepoint_to_asn1(utc(2026, 1, 1));
  ossl::Asn1TimePtr na = ossl::timepoint_to_asn1(utc(2027, 1, 1));
  X509_set1_notBefore(cert.get(), nb.get());
  X509_set1_notAfter(cert.get(), na.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  for (const auto& [type, value] : subject) {
    X509_NAME_add_entry_by_txt(name, type.c_str(), MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                               static_cast<int>(value.size()), -1, 0);
  }
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);
  EXPECT_GT(X509_sign(cert.get(), key, EVP_sha256()), 0);
  return cert;
}

std::string public_pem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

/** Keys shared by the suites (RSA generation is slow): made once. */
struct Keys {
  ossl::EvpPkeyPtr rsa = rsa_key(2048);
  ossl::EvpPkeyPtr rsa2 = rsa_key(2048);
  ossl::EvpPkeyPtr ec = ec_key("P-256");
  ossl::EvpPkeyPtr client = ec_key("P-256");
};
Keys& keys() {
  static Keys k;
  return k;
}

/** A JWKS with the RSA key "rsa-1" and the EC key "ec-1". */
Jwks standard_jwks() {
  auto j = Jwks::parse(jwks_json({jwk(keys().rsa.get(), "rsa-1"), jwk(keys().ec.get(), "ec-1")}));
  EXPECT_TRUE(j.has_value()) << j.error().message;
  return *j;
}

Result<server::JwtClaims> verify(const std::string& token, const JwtSettings& s = settings()) {
  return server::verify_jwt(token, standard_jwks(), s, now());
}

std::string rs256(const json::Value& c, std::string_view kid = "rsa-1") {
  return sign_jwt(header("RS256", kid), json::serialize(c), keys().rsa.get());
}
std::string es256(const json::Value& c, std::string_view kid = "ec-1") {
  return sign_jwt(header("ES256", kid), json::serialize(c), keys().ec.get());
}

#define EXPECT_REFUSED(result, fragment)                                                   \
  do {                                                                                     \
    const auto& r_ = (result);                                                             \
    ASSERT_FALSE(r_.has_value()) << "accepted, expected: " << (fragment);                 \
    EXPECT_NE(r_.error().message.find(fragment), std::string::npos) << r_.error().message; \
  } while (0)

// ---- JWT ------------------------------------------------------------------------------

TEST(AuthJwt, ValidRs256) {
  auto c = verify(rs256(claims()));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->subject, "ehr1-service");
  EXPECT_EQ(c->issuer, kIssuer);
  EXPECT_EQ(c->alg, "RS256");
  EXPECT_EQ(c->kid, "rsa-1");
  EXPECT_EQ(c->expires, now() + std::chrono::seconds(300));
}

TEST(AuthJwt, ValidEs256) {
  auto c = verify(es256(claims()));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->alg, "ES256");
  EXPECT_EQ(c->kid, "ec-1");
}

TEST(AuthJwt, WithoutKidTheOnlyKeyOfTheAlgsType) {
  auto c = verify(rs256(claims(), ""));
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->kid, "rsa-1");
  // Two RSA keys: a token without kid is ambiguous.
  auto two = Jwks::parse(jwks_json({jwk(keys().rsa.get(), "rsa-1"), jwk(keys().rsa2.get(), "rsa-2")}));
  ASSERT_TRUE(two.has_value());
  EXPECT_REFUSED(server::verify_jwt(rs256(claims(), ""), *two, settings(), now()), "several keys for RS256");
  EXPECT_TRUE(server::verify_jwt(rs256(claims(), "rsa-1"), *two, settings(), now()).has_value());
}

TEST(AuthJwt, Expired) {
  auto c = claims();
  c.set("exp", now_s() - 120);  // skew is 60
  EXPECT_REFUSED(verify(rs256(c)), "the token expired at 2026-03-01T08:58:00Z");
  c.set("exp", now_s() - 60);  // now == exp + skew: refused
  EXPECT_REFUSED(verify(rs256(c)), "expired");
}

TEST(AuthJwt, ExpiredButWithinSkew) {
  auto c = claims();
  c.set("exp", now_s() - 59);
  EXPECT_TRUE(verify(rs256(c)).has_value());
  auto strict = settings();
  strict.clock_skew = std::chrono::seconds(0);
  EXPECT_REFUSED(verify(rs256(c), strict), "expired");
}

TEST(AuthJwt, NotBeforeInTheFuture) {
  auto c = claims();
  c.set("nbf", now_s() + 120);
  EXPECT_REFUSED(verify(rs256(c)), "not valid before 2026-03-01T09:02:00Z");
  c.set("nbf", now_s() + 30);  // within skew
  EXPECT_TRUE(verify(rs256(c)).has_value());
}

TEST(AuthJwt, IssuedInTheFuture) {
  auto c = claims();
  c.set("iat", now_s() + 120);
  EXPECT_REFUSED(verify(rs256(c)), "issued in the future");
  c.set("iat", now_s() + 60);  // exactly the skew: accepted
  EXPECT_TRUE(verify(rs256(c)).has_value());
}

TEST(AuthJwt, WrongIssuer) {
  auto c = claims();
  c.set("iss", "https://evil.example");
  EXPECT_REFUSED(verify(rs256(c)), "iss is not the configured issuer");
  c.erase("iss");
  EXPECT_REFUSED(verify(rs256(c)), "iss is missing");
}

TEST(AuthJwt, WrongAudience) {
  auto c = claims();
  c.set("aud", "someone-else");
  EXPECT_REFUSED(verify(rs256(c)), "aud does not contain the configured audience");
  c.set("aud", json::Array{"a", "b"});
  EXPECT_REFUSED(verify(rs256(c)), "aud does not contain");
  c.erase("aud");
  EXPECT_REFUSED(verify(rs256(c)), "aud is missing");
}

TEST(AuthJwt, AudienceArrayContainingIt) {
  auto c = claims();
  c.set("aud", json::Array{"account", std::string(kAudience)});
  EXPECT_TRUE(verify(rs256(c)).has_value());
  c.set("aud", json::Array{"account", 7});
  EXPECT_REFUSED(verify(rs256(c)), "not a string");
}

TEST(AuthJwt, MissingExp) {
  auto c = claims();
  c.erase("exp");
  EXPECT_REFUSED(verify(rs256(c)), "claim exp is missing");
}

TEST(AuthJwt, DatesMustBeNumbers) {
  auto c = claims();
  c.set("exp", std::to_string(now_s() + 300));
  EXPECT_REFUSED(verify(rs256(c)), "claim exp is not a number");
  c = claims();
  c.set("nbf", "yesterday");
  EXPECT_REFUSED(verify(rs256(c)), "claim nbf is not a number");
  c = claims();
  c.set("exp", json::Number{"1e400"});
  EXPECT_REFUSED(verify(rs256(c)), "claim exp is not a date");
  c = claims();
  c.set("exp", json::Number{std::to_string(now_s() + 300) + ".5"});  // NumericDate may be fractional
  EXPECT_TRUE(verify(rs256(c)).has_value());
}

TEST(AuthJwt, MissingSub) {
  auto c = claims();
  c.erase("sub");
  EXPECT_REFUSED(verify(rs256(c)), "claim sub is missing");
  c.set("sub", "");
  EXPECT_REFUSED(verify(rs256(c)), "claim sub is missing");
}

TEST(AuthJwt, AlgNone) {
  const std::string token = b64(R"({"alg":"none"})") + "." + b64(json::serialize(claims())) + ".";
  EXPECT_REFUSED(verify(token), "alg none (an unsigned token) is not accepted");
}

TEST(AuthJwt, Hs256WithThePublicKeyAsSecret) {
  // The classic confusion: a verifier that takes the key type from the token
  // would check an HMAC keyed with the RSA public key it already trusts.
  const std::string secret = public_pem(keys().rsa.get());
  const std::string input = b64(header("HS256", "rsa-1")) + "." + b64(json::serialize(claims()));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  ASSERT_NE(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                 reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len),
            nullptr);
  const std::string token = input + "." + b64(ByteView(mac, mac_len));
  EXPECT_REFUSED(verify(token), "alg HS256 (a shared-secret MAC) is not accepted");
  // Other algorithms: named when known, never echoed otherwise.
  const std::string ps = b64(header("PS256", "rsa-1")) + "." + b64(json::serialize(claims())) + ".AAAA";
  EXPECT_REFUSED(verify(ps), "alg PS256 is not accepted");
  const std::string odd = b64(header("X<script>", "rsa-1")) + "." + b64(json::serialize(claims())) + ".AAAA";
  auto r = verify(odd);
  EXPECT_REFUSED(r, "the header alg is not one of RS256, ES256");
  EXPECT_EQ(r.error().message.find("script"), std::string::npos);
}

TEST(AuthJwt, Rs256HeaderWithAnEcKeysKid) {
  // Signed with the EC key, but the header claims RS256 and names the EC key.
  const std::string token = sign_jwt(header("RS256", "ec-1"), json::serialize(claims()), keys().ec.get());
  EXPECT_REFUSED(verify(token), "the token's kid names an EC P-256 key, which cannot verify RS256");
  const std::string back = sign_jwt(header("ES256", "rsa-1"), json::serialize(claims()), keys().rsa.get());
  EXPECT_REFUSED(verify(back), "names an RSA key, which cannot verify ES256");
}

TEST(AuthJwt, UnknownKid) {
  EXPECT_REFUSED(verify(rs256(claims(), "rsa-9")), "no key of the JWKS has the token's kid");
  // Signed by a key the JWKS does not hold, under a kid it does hold.
  const std::string token = sign_jwt(header("RS256", "rsa-1"), json::serialize(claims()), keys().rsa2.get());
  EXPECT_REFUSED(verify(token), "the signature does not verify");
}

TEST(AuthJwt, TamperedPayload) {
  const std::string good = rs256(claims("ehr1-service"));
  const std::string other = rs256(claims("admin-service"));
  // The payload of one token with the signature of the other.
  const auto d1 = good.find('.');
  const auto d2 = good.find('.', d1 + 1);
  const auto o1 = other.find('.');
  const auto o2 = other.find('.', o1 + 1);
  const std::string spliced = good.substr(0, d1 + 1) + other.substr(o1 + 1, o2 - o1 - 1) + good.substr(d2);
  EXPECT_TRUE(verify(good).has_value());
  EXPECT_REFUSED(verify(spliced), "the signature does not verify");
  const std::string es = es256(claims());
  EXPECT_REFUSED(verify(flip_char(es, es.find('.') + 5)), "the signature does not verify");
}

TEST(AuthJwt, TamperedSignature) {
  const std::string rs = rs256(claims());
  EXPECT_REFUSED(verify(flip_char(rs, rs.size() - 10)), "the signature does not verify");
  const std::string es = es256(claims());
  EXPECT_REFUSED(verify(flip_char(es, es.size() - 10)), "the signature does not verify");
}

TEST(AuthJwt, Es256SignatureMustBeRawRS) {
  // A DER ECDSA signature instead of the 64-byte R||S of RFC 7518 section 3.4.
  const std::string der = sign_jwt(header("ES256", "ec-1"), json::serialize(claims()), keys().ec.get(), false);
  EXPECT_REFUSED(verify(der), "an ES256 signature is 64 bytes");
}

TEST(AuthJwt, PaddingAndBadBase64url) {
  const std::string token = rs256(claims());
  const auto d1 = token.find('.');
  const auto d2 = token.find('.', d1 + 1);
  EXPECT_REFUSED(verify(token + "="), "the signature is not base64url");
  EXPECT_REFUSED(verify(token.substr(0, d2) + "=" + token.substr(d2)), "the payload is not base64url");
  std::string std_alphabet = token;
  std_alphabet[d1 + 3] = '+';
  EXPECT_REFUSED(verify(std_alphabet), "the payload is not base64url");
  std::string header_bad = token;
  header_bad[2] = '/';
  EXPECT_REFUSED(verify(header_bad), "the header is not base64url");
  EXPECT_REFUSED(verify(" " + token), "the header is not base64url");
}

TEST(AuthJwt, PartCount) {
  const std::string token = rs256(claims());
  EXPECT_REFUSED(verify(token.substr(0, token.rfind('.'))), "a JWT has three base64url parts separated by '.', this token has 2");
  EXPECT_REFUSED(verify(token + ".x"), "this token has 4");
  EXPECT_REFUSED(verify("a.b.c.d.e"), "an encrypted token (JWE, five parts) is not accepted");
  EXPECT_REFUSED(verify(""), "this token has 1");
}

TEST(AuthJwt, OversizedToken) {
  auto c = claims();
  c.set("filler", std::string(9000, 'x'));
  auto r = verify(rs256(c));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::too_large);
  EXPECT_EQ(r.error().message, "the token is longer than 8192 bytes");
  auto big = settings();
  big.max_token_bytes = 65536;
  EXPECT_TRUE(verify(rs256(c), big).has_value());
}

TEST(AuthJwt, CritHeader) {
  const std::string h = R"({"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1})";
  EXPECT_REFUSED(verify(sign_jwt(h, json::serialize(claims()), keys().rsa.get())), "the header has crit");
}

TEST(AuthJwt, HeaderMustBeJsonObject) {
  const std::string token = b64("[1]") + "." + b64(json::serialize(claims())) + ".AAAA";
  EXPECT_REFUSED(verify(token), "the header is not a JSON object");
  const std::string dup = sign_jwt(R"({"alg":"RS256","alg":"none"})", json::serialize(claims()), keys().rsa.get());
  EXPECT_REFUSED(verify(dup), "the header is not a JSON object");
}

TEST(AuthJwt, MutatedTokensGiveErrorsNotCrashes) {
  // Deterministic mutations of a valid token: every changed token is refused
  // with a message, none is accepted, nothing crashes.
  const std::string good = es256(claims());
  const Jwks jwks = standard_jwks();
  std::mt19937 rng(20260301);
  const std::string alphabet = "ABCabc019-_.=+/ \x01\xff{}\"";
  for (int i = 0; i < 2000; ++i) {
    std::string t = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const std::size_t pos = rng() % t.size();
      switch (rng() % 3) {
        case 0: t[pos] = alphabet[rng() % alphabet.size()]; break;
        case 1: t.erase(pos, 1 + rng() % 8); break;
        default: t.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
      }
      if (t.empty()) {
        t = ".";
      }
    }
    auto r = server::verify_jwt(t, jwks, settings(), now());
    if (t == good) {
      EXPECT_TRUE(r.has_value());
    } else {
      ASSERT_FALSE(r.has_value()) << "mutation " << i << " accepted";
      EXPECT_FALSE(r.error().message.empty());
    }
  }
  // Deep nesting in the header stays within the parser's depth limit.
  const std::string deep = b64(std::string(500, '[') + std::string(500, ']')) + "." + b64("{}") + ".AAAA";
  EXPECT_REFUSED(server::verify_jwt(deep, jwks, settings(), now()), "the header is not a JSON object");
}

// ---- JWKS -----------------------------------------------------------------------------

TEST(AuthJwks, AcceptsRsaAndP256) {
  auto j = Jwks::parse(jwks_json({jwk(keys().rsa.get(), "rsa-1"), jwk(keys().ec.get(), "ec-1")}));
  ASSERT_TRUE(j.has_value()) << j.error().message;
  ASSERT_EQ(j->keys().size(), 2u);
  EXPECT_EQ(j->keys()[0].type, server::JwkType::rsa);
  EXPECT_EQ(j->keys()[0].bits, 2048);
  EXPECT_EQ(j->keys()[1].type, server::JwkType::ec_p256);
  EXPECT_TRUE(j->notes().empty());
}

TEST(AuthJwks, Rsa1024Refused) {
  auto small = rsa_key(1024);
  EXPECT_REFUSED(Jwks::parse(jwks_json({jwk(small.get(), "old")})), "JWKS key 1 (kid old): RSA key of 1024 bits; at least 2048");
}

TEST(AuthJwks, P384Skipped) {
  auto p384 = ec_key("P-384");
  auto j = Jwks::parse(jwks_json({jwk(p384.get(), "ec-384"), jwk(keys().ec.get(), "ec-1")}));
  ASSERT_TRUE(j.has_value()) << j.error().message;
  ASSERT_EQ(j->keys().size(), 1u);
  EXPECT_EQ(j->keys()[0].kid, "ec-1");
  ASSERT_EQ(j->notes().size(), 1u);
  EXPECT_EQ(j->notes()[0], "JWKS key 1 (kid ec-384) skipped: curve P-384 is not supported (only P-256)");
}

TEST(AuthJwks, NoUsableKey) {
  auto p384 = ec_key("P-384");
  EXPECT_REFUSED(Jwks::parse(jwks_json({jwk(p384.get(), "ec-384")})), "the JWKS has no usable key");
  EXPECT_REFUSED(Jwks::parse(R"({"keys":[]})"), "the JWKS has no usable key");
  EXPECT_REFUSED(Jwks::parse(R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})"), "kty OKP is not supported");
}

TEST(AuthJwks, PrivateMemberRefused) {
  auto k = jwk(keys().rsa.get(), "rsa-1");
  k.set("d", "AAAA");
  EXPECT_REFUSED(Jwks::parse(jwks_json({k})),
                 "JWKS key 1 (kid rsa-1): member \"d\" is private key material; the JWKS must hold public keys only");
  // A symmetric key is a secret too (and would invite HS256).
  EXPECT_REFUSED(Jwks::parse(R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})"), "member \"k\" is private key material");
  auto e = jwk(keys().ec.get(), "ec-1");
  e.set("d", "AAAA");
  EXPECT_REFUSED(Jwks::parse(jwks_json({jwk(keys().rsa.get(), "rsa-1"), e})), "JWKS key 2 (kid ec-1): member \"d\"");
}

TEST(AuthJwks, MalformedJson) {
  EXPECT_REFUSED(Jwks::parse(R"({"keys":[)"), "the JWKS is not JSON");
  EXPECT_REFUSED(Jwks::parse(R"([1,2])"), "not an object with a \"keys\" array");
  EXPECT_REFUSED(Jwks::parse(R"({"keys":{}})"), "not an object with a \"keys\" array");
  EXPECT_REFUSED(Jwks::parse(R"({"keys":[1]})"), "JWKS key 1 is not an object");
  EXPECT_REFUSED(Jwks::parse(R"({"keys":[{"kty":"RSA","n":"AA==","e":"AQAB"}]})"), "member \"n\" is not base64url");
  EXPECT_REFUSED(Jwks::parse(R"({"keys":[{"kty":"EC","crv":"P-256","x":"AAAA"}]})"), "member \"y\" is missing");
}

TEST(AuthJwks, OffCurvePoint) {
  auto k = jwk(keys().ec.get(), "ec-1");
  auto y = *base64url_decode(*k.find_string("y"));
  y[31] ^= 0x01;
  k.set("y", b64(y));
  EXPECT_REFUSED(Jwks::parse(jwks_json({k})), "JWKS key 1 (kid ec-1): (x, y) is not a point on the P-256 curve");
  auto short_x = jwk(keys().ec.get(), "ec-1");
  short_x.set("x", b64(Bytes(31, 1)));
  EXPECT_REFUSED(Jwks::parse(jwks_json({short_x})), "must be 32 bytes each");
}

TEST(AuthJwks, UseAndAlgMembers) {
  auto enc = jwk(keys().rsa2.get(), "enc-1");
  enc.set("use", "enc");
  auto sig = jwk(keys().rsa.get(), "rsa-1");
  sig.set("use", "sig");
  sig.set("alg", "RS256");
  auto ps = jwk(keys().rsa2.get(), "ps-1");
  ps.set("alg", "PS256");
  auto j = Jwks::parse(jwks_json({enc, sig, ps}));
  ASSERT_TRUE(j.has_value()) << j.error().message;
  ASSERT_EQ(j->keys().size(), 1u);
  EXPECT_EQ(j->keys()[0].alg, "RS256");
  ASSERT_EQ(j->notes().size(), 2u);
  EXPECT_NE(j->notes()[0].find("use is 'enc', not 'sig'"), std::string::npos);
  EXPECT_NE(j->notes()[1].find("alg PS256 is not used"), std::string::npos);

  auto mismatch = jwk(keys().rsa.get(), "rsa-1");
  mismatch.set("alg", "ES256");
  EXPECT_REFUSED(Jwks::parse(jwks_json({mismatch})), "alg ES256 does not fit an RSA key");
  auto ec_mismatch = jwk(keys().ec.get(), "ec-1");
  ec_mismatch.set("alg", "RS256");
  EXPECT_REFUSED(Jwks::parse(jwks_json({ec_mismatch})), "alg RS256 does not fit an EC key");
}

TEST(AuthJwks, DuplicateKidRefused) {
  EXPECT_REFUSED(Jwks::parse(jwks_json({jwk(keys().rsa.get(), "k"), jwk(keys().ec.get(), "k")})),
                 "the kid is used by an earlier key");
}

TEST(AuthJwks, LoadFromFileBounded) {
  const fs::path dir = temp_dir("auth-jwks");
  write_text(dir / "jwks.json", jwks_json({jwk(keys().ec.get(), "ec-1")}));
  auto j = Jwks::load(dir / "jwks.json");
  ASSERT_TRUE(j.has_value()) << j.error().message;
  EXPECT_EQ(j->keys().size(), 1u);

  write_text(dir / "big.json", std::string(server::kMaxJwksBytes + 1, ' '));
  auto big = Jwks::load(dir / "big.json");
  ASSERT_FALSE(big.has_value());
  EXPECT_EQ(big.error().code, Errc::too_large);
  EXPECT_FALSE(Jwks::load(dir / "missing.json").has_value());
  EXPECT_EQ(Jwks::parse(std::string(server::kMaxJwksBytes + 1, ' ')).error().code, Errc::too_large);
}

// ---- Configuration --------------------------------------------------------------------

std::map<std::string, std::string> base_keys() {
  return {
      {"clients.ehr1.certSubject", "CN=ehr1, O=Example Hospital, C=JP"},
      {"clients.ehr1.scopes", "sign, verify"},
      {"clients.ehr1.signers", "doctor,pharmacist"},
      {"clients.batch.tokenSubject", "batch-service"},
      {"clients.batch.scopes", "verify,archive.read"},
      {"clients.ops.certSha256", std::string(32, 'a') + ":" + std::string(32, 'B')},
      {"clients.ops.scopes", "admin"},
      {"clients.ops.signers", "*"},
      {"auth.jwt.issuer", std::string(kIssuer)},
      {"auth.jwt.audience", std::string(kAudience)},
      {"auth.jwt.jwksFile", "/etc/hanko/jwks.json"},
      {"policy.rules", "ignored-here"},
  };
}

const server::ClientConfig* client(const AuthConfig& c, std::string_view id) {
  for (const auto& cl : c.clients) {
    if (cl.id == id) {
      return &cl;
    }
  }
  return nullptr;
}

TEST(AuthConfigParse, FullConfiguration) {
  auto c = server::auth_config_from(base_keys());
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_TRUE(c->enabled());
  EXPECT_TRUE(c->accepts_tokens());
  ASSERT_EQ(c->clients.size(), 3u);
  EXPECT_EQ(c->clients[0].id, "batch");  // ordered by id
  const auto* ehr1 = client(*c, "ehr1");
  ASSERT_NE(ehr1, nullptr);
  EXPECT_EQ(ehr1->cert_subject, "CN=ehr1,O=Example Hospital,C=JP");
  EXPECT_EQ(ehr1->scopes, (std::vector<std::string>{"sign", "verify"}));
  EXPECT_EQ(ehr1->signers, (std::vector<std::string>{"doctor", "pharmacist"}));
  const auto* ops = client(*c, "ops");
  ASSERT_NE(ops, nullptr);
  EXPECT_EQ(hex(ops->cert_sha256), std::string(64, 'a').replace(32, 32, std::string(32, 'b')));
  EXPECT_EQ(ops->signers, (std::vector<std::string>{"*"}));
  const auto* batch = client(*c, "batch");
  ASSERT_NE(batch, nullptr);
  EXPECT_TRUE(batch->signers.empty());  // default: none
  EXPECT_EQ(c->jwt.clock_skew, std::chrono::seconds(60));
  EXPECT_EQ(c->jwt.max_token_bytes, 8192u);
  EXPECT_EQ(c->jwt.jwks_file, "/etc/hanko/jwks.json");
}

TEST(AuthConfigParse, NoClientsMeansDisabled) {
  auto c = server::auth_config_from({{"policy.rules", "x"}});
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->enabled());
  EXPECT_FALSE(c->accepts_tokens());
}

void expect_config_error(std::map<std::string, std::string> keys, std::string_view message) {
  auto c = server::auth_config_from(keys);
  ASSERT_FALSE(c.has_value()) << "accepted, expected: " << message;
  EXPECT_EQ(c.error().message, message);
}

TEST(AuthConfigParse, ErrorsNameTheKey) {
  auto k = base_keys();
  k["clients.ehr1.scopes"] = "sign,foo";
  expect_config_error(k, "configuration key clients.ehr1.scopes: 'foo' is not one of sign, verify, archive.read, archive.write, admin");

  k = base_keys();
  k["clients.ehr1.scopes"] = "sign,,verify";
  expect_config_error(k, "configuration key clients.ehr1.scopes: empty item in the comma-separated list 'sign,,verify'");

  k = base_keys();
  k["clients.ehr1.scope"] = "sign";
  expect_config_error(k, "configuration key clients.ehr1.scope: unknown client setting 'scope' (known: certSubject, "
                         "certSha256, tokenSubject, scopes, signers)");

  k = base_keys();
  k["clients.e/hr.scopes"] = "sign";
  expect_config_error(k, "configuration key clients.e/hr.scopes: 'e/hr' is not a client id ([A-Za-z0-9._-]+)");

  k = base_keys();
  k["clients.lonely"] = "x";
  expect_config_error(k, "configuration key clients.lonely: expected clients.<id>.<setting> (certSubject, certSha256, "
                         "tokenSubject, scopes, signers)");

  k = base_keys();
  k["clients.nocred.scopes"] = "sign";
  expect_config_error(k, "configuration key clients.nocred: the client needs a credential: certSubject, certSha256 or tokenSubject");

  k = base_keys();
  k["clients.ops.certSha256"] = "abcd";
  expect_config_error(k, "configuration key clients.ops.certSha256: 'abcd' is not a hex SHA-256 fingerprint (64 hex digits, colons allowed)");
  k["clients.ops.certSha256"] = std::string(63, 'a') + "g";
  EXPECT_FALSE(server::auth_config_from(k).has_value());

  k = base_keys();
  k["clients.ops.signers"] = "*,doctor";
  expect_config_error(k, "configuration key clients.ops.signers: * (every signer) cannot be combined with aliases");
  k["clients.ops.signers"] = "doc tor";
  expect_config_error(k, "configuration key clients.ops.signers: 'doc tor' is not a signer alias ([A-Za-z0-9._-]+) or *");

  k = base_keys();
  k["clients.ehr1.certSubject"] = "CN";
  expect_config_error(k, "configuration key clients.ehr1.certSubject: expected TYPE=value (e.g. CN=ehr1,O=Example Hospital,C=JP)");
  k["clients.ehr1.certSubject"] = "CN=ehr1,C=JPN";
  expect_config_error(k, "configuration key clients.ehr1.certSubject: the value of C is not valid for that attribute "
                         "(e.g. C needs two letters, CN at most 64 characters)");
  k["clients.ehr1.certSubject"] = "CN=ehr1,bogusAttr=x";
  expect_config_error(k, "configuration key clients.ehr1.certSubject: 'bogusAttr' is not a known attribute type or dotted OID");

  k = base_keys();
  k["clients.other.tokenSubject"] = "batch-service";
  expect_config_error(k, "configuration key clients.other.tokenSubject: the same subject is configured for client batch");

  k = base_keys();
  k["clients.twin.certSubject"] = "CN=ehr1,O=Example Hospital,C=JP";
  expect_config_error(k, "configuration key clients.twin.certSubject: the same subject is configured for client ehr1");
}

TEST(AuthConfigParse, JwtKeys) {
  auto k = base_keys();
  k.erase("auth.jwt.issuer");
  expect_config_error(k, "configuration key auth.jwt.issuer: required because client batch has a tokenSubject");
  k = base_keys();
  k.erase("auth.jwt.jwksFile");
  expect_config_error(k, "configuration key auth.jwt.jwksFile: required because client batch has a tokenSubject");
  k = base_keys();
  k.erase("auth.jwt.audience");
  expect_config_error(k, "configuration key auth.jwt.audience: required because client batch has a tokenSubject");

  k = base_keys();
  k["auth.jwt.clockSkewSeconds"] = "601";
  expect_config_error(k, "configuration key auth.jwt.clockSkewSeconds: '601' is not an integer from 0 to 600");
  k["auth.jwt.clockSkewSeconds"] = "0";
  k["auth.jwt.maxTokenBytes"] = "16384";
  auto c = server::auth_config_from(k);
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->jwt.clock_skew, std::chrono::seconds(0));
  EXPECT_EQ(c->jwt.max_token_bytes, 16384u);
  k["auth.jwt.maxTokenBytes"] = "8k";
  expect_config_error(k, "configuration key auth.jwt.maxTokenBytes: '8k' is not an integer from 512 to 65536");

  k = base_keys();
  k["auth.jwt.issuers"] = "x";
  expect_config_error(k, "configuration key auth.jwt.issuers: unknown key (known: auth.jwt.issuer, auth.jwt.audience, "
                         "auth.jwt.jwksFile, auth.jwt.clockSkewSeconds, auth.jwt.maxTokenBytes)");
}

TEST(AuthConfigParse, SubjectNormalisation) {
  auto cert = make_cert({{"C", "JP"}, {"O", "Example, Inc."}, {"OU", "病院"}, {"CN", "ehr 1"}}, keys().client.get());
  const std::string printed = ossl::name_to_string(X509_get_subject_name(cert.get()));
  for (std::string_view written : {"CN=ehr 1,OU=病院,O=Example\\, Inc.,C=JP", "cn=ehr 1, ou=病院, o=\"Example, Inc.\", c=JP",
                                   "commonName=ehr 1,organizationalUnitName=病院,O=Example\\2C Inc.,2.5.4.6=JP"}) {
    auto n = server::normalize_subject_dn(written);
    ASSERT_TRUE(n.has_value()) << written << ": " << n.error().message;
    EXPECT_EQ(*n, printed) << written;
  }
  // Order matters: RFC 2253 lists the most specific RDN first.
  auto reversed = server::normalize_subject_dn("C=JP,O=Example\\, Inc.,OU=病院,CN=ehr 1");
  ASSERT_TRUE(reversed.has_value());
  EXPECT_NE(*reversed, printed);
  EXPECT_FALSE(server::normalize_subject_dn("CN=a\\qb").has_value());
  EXPECT_FALSE(server::normalize_subject_dn("CN=\"open").has_value());
  EXPECT_FALSE(server::normalize_subject_dn("CN=#0403616263").has_value());
  EXPECT_FALSE(server::normalize_subject_dn("CN=").has_value());
  EXPECT_FALSE(server::normalize_subject_dn("").has_value());
}

// ---- Authenticator --------------------------------------------------------------------

struct Fixture {
  ossl::X509Ptr ehr1 = make_cert({{"C", "JP"}, {"O", "Example Hospital"}, {"CN", "ehr1"}}, keys().client.get(), 1);
  ossl::X509Ptr ops = make_cert({{"C", "JP"}, {"O", "Example Hospital"}, {"CN", "ops"}}, keys().client.get(), 2);
  ossl::X509Ptr stranger = make_cert({{"C", "JP"}, {"O", "Elsewhere"}, {"CN", "ehr1"}}, keys().client.get(), 3);
  std::optional<Authenticator> auth;

  Fixture() {
    auto k = base_keys();
    k["clients.ops.certSha256"] = hex(ossl::cert_sha256(ops.get()));
    auto config = server::auth_config_from(k);
    EXPECT_TRUE(config.has_value()) << config.error().message;
    auto a = Authenticator::create(*config, standard_jwks());
    EXPECT_TRUE(a.has_value()) << a.error().message;
    auth.emplace(std::move(*a));
  }

  server::AuthOutcome run(const X509* cert, std::string_view authorization) const {
    return auth->authenticate(AuthRequest{cert, authorization}, now());
  }
};

std::string bearer_for(std::string_view sub) { return "Bearer " + rs256(claims(sub)); }

TEST(AuthAuthenticator, CertificateByFingerprint) {
  Fixture f;
  auto o = f.run(f.ops.get(), "");
  ASSERT_TRUE(o.ok()) << o.failure().reason;
  EXPECT_EQ(o.principal().client_id, "ops");
  EXPECT_EQ(o.principal().method, "tls-client-certificate");
  EXPECT_EQ(o.principal().subject, "CN=ops,O=Example Hospital,C=JP");
  EXPECT_EQ(o.principal().scopes, (std::vector<std::string>{"admin"}));
}

TEST(AuthAuthenticator, CertificateBySubject) {
  Fixture f;
  auto o = f.run(f.ehr1.get(), "");
  ASSERT_TRUE(o.ok()) << o.failure().reason;
  EXPECT_EQ(o.principal().client_id, "ehr1");
  EXPECT_EQ(o.principal().subject, "CN=ehr1,O=Example Hospital,C=JP");
}

TEST(AuthAuthenticator, UnknownCertificate) {
  Fixture f;
  auto o = f.run(f.stranger.get(), "");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.failure().http_status, 401);
  EXPECT_EQ(o.failure().www_authenticate, "Bearer realm=\"hanko\"");
  EXPECT_EQ(o.failure().reason, "the client certificate is not configured for any client");
  EXPECT_EQ(o.failure().subject, "CN=ehr1,O=Elsewhere,C=JP");
}

TEST(AuthAuthenticator, FingerprintAndSubjectMustBothMatch) {
  Fixture f;
  auto k = base_keys();
  k["clients.ops.certSha256"] = hex(ossl::cert_sha256(f.ops.get()));
  k["clients.ops.certSubject"] = "CN=someone else,C=JP";
  auto config = server::auth_config_from(k);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  auto a = Authenticator::create(*config, standard_jwks());
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->authenticate(AuthRequest{f.ops.get(), ""}, now()).ok());
  k["clients.ops.certSubject"] = "CN=ops,O=Example Hospital,C=JP";
  auto both = Authenticator::create(*server::auth_config_from(k), standard_jwks());
  ASSERT_TRUE(both.has_value());
  EXPECT_TRUE(both->authenticate(AuthRequest{f.ops.get(), ""}, now()).ok());
}

TEST(AuthAuthenticator, BearerToken) {
  Fixture f;
  auto o = f.run(nullptr, bearer_for("batch-service"));
  ASSERT_TRUE(o.ok()) << o.failure().reason;
  EXPECT_EQ(o.principal().client_id, "batch");
  EXPECT_EQ(o.principal().subject, "batch-service");
  EXPECT_EQ(o.principal().method, "bearer-jwt");
  EXPECT_EQ(o.principal().scopes, (std::vector<std::string>{"verify", "archive.read"}));
  // The scheme is case-insensitive; extra spaces are tolerated.
  EXPECT_TRUE(f.run(nullptr, "bEaReR   " + rs256(claims("batch-service"))).ok());
  // A valid token wins over a certificate of another client.
  auto both = f.run(f.ehr1.get(), bearer_for("batch-service"));
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both.principal().client_id, "batch");
}

TEST(AuthAuthenticator, InvalidBearerWithMatchingCertificateIs401) {
  Fixture f;
  auto c = claims("batch-service");
  c.set("exp", now_s() - 3600);
  auto o = f.run(f.ehr1.get(), "Bearer " + rs256(c));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.failure().http_status, 401);
  EXPECT_EQ(o.failure().www_authenticate,
            "Bearer realm=\"hanko\", error=\"invalid_token\", error_description=\"the token expired at 2026-03-01T08:00:00Z\"");
  EXPECT_EQ(o.failure().reason, "the token expired at 2026-03-01T08:00:00Z");
}

TEST(AuthAuthenticator, TokenSubjectOfNoClient) {
  Fixture f;
  auto o = f.run(nullptr, bearer_for("ehr1-service"));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.failure().reason, "the token's subject is not a configured client");
  EXPECT_EQ(o.failure().subject, "ehr1-service");
  EXPECT_NE(o.failure().www_authenticate.find("error=\"invalid_token\""), std::string::npos);
}

TEST(AuthAuthenticator, NoCredentials) {
  Fixture f;
  auto o = f.run(nullptr, "");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.failure().http_status, 401);
  EXPECT_EQ(o.failure().www_authenticate, "Bearer realm=\"hanko\"");
  EXPECT_EQ(o.failure().reason, "no credentials");
}

TEST(AuthAuthenticator, OtherSchemesAndEmptyTokens) {
  Fixture f;
  auto basic = f.run(f.ehr1.get(), "Basic ZWhyMTpzZWNyZXQ=");
  ASSERT_FALSE(basic.ok());
  EXPECT_EQ(basic.failure().www_authenticate, "Bearer realm=\"hanko\"");
  EXPECT_EQ(basic.failure().reason, "the Authorization header does not use the Bearer scheme");
  EXPECT_EQ(basic.failure().reason.find("ZWhy"), std::string::npos);
  auto empty = f.run(nullptr, "Bearer   ");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.failure().www_authenticate,
            "Bearer realm=\"hanko\", error=\"invalid_token\", error_description=\"the Bearer token is empty\"");
  EXPECT_FALSE(f.run(nullptr, "Bearertoken").ok());
}

TEST(AuthAuthenticator, ChallengeNeverCarriesTokenBytes) {
  Fixture f;
  const std::string token = es256(claims("batch-service"));
  const std::string tampered = flip_char(token, token.size() - 3);
  auto o = f.run(nullptr, "Bearer " + tampered);
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.failure().www_authenticate,
            "Bearer realm=\"hanko\", error=\"invalid_token\", error_description=\"the signature does not verify\"");
  for (const auto& part : {tampered.substr(0, 12), tampered.substr(tampered.size() - 12)}) {
    EXPECT_EQ(o.failure().www_authenticate.find(part), std::string::npos);
    EXPECT_EQ(o.failure().reason.find(part), std::string::npos);
  }
}

TEST(AuthAuthenticator, TokensRefusedWhenNoClientHasTokenSubject) {
  auto config = server::auth_config_from({{"clients.ehr1.certSubject", "CN=ehr1"}});
  ASSERT_TRUE(config.has_value());
  auto a = Authenticator::create(*config);  // reads no JWKS
  ASSERT_TRUE(a.has_value()) << a.error().message;
  auto o = a->authenticate(AuthRequest{nullptr, bearer_for("batch-service")}, now());
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.failure().reason, "bearer tokens are not accepted (no client has a tokenSubject)");
}

TEST(AuthAuthenticator, CreateLoadsTheJwksFile) {
  const fs::path dir = temp_dir("auth-create");
  write_text(dir / "jwks.json", jwks_json({jwk(keys().rsa.get(), "rsa-1")}));
  auto k = base_keys();
  k["auth.jwt.jwksFile"] = (dir / "jwks.json").string();
  auto a = Authenticator::create(*server::auth_config_from(k));
  ASSERT_TRUE(a.has_value()) << a.error().message;
  EXPECT_TRUE(a->authenticate(AuthRequest{nullptr, bearer_for("batch-service")}, now()).ok());
  k["auth.jwt.jwksFile"] = (dir / "absent.json").string();
  auto missing = Authenticator::create(*server::auth_config_from(k));
  ASSERT_FALSE(missing.has_value());
  EXPECT_TRUE(missing.error().message.starts_with("configuration key auth.jwt.jwksFile: cannot open")) << missing.error().message;
}

TEST(AuthAuthenticator, InsufficientScopeChallenge) {
  EXPECT_EQ(server::insufficient_scope_challenge("sign"),
            "Bearer realm=\"hanko\", error=\"insufficient_scope\", scope=\"sign\"");
}

// ---- Authorization --------------------------------------------------------------------

struct RouteCase {
  std::string_view method;
  std::string_view path;
  bool is_public;
  std::string_view scope;
};

TEST(AuthRoutes, EachRoutesScope) {
  const RouteCase cases[] = {
      {"GET", "/healthz", true, ""},
      {"HEAD", "/healthz", true, ""},
      {"GET", "/openapi.json", true, ""},
      {"GET", "/metrics", true, ""},
      {"POST", "/v1/sign", false, "sign"},
      {"POST", "/v1/sign?level=B-T", false, "sign"},
      {"POST", "/v1/sign/prepare", false, "sign"},
      {"POST", "/v1/sign/complete", false, "sign"},
      {"POST", "/v1/extend", false, "sign"},
      {"GET", "/v1/signers", false, "sign"},
      {"POST", "/v1/verify", false, "verify"},
      {"GET", "/v1/archive", false, "archive.read"},
      {"GET", "/v1/archive/abc/evidence", false, "archive.read"},
      {"POST", "/v1/archive", false, "archive.write"},
      {"PUT", "/v1/archive/abc", false, "archive.write"},
      {"DELETE", "/v1/archive/abc", false, "archive.write"},
      {"GET", "/v1/trust", false, "admin"},
      {"POST", "/v1/trust/anchors", false, "admin"},
      {"GET", "/v1/registry/x", false, "admin"},
      {"DELETE", "/v1/keys/doctor", false, "admin"},
      {"POST", "/v1/admin/reload", false, "admin"},
      {"GET", "/v1/nothing", false, ""},
      {"GET", "/v1/sign", false, ""},
      {"POST", "/healthz", false, ""},
      {"GET", "/v1/trustee", false, ""},
      {"GET", "/", false, ""},
  };
  for (const auto& c : cases) {
    const auto a = server::route_access(c.method, c.path, false);
    EXPECT_TRUE(a.canonical) << c.method << " " << c.path;
    EXPECT_EQ(a.is_public, c.is_public) << c.method << " " << c.path;
    EXPECT_EQ(a.scope, c.scope) << c.method << " " << c.path;
  }
}

TEST(AuthRoutes, MetricsToggle) {
  EXPECT_TRUE(server::route_access("GET", "/metrics", false).is_public);
  const auto p = server::route_access("GET", "/metrics", true);
  EXPECT_FALSE(p.is_public);
  EXPECT_EQ(p.scope, "admin");
  EXPECT_TRUE(server::route_access("GET", "/healthz", true).is_public);
}

TEST(AuthRoutes, NonCanonicalPaths) {
  for (std::string_view path : {"/v1//trust", "/v1/archive/../trust", "/v1/./trust", "v1/sign", "/v1/sign/", "",
                                "/v1/trust\\x", "/v1/a\nb", "/.."}) {
    const auto a = server::route_access("GET", path, false);
    EXPECT_FALSE(a.canonical) << path;
    EXPECT_FALSE(a.is_public) << path;
  }
  EXPECT_TRUE(server::route_access("GET", "/v1/archive/a.b", false).canonical);
}

TEST(AuthRoutes, TableEndsWithCatchAll) {
  const auto rules = server::access_rules(false);
  ASSERT_FALSE(rules.empty());
  EXPECT_EQ(rules.back().method, "*");
  EXPECT_EQ(rules.back().pattern, "*");
  for (const auto& r : rules) {
    if (!r.scope.empty()) {
      EXPECT_TRUE(std::find(std::begin(server::kAllScopes), std::end(server::kAllScopes), r.scope) !=
                  std::end(server::kAllScopes))
          << r.pattern;
    }
  }
}

TEST(AuthRoutes, HasScope) {
  Principal p{"ehr1", "CN=ehr1", "tls-client-certificate", {"sign", "verify"}, {}};
  EXPECT_TRUE(server::has_scope(p, "sign"));
  EXPECT_TRUE(server::has_scope(p, "verify"));
  EXPECT_FALSE(server::has_scope(p, "admin"));
  EXPECT_FALSE(server::has_scope(p, "sig"));
  Principal admin{"ops", "CN=ops", "tls-client-certificate", {"admin"}, {"*"}};
  EXPECT_FALSE(server::has_scope(admin, "sign"));  // no hierarchy
}

TEST(AuthRoutes, MayUseSigner) {
  Principal listed{"ehr1", "CN=ehr1", "tls-client-certificate", {"sign"}, {"doctor", "pharmacist"}};
  EXPECT_TRUE(server::may_use_signer(listed, "doctor"));
  EXPECT_TRUE(server::may_use_signer(listed, "pharmacist"));
  EXPECT_FALSE(server::may_use_signer(listed, "nurse"));
  EXPECT_FALSE(server::may_use_signer(listed, "doc"));
  Principal any{"ops", "CN=ops", "tls-client-certificate", {"sign"}, {"*"}};
  EXPECT_TRUE(server::may_use_signer(any, "nurse"));
  Principal none{"batch", "batch", "bearer-jwt", {"sign"}, {}};
  EXPECT_FALSE(server::may_use_signer(none, "doctor"));
}

/** docs/security.md shows the access table: one row per rule, /metrics with both settings. */
TEST(AuthRoutes, DocsTableMatchesTheCode) {
  const std::string doc = read_text(source_dir() / "docs" / "security.md");
  auto cell = [](const AccessRule& r) -> std::string {
    if (r.is_public) {
      return "public";
    }
    return r.scope.empty() ? "any authenticated client" : "`" + std::string(r.scope) + "`";
  };
  const auto open = server::access_rules(false);
  const auto closed = server::access_rules(true);
  ASSERT_EQ(open.size(), closed.size());
  std::size_t rows = 0;
  for (std::size_t i = 0; i < open.size(); ++i) {
    std::string access = cell(open[i]);
    if (cell(closed[i]) != access) {
      access += "; " + cell(closed[i]) + " when `metrics.protected`";
    }
    const std::string row = "| `" + std::string(open[i].method) + "` | `" + std::string(open[i].pattern) + "` | " + access + " |";
    EXPECT_NE(doc.find(row + "\n"), std::string::npos) << "docs/security.md lacks the row\n" << row;
    ++rows;
  }
  // And no extra rows: count the table lines between the markers.
  const auto begin = doc.find("| Method | Path | Access |");
  ASSERT_NE(begin, std::string::npos);
  std::size_t count = 0;
  std::size_t pos = doc.find('\n', doc.find('\n', begin) + 1) + 1;  // after the header and separator
  while (pos < doc.size() && doc[pos] == '|') {
    ++count;
    pos = doc.find('\n', pos) + 1;
  }
  EXPECT_EQ(count, rows);
}

}  // namespace
}  // namespace hanko::test
