#pragma once
/**
 * @file cli_args.h
 * Argument parsing and exit codes shared by the `hanko` commands. Private to server/.
 */
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hanko/common/clock.h"
#include "hanko/common/error.h"

namespace hanko::server {

constexpr int kExitOk = 0;
constexpr int kExitUsage = 3;
constexpr int kExitRemote = 4;
constexpr int kExitInternal = 5;

struct Args {
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  std::vector<std::string> positional;  ///< arguments without "--", when the command takes them

  std::optional<std::string> get(const std::string& k) const {
    auto it = values.find(k);
    if (it == values.end()) {
      return std::nullopt;
    }
    return it->second;
  }
  bool has(const std::string& k) const { return flags.contains(k) || values.contains(k); }
};

/**
 * Parses `--name value` and `--flag`; `flag_names` take no value. Arguments
 * without "--" are refused, or collected in Args::positional (at most
 * `max_positional` of them).
 */
inline Result<Args> parse_args(int argc, char** argv, int start, const std::set<std::string>& value_names,
                        const std::set<std::string>& flag_names, std::size_t max_positional = 0) {
  Args a;
  for (int i = start; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.starts_with("--")) {
      if (a.positional.size() < max_positional) {
        a.positional.push_back(arg);
        continue;
      }
      return fail(Errc::invalid_argument, "unexpected argument '" + arg + "'");
    }
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (flag_names.contains(name)) {
      a.flags.insert(name);
    } else if (value_names.contains(name)) {
      if (inline_value) {
        a.values[name] = *inline_value;
      } else if (i + 1 < argc) {
        a.values[name] = argv[++i];
      } else {
        return fail(Errc::invalid_argument, "--" + name + " needs a value");
      }
    } else {
      return fail(Errc::invalid_argument, "unknown option --" + name);
    }
  }
  return a;
}

inline int error_exit(const Error& e) {
  std::cerr << "hanko: " << e.message << "\n";
  switch (e.code) {
    case Errc::network:
    case Errc::remote_rejected: return kExitRemote;
    case Errc::internal: return kExitInternal;
    default: return kExitUsage;
  }
}

inline int usage_error(const std::string& message) {
  std::cerr << "hanko: " << message << " (hanko --help)\n";
  return kExitUsage;
}

inline Result<TimePoint> time_arg(const Args& a, const std::string& name, TimePoint fallback) {
  auto v = a.get(name);
  if (!v) {
    return fallback;
  }
  auto t = parse_rfc3339(*v);
  if (!t) {
    return fail(Errc::invalid_argument, "--" + name + " must be an RFC 3339 time such as 2026-01-16T09:30:00Z");
  }
  return *t;
}

}  // namespace hanko::server
