// The archive on SQLite and PostgreSQL: ingest (validate, B-LTA, store,
// idempotent), refusals, the renewal schedule with failures and backoff, a
// stronger digest near a sunset, retention end, export and purge, find, and
// two instances renewing concurrently.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "archive_fixture.h"
#include "hanko/common/digest.h"

namespace hanko::archive::testing {
namespace {

using namespace std::chrono;
using verifier::Indication;

class Ingest : public ArchiveTest {};

TEST_P(Ingest, ArchivesAtBLtaOnceAndKeepsTheSubmittedText) {
  new_tsa(t0 - days(30), t0 + 2 * kYear);
  auto key = signing_key(t0 - days(1), t0 + kYear);
  const std::string doc = sign_json(*key, t0);
  auto archive = make_archive(*db);
  const TimePoint now = t0 + hours(1);
  at(now);
  auto r = archive->ingest(doc, "application/fhir+json", "client-a", now);
  ASSERT_TRUE(r) << r.error().error.message;
  EXPECT_TRUE(r->created);
  const auto& item = r->item;
  EXPECT_EQ(item.id.size(), 64u);
  EXPECT_EQ(item.document_identifier, "1311234567-2026-00000001");
  EXPECT_EQ(item.document_type, "57833-6");
  EXPECT_EQ(item.patient, "urn:uuid:e6f8c2a4-4b1e-4f3b-9a2c-1b2c3d4e5f60");
  EXPECT_EQ(format_rfc3339(item.retention_end), "2029" + format_rfc3339(now).substr(4)) << "prescription: 3 years";
  ASSERT_TRUE(item.evidence_deadline);
  EXPECT_EQ(*item.evidence_deadline, from_unix(to_unix(t0 + 2 * kYear))) << "the TSA certificate's notAfter";
  ASSERT_TRUE(item.next_renewal);
  EXPECT_EQ(*item.next_renewal, *item.evidence_deadline - days(180));
  EXPECT_EQ(item.status, ItemStatus::ok);

  auto got = archive->get(item.id, now);
  ASSERT_TRUE(got) << got.error().message;
  ASSERT_EQ(got->versions.size(), 2u);
  EXPECT_EQ(got->versions[0].kind, "submitted");
  EXPECT_EQ(got->versions[0].level, "B-T");
  EXPECT_EQ(got->versions[1].level, "B-LTA");
  EXPECT_EQ(got->versions[1].digest, "SHA-256");
  EXPECT_EQ(*archive->version_document(item.id, 0), doc);
  EXPECT_EQ(got->versions[1].sha256, hex(sha256(got->document)));

  auto rep = archive->report(item.id, now + days(1));
  ASSERT_TRUE(rep) << rep.error().message;
  EXPECT_EQ(rep->indication, Indication::total_passed) << verifier::to_text(*rep);
  EXPECT_EQ(rep->signatures.front().format, "JAdES-BASELINE-LTA");

  // The same signature again: the same item, nothing added.
  auto again = archive->ingest(doc, "application/fhir+json", "client-b", now + hours(1));
  ASSERT_TRUE(again) << again.error().error.message;
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->item.id, item.id);
  EXPECT_EQ(again->item.caller, "client-a");
  EXPECT_EQ(archive->get(item.id, now)->versions.size(), 2u);
  // A differently signed document is another item.
  auto other = archive->ingest(sign_json(*key, t0 + minutes(5), 2), "", "client-a", now);
  ASSERT_TRUE(other) << other.error().error.message;
  EXPECT_NE(other->item.id, item.id);
}

TEST_P(Ingest, XmlDocument) {
  new_tsa(t0 - days(30), t0 + 2 * kYear);
  auto key = signing_key(t0 - days(1), t0 + kYear);
  const std::string doc = sign_xml(*key, t0);
  auto archive = make_archive(*db);
  at(t0 + hours(1));
  auto r = archive->ingest(doc, "application/fhir+xml", "client-a", t0 + hours(1));
  ASSERT_TRUE(r) << r.error().error.message;
  EXPECT_EQ(r->item.content_type, "application/fhir+xml");
  EXPECT_EQ(r->item.document_type, "57833-6");
  EXPECT_FALSE(r->item.patient.empty());
  auto rep = archive->report(r->item.id, t0 + days(1));
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->indication, Indication::total_passed) << verifier::to_text(*rep);
  EXPECT_EQ(rep->signatures.front().format, "XAdES-BASELINE-LTA");
  EXPECT_FALSE(archive->ingest(doc, "", "x", t0 + hours(2))->created);
}

TEST_P(Ingest, TamperedDocumentIsRejectedWithTheReport) {
  new_tsa(t0 - days(30), t0 + 2 * kYear);
  auto key = signing_key(t0 - days(1), t0 + kYear);
  std::string doc = sign_json(*key, t0);
  const auto p = doc.find("1311234567-2026-00000001");
  ASSERT_NE(p, std::string::npos);
  doc.replace(p, 4, "9999");
  auto archive = make_archive(*db);
  at(t0 + hours(1));
  auto r = archive->ingest(doc, "application/fhir+json", "client-a", t0 + hours(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, IngestFailure::rejected) << r.error().error.message;
  ASSERT_TRUE(r.error().report);
  EXPECT_EQ(r.error().report->indication, Indication::total_failed);
  auto none = archive->find(FindQuery{.at = t0 + hours(1)});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty()) << "nothing stored";
}

TEST_P(Ingest, IndeterminateIsTryLaterAndNotStored) {
  new_tsa(t0 - days(30), t0 + 2 * kYear);
  auto key = signing_key(t0 - days(1), t0 + kYear);
  const std::string doc = sign_json(*key, t0);
  rev->stop();  // the revocation sources are down: no proof the signer is not revoked
  auto archive = make_archive(*db);
  auto r = archive->ingest(doc, "application/fhir+json", "client-a", t0 + hours(1));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, IngestFailure::indeterminate) << r.error().error.message;
  EXPECT_GT(r.error().retry_after.count(), 0);
  ASSERT_TRUE(r.error().report);
  EXPECT_EQ(r.error().report->indication, Indication::indeterminate);
  EXPECT_TRUE(archive->find(FindQuery{.at = t0})->empty());
}

TEST_P(Ingest, NotASignedBundleIsInvalid) {
  auto archive = make_archive(*db);
  auto r = archive->ingest(test::read_text(test::data_file("bundles/simple-prescription.json")), "", "c", t0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, IngestFailure::invalid);
  EXPECT_EQ(r.error().error.code, Errc::no_signature);
}

INSTANTIATE_TEST_SUITE_P(Backends, Ingest, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         backend_name);

class Renewal : public ArchiveTest {
 protected:
  /** Archives `n` documents at t0 + 1h (TSA valid t0-30d..t0+2y); returns their ids. */
  std::vector<std::string> archive_some(Archive& archive, int n) {
    new_tsa(t0 - days(30), t0 + 2 * kYear);
    key = signing_key(t0 - days(1), t0 + kYear);
    std::vector<std::string> ids;
    for (int i = 1; i <= n; ++i) {
      const std::string doc = sign_json(*key, t0 + seconds(i), i);
      at(t0 + hours(1));
      auto r = archive.ingest(doc, "application/fhir+json", "client", t0 + hours(1));
      EXPECT_TRUE(r) << r.error().error.message;
      if (r) {
        ids.push_back(r->item.id);
      }
    }
    return ids;
  }
  std::unique_ptr<signer::SigningKey> key;
};

TEST_P(Renewal, RenewsWhenDueKeepsEveryVersionAndReschedules) {
  auto archive = make_archive(*db);
  auto ids = archive_some(*archive, 1);
  ASSERT_EQ(ids.size(), 1u);
  const auto first = *archive->get(ids[0], t0 + hours(2));
  const TimePoint due = *first.item.next_renewal;

  // Not due yet: nothing happens.
  at(due - days(1));
  auto early = archive->renew_due(due - days(1), 100);
  EXPECT_EQ(early.claimed, 0u);
  EXPECT_EQ(archive->get(ids[0], due - days(1))->item.status, ItemStatus::ok);
  EXPECT_EQ(archive->get(ids[0], due)->item.status, ItemStatus::due);

  // Due: a new TSA (the old certificate ends in 180 days) and a renewal.
  new_tsa(due - days(1), due + 2 * kYear);
  at(due);
  std::vector<RenewProgress> seen;
  auto s = archive->renew_due(due, 100, [&](const RenewProgress& p) { seen.push_back(p); });
  EXPECT_EQ(s.claimed, 1u);
  EXPECT_EQ(s.renewed, 1u) << (s.errors.empty() ? "" : s.errors.front());
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.remaining_due, 0u);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].renewed);

  auto after = archive->get(ids[0], due);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->item.current_version, 2);
  EXPECT_EQ(after->item.renewals, 1);
  EXPECT_EQ(after->item.status, ItemStatus::ok);
  ASSERT_EQ(after->versions.size(), 3u);
  for (int v = 0; v < 2; ++v) {
    EXPECT_EQ(after->versions[v].sha256, first.versions[v].sha256) << "version " << v << " unchanged";
    EXPECT_EQ(hex(sha256(*archive->version_document(ids[0], v))), first.versions[v].sha256);
  }
  EXPECT_EQ(after->versions[2].kind, "renewal");
  EXPECT_EQ(*after->item.evidence_deadline, from_unix(to_unix(due + 2 * kYear)));
  // The new TSA certificate (due + 2 years, minus the margin) outlasts the three-year retention: no more renewals.
  EXPECT_FALSE(after->item.next_renewal);
  // The document after renewal validates long after the first TSA certificate ended.
  const TimePoint later = t0 + 2 * kYear + days(30);
  auto rep = archive->report(ids[0], later);
  ASSERT_TRUE(rep);
  EXPECT_EQ(rep->indication, Indication::total_passed) << verifier::to_text(*rep);
  // Renewing again at the same time: nothing due.
  EXPECT_EQ(archive->renew_due(due, 100).claimed, 0u);
}

TEST_P(Renewal, FailuresAreRecordedWithBackoffThenRecover) {
  auto archive = make_archive(*db);
  auto ids = archive_some(*archive, 1);
  ASSERT_EQ(ids.size(), 1u);
  const TimePoint due = *archive->get(ids[0], t0)->item.next_renewal;
  tsa.use(nullptr);  // every TSA down
  at(due);
  auto s1 = archive->renew_due(due, 100);
  EXPECT_EQ(s1.claimed, 1u);
  EXPECT_EQ(s1.renewed, 0u);
  EXPECT_EQ(s1.failed, 1u);
  ASSERT_EQ(s1.errors.size(), 1u);
  EXPECT_NE(s1.errors[0].find("no TSA reachable"), std::string::npos) << s1.errors[0];
  auto it = archive->get(ids[0], due)->item;
  EXPECT_EQ(it.status, ItemStatus::failing);
  EXPECT_EQ(it.failures, 1);
  EXPECT_EQ(*it.retry_at, from_unix(to_unix(due + hours(1))));
  EXPECT_EQ(it.current_version, 1);
  EXPECT_FALSE(it.lease_owner) << "the lease is released";
  EXPECT_EQ(archive->counts(due)->failing, 1u);

  // Before the retry time: not attempted.
  EXPECT_EQ(archive->renew_due(due + minutes(59), 100).claimed, 0u);
  // At the retry time, still down: the delay doubles.
  auto s2 = archive->renew_due(due + hours(1), 100);
  EXPECT_EQ(s2.failed, 1u);
  it = archive->get(ids[0], due)->item;
  EXPECT_EQ(it.failures, 2);
  EXPECT_EQ(*it.retry_at, from_unix(to_unix(due + hours(3))));
  // The TSA is back.
  new_tsa(due, due + 2 * kYear);
  at(due + hours(3));
  auto s3 = archive->renew_due(due + hours(3), 100);
  EXPECT_EQ(s3.renewed, 1u) << (s3.errors.empty() ? "" : s3.errors.front());
  it = archive->get(ids[0], due + hours(3))->item;
  EXPECT_EQ(it.status, ItemStatus::ok);
  EXPECT_EQ(it.failures, 0);
  EXPECT_FALSE(it.retry_at);
  EXPECT_EQ(it.current_version, 2);
}

TEST_P(Renewal, UnrenewedItemBecomesOverdue) {
  auto archive = make_archive(*db);
  auto ids = archive_some(*archive, 1);
  ASSERT_EQ(ids.size(), 1u);
  const auto it = archive->get(ids[0], t0)->item;
  EXPECT_EQ(archive->get(ids[0], *it.evidence_deadline - seconds(1))->item.status, ItemStatus::due);
  EXPECT_EQ(archive->get(ids[0], *it.evidence_deadline)->item.status, ItemStatus::overdue);
  auto c = archive->counts(*it.evidence_deadline);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->overdue, 1u);
  EXPECT_EQ(c->total, 1u);
}

TEST_P(Renewal, StrongerDigestWhenTheTableSaysSha256IsNearItsSunset) {
  ArchiveConfig config;
  auto archive = make_archive(*db);
  auto ids = archive_some(*archive, 1);
  ASSERT_EQ(ids.size(), 1u);
  const TimePoint due = *archive->get(ids[0], t0)->item.next_renewal;
  config.algorithms.set("SHA-256", due + days(90));  // within the margin at `due`
  auto stronger = make_archive(*db, config);
  new_tsa(due - days(1), due + 2 * kYear);
  at(due);
  auto s = stronger->renew_due(due, 100);
  EXPECT_EQ(s.renewed, 1u) << (s.errors.empty() ? "" : s.errors.front());
  auto got = stronger->get(ids[0], due);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->versions.back().digest, "SHA-384");
  EXPECT_EQ(got->versions[1].digest, "SHA-256");
  // Without the sunset the digest stays SHA-256.
  EXPECT_EQ(AlgorithmTable::defaults().archive_digest(due, config.schedule.margin), DigestAlg::sha256);
}

TEST_P(Renewal, RetentionEndStopsRenewalAndPurgeOnlyAfterIt) {
  ArchiveConfig config;
  config.retention.rules = {{"57833-6", 1}};  // one year, inside the TSA certificate's two
  auto archive = make_archive(*db, config);
  auto ids = archive_some(*archive, 1);
  ASSERT_EQ(ids.size(), 1u);
  auto it = archive->get(ids[0], t0)->item;
  EXPECT_FALSE(it.next_renewal) << "the evidence outlives the retention period";
  const TimePoint end = it.retention_end;

  auto early = archive->purge(ids[0], "admin", end - seconds(1));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, Errc::conflict);
  EXPECT_EQ(archive->get(ids[0], end)->item.status, ItemStatus::retention_ended);
  EXPECT_EQ(archive->renew_due(end + kYear, 100).claimed, 0u);

  auto exported = archive->export_item(ids[0], "admin", end);
  ASSERT_TRUE(exported) << exported.error().message;
  ASSERT_EQ(exported->documents.size(), 2u);
  EXPECT_EQ(hex(sha256(exported->documents[1])), exported->versions[1].sha256);

  auto purged = archive->purge(ids[0], "admin", end);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(purged->versions_deleted, 2u);
  EXPECT_GT(purged->bytes_deleted, 0u);
  ASSERT_EQ(purged->version_sha256.size(), 2u);
  EXPECT_EQ(purged->version_sha256[1], exported->versions[1].sha256);
  auto after = archive->get(ids[0], end);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->item.status, ItemStatus::purged);
  EXPECT_TRUE(after->versions.empty());
  EXPECT_EQ(archive->purge(ids[0], "admin", end).error().code, Errc::expired);
  EXPECT_EQ(archive->export_item(ids[0], "admin", end).error().code, Errc::expired);
  EXPECT_EQ(archive->report(ids[0], end).error().code, Errc::expired);
  EXPECT_EQ(archive->get("0000", end).error().code, Errc::not_found);
}

TEST_P(Renewal, FindByIdentifierPatientAndStatus) {
  auto archive = make_archive(*db);
  auto ids = archive_some(*archive, 3);
  ASSERT_EQ(ids.size(), 3u);
  auto by_id = archive->find(FindQuery{.identifier = "1311234567-2026-100000002", .at = t0});
  ASSERT_TRUE(by_id);
  ASSERT_EQ(by_id->size(), 1u);
  EXPECT_EQ(by_id->front().id, ids[1]);
  EXPECT_TRUE(archive->find(FindQuery{.identifier = "nope", .at = t0})->empty());
  auto by_patient = archive->find(FindQuery{.patient = "urn:uuid:e6f8c2a4-4b1e-4f3b-9a2c-1b2c3d4e5f60", .at = t0});
  EXPECT_EQ(by_patient->size(), 3u);
  const TimePoint due = *by_id->front().next_renewal;
  EXPECT_EQ(archive->find(FindQuery{.status = ItemStatus::due, .at = due})->size(), 3u);
  EXPECT_EQ(archive->find(FindQuery{.status = ItemStatus::ok, .at = due})->size(), 0u);
  EXPECT_EQ(archive->find(FindQuery{.at = t0, .limit = 2})->size(), 2u);
}

TEST_P(Renewal, TwoInstancesRenewEachItemExactlyOnce) {
  auto archive = make_archive(*db);
  auto ids = archive_some(*archive, 12);
  ASSERT_EQ(ids.size(), 12u);
  const TimePoint due = *archive->get(ids[0], t0)->item.next_renewal + minutes(1);
  new_tsa(due - days(1), due + 2 * kYear);
  at(due);
  auto db1 = open_db();
  auto db2 = open_db();
  ArchiveConfig c1, c2;
  c1.instance_id = "instance-1";
  c2.instance_id = "instance-2";
  c1.schedule.claim_batch = c2.schedule.claim_batch = 2;
  auto a1 = make_archive(*db1, c1);
  auto a2 = make_archive(*db2, c2);
  RenewSummary s1, s2;
  std::thread th1([&] { s1 = a1->renew_due(due, 100); });
  std::thread th2([&] { s2 = a2->renew_due(due, 100); });
  th1.join();
  th2.join();
  EXPECT_EQ(s1.renewed + s2.renewed, 12u) << s1.renewed << " + " << s2.renewed;
  EXPECT_EQ(s1.failed + s2.failed, 0u);
  EXPECT_EQ(s1.lost_lease + s2.lost_lease, 0u);
  for (const auto& id : ids) {
    auto got = archive->get(id, due);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->item.renewals, 1) << id;
    EXPECT_EQ(got->versions.size(), 3u) << id;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, Renewal, ::testing::Values(store::Backend::sqlite, store::Backend::postgresql),
                         backend_name);

}  // namespace
}  // namespace hanko::archive::testing
