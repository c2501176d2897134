// The hanko command line: exit codes and one-line reasons, run as a process.
#include <sys/wait.h>

#include "fixture.h"

namespace hanko::test {
namespace {

namespace fs = std::filesystem;


std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

class Cli : public EndToEnd {
 protected:
  void SetUp() override {
    EndToEnd::SetUp();
    dir = temp_dir("cli");
    const auto& d = dev_pki().get("doctor");
    cert = d.cert;
    key = d.key;
    chain = d.chain;
    in = data_file("bundles/simple-prescription.json");
  }
  std::string sign_args(const fs::path& out, const std::string& extra = "") const {
    return "sign --in " + q(in) + " --out " + q(out) + " --cert " + q(cert) + " --key " + q(key) + " --chain " +
           q(chain) + " --trust " + q(dev_pki().trust_dir) + " --at 2026-01-16T09:30:00Z " + extra;
  }
  std::string verify_args(const fs::path& file, const std::string& extra = "") const {
    return "verify --in " + q(file) + " --trust " + q(dev_pki().trust_dir) + " --at 2026-01-16T10:00:00Z " + extra;
  }
  fs::path dir, cert, key, chain, in;
};

TEST_F(Cli, SignThenVerifyExitsZero) {
  fs::path out = dir / "signed.json";
  auto s = run_cli(sign_args(out, "--level B-T --tsa " + tsa_server->url()));
  ASSERT_EQ(s.code, 0) << s.err;
  auto v = run_cli(verify_args(out, "--report json"));
  EXPECT_EQ(v.code, 0) << v.out << v.err;
  auto report = json::parse(v.out);
  ASSERT_TRUE(report) << v.out;
  EXPECT_EQ(*report->find_string("indication"), "TOTAL-PASSED");
  auto text = run_cli(verify_args(out, "--report text"));
  EXPECT_EQ(text.code, 0);
  EXPECT_NE(text.out.find("Medical Doctor"), std::string::npos) << text.out;
}

TEST_F(Cli, ChangedBundleExitsOne) {
  fs::path out = dir / "signed.json";
  ASSERT_EQ(run_cli(sign_args(out, "--level B-B")).code, 0);
  std::string text = read_text(out);
  auto pos = text.find("アムロジピン");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, std::string("アムロジピン").size(), "ニフェジピン");
  write_text(dir / "changed.json", text);
  auto v = run_cli(verify_args(dir / "changed.json"));
  EXPECT_EQ(v.code, 1) << v.out;
  EXPECT_NE(v.out.find("SIG_CRYPTO_FAILURE"), std::string::npos);
}

TEST_F(Cli, UntrustedSignerExitsTwo) {
  fs::path out = dir / "signed.json";
  ASSERT_EQ(run_cli(sign_args(out, "--level B-B")).code, 0);
  fs::path other = temp_dir("cli-other-pki");
  ASSERT_EQ(run_cli("dev-pki --out " + q(other) + " --at 2026-01-15T00:00:00Z").code, 0);
  auto v = run_cli("verify --in " + q(out) + " --trust " + q(other / "trust") + " --at 2026-01-16T10:00:00Z");
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("NO_CERTIFICATE_CHAIN_FOUND"), std::string::npos) << v.out;
}

TEST_F(Cli, UnusableInputExitsThreeWithOneLine) {
  auto missing = run_cli(verify_args(dir / "does-not-exist.json"));
  EXPECT_EQ(missing.code, 3);
  EXPECT_EQ(std::count(missing.err.begin(), missing.err.end(), '\n'), 1) << missing.err;
  EXPECT_TRUE(missing.err.starts_with("hanko: ")) << missing.err;

  write_text(dir / "broken.json", "{\"resourceType\": \"Bundle\",");
  auto broken = run_cli(verify_args(dir / "broken.json"));
  EXPECT_EQ(broken.code, 3) << broken.err;

  // A document without a signature: nothing to verify.
  auto unsigned_b = run_cli(verify_args(in));
  EXPECT_EQ(unsigned_b.code, 3) << unsigned_b.err;
  EXPECT_NE(unsigned_b.err.find("no signature"), std::string::npos) << unsigned_b.err;

  EXPECT_EQ(run_cli("").code, 3);
  EXPECT_EQ(run_cli("frobnicate").code, 3);
  EXPECT_EQ(run_cli("sign --in x").code, 3);
  EXPECT_EQ(run_cli("verify --in x --trust y --bogus 1").code, 3);
  EXPECT_EQ(run_cli(sign_args(dir / "x.json", "--level B-X")).code, 3);
  EXPECT_EQ(run_cli(verify_args(in, "--at yesterday")).code, 3);
}

TEST_F(Cli, AlreadySignedIsRefusedUnlessReplace) {
  fs::path once = dir / "once.json";
  ASSERT_EQ(run_cli(sign_args(once, "--level B-B")).code, 0);
  in = once;
  auto again = run_cli(sign_args(dir / "twice.json", "--level B-B"));
  EXPECT_EQ(again.code, 3);
  EXPECT_NE(again.err.find("already carries a signature"), std::string::npos) << again.err;
  EXPECT_EQ(run_cli(sign_args(dir / "twice.json", "--level B-B --replace")).code, 0);
}

TEST_F(Cli, UnreachableTsaExitsFour) {
  std::string url = tsa_server->url();
  tsa_server->stop();
  auto s = run_cli(sign_args(dir / "x.json", "--level B-T --tsa " + url));
  EXPECT_EQ(s.code, 4) << s.err;
  EXPECT_NE(s.err.find(url), std::string::npos) << "the error names the TSA: " << s.err;
  EXPECT_FALSE(fs::exists(dir / "x.json")) << "nothing is written on failure";
}

TEST_F(Cli, CanonicalizePrintsTheSignedBytes) {
  auto c = run_cli("canonicalize --in " + q(in) + " --method jcs");
  ASSERT_EQ(c.code, 0) << c.err;
  EXPECT_EQ(c.out.find("test-bundle-1"), std::string::npos) << "root id removed";
  EXPECT_EQ(c.out.find("lastUpdated"), std::string::npos) << "root meta removed";
  EXPECT_TRUE(c.out.starts_with("{\"entry\":[")) << c.out.substr(0, 40);
}

TEST_F(Cli, SignRefusesASignerTheVerifierWouldReject) {
  // A pharmacist may not sign a prescription: exit 1, one line naming the rule, nothing written.
  const auto& p = dev_pki().get("pharmacist");
  cert = p.cert;
  key = p.key;
  chain = p.chain;
  auto s = run_cli(sign_args(dir / "x.json", "--level B-B"));
  EXPECT_EQ(s.code, 1) << s.err;
  EXPECT_NE(s.err.find("qualification"), std::string::npos) << s.err;
  EXPECT_NE(s.err.find("Pharmacist"), std::string::npos) << s.err;
  EXPECT_EQ(std::count(s.err.begin(), s.err.end(), '\n'), 1) << s.err;
  EXPECT_FALSE(fs::exists(dir / "x.json"));
  // The revoked signer is refused too (the CRL in the trust folder lists it).
  const auto& r = dev_pki().get("revoked");
  cert = r.cert;
  key = r.key;
  chain = r.chain;
  auto revoked = run_cli(sign_args(dir / "y.json", "--level B-B"));
  EXPECT_EQ(revoked.code, 1) << revoked.err;
  EXPECT_NE(revoked.err.find("revoked"), std::string::npos) << revoked.err;
  // --no-policy signs anyway and says so; the verifier still rejects the result.
  cert = p.cert;
  key = p.key;
  chain = p.chain;
  auto forced = run_cli(sign_args(dir / "z.json", "--level B-B --no-policy"));
  EXPECT_EQ(forced.code, 0) << forced.err;
  EXPECT_NE(forced.err.find("--no-policy"), std::string::npos) << forced.err;
  auto v = run_cli(verify_args(dir / "z.json"));
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("SIG_CONSTRAINTS_FAILURE"), std::string::npos) << v.out;
}

TEST_F(Cli, SignWithoutTrustIsAUsageError) {
  auto s = run_cli("sign --in " + q(in) + " --out " + q(dir / "x.json") + " --cert " + q(cert) + " --key " + q(key) +
               " --level B-B");
  EXPECT_EQ(s.code, 3) << s.err;
  EXPECT_NE(s.err.find("--trust"), std::string::npos) << s.err;
}

TEST_F(Cli, TrustListShowsAnchorsAndNearExpiry) {
  auto ok = run_cli("trust list --trust " + q(dev_pki().trust_dir) + " --at 2026-01-16T00:00:00Z --warn-days 20 --format json");
  ASSERT_EQ(ok.code, 0) << ok.err;
  auto doc = json::parse(ok.out);
  ASSERT_TRUE(doc) << ok.out;
  int anchors = 0;
  int near = 0;
  for (const auto& item : doc->find("items")->as_array()) {
    anchors += *item.find_string("kind") == "anchor" ? 1 : 0;
    near += *item.find_string("state") != "ok" ? 1 : 0;
  }
  EXPECT_EQ(anchors, 3);  // HPKI, JPKI and TSA roots
  EXPECT_EQ(near, 0) << ok.out;
  // With the default 90-day window the CRLs (valid 30 days) are near expiry; 11 years later everything is expired.
  auto later = run_cli("trust list --trust " + q(dev_pki().trust_dir) + " --at 2026-01-16T00:00:00Z");
  EXPECT_EQ(later.code, 0);
  EXPECT_NE(later.out.find("NEAR-EXPIRY"), std::string::npos) << later.out;
  auto expired = run_cli("trust list --trust " + q(dev_pki().trust_dir) + " --at 2037-01-01T00:00:00Z");
  EXPECT_NE(expired.out.find("EXPIRED"), std::string::npos) << expired.out;
  EXPECT_EQ(run_cli("trust list").code, 3);
  EXPECT_EQ(run_cli("trust list --trust " + q(dir / "missing")).code, 3);
}

TEST_F(Cli, RegistryMakesAJpkiSignerVerifiable) {
  fs::path data = dir / "data";
  const auto& j = dev_pki().get("jpki-signer");
  fs::path out = dir / "jpki-signed.json";
  auto s = run_cli("sign --in " + q(in) + " --out " + q(out) + " --cert " + q(j.cert) + " --key " + q(j.key) +
               " --at 2026-01-16T09:30:00Z --level B-B --no-policy");
  ASSERT_EQ(s.code, 0) << s.err;
  auto before = run_cli(verify_args(out, "--data " + q(data)));
  EXPECT_EQ(before.code, 2) << before.out;
  EXPECT_NE(before.out.find("hanko registry add"), std::string::npos) << before.out;

  auto add = run_cli("registry add --data " + q(data) + " --cert " + q(j.cert) +
                 " --by-identity --role 'Medical Doctor' --licence 123456 --from 2025-01-01 --to 2030-01-01");
  ASSERT_EQ(add.code, 0) << add.err;
  auto list = run_cli("registry list --data " + q(data) + " --format json");
  ASSERT_EQ(list.code, 0) << list.err;
  auto entries = json::parse(list.out);
  ASSERT_TRUE(entries && entries->is_array() && entries->as_array().size() == 1) << list.out;
  auto after = run_cli(verify_args(out, "--data " + q(data) + " --report json"));
  EXPECT_EQ(after.code, 0) << after.out;
  auto report = json::parse(after.out);
  ASSERT_TRUE(report);
  const auto& q0 = *report->find("signatures")->as_array()[0].find("qualification");
  EXPECT_EQ(*q0.find_string("source"), "registry");
  EXPECT_EQ(*q0.find_string("licenceNumber"), "123456");

  const long long id = std::stoll(entries->as_array()[0].find("id")->as_number().literal);
  EXPECT_EQ(run_cli("registry remove --data " + q(data) + " --id " + std::to_string(id)).code, 0);
  EXPECT_EQ(run_cli("registry remove --data " + q(data) + " --id " + std::to_string(id)).code, 3);
  EXPECT_EQ(run_cli(verify_args(out, "--data " + q(data))).code, 2);
  EXPECT_EQ(run_cli("registry add --data " + q(data) + " --role X").code, 3);
  EXPECT_EQ(run_cli("registry list --data " + q(dir / "nowhere")).code, 3);
}

TEST_F(Cli, DevPkiWritesAManifest) {
  fs::path out = temp_dir("cli-pki");
  auto r = run_cli("dev-pki --out " + q(out) + " --at 2026-01-15T00:00:00Z");
  ASSERT_EQ(r.code, 0) << r.err;
  auto m = json::parse(read_text(out / "manifest.json"));
  ASSERT_TRUE(m);
  for (const auto& item : m->find("items")->as_array()) {
    EXPECT_TRUE(fs::exists(out / *item.find_string("cert"))) << *item.find_string("id");
  }
}

}  // namespace
}  // namespace hanko::test
