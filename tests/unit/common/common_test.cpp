// base64/base64url, constant-time comparison, digests and time helpers.
#include <gtest/gtest.h>

#include "hanko/common/base64.h"
#include "hanko/common/bytes.h"
#include "hanko/common/clock.h"
#include "hanko/common/digest.h"
#include "hanko/common/file.h"
#include "test_support.h"

namespace hanko {
namespace {

TEST(Base64, Rfc4648Vectors) {
  // RFC 4648 section 10.
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, enc] : vectors) {
    EXPECT_EQ(base64_encode(as_bytes(plain)), enc);
    auto dec = base64_decode(enc);
    ASSERT_TRUE(dec) << enc;
    EXPECT_EQ(to_string(*dec), plain);
  }
}

TEST(Base64, UrlAlphabetWithoutPadding) {
  Bytes b = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(base64_encode(b), "+/+/");
  EXPECT_EQ(base64url_encode(b), "-_-_");
  EXPECT_EQ(base64url_encode(as_bytes("f")), "Zg");
  ASSERT_TRUE(base64url_decode("Zg"));
  EXPECT_EQ(to_string(*base64url_decode("Zg")), "f");
}

TEST(Base64, RefusesMalformedInput) {
  EXPECT_FALSE(base64_decode("Zg"));        // padding required
  EXPECT_FALSE(base64_decode("Zm9v\n"));    // no whitespace
  EXPECT_FALSE(base64_decode("Zm-v"));      // url alphabet in standard
  EXPECT_FALSE(base64_decode("Zh=="));      // non-zero leftover bits
  EXPECT_FALSE(base64url_decode("Zg=="));   // no padding in base64url
  EXPECT_FALSE(base64url_decode("Z"));      // impossible length
  EXPECT_FALSE(base64url_decode("Zm+v"));   // standard alphabet in url
}

TEST(Bytes, ConstantTimeEqual) {
  Bytes a = {1, 2, 3};
  Bytes b = {1, 2, 3};
  Bytes c = {1, 2, 4};
  Bytes d = {1, 2};
  EXPECT_TRUE(ct_equal(a, b));
  EXPECT_FALSE(ct_equal(a, c));
  EXPECT_FALSE(ct_equal(a, d));
  EXPECT_TRUE(ct_equal(Bytes{}, Bytes{}));
  EXPECT_EQ(hex(a), "010203");
}

TEST(Digest, Sha256KnownAnswer) {
  EXPECT_EQ(hex(sha256(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(digest(DigestAlg::sha512, as_bytes("abc")).size(), 64u);
}

TEST(Clock, Rfc3339RoundTrip) {
  TimePoint t = utc(2026, 1, 16, 9, 30, 5);
  EXPECT_EQ(format_rfc3339(t), "2026-01-16T09:30:05Z");
  EXPECT_EQ(format_rfc3339(t + std::chrono::milliseconds(123), true), "2026-01-16T09:30:05.123Z");
  EXPECT_EQ(parse_rfc3339("2026-01-16T09:30:05Z"), t);
  EXPECT_EQ(parse_rfc3339("2026-01-16T18:30:05+09:00"), t);
  EXPECT_EQ(parse_rfc3339("2026-01-16T09:30:05.5Z"), t + std::chrono::milliseconds(500));
  EXPECT_EQ(parse_rfc3339("2026-01-16"), utc(2026, 1, 16));
  EXPECT_EQ(to_unix(utc(1970, 1, 1)), 0);
}

TEST(Clock, RefusesBadTimes) {
  for (const char* bad : {"", "2026-13-01", "2026-02-30T00:00:00Z", "2026-01-16T09:30:05", "2026-01-16 09:30:05Z",
                          "2026-01-16T25:00:00Z", "2026-01-16T09:30:05+9:00", "2026-01-16T09:30:05Zjunk", "yesterday"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(Clock, FixedClockIsSettable) {
  FixedClock c(utc(2026, 1, 1));
  EXPECT_EQ(c.now(), utc(2026, 1, 1));
  c.advance(std::chrono::seconds(60));
  EXPECT_EQ(c.now(), utc(2026, 1, 1, 0, 1, 0));
}

TEST(File, ReadLimitAndAtomicWrite) {
  auto dir = test::temp_dir("file");
  auto p = (dir / "x.txt").string();
  ASSERT_TRUE(write_file(p, "hello"));
  auto r = read_file(p);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, "hello");
  auto small = read_file(p, 3);
  ASSERT_FALSE(small);
  EXPECT_EQ(small.error().code, Errc::too_large);
  auto missing = read_file((dir / "nope").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::io);
  EXPECT_FALSE(write_file((dir / "no-such-dir" / "x").string(), "x"));
}

}  // namespace
}  // namespace hanko
