#pragma once
// Turning the `store.url` value into what Poco's PostgreSQL connector takes.
#include <chrono>
#include <string>
#include <string_view>

#include "hanko/common/error.h"

namespace hanko::store::detail {

/**
 * The connection string for Poco::Data::PostgreSQL::SessionImpl, which splits
 * at single spaces and at the first '=' and passes `key=value ...` on to
 * PQconnectdb: the target (URI or key=value form) is parsed with libpq's
 * PQconninfoParse and written back as `key=value` pairs, backslash-escaped.
 * Adds connect_timeout and application_name=hanko unless given.
 * Errc::invalid_argument when libpq cannot parse it or a value holds white space.
 */
Result<std::string> poco_connection_string(std::string_view target, std::chrono::seconds connect_timeout);

}  // namespace hanko::store::detail
