#pragma once
/**
 * End-to-end fixture: the test dev PKI, a development TSA over real HTTP on
 * 127.0.0.1 port 0 with a pinned clock, and the trust store of the PKI.
 */
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/clock.h"
#include "hanko/common/json.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/signing_key.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/tsa_http_server.h"
#include "hanko/verifier/verifier.h"
#include "test_support.h"

namespace hanko::test {

class EndToEnd : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /** The test Bundle of tests/data/bundles/simple-prescription.json, parsed. */
  json::Value bundle() const;
  /** A PEM signing key of the dev PKI ("doctor", "dentist", ...). */
  std::unique_ptr<signer::SigningKey> key(const std::string& id) const;
  /** Signs with the dev TSA over HTTP; the TSA clock reads tsa_clock. */
  json::Value sign(const json::Value& b, const std::string& key_id, signer::Level level, TimePoint when,
                   const signer::Canonicalizer* canon = nullptr);
  /** Verifies at `at` against the dev PKI's trust folder. */
  verifier::ValidationReport verify(const json::Value& b, TimePoint at);

  FixedClock tsa_clock{sign_time()};
  std::unique_ptr<tsa::DevTsa> dev_tsa;
  std::unique_ptr<tsa::TsaHttpServer> tsa_server;
  std::unique_ptr<tsa::HttpTsaClient> tsa_client;
  std::unique_ptr<certstore::TrustStore> trust;
};

/** Replaces every occurrence of `from` in the JSON text of `v` and reparses. */
json::Value edit_json(const json::Value& v, const std::string& from, const std::string& to);

/** What a run of the hanko binary printed and returned. */
struct CliRun {
  int code = -1;
  std::string out;
  std::string err;
};

/** Runs build/bin/hanko with `args` (already shell-quoted), stdin closed, stdout and stderr captured. */
CliRun run_cli(const std::string& args);

}  // namespace hanko::test
