#pragma once
// The archive's test world: a PKI made at chosen times (the keys are the dev
// PKI's; certificates issued here), a DevRevocationServer (CRL and OCSP over
// HTTP on 127.0.0.1, port 0) and development TSAs with their own pinned
// clock, plus one database per test on SQLite or PostgreSQL.
//
// The PKI is the shared LtPki (tests/support/long_term_pki.h).
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "hanko/archive/archive.h"
#include "hanko/certstore/dev_revocation_server.h"
#include "hanko/certstore/revocation.h"
#include "hanko/certstore/trust_store.h"
#include "hanko/common/clock.h"
#include "hanko/common/http_client.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/signing_key.h"
#include "hanko/store/database.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "long_term_pki.h"
#include "pg_server.h"
#include "test_support.h"

namespace hanko::archive::testing {

inline constexpr auto kYear = std::chrono::days(365);

using test::LtPki;

/**
 * A TimestampSource forwarding to the development TSA in service (so that a
 * test can roll TSA certificates over, as an operator changes the TSA
 * configuration); with none in service it answers Errc::network, like every
 * TSA of a pool being down.
 */
class RollingTsa final : public tsa::TimestampSource {
 public:
  Result<Bytes> timestamp(ByteView data, DigestAlg alg) override;
  std::string describe() const override { return "rolling development TSA"; }
  void use(tsa::DevTsa* tsa);

 private:
  std::mutex m_mu;
  std::unique_ptr<tsa::InProcessTsa> m_current;
};

std::string backend_name(const ::testing::TestParamInfo<store::Backend>& info);

class ArchiveTest : public ::testing::TestWithParam<store::Backend> {
 protected:
  void SetUp() override;
  void TearDown() override;

  /** A new TSA (certificate valid nb..na) put in service. */
  tsa::DevTsa& new_tsa(TimePoint nb, TimePoint na);
  /** Sets the clocks of the revocation server and the TSAs. */
  void at(TimePoint t);
  /** A doctor's signing key valid nb..na. */
  std::unique_ptr<signer::SigningKey> signing_key(TimePoint nb, TimePoint na);
  /** Signs the test prescription (identifier suffix `n`) B-T at `when`. */
  std::string sign_json(const signer::SigningKey& key, TimePoint when, int n = 1);
  std::string sign_xml(const signer::SigningKey& key, TimePoint when);
  /** Opens another connection to this test's database. */
  std::unique_ptr<store::Database> open_db();
  ArchiveServices services();
  std::unique_ptr<Archive> make_archive(store::Database& db, ArchiveConfig config = {});

  TimePoint t0 = test::sign_time();
  FixedClock rev_clock{test::sign_time()};
  FixedClock tsa_clock{test::sign_time()};
  std::unique_ptr<certstore::DevRevocationServer> rev;
  std::unique_ptr<LtPki> pki;
  certstore::TrustStore sig_trust;
  certstore::TrustStore tsa_trust;
  HttpClient http;
  std::unique_ptr<certstore::RevocationChecker> revocation;
  RollingTsa tsa;
  std::vector<std::unique_ptr<tsa::DevTsa>> tsas;
  std::string target;
  std::unique_ptr<store::Database> db;
};

}  // namespace hanko::archive::testing
