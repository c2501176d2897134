#include "hanko/tsa_client/tsa_pool.h"

#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "hanko/common/file.h"
#include "hanko/common/ossl.h"
#include "hanko/tsa_client/token.h"
#include "tsa_exchange.h"

namespace hanko::tsa {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSourcesKey = "tsa.sources";
constexpr std::string_view kSourcePrefix = "tsa.source.";
constexpr std::size_t kMaxPasswordBytes = 4096;
constexpr std::size_t kMaxReasonBytes = 240;

std::string source_key(const std::string& name, std::string_view field) {
  return std::string(kSourcePrefix) + name + "." + std::string(field);
}

std::unexpected<Error> key_error(const std::string& key, const std::string& problem) {
  return fail(Errc::invalid_argument, "configuration key " + key + ": " + problem);
}

std::string trim(std::string_view s) {
  auto not_space = [](unsigned char c) { return std::isspace(c) == 0; };
  auto b = std::find_if(s.begin(), s.end(), not_space);
  auto e = std::find_if(s.rbegin(), std::string_view::reverse_iterator(b), not_space).base();
  return std::string(b, e);
}

std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = s.find(',', start);
    out.push_back(trim(s.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start)));
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  return out;
}

bool valid_name(std::string_view n) {
  return !n.empty() && n.size() <= 64 && std::all_of(n.begin(), n.end(), [](unsigned char c) {
           return std::isalnum(c) != 0 || c == '_' || c == '-';
         });
}

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](unsigned char c) { return c <= 0x20 || c == 0x7f; });
}

bool dotted_oid_syntax(std::string_view s) {
  if (s.size() < 3 || s.front() < '0' || s.front() > '2' || s[1] != '.') {
    return false;
  }
  bool digit_before = false;
  for (char c : s) {
    if (c == '.') {
      if (!digit_before) {
        return false;
      }
      digit_before = false;
    } else if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      digit_before = true;
    } else {
      return false;
    }
  }
  return digit_before;
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s.front())) != 0) {
    return false;
  }
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) != 0 || c == '_'; });
}

std::optional<DigestAlg> digest_from_name(std::string_view s) {
  std::string n(s);
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n == "sha256") return DigestAlg::sha256;
  if (n == "sha384") return DigestAlg::sha384;
  if (n == "sha512") return DigestAlg::sha512;
  return std::nullopt;
}

/** The configuration spelling: sha256, sha384, sha512. */
std::string_view config_digest_name(DigestAlg a) {
  switch (a) {
    case DigestAlg::sha256: return "sha256";
    case DigestAlg::sha384: return "sha384";
    case DigestAlg::sha512: return "sha512";
  }
  return "sha256";
}

/** Sets one field of a source from its key; the value is trimmed already. */
Result<void> set_field(TsaSourceConfig& s, const std::string& key, std::string_view field, const std::string& value) {
  auto need_value = [&]() -> Result<void> {
    if (value.empty()) {
      return key_error(key, "is empty");
    }
    return {};
  };
  if (field == "url") {
    if (auto r = need_value(); !r) return r;
    const bool http = value.starts_with("http://");
    const bool https = value.starts_with("https://");
    if (!http && !https) {
      return key_error(key, "'" + redact_url(value) + "' is not an http:// or https:// URL");
    }
    if (has_control_or_space(value)) {
      return key_error(key, "the URL contains a space or a control character");
    }
    if (redact_url(value) != value) {
      return key_error(key, "credentials in the URL are not accepted; use tsa.source." + s.name +
                                ".user and .passwordFile or .passwordEnv");
    }
    s.url = value;
  } else if (field == "trust") {
    if (auto r = need_value(); !r) return r;
    s.trust = value;
  } else if (field == "digests") {
    std::vector<DigestAlg> algs;
    for (const auto& item : split_list(value)) {
      auto a = digest_from_name(item);
      if (!a) {
        return key_error(key, "'" + detail::sanitize(item, 40) + "' is not sha256, sha384 or sha512");
      }
      if (std::find(algs.begin(), algs.end(), *a) != algs.end()) {
        return key_error(key, std::string(config_digest_name(*a)) + " is listed twice");
      }
      algs.push_back(*a);
    }
    s.digests = std::move(algs);
  } else if (field == "policy") {
    if (!dotted_oid_syntax(value)) {
      return key_error(key, "'" + detail::sanitize(value, 80) + "' is not a dotted OID");
    }
    s.policy_oid = value;
  } else if (field == "user") {
    if (auto r = need_value(); !r) return r;
    // RFC 7617 section 2: "a user-id containing a colon character is invalid".
    if (value.find(':') != std::string::npos ||
        std::any_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
      return key_error(key, "contains ':' or a control character");
    }
    s.user = value;
  } else if (field == "passwordFile") {
    if (auto r = need_value(); !r) return r;
    s.password_file = value;
  } else if (field == "passwordEnv") {
    if (!valid_env_name(value)) {
      return key_error(key, "is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)");
    }
    s.password_env = value;
  } else if (field == "clientCert") {
    if (auto r = need_value(); !r) return r;
    s.client_cert = value;
  } else if (field == "clientKey") {
    if (auto r = need_value(); !r) return r;
    s.client_key = value;
  } else if (field == "caFile") {
    if (auto r = need_value(); !r) return r;
    s.ca_file = value;
  } else if (field == "timeoutMs") {
    long long ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc() || end != value.data() + value.size() || ms < 100 || ms > 600000) {
      return key_error(key, "'" + detail::sanitize(value, 40) + "' is not a whole number of milliseconds in 100..600000");
    }
    s.timeout = std::chrono::milliseconds(ms);
  } else {
    return key_error(key, "unknown setting '" + detail::sanitize(field, 40) +
                              "' (url, trust, digests, policy, user, passwordFile, passwordEnv, clientCert, "
                              "clientKey, caFile, timeoutMs)");
  }
  return {};
}

/** The rules that span several keys of one source. */
Result<void> check_source(const TsaSourceConfig& s) {
  if (s.url.empty()) {
    return key_error(source_key(s.name, "url"), "is missing (every source in tsa.sources needs one)");
  }
  if (s.trust.empty()) {
    return key_error(source_key(s.name, "trust"),
                     "is missing (the certificate file or folder that source's TSA must chain to)");
  }
  const bool https = s.url.starts_with("https://");
  if (!s.password_file.empty() && !s.password_env.empty()) {
    return key_error(source_key(s.name, "passwordEnv"), "give passwordFile or passwordEnv, not both");
  }
  const bool has_password = !s.password_file.empty() || !s.password_env.empty();
  if (!s.user.empty() && !has_password) {
    return key_error(source_key(s.name, "user"), "needs passwordFile or passwordEnv");
  }
  if (s.user.empty() && has_password) {
    return key_error(source_key(s.name, s.password_file.empty() ? "passwordEnv" : "passwordFile"),
                     "a password needs a user");
  }
  if (!s.user.empty() && !may_send_credentials(s.url)) {
    return key_error(source_key(s.name, "user"),
                     "credentials are only sent over https (or to a loopback host); the url is " + s.url);
  }
  if (s.client_cert.empty() != s.client_key.empty()) {
    return key_error(source_key(s.name, s.client_cert.empty() ? "clientCert" : "clientKey"),
                     "clientCert and clientKey go together");
  }
  if (!https && !s.client_cert.empty()) {
    return key_error(source_key(s.name, "clientCert"), "a client certificate needs an https url");
  }
  if (!https && !s.ca_file.empty()) {
    return key_error(source_key(s.name, "caFile"), "a CA file needs an https url");
  }
  if (s.digests.empty()) {
    return key_error(source_key(s.name, "digests"), "is empty");
  }
  return {};
}

/** The trust of one source: a folder (TrustStore::load_dir) or a certificate file. */
Result<std::shared_ptr<const certstore::TrustStore>> load_trust(const std::string& key, const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    auto ts = certstore::TrustStore::load_dir(path);
    if (!ts) {
      return fail(ts.error().code, "configuration key " + key + ": " + ts.error().message);
    }
    return std::make_shared<const certstore::TrustStore>(std::move(*ts));
  }
  auto certs = ossl::load_certificates(path);
  if (!certs) {
    return fail(certs.error().code, "configuration key " + key + ": " + certs.error().message);
  }
  certstore::TrustStore ts;
  for (auto& c : *certs) {
    if (X509_self_signed(c.get(), 0) == 1) {
      ts.add_anchor(std::move(c));
    } else {
      ts.add_intermediate(std::move(c));
    }
  }
  clear_openssl_errors();
  if (ts.anchor_count() == 0) {
    return key_error(key, path + " holds no self-signed (anchor) certificate");
  }
  return std::make_shared<const certstore::TrustStore>(std::move(ts));
}

/** The password of a source; the value never appears in an error. */
Result<std::string> load_password(const TsaSourceConfig& s) {
  if (!s.password_file.empty()) {
    const std::string key = source_key(s.name, "passwordFile");
    auto text = read_file(s.password_file, kMaxPasswordBytes);
    if (!text) {
      return fail(text.error().code, "configuration key " + key + ": " + text.error().message);
    }
    std::string p = std::move(*text);
    if (p.ends_with("\r\n")) {
      p.resize(p.size() - 2);
    } else if (p.ends_with("\n")) {
      p.resize(p.size() - 1);
    }
    if (p.empty()) {
      return key_error(key, s.password_file + " is empty");
    }
    if (std::any_of(p.begin(), p.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
      return key_error(key, s.password_file + " holds a control character or more than one line");
    }
    return p;
  }
  const std::string key = source_key(s.name, "passwordEnv");
  const char* v = std::getenv(s.password_env.c_str());
  if (v == nullptr || *v == '\0') {
    return key_error(key, "the environment variable " + s.password_env + " is not set or empty");
  }
  return std::string(v);
}

Result<void> check_tls_files(const TsaSourceConfig& s) {
  if (!s.client_cert.empty()) {
    const std::string ck = source_key(s.name, "clientCert");
    auto certs = ossl::load_certificates(s.client_cert);
    if (!certs) {
      return fail(certs.error().code, "configuration key " + ck + ": " + certs.error().message);
    }
    if (certs->empty()) {
      return key_error(ck, "no certificate in " + s.client_cert);
    }
    const std::string kk = source_key(s.name, "clientKey");
    auto key = ossl::load_private_key(s.client_key);
    if (!key) {
      return fail(key.error().code, "configuration key " + kk + ": " + key.error().message);
    }
    if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
      clear_openssl_errors();
      return key_error(kk, s.client_key + " is not the key of the certificate in " + s.client_cert);
    }
  }
  if (!s.ca_file.empty()) {
    const std::string k = source_key(s.name, "caFile");
    auto certs = ossl::load_certificates(s.ca_file);
    if (!certs) {
      return fail(certs.error().code, "configuration key " + k + ": " + certs.error().message);
    }
    if (certs->empty()) {
      return key_error(k, "no certificate in " + s.ca_file);
    }
  }
  return {};
}

/** Removes the URL from an error message (the attempt names it already). */
std::string without_url(std::string m, const std::string& url) {
  const std::string shown = redact_url(url);
  for (const std::string& pattern : {"from " + shown + " ", " [" + shown + "]", " " + shown + ":", " " + shown}) {
    for (auto pos = m.find(pattern); pos != std::string::npos; pos = m.find(pattern)) {
      m.erase(pos, pattern.size());
      if (pattern.back() == ':') {
        m.insert(pos, ":");
      }
    }
  }
  return m;
}

std::string strip_prefix(std::string m, std::string_view prefix) {
  if (m.starts_with(prefix)) {
    m.erase(0, prefix.size());
  }
  return m;
}

/** The short reason of a failed attempt. */
std::string short_reason(TsaFailure f, const Error& e, const TsaSource& src) {
  std::string m = without_url(e.message, src.url);
  switch (f) {
    case TsaFailure::timeout:
      return "timeout after " + std::to_string(src.http.total_timeout.count()) + " ms";
    case TsaFailure::unreachable: {
      // "cannot reach: <libcurl detail>"
      m = strip_prefix(m, "cannot reach: ");
      return "unreachable: " + m;
    }
    case TsaFailure::http_status: {
      auto pos = m.rfind("HTTP ");
      std::string s = pos == std::string::npos ? m : m.substr(pos);
      if (s == "HTTP 401" || s == "HTTP 403") {
        s += " (credentials missing or refused)";
      }
      return s;
    }
    case TsaFailure::rejected:
      return "rejected: " + strip_prefix(m, "TSA refused the request: ");
    case TsaFailure::malformed:
      return "malformed answer: " + strip_prefix(m, "TSA ");
    case TsaFailure::bad_token:
      return "bad token: " + strip_prefix(strip_prefix(m, "TSA token: "), "TSA token ");
    case TsaFailure::untrusted:
      return "untrusted TSA: " + m;
    case TsaFailure::config:
      return "configuration: " + m;
    case TsaFailure::skipped:
    case TsaFailure::none:
      break;
  }
  return m;
}

}  // namespace

std::string_view tsa_failure_name(TsaFailure f) {
  switch (f) {
    case TsaFailure::none: return "none";
    case TsaFailure::skipped: return "skipped";
    case TsaFailure::unreachable: return "unreachable";
    case TsaFailure::timeout: return "timeout";
    case TsaFailure::http_status: return "http_status";
    case TsaFailure::malformed: return "malformed";
    case TsaFailure::rejected: return "rejected";
    case TsaFailure::bad_token: return "bad_token";
    case TsaFailure::untrusted: return "untrusted";
    case TsaFailure::config: return "config";
  }
  return "config";
}

Result<TsaPoolConfig> tsa_pool_config_from(const std::map<std::string, std::string>& keys) {
  TsaPoolConfig config;
  const auto list = keys.find(std::string(kSourcesKey));
  bool any_source_key = false;
  for (const auto& [k, v] : keys) {
    if (k.starts_with(kSourcePrefix)) {
      any_source_key = true;
      break;
    }
  }
  if (list == keys.end()) {
    if (any_source_key) {
      return key_error(std::string(kSourcesKey), "is missing (it lists the tsa.source.<name> entries, in order)");
    }
    return config;  // no pool configured
  }
  std::set<std::string> seen;
  for (const auto& name : split_list(list->second)) {
    if (!valid_name(name)) {
      return key_error(std::string(kSourcesKey),
                       name.empty() ? std::string("has an empty name")
                                    : "'" + detail::sanitize(name, 64) + "' is not a name of letters, digits, '_' and '-'");
    }
    if (!seen.insert(name).second) {
      return key_error(std::string(kSourcesKey), "names " + name + " twice");
    }
    TsaSourceConfig s;
    s.name = name;
    config.sources.push_back(std::move(s));
  }
  for (const auto& [key, raw] : keys) {
    if (!key.starts_with(kSourcePrefix)) {
      continue;
    }
    const std::string_view rest = std::string_view(key).substr(kSourcePrefix.size());
    const auto dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) {
      return key_error(key, "expected tsa.source.<name>.<setting>");
    }
    const std::string name(rest.substr(0, dot));
    const std::string_view field = rest.substr(dot + 1);
    auto it = std::find_if(config.sources.begin(), config.sources.end(),
                           [&](const TsaSourceConfig& s) { return s.name == name; });
    if (it == config.sources.end()) {
      return key_error(key, "source '" + detail::sanitize(name, 64) + "' is not listed in tsa.sources");
    }
    if (auto r = set_field(*it, key, field, trim(raw)); !r) {
      return std::unexpected(r.error());
    }
  }
  for (const auto& s : config.sources) {
    if (auto r = check_source(s); !r) {
      return std::unexpected(r.error());
    }
  }
  return config;
}

TsaPool::TsaPool(std::vector<TsaSource> sources, TsaPoolOptions options)
    : m_sources(std::move(sources)),
      m_options(options),
      m_backoff_until(m_sources.size()),
      m_last_failure(m_sources.size()) {
  for (auto& s : m_sources) {
    s.http.purpose = "tsa";
  }
}

Result<std::unique_ptr<TsaPool>> TsaPool::make(std::vector<TsaSource> sources, TsaPoolOptions options) {
  if (sources.empty()) {
    return fail(Errc::invalid_argument, "a TSA pool needs at least one source");
  }
  std::set<std::string> names;
  for (const auto& s : sources) {
    if (s.name.empty() || !names.insert(s.name).second) {
      return fail(Errc::invalid_argument, "TSA source names must be non-empty and unique ('" + s.name + "')");
    }
    if (!s.trust) {
      return fail(Errc::invalid_argument, "TSA source " + s.name + " has no trust store");
    }
    if (s.digests.empty()) {
      return fail(Errc::invalid_argument, "TSA source " + s.name + " accepts no digest");
    }
    std::set<DigestAlg> unique(s.digests.begin(), s.digests.end());
    if (unique.size() != s.digests.size()) {
      return fail(Errc::invalid_argument, "TSA source " + s.name + " lists a digest twice");
    }
  }
  if (options.backoff.count() < 0) {
    return fail(Errc::invalid_argument, "the TSA back-off must not be negative");
  }
  return std::unique_ptr<TsaPool>(new TsaPool(std::move(sources), options));
}

Result<std::unique_ptr<TsaPool>> TsaPool::create(const TsaPoolConfig& config, const HttpOptions& base,
                                                 TsaPoolOptions options) {
  if (config.sources.empty()) {
    return fail(Errc::invalid_argument, "no TSA source is configured (tsa.sources)");
  }
  std::vector<TsaSource> sources;
  for (const auto& c : config.sources) {
    if (auto r = check_source(c); !r) {
      return std::unexpected(r.error());
    }
    TsaSource s;
    s.name = c.name;
    s.url = c.url;
    s.digests = c.digests;
    s.policy_oid = c.policy_oid;
    if (s.policy_oid) {
      ossl::Asn1ObjectPtr obj(OBJ_txt2obj(s.policy_oid->c_str(), 1));
      clear_openssl_errors();
      if (!obj) {
        return key_error(source_key(c.name, "policy"), "'" + *s.policy_oid + "' is not a valid OID");
      }
    }
    auto trust = load_trust(source_key(c.name, "trust"), c.trust);
    if (!trust) {
      return std::unexpected(trust.error());
    }
    s.trust = std::move(*trust);
    if (auto r = check_tls_files(c); !r) {
      return std::unexpected(r.error());
    }
    s.http = base;
    s.http.total_timeout = c.timeout;
    s.http.connect_timeout = std::min(base.connect_timeout, c.timeout);
    s.http.user = c.user;
    s.http.password.clear();
    if (!c.user.empty()) {
      auto password = load_password(c);
      if (!password) {
        return std::unexpected(password.error());
      }
      s.http.password = std::move(*password);
    }
    s.http.client_cert = c.client_cert;
    s.http.client_key = c.client_key;
    s.http.ca_file = c.ca_file;
    sources.push_back(std::move(s));
  }
  return make(std::move(sources), options);
}

std::string TsaPool::describe() const {
  std::string out = "TSA pool ";
  for (std::size_t i = 0; i < m_sources.size(); ++i) {
    out += (i == 0 ? "" : ", ") + m_sources[i].name;
  }
  return out;
}

Result<Bytes> TsaPool::timestamp(ByteView data, DigestAlg /*alg: the configuration decides*/) {
  return timestamp_with_report(data).token;
}

std::optional<TsaPoolResult> TsaPool::last_report() const {
  std::lock_guard lock(m_mu);
  return m_last;
}

TsaPoolResult TsaPool::timestamp_with_report(ByteView data) {
  TsaPoolResult result;
  const bool backoff = m_options.clock != nullptr && m_options.backoff.count() > 0;
  std::vector<std::optional<std::string>> skip(m_sources.size());  // the earlier reason, when skipped
  if (backoff) {
    const TimePoint now = m_options.clock->now();
    std::lock_guard lock(m_mu);
    bool all = true;
    for (std::size_t i = 0; i < m_sources.size(); ++i) {
      if (m_backoff_until[i] && now < *m_backoff_until[i]) {
        skip[i] = "skipped: backing off after a failure (" + m_last_failure[i] + ")";
      } else {
        all = false;
      }
    }
    if (all) {
      // Every source is backing off: asking them all beats failing without asking.
      std::fill(skip.begin(), skip.end(), std::nullopt);
    }
  }

  for (std::size_t i = 0; i < m_sources.size(); ++i) {
    const TsaSource& src = m_sources[i];
    TsaAttempt attempt;
    attempt.source = src.name;
    attempt.url = redact_url(src.url);
    if (skip[i]) {
      attempt.failure = TsaFailure::skipped;
      attempt.reason = *skip[i];
      result.attempts.push_back(std::move(attempt));
      continue;
    }
    const auto start = std::chrono::steady_clock::now();
    const DigestAlg alg = src.digests.front();
    const HttpClient http(src.http);
    TsaFailure failure = TsaFailure::none;
    auto token = detail::exchange(detail::http_transport(http, src.url, failure), data, alg, src.policy_oid, failure);
    if (token) {
      // The response checks held the token's messageImprint (algorithm and value) to our
      // request, whose algorithm is src.digests.front(): a token over another algorithm is
      // refused there. What is left is trust.
      auto info = parse_token(*token);
      if (!info) {
        failure = TsaFailure::bad_token;
        token = fail(Errc::remote_rejected, info.error().message);
      } else {
        // Trust: this source's anchors, at the token's genTime.
        TokenVerification v = verify_token(*token, data, *src.trust, info->gen_time);
        if (v.status == TokenStatus::chain_failure) {
          failure = TsaFailure::untrusted;
          token = fail(Errc::remote_rejected, v.message);
        } else if (v.status != TokenStatus::ok) {
          failure = TsaFailure::bad_token;
          token = fail(Errc::remote_rejected, std::string(token_status_name(v.status)) + ": " + v.message);
        }
      }
    }
    attempt.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (token) {
      attempt.failure = TsaFailure::none;
      result.attempts.push_back(std::move(attempt));
      result.source = src.name;
      result.token = std::move(*token);
      if (backoff) {
        std::lock_guard lock(m_mu);
        m_backoff_until[i].reset();
      }
      break;
    }
    attempt.failure = failure == TsaFailure::none ? TsaFailure::malformed : failure;
    attempt.reason = detail::sanitize(short_reason(attempt.failure, token.error(), src), kMaxReasonBytes);
    if (backoff) {
      const TimePoint now = m_options.clock->now();
      std::lock_guard lock(m_mu);
      m_backoff_until[i] = now + m_options.backoff;
      m_last_failure[i] = attempt.reason;
    }
    result.attempts.push_back(std::move(attempt));
  }

  if (result.source.empty()) {
    std::size_t tried = 0;
    bool all_network = true;
    std::string list;
    for (const auto& a : result.attempts) {
      if (a.failure != TsaFailure::skipped) {
        ++tried;
        all_network = all_network && (a.failure == TsaFailure::unreachable || a.failure == TsaFailure::timeout);
      }
      list += list.empty() ? "" : "; ";
      list += a.source + " <" + a.url + ">: " + a.reason;
    }
    result.token = fail(all_network ? Errc::network : Errc::remote_rejected,
                        "no TSA gave a timestamp (" + std::to_string(tried) + " tried): " + list);
  }
  std::lock_guard lock(m_mu);
  m_last = result;
  return result;
}

}  // namespace hanko::tsa
