// Two-step signing (hanko/signer/two_step.h): the halves without a key, a
// signature value made outside hanko (OpenSSL in the test plays the card), the
// stored form, and one-step signing producing the same bytes.
#include "hanko/signer/two_step.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>

#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/common/ossl.h"
#include "hanko/certstore/dev_pki.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/xades.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/token.h"
#include "test_support.h"

namespace hanko::signer {
namespace {

using test::dev_pki;
using test::read_text;
using test::sign_time;

struct Card {
  ossl::X509Ptr cert;
  std::vector<ossl::X509Ptr> chain;
  ossl::EvpPkeyPtr key;
  std::unique_ptr<PemSigningKey> pem;  ///< the same key as hanko's one-step key

  SignerCertificates certificates() const {
    SignerCertificates s;
    s.certificate = cert.get();
    for (const auto& c : chain) s.chain.push_back(c.get());
    return s;
  }
};

Card card(const std::string& id) {
  const auto& item = dev_pki().get(id);
  Card c;
  auto certs = ossl::load_certificates(item.cert.string());
  EXPECT_TRUE(certs && !certs->empty());
  c.cert = std::move(certs->front());
  auto chain = ossl::load_certificates(item.chain.string());
  EXPECT_TRUE(chain);
  c.chain = std::move(*chain);
  auto key = ossl::load_private_key(item.key.string());
  EXPECT_TRUE(key);
  c.key = std::move(*key);
  auto pem = PemSigningKey::load(item.cert.string(), item.key.string(), item.chain.string());
  EXPECT_TRUE(pem) << pem.error().message;
  c.pem = std::move(*pem);
  return c;
}

/**
 * What a card does with the hash: RSA signs the DigestInfo with raw PKCS#1
 * v1.5 padding (CKM_RSA_PKCS), ECDSA signs the hash (CKM_ECDSA; OpenSSL
 * answers DER). Plain OpenSSL, independent of hanko's key code.
 */
Bytes card_sign(EVP_PKEY* key, const Bytes& input) {
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

/** The card's signature over what prepare asked for. */
Bytes card_sign(const Card& c, const PreparedSignature& p) {
  return card_sign(c.key.get(), p.alg == JwsAlg::RS256 ? digest_info(p) : p.hash_to_sign);
}

SignOptions options(Level level = Level::B_B) {
  SignOptions o;
  o.level = level;
  o.signing_time = sign_time();
  return o;
}

json::Value json_bundle() {
  auto b = parse_document_bundle(read_text(test::data_file("bundles/simple-prescription.json")));
  EXPECT_TRUE(b) << b.error().message;
  return std::move(*b);
}

std::string xml_bundle() { return read_text(test::data_file("bundles/simple-prescription.xml")); }

/** Whether OpenSSL verifies a JWS-form value over `data` (RS256, or ES256 r||s) with the certificate. */
bool openssl_verifies(const X509* cert, std::string_view data, const Bytes& value) {
  Bytes der = value;
  if (EVP_PKEY_get_base_id(X509_get0_pubkey(cert)) == EVP_PKEY_EC) {
    auto d = ecdsa_raw_to_der(value);
    if (!d) return false;
    der = *d;
  }
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, X509_get0_pubkey(cert)) == 1 &&
                  EVP_DigestVerify(ctx.get(), der.data(), der.size(), as_bytes(data).data(), data.size()) == 1;
  clear_openssl_errors();
  return ok;
}

TEST(TwoStep, JsonRsaIsByteForByteTheOneStepSignature) {
  const Card c = card("doctor");
  auto prepared = prepare_json_signature(json_bundle(), c.certificates(), options());
  ASSERT_TRUE(prepared) << prepared.error().message;
  EXPECT_EQ(prepared->alg, JwsAlg::RS256);
  EXPECT_EQ(signature_algorithm(*prepared), "RS256");
  ASSERT_TRUE(prepared->json);
  EXPECT_EQ(prepared->hash_to_sign, sha256(prepared->json->jws.signing_input));
  // DigestInfo = the fixed SHA-256 prefix (RFC 8017 section 9.2 note 1) and the hash.
  const Bytes di = digest_info(*prepared);
  ASSERT_EQ(di.size(), 51u);
  EXPECT_EQ(hex(ByteView(di.data(), 19)), "3031300d060960864801650304020105000420");
  EXPECT_EQ(Bytes(di.begin() + 19, di.end()), prepared->hash_to_sign);
  // Bundle.signature is there but for data, which comes last.
  const json::Value* sig = prepared->json->bundle.find("signature");
  ASSERT_NE(sig, nullptr);
  EXPECT_EQ(sig->find("data"), nullptr);

  const Bytes value = card_sign(c, *prepared);
  auto done = complete_signature(std::move(*prepared), value, nullptr);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_EQ(done->format, DocumentFormat::fhir_json);
  // RSASSA-PKCS1-v1_5 is deterministic: one-step signing with the same key gives the same bytes.
  auto one = sign_bundle(json_bundle(), *c.pem, nullptr, options());
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(json::serialize(done->bundle, 2), json::serialize(one->bundle, 2));
  EXPECT_EQ(done->document_sha256_hex, one->canonical_sha256_hex);
}

TEST(TwoStep, XmlRsaIsByteForByteTheOneStepSignatureWithTheSameIds) {
  const Card c = card("doctor");
  SignOptions o = options();
  o.xml_id_suffix = "0123456789abcdef";
  auto prepared = prepare_xml_signature(xml_bundle(), c.certificates(), o);
  ASSERT_TRUE(prepared) << prepared.error().message;
  EXPECT_EQ(signature_algorithm(*prepared), std::string(kXmlDsigRsaSha256));
  ASSERT_TRUE(prepared->xml);
  EXPECT_EQ(prepared->hash_to_sign, sha256(prepared->xml->signed_info_c14n));
  EXPECT_FALSE(prepared->document_identifier.empty());
  const Bytes value = card_sign(c, *prepared);
  auto done = complete_signature(std::move(*prepared), value, nullptr);
  ASSERT_TRUE(done) << done.error().message;
  auto one = sign_xml_bundle(xml_bundle(), *c.pem, nullptr, o);
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(done->bundle_xml, one->bundle_xml);
  // One XML declaration, at the start (the input's own is not copied after it).
  EXPECT_TRUE(done->bundle_xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!--"));
  EXPECT_EQ(done->bundle_xml.find("<?xml", 1), std::string::npos);
  auto core = verify_xades_core(done->bundle_xml);
  ASSERT_TRUE(core) << core.error().message;
  EXPECT_EQ(core->status, XadesStatus::ok) << core->message;
  // Without a suffix the Ids are random, as before.
  auto again = sign_xml_bundle(xml_bundle(), *c.pem, nullptr, options());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->bundle_xml.find("sig-0123456789abcdef"), std::string::npos);
  SignOptions bad = options();
  bad.xml_id_suffix = "a\"b";
  auto refused = prepare_xml_signature(xml_bundle(), c.certificates(), bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::invalid_argument);
}

TEST(TwoStep, EcValueIsAcceptedAsDerOrRawAndStoredAsRaw) {
  const Card c = card("doctor-ec");
  for (bool as_der : {true, false}) {
    auto prepared = prepare_json_signature(json_bundle(), c.certificates(), options());
    ASSERT_TRUE(prepared) << prepared.error().message;
    EXPECT_EQ(prepared->alg, JwsAlg::ES256);
    EXPECT_EQ(digest_info(*prepared).size(), 51u);
    const std::string input = prepared->json->jws.signing_input;
    Bytes der = card_sign(c, *prepared);
    ASSERT_EQ(der.front(), 0x30) << "OpenSSL answers DER";
    Bytes sent = der;
    if (!as_der) {
      auto raw = ecdsa_der_to_raw(der, 32);
      ASSERT_TRUE(raw);
      sent = *raw;
    }
    auto checked = check_signature_value(*prepared, sent);
    ASSERT_TRUE(checked) << checked.error().message;
    EXPECT_EQ(checked->size(), 64u);
    auto done = complete_signature(std::move(*prepared), sent, nullptr);
    ASSERT_TRUE(done) << done.error().message;
    auto jws = parse_jws(to_string(*base64_decode(*done->bundle.find("signature")->find_string("data"))));
    ASSERT_TRUE(jws) << jws.error().message;
    EXPECT_EQ(jws->signature.size(), 64u);
    EXPECT_EQ(*jws->header.find_string("alg"), "ES256");
    EXPECT_TRUE(openssl_verifies(c.cert.get(), input, jws->signature));
  }
  // XML: ecdsa-sha256 with r||s in ds:SignatureValue; the core verifies.
  auto prepared = prepare_xml_signature(xml_bundle(), c.certificates(), options());
  ASSERT_TRUE(prepared) << prepared.error().message;
  EXPECT_EQ(signature_algorithm(*prepared), std::string(kXmlDsigEcdsaSha256));
  auto done = complete_signature(std::move(*prepared), card_sign(c, *prepared), nullptr);
  ASSERT_TRUE(done) << done.error().message;
  auto core = verify_xades_core(done->bundle_xml);
  ASSERT_TRUE(core) << core.error().message;
  EXPECT_EQ(core->status, XadesStatus::ok) << core->message;
}

TEST(TwoStep, AValueFromAnotherKeyOrOfTheWrongShapeIsRefused) {
  const Card doctor = card("doctor");
  const Card dentist = card("dentist");  // another RSA key of the same size
  auto prepared = prepare_json_signature(json_bundle(), doctor.certificates(), options());
  ASSERT_TRUE(prepared) << prepared.error().message;
  // The right key passes...
  ASSERT_TRUE(check_signature_value(*prepared, card_sign(doctor, *prepared)));
  // ...another key does not, and the message names the certificate.
  auto other = check_signature_value(*prepared, card_sign(dentist, *prepared));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, Errc::policy);
  EXPECT_NE(other.error().message.find("does not verify"), std::string::npos) << other.error().message;
  EXPECT_NE(other.error().message.find("Yamada Taro"), std::string::npos) << other.error().message;
  // The right key over other bytes does not either.
  Bytes other_hash = prepared->hash_to_sign;
  other_hash[0] ^= 1;
  auto over_other = check_signature_value(*prepared, card_sign(doctor.key.get(), certstore::sha256_digest_info(other_hash)));
  ASSERT_FALSE(over_other);
  EXPECT_EQ(over_other.error().code, Errc::policy);
  // A value of the wrong length is malformed.
  auto short_value = check_signature_value(*prepared, Bytes(255, 1));
  ASSERT_FALSE(short_value);
  EXPECT_EQ(short_value.error().code, Errc::invalid_argument);
  auto refused = complete_signature(std::move(*prepared), card_sign(dentist, *prepared), nullptr);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::policy);
  // EC: garbage is neither r||s nor DER; a P-256 value of another key does not verify.
  const Card ec = card("doctor-ec");
  auto ec_prepared = prepare_json_signature(json_bundle(), ec.certificates(), options());
  ASSERT_TRUE(ec_prepared);
  auto garbage = check_signature_value(*ec_prepared, Bytes(70, 0x30));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, Errc::invalid_argument);
  ossl::EvpPkeyPtr stranger(EVP_EC_gen("P-256"));
  auto foreign = check_signature_value(*ec_prepared, card_sign(stranger.get(), ec_prepared->hash_to_sign));
  ASSERT_FALSE(foreign);
  EXPECT_EQ(foreign.error().code, Errc::policy);
}

TEST(TwoStep, OnlyAllowListedCertificateKeysArePrepared) {
  // RSA-1024 (the dev PKI's "weak" item may be missing in old fixtures: make one here).
  ossl::EvpPkeyPtr small(EVP_RSA_gen(1024));
  ossl::X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(cert.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("small"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), small.get());
  ASSERT_GT(X509_sign(cert.get(), small.get(), EVP_sha256()), 0);
  SignerCertificates s;
  s.certificate = cert.get();
  auto refused = prepare_json_signature(json_bundle(), s, options());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::policy);
  // The usual refusals of sign_bundle hold too: a signed Bundle without replace.
  const Card c = card("doctor");
  auto signed_once = sign_bundle(json_bundle(), *c.pem, nullptr, options());
  ASSERT_TRUE(signed_once);
  auto again = prepare_json_signature(signed_once->bundle, c.certificates(), options());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::already_signed);
  SignOptions replace = options();
  replace.replace = true;
  EXPECT_TRUE(prepare_json_signature(signed_once->bundle, c.certificates(), replace));
}

TEST(TwoStep, TheStoredFormCompletesToTheSameBytesAndDetectsChanges) {
  const Card c = card("doctor");
  for (bool xml : {false, true}) {
    SignOptions o = options();
    o.xml_id_suffix = "stored";
    auto prepared = xml ? prepare_xml_signature(xml_bundle(), c.certificates(), o)
                        : prepare_json_signature(json_bundle(), c.certificates(), o);
    ASSERT_TRUE(prepared) << prepared.error().message;
    const Bytes value = card_sign(c, *prepared);
    const std::string stored = json::serialize(to_json(*prepared));
    EXPECT_EQ(stored.find("signingInput"), std::string::npos);
    auto back = prepared_signature_from_json(*json::parse(stored));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->hash_to_sign, prepared->hash_to_sign);
    EXPECT_EQ(back->signing_time, prepared->signing_time);
    EXPECT_EQ(back->document_identifier, prepared->document_identifier);
    auto direct = complete_signature(std::move(*prepared), value, nullptr);
    auto via_store = complete_signature(std::move(*back), value, nullptr);
    ASSERT_TRUE(direct) << direct.error().message;
    ASSERT_TRUE(via_store) << via_store.error().message;
    if (xml) {
      EXPECT_EQ(via_store->bundle_xml, direct->bundle_xml);
    } else {
      EXPECT_EQ(json::serialize(via_store->bundle), json::serialize(direct->bundle));
    }
    // A stored state whose document, signed properties or header changed is refused, not completed.
    std::vector<std::pair<std::string, std::string>> edits = {{"東京 太郎", "大阪 花子"}};
    if (xml) {
      edits.emplace_back("SigningTime>2026", "SigningTime>2027");  // SignedProperties
      edits.emplace_back("Algorithm=\\\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                         "Algorithm=\\\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512");  // SignedInfo
    } else {
      edits.emplace_back("\"protected\":\"eyJ", "\"protected\":\"eyK");  // the JWS header
    }
    for (const auto& [from, to] : edits) {
      std::string changed = stored;
      const auto at = changed.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      changed.replace(at, from.size(), to);
      auto tampered = prepared_signature_from_json(*json::parse(changed));
      ASSERT_FALSE(tampered) << from;
      EXPECT_EQ(tampered.error().code, Errc::internal);
    }
  }
  EXPECT_FALSE(prepared_signature_from_json(*json::parse("{\"format\":\"other\"}")));
}

TEST(TwoStep, BtIsTimestampedAtCompletionOverTheSignatureValue) {
  const Card c = card("doctor-ec");
  const auto& t = dev_pki().get("tsa");
  FixedClock tsa_clock{sign_time() + std::chrono::seconds(30)};
  auto dev = tsa::DevTsa::load(t.cert.string(), t.key.string(), t.chain.string(), tsa_clock);
  ASSERT_TRUE(dev) << dev.error().message;
  tsa::InProcessTsa source(**dev);
  auto prepared = prepare_json_signature(json_bundle(), c.certificates(), options(Level::B_T));
  ASSERT_TRUE(prepared) << prepared.error().message;
  const Bytes value = card_sign(c, *prepared);
  // No TSA: refused (the value is fine).
  PreparedSignature copy = *prepared_signature_from_json(to_json(*prepared));
  auto without = complete_signature(std::move(copy), value, nullptr);
  ASSERT_FALSE(without);
  EXPECT_EQ(without.error().code, Errc::invalid_argument);
  auto done = complete_signature(std::move(*prepared), value, &source);
  ASSERT_TRUE(done) << done.error().message;
  auto jws = parse_jws(to_string(*base64_decode(*done->bundle.find("signature")->find_string("data"))));
  ASSERT_TRUE(jws) << jws.error().message;
  ASSERT_EQ(jws->etsi_u.size(), 1u);
  const std::string* tst = jws->etsi_u[0].find("sigTst")->find("tstTokens")->as_array()[0].find_string("val");
  ASSERT_NE(tst, nullptr);
  auto info = tsa::parse_token(*base64_decode(*tst));
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->imprint, sha256(jws->signature_b64));
}

}  // namespace
}  // namespace hanko::signer
