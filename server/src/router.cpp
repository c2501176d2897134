#include "router.h"

namespace hanko::server {

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 1;  // paths start with '/'
  while (pos <= path.size()) {
    std::size_t slash = path.find('/', pos);
    out.push_back(path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos));
    if (slash == std::string_view::npos) {
      break;
    }
    pos = slash + 1;
  }
  return out;
}

bool match_pattern(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params) {
  if (path.empty() || path.front() != '/') {
    return false;
  }
  const auto want = segments(pattern);
  const auto got = segments(path);
  if (want.size() != got.size()) {
    return false;
  }
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const std::string_view w = want[i];
    if (w.size() >= 2 && w.front() == '{' && w.back() == '}') {
      if (got[i].empty()) {
        return false;
      }
      found.emplace(std::string(w.substr(1, w.size() - 2)), std::string(got[i]));
    } else if (w != got[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

}  // namespace

const std::vector<RouteSpec>& route_table() {
  static const std::vector<RouteSpec> routes = {
      {"GET", "/healthz", "healthz", false, false},
      {"GET", "/metrics", "metrics", false, false},
      {"GET", "/openapi.json", "openapi", false, false},
      {"POST", "/v1/sign", "sign", true, true},
      {"POST", "/v1/sign/prepare", "sign-prepare", true, true},
      {"POST", "/v1/sign/complete", "sign-complete", true, true},
      {"GET", "/v1/signers", "signers", true, false},
      {"POST", "/v1/extend", "extend", true, true},
      {"POST", "/v1/archive", "archive-ingest", true, true},
      {"GET", "/v1/archive", "archive-find", true, false},
      {"GET", "/v1/archive/{id}", "archive-get", true, false},
      {"GET", "/v1/archive/{id}/report", "archive-report", true, false},
      {"POST", "/v1/verify", "verify", true, true},
  };
  return routes;
}

RouteMatch match_route(std::string_view method, std::string_view path) {
  RouteMatch m;
  std::string allow;
  for (const auto& r : route_table()) {
    std::map<std::string, std::string> params;
    if (!match_pattern(r.pattern, path, params)) {
      continue;
    }
    if (r.method == method) {
      m.kind = RouteMatch::Kind::found;
      m.route = &r;
      m.params = std::move(params);
      return m;
    }
    if (allow.find(r.method) == std::string::npos) {
      allow += allow.empty() ? "" : ", ";
      allow += r.method;
    }
  }
  if (!allow.empty()) {
    m.kind = RouteMatch::Kind::wrong_method;
    m.allow = std::move(allow);
  }
  return m;
}

}  // namespace hanko::server
