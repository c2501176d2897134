#pragma once
/**
 * @file error.h
 * The error type of hanko: parsing and I/O return `Result<T>`
 * (std::expected<T, Error>); exceptions are kept for start-up and
 * configuration only.
 */
#include <expected>
#include <string>
#include <string_view>

namespace hanko {

/** What kind of failure an Error reports; the server maps it to an HTTP status. */
enum class Errc {
  invalid_argument,   ///< the caller's input is malformed (HTTP 400, exit 3)
  unsupported,        ///< well-formed but not supported (HTTP 415/422)
  not_a_document,     ///< not a FHIR document Bundle (HTTP 422)
  already_signed,     ///< the Bundle already carries a signature (HTTP 409)
  no_signature,       ///< nothing to verify (HTTP 422)
  too_large,          ///< input over a configured limit (HTTP 413)
  crypto,             ///< an OpenSSL operation failed
  io,                 ///< file or database I/O failed
  network,            ///< a remote service could not be reached (HTTP 502/503)
  remote_rejected,    ///< a remote service answered with a refusal (HTTP 502)
  policy,             ///< a signing-side policy refused the request (HTTP 422)
  not_found,          ///< the named thing does not exist, e.g. an unknown signing session (HTTP 404)
  conflict,           ///< the named thing is in the wrong state, e.g. a signing session already used (HTTP 409)
  expired,            ///< the named thing existed but its time is over, e.g. an expired signing session (HTTP 410)
  internal,           ///< a bug: an invariant did not hold
};

/** A failure: a code, a one-line message, and the drained OpenSSL error queue if any. */
struct Error {
  Errc code = Errc::internal;
  std::string message;

  Error() = default;
  Error(Errc c, std::string m) : code(c), message(std::move(m)) {}
};

template <class T>
using Result = std::expected<T, Error>;

/** Convenience: `return fail(Errc::io, "cannot open ", path);` */
inline std::unexpected<Error> fail(Errc code, std::string message) {
  return std::unexpected<Error>(Error{code, std::move(message)});
}

/**
 * Builds an Error whose message is `context` followed by the OpenSSL error
 * queue (which is drained, so that it does not leak into later calls).
 */
Error openssl_error(Errc code, std::string_view context);

/** Drains and discards the OpenSSL error queue. */
void clear_openssl_errors();

/** The name of an Errc, for logs and reports. */
std::string_view errc_name(Errc code);

}  // namespace hanko
