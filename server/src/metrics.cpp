#include "metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <exception>
#include <set>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace hanko::server {

namespace {

bool is_name_start(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}

bool is_name_char(char c, bool colon_ok) { return is_name_start(c, colon_ok) || (c >= '0' && c <= '9'); }

/** [a-zA-Z_:][a-zA-Z0-9_:]* for metric names, [a-zA-Z_][a-zA-Z0-9_]* for label names. */
bool is_valid_name(std::string_view name, bool colon_ok) {
  if (name.empty() || !is_name_start(name.front(), colon_ok)) {
    return false;
  }
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return is_name_char(c, colon_ok); });
}

std::string_view type_name(MetricType t) {
  switch (t) {
    case MetricType::counter:
      return "counter";
    case MetricType::gauge:
      return "gauge";
    case MetricType::histogram:
      return "histogram";
  }
  return "untyped";
}

/** `{a="x",b="y"` plus `extra` (already formatted, e.g. `le="0.5"`) and `}`; nothing when there is no label at all. */
void append_labels(std::string& out, const std::vector<LabelSpec>& specs, const std::vector<std::string>& values,
                   std::string_view extra = {}) {
  if (specs.empty() && extra.empty()) {
    return;
  }
  out += '{';
  for (std::size_t i = 0; i < specs.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += specs[i].name;
    out += "=\"";
    out += escape_label_value(values[i]);
    out += '"';
  }
  if (!extra.empty()) {
    if (!specs.empty()) {
      out += ',';
    }
    out += extra;
  }
  out += '}';
}

void append_uint(std::string& out, std::uint64_t v) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), end);
}

void render_series(std::string& out, const MetricFamily& f, const std::vector<std::string>& values, const Counter& c) {
  out += f.name();
  append_labels(out, f.labels(), values);
  out += ' ';
  append_uint(out, c.value());
  out += '\n';
}

void render_series(std::string& out, const MetricFamily& f, const std::vector<std::string>& values, const Gauge& g) {
  out += f.name();
  append_labels(out, f.labels(), values);
  out += ' ';
  out += format_metric_value(g.value());
  out += '\n';
}

void render_series(std::string& out, const MetricFamily& f, const std::vector<std::string>& values,
                   const Histogram& h) {
  const Histogram::Snapshot s = h.snapshot();
  const auto bounds = h.bounds();
  for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
    out += f.name();
    out += "_bucket";
    const std::string le =
        "le=\"" + (i < bounds.size() ? format_metric_value(bounds[i]) : std::string("+Inf")) + "\"";
    append_labels(out, f.labels(), values, le);
    out += ' ';
    append_uint(out, s.cumulative[i]);
    out += '\n';
  }
  out += f.name();
  out += "_sum";
  append_labels(out, f.labels(), values);
  out += ' ';
  out += format_metric_value(s.sum);
  out += '\n';
  out += f.name();
  out += "_count";
  append_labels(out, f.labels(), values);
  out += ' ';
  append_uint(out, s.count);
  out += '\n';
}

int compare_values(std::span<const std::string> a, std::span<const std::string_view> b) {
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    const int c = std::string_view(a[i]).compare(b[i]);
    if (c != 0) {
      return c;
    }
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_metric_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  // Plain decimals between 1e-4 and 1e21 ("0.0005", "123456789.125"), exponents
  // outside ("1e-05", "1e+21"), as JavaScript prints numbers; Go parses both.
  const double magnitude = std::fabs(value);
  const auto format = magnitude != 0 && (magnitude < 1e-4 || magnitude >= 1e21) ? std::chars_format::scientific
                                                                                 : std::chars_format::fixed;
  std::array<char, 400> buf{};  // the longest shortest fixed form below 1e21 is far shorter
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value, format);
  if (ec != std::errc{}) {
    return "NaN";  // cannot happen: the buffer holds any shortest form
  }
  return std::string(buf.data(), end);
}

bool is_utf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1Fu;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0Fu;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07u;
      min = 0x10000;
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n) {
      return false;
    }
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) {
        return false;
      }
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    p += n + 1;
  }
  return true;
}

// --- Histogram ---

Histogram::Histogram(std::span<const double> bounds)
    : m_bounds(bounds), m_counts(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {}

void Histogram::observe(double v) noexcept {
  if (std::isnan(v)) {
    return;
  }
  const auto it = std::lower_bound(m_bounds.begin(), m_bounds.end(), v);  // first bound >= v
  const auto index = static_cast<std::size_t>(it - m_bounds.begin());
  m_counts[index].fetch_add(1, std::memory_order_relaxed);
  m_sum.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.cumulative.reserve(m_bounds.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= m_bounds.size(); ++i) {
    running += m_counts[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = m_sum.load(std::memory_order_relaxed);
  return s;
}

// --- MetricFamily ---

MetricFamily::MetricFamily(std::string name, std::string help, MetricType type, std::vector<LabelSpec> labels)
    : m_name(std::move(name)), m_help(std::move(help)), m_type(type), m_labels(std::move(labels)) {
  if (!is_valid_name(m_name, true)) {
    throw std::invalid_argument("metrics: invalid metric name '" + m_name + "'");
  }
  if (m_labels.size() > kMetricsMaxLabels) {
    throw std::invalid_argument("metrics: " + m_name + " has more than " + std::to_string(kMetricsMaxLabels) +
                                " labels");
  }
  std::set<std::string_view> seen;
  for (const auto& l : m_labels) {
    if (!is_valid_name(l.name, false) || l.name.starts_with("__")) {
      throw std::invalid_argument("metrics: " + m_name + ": invalid label name '" + l.name + "'");
    }
    if (m_type == MetricType::histogram && l.name == "le") {
      throw std::invalid_argument("metrics: " + m_name + ": a histogram cannot have a label 'le'");
    }
    if (!seen.insert(l.name).second) {
      throw std::invalid_argument("metrics: " + m_name + ": label '" + l.name + "' twice");
    }
    for (const auto& v : l.allowed) {
      if (v.empty() || !is_utf8(v)) {
        throw std::invalid_argument("metrics: " + m_name + ": label '" + l.name + "' allows an empty or non-UTF-8 value");
      }
    }
  }
}

void MetricFamily::normalize(std::span<const std::string_view> values, std::span<std::string_view> out) const {
  for (std::size_t i = 0; i < m_labels.size(); ++i) {
    const std::string_view v = values[i];
    const auto& allowed = m_labels[i].allowed;
    bool ok = false;
    if (allowed.empty()) {
      ok = !v.empty() && v.size() <= kMetricsMaxLabelValueBytes && is_utf8(v);
    } else {
      ok = std::find(allowed.begin(), allowed.end(), v) != allowed.end();
    }
    out[i] = ok ? v : kMetricsOther;
  }
}

// --- LabelValuesLess ---

bool LabelValuesLess::operator()(const std::vector<std::string>& a, const std::vector<std::string>& b) const {
  return a < b;
}

bool LabelValuesLess::operator()(const std::vector<std::string>& a, std::span<const std::string_view> b) const {
  return compare_values(a, b) < 0;
}

bool LabelValuesLess::operator()(std::span<const std::string_view> a, const std::vector<std::string>& b) const {
  return compare_values(b, a) > 0;
}

// --- Family ---

template <class Child>
Family<Child>::Family(std::string name, std::string help, MetricType type, std::vector<LabelSpec> labels,
                      std::size_t max_series, std::vector<double> bounds)
    : MetricFamily(std::move(name), std::move(help), type, std::move(labels)),
      m_max_series(std::max<std::size_t>(max_series, 1)),
      m_bounds(std::move(bounds)) {}

template <class Child>
std::unique_ptr<Child> Family<Child>::make_child() const {
  if constexpr (std::is_same_v<Child, Histogram>) {
    return std::make_unique<Histogram>(std::span<const double>(m_bounds));
  } else {
    return std::make_unique<Child>();
  }
}

template <class Child>
Child& Family<Child>::with(std::span<const std::string_view> values) {
  if (values.size() != labels().size()) {
    throw std::invalid_argument("metrics: " + name() + " takes " + std::to_string(labels().size()) +
                                " label values, not " + std::to_string(values.size()));
  }
  std::array<std::string_view, kMetricsMaxLabels> buf{};
  normalize(values, std::span(buf.data(), values.size()));
  std::span<const std::string_view> key(buf.data(), values.size());
  {
    std::shared_lock lock(m_mu);
    if (auto it = m_series.find(key); it != m_series.end()) {
      return *it->second;
    }
  }
  std::unique_lock lock(m_mu);
  if (auto it = m_series.find(key); it != m_series.end()) {
    return *it->second;
  }
  std::array<std::string_view, kMetricsMaxLabels> overflow{};
  if (m_series.size() >= m_max_series) {
    std::fill_n(overflow.begin(), values.size(), kMetricsOther);
    key = std::span<const std::string_view>(overflow.data(), values.size());
    if (auto it = m_series.find(key); it != m_series.end()) {
      return *it->second;
    }
  }
  auto [it, inserted] = m_series.emplace(std::vector<std::string>(key.begin(), key.end()), make_child());
  return *it->second;
}

template <class Child>
std::size_t Family<Child>::size() const {
  std::shared_lock lock(m_mu);
  return m_series.size();
}

template <class Child>
void Family<Child>::render(std::string& out) const {
  out += "# HELP ";
  out += name();
  out += ' ';
  out += escape_help(help());
  out += "\n# TYPE ";
  out += name();
  out += ' ';
  out += type_name(type());
  out += '\n';
  std::shared_lock lock(m_mu);
  for (const auto& [values, child] : m_series) {
    render_series(out, *this, values, *child);
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// --- GaugeSink ---

bool GaugeSink::set(std::string_view family, double value) { return set(family, {}, value); }

bool GaugeSink::set(std::string_view family, std::initializer_list<std::string_view> label_values, double value) {
  GaugeFamily* f = m_registry.find_gauge(family);
  if (f == nullptr || f->labels().size() != label_values.size()) {
    return false;
  }
  f->with(label_values).set(value);
  return true;
}

// --- MetricsRegistry ---

MetricsRegistry::MetricsRegistry() {
  m_collector_errors = &counter("hanko_metrics_collector_errors_total",
                                "Collectors that threw while the metrics were rendered.")
                            .with({});
}

template <class F>
F& MetricsRegistry::add(std::unique_ptr<F> family) {
  F& ref = *family;
  std::unique_lock lock(m_mu);
  const std::string name = family->name();
  if (!m_families.emplace(name, std::move(family)).second) {
    throw std::invalid_argument("metrics: '" + name + "' registered twice");
  }
  return ref;
}

CounterFamily& MetricsRegistry::counter(std::string name, std::string help, std::vector<LabelSpec> labels,
                                        std::size_t max_series) {
  auto& f = add(std::make_unique<CounterFamily>(std::move(name), std::move(help), MetricType::counter,
                                                std::move(labels), max_series, std::vector<double>{}));
  if (f.labels().empty()) {
    f.with({});
  }
  return f;
}

GaugeFamily& MetricsRegistry::gauge(std::string name, std::string help, std::vector<LabelSpec> labels,
                                    std::size_t max_series) {
  auto& f = add(std::make_unique<GaugeFamily>(std::move(name), std::move(help), MetricType::gauge, std::move(labels),
                                              max_series, std::vector<double>{}));
  if (f.labels().empty()) {
    f.with({});
  }
  return f;
}

HistogramFamily& MetricsRegistry::histogram(std::string name, std::string help, std::vector<LabelSpec> labels,
                                            std::vector<double> bounds, std::size_t max_series) {
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
      throw std::invalid_argument("metrics: " + name + ": bucket bounds must be finite and strictly increasing");
    }
  }
  auto& f = add(std::make_unique<HistogramFamily>(std::move(name), std::move(help), MetricType::histogram,
                                                  std::move(labels), max_series, std::move(bounds)));
  if (f.labels().empty()) {
    f.with({});
  }
  return f;
}

void MetricsRegistry::add_collector(std::function<void(GaugeSink&)> collector) {
  std::unique_lock lock(m_mu);
  m_collectors.push_back(std::move(collector));
}

GaugeFamily* MetricsRegistry::find_gauge(std::string_view name) const {
  std::shared_lock lock(m_mu);
  const auto it = m_families.find(name);
  if (it == m_families.end() || it->second->type() != MetricType::gauge) {
    return nullptr;
  }
  return static_cast<GaugeFamily*>(it->second.get());
}

std::string MetricsRegistry::render() const {
  std::vector<std::function<void(GaugeSink&)>> collectors;
  {
    std::shared_lock lock(m_mu);
    collectors = m_collectors;
  }
  GaugeSink sink(*this);
  for (const auto& c : collectors) {
    try {
      c(sink);
    } catch (const std::exception&) {
      m_collector_errors->inc();
    }
  }
  std::string out;
  std::shared_lock lock(m_mu);
  for (const auto& [name, family] : m_families) {
    family->render(out);
  }
  return out;
}

// --- Metrics ---

namespace {

/** Buckets from 0.5 ms to 30 s, roughly 1-2.5-5 per decade. */
std::vector<double> duration_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

const std::vector<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};
const std::vector<std::string> kRejectReasons = {"saturated", "unauthenticated", "forbidden", "too_large", "timeout"};
const std::vector<std::string> kFormats = {"jades", "xades"};
const std::vector<std::string> kLevels = {"B-B", "B-T", "B-LT", "B-LTA"};
const std::vector<std::string> kIndications = {"TOTAL-PASSED", "TOTAL-FAILED", "INDETERMINATE"};
const std::vector<std::string> kUpstreamKinds = {"tsa", "ocsp", "crl", "aia"};
const std::vector<std::string> kOutcomes = {"ok", "error"};
const std::vector<std::string> kArchiveStatuses = {"due", "overdue", "failing", "ok"};

double clamp_seconds(double seconds) { return seconds >= 0 ? seconds : 0.0; }  // NaN too

}  // namespace

Metrics::Metrics(std::vector<std::string> routes)
    : m_requests(m_registry.counter("hanko_http_requests_total", "HTTP requests answered, by route template, method and status.",
                                    {{"route", routes}, {"method", kMethods}, {"status", {}}})),
      m_request_duration(m_registry.histogram("hanko_http_request_duration_seconds",
                                              "Time to handle an HTTP request, in seconds, by route template and method.",
                                              {{"route", routes}, {"method", kMethods}}, duration_buckets())),
      m_in_flight(m_registry.gauge("hanko_http_requests_in_flight", "HTTP requests being handled.").with({})),
      m_rejected(m_registry.counter("hanko_http_rejected_total",
                                    "HTTP requests refused by admission control, authentication, authorization or limits, by reason.",
                                    {{"reason", kRejectReasons}})),
      m_signatures(m_registry.counter("hanko_signatures_total", "Signatures made, by format and level.",
                                      {{"format", kFormats}, {"level", kLevels}})),
      m_validations(m_registry.counter("hanko_validations_total",
                                       "Signatures validated, by format and ETSI EN 319 102-1 main indication.",
                                       {{"format", kFormats}, {"indication", kIndications}})),
      m_upstream(m_registry.counter("hanko_upstream_requests_total",
                                    "Requests to remote services (TSA, OCSP, CRL, AIA), by kind and outcome.",
                                    {{"kind", kUpstreamKinds}, {"outcome", kOutcomes}})),
      m_upstream_duration(m_registry.histogram("hanko_upstream_request_duration_seconds",
                                               "Duration of requests to remote services, in seconds.",
                                               {{"kind", kUpstreamKinds}}, duration_buckets())),
      m_audit_chain_length(
          m_registry.gauge("hanko_audit_chain_length", "Records in the audit trail's hash chain.").with({})),
      m_audit_anchor_age(m_registry
                             .gauge("hanko_audit_anchor_age_seconds",
                                    "Seconds since the audit chain head was last anchored with an RFC 3161 timestamp.")
                             .with({})),
      m_archive_items(m_registry.gauge("hanko_archive_items", "Archived items by renewal status.",
                                       {{"status", kArchiveStatuses}})) {
  // Series whose labels are all known up front exist from the start, so that
  // rate() and absent() see zeros rather than no series.
  for (const auto& r : kRejectReasons) {
    m_rejected.with({r});
  }
  for (const auto& f : kFormats) {
    for (const auto& l : kLevels) {
      m_signatures.with({f, l});
    }
    for (const auto& i : kIndications) {
      m_validations.with({f, i});
    }
  }
  for (const auto& k : kUpstreamKinds) {
    for (const auto& o : kOutcomes) {
      m_upstream.with({k, o});
    }
    m_upstream_duration.with({k});
  }
  for (const auto& s : kArchiveStatuses) {
    m_archive_items.with({s});
  }
}

void Metrics::observe_request(std::string_view route, std::string_view method, int status, double seconds) {
  std::array<char, 8> buf{};
  std::string_view status_text = kMetricsOther;
  if (status >= 100 && status <= 599) {
    auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), status);
    status_text = std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data()));
  }
  m_requests.with({route, method, status_text}).inc();
  m_request_duration.with({route, method}).observe(clamp_seconds(seconds));
}

void Metrics::request_started() noexcept { m_in_flight.inc(); }

void Metrics::request_finished() noexcept { m_in_flight.dec(); }

void Metrics::count_rejected(std::string_view reason) { m_rejected.with({reason}).inc(); }

void Metrics::count_signature(std::string_view format, std::string_view level) {
  m_signatures.with({format, level}).inc();
}

void Metrics::count_validation(std::string_view format, std::string_view indication) {
  m_validations.with({format, indication}).inc();
}

void Metrics::observe_upstream(std::string_view kind, bool ok, double seconds) {
  m_upstream.with({kind, ok ? std::string_view("ok") : std::string_view("error")}).inc();
  m_upstream_duration.with({kind}).observe(clamp_seconds(seconds));
}

void Metrics::set_audit_chain_length(std::uint64_t length) noexcept {
  m_audit_chain_length.set(static_cast<double>(length));
}

void Metrics::set_audit_anchor_age_seconds(double seconds) noexcept { m_audit_anchor_age.set(seconds); }

void Metrics::set_archive_items(std::string_view status, std::uint64_t count) {
  m_archive_items.with({status}).set(static_cast<double>(count));
}

void Metrics::add_collector(std::function<void(GaugeSink&)> collector) {
  m_registry.add_collector(std::move(collector));
}

std::string Metrics::render() const { return m_registry.render(); }

}  // namespace hanko::server
