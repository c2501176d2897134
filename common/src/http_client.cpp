#include "hanko/common/http_client.h"

#include <curl/curl.h>

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

Result<HttpResponse> perform(const HttpOptions& opt, const std::string& url, bool is_post,
                             std::string_view content_type, std::string_view body) {
  if (global_init() != CURLE_OK) {
    return fail(Errc::internal, "curl_global_init failed");
  }
  if (url.empty() || has_control_chars(url)) {
    return fail(Errc::invalid_argument, "invalid URL");
  }
  if (has_control_chars(content_type)) {
    return fail(Errc::invalid_argument, "invalid Content-Type for " + url);
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
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] != '\0' ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
    switch (rc) {
      case CURLE_WRITE_ERROR:
        if (sink.overflow) {
          return fail(Errc::too_large, "response from " + url + " exceeds " +
                                           std::to_string(opt.max_response_bytes) + " bytes");
        }
        break;
      case CURLE_FILESIZE_EXCEEDED:
        return fail(Errc::too_large,
                    "response from " + url + " exceeds " + std::to_string(opt.max_response_bytes) + " bytes");
      case CURLE_UNSUPPORTED_PROTOCOL:
      case CURLE_URL_MALFORMAT:
        return fail(Errc::invalid_argument, "refused URL " + url + ": " + detail);
      case CURLE_OPERATION_TIMEDOUT:
        return fail(Errc::network, "timeout talking to " + url + ": " + detail);
      default:
        break;
    }
    return fail(Errc::network, "cannot reach " + url + ": " + detail);
  }

  HttpResponse resp;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
  char* ctype = nullptr;
  if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != nullptr) {
    resp.content_type = ctype;
  }
  resp.body = std::move(sink.body);
  return resp;
}

}  // namespace

HttpClient::HttpClient(HttpOptions options) : m_options(std::move(options)) {}

Result<HttpResponse> HttpClient::post(const std::string& url, std::string_view content_type,
                                      std::string_view body) const {
  return perform(m_options, url, true, content_type, body);
}

Result<HttpResponse> HttpClient::get(const std::string& url) const {
  return perform(m_options, url, false, {}, {});
}

}  // namespace hanko
