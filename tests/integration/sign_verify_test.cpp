// Sign then verify a FHIR JSON document Bundle end to end, at B-B and B-T,
// with every check passing once and failing once.
#include "fixture.h"

#include "hanko/certstore/cert_info.h"
#include "hanko/common/base64.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/jades.h"
#include "report_schema.h"

namespace hanko::test {
namespace {

using verifier::Indication;
using verifier::SubIndication;

constexpr auto kVerifyDelay = std::chrono::hours(1);

const json::Value& signature_of(const json::Value& b) { return *b.find("signature"); }

std::string jws_of(const json::Value& b) {
  auto raw = base64_decode(*signature_of(b).find_string("data"));
  EXPECT_TRUE(raw);
  return raw ? to_string(*raw) : std::string();
}

/** Puts `jws` back into Bundle.signature.data. */
json::Value with_jws(json::Value b, const std::string& jws) {
  b.find("signature")->set("data", json::Value(base64_encode(as_bytes(jws))));
  return b;
}

class SignVerify : public EndToEnd {};

TEST_F(SignVerify, BaselineBPassesAndReportsSigner) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  const auto& sig = signature_of(signed_b);
  EXPECT_EQ(*sig.find_string("sigFormat"), "application/jose");
  EXPECT_EQ(*sig.find_string("targetFormat"), "application/fhir+json;canonicalization=urn:ietf:rfc:8785");
  EXPECT_EQ(*sig.find_string("when"), "2026-01-16T09:30:00.000Z");
  EXPECT_EQ(*sig.find("who")->find_string("reference"), "urn:uuid:7d3b1c2e-5f6a-4b7c-8d9e-0f1a2b3c4d5e");
  const auto& coding = sig.find("type")->as_array().front();
  EXPECT_EQ(*coding.find_string("system"), "urn:iso-astm:E1762-95:2013");
  EXPECT_EQ(*coding.find_string("code"), "1.2.840.10065.1.12.1.1");
  std::string jws = jws_of(signed_b);
  EXPECT_NE(jws.find(".."), std::string::npos) << "B-B is the compact detached form header..signature";

  auto r = verify(signed_b, sign_time() + kVerifyDelay);
  expect_valid_report(verifier::to_json(r));
  ASSERT_EQ(r.signatures.size(), 1u);
  const auto& s = r.signatures.front();
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  EXPECT_EQ(s.format, "JAdES-BASELINE-B");
  EXPECT_EQ(s.algorithm, "RS256");
  ASSERT_TRUE(s.role);
  EXPECT_EQ(*s.role, "Medical Doctor");
  EXPECT_TRUE(s.non_repudiation);
  ASSERT_TRUE(s.claimed_signing_time);
  EXPECT_EQ(*s.claimed_signing_time, sign_time());
  EXPECT_TRUE(s.timestamps.empty());
  EXPECT_EQ(s.signature_type, "1.2.840.10065.1.12.1.1");
  EXPECT_EQ(r.document_identifier, "1311234567-2026-00000001");
  ASSERT_TRUE(s.signer);
  EXPECT_NE(s.signer->issuer.find("HPKI"), std::string::npos) << s.signer->issuer;
}

TEST_F(SignVerify, ProtectedHeaderFollowsTheProfile) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto parsed = signer::parse_jws(jws_of(signed_b));
  ASSERT_TRUE(parsed) << parsed.error().message;
  const auto& h = parsed->header;
  EXPECT_EQ(*h.find_string("alg"), "RS256");
  ASSERT_TRUE(h.find("x5c"));
  EXPECT_EQ(h.find("x5c")->as_array().size(), 2u) << "signer then the signing CA";
  EXPECT_TRUE(h.find_string("x5t#S256"));
  ASSERT_TRUE(h.find("iat"));
  EXPECT_EQ(h.find("iat")->as_number().literal, std::to_string(to_unix(sign_time())));
  EXPECT_EQ(h.find("sigT"), nullptr) << "iat replaces sigT; never both";
  EXPECT_EQ(h.find("crit"), nullptr) << "no sigD or b64, so no crit";
  const auto& cm = h.find("srCms")->as_array().front();
  EXPECT_EQ(*cm.find("commId")->find_string("id"), "urn:oid:1.2.840.10065.1.12.1.1");
  EXPECT_TRUE(parsed->payload_b64.empty()) << "detached payload";
}

TEST_F(SignVerify, BaselineTCarriesAVerifiedTimestamp) {
  tsa_clock.set(sign_time() + std::chrono::seconds(2));
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_T, sign_time());
  std::string jws = jws_of(signed_b);
  ASSERT_EQ(jws.front(), '{') << "B-T uses the flattened JSON serialization";
  auto parsed = signer::parse_jws(jws);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->etsi_u.size(), 1u);
  ASSERT_TRUE(parsed->etsi_u.front().find("sigTst"));

  auto r = verify(signed_b, sign_time() + kVerifyDelay);
  expect_valid_report(verifier::to_json(r));
  const auto& s = r.signatures.front();
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  EXPECT_EQ(s.format, "JAdES-BASELINE-T");
  ASSERT_EQ(s.timestamps.size(), 1u);
  EXPECT_EQ(s.timestamps.front().indication, verifier::BlockIndication::passed) << s.timestamps.front().message;
  ASSERT_TRUE(s.timestamps.front().gen_time);
  EXPECT_EQ(*s.timestamps.front().gen_time, sign_time() + std::chrono::seconds(2));
  ASSERT_TRUE(s.best_signature_time);
  EXPECT_EQ(*s.best_signature_time, sign_time() + std::chrono::seconds(2));
}

TEST_F(SignVerify, ChangedDocumentFails) {
  for (auto level : {signer::Level::B_B, signer::Level::B_T}) {
    auto signed_b = sign(bundle(), "doctor", level, sign_time());
    auto changed = edit_json(signed_b, "1回1錠 1日1回 朝食後", "1回2錠 1日1回 朝食後");
    auto r = verify(changed, sign_time() + kVerifyDelay);
    expect_valid_report(verifier::to_json(r));
    EXPECT_EQ(r.indication, Indication::total_failed) << verifier::to_text(r);
    EXPECT_EQ(r.sub_indication, SubIndication::sig_crypto_failure);
  }
}

TEST_F(SignVerify, ChangedNumberFormatFailsUnderFhirCanonicalization) {
  // FHIR R4 canonical JSON keeps numbers as written: 1.0 and 1 differ.
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time(), &signer::fhir_json());
  EXPECT_EQ(*signature_of(signed_b).find_string("targetFormat"),
            "application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json#document");
  EXPECT_EQ(verify(signed_b, sign_time() + kVerifyDelay).indication, Indication::total_passed);
  auto changed = edit_json(signed_b, "\"value\":1.0,", "\"value\":1,");
  EXPECT_EQ(verify(changed, sign_time() + kVerifyDelay).indication, Indication::total_failed);
}

TEST_F(SignVerify, JcsIgnoresNumberSpellingButNotValues) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  // RFC 8785 formats 1.0 as 1: the same number written differently still verifies.
  auto respelled = edit_json(signed_b, "\"value\":1.0,", "\"value\":1,");
  EXPECT_EQ(verify(respelled, sign_time() + kVerifyDelay).indication, Indication::total_passed);
  auto changed = edit_json(signed_b, "\"value\":28,", "\"value\":29,");
  EXPECT_EQ(verify(changed, sign_time() + kVerifyDelay).indication, Indication::total_failed);
}

TEST_F(SignVerify, RootIdAndMetaAreNotSigned) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto changed = edit_json(signed_b, "test-bundle-1", "another-id");
  changed = edit_json(changed, "2026-01-16T09:00:00+09:00\",\"profile", "2026-01-17T00:00:00+09:00\",\"profile");
  EXPECT_EQ(verify(changed, sign_time() + kVerifyDelay).indication, Indication::total_passed);
}

TEST_F(SignVerify, UntrustedSignerIsIndeterminateNoChain) {
  static const auto other = [] {
    auto r = certstore::generate_dev_pki(temp_dir("other-pki"), pki_time());
    EXPECT_TRUE(r) << r.error().message;
    return *r;
  }();
  const auto& item = other.get("doctor");
  auto k = signer::PemSigningKey::load(item.cert.string(), item.key.string(), item.chain.string());
  ASSERT_TRUE(k);
  signer::SignOptions opts;
  opts.level = signer::Level::B_B;
  opts.signing_time = sign_time();
  auto signed_b = signer::sign_bundle(bundle(), **k, nullptr, opts);
  ASSERT_TRUE(signed_b);
  auto r = verify(signed_b->bundle, sign_time() + kVerifyDelay);
  expect_valid_report(verifier::to_json(r));
  EXPECT_EQ(r.indication, Indication::indeterminate) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::no_certificate_chain_found);
  ASSERT_FALSE(r.signatures.front().errors.empty());
  EXPECT_NE(r.signatures.front().errors.front().find("trust anchor"), std::string::npos);
}

TEST_F(SignVerify, EveryDevRoleIsReported) {
  // The test Bundle is a prescription: only doctors and dentists may sign it
  // (the default qualification policy); every role is reported all the same.
  struct Row {
    std::string id;
    std::optional<std::string> role;
    Indication indication;
  };
  const std::vector<Row> roles = {{"doctor", "Medical Doctor", Indication::total_passed},
                                  {"dentist", "Dentist", Indication::total_passed},
                                  {"pharmacist", "Pharmacist", Indication::indeterminate},
                                  {"nurse", "Nurse", Indication::indeterminate},
                                  {"doctor-ec", "Medical Doctor", Indication::total_passed},
                                  {"no-role", std::nullopt, Indication::indeterminate}};
  for (const auto& [id, role, indication] : roles) {
    auto r = verify(sign(bundle(), id, signer::Level::B_B, sign_time()), sign_time() + kVerifyDelay);
    EXPECT_EQ(r.indication, indication) << id << "\n" << verifier::to_text(r);
    if (indication != Indication::total_passed) {
      EXPECT_EQ(r.sub_indication, SubIndication::sig_constraints_failure) << id;
    }
    EXPECT_EQ(r.signatures.front().role, role) << id;
    auto j = verifier::to_json(r);
    expect_valid_report(j);
  }
}

TEST_F(SignVerify, Es256RoundTrip) {
  auto signed_b = sign(bundle(), "doctor-ec", signer::Level::B_T, sign_time());
  auto r = verify(signed_b, sign_time() + kVerifyDelay);
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  EXPECT_EQ(r.signatures.front().algorithm, "ES256");
  auto parsed = signer::parse_jws(jws_of(signed_b));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->signature.size(), 64u) << "ES256 is R||S, not DER";
}

TEST_F(SignVerify, AlreadySignedIsRefusedUnlessReplace) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto k = key("dentist");
  signer::SignOptions opts;
  opts.level = signer::Level::B_B;
  opts.signing_time = sign_time();
  auto again = signer::sign_bundle(signed_b, *k, nullptr, opts);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::already_signed);
  opts.replace = true;
  auto replaced = signer::sign_bundle(signed_b, *k, nullptr, opts);
  ASSERT_TRUE(replaced) << replaced.error().message;
  auto r = verify(replaced->bundle, sign_time() + kVerifyDelay);
  EXPECT_EQ(r.indication, Indication::total_passed);
  EXPECT_EQ(r.signatures.front().role, "Dentist");
}

TEST_F(SignVerify, SignatureTypeOption) {
  auto k = key("doctor");
  signer::SignOptions opts;
  opts.level = signer::Level::B_B;
  opts.signing_time = sign_time();
  opts.signature_type = "1.2.840.10065.1.12.1.5";
  auto r = signer::sign_bundle(bundle(), *k, nullptr, opts);
  ASSERT_TRUE(r);
  EXPECT_EQ(verify(r->bundle, sign_time()).signatures.front().signature_type, "1.2.840.10065.1.12.1.5");
  opts.signature_type = "1.2.840.10065.1.12.1.19";
  auto bad = signer::sign_bundle(bundle(), *k, nullptr, opts);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
}

TEST_F(SignVerify, BaselineTWithoutTsaIsAnError) {
  auto k = key("doctor");
  signer::SignOptions opts;
  opts.level = signer::Level::B_T;
  opts.signing_time = sign_time();
  auto r = signer::sign_bundle(bundle(), *k, nullptr, opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

TEST_F(SignVerify, UnreachableTsaIsANetworkError) {
  tsa_server->stop();
  auto k = key("doctor");
  signer::SignOptions opts;
  opts.level = signer::Level::B_T;
  opts.signing_time = sign_time();
  auto r = signer::sign_bundle(bundle(), *k, tsa_client.get(), opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network) << r.error().message;
}

TEST_F(SignVerify, NotADocumentAndNoSignature) {
  auto k = key("doctor");
  signer::SignOptions opts;
  opts.level = signer::Level::B_B;
  opts.signing_time = sign_time();
  auto collection = edit_json(bundle(), "\"type\":\"document\"", "\"type\":\"collection\"");
  auto r = signer::sign_bundle(collection, *k, nullptr, opts);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::not_a_document);

  verifier::VerifyOptions vopts{trust.get(), trust.get(), sign_time()};
  auto v = verifier::verify_bundle(bundle(), vopts);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().code, Errc::no_signature);
  auto v2 = verifier::verify_bundle(collection, vopts);
  ASSERT_FALSE(v2);
  EXPECT_EQ(v2.error().code, Errc::not_a_document);
}

// --- Tampered signatures ------------------------------------------------------

TEST_F(SignVerify, SignatureDataNotBase64IsFormatFailure) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  signed_b.find("signature")->set("data", json::Value("not base64!"));
  auto r = verify(signed_b, sign_time());
  expect_valid_report(verifier::to_json(r));
  EXPECT_EQ(r.indication, Indication::total_failed);
  EXPECT_EQ(r.sub_indication, SubIndication::format_failure);
}

TEST_F(SignVerify, UnknownSigFormatIsFormatFailure) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  signed_b.find("signature")->set("sigFormat", json::Value("application/pkcs7-signature"));
  EXPECT_EQ(verify(signed_b, sign_time()).sub_indication, SubIndication::format_failure);
}

TEST_F(SignVerify, UnknownCanonicalizationIsFormatFailure) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  signed_b.find("signature")->set("targetFormat", json::Value("application/fhir+json;canonicalization=urn:x:y"));
  EXPECT_EQ(verify(signed_b, sign_time()).sub_indication, SubIndication::format_failure);
}

TEST_F(SignVerify, MissingTargetFormatFallsBackToJcs) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  signed_b.find("signature")->erase("targetFormat");
  auto r = verify(signed_b, sign_time());
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  EXPECT_FALSE(r.signatures.front().warnings.empty());
  // ...and a FHIR-canonicalized signature without targetFormat then fails.
  auto fhir = sign(bundle(), "doctor", signer::Level::B_B, sign_time(), &signer::fhir_json());
  fhir.find("signature")->erase("targetFormat");
  EXPECT_EQ(verify(fhir, sign_time()).indication, Indication::total_failed);
}

/** Rebuilds a compact JWS with a changed protected header and the original signature. */
std::string rewrite_header(const std::string& jws, const std::function<void(json::Value&)>& edit) {
  auto parsed = signer::parse_jws(jws);
  EXPECT_TRUE(parsed);
  json::Value h = parsed->header;
  edit(h);
  return base64url_encode(as_bytes(json::serialize(h))) + ".." + parsed->signature_b64;
}

TEST_F(SignVerify, AlgorithmOffTheAllowListIsRefused) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  for (const char* alg : {"none", "HS256", "RS1"}) {
    auto jws = rewrite_header(jws_of(signed_b), [&](json::Value& h) { h.set("alg", json::Value(alg)); });
    auto r = verify(with_jws(signed_b, jws), sign_time());
    EXPECT_EQ(r.indication, Indication::indeterminate) << alg;
    EXPECT_EQ(r.sub_indication, SubIndication::crypto_constraints_failure) << alg;
  }
}

TEST_F(SignVerify, ChangedHeaderBreaksTheSignature) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto jws = rewrite_header(jws_of(signed_b), [](json::Value& h) { h.set("iat", json::Value(1000000000)); });
  auto r = verify(with_jws(signed_b, jws), sign_time());
  EXPECT_EQ(r.indication, Indication::total_failed);
  EXPECT_EQ(r.sub_indication, SubIndication::sig_crypto_failure);
}

TEST_F(SignVerify, CertificateDigestMismatchIsNoSigningCertificate) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto other = key("dentist");
  auto jws = rewrite_header(jws_of(signed_b), [&](json::Value& h) {
    h.set("x5t#S256", json::Value(base64url_encode(ossl::cert_sha256(other->certificate()))));
  });
  auto r = verify(with_jws(signed_b, jws), sign_time());
  EXPECT_EQ(r.indication, Indication::indeterminate);
  EXPECT_EQ(r.sub_indication, SubIndication::no_signing_certificate_found);
}

TEST_F(SignVerify, MissingX5cIsNoSigningCertificate) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto jws = rewrite_header(jws_of(signed_b), [](json::Value& h) { h.erase("x5c"); });
  EXPECT_EQ(verify(with_jws(signed_b, jws), sign_time()).sub_indication, SubIndication::no_signing_certificate_found);
}

TEST_F(SignVerify, UnknownCriticalHeaderIsFormatFailure) {
  auto signed_b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto jws = rewrite_header(jws_of(signed_b), [](json::Value& h) {
    h.set("sigD", json::Value(json::Object{}));
    h.set("crit", json::Value(json::Array{json::Value("sigD")}));
  });
  EXPECT_EQ(verify(with_jws(signed_b, jws), sign_time()).sub_indication, SubIndication::format_failure);
}

TEST_F(SignVerify, SignatureSwappedFromAnotherKeyFails) {
  auto a = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto b = sign(bundle(), "dentist", signer::Level::B_B, sign_time());
  auto pa = signer::parse_jws(jws_of(a));
  auto pb = signer::parse_jws(jws_of(b));
  ASSERT_TRUE(pa && pb);
  auto r = verify(with_jws(a, pa->protected_b64 + ".." + pb->signature_b64), sign_time());
  EXPECT_EQ(r.sub_indication, SubIndication::sig_crypto_failure);
}

TEST_F(SignVerify, TimestampOverAnotherSignatureGivesNoProofOfExistence) {
  auto a = sign(bundle(), "doctor", signer::Level::B_T, sign_time());
  auto b = sign(bundle(), "dentist", signer::Level::B_T, sign_time());
  auto pa = signer::parse_jws(jws_of(a));
  auto pb = signer::parse_jws(jws_of(b));
  ASSERT_TRUE(pa && pb);
  // a's header and signature with b's timestamp token.
  json::Value jws = *json::parse(jws_of(a));
  jws.set("header", *json::parse(jws_of(b))->find("header"));
  auto r = verify(with_jws(a, json::serialize(jws)), sign_time() + kVerifyDelay);
  expect_valid_report(verifier::to_json(r));
  const auto& s = r.signatures.front();
  ASSERT_EQ(s.timestamps.size(), 1u);
  EXPECT_EQ(s.timestamps.front().indication, verifier::BlockIndication::failed);
  EXPECT_EQ(s.timestamps.front().sub_indication, SubIndication::hash_failure);
  EXPECT_FALSE(s.best_signature_time);
}

TEST_F(SignVerify, CorruptTimestampTokenIsReported) {
  auto a = sign(bundle(), "doctor", signer::Level::B_T, sign_time());
  json::Value jws = *json::parse(jws_of(a));
  json::Object item{{"sigTst", json::Value(json::Object{{"tstTokens", json::Value(json::Array{json::Value(json::Object{
                                                                          {"val", json::Value("MIIBAAAA")}})})}})}};
  jws.set("header", json::Value(json::Object{
                        {"etsiU", json::Value(json::Array{json::Value(base64url_encode(
                                      as_bytes(json::serialize(json::Value(std::move(item))))))})}}));
  auto r = verify(with_jws(a, json::serialize(jws)), sign_time() + kVerifyDelay);
  expect_valid_report(verifier::to_json(r));
  ASSERT_EQ(r.signatures.front().timestamps.size(), 1u);
  EXPECT_EQ(r.signatures.front().timestamps.front().indication, verifier::BlockIndication::failed);
}

}  // namespace
}  // namespace hanko::test
