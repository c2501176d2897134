// The validation report's JSON form against docs/report-schema.json, and the
// small JSON Schema validator (tests/support/json_schema.h) that checks it.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/signing_key.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/verifier/report.h"
#include "hanko/verifier/verifier.h"
#include "json_schema.h"
#include "report_schema.h"
#include "test_support.h"

namespace hanko::verifier {
namespace {

using test::report_schema;
using test::validate_against_schema;

json::Value parse_or_die(std::string_view text) {
  auto v = json::parse(text);
  if (!v) {
    throw std::runtime_error("bad JSON in test: " + v.error().message);
  }
  return std::move(*v);
}

CertificateInfo cert(std::string cn) {
  return CertificateInfo{"CN=" + cn + ",O=Hanko Sogo Byoin,C=JP",
                         "CN=HPKI Signing CA,O=Hanko Dev,C=JP",
                         "0A1B2C3D",
                         std::string(64, 'a'),
                         utc(2026, 1, 14),
                         utc(2031, 1, 14)};
}

/** A report with every optional part filled: a passed B-T signature. */
ValidationReport full_report() {
  ValidationReport r;
  r.validation_time = utc(2026, 1, 16, 10, 0, 0);
  r.document_identifier = "urn:uuid:5b0f8a4e-3c2d-4e71-9a6b-1f2e3d4c5b6a";
  r.document_sha256 = std::string(64, '0');
  r.indication = Indication::total_passed;
  SignatureReport s;
  s.id = "signature-1";
  s.format = "JAdES-BASELINE-T";
  s.indication = Indication::total_passed;
  s.algorithm = "RS256";
  s.target_format = "application/fhir+json;canonicalization=urn:ietf:rfc:8785";
  s.signature_type = "1.2.840.10065.1.12.1.1";
  s.signer = cert("Yamada Taro");
  s.role = "Medical Doctor";
  s.non_repudiation = true;
  s.policies = {"1.2.392.100495.1.5.1.1.0.1"};
  s.chain = {cert("Yamada Taro"), cert("HPKI Signing CA"), cert("HPKI Root")};
  s.claimed_signing_time = utc(2026, 1, 16, 9, 30, 0);
  s.best_signature_time = utc(2026, 1, 16, 9, 30, 1);
  TimestampReport ts;
  ts.indication = BlockIndication::passed;
  ts.gen_time = utc(2026, 1, 16, 9, 30, 1);
  ts.serial_number = "01";
  ts.policy = "1.2.3.4.1";
  ts.tsa = cert("Hanko Dev TSA");
  ts.message = "the token is valid";
  s.timestamps.push_back(ts);
  s.checks = {{"signing-certificate-reference", BlockIndication::passed, "x5t#S256 matches"},
              {"signature-value", BlockIndication::passed, "RS256 verifies"},
              {"certificate-chain", BlockIndication::passed, "chains to HPKI Root"},
              {"key-usage", BlockIndication::passed, "nonRepudiation"}};
  s.warnings = {"a warning"};
  s.who = "urn:uuid:c5e3a7b9-2d4f-4b8c-8e1a-3f5d7b9c1e2a";
  RevocationReport ocsp;
  ocsp.certificate = "CN=Yamada Taro";
  ocsp.status = "good";
  ocsp.source = "OCSP";
  ocsp.url = "http://127.0.0.1:8089/ocsp";
  ocsp.responder = "CN=Hanko Dev OCSP";
  ocsp.produced_at = ocsp.this_update = utc(2026, 1, 16, 9, 30, 2);
  ocsp.next_update = utc(2026, 1, 17, 9, 30, 2);
  ocsp.message = "not revoked";
  ocsp.attempts = {"OCSP http://127.0.0.1:8089/ocsp: good"};
  s.revocation.push_back(ocsp);
  RevocationReport crl;
  crl.certificate = "CN=Hanko Dev HPKI SignCA";
  crl.status = "revoked";
  crl.source = "CRL";
  crl.url = "http://127.0.0.1:8089/crl/hpki-root.crl";
  crl.this_update = utc(2026, 1, 16);
  crl.revocation_time = utc(2026, 2, 1);
  crl.revocation_reason = "keyCompromise";
  crl.from_cache = true;
  crl.message = "revoked after the signature timestamp";
  s.revocation.push_back(crl);
  QualificationReport q;
  q.outcome = "QUALIFIED";
  q.role = "Medical Doctor";
  q.source = "registry";
  q.rule = "prescription";
  q.document_type = "http://jpfhir.jp/fhir/Common/CodeSystem/doc-typecodes|57833-6";
  q.registry_id = 7;
  q.licence_number = "123456";
  q.message = "Medical Doctor may sign a prescription";
  s.qualification = q;
  r.signatures.push_back(std::move(s));
  return r;
}

/** A report where validation stopped at once: nothing optional is known. */
ValidationReport minimal_report() {
  ValidationReport r;
  r.validation_time = utc(2026, 1, 16, 10, 0, 0);
  r.indication = Indication::total_failed;
  r.sub_indication = SubIndication::format_failure;
  SignatureReport s;
  s.id = "signature-1";
  s.format = "unknown";
  s.indication = Indication::total_failed;
  s.sub_indication = SubIndication::format_failure;
  s.errors = {"Bundle.signature is not an object"};
  r.signatures.push_back(std::move(s));
  return r;
}

/** Whether some error starts with `pointer` + ": " and mentions `word`. */
bool has_error(const std::vector<std::string>& errors, const std::string& pointer, const std::string& word) {
  return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
    return e.starts_with(pointer + ": ") && e.find(word) != std::string::npos;
  });
}

std::string joined(const std::vector<std::string>& errors) {
  std::string s;
  for (const auto& e : errors) {
    s += e + "\n";
  }
  return s;
}

// --- The schema accepts what to_json writes ---------------------------------

TEST(ReportSchema, FullReportIsValid) {
  auto errors = validate_against_schema(report_schema(), to_json(full_report()));
  EXPECT_TRUE(errors.empty()) << joined(errors);
}

TEST(ReportSchema, MinimalReportWithNullsIsValid) {
  json::Value j = to_json(minimal_report());
  ASSERT_TRUE(j.find("document")->find("identifier")->is_null());
  ASSERT_TRUE(j.find("signatures")->as_array()[0].find("signer")->is_null());
  test::expect_valid_report(j);
}

TEST(ReportSchema, TimestampThatCouldNotBeParsedIsValid) {
  ValidationReport r = full_report();
  TimestampReport ts;
  ts.indication = BlockIndication::failed;
  ts.sub_indication = SubIndication::format_failure;
  ts.message = "the timestamp token is not base64";
  r.signatures[0].timestamps = {ts};
  test::expect_valid_report(to_json(r));
}

TEST(ReportSchema, EveryIndicationAndSubIndicationIsAllowed) {
  for (auto ind : {Indication::total_passed, Indication::total_failed, Indication::indeterminate}) {
    for (int s = static_cast<int>(SubIndication::none); s <= static_cast<int>(SubIndication::signed_data_not_found); ++s) {
      ValidationReport r = full_report();
      r.indication = r.signatures[0].indication = ind;
      r.sub_indication = r.signatures[0].sub_indication = static_cast<SubIndication>(s);
      r.signatures[0].timestamps[0].sub_indication = static_cast<SubIndication>(s);
      auto errors = validate_against_schema(report_schema(), to_json(r));
      EXPECT_TRUE(errors.empty()) << indication_name(ind) << " / " << sub_indication_name(static_cast<SubIndication>(s))
                                  << "\n" << joined(errors);
    }
  }
}

TEST(ReportSchema, EveryBlockIndicationIsAllowed) {
  for (auto b : {BlockIndication::passed, BlockIndication::failed, BlockIndication::indeterminate}) {
    ValidationReport r = full_report();
    r.signatures[0].timestamps[0].indication = b;
    r.signatures[0].checks[0].result = b;
    auto errors = validate_against_schema(report_schema(), to_json(r));
    EXPECT_TRUE(errors.empty()) << block_indication_name(b) << "\n" << joined(errors);
  }
}

TEST(ReportSchema, JapaneseSubjectsAndNegativeSerialsAreValid) {
  ValidationReport r = full_report();
  r.signatures[0].signer->subject = "CN=山田 太郎,O=判子総合病院,C=JP";
  r.signatures[0].chain[0].serial_number = "-01";
  test::expect_valid_report(to_json(r));
}

// --- Each kind of violation is found, at the right JSON pointer --------------

class ReportViolation : public ::testing::Test {
 protected:
  json::Value report = to_json(full_report());
  json::Value& sig() { return report.find("signatures")->as_array()[0]; }
  std::vector<std::string> errors() { return validate_against_schema(report_schema(), report); }
};

TEST_F(ReportViolation, MissingRequiredProperty) {
  ASSERT_TRUE(report.erase("validationTime"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "(root)", "\"validationTime\" is missing")) << joined(e);
}

TEST_F(ReportViolation, MissingNestedRequiredProperty) {
  ASSERT_TRUE(sig().find("signer")->erase("nonRepudiation"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/signer", "nonRepudiation")) << joined(e);
}

TEST_F(ReportViolation, AdditionalProperty) {
  sig().set("extra", json::Value(true));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0", "\"extra\" is not allowed")) << joined(e);
}

TEST_F(ReportViolation, AdditionalPropertyInReferencedDefinition) {
  sig().find("certificateChain")->as_array()[1].set("keyUsage", json::Value("x"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/certificateChain/1", "\"keyUsage\" is not allowed")) << joined(e);
}

TEST_F(ReportViolation, WrongType) {
  sig().set("errors", json::Value("oops"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/errors", "expected array, found string")) << joined(e);
}

TEST_F(ReportViolation, NullWhereNotNullable) {
  sig().set("format", json::Value());
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/format", "found null")) << joined(e);
}

TEST_F(ReportViolation, NullableObjectOfWrongType) {
  sig().set("signer", json::Value(5));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/signer", "expected object or null")) << joined(e);
}

TEST_F(ReportViolation, IndicationNotInEnum) {
  report.set("indication", json::Value("PASSED"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/indication", "not one of the allowed values")) << joined(e);
}

TEST_F(ReportViolation, BlockIndicationNotInEnum) {
  sig().find("checks")->as_array()[0].set("result", json::Value("TOTAL-PASSED"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/checks/0/result", "not one of the allowed values")) << joined(e);
}

TEST_F(ReportViolation, UnknownSubIndication) {
  sig().set("subIndication", json::Value("BROKEN"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/subIndication", "\"BROKEN\"")) << joined(e);
}

TEST_F(ReportViolation, ReportFormatConst) {
  report.set("reportFormat", json::Value("hanko-validation-report/1"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/reportFormat", "not the required value")) << joined(e);
}

TEST_F(ReportViolation, DateTimePattern) {
  report.set("validationTime", json::Value("2026-01-16 10:00:00"));
  sig().set("claimedSigningTime", json::Value("2026-01-16T10:00:00+09:00"));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/validationTime", "does not match the pattern")) << joined(e);
  EXPECT_TRUE(has_error(e, "/signatures/0/claimedSigningTime", "does not match the pattern")) << joined(e);
}

TEST_F(ReportViolation, DigestPatternThroughRef) {
  sig().find("certificateChain")->as_array()[0].set("sha256", json::Value(std::string(64, 'A')));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/certificateChain/0/sha256", "does not match")) << joined(e);
}

TEST_F(ReportViolation, PolicyOidPatternInItems) {
  sig().find("signer")->set("policies", json::Value(json::Array{json::Value("urn:oid:1.2.3")}));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/signer/policies/0", "does not match")) << joined(e);
}

TEST_F(ReportViolation, NoSignatures) {
  report.set("signatures", json::Value(json::Array{}));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures", "fewer than 1")) << joined(e);
}

TEST_F(ReportViolation, EmptyIdentifier) {
  report.find("document")->set("identifier", json::Value(""));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/document/identifier", "shorter than 1")) << joined(e);
}

TEST_F(ReportViolation, ItemOfWrongType) {
  sig().set("warnings", json::Value(json::Array{json::Value("ok"), json::Value(1)}));
  auto e = errors();
  EXPECT_TRUE(has_error(e, "/signatures/0/warnings/1", "expected string")) << joined(e);
  EXPECT_FALSE(has_error(e, "/signatures/0/warnings/0", "")) << joined(e);
}

TEST_F(ReportViolation, ExpectValidReportReportsFailure) {
  report.set("indication", json::Value("OK"));
  EXPECT_NONFATAL_FAILURE(test::expect_valid_report(report), "/indication");
}

// --- The validator itself ----------------------------------------------------

std::vector<std::string> check(std::string_view schema, std::string_view instance) {
  return validate_against_schema(parse_or_die(schema), parse_or_die(instance));
}

TEST(JsonSchema, TypeNamesAndArrays) {
  EXPECT_TRUE(check(R"({"type":"integer"})", "3").empty());
  EXPECT_TRUE(check(R"({"type":"integer"})", "2.0").empty());
  EXPECT_FALSE(check(R"({"type":"integer"})", "2.5").empty());
  EXPECT_TRUE(check(R"({"type":"number"})", "2.5").empty());
  EXPECT_FALSE(check(R"({"type":"number"})", "\"2\"").empty());
  EXPECT_TRUE(check(R"({"type":["string","null"]})", "null").empty());
  EXPECT_TRUE(check(R"({"type":["string","null"]})", "\"x\"").empty());
  EXPECT_FALSE(check(R"({"type":["string","null"]})", "false").empty());
  EXPECT_TRUE(check(R"({"type":"boolean"})", "false").empty());
  EXPECT_FALSE(check(R"({"type":"object"})", "[]").empty());
}

TEST(JsonSchema, UnknownTypeNameIsASchemaError) {
  auto e = check(R"({"type":"int"})", "1");
  EXPECT_TRUE(has_error(e, "(root)", "unknown type 'int'")) << joined(e);
}

TEST(JsonSchema, EnumAndConstCompareDeeply) {
  EXPECT_TRUE(check(R"({"enum":[{"a":1,"b":[true]}]})", R"({"b":[true],"a":1})").empty());
  EXPECT_FALSE(check(R"({"enum":[{"a":1,"b":[true]}]})", R"({"b":[false],"a":1})").empty());
  EXPECT_TRUE(check(R"({"const":1})", "1.0").empty());
  EXPECT_FALSE(check(R"({"const":"1"})", "1").empty());
  EXPECT_FALSE(check(R"({"enum":[null]})", "0").empty());
}

TEST(JsonSchema, PatternIsUnanchoredEcmaScript) {
  EXPECT_TRUE(check(R"({"pattern":"b"})", R"("abc")").empty());
  EXPECT_FALSE(check(R"({"pattern":"^b"})", R"("abc")").empty());
  EXPECT_TRUE(check(R"({"pattern":"^b"})", "5").empty()) << "pattern applies to strings only";
}

TEST(JsonSchema, InvalidPatternIsASchemaError) {
  auto e = check(R"({"pattern":"(unclosed"})", R"("x")");
  EXPECT_TRUE(has_error(e, "(root)", "not a valid regular expression")) << joined(e);
}

TEST(JsonSchema, MinLengthCountsCodePoints) {
  EXPECT_TRUE(check(R"({"minLength":2})", R"("日本")").empty());
  EXPECT_FALSE(check(R"({"minLength":3})", R"("日本")").empty());
  EXPECT_FALSE(check(R"({"minLength":-1})", R"("x")").empty());
}

TEST(JsonSchema, MinItems) {
  EXPECT_TRUE(check(R"({"minItems":2})", "[1,2]").empty());
  EXPECT_FALSE(check(R"({"minItems":2})", "[1]").empty());
}

TEST(JsonSchema, AdditionalPropertiesAsSchema) {
  const char* schema = R"({"properties":{"a":{}},"additionalProperties":{"type":"string"}})";
  EXPECT_TRUE(check(schema, R"({"a":1,"b":"x"})").empty());
  auto e = check(schema, R"({"a":1,"b":2})");
  EXPECT_TRUE(has_error(e, "/b", "expected string")) << joined(e);
}

TEST(JsonSchema, BooleanSchemas) {
  EXPECT_TRUE(check("true", "123").empty());
  EXPECT_FALSE(check("false", "123").empty());
  EXPECT_FALSE(check(R"({"items":false})", "[1]").empty());
  EXPECT_TRUE(check(R"({"items":false})", "[]").empty());
}

TEST(JsonSchema, PointersAreEscaped) {
  auto e = check(R"({"additionalProperties":{"type":"string"}})", R"({"a/b~c":1})");
  EXPECT_TRUE(has_error(e, "/a~1b~0c", "expected string")) << joined(e);
}

TEST(JsonSchema, RefResolvesInsideTheDocument) {
  const char* schema = R"({"$defs":{"s":{"type":"string"}},"items":{"$ref":"#/$defs/s"}})";
  EXPECT_TRUE(check(schema, R"(["a","b"])").empty());
  auto e = check(schema, R"(["a",2])");
  EXPECT_TRUE(has_error(e, "/1", "expected string")) << joined(e);
}

TEST(JsonSchema, UnresolvedOrRemoteRefIsASchemaError) {
  auto e = check(R"({"$ref":"#/$defs/missing"})", "1");
  EXPECT_TRUE(has_error(e, "(root)", "does not resolve")) << joined(e);
  e = check(R"({"$ref":"https://example.com/s.json"})", "1");
  EXPECT_TRUE(has_error(e, "(root)", "only $ref")) << joined(e);
}

TEST(JsonSchema, RefCycleEndsWithAnError) {
  auto e = check(R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})", "1");
  EXPECT_TRUE(has_error(e, "(root)", "nest too deeply")) << joined(e);
}

TEST(JsonSchema, UnsupportedKeywordIsReportedNotIgnored) {
  auto e = check(R"({"anyOf":[{"type":"string"}]})", "1");
  EXPECT_TRUE(has_error(e, "(root)", "unsupported keyword 'anyOf'")) << joined(e);
  e = check(R"({"items":[{"type":"string"}]})", "[1]");
  EXPECT_TRUE(has_error(e, "(root)", "prefixItems")) << joined(e);
}

TEST(JsonSchema, AnnotationsAreIgnored) {
  EXPECT_TRUE(check(R"({"title":"t","description":"d","format":"date-time","$comment":"c"})", R"("not a date")").empty());
}

TEST(JsonSchema, RequiredOnlyAppliesToObjects) {
  EXPECT_TRUE(check(R"({"required":["a"]})", "[]").empty());
  EXPECT_FALSE(check(R"({"required":["a"]})", "{}").empty());
}

// --- Reports the verifier really makes ---------------------------------------

class VerifierReports : public ::testing::Test {
 protected:
  static json::Value signed_bundle(signer::Level level = signer::Level::B_B) {
    const auto& pki = test::dev_pki();
    const auto& doctor = pki.get("doctor");
    auto key = signer::PemSigningKey::load(doctor.cert.string(), doctor.key.string(), doctor.chain.string());
    if (!key) {
      throw std::runtime_error(key.error().message);
    }
    auto bundle = signer::parse_document_bundle(test::read_text(test::source_dir() / "examples" / "prescription-bundle.json"));
    if (!bundle) {
      throw std::runtime_error(bundle.error().message);
    }
    signer::SignOptions opts;
    opts.level = level;
    opts.signing_time = test::sign_time();
    FixedClock clock(test::sign_time() + std::chrono::seconds(1));
    const auto& tsa_item = pki.get("tsa");
    auto dev_tsa = tsa::DevTsa::load(tsa_item.cert.string(), tsa_item.key.string(), tsa_item.chain.string(), clock);
    if (!dev_tsa) {
      throw std::runtime_error(dev_tsa.error().message);
    }
    tsa::InProcessTsa tsa(**dev_tsa);
    auto signed_ = signer::sign_bundle(std::move(*bundle), **key, level == signer::Level::B_T ? &tsa : nullptr, opts);
    if (!signed_) {
      throw std::runtime_error(signed_.error().message);
    }
    return std::move(signed_->bundle);
  }

  static ValidationReport verify(const json::Value& bundle, const std::filesystem::path& trust_dir) {
    auto trust = certstore::TrustStore::load_dir(trust_dir);
    if (!trust) {
      throw std::runtime_error(trust.error().message);
    }
    VerifyOptions opts{&*trust, &*trust, test::sign_time() + std::chrono::minutes(30)};
    auto r = verify_bundle(bundle, opts);
    if (!r) {
      throw std::runtime_error(r.error().message);
    }
    return std::move(*r);
  }
};

TEST_F(VerifierReports, PassedReportMatchesSchema) {
  ValidationReport r = verify(signed_bundle(), test::dev_pki().trust_dir);
  EXPECT_EQ(r.indication, Indication::total_passed);
  test::expect_valid_report(to_json(r));
}

TEST_F(VerifierReports, TimestampedReportMatchesSchema) {
  ValidationReport r = verify(signed_bundle(signer::Level::B_T), test::dev_pki().trust_dir);
  EXPECT_EQ(r.indication, Indication::total_passed);
  ASSERT_EQ(r.signatures[0].timestamps.size(), 1u);
  EXPECT_EQ(r.signatures[0].timestamps[0].indication, BlockIndication::passed);
  test::expect_valid_report(to_json(r));
}

TEST_F(VerifierReports, UntrustedTimestampReportMatchesSchema) {
  // Trust the HPKI root only: the timestamp's TSA chain leads nowhere.
  const auto dir = test::temp_dir("hpki-only-trust");
  std::filesystem::copy_file(test::dev_pki().trust_dir / "hpki-root.pem", dir / "hpki-root.pem");
  ValidationReport r = verify(signed_bundle(signer::Level::B_T), dir);
  ASSERT_EQ(r.signatures[0].timestamps.size(), 1u);
  EXPECT_NE(r.signatures[0].timestamps[0].indication, BlockIndication::passed);
  EXPECT_NE(r.signatures[0].timestamps[0].sub_indication, SubIndication::none);
  test::expect_valid_report(to_json(r));
}

TEST_F(VerifierReports, TamperedReportMatchesSchema) {
  json::Value b = signed_bundle();
  b.set("timestamp", json::Value("2026-01-16T09:26:00+09:00"));
  ValidationReport r = verify(b, test::dev_pki().trust_dir);
  EXPECT_EQ(r.indication, Indication::total_failed);
  EXPECT_EQ(r.sub_indication, SubIndication::sig_crypto_failure);
  test::expect_valid_report(to_json(r));
}

TEST_F(VerifierReports, UntrustedReportMatchesSchema) {
  // Trust only the JPKI root: the HPKI doctor's chain leads nowhere.
  const auto dir = test::temp_dir("jpki-only-trust");
  std::filesystem::copy_file(test::dev_pki().trust_dir / "jpki-root.pem", dir / "jpki-root.pem");
  ValidationReport r = verify(signed_bundle(), dir);
  EXPECT_EQ(r.indication, Indication::indeterminate);
  test::expect_valid_report(to_json(r));
}

TEST_F(VerifierReports, FormatFailureReportMatchesSchema) {
  json::Value b = signed_bundle();
  b.find("signature")->set("data", json::Value("*** not base64 ***"));
  ValidationReport r = verify(b, test::dev_pki().trust_dir);
  EXPECT_EQ(r.sub_indication, SubIndication::format_failure);
  test::expect_valid_report(to_json(r));
}

}  // namespace
}  // namespace hanko::verifier
