// Metrics: the Prometheus text format 0.0.4 (checked by a small parser written
// here, and by promtool when it is installed), counters, cumulative histogram
// buckets, label escaping and bounds, collectors, and exact totals under
// concurrent updates.
#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "metrics.h"
#include "test_support.h"

namespace hanko::test {
namespace {

using server::GaugeSink;
using server::LabelSpec;
using server::Metrics;
using server::MetricsRegistry;

// --- A parser of the text exposition format 0.0.4 ---

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct ParsedFamily {
  std::string name;
  std::string help;
  std::string type;
  std::vector<Sample> samples;
};

struct Exposition {
  std::vector<ParsedFamily> families;
  std::string error;  ///< empty when every line parsed; else "line N: why"

  const ParsedFamily* family(std::string_view name) const {
    for (const auto& f : families) {
      if (f.name == name) {
        return &f;
      }
    }
    return nullptr;
  }
  /** The value of the sample `name` with exactly `labels`, if there is one. */
  std::optional<double> value(std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& f : families) {
      for (const auto& s : f.samples) {
        if (s.name == name && s.labels == labels) {
          return s.value;
        }
      }
    }
    return std::nullopt;
  }
  /** value(), or NaN and a test failure when there is no such sample. */
  double get(std::string_view name, const std::map<std::string, std::string>& labels = {}) const {
    const auto v = value(name, labels);
    if (!v) {
      ADD_FAILURE() << "no sample " << name << " with the given labels";
      return NAN;
    }
    return *v;
  }
};

bool valid_name(std::string_view n, bool colon) {
  if (n.empty()) {
    return false;
  }
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) {
      return false;
    }
  }
  return true;
}

/** A sample value as Go's ParseFloat reads what Prometheus writes. */
std::optional<double> parse_value(std::string_view v) {
  if (v == "+Inf" || v == "Inf") {
    return INFINITY;
  }
  if (v == "-Inf") {
    return -INFINITY;
  }
  if (v == "NaN") {
    return NAN;
  }
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc{} || p != v.data() + v.size()) {
    return std::nullopt;
  }
  return d;
}

/** Parses `{a="x",b="y"}` starting at text[pos] == '{'; pos ends after '}'. */
std::optional<std::map<std::string, std::string>> parse_labels(std::string_view text, std::size_t& pos,
                                                               std::string& why) {
  std::map<std::string, std::string> out;
  ++pos;  // '{'
  while (pos < text.size() && text[pos] != '}') {
    const std::size_t eq = text.find('=', pos);
    if (eq == std::string_view::npos) {
      why = "label without '='";
      return std::nullopt;
    }
    const std::string name(text.substr(pos, eq - pos));
    if (!valid_name(name, false)) {
      why = "bad label name '" + name + "'";
      return std::nullopt;
    }
    pos = eq + 1;
    if (pos >= text.size() || text[pos] != '"') {
      why = "label value not quoted";
      return std::nullopt;
    }
    ++pos;
    std::string value;
    bool closed = false;
    while (pos < text.size()) {
      const char c = text[pos++];
      if (c == '"') {
        closed = true;
        break;
      }
      if (c == '\n') {
        why = "raw newline in label value";
        return std::nullopt;
      }
      if (c == '\\') {
        if (pos >= text.size()) {
          break;
        }
        const char e = text[pos++];
        if (e == '\\') {
          value += '\\';
        } else if (e == '"') {
          value += '"';
        } else if (e == 'n') {
          value += '\n';
        } else {
          why = std::string("bad escape \\") + e;
          return std::nullopt;
        }
      } else {
        value += c;
      }
    }
    if (!closed) {
      why = "unterminated label value";
      return std::nullopt;
    }
    if (!out.emplace(name, value).second) {
      why = "label '" + name + "' twice";
      return std::nullopt;
    }
    if (pos < text.size() && text[pos] == ',') {
      ++pos;
    } else if (pos >= text.size() || text[pos] != '}') {
      why = "expected ',' or '}'";
      return std::nullopt;
    }
  }
  if (pos >= text.size()) {
    why = "unterminated label set";
    return std::nullopt;
  }
  ++pos;  // '}'
  return out;
}

/** The family a sample name belongs to, given the family's type. */
bool belongs(std::string_view sample, const ParsedFamily& f) {
  if (sample == f.name) {
    return f.type != "histogram";
  }
  if (f.type == "histogram") {
    return sample == f.name + "_bucket" || sample == f.name + "_sum" || sample == f.name + "_count";
  }
  return false;
}

/**
 * Parses the whole text; stops at the first line that is not a valid HELP,
 * TYPE or sample line, that belongs to no family declared before it, or that
 * declares a family twice.
 */
Exposition parse_exposition(std::string_view text) {
  Exposition ex;
  if (!text.empty() && text.back() != '\n') {
    ex.error = "no final newline";
    return ex;
  }
  std::size_t line_no = 0;
  std::size_t start = 0;
  std::map<std::string, bool> seen;
  auto fail = [&](const std::string& why) { ex.error = "line " + std::to_string(line_no) + ": " + why; };
  while (start < text.size()) {
    ++line_no;
    const std::size_t nl = text.find('\n', start);
    const std::string_view line = text.substr(start, nl - start);
    start = nl + 1;
    if (line.empty()) {
      continue;
    }
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const bool is_help = line[2] == 'H';
      const std::string_view rest = line.substr(7);
      const std::size_t sp = rest.find(' ');
      const std::string name(rest.substr(0, sp));
      const std::string_view arg = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
      if (!valid_name(name, true)) {
        fail("bad metric name in HELP/TYPE");
        return ex;
      }
      if (ex.families.empty() || ex.families.back().name != name) {
        if (seen.contains(name)) {
          fail("family '" + name + "' declared in two places");
          return ex;
        }
        seen[name] = true;
        ex.families.push_back(ParsedFamily{name, "", "", {}});
      }
      auto& f = ex.families.back();
      if (!f.samples.empty()) {
        fail("HELP/TYPE after samples");
        return ex;
      }
      if (is_help) {
        std::string help;
        for (std::size_t i = 0; i < arg.size(); ++i) {
          if (arg[i] == '\\' && i + 1 < arg.size() && (arg[i + 1] == '\\' || arg[i + 1] == 'n')) {
            help += arg[i + 1] == 'n' ? '\n' : '\\';
            ++i;
          } else {
            help += arg[i];
          }
        }
        f.help = help;
      } else {
        if (!f.type.empty()) {
          fail("TYPE twice");
          return ex;
        }
        if (arg != "counter" && arg != "gauge" && arg != "histogram" && arg != "summary" && arg != "untyped") {
          fail("bad type '" + std::string(arg) + "'");
          return ex;
        }
        f.type = arg;
      }
      continue;
    }
    if (line.starts_with('#')) {
      continue;  // other comments
    }
    Sample s;
    std::size_t pos = 0;
    while (pos < line.size() && line[pos] != '{' && line[pos] != ' ') {
      ++pos;
    }
    s.name = line.substr(0, pos);
    if (!valid_name(s.name, true)) {
      fail("bad sample name '" + s.name + "'");
      return ex;
    }
    if (pos < line.size() && line[pos] == '{') {
      std::string why;
      auto labels = parse_labels(line, pos, why);
      if (!labels) {
        fail(why);
        return ex;
      }
      s.labels = std::move(*labels);
    }
    if (pos >= line.size() || line[pos] != ' ') {
      fail("no value");
      return ex;
    }
    std::string_view rest = line.substr(pos + 1);
    const std::size_t sp = rest.find(' ');
    if (sp != std::string_view::npos) {  // a timestamp follows
      const std::string_view ts = rest.substr(sp + 1);
      long long t = 0;
      auto [p, ec] = std::from_chars(ts.data(), ts.data() + ts.size(), t);
      if (ec != std::errc{} || p != ts.data() + ts.size()) {
        fail("bad timestamp");
        return ex;
      }
      rest = rest.substr(0, sp);
    }
    const auto v = parse_value(rest);
    if (!v) {
      fail("bad value '" + std::string(rest) + "'");
      return ex;
    }
    s.value = *v;
    if (ex.families.empty() || ex.families.back().type.empty() || !belongs(s.name, ex.families.back())) {
      fail("sample '" + s.name + "' outside its family");
      return ex;
    }
    ex.families.back().samples.push_back(std::move(s));
  }
  return ex;
}

/** Checks every histogram series: cumulative buckets ending in +Inf, _count == +Inf bucket, _sum present. */
std::string check_histograms(const Exposition& ex) {
  for (const auto& f : ex.families) {
    if (f.type != "histogram") {
      continue;
    }
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    std::map<std::map<std::string, std::string>, double> sums;
    for (const auto& s : f.samples) {
      auto labels = s.labels;
      if (s.name == f.name + "_bucket") {
        const auto le = labels.find("le");
        if (le == labels.end()) {
          return f.name + ": bucket without le";
        }
        const auto bound = parse_value(le->second);
        if (!bound) {
          return f.name + ": bad le '" + le->second + "'";
        }
        labels.erase("le");
        buckets[labels].emplace_back(*bound, s.value);
      } else if (s.name == f.name + "_count") {
        counts[labels] = s.value;
      } else {
        sums[labels] = s.value;
      }
    }
    for (const auto& [labels, list] : buckets) {
      for (std::size_t i = 1; i < list.size(); ++i) {
        if (!(list[i - 1].first < list[i].first)) {
          return f.name + ": le not increasing";
        }
        if (list[i - 1].second > list[i].second) {
          return f.name + ": buckets not cumulative";
        }
      }
      if (list.empty() || !std::isinf(list.back().first)) {
        return f.name + ": no +Inf bucket";
      }
      if (!counts.contains(labels) || counts[labels] != list.back().second) {
        return f.name + ": _count differs from the +Inf bucket";
      }
      if (!sums.contains(labels)) {
        return f.name + ": no _sum";
      }
    }
  }
  return "";
}

// --- The parser itself: it must reject what Prometheus rejects ---

TEST(MetricsParser, AcceptsWellFormedText) {
  const auto ex = parse_exposition(
      "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"\\\\\\n\"} 3\n"
      "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1.25\nh_count 2 1700000000000\n");
  ASSERT_EQ(ex.error, "");
  ASSERT_EQ(ex.families.size(), 2u);
  EXPECT_EQ(ex.get("a_total", {{"x", "1"}, {"y", "q\"\\\n"}}), 3);
  EXPECT_EQ(check_histograms(ex), "");
}

TEST(MetricsParser, RejectsMalformedText) {
  for (const char* bad : {
           "a 1\n",                                     // no TYPE before the sample
           "# TYPE a counter\na{x=\"1} 1\n",             // unterminated value
           "# TYPE a counter\na{x=\"\\t\"} 1\n",          // unknown escape
           "# TYPE a counter\na{x=1} 1\n",              // unquoted
           "# TYPE a counter\na 1,5\n",                 // bad number
           "# TYPE a counter\na\n",                     // no value
           "# TYPE a counter\nb 1\n",                   // sample of another family
           "# TYPE a counter\na 1\n# TYPE b counter\nb 1\n# TYPE a counter\n",  // family split
           "# TYPE a counter\na 1",                     // no final newline
           "# TYPE a countr\na 1\n",                    // bad type
       }) {
    EXPECT_NE(parse_exposition(bad).error, "") << bad;
  }
  const auto not_cumulative =
      parse_exposition("# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n");
  ASSERT_EQ(not_cumulative.error, "");
  EXPECT_NE(check_histograms(not_cumulative), "");
  const auto bad_count =
      parse_exposition("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n");
  EXPECT_NE(check_histograms(bad_count), "");
}

// --- Format ---

/** The route templates of the tests (the server passes those of its route table). */
const std::vector<std::string> kRoutes = {"/healthz", "/metrics", "/v1/sign", "/v1/verify"};

Metrics& busy_metrics() {
  static Metrics m(kRoutes);
  static const bool filled = [] {
    m.observe_request("/v1/sign", "POST", 200, 0.012);
    m.observe_request("/v1/verify", "POST", 422, 0.3);
    m.observe_request("/healthz", "GET", 200, 0.0001);
    m.count_rejected("saturated");
    m.count_signature("jades", "B-T");
    m.count_validation("xades", "TOTAL-PASSED");
    m.observe_upstream("tsa", true, 0.08);
    m.observe_upstream("ocsp", false, 31);
    m.set_audit_chain_length(12);
    m.set_audit_anchor_age_seconds(42.5);
    m.set_archive_items("due", 3);
    return true;
  }();
  (void)filled;
  return m;
}

TEST(MetricsFormat, EveryRenderedLineParses) {
  const std::string text = busy_metrics().render();
  const auto ex = parse_exposition(text);
  ASSERT_EQ(ex.error, "") << text;
  EXPECT_EQ(check_histograms(ex), "");
  const std::map<std::string, std::string> expected = {
      {"hanko_archive_items", "gauge"},
      {"hanko_audit_anchor_age_seconds", "gauge"},
      {"hanko_audit_chain_length", "gauge"},
      {"hanko_http_rejected_total", "counter"},
      {"hanko_http_request_duration_seconds", "histogram"},
      {"hanko_http_requests_in_flight", "gauge"},
      {"hanko_http_requests_total", "counter"},
      {"hanko_metrics_collector_errors_total", "counter"},
      {"hanko_signatures_total", "counter"},
      {"hanko_upstream_request_duration_seconds", "histogram"},
      {"hanko_upstream_requests_total", "counter"},
      {"hanko_validations_total", "counter"},
  };
  ASSERT_EQ(ex.families.size(), expected.size());
  for (const auto& f : ex.families) {
    ASSERT_TRUE(expected.contains(f.name)) << f.name;
    EXPECT_EQ(f.type, expected.at(f.name)) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
  }
  EXPECT_EQ(ex.get("hanko_audit_anchor_age_seconds"), 42.5);
  EXPECT_EQ(ex.get("hanko_audit_chain_length"), 12);
  EXPECT_EQ(ex.get("hanko_archive_items", {{"status", "due"}}), 3);
  EXPECT_EQ(ex.get("hanko_archive_items", {{"status", "overdue"}}), 0);
}

TEST(MetricsFormat, FamiliesSortedByNameAndSeriesInAStableOrder) {
  Metrics m(kRoutes);
  m.observe_request("/v1/verify", "POST", 500, 0.1);
  m.observe_request("/v1/sign", "POST", 404, 0.1);
  m.observe_request("/v1/sign", "POST", 200, 0.1);
  const std::string first = m.render();
  const auto ex = parse_exposition(first);
  ASSERT_EQ(ex.error, "");
  for (std::size_t i = 1; i < ex.families.size(); ++i) {
    EXPECT_LT(ex.families[i - 1].name, ex.families[i].name);
  }
  const auto* requests = ex.family("hanko_http_requests_total");
  ASSERT_NE(requests, nullptr);
  ASSERT_EQ(requests->samples.size(), 3u);
  EXPECT_EQ(requests->samples[0].labels.at("route"), "/v1/sign");
  EXPECT_EQ(requests->samples[0].labels.at("status"), "200");
  EXPECT_EQ(requests->samples[1].labels.at("status"), "404");
  EXPECT_EQ(requests->samples[2].labels.at("route"), "/v1/verify");
  EXPECT_EQ(m.render(), first);  // nothing changed, nothing moves
}

TEST(MetricsFormat, ValuesAreWrittenSoPrometheusParsesThem) {
  EXPECT_EQ(server::format_metric_value(0.0005), "0.0005");
  EXPECT_EQ(server::format_metric_value(30), "30");
  EXPECT_EQ(server::format_metric_value(0.1), "0.1");
  EXPECT_EQ(server::format_metric_value(-2.5), "-2.5");
  EXPECT_EQ(server::format_metric_value(0), "0");
  EXPECT_EQ(server::format_metric_value(0.0001), "0.0001");
  EXPECT_EQ(server::format_metric_value(1e-05), "1e-05");
  EXPECT_EQ(server::format_metric_value(1234567), "1234567");
  EXPECT_EQ(server::format_metric_value(123456789.125), "123456789.125");
  EXPECT_EQ(server::format_metric_value(1e21), "1e+21");
  EXPECT_EQ(server::format_metric_value(INFINITY), "+Inf");
  EXPECT_EQ(server::format_metric_value(-INFINITY), "-Inf");
  EXPECT_EQ(server::format_metric_value(NAN), "NaN");
  for (double v : {1e-05, 1e21, 123456789.125, 2.2250738585072014e-308, 0.3}) {
    const auto text = server::format_metric_value(v);
    const auto back = parse_value(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(*back, v) << text;
  }
  EXPECT_EQ(std::string(server::kMetricsContentType), "text/plain; version=0.0.4; charset=utf-8");
}

TEST(MetricsFormat, PromtoolAcceptsTheExposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "promtool is not installed";
  }
  const auto dir = temp_dir("metrics-promtool");
  write_text(dir / "metrics.txt", busy_metrics().render());
  const std::string cmd = "promtool check metrics < '" + (dir / "metrics.txt").string() + "' > '" +
                          (dir / "out.txt").string() + "' 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_text(dir / "out.txt");
}

// --- Counters and histograms ---

TEST(MetricsCounter, CountsEachCallAndStartsAtZero) {
  Metrics m(kRoutes);
  auto before = parse_exposition(m.render());
  ASSERT_EQ(before.error, "");
  EXPECT_EQ(*before.value("hanko_signatures_total", {{"format", "jades"}, {"level", "B-T"}}), 0);
  EXPECT_EQ(*before.value("hanko_http_rejected_total", {{"reason", "timeout"}}), 0);
  for (int i = 0; i < 3; ++i) {
    m.count_signature("jades", "B-T");
  }
  m.count_signature("xades", "B-B");
  m.count_validation("jades", "INDETERMINATE");
  m.count_rejected("too_large");
  m.count_rejected("too_large");
  m.observe_upstream("crl", false, 0.2);
  m.observe_request("/v1/sign", "POST", 201, 0.01);
  m.observe_request("/v1/sign", "POST", 201, 0.01);
  const auto ex = parse_exposition(m.render());
  ASSERT_EQ(ex.error, "");
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "jades"}, {"level", "B-T"}}), 3);
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "xades"}, {"level", "B-B"}}), 1);
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "jades"}, {"level", "B-B"}}), 0);
  EXPECT_EQ(ex.get("hanko_validations_total", {{"format", "jades"}, {"indication", "INDETERMINATE"}}), 1);
  EXPECT_EQ(ex.get("hanko_validations_total", {{"format", "jades"}, {"indication", "TOTAL-PASSED"}}), 0);
  EXPECT_EQ(ex.get("hanko_http_rejected_total", {{"reason", "too_large"}}), 2);
  EXPECT_EQ(ex.get("hanko_upstream_requests_total", {{"kind", "crl"}, {"outcome", "error"}}), 1);
  EXPECT_EQ(ex.get("hanko_upstream_requests_total", {{"kind", "crl"}, {"outcome", "ok"}}), 0);
  EXPECT_EQ(ex.get("hanko_http_requests_total", {{"route", "/v1/sign"}, {"method", "POST"}, {"status", "201"}}), 2);
  EXPECT_FALSE(ex.value("hanko_http_requests_total", {{"route", "/v1/sign"}, {"method", "POST"}, {"status", "200"}}));
}

TEST(MetricsGauge, InFlightGoesUpAndDown) {
  Metrics m(kRoutes);
  {
    auto a = m.track_in_flight();
    auto b = m.track_in_flight();
    EXPECT_EQ(parse_exposition(m.render()).get("hanko_http_requests_in_flight"), 2);
  }
  EXPECT_EQ(parse_exposition(m.render()).get("hanko_http_requests_in_flight"), 0);
  m.request_started();
  EXPECT_EQ(parse_exposition(m.render()).get("hanko_http_requests_in_flight"), 1);
  m.request_finished();
  EXPECT_EQ(parse_exposition(m.render()).get("hanko_http_requests_in_flight"), 0);
}

TEST(MetricsHistogram, BucketsAreCumulativeWithInclusiveBoundsAndCountAndSumAgree) {
  Metrics m(kRoutes);
  // Exactly representable values, so the sum is exact: 0.00048828125 = 2^-11.
  for (double s : {0.00048828125, 0.25, 0.5, 2.0, 64.0}) {
    m.observe_upstream("tsa", true, s);
  }
  const auto ex = parse_exposition(m.render());
  ASSERT_EQ(ex.error, "");
  ASSERT_EQ(check_histograms(ex), "");
  auto bucket = [&](const char* le) {
    return ex.get("hanko_upstream_request_duration_seconds_bucket", {{"kind", "tsa"}, {"le", le}});
  };
  EXPECT_EQ(bucket("0.0005"), 1);
  EXPECT_EQ(bucket("0.1"), 1);
  EXPECT_EQ(bucket("0.25"), 2);  // le is inclusive
  EXPECT_EQ(bucket("0.5"), 3);
  EXPECT_EQ(bucket("1"), 3);
  EXPECT_EQ(bucket("2.5"), 4);
  EXPECT_EQ(bucket("30"), 4);
  EXPECT_EQ(bucket("+Inf"), 5);
  EXPECT_EQ(ex.get("hanko_upstream_request_duration_seconds_count", {{"kind", "tsa"}}), 5);
  EXPECT_EQ(ex.get("hanko_upstream_request_duration_seconds_sum", {{"kind", "tsa"}}), 66.75048828125);
  EXPECT_EQ(ex.get("hanko_upstream_request_duration_seconds_count", {{"kind", "ocsp"}}), 0);
  // 15 bounds from 0.5 ms to 30 s, then +Inf.
  const auto* f = ex.family("hanko_upstream_request_duration_seconds");
  ASSERT_NE(f, nullptr);
  std::vector<std::string> les;
  for (const auto& s : f->samples) {
    if (s.name.ends_with("_bucket") && s.labels.at("kind") == "tsa") {
      les.push_back(s.labels.at("le"));
    }
  }
  EXPECT_EQ(les, (std::vector<std::string>{"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
                                            "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"}));
}

TEST(MetricsHistogram, NanIsNotCountedAndNegativeDurationsCountAsZero) {
  MetricsRegistry r;
  auto& h = r.histogram("h_seconds", "h", {}, {1.0}).with({});
  h.observe(NAN);
  EXPECT_EQ(h.snapshot().count, 0u);
  h.observe(1.0);
  h.observe(1.5);
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(s.count, 2u);
  EXPECT_EQ(s.sum, 2.5);

  Metrics m(kRoutes);
  m.observe_request("/v1/sign", "POST", 200, -3.0);
  m.observe_request("/v1/sign", "POST", 200, NAN);
  const auto ex = parse_exposition(m.render());
  const std::map<std::string, std::string> labels = {{"route", "/v1/sign"}, {"method", "POST"}};
  EXPECT_EQ(ex.get("hanko_http_request_duration_seconds_count", labels), 2);
  EXPECT_EQ(ex.get("hanko_http_request_duration_seconds_sum", labels), 0);
  auto first = labels;
  first["le"] = "0.0005";
  EXPECT_EQ(ex.get("hanko_http_request_duration_seconds_bucket", first), 2);
}

// --- Labels: escaping and bounds ---

TEST(MetricsLabels, EscapesBackslashQuoteAndNewline) {
  EXPECT_EQ(server::escape_label_value("plain /v1/sign"), "plain /v1/sign");
  EXPECT_EQ(server::escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(server::escape_help("line\\one\nline two \"q\""), "line\\\\one\\nline two \"q\"");

  MetricsRegistry r;
  auto& f = r.counter("x_total", "Help with \\ and\nnewline.", {{"v", {}}});
  const std::string tricky = "say \"hi\"\\\nbye 処方箋";
  f.with({tricky}).inc(7);
  const std::string text = r.render();
  EXPECT_NE(text.find("x_total{v=\"say \\\"hi\\\"\\\\\\nbye 処方箋\"} 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# HELP x_total Help with \\\\ and\\nnewline.\n"), std::string::npos) << text;
  const auto ex = parse_exposition(text);
  ASSERT_EQ(ex.error, "") << text;
  EXPECT_EQ(ex.get("x_total", {{"v", tricky}}), 7);
  EXPECT_EQ(ex.family("x_total")->help, "Help with \\ and\nnewline.");
}

TEST(MetricsLabels, UnknownValuesAreCountedAsOther) {
  Metrics m(kRoutes);
  m.observe_request("/v1/sign/123", "POST", 200, 0.01);  // a raw path, not a route template
  m.observe_request("/v1/sign", "BREW", 200, 0.01);
  m.observe_request("/v1/sign", "POST", 42, 0.01);
  m.observe_request("/v1/sign", "POST", 600, 0.01);
  m.count_signature("pades", "B-T");
  m.count_signature("jades", "B-X");
  m.count_validation("jades", "PASSED");
  m.count_rejected("bored");
  m.observe_upstream("ldap", true, 0.01);
  m.set_archive_items("lost", 9);
  const auto ex = parse_exposition(m.render());
  ASSERT_EQ(ex.error, "");
  EXPECT_EQ(ex.get("hanko_http_requests_total", {{"route", "other"}, {"method", "POST"}, {"status", "200"}}), 1);
  EXPECT_EQ(ex.get("hanko_http_requests_total", {{"route", "/v1/sign"}, {"method", "other"}, {"status", "200"}}), 1);
  EXPECT_EQ(ex.get("hanko_http_requests_total", {{"route", "/v1/sign"}, {"method", "POST"}, {"status", "other"}}),
            2);
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "other"}, {"level", "B-T"}}), 1);
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "jades"}, {"level", "other"}}), 1);
  EXPECT_EQ(ex.get("hanko_validations_total", {{"format", "jades"}, {"indication", "other"}}), 1);
  EXPECT_EQ(ex.get("hanko_http_rejected_total", {{"reason", "other"}}), 1);
  EXPECT_EQ(ex.get("hanko_upstream_requests_total", {{"kind", "other"}, {"outcome", "ok"}}), 1);
  EXPECT_EQ(ex.get("hanko_archive_items", {{"status", "other"}}), 9);
  // Values that are known stay as they are.
  m.observe_request("/v1/verify", "GET", 405, 0.01);
  EXPECT_EQ(parse_exposition(m.render())
                 .get("hanko_http_requests_total", {{"route", "/v1/verify"}, {"method", "GET"}, {"status", "405"}}),
            1);
}

TEST(MetricsLabels, RoutesAreTheConfiguredTemplates) {
  Metrics m({"/v1/sign", "/admin/keys/{id}"});
  m.observe_request("/admin/keys/{id}", "DELETE", 204, 0.01);
  m.observe_request("/v1/verify", "POST", 200, 0.01);  // not configured here
  const auto ex = parse_exposition(m.render());
  EXPECT_EQ(ex.get("hanko_http_requests_total", {{"route", "/admin/keys/{id}"}, {"method", "DELETE"}, {"status", "204"}}),
            1);
  EXPECT_EQ(ex.get("hanko_http_requests_total", {{"route", "other"}, {"method", "POST"}, {"status", "200"}}), 1);
  EXPECT_FALSE(ex.value("hanko_http_requests_total", {{"route", "/v1/verify"}, {"method", "POST"}, {"status", "200"}}));
}

TEST(MetricsLabels, FreeFormValuesAreBounded) {
  MetricsRegistry r;
  auto& f = r.counter("free_total", "f", {{"v", {}}}, 3);
  f.with({"ok-value"}).inc();
  f.with({""}).inc();                                              // empty
  f.with({std::string(server::kMetricsMaxLabelValueBytes + 1, 'x')}).inc();  // too long
  f.with({std::string(server::kMetricsMaxLabelValueBytes, 'y')}).inc();      // just fits
  f.with({"\xff\xfe"}).inc();                                      // not UTF-8
  EXPECT_EQ(f.with({"ok-value"}).value(), 1u);
  EXPECT_EQ(f.with({"other"}).value(), 3u);
  EXPECT_EQ(f.with({std::string(server::kMetricsMaxLabelValueBytes, 'y')}).value(), 1u);
  EXPECT_EQ(f.size(), 3u);
  // The family is full: new values go to the overflow series, which is "other" here.
  for (int i = 0; i < 10; ++i) {
    f.with({"new-" + std::to_string(i)}).inc();
  }
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f.with({"other"}).value(), 13u);

  auto& g = r.counter("two_total", "g", {{"a", {}}, {"b", {}}}, 2);
  g.with({"1", "1"}).inc();
  g.with({"2", "2"}).inc();
  g.with({"3", "3"}).inc();
  g.with({"4", "4"}).inc();
  EXPECT_EQ(g.size(), 3u);  // two series and the overflow one
  EXPECT_EQ(g.with({"other", "other"}).value(), 2u);
  EXPECT_EQ(parse_exposition(r.render()).error, "");
}

TEST(MetricsLabels, Utf8Check) {
  EXPECT_TRUE(server::is_utf8(""));
  EXPECT_TRUE(server::is_utf8("ascii"));
  EXPECT_TRUE(server::is_utf8("電子処方箋 🏥"));
  EXPECT_FALSE(server::is_utf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(server::is_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(server::is_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(server::is_utf8("\xe3\x81"));          // truncated
  EXPECT_FALSE(server::is_utf8("\x80"));              // lone continuation byte
}

TEST(MetricsLabels, WrongNumberOfValuesIsAProgrammingError) {
  MetricsRegistry r;
  auto& f = r.counter("n_total", "n", {{"a", {}}});
  EXPECT_THROW(f.with({}), std::invalid_argument);
  EXPECT_THROW(f.with({"x", "y"}), std::invalid_argument);
  EXPECT_NO_THROW(f.with({"x"}));
}

// --- Registration ---

TEST(MetricsRegistry, RejectsInvalidFamilies) {
  MetricsRegistry r;
  EXPECT_NO_THROW(r.counter("ok_total", "ok", {{"a", {}}}));
  EXPECT_NO_THROW(r.gauge("ns:ok", "ok"));
  EXPECT_THROW(r.counter("ok_total", "again"), std::invalid_argument);
  EXPECT_THROW(r.counter("9lives", "digit first"), std::invalid_argument);
  EXPECT_THROW(r.counter("has-dash", "dash"), std::invalid_argument);
  EXPECT_THROW(r.counter("l1", "bad label", {{"a:b", {}}}), std::invalid_argument);
  EXPECT_THROW(r.counter("l2", "reserved label", {{"__name", {}}}), std::invalid_argument);
  EXPECT_THROW(r.counter("l3", "label twice", {{"a", {}}, {"a", {}}}), std::invalid_argument);
  EXPECT_THROW(r.counter("l4", "empty allowed value", {{"a", {""}}}), std::invalid_argument);
  EXPECT_THROW(r.counter("l5", "too many", std::vector<LabelSpec>(server::kMetricsMaxLabels + 1, LabelSpec{"a", {}})),
               std::invalid_argument);
  EXPECT_THROW(r.histogram("h1", "le label", {{"le", {}}}, {1.0}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h2", "not increasing", {}, {1.0, 1.0}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h3", "infinite", {}, {1.0, INFINITY}), std::invalid_argument);
  EXPECT_NO_THROW(r.histogram("h4", "fine", {{"k", {}}}, {0.1, 1.0}));
  EXPECT_NO_THROW(r.counter("le", "le is fine outside histograms", {{"le", {}}}));
  EXPECT_EQ(parse_exposition(r.render()).error, "");
}

// --- Collectors ---

TEST(MetricsCollector, RunsAtEveryRender) {
  Metrics m(kRoutes);
  int chain = 0;
  int calls = 0;
  m.add_collector([&](GaugeSink& sink) {
    ++calls;
    EXPECT_TRUE(sink.set("hanko_audit_chain_length", chain));
    EXPECT_TRUE(sink.set("hanko_archive_items", {"overdue"}, chain * 2));
  });
  chain = 5;
  auto ex = parse_exposition(m.render());
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ex.get("hanko_audit_chain_length"), 5);
  EXPECT_EQ(ex.get("hanko_archive_items", {{"status", "overdue"}}), 10);
  chain = 8;
  ex = parse_exposition(m.render());
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ex.get("hanko_audit_chain_length"), 8);
  EXPECT_EQ(ex.get("hanko_archive_items", {{"status", "overdue"}}), 16);
}

TEST(MetricsCollector, SinkRefusesWhatIsNotAGaugeOfThatShape) {
  Metrics m(kRoutes);
  std::vector<bool> results;
  m.add_collector([&](GaugeSink& sink) {
    results.push_back(sink.set("hanko_no_such_gauge", 1));
    results.push_back(sink.set("hanko_signatures_total", 1));       // a counter
    results.push_back(sink.set("hanko_archive_items", 1));          // needs a status
    results.push_back(sink.set("hanko_audit_chain_length", {"x"}, 1));  // has no label
    results.push_back(sink.set("hanko_audit_anchor_age_seconds", 30));
  });
  const auto ex = parse_exposition(m.render());
  EXPECT_EQ(results, (std::vector<bool>{false, false, false, false, true}));
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "jades"}, {"level", "B-B"}}), 0);
  EXPECT_EQ(ex.get("hanko_audit_anchor_age_seconds"), 30);
}

TEST(MetricsCollector, OneThatThrowsIsCountedAndTheOthersStillRun) {
  Metrics m(kRoutes);
  m.add_collector([](GaugeSink&) { throw std::runtime_error("audit file gone"); });
  m.add_collector([](GaugeSink& sink) { sink.set("hanko_audit_anchor_age_seconds", 7); });
  auto ex = parse_exposition(m.render());
  ASSERT_EQ(ex.error, "");
  EXPECT_EQ(ex.get("hanko_metrics_collector_errors_total"), 1);
  EXPECT_EQ(ex.get("hanko_audit_anchor_age_seconds"), 7);
  ex = parse_exposition(m.render());
  EXPECT_EQ(ex.get("hanko_metrics_collector_errors_total"), 2);
}

// --- Concurrency ---

TEST(MetricsConcurrency, UpdatesFromManyThreadsAddUpExactly) {
  Metrics m(kRoutes);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto in_flight = m.track_in_flight();
        // Ten statuses, so new series are created while other threads update.
        m.observe_request("/v1/sign", "POST", 200 + (i % 10), 0.25);
        m.count_signature("jades", t % 2 == 0 ? "B-T" : "B-B");
        m.observe_upstream("ocsp", i % 4 != 0, 0.5);
      }
    });
  }
  // Scrapes while the writers run: each must parse and be self-consistent.
  threads.emplace_back([&m] {
    for (int i = 0; i < 50; ++i) {
      const auto ex = parse_exposition(m.render());
      ASSERT_EQ(ex.error, "");
      ASSERT_EQ(check_histograms(ex), "");
    }
  });
  for (auto& th : threads) {
    th.join();
  }
  const auto ex = parse_exposition(m.render());
  ASSERT_EQ(ex.error, "");
  const double total = kThreads * kPerThread;
  double requests = 0;
  for (int s = 200; s < 210; ++s) {
    requests +=
        ex.get("hanko_http_requests_total", {{"route", "/v1/sign"}, {"method", "POST"}, {"status", std::to_string(s)}});
  }
  EXPECT_EQ(requests, total);
  const std::map<std::string, std::string> labels = {{"route", "/v1/sign"}, {"method", "POST"}};
  EXPECT_EQ(ex.get("hanko_http_request_duration_seconds_count", labels), total);
  EXPECT_EQ(ex.get("hanko_http_request_duration_seconds_sum", labels), total * 0.25);
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "jades"}, {"level", "B-T"}}), total / 2);
  EXPECT_EQ(ex.get("hanko_signatures_total", {{"format", "jades"}, {"level", "B-B"}}), total / 2);
  EXPECT_EQ(ex.get("hanko_upstream_requests_total", {{"kind", "ocsp"}, {"outcome", "ok"}}), total * 3 / 4);
  EXPECT_EQ(ex.get("hanko_upstream_requests_total", {{"kind", "ocsp"}, {"outcome", "error"}}), total / 4);
  EXPECT_EQ(ex.get("hanko_upstream_request_duration_seconds_sum", {{"kind", "ocsp"}}), total * 0.5);
  EXPECT_EQ(ex.get("hanko_http_requests_in_flight"), 0);
}

}  // namespace
}  // namespace hanko::test
