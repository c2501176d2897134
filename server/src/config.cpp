#include "hanko/server/config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/LayeredConfiguration.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <charconv>
#include <set>

#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/jades.h"

namespace hanko::server {

namespace {

using Poco::AutoPtr;
using Poco::Util::AbstractConfiguration;

const std::set<std::string>& known_keys() {
  static const std::set<std::string> keys = {
      "server.listen",    "server.maxBodyBytes", "server.maxThreads", "server.maxQueued",
      "data.dir",         "dev.enabled",         "trust.dir",         "trust.tsaDir",
      "signer.cert",      "signer.key",          "signer.chain",      "tsa.url",
      "tsa.timeoutMs",    "signing.level",       "signing.canonicalization", "signing.signatureType",
  };
  return keys;
}

void collect_keys(const AbstractConfiguration& c, const std::string& prefix, std::vector<std::string>& out) {
  AbstractConfiguration::Keys keys;
  c.keys(prefix, keys);
  if (keys.empty() && !prefix.empty()) {
    out.push_back(prefix);
    return;
  }
  for (const auto& k : keys) {
    collect_keys(c, prefix.empty() ? k : prefix + "." + k, out);
  }
}

Result<long long> to_int(const std::string& key, const std::string& value, long long lo, long long hi,
                         const std::string& where) {
  long long v = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || p != value.data() + value.size() || v < lo || v > hi) {
    return fail(Errc::invalid_argument, "configuration key " + key + " in " + where + ": '" + value +
                                            "' is not a whole number from " + std::to_string(lo) + " to " +
                                            std::to_string(hi));
  }
  return v;
}

}  // namespace

Result<std::pair<std::string, std::uint16_t>> parse_listen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return fail(Errc::invalid_argument, "listen address '" + text + "' is not HOST:PORT");
  }
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port = to_int("listen", text.substr(colon + 1), 0, 65535, "the command line");
  if (!port) {
    return fail(Errc::invalid_argument, "listen address '" + text + "' has no valid port");
  }
  return std::make_pair(host, static_cast<std::uint16_t>(*port));
}

Result<ServiceConfig> load_config(const std::string& config_file, const std::map<std::string, std::string>& overrides) {
  AutoPtr<Poco::Util::LayeredConfiguration> layered(new Poco::Util::LayeredConfiguration);
  std::string where = "the built-in defaults";
  if (!config_file.empty()) {
    AutoPtr<AbstractConfiguration> file;
    try {
      if (config_file.ends_with(".ini")) {
        file = new Poco::Util::IniFileConfiguration(config_file);
      } else {
        file = new Poco::Util::PropertyFileConfiguration(config_file);
      }
    } catch (const Poco::Exception& e) {
      return fail(Errc::invalid_argument, "cannot read configuration file " + config_file + ": " + e.displayText());
    }
    std::vector<std::string> keys;
    collect_keys(*file, "", keys);
    for (const auto& k : keys) {
      if (!known_keys().contains(k)) {
        return fail(Errc::invalid_argument,
                    "unknown configuration key " + k + " in " + config_file + " (see docs/configuration.md)");
      }
    }
    layered->add(file, 0);
    where = config_file;
  }
  AutoPtr<Poco::Util::MapConfiguration> flags(new Poco::Util::MapConfiguration);
  for (const auto& [k, v] : overrides) {
    if (!known_keys().contains(k)) {
      return fail(Errc::invalid_argument, "unknown configuration key " + k + " on the command line");
    }
    flags->setString(k, v);
  }
  layered->add(flags, -10);  // command-line flags win

  ServiceConfig c;
  c.source = where;
  auto origin = [&](const std::string& key) {
    return overrides.contains(key) ? std::string("the command line") : where;
  };
  try {
    if (layered->has("server.listen")) {
      auto hp = parse_listen(layered->getString("server.listen"));
      if (!hp) {
        return fail(Errc::invalid_argument,
                    "configuration key server.listen in " + origin("server.listen") + ": " + hp.error().message);
      }
      c.listen_host = hp->first;
      c.listen_port = hp->second;
    }
    if (layered->has("server.maxBodyBytes")) {
      auto v = to_int("server.maxBodyBytes", layered->getString("server.maxBodyBytes"), 1024, 1LL << 30,
                      origin("server.maxBodyBytes"));
      if (!v) return std::unexpected(v.error());
      c.max_body_bytes = static_cast<std::size_t>(*v);
    }
    if (layered->has("server.maxThreads")) {
      auto v = to_int("server.maxThreads", layered->getString("server.maxThreads"), 1, 1024, origin("server.maxThreads"));
      if (!v) return std::unexpected(v.error());
      c.max_threads = static_cast<int>(*v);
    }
    if (layered->has("server.maxQueued")) {
      auto v = to_int("server.maxQueued", layered->getString("server.maxQueued"), 1, 100000, origin("server.maxQueued"));
      if (!v) return std::unexpected(v.error());
      c.max_queued = static_cast<int>(*v);
    }
    c.data_dir = layered->getString("data.dir", c.data_dir.string());
    c.signer_cert = layered->getString("signer.cert", "");
    c.signer_key = layered->getString("signer.key", "");
    c.signer_chain = layered->getString("signer.chain", "");
    c.trust_dir = layered->getString("trust.dir", "");
    c.tsa_trust_dir = layered->getString("trust.tsaDir", "");
    c.tsa_url = layered->getString("tsa.url", "");
    // Development mode is the default only while no signer is configured.
    bool dev_default = c.signer_cert.empty();
    if (layered->has("dev.enabled")) {
      try {
        c.dev = layered->getBool("dev.enabled");
      } catch (const Poco::Exception&) {
        return fail(Errc::invalid_argument, "configuration key dev.enabled in " + origin("dev.enabled") +
                                                ": '" + layered->getString("dev.enabled") + "' is not true or false");
      }
    } else {
      c.dev = dev_default;
    }
    if (layered->has("tsa.timeoutMs")) {
      auto v = to_int("tsa.timeoutMs", layered->getString("tsa.timeoutMs"), 100, 600000, origin("tsa.timeoutMs"));
      if (!v) return std::unexpected(v.error());
      c.tsa_timeout_ms = static_cast<int>(*v);
    }
    c.default_level = layered->getString("signing.level", c.default_level);
    if (!signer::level_from_name(c.default_level)) {
      return fail(Errc::invalid_argument, "configuration key signing.level in " + origin("signing.level") + ": '" +
                                              c.default_level + "' is not B-B or B-T");
    }
    c.canonicalization = layered->getString("signing.canonicalization", c.canonicalization);
    if (signer::canonicalizer_by_name(c.canonicalization) == nullptr) {
      return fail(Errc::invalid_argument, "configuration key signing.canonicalization in " +
                                              origin("signing.canonicalization") + ": '" + c.canonicalization +
                                              "' is not jcs or fhir-json");
    }
    c.signature_type = layered->getString("signing.signatureType", c.signature_type);
    if (!signer::signature_type_display(c.signature_type)) {
      return fail(Errc::invalid_argument, "configuration key signing.signatureType in " +
                                              origin("signing.signatureType") + ": '" + c.signature_type +
                                              "' is not an ASTM E1762-95 code (1.2.840.10065.1.12.1.1 to .18)");
    }
  } catch (const Poco::Exception& e) {
    return fail(Errc::invalid_argument, "configuration in " + where + ": " + e.displayText());
  }
  if (!c.dev) {
    if (c.signer_cert.empty() || c.signer_key.empty()) {
      return fail(Errc::invalid_argument, "signer.cert and signer.key are required when dev.enabled is false (" + where + ")");
    }
    if (c.trust_dir.empty()) {
      return fail(Errc::invalid_argument, "trust.dir is required when dev.enabled is false (" + where + ")");
    }
  }
  return c;
}

}  // namespace hanko::server
