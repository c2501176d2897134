#pragma once
/**
 * @file metrics.h
 * Metrics in the Prometheus text exposition format 0.0.4 (docs/metrics.md):
 * a small, dependency-free, thread-safe registry of counter, gauge and
 * histogram families, and `Metrics`, the metric set of one HttpServer.
 * Private to server/.
 *
 * Cost: an update takes a shared lock on its family to find the series (a
 * map lookup without allocation), then updates atomics; a new series takes
 * the family's lock exclusively once. `render()` reads the atomics without
 * stopping writers, so a scrape taken during updates may show a histogram's
 * `_sum` one observation behind its buckets; `_count` is always the `+Inf`
 * bucket.
 *
 * Bounds: every label has either a list of allowed values (anything else is
 * counted as "other") or is free-form; a free-form value that is empty,
 * longer than kMetricsMaxLabelValueBytes or not UTF-8 becomes "other", and a
 * family that already holds its maximum number of series counts new label
 * combinations in one overflow series whose labels are all "other". Routes
 * are route templates ("/v1/sign"), never raw request paths.
 *
 * Trust assumptions: none; the exposition names no client, document or key.
 * Whether /metrics needs authentication is the caller's decision
 * (metrics.protected, docs/security.md).
 */
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hanko::server {

/** The Content-Type of `render()`'s output. */
inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
/** The label value that stands for any value outside a label's bounds. */
inline constexpr std::string_view kMetricsOther = "other";
/** Most labels a family may have. */
inline constexpr std::size_t kMetricsMaxLabels = 8;
/** Longest free-form label value kept as is. */
inline constexpr std::size_t kMetricsMaxLabelValueBytes = 128;
/** Default bound on the series of one family. */
inline constexpr std::size_t kMetricsDefaultMaxSeries = 1000;

/** A label value as it appears between the double quotes: `\` → `\\`, `"` → `\"`, newline → `\n`. */
std::string escape_label_value(std::string_view value);
/** HELP text as it appears after the metric name: `\` → `\\`, newline → `\n`. */
std::string escape_help(std::string_view text);
/**
 * A sample value as Prometheus parses it (Go's strconv.ParseFloat): the
 * shortest round-tripping decimal ("0.25", "3", "1e-05"), "+Inf", "-Inf" or
 * "NaN".
 */
std::string format_metric_value(double value);
/** True if `text` is well-formed UTF-8 (no overlong forms, surrogates or values above U+10FFFF). */
bool is_utf8(std::string_view text);

/** A monotonically increasing count. */
class Counter final {
 public:
  void inc(std::uint64_t n = 1) noexcept { m_value.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t value() const noexcept { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> m_value{0};
};

/** A value that goes up and down. */
class Gauge final {
 public:
  void set(double v) noexcept { m_value.store(v, std::memory_order_relaxed); }
  void add(double d) noexcept { m_value.fetch_add(d, std::memory_order_relaxed); }
  void inc() noexcept { add(1.0); }
  void dec() noexcept { add(-1.0); }
  double value() const noexcept { return m_value.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> m_value{0.0};
};

/**
 * Observations counted into buckets with upper bounds (inclusive, as
 * Prometheus' `le`) plus an implicit +Inf bucket, with their sum.
 */
class Histogram final {
 public:
  /** `bounds` (strictly increasing, finite) must outlive the histogram; its family owns them. */
  explicit Histogram(std::span<const double> bounds);
  /** Counts `v` in the first bucket whose bound is >= v. NaN is not counted. */
  void observe(double v) noexcept;

  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  ///< one per bound, then +Inf; non-decreasing
    double sum = 0;
    std::uint64_t count = 0;  ///< equals cumulative.back()
  };
  /** The cumulative bucket counts, the sum and the count, read without stopping writers. */
  Snapshot snapshot() const;
  std::span<const double> bounds() const { return m_bounds; }

 private:
  std::span<const double> m_bounds;
  std::unique_ptr<std::atomic<std::uint64_t>[]> m_counts;  ///< per bucket (not cumulative), m_bounds.size() + 1
  std::atomic<double> m_sum{0.0};
};

/** The exposition TYPE of a family. */
enum class MetricType { counter, gauge, histogram };

/** One label of a family. */
struct LabelSpec {
  std::string name;
  /** Allowed values; any other value is recorded as "other". Empty: free-form (see the file comment). */
  std::vector<std::string> allowed;
};

/** What all families share: name, help, type, labels; and their text. */
class MetricFamily {
 public:
  virtual ~MetricFamily() = default;
  MetricFamily(const MetricFamily&) = delete;
  MetricFamily& operator=(const MetricFamily&) = delete;

  const std::string& name() const { return m_name; }
  const std::string& help() const { return m_help; }
  MetricType type() const { return m_type; }
  const std::vector<LabelSpec>& labels() const { return m_labels; }
  /** Appends `# HELP`, `# TYPE` and one line per sample, series in label-value order. */
  virtual void render(std::string& out) const = 0;

 protected:
  MetricFamily(std::string name, std::string help, MetricType type, std::vector<LabelSpec> labels);

  /** `values` mapped into the label bounds (allowed lists, free-form checks); size must equal labels().size(). */
  void normalize(std::span<const std::string_view> values, std::span<std::string_view> out) const;

 private:
  std::string m_name;
  std::string m_help;
  MetricType m_type;
  std::vector<LabelSpec> m_labels;
};

/** Orders label-value tuples; transparent, so a lookup needs no allocation. */
struct LabelValuesLess {
  using is_transparent = void;
  bool operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const;
  bool operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const;
  bool operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const;
};

/**
 * A family of series of one kind (Counter, Gauge, Histogram), one series per
 * label-value tuple. Series live as long as the family, so a reference from
 * `with()` may be kept and updated without further lookups.
 */
template <class Child>
class Family final : public MetricFamily {
 public:
  /** Use MetricsRegistry to make one. */
  Family(std::string name, std::string help, MetricType type, std::vector<LabelSpec> labels, std::size_t max_series,
         std::vector<double> bounds);

  /**
   * The series for `values` (one per label, in order), created on first use.
   * Values outside the bounds become "other". A wrong number of values is a
   * programming error: std::invalid_argument.
   */
  Child& with(std::span<const std::string_view> values);
  Child& with(std::initializer_list<std::string_view> values) { return with(std::span(values.begin(), values.size())); }
  /** Number of series. */
  std::size_t size() const;
  void render(std::string& out) const override;

 private:
  std::unique_ptr<Child> make_child() const;

  std::size_t m_max_series;
  std::vector<double> m_bounds;  ///< histograms only
  mutable std::shared_mutex m_mu;
  std::map<std::vector<std::string>, std::unique_ptr<Child>, LabelValuesLess> m_series;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;
extern template class Family<Counter>;
extern template class Family<Gauge>;
extern template class Family<Histogram>;

class MetricsRegistry;

/** What a collector writes to: gauges of the registry, by family name. */
class GaugeSink final {
 public:
  /** Sets the label-less gauge `family`. False if there is no such gauge family or it has labels. */
  bool set(std::string_view family, double value);
  /** Sets the series `label_values` of gauge `family`. False if there is no such gauge family or the arity differs. */
  bool set(std::string_view family, std::initializer_list<std::string_view> label_values, double value);

 private:
  friend class MetricsRegistry;
  explicit GaugeSink(const MetricsRegistry& registry) : m_registry(registry) {}
  const MetricsRegistry& m_registry;
};

/**
 * Families by name, rendered in name order, and collectors run before each
 * rendering. Thread-safe. Registration is a start-up step: an invalid or
 * duplicate name, a label named `le` (histograms) or starting with `__`, more
 * than kMetricsMaxLabels labels, or bounds that are not finite and strictly
 * increasing throw std::invalid_argument.
 */
class MetricsRegistry final {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  CounterFamily& counter(std::string name, std::string help, std::vector<LabelSpec> labels = {},
                         std::size_t max_series = kMetricsDefaultMaxSeries);
  GaugeFamily& gauge(std::string name, std::string help, std::vector<LabelSpec> labels = {},
                     std::size_t max_series = kMetricsDefaultMaxSeries);
  HistogramFamily& histogram(std::string name, std::string help, std::vector<LabelSpec> labels,
                             std::vector<double> bounds, std::size_t max_series = kMetricsDefaultMaxSeries);

  /**
   * Adds a function run at the start of every `render()`, outside the
   * registry's locks (it may update any metric, but must not call render()).
   * One that throws is skipped for that rendering and counted in
   * hanko_metrics_collector_errors_total.
   */
  void add_collector(std::function<void(GaugeSink&)> collector);
  /** The gauge family `name`, or nullptr. */
  GaugeFamily* find_gauge(std::string_view name) const;
  /** Runs the collectors, then returns every family's text, families sorted by name. */
  std::string render() const;

 private:
  template <class F>
  F& add(std::unique_ptr<F> family);

  mutable std::shared_mutex m_mu;
  std::map<std::string, std::unique_ptr<MetricFamily>, std::less<>> m_families;
  std::vector<std::function<void(GaugeSink&)>> m_collectors;
  Counter* m_collector_errors = nullptr;
};

/**
 * The hanko metric set (docs/metrics.md), one per HttpServer. Every method is
 * thread-safe and may be called from any thread; string arguments outside the
 * documented values are counted as "other".
 */
class Metrics final {
 public:
  /**
   * `routes`: the route templates counted under their own `route` label, e.g.
   * the patterns of route_table() (router.h): "/v1/sign", "/v1/archive/{id}".
   * Any other route is counted as "other". Duplicates are harmless.
   */
  explicit Metrics(std::vector<std::string> routes);
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  /**
   * One finished request: hanko_http_requests_total{route,method,status} and
   * hanko_http_request_duration_seconds{route,method}. `route` is the route
   * template, `method` the HTTP method (GET, HEAD, POST, PUT, DELETE, OPTIONS,
   * PATCH), `status` 100..599 (else "other"); negative or NaN `seconds` count as 0.
   */
  void observe_request(std::string_view route, std::string_view method, int status, double seconds);
  /** hanko_http_requests_in_flight + 1. */
  void request_started() noexcept;
  /** hanko_http_requests_in_flight - 1. */
  void request_finished() noexcept;

  /** Calls request_started() now and request_finished() when destroyed. */
  class InFlight final {
   public:
    explicit InFlight(Metrics& m) noexcept : m_metrics(&m) { m.request_started(); }
    ~InFlight() { m_metrics->request_finished(); }
    InFlight(const InFlight&) = delete;
    InFlight& operator=(const InFlight&) = delete;

   private:
    Metrics* m_metrics;
  };
  [[nodiscard]] InFlight track_in_flight() noexcept { return InFlight(*this); }

  /** hanko_http_rejected_total{reason}: saturated, unauthenticated, forbidden, too_large, timeout. */
  void count_rejected(std::string_view reason);
  /** hanko_signatures_total{format,level}: format jades | xades, level B-B | B-T | B-LT | B-LTA. */
  void count_signature(std::string_view format, std::string_view level);
  /** hanko_validations_total{format,indication}: indication TOTAL-PASSED | TOTAL-FAILED | INDETERMINATE. */
  void count_validation(std::string_view format, std::string_view indication);
  /**
   * One call to a remote service: hanko_upstream_requests_total{kind,outcome}
   * and hanko_upstream_request_duration_seconds{kind}; kind tsa | ocsp | crl |
   * aia, outcome ok | error.
   */
  void observe_upstream(std::string_view kind, bool ok, double seconds);

  /** hanko_audit_chain_length: records in the audit chain. */
  void set_audit_chain_length(std::uint64_t length) noexcept;
  /** hanko_audit_anchor_age_seconds: age of the newest RFC 3161 anchor of the chain head. */
  void set_audit_anchor_age_seconds(double seconds) noexcept;
  /** hanko_archive_items{status}: status due | overdue | failing | ok. */
  void set_archive_items(std::string_view status, std::uint64_t count);

  /**
   * A function run at render time that sets gauges through the sink (e.g.
   * `sink.set("hanko_audit_anchor_age_seconds", age)`); see
   * MetricsRegistry::add_collector.
   */
  void add_collector(std::function<void(GaugeSink&)> collector);
  /** The whole exposition (kMetricsContentType). */
  std::string render() const;
  /** The registry, to add families of other modules. */
  MetricsRegistry& registry() { return m_registry; }

 private:
  MetricsRegistry m_registry;
  CounterFamily& m_requests;
  HistogramFamily& m_request_duration;
  Gauge& m_in_flight;
  CounterFamily& m_rejected;
  CounterFamily& m_signatures;
  CounterFamily& m_validations;
  CounterFamily& m_upstream;
  HistogramFamily& m_upstream_duration;
  Gauge& m_audit_chain_length;
  Gauge& m_audit_anchor_age;
  GaugeFamily& m_archive_items;
};

}  // namespace hanko::server
