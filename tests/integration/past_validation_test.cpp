// EN 319 102-1 past validation: expired and revoked signer certificates, with
// and without a signature timestamp (proof of existence) from before the event.
// The dev PKI is made at pki_time(): "expired" was valid from pki_time()-2y to
// pki_time()-1y; "revoked" is revoked at pki_time() in the CRL of the trust folder.
#include "fixture.h"

#include "report_schema.h"

namespace hanko::test {
namespace {

using namespace std::chrono;
using verifier::Indication;
using verifier::SubIndication;

class PastValidation : public EndToEnd {};

TimePoint while_expired_was_valid() { return pki_time() - days(500); }

TEST_F(PastValidation, ExpiredSignerWithoutTimestampIsOutOfBoundsNoPoe) {
  auto b = sign(bundle(), "expired", signer::Level::B_B, while_expired_was_valid());
  auto r = verify(b, sign_time());
  expect_valid_report(verifier::to_json(r));
  EXPECT_EQ(r.indication, Indication::indeterminate) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::out_of_bounds_no_poe);
}

TEST_F(PastValidation, ExpiredSignerWithTimestampBeforeExpiryPasses) {
  tsa_clock.set(while_expired_was_valid());
  auto b = sign(bundle(), "expired", signer::Level::B_T, while_expired_was_valid());
  auto r = verify(b, sign_time());
  expect_valid_report(verifier::to_json(r));
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
  ASSERT_TRUE(r.signatures.front().best_signature_time);
  EXPECT_EQ(*r.signatures.front().best_signature_time, while_expired_was_valid());
  EXPECT_FALSE(r.signatures.front().warnings.empty()) << "the expiry is still worth a warning";
}

TEST_F(PastValidation, ExpiredSignerWithTimestampAfterExpiryIsOutOfBoundsNoPoe) {
  tsa_clock.set(pki_time() - days(100));  // after notAfter (pki_time - 1y)
  auto b = sign(bundle(), "expired", signer::Level::B_T, while_expired_was_valid());
  auto r = verify(b, sign_time());
  EXPECT_EQ(r.indication, Indication::indeterminate) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::out_of_bounds_no_poe);
}

TEST_F(PastValidation, ValidationTimeBeforeTheCertificateIsOutOfBounds) {
  auto b = sign(bundle(), "doctor", signer::Level::B_B, sign_time());
  auto r = verify(b, pki_time() - days(30));
  EXPECT_EQ(r.indication, Indication::indeterminate) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::out_of_bounds_no_poe);
}

TEST_F(PastValidation, RevokedSignerWithoutTimestampIsRevokedNoPoe) {
  auto b = sign(bundle(), "revoked", signer::Level::B_B, sign_time());
  auto r = verify(b, sign_time());
  expect_valid_report(verifier::to_json(r));
  EXPECT_EQ(r.indication, Indication::indeterminate) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::revoked_no_poe);
}

TEST_F(PastValidation, RevokedSignerTimestampedAfterRevocationFails) {
  tsa_clock.set(sign_time());
  auto b = sign(bundle(), "revoked", signer::Level::B_T, sign_time());
  auto r = verify(b, sign_time() + hours(1));
  expect_valid_report(verifier::to_json(r));
  EXPECT_EQ(r.indication, Indication::total_failed) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::revoked);
}

TEST_F(PastValidation, RevokedSignerTimestampedBeforeRevocationPasses) {
  tsa_clock.set(pki_time() - hours(6));  // the certificate is valid from pki_time - 1 day
  auto b = sign(bundle(), "revoked", signer::Level::B_T, pki_time() - hours(6));
  auto r = verify(b, sign_time());
  expect_valid_report(verifier::to_json(r));
  EXPECT_EQ(r.indication, Indication::total_passed) << verifier::to_text(r);
}

TEST_F(PastValidation, NoHcRoleIsNotElectronicallyVerifiable) {
  auto r = verify(sign(bundle(), "no-role", signer::Level::B_B, sign_time()), sign_time());
  EXPECT_EQ(r.indication, Indication::indeterminate) << verifier::to_text(r);
  EXPECT_EQ(r.sub_indication, SubIndication::sig_constraints_failure);
  EXPECT_FALSE(r.signatures.front().role);
  bool warned = false;
  for (const auto& w : r.signatures.front().warnings) {
    warned = warned || w.find("hcRole") != std::string::npos;
  }
  EXPECT_TRUE(warned);
}

}  // namespace
}  // namespace hanko::test
