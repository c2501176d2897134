#include "hanko/common/http_client.h"

#include <curl/curl.h>

#include <chrono>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

namespace hanko {
namespace {

struct CurlDeleter {
  void operator()(CURL* h) const noexcept { curl_easy_cleanup(h); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

struct CurlUrlDeleter {
  void operator()(CURLU* u) const noexcept { curl_url_cleanup(u); }
};
using CurlUrlPtr = std::unique_ptr<CURLU, CurlUrlDeleter>;

struct CurlStringDeleter {
  void operator()(char* p) const noexcept { curl_free(p); }
};
using CurlStringPtr = std::unique_ptr<char, CurlStringDeleter>;

/** The prefix of every timeout message; is_timeout() looks for it. */
constexpr std::string_view kTimeoutPrefix = "timeout talking to ";

/** curl_global_init is not thread-safe: run it once for the process. */
CURLcode global_init() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  return rc;
}

/** Receives the body; refuses to grow past the limit (the transfer is then aborted). */
struct Sink {
  std::string body;
  std::size_t max = 0;
  bool overflow = false;
};

std::size_t write_body(char* ptr, std::size_t size, std::size_t nmemb, void* userdata) noexcept {
  auto* sink = static_cast<Sink*>(userdata);
  const std::size_t n = size * nmemb;
  try {
    if (n > sink->max - sink->body.size()) {
      sink->overflow = true;
      return 0;  // any count other than n makes libcurl abort with CURLE_WRITE_ERROR
    }
    sink->body.append(ptr, n);
    return n;
  } catch (...) {
    return 0;
  }
}

bool has_control_chars(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

/** Whether the URL's host is a loopback address or name (credentials may then go over plain http). */
bool is_loopback_host(const std::string& url) {
  CurlUrlPtr u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return false;
  }
  char* raw = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &raw, 0) != CURLUE_OK || raw == nullptr) {
    return false;
  }
  CurlStringPtr host(raw);
  std::string h(host.get());
  std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (h == "localhost" || h == "[::1]") {
    return true;
  }
  // 127.0.0.0/8 in dotted-quad form.
  if (!h.starts_with("127.")) {
    return false;
  }
  int dots = 0;
  for (char c : h) {
    if (c == '.') {
      ++dots;
    } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
  }
  return dots == 3;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
         });
}

Result<HttpResponse> perform(const HttpOptions& opt, const std::string& url, bool is_post,
                             std::string_view content_type, std::string_view body, long& status_out) {
  if (global_init() != CURLE_OK) {
    return fail(Errc::internal, "curl_global_init failed");
  }
  if (url.empty() || has_control_chars(url)) {
    return fail(Errc::invalid_argument, "invalid URL");
  }
  const std::string shown = redact_url(url);
  if (shown != url) {
    return fail(Errc::invalid_argument, "refused URL " + shown + ": credentials in a URL are not accepted");
  }
  if (has_control_chars(content_type)) {
    return fail(Errc::invalid_argument, "invalid Content-Type for " + shown);
  }
  const bool with_credentials = !opt.user.empty();
  if (with_credentials) {
    if (opt.user.find(':') != std::string::npos || has_control_chars(opt.user)) {
      return fail(Errc::invalid_argument, "the HTTP user name for " + shown + " contains ':' or a control character");
    }
    // Basic credentials are only base64: never send them in clear beyond this host.
    if (!may_send_credentials(url)) {
      return fail(Errc::invalid_argument,
                  "refusing to send HTTP credentials over plain http to " + shown + " (use https)");
    }
  }
  if (opt.client_cert.empty() != opt.client_key.empty()) {
    return fail(Errc::invalid_argument, "a TLS client certificate and its key go together (" + shown + ")");
  }
  CurlPtr h(curl_easy_init());
  if (!h) {
    return fail(Errc::internal, "curl_easy_init failed");
  }
  Sink sink;
  sink.max = opt.max_response_bytes;
  char errbuf[CURL_ERROR_SIZE] = {0};

  CURL* c = h.get();
  CURLcode rc = CURLE_OK;
  auto set = [&rc](CURLcode r) {
    if (rc == CURLE_OK) {
      rc = r;
    }
  };
  set(curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf));
  set(curl_easy_setopt(c, CURLOPT_URL, url.c_str()));
  // Only plain HTTP(S): no file://, no gopher://, and no redirects at all.
  set(curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L));
  // Signals are not thread-safe; timeouts then rely on the threaded resolver.
  set(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(opt.connect_timeout.count())));
  set(curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(opt.total_timeout.count())));
  // An explicit empty proxy disables the http_proxy/https_proxy/all_proxy environment variables.
  set(curl_easy_setopt(c, CURLOPT_PROXY, opt.proxy.c_str()));
  set(curl_easy_setopt(c, CURLOPT_USERAGENT, opt.user_agent.c_str()));
  set(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &write_body));
  set(curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink));
  if (with_credentials) {
    set(curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC)));
    set(curl_easy_setopt(c, CURLOPT_USERNAME, opt.user.c_str()));
    set(curl_easy_setopt(c, CURLOPT_PASSWORD, opt.password.c_str()));
  }
  if (!opt.client_cert.empty()) {
    set(curl_easy_setopt(c, CURLOPT_SSLCERT, opt.client_cert.c_str()));
    set(curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM"));
    set(curl_easy_setopt(c, CURLOPT_SSLKEY, opt.client_key.c_str()));
    set(curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM"));
  }
  if (!opt.ca_file.empty()) {
    set(curl_easy_setopt(c, CURLOPT_CAINFO, opt.ca_file.c_str()));
    // Only the configured CAs: not also the system CA folder.
    set(curl_easy_setopt(c, CURLOPT_CAPATH, nullptr));
  }
  set(curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L));
  set(curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L));
  // Fail early when the server announces a larger body (Content-Length).
  set(curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(opt.max_response_bytes)));

  SlistPtr headers;
  if (is_post) {
    std::string ct = "Content-Type: " + std::string(content_type);
    curl_slist* l = curl_slist_append(nullptr, ct.c_str());
    if (l == nullptr) {
      return fail(Errc::internal, "curl_slist_append failed");
    }
    headers.reset(l);
    // No "Expect: 100-continue" round trip.
    l = curl_slist_append(headers.get(), "Expect:");
    if (l == nullptr) {
      return fail(Errc::internal, "curl_slist_append failed");
    }
    set(curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get()));
    set(curl_easy_setopt(c, CURLOPT_POST, 1L));
    set(curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size())));
    // Never NULL: libcurl would then read the body from stdin.
    set(curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data()));
  } else {
    set(curl_easy_setopt(c, CURLOPT_HTTPGET, 1L));
  }
  if (rc != CURLE_OK) {
    return fail(Errc::internal, std::string("curl_easy_setopt failed: ") + curl_easy_strerror(rc));
  }

  rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status_out);
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    switch (rc) {
      case CURLE_WRITE_ERROR:
        if (sink.overflow) {
          return fail(Errc::too_large, "response from " + shown + " exceeds " +
                                           std::to_string(opt.max_response_bytes) + " bytes");
        }
        break;
      case CURLE_FILESIZE_EXCEEDED:
        return fail(Errc::too_large,
                    "response from " + shown + " exceeds " + std::to_string(opt.max_response_bytes) + " bytes");
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        return fail(Errc::invalid_argument, "refused URL " + shown + ": " + detail);
      case CURLE_OPERATION_TIMEDOUT:
        return fail(Errc::network, std::string(kTimeoutPrefix) + shown + ": " + detail);
      case CURLE_SSL_CERTPROBLEM:
      case CURLE_SSL_CACERT_BADFILE:
        // Our own files (client certificate, key, CA file) are unusable: a configuration error.
        return fail(Errc::invalid_argument, "TLS files for " + shown + " cannot be used: " + detail);
      default:
        break;
    }
    return fail(Errc::network, "cannot reach " + shown + ": " + detail);
  }

  HttpResponse resp;
  resp.status = status_out;
  char* ctype = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != nullptr) {
    resp.content_type = ctype;
  }
  resp.body = std::move(sink.body);
  return resp;
}

}  // namespace

HttpClient::HttpClient(HttpOptions options) : m_options(std::move(options)) {}

Result<HttpResponse> HttpClient::exchange(const std::string& url, bool is_post, std::string_view content_type,
                                          std::string_view body) const {
  const auto start = std::chrono::steady_clock::now();
  long status = 0;
  auto r = perform(m_options, url, is_post, content_type, body, status);
  if (m_options.observer) {
    try {
      HttpEvent ev;
      ev.purpose = m_options.purpose;
      ev.url = redact_url(url);
      ev.status = status;
      ev.ok = r.has_value() && r->status >= 200 && r->status < 300;
      ev.timed_out = !r.has_value() && is_timeout(r.error());
      ev.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      m_options.observer(ev);
    } catch (...) {
      // an observer must not turn a fetch into a failure
    }
  }
  return r;
}

Result<HttpResponse> HttpClient::post(const std::string& url, std::string_view content_type,
                                      std::string_view body) const {
  return exchange(url, true, content_type, body);
}

Result<HttpResponse> HttpClient::get(const std::string& url) const { return exchange(url, false, {}, {}); }

bool may_send_credentials(const std::string& url) {
  return starts_with_ci(url, "https://") || (starts_with_ci(url, "http://") && is_loopback_host(url));
}

bool is_timeout(const Error& e) {
  return e.code == Errc::network && std::string_view(e.message).starts_with(kTimeoutPrefix);
}

std::string redact_url(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::string(url);
  }
  const std::size_t authority = scheme_end + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  const std::size_t at = url.substr(0, authority_end).rfind('@');
  if (at == std::string_view::npos || at < authority) {
    return std::string(url);
  }
  return std::string(url.substr(0, authority)) + "***" + std::string(url.substr(at));
}

}  // namespace hanko
