#pragma once
/**
 * @file router.h
 * The routes of the REST service: one table of method, path pattern and
 * operation, used to dispatch requests, to label metrics and audit records,
 * and checked by a test against GET /openapi.json. Private to server/.
 */
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace hanko::server {

/** One route. `pattern` uses OpenAPI's path template syntax ("/v1/archive/{id}"). */
struct RouteSpec {
  std::string_view method;
  std::string_view pattern;
  std::string_view operation;  ///< audit subtype and dispatch key: "sign", "verify", "healthz", ...
  bool admission = true;       ///< counted by admission control (false for probes: /healthz, /metrics)
  bool has_body = false;       ///< reads a request body
};

/** Every route the server serves, in a stable order. */
const std::vector<RouteSpec>& route_table();

struct RouteMatch {
  enum class Kind { found, wrong_method, not_found };
  Kind kind = Kind::not_found;
  const RouteSpec* route = nullptr;           ///< when found
  std::map<std::string, std::string> params;  ///< path parameters, when found
  std::string allow;                          ///< the methods of the path, when wrong_method ("GET, POST")
};

/** Finds the route of `method` and `path` (already URL-decoded by Poco::URI). */
RouteMatch match_route(std::string_view method, std::string_view path);

}  // namespace hanko::server
