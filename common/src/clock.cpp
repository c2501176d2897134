#include "hanko/common/clock.h"

#include <charconv>
#include <cstdio>

namespace hanko {

using namespace std::chrono;

std::int64_t to_unix(TimePoint t) { return duration_cast<seconds>(t.time_since_epoch()).count(); }
TimePoint from_unix(std::int64_t s) { return TimePoint(seconds(s)); }

TimePoint utc(int year, int month, int day, int hour, int minute, int second) {
  sys_days d = year_month_day{std::chrono::year(year), std::chrono::month(static_cast<unsigned>(month)),
                              std::chrono::day(static_cast<unsigned>(day))};
  return TimePoint(d) + hours(hour) + minutes(minute) + seconds(second);
}

std::string format_rfc3339(TimePoint t, bool millis) {
  auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  auto secs = ms / 1000;
  auto frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  sys_days days = floor<std::chrono::days>(sys_seconds(seconds(secs)));
  year_month_day ymd(days);
  auto tod = seconds(secs) - days.time_since_epoch();
  hh_mm_ss hms(tod);
  char buf[64];
  if (millis) {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", int(ymd.year()), unsigned(ymd.month()),
                  unsigned(ymd.day()), int(hms.hours().count()), int(hms.minutes().count()),
                  int(hms.seconds().count()), int(frac));
  } else {
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", int(ymd.year()), unsigned(ymd.month()),
                  unsigned(ymd.day()), int(hms.hours().count()), int(hms.minutes().count()),
                  int(hms.seconds().count()));
  }
  return buf;
}

namespace {
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) {
    return false;
  }
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
    v = v * 10 + (s[i] - '0');
  }
  out = v;
  return true;
}
}  // namespace

std::optional<TimePoint> parse_rfc3339(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d)) {
    return std::nullopt;
  }
  year_month_day ymd{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                     std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  if (s.size() == 10) {
    return TimePoint(sys_days(ymd));
  }
  if ((s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s.size() < 19 || s[13] != ':' ||
      !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se)) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || se > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  microseconds frac{0};
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    long long v = 0;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 6) {
        v = v * 10 + (s[pos] - '0');
        ++n;
      }
      ++pos;
    }
    if (pos == start) {
      return std::nullopt;
    }
    while (n < 6) {
      v *= 10;
      ++n;
    }
    frac = microseconds(v);
  }
  if (pos >= s.size()) {
    return std::nullopt;  // a zone is required
  }
  seconds offset{0};
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = hours(oh) + minutes(om);
    if (s[pos] == '-') {
      offset = -offset;
    }
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) {
    return std::nullopt;
  }
  TimePoint t = TimePoint(sys_days(ymd)) + hours(h) + minutes(mi) + seconds(std::min(se, 59)) + frac - offset;
  return t;
}

}  // namespace hanko
