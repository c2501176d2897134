// FHIR XML end to end: XAdES signing and verification with the same checks,
// policy and report as the JSON side, over the CLI and the REST API.
#include <sys/wait.h>

#include <cstdlib>

#include "fixture.h"
#include "hanko/signer/xades.h"
#include "report_schema.h"

namespace hanko::test {
namespace {

using namespace std::chrono;
using verifier::Indication;
using verifier::SubIndication;

class XmlEndToEnd : public EndToEnd {
 protected:
  std::string xml_bundle() const { return read_text(data_file("bundles/simple-prescription.xml")); }
  std::string sign_xml(const std::string& key_id, signer::Level level) {
    auto k = key(key_id);
    signer::SignOptions opts;
    opts.level = level;
    opts.signing_time = sign_time();
    auto r = signer::sign_xml_bundle(xml_bundle(), *k, tsa_client.get(), opts);
    EXPECT_TRUE(r) << r.error().message;
    return r ? r->bundle_xml : std::string();
  }
  verifier::ValidationReport verify_xml(const std::string& xml, TimePoint at) {
    verifier::VerifyOptions opts{trust.get(), trust.get(), at};
    auto r = verifier::verify_xml_bundle_text(xml, opts);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : verifier::ValidationReport{};
  }
};

TEST_F(XmlEndToEnd, BaselineTPassesWithTheSameFindingsAsJson) {
  auto xr = verify_xml(sign_xml("doctor", signer::Level::B_T), sign_time() + hours(1));
  expect_valid_report(verifier::to_json(xr));
  ASSERT_EQ(xr.indication, Indication::total_passed) << verifier::to_text(xr);
  const auto& xs = xr.signatures.front();
  EXPECT_EQ(xs.format, "XAdES-BASELINE-T");
  ASSERT_EQ(xs.timestamps.size(), 1u);
  EXPECT_EQ(xs.timestamps.front().indication, verifier::BlockIndication::passed);
  ASSERT_TRUE(xs.qualification);
  EXPECT_EQ(xs.qualification->outcome, "QUALIFIED");

  // The same content signed as JSON gives the same signer, role and indication.
  auto jr = verify(sign(bundle(), "doctor", signer::Level::B_T, sign_time()), sign_time() + hours(1));
  ASSERT_EQ(jr.indication, xr.indication);
  const auto& js = jr.signatures.front();
  ASSERT_TRUE(js.signer && xs.signer);
  EXPECT_EQ(js.signer->subject, xs.signer->subject);
  EXPECT_EQ(js.role, xs.role);
  EXPECT_EQ(js.qualification->rule, xs.qualification->rule);
  EXPECT_EQ(jr.document_identifier, xr.document_identifier);
}

TEST_F(XmlEndToEnd, EcdsaBaselineBPasses) {
  auto r = verify_xml(sign_xml("doctor-ec", signer::Level::B_B), sign_time() + hours(1));
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  EXPECT_EQ(r.signatures.front().algorithm, "ES256");
}

TEST_F(XmlEndToEnd, TamperingUntrustedAndUnqualifiedSigners) {
  std::string signed_xml = sign_xml("doctor", signer::Level::B_B);
  auto pos = signed_xml.find("アムロジピン");
  ASSERT_NE(pos, std::string::npos);
  std::string changed = signed_xml;
  changed.replace(pos, std::string("アムロジピン").size(), "ニフェジピン");
  auto t = verify_xml(changed, sign_time() + hours(1));
  EXPECT_EQ(t.indication, Indication::total_failed) << verifier::to_text(t);
  EXPECT_EQ(t.sub_indication, SubIndication::hash_failure);
  expect_valid_report(verifier::to_json(t));

  auto p = verify_xml(sign_xml("pharmacist", signer::Level::B_B), sign_time() + hours(1));
  EXPECT_EQ(p.indication, Indication::indeterminate) << verifier::to_text(p);
  EXPECT_EQ(p.sub_indication, SubIndication::sig_constraints_failure);

  certstore::TrustStore other;
  auto roots = ossl::load_certificates(dev_pki().get("tsa-root").cert.string());
  ASSERT_TRUE(roots && !roots->empty());
  other.add_anchor(std::move(roots->front()));
  verifier::VerifyOptions opts{&other, &other, sign_time() + hours(1)};
  auto u = verifier::verify_xml_bundle_text(signed_xml, opts);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->sub_indication, SubIndication::no_certificate_chain_found) << verifier::to_text(*u);

  // Unusable input is an error, not a report.
  EXPECT_FALSE(verifier::verify_xml_bundle_text("<!DOCTYPE x [<!ENTITY a 'b'>]><x/>", opts));
  EXPECT_EQ(verifier::verify_xml_bundle_text(xml_bundle(), opts).error().code, Errc::no_signature);
}

TEST_F(XmlEndToEnd, CliSignsAndVerifiesXml) {
  auto dir = temp_dir("xml-cli");
  const auto& d = dev_pki().get("doctor");
  auto q = [](const std::filesystem::path& p) { return "'" + p.string() + "'"; };
  auto run = [&q](const std::string& args) {
    std::string cmd = q(hanko_binary()) + " " + args + " > /dev/null 2>&1";
    return WEXITSTATUS(std::system(cmd.c_str()));
  };
  const std::string common = " --cert " + q(d.cert) + " --key " + q(d.key) + " --chain " + q(d.chain) + " --trust " +
                             q(dev_pki().trust_dir) + " --at 2026-01-16T09:30:00Z";
  ASSERT_EQ(run("sign --in " + q(data_file("bundles/simple-prescription.xml")) + " --out " + q(dir / "s.xml") +
                " --level B-T --tsa " + tsa_server->url() + common),
            0);
  EXPECT_EQ(run("verify --in " + q(dir / "s.xml") + " --trust " + q(dev_pki().trust_dir) + " --at 2026-01-16T10:00:00Z"),
            0);
  std::string text = read_text(dir / "s.xml");
  text.replace(text.find("アムロジピン"), std::string("アムロジピン").size(), "ニフェジピン");
  write_text(dir / "changed.xml", text);
  EXPECT_EQ(run("verify --in " + q(dir / "changed.xml") + " --trust " + q(dev_pki().trust_dir) +
                " --at 2026-01-16T10:00:00Z"),
            1);
}

}  // namespace
}  // namespace hanko::test
