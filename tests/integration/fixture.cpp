#include "fixture.h"

#include <sys/wait.h>

#include <atomic>
#include <cstdlib>

namespace hanko::test {

void EndToEnd::SetUp() {
  const auto& pki = dev_pki();
  const auto& t = pki.get("tsa");
  auto tsa = tsa::DevTsa::load(t.cert.string(), t.key.string(), t.chain.string(), tsa_clock);
  ASSERT_TRUE(tsa) << tsa.error().message;
  dev_tsa = std::move(*tsa);
  tsa_server = std::make_unique<tsa::TsaHttpServer>(*dev_tsa, "127.0.0.1", 0);
  tsa_server->start();
  tsa_client = std::make_unique<tsa::HttpTsaClient>(tsa_server->url());
  auto ts = certstore::TrustStore::load_dir(pki.trust_dir);
  ASSERT_TRUE(ts) << ts.error().message;
  trust = std::make_unique<certstore::TrustStore>(std::move(*ts));
}

void EndToEnd::TearDown() {
  if (tsa_server) {
    tsa_server->stop();
  }
}

json::Value EndToEnd::bundle() const {
  auto v = json::parse(read_text(data_file("bundles/simple-prescription.json")));
  EXPECT_TRUE(v) << v.error().message;
  return *v;
}

std::unique_ptr<signer::SigningKey> EndToEnd::key(const std::string& id) const {
  const auto& item = dev_pki().get(id);
  auto k = signer::PemSigningKey::load(item.cert.string(), item.key.string(), item.chain.string());
  EXPECT_TRUE(k) << k.error().message;
  return k ? std::move(*k) : nullptr;
}

json::Value EndToEnd::sign(const json::Value& b, const std::string& key_id, signer::Level level, TimePoint when,
                           const signer::Canonicalizer* canon) {
  auto k = key(key_id);
  signer::SignOptions opts;
  opts.level = level;
  opts.signing_time = when;
  opts.canonicalizer = canon;
  auto r = signer::sign_bundle(b, *k, tsa_client.get(), opts);
  EXPECT_TRUE(r) << r.error().message;
  return r ? r->bundle : json::Value();
}

verifier::ValidationReport EndToEnd::verify(const json::Value& b, TimePoint at) {
  verifier::VerifyOptions opts{trust.get(), trust.get(), at};
  auto r = verifier::verify_bundle(b, opts);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : verifier::ValidationReport{};
}

json::Value edit_json(const json::Value& v, const std::string& from, const std::string& to) {
  std::string text = json::serialize(v);
  auto pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "not found: " << from;
  while (pos != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos = text.find(from, pos + to.size());
  }
  auto r = json::parse(text);
  EXPECT_TRUE(r) << r.error().message;
  return r ? *r : json::Value();
}

CliRun run_cli(const std::string& args) {
  static std::atomic<int> n{0};
  const std::filesystem::path dir = temp_dir("cli-run-" + std::to_string(++n));
  const std::string cmd = "'" + hanko_binary().string() + "' " + args + " </dev/null >'" + (dir / "out").string() +
                          "' 2>'" + (dir / "err").string() + "'";
  const int status = std::system(cmd.c_str());
  CliRun r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = read_text(dir / "out");
  r.err = read_text(dir / "err");
  return r;
}

}  // namespace hanko::test
