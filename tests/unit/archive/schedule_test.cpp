// The schedule's pure functions: retention, evidence deadline, next renewal,
// archive digest choice, backoff. Each rule with a case that passes and one
// that does not.
#include <gtest/gtest.h>

#include "hanko/archive/schedule.h"

namespace hanko::archive {
namespace {

using namespace std::chrono;

TEST(Retention, PrescriptionThreeYearsOtherFive) {
  const auto t = RetentionTable::defaults();
  EXPECT_EQ(t.years_for("57833-6"), 3);
  EXPECT_EQ(t.years_for("18842-5"), 5);  // discharge summary: the default
  EXPECT_EQ(t.years_for(""), 5);
  EXPECT_EQ(t.end_for("57833-6", utc(2026, 1, 16, 9)), utc(2029, 1, 16, 9));
  EXPECT_EQ(t.end_for("x", utc(2028, 2, 29)), utc(2033, 2, 28)) << "29 February becomes 28 February";
}

TEST(Retention, Configurable) {
  RetentionTable t = RetentionTable::defaults();
  t.rules.insert(t.rules.begin(), RetentionRule{"57833-6", 5});
  t.default_years = 10;
  EXPECT_EQ(t.years_for("57833-6"), 5);
  EXPECT_EQ(t.years_for("other"), 10);
}

ArchiveEvidence evidence(TimePoint tsa_not_after, std::string digest = "SHA-256", std::string key = "RSA-2048") {
  ArchiveEvidence e;
  e.level = "B-LTA";
  e.archive_time = utc(2026, 1, 16);
  e.tsa_not_after = tsa_not_after;
  e.digest = std::move(digest);
  e.tsa_key = std::move(key);
  return e;
}

TEST(Deadline, TsaCertificateOrSunsetWhicheverIsFirst) {
  const auto table = AlgorithmTable::defaults();
  // The TSA certificate ends first.
  EXPECT_EQ(evidence_deadline(evidence(utc(2028, 1, 1)), table), utc(2028, 1, 1));
  // RSA-2048's sunset (2031-01-01) comes before the TSA certificate's end.
  EXPECT_EQ(evidence_deadline(evidence(utc(2035, 1, 1)), table), utc(2031, 1, 1));
  // No such sunset for RSA-3072.
  EXPECT_EQ(evidence_deadline(evidence(utc(2035, 1, 1), "SHA-256", "RSA-3072"), table), utc(2035, 1, 1));
  // A digest sunset configured.
  auto t2 = table;
  t2.set("SHA-256", utc(2030, 6, 1));
  EXPECT_EQ(evidence_deadline(evidence(utc(2035, 1, 1), "SHA-256", "RSA-3072"), t2), utc(2030, 6, 1));
  EXPECT_EQ(evidence_deadline(evidence(utc(2035, 1, 1), "SHA-384", "RSA-3072"), t2), utc(2035, 1, 1));
  // No archive timestamp: no deadline.
  EXPECT_FALSE(evidence_deadline(ArchiveEvidence{}, table));
}

TEST(NextRenewal, MarginBeforeDeadlineAndNoneAfterRetention) {
  const auto margin = duration_cast<seconds>(days(180));
  EXPECT_EQ(next_renewal(utc(2028, 1, 1), utc(2029, 1, 1), margin), utc(2028, 1, 1) - days(180));
  // The evidence outlives the retention period: no renewal.
  EXPECT_FALSE(next_renewal(utc(2030, 1, 1), utc(2029, 1, 1), margin));
  // Deadline inside the margin of the retention end: still renewed.
  EXPECT_TRUE(next_renewal(utc(2029, 3, 1), utc(2029, 1, 1), margin));
  EXPECT_FALSE(next_renewal(std::nullopt, utc(2029, 1, 1), margin));
}

TEST(ArchiveDigest, StrongerWhenNearSunset) {
  auto t = AlgorithmTable::defaults();
  const auto margin = duration_cast<seconds>(days(180));
  EXPECT_EQ(t.archive_digest(utc(2026, 1, 1), margin), DigestAlg::sha256);
  t.set("SHA-256", utc(2026, 5, 1));
  EXPECT_EQ(t.archive_digest(utc(2026, 1, 1), margin), DigestAlg::sha384) << "SHA-256 sunsets within the margin";
  EXPECT_EQ(t.archive_digest(utc(2025, 1, 1), margin), DigestAlg::sha256) << "not yet near the sunset";
  t.set("SHA-384", utc(2026, 5, 1));
  EXPECT_EQ(t.archive_digest(utc(2026, 1, 1), margin), DigestAlg::sha512);
}

TEST(KeyClass, Names) {
  EXPECT_EQ(key_class_name("RSA", 1024), "RSA-1024");
  EXPECT_EQ(key_class_name("RSA", 2048), "RSA-2048");
  EXPECT_EQ(key_class_name("RSA", 3072), "RSA-3072");
  EXPECT_EQ(key_class_name("RSA", 8192), "RSA-4096");
  EXPECT_EQ(key_class_name("EC", 256), "EC-256");
  EXPECT_EQ(key_class_name("DSA", 2048), "");
}

TEST(Backoff, DoublesUpToTheCeiling) {
  ScheduleOptions o;
  EXPECT_EQ(retry_delay(1, o), hours(1));
  EXPECT_EQ(retry_delay(2, o), hours(2));
  EXPECT_EQ(retry_delay(4, o), hours(8));
  EXPECT_EQ(retry_delay(20, o), days(7));
  EXPECT_EQ(retry_delay(1000, o), days(7));
}

}  // namespace
}  // namespace hanko::archive
