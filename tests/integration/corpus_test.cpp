// Sign and verify the shared corpus Bundles (skipped in a user's clone).
#include "fixture.h"

namespace hanko::test {
namespace {

class Corpus : public EndToEnd, public ::testing::WithParamInterface<const char*> {};

TEST_P(Corpus, SignsAndVerifiesAtBaselineT) {
  HANKO_CORPUS_OR_SKIP(path, GetParam());
  auto parsed = signer::parse_document_bundle(read_text(path));
  ASSERT_TRUE(parsed) << parsed.error().message;
  // The split-dispensing example already carries a (sample) signature: sign it anew.
  parsed->erase("signature");
  for (const auto* canon : {&signer::jcs(), &signer::fhir_json()}) {
    auto b = sign(*parsed, "doctor", signer::Level::B_T, sign_time(), canon);
    // Through text and back, as a receiver would get it.
    auto again = signer::parse_document_bundle(json::serialize(b, 2));
    ASSERT_TRUE(again) << again.error().message;
    auto r = verify(*again, sign_time() + std::chrono::hours(1));
    EXPECT_EQ(r.indication, verifier::Indication::total_passed) << GetParam() << "\n" << verifier::to_text(r);
  }
}

INSTANTIATE_TEST_SUITE_P(SharedCorpus, Corpus,
                         ::testing::Values("jp-eprescription-example01.json", "jp-eprescription-bunkatsu.json",
                                           "ips-bundle-minimal.json",
                                           "synthetic/jp-eprescription-example01-100k.json",
                                           "synthetic/jp-eprescription-example01-1m.json"));

}  // namespace
}  // namespace hanko::test
