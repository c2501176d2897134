#include "target.h"

#include <libpq-fe.h>

#include <cctype>
#include <map>
#include <memory>
#include <vector>

#include "hanko/store/dialect.h"

namespace hanko::store {

namespace {

struct ConninfoFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};
using ConninfoPtr = std::unique_ptr<PQconninfoOption, ConninfoFree>;

/**
 * The passwords `target` may hold, for removing from libpq's messages about a
 * string it could not parse: the URI's user:password@ part and password=...
 * values (as written, quoted or not).
 */
std::vector<std::string> password_candidates(std::string_view target) {
  std::vector<std::string> out;
  if (const auto scheme = target.find("://"); scheme != std::string_view::npos) {
    const auto authority = target.substr(scheme + 3);
    const auto at = authority.rfind('@', authority.find_first_of("/?"));
    if (at != std::string_view::npos) {
      if (const auto colon = authority.substr(0, at).find(':'); colon != std::string_view::npos) {
        out.emplace_back(authority.substr(colon + 1, at - colon - 1));
      }
    }
  }
  for (std::size_t pos = target.find("password"); pos != std::string_view::npos;
       pos = target.find("password", pos + 1)) {
    std::size_t i = pos + 8;
    while (i < target.size() && (target[i] == ' ' || target[i] == '=')) {
      ++i;
    }
    std::size_t end = i;
    while (end < target.size() && !std::isspace(static_cast<unsigned char>(target[end])) && target[end] != '&') {
      ++end;
    }
    out.emplace_back(target.substr(i, end - i));
  }
  std::erase_if(out, [](const std::string& p) { return p.empty(); });
  return out;
}

std::string without_passwords(std::string message, std::string_view target) {
  for (const auto& p : password_candidates(target)) {
    for (auto pos = message.find(p); pos != std::string::npos; pos = message.find(p, pos + 3)) {
      message.replace(pos, p.size(), "***");
    }
  }
  return message;
}

/** libpq's options given in `target` (unset ones left out), or an error message from libpq. */
Result<std::map<std::string, std::string>> parse_conninfo(std::string_view target) {
  const std::string text(target);
  char* err = nullptr;
  ConninfoPtr opts(PQconninfoParse(text.c_str(), &err));
  if (!opts) {
    std::string message = err ? err : "out of memory";
    PQfreemem(err);
    while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) {
      message.pop_back();
    }
    return fail(Errc::invalid_argument, "malformed PostgreSQL connection string: " + without_passwords(message, target));
  }
  std::map<std::string, std::string> out;
  for (const PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
    if (o->val != nullptr && o->val[0] != '\0') {
      out[o->keyword] = o->val;
    }
  }
  return out;
}

}  // namespace

bool is_postgresql_target(std::string_view target) {
  if (target.starts_with("postgresql://") || target.starts_with("postgres://")) {
    return true;
  }
  std::size_t i = 0;
  while (i < target.size() && std::isspace(static_cast<unsigned char>(target[i]))) {
    ++i;
  }
  const std::size_t word = i;
  while (i < target.size() && (std::isalpha(static_cast<unsigned char>(target[i])) || target[i] == '_')) {
    ++i;
  }
  if (i == word) {
    return false;
  }
  while (i < target.size() && (target[i] == ' ' || target[i] == '\t')) {
    ++i;
  }
  return i < target.size() && target[i] == '=';
}

std::string describe_target(std::string_view target) {
  if (!is_postgresql_target(target)) {
    return "SQLite " + std::string(target);
  }
  auto opts = parse_conninfo(target);
  if (!opts) {
    return "PostgreSQL (malformed connection string)";
  }
  std::string out = "PostgreSQL";
  for (const char* key : {"host", "hostaddr", "port", "dbname", "user"}) {
    if (auto it = opts->find(key); it != opts->end()) {
      out += " " + it->first + "=" + it->second;
    }
  }
  return out;
}

namespace detail {

Result<std::string> poco_connection_string(std::string_view target, std::chrono::seconds connect_timeout) {
  auto opts = parse_conninfo(target);
  if (!opts) {
    return std::unexpected(opts.error());
  }
  opts->try_emplace("connect_timeout", std::to_string(connect_timeout.count()));
  opts->try_emplace("application_name", "hanko");
  std::string out;
  for (const auto& [key, value] : *opts) {
    std::string escaped;
    for (char c : value) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        return fail(Errc::invalid_argument, "the PostgreSQL connection parameter " + key +
                                                " contains white space, which Poco 1.11 cannot pass on");
      }
      if (c == '\\' || c == '\'') {
        escaped += '\\';
      }
      escaped += c;
    }
    if (!out.empty()) {
      out += ' ';
    }
    out += key + "=" + escaped;
  }
  return out;
}

}  // namespace detail
}  // namespace hanko::store
