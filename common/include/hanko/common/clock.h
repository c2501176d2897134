#pragma once
/**
 * @file clock.h
 * Time is passed in: nothing below server/ reads the wall clock. Code that
 * needs "now" takes a `const Clock&`; the server owns the one SystemClock.
 */
#include <chrono>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace hanko {

using TimePoint = std::chrono::system_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

/** The wall clock. Constructed only by server/ and bench/. */
class SystemClock final : public Clock {
 public:
  TimePoint now() const override { return std::chrono::system_clock::now(); }
};

/** A clock that reads a settable time: for tests and for `--at`. Thread-safe. */
class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : m_t(t) {}
  TimePoint now() const override {
    std::lock_guard lock(m_mu);
    return m_t;
  }
  void set(TimePoint t) {
    std::lock_guard lock(m_mu);
    m_t = t;
  }
  void advance(std::chrono::seconds d) {
    std::lock_guard lock(m_mu);
    m_t += d;
  }

 private:
  mutable std::mutex m_mu;
  TimePoint m_t;
};

/** Seconds since the epoch, UTC. */
std::int64_t to_unix(TimePoint t);
TimePoint from_unix(std::int64_t seconds);

/**
 * Formats as an RFC 3339 / FHIR instant in UTC: "2026-11-25T09:30:00Z", or with
 * milliseconds when `millis` is set ("2026-11-25T09:30:00.123Z").
 */
std::string format_rfc3339(TimePoint t, bool millis = false);

/**
 * Parses an RFC 3339 date-time with a zone ("Z" or "+09:00"), fractional seconds
 * allowed. Also accepts a bare date "2026-11-25" (midnight UTC).
 */
std::optional<TimePoint> parse_rfc3339(std::string_view text);

/** Builds a time point from UTC calendar fields (for tests and fixtures). */
TimePoint utc(int year, int month, int day, int hour = 0, int minute = 0, int second = 0);

}  // namespace hanko
