#include "hanko/common/error.h"

#include <openssl/err.h>

namespace hanko {

Error openssl_error(Errc code, std::string_view context) {
  std::string msg(context);
  unsigned long e = 0;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  return Error{code, std::move(msg)};
}

void clear_openssl_errors() { ERR_clear_error(); }

std::string_view errc_name(Errc code) {
  switch (code) {
    case Errc::invalid_argument: return "invalid_argument";
    case Errc::unsupported: return "unsupported";
    case Errc::not_a_document: return "not_a_document";
    case Errc::already_signed: return "already_signed";
    case Errc::no_signature: return "no_signature";
    case Errc::too_large: return "too_large";
    case Errc::crypto: return "crypto";
    case Errc::io: return "io";
    case Errc::network: return "network";
    case Errc::remote_rejected: return "remote_rejected";
    case Errc::policy: return "policy";
    case Errc::not_found: return "not_found";
    case Errc::conflict: return "conflict";
    case Errc::expired: return "expired";
    case Errc::internal: return "internal";
  }
  return "internal";
}

}  // namespace hanko
