#include "hanko/server/config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/IniFileConfiguration.h>
#include <Poco/Util/LayeredConfiguration.h>
#include <Poco/Util/MapConfiguration.h>
#include <Poco/Util/PropertyFileConfiguration.h>

#include <charconv>
#include <functional>
#include <set>

#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/jades.h"
#include "hanko/verifier/policy.h"

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
      "trust.ocspDir",    "trust.intermediatesDir", "trust.aiaFetch",  "revocation.order",
      "revocation.fetch", "revocation.crlFiles", "revocation.ocspNonce", "revocation.clockSkewSeconds",
      "http.connectTimeoutMs", "http.timeoutMs", "http.maxResponseBytes", "http.proxy",
      "audit.file",       "audit.sourceId",      "audit.fsync",       "audit.healthz",
      "audit.anchorIntervalSeconds", "tls.cert", "tls.key", "tls.clientCa", "tls.clientAuth", "tls.ciphers",
      "server.allowInsecure", "server.requestTimeoutMs", "server.shutdownGraceMs", "metrics.protected",
      "store.url",
      "signing.sessionTtlSeconds",
  };
  return keys;
}

/**
 * Keys under these prefixes are collected into maps and checked by the module
 * that owns them: policy.* and crypto.* by verifier/policy.h, auth.* and
 * clients.* by server/src/auth.h, signers.* by the key sources, tsa.source.*
 * by the TSA pool.
 */
constexpr const char* kPrefixes[] = {"policy.", "crypto.", "auth.", "clients.", "signers.", "tsa.source.", "archive."};

bool is_known_key(const std::string& k) {
  if (known_keys().contains(k) || k == "tsa.sources") {
    return true;
  }
  for (const char* p : kPrefixes) {
    if (k.starts_with(p)) {
      return true;
    }
  }
  return false;
}

Result<bool> to_bool(const Poco::Util::AbstractConfiguration& c, const std::string& key, bool fallback,
                     const std::string& where) {
  if (!c.has(key)) {
    return fallback;
  }
  try {
    return c.getBool(key);
  } catch (const Poco::Exception&) {
    return fail(Errc::invalid_argument,
                "configuration key " + key + " in " + where + ": '" + c.getString(key) + "' is not true or false");
  }
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
      if (!is_known_key(k)) {
        return fail(Errc::invalid_argument,
                    "unknown configuration key " + k + " in " + config_file + " (see docs/configuration.md)");
      }
    }
    layered->add(file, 0);
    where = config_file;
  }
  AutoPtr<Poco::Util::MapConfiguration> flags(new Poco::Util::MapConfiguration);
  for (const auto& [k, v] : overrides) {
    if (!is_known_key(k)) {
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
    if (!c.tsa_url.empty() && !c.tsa_url.starts_with("http://") && !c.tsa_url.starts_with("https://")) {
      return fail(Errc::invalid_argument, "configuration key tsa.url in " + origin("tsa.url") + ": '" + c.tsa_url +
                                              "' is not an http:// or https:// URL");
    }
    if (layered->has("dev.enabled")) {
      try {
        c.dev = layered->getBool("dev.enabled");
      } catch (const Poco::Exception&) {
        return fail(Errc::invalid_argument, "configuration key dev.enabled in " + origin("dev.enabled") +
                                                ": '" + layered->getString("dev.enabled") + "' is not true or false");
      }
    }
    if (layered->has("tsa.timeoutMs")) {
      auto v = to_int("tsa.timeoutMs", layered->getString("tsa.timeoutMs"), 100, 600000, origin("tsa.timeoutMs"));
      if (!v) return std::unexpected(v.error());
      c.tsa_timeout_ms = static_cast<int>(*v);
    }
    c.ocsp_trust_dir = layered->getString("trust.ocspDir", "");
    c.intermediates_dir = layered->getString("trust.intermediatesDir", "");
    for (const auto& [key, field] : std::initializer_list<std::pair<const char*, bool*>>{
             {"trust.aiaFetch", &c.aia_fetch}, {"revocation.fetch", &c.revocation_fetch}, {"revocation.ocspNonce", &c.ocsp_nonce}}) {
      auto b = to_bool(*layered, key, *field, origin(key));
      if (!b) return std::unexpected(b.error());
      *field = *b;
    }
    c.revocation_order = layered->getString("revocation.order", c.revocation_order);
    if (c.revocation_order != "ocsp-then-crl" && c.revocation_order != "crl-then-ocsp" &&
        c.revocation_order != "ocsp-only" && c.revocation_order != "crl-only") {
      return fail(Errc::invalid_argument, "configuration key revocation.order in " + origin("revocation.order") + ": '" +
                                              c.revocation_order +
                                              "' is not ocsp-then-crl, crl-then-ocsp, ocsp-only or crl-only");
    }
    if (layered->has("revocation.crlFiles")) {
      std::string list = layered->getString("revocation.crlFiles");
      std::size_t pos = 0;
      while (pos <= list.size()) {
        std::size_t comma = list.find(',', pos);
        std::string item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        while (!item.empty() && item.front() == ' ') item.erase(0, 1);
        while (!item.empty() && item.back() == ' ') item.pop_back();
        if (!item.empty()) c.crl_files.push_back(item);
        if (comma == std::string::npos) break;
        pos = comma + 1;
      }
    }
    struct IntKey {
      const char* key;
      long long lo, hi;
      std::function<void(long long)> set;
    };
    const std::vector<IntKey> ints = {
        {"revocation.clockSkewSeconds", 0, 86400, [&](long long v) { c.clock_skew_seconds = static_cast<int>(v); }},
        {"http.connectTimeoutMs", 100, 600000, [&](long long v) { c.http_connect_timeout_ms = static_cast<int>(v); }},
        {"http.timeoutMs", 100, 600000, [&](long long v) { c.http_timeout_ms = static_cast<int>(v); }},
        {"http.maxResponseBytes", 1024, 1LL << 30, [&](long long v) { c.http_max_response_bytes = static_cast<std::size_t>(v); }},
        {"server.requestTimeoutMs", 100, 3600000, [&](long long v) { c.request_timeout_ms = static_cast<int>(v); }},
        {"server.shutdownGraceMs", 0, 3600000, [&](long long v) { c.shutdown_grace_ms = static_cast<int>(v); }},
        {"audit.anchorIntervalSeconds", 0, 31LL * 86400, [&](long long v) { c.audit_anchor_interval_seconds = static_cast<int>(v); }},
        {"signing.sessionTtlSeconds", 10, 86400, [&](long long v) { c.signing_session_ttl_seconds = static_cast<int>(v); }},
    };
    for (const auto& ik : ints) {
      if (layered->has(ik.key)) {
        auto v = to_int(ik.key, layered->getString(ik.key), ik.lo, ik.hi, origin(ik.key));
        if (!v) return std::unexpected(v.error());
        ik.set(*v);
      }
    }
    c.http_proxy = layered->getString("http.proxy", "");
    c.audit_file = layered->getString("audit.file", "");
    c.audit_source_id = layered->getString("audit.sourceId", c.audit_source_id);
    if (c.audit_source_id.empty()) {
      return fail(Errc::invalid_argument, "configuration key audit.sourceId in " + origin("audit.sourceId") +
                                              ": must not be empty");
    }
    for (const auto& [key, field] : std::initializer_list<std::pair<const char*, bool*>>{
             {"audit.fsync", &c.audit_fsync}, {"audit.healthz", &c.audit_healthz},
             {"server.allowInsecure", &c.allow_insecure_listen}, {"metrics.protected", &c.metrics_protected}}) {
      auto b = to_bool(*layered, key, *field, origin(key));
      if (!b) return std::unexpected(b.error());
      *field = *b;
    }
    const std::pair<const char*, std::map<std::string, std::string>*> maps[] = {
        {"policy", &c.policy_keys}, {"crypto", &c.crypto_keys},   {"auth", &c.auth_keys},
        {"clients", &c.auth_keys},  {"signers", &c.signer_keys}, {"tsa.source", &c.tsa_pool_keys},
        {"archive", &c.archive_keys}};
    for (const auto& [prefix, map] : maps) {
      std::vector<std::string> keys;
      collect_keys(*layered, prefix, keys);
      for (const auto& k : keys) {
        if (k == prefix) continue;  // the prefix itself when no such keys exist
        (*map)[k] = layered->getString(k);
      }
    }
    if (layered->has("tsa.sources")) {
      c.tsa_pool_keys["tsa.sources"] = layered->getString("tsa.sources");
    }
    // Development mode is the default only while no signer is configured (signer.cert or signers.*).
    if (!layered->has("dev.enabled")) {
      c.dev = c.signer_cert.empty() && c.signer_keys.empty();
    }
    c.store_url = layered->getString("store.url", "");
    const auto at = c.store_url.find('@');
    const auto scheme = c.store_url.find("://");
    const bool uri_password = at != std::string::npos && scheme != std::string::npos &&
                              c.store_url.substr(scheme + 3, at - scheme - 3).find(':') != std::string::npos;
    if (!c.store_url.empty() && (c.store_url.find("password") != std::string::npos || uri_password)) {
      return fail(Errc::invalid_argument, "configuration key store.url in " + origin("store.url") +
                                              ": no password in the configuration; use PGPASSWORD or ~/.pgpass");
    }
    c.tls_cert = layered->getString("tls.cert", "");
    c.tls_key = layered->getString("tls.key", "");
    c.tls_client_ca = layered->getString("tls.clientCa", "");
    c.tls_client_auth = layered->getString("tls.clientAuth", c.tls_client_auth);
    c.tls_ciphers = layered->getString("tls.ciphers", c.tls_ciphers);
    if (c.tls_client_auth != "none" && c.tls_client_auth != "optional" && c.tls_client_auth != "required") {
      return fail(Errc::invalid_argument, "configuration key tls.clientAuth in " + origin("tls.clientAuth") + ": '" +
                                              c.tls_client_auth + "' is not none, optional or required");
    }
    if (c.tls_cert.empty() != c.tls_key.empty()) {
      return fail(Errc::invalid_argument, std::string("configuration key ") + (c.tls_cert.empty() ? "tls.cert" : "tls.key") +
                                              " in " + where + ": tls.cert and tls.key go together");
    }
    if (c.tls_client_auth != "none" && c.tls_client_ca.empty()) {
      return fail(Errc::invalid_argument, "configuration key tls.clientCa in " + where +
                                              ": required when tls.clientAuth is " + c.tls_client_auth);
    }
    if (c.tls_client_auth != "none" && c.tls_cert.empty()) {
      return fail(Errc::invalid_argument, "configuration key tls.clientAuth in " + origin("tls.clientAuth") +
                                              ": client certificates need TLS (tls.cert and tls.key)");
    }
    if (auto p = verifier::qualification_policy_from(c.policy_keys); !p) {
      return fail(Errc::invalid_argument, p.error().message + " (" + where + ")");
    }
    if (auto k = verifier::crypto_constraints_from(c.crypto_keys); !k) {
      return fail(Errc::invalid_argument, k.error().message + " (" + where + ")");
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
  if (c.signer_cert.empty() != c.signer_key.empty()) {
    return fail(Errc::invalid_argument, std::string("configuration key ") + (c.signer_cert.empty() ? "signer.cert" : "signer.key") +
                                            " in " + where + ": signer.cert and signer.key go together");
  }
  if (!c.dev) {
    if (c.signer_cert.empty() && c.signer_keys.empty()) {
      return fail(Errc::invalid_argument, "a signer (signers.* or signer.cert and signer.key) is required when "
                                          "dev.enabled is false (" + where + ")");
    }
    if (c.trust_dir.empty()) {
      return fail(Errc::invalid_argument, "trust.dir is required when dev.enabled is false (" + where + ")");
    }
  }
  return c;
}

}  // namespace hanko::server
