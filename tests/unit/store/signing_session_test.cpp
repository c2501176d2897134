// Signing sessions (two-step signing, issue 7) on both backends: created once,
// consumed exactly once (also by competing threads with a Database each, as
// two instances would), expired, unknown, purged.
#include <Poco/Data/LOB.h>
#include <Poco/Data/Session.h>

#include <atomic>
#include <latch>
#include <thread>

#include "hanko/store/database.h"
#include "store_fixture.h"

namespace hanko::store {
namespace {

using namespace Poco::Data::Keywords;
using namespace std::chrono_literals;
using testing::BackendTest;

class SigningSessionTest : public BackendTest {};
HANKO_INSTANTIATE_FOR_BACKENDS(SigningSessionTest);

const TimePoint kT0 = utc(2026, 3, 1, 9, 0, 0);

SigningSession make_session(Bytes payload = {0x7b, 0x00, 0x01, 0x7d}) {
  auto id = new_signing_session_id();
  EXPECT_TRUE(id);
  SigningSession s;
  s.id = id.value_or("");
  s.created = kT0;
  s.expires = kT0 + 5min;
  s.client_id = "pharmacy-42";
  s.payload = std::move(payload);
  return s;
}

TEST(SigningSessionId, Is32LowerCaseHexDigitsAndFresh) {
  auto a = new_signing_session_id();
  auto b = new_signing_session_id();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->size(), 32u);
  EXPECT_EQ(a->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(*a, *b);
}

TEST_P(SigningSessionTest, ConsumedOnceThenAlreadyUsed) {
  auto db = open();
  ASSERT_TRUE(db);
  const auto s = make_session();
  ASSERT_TRUE(db->create_signing_session(s));

  auto got = db->consume_signing_session(s.id, kT0 + 1min);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->id, s.id);
  EXPECT_EQ(got->client_id, "pharmacy-42");
  EXPECT_EQ(got->created, s.created);
  EXPECT_EQ(got->expires, s.expires);
  EXPECT_EQ(got->payload, s.payload);

  auto again = db->consume_signing_session(s.id, kT0 + 2min);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Errc::conflict);
  EXPECT_NE(again.error().message.find("already used"), std::string::npos) << again.error().message;
}

TEST_P(SigningSessionTest, ThePayloadIsNotKeptAfterConsumption) {
  auto db = open();
  ASSERT_TRUE(db);
  const auto s = make_session(Bytes(1000, 0xab));
  ASSERT_TRUE(db->create_signing_session(s));
  Poco::Int64 before = -1;
  Poco::Int64 after = -1;
  const auto& d = db->dialect();
  auto payload_size = [&](Poco::Int64& out) {
    return db->transaction([&](Session& ses) -> Result<void> {
      std::string id = s.id;
      Poco::Data::BLOB p;
      ses << d.sql("SELECT payload FROM signing_sessions WHERE id = ?"), use(id), into(p), now;
      out = static_cast<Poco::Int64>(p.size());
      return {};
    });
  };
  ASSERT_TRUE(payload_size(before));
  ASSERT_TRUE(db->consume_signing_session(s.id, kT0));
  ASSERT_TRUE(payload_size(after));
  EXPECT_EQ(before, 1000);
  EXPECT_EQ(after, 0);
}

TEST_P(SigningSessionTest, ExpiredAtItsExpiryTimeNotBefore) {
  auto db = open();
  ASSERT_TRUE(db);
  const auto late = make_session();
  ASSERT_TRUE(db->create_signing_session(late));
  auto expired = db->consume_signing_session(late.id, late.expires);
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, Errc::expired);
  EXPECT_NE(expired.error().message.find("expired"), std::string::npos);
  EXPECT_NE(expired.error().message.find("2026-03-01T09:05:00Z"), std::string::npos) << expired.error().message;
  // Expiry does not use the session up: it stays expired, not "already used".
  EXPECT_EQ(db->consume_signing_session(late.id, late.expires + 1h).error().code, Errc::expired);

  const auto in_time = make_session();
  ASSERT_TRUE(db->create_signing_session(in_time));
  auto ok = db->consume_signing_session(in_time.id, in_time.expires - 1s);
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST_P(SigningSessionTest, UnknownAndMalformedIdsAreNotFound) {
  auto db = open();
  ASSERT_TRUE(db);
  const auto s = make_session();
  ASSERT_TRUE(db->create_signing_session(s));
  auto other = new_signing_session_id();
  ASSERT_TRUE(other);
  EXPECT_EQ(db->consume_signing_session(*other, kT0).error().code, Errc::not_found);
  EXPECT_EQ(db->consume_signing_session("", kT0).error().code, Errc::not_found);
  EXPECT_EQ(db->consume_signing_session("' OR '1'='1", kT0).error().code, Errc::not_found);
  std::string upper = s.id;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  if (upper != s.id) {
    EXPECT_EQ(db->consume_signing_session(upper, kT0).error().code, Errc::not_found);
  }
  EXPECT_TRUE(db->consume_signing_session(s.id, kT0));
}

TEST_P(SigningSessionTest, CreateRefusesBadIdsTimesAndDuplicates) {
  auto db = open();
  ASSERT_TRUE(db);
  auto s = make_session();
  s.id = "abc";
  EXPECT_EQ(db->create_signing_session(s).error().code, Errc::invalid_argument);
  s.id = std::string(32, 'A');
  EXPECT_EQ(db->create_signing_session(s).error().code, Errc::invalid_argument);
  s = make_session();
  s.expires = s.created;
  EXPECT_EQ(db->create_signing_session(s).error().code, Errc::invalid_argument);

  s = make_session();
  ASSERT_TRUE(db->create_signing_session(s));
  auto dup = s;
  dup.client_id = "someone-else";
  dup.payload = {0x01};
  auto r = db->create_signing_session(dup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::conflict);
  // The first one is untouched.
  auto got = db->consume_signing_session(s.id, kT0);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->client_id, "pharmacy-42");
  EXPECT_EQ(got->payload, s.payload);
}

TEST_P(SigningSessionTest, PayloadsEmptyWithZeroBytesAndOneMebibyteRoundTrip) {
  auto db = open();
  ASSERT_TRUE(db);
  Bytes large(1 << 20);
  for (std::size_t i = 0; i < large.size(); ++i) {
    large[i] = static_cast<std::uint8_t>(i % 251);
  }
  for (const Bytes& payload : {Bytes{}, Bytes{0x00}, Bytes{0x00, 0xff, 0x00, 0x5c, 0x27}, large}) {
    const auto s = make_session(payload);
    ASSERT_TRUE(db->create_signing_session(s)) << payload.size();
    auto got = db->consume_signing_session(s.id, kT0);
    ASSERT_TRUE(got) << got.error().message;
    EXPECT_EQ(got->payload.size(), payload.size());
    EXPECT_TRUE(got->payload == payload) << payload.size();
  }
}

TEST_P(SigningSessionTest, PurgeDeletesWhatExpiredBeforeTheGivenTime) {
  auto db = open();
  ASSERT_TRUE(db);
  auto early = make_session();  // expires kT0 + 5 min
  auto used = make_session();
  auto later = make_session();
  later.expires = kT0 + 1h;
  ASSERT_TRUE(db->create_signing_session(early));
  ASSERT_TRUE(db->create_signing_session(used));
  ASSERT_TRUE(db->create_signing_session(later));
  ASSERT_TRUE(db->consume_signing_session(used.id, kT0));

  auto none = db->purge_signing_sessions(kT0 + 5min);  // nothing expired *before* then
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0u);
  EXPECT_EQ(db->consume_signing_session(used.id, kT0).error().code, Errc::conflict);

  auto purged = db->purge_signing_sessions(kT0 + 10min);
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 2u);  // early (unused) and used
  EXPECT_EQ(db->consume_signing_session(early.id, kT0).error().code, Errc::not_found);
  EXPECT_EQ(db->consume_signing_session(used.id, kT0).error().code, Errc::not_found);
  EXPECT_TRUE(db->consume_signing_session(later.id, kT0 + 10min));
}

TEST_P(SigningSessionTest, PreparedOnOneInstanceCompletedOnAnother) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  const auto s = make_session();
  ASSERT_TRUE(a->create_signing_session(s));
  auto got = b->consume_signing_session(s.id, kT0);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->payload, s.payload);
  EXPECT_EQ(a->consume_signing_session(s.id, kT0).error().code, Errc::conflict);
}

TEST_P(SigningSessionTest, EightCompetingInstancesExactlyOneWins) {
  constexpr int kInstances = 8;
  std::vector<std::unique_ptr<Database>> dbs;
  for (int i = 0; i < kInstances; ++i) {
    dbs.push_back(open());
    ASSERT_TRUE(dbs.back());
  }
  // Several rounds, each on a fresh session, to give a race many chances to show.
  for (int round = 0; round < 5; ++round) {
    const auto s = make_session();
    ASSERT_TRUE(dbs[0]->create_signing_session(s));
    std::latch start(kInstances);
    std::atomic<int> won{0};
    std::atomic<int> used{0};
    std::vector<std::string> other(kInstances);
    std::vector<std::thread> threads;
    for (int i = 0; i < kInstances; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        auto r = dbs[static_cast<std::size_t>(i)]->consume_signing_session(s.id, kT0);
        if (r) {
          ++won;
          EXPECT_EQ(r->payload, s.payload);
        } else if (r.error().code == Errc::conflict) {
          ++used;
        } else {
          other[static_cast<std::size_t>(i)] = r.error().message;
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    for (const auto& o : other) {
      EXPECT_EQ(o, "");
    }
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(used.load(), kInstances - 1) << "round " << round;
  }
}

}  // namespace
}  // namespace hanko::store
