#include "hanko/certstore/signers.h"

#include <algorithm>

#include "key_source_internal.h"

namespace hanko::certstore {

namespace {

using detail::KeyField;

constexpr std::string_view kPrefix = "signers.";

/** The settings of a signer and the SignerConfig member each fills. */
struct Setting {
  std::string_view name;
  std::string SignerConfig::*member;
};

constexpr Setting kSettings[] = {
    {"source", &SignerConfig::source},
    {"cert", &SignerConfig::cert},
    {"key", &SignerConfig::key},
    {"chain", &SignerConfig::chain},
    {"file", &SignerConfig::file},
    {"passwordFile", &SignerConfig::password_file},
    {"passwordEnv", &SignerConfig::password_env},
    {"module", &SignerConfig::module},
    {"tokenLabel", &SignerConfig::token_label},
    {"keyLabel", &SignerConfig::key_label},
    {"pinFile", &SignerConfig::pin_file},
    {"pinEnv", &SignerConfig::pin_env},
};

/** Which settings a source uses, and which of them it requires. */
struct SourceRule {
  std::string_view source;
  std::vector<std::string_view> allowed;
  std::vector<std::string_view> required;
  std::string_view secret_file, secret_env;  ///< exactly one of the two ("" for none)
};

const std::vector<SourceRule>& rules() {
  static const std::vector<SourceRule> r = {
      {"pem", {"source", "cert", "key", "chain"}, {"cert", "key"}, "", ""},
      {"pkcs12", {"source", "file", "passwordFile", "passwordEnv", "chain"}, {"file"}, "passwordFile", "passwordEnv"},
      {"pkcs11",
       {"source", "module", "tokenLabel", "keyLabel", "pinFile", "pinEnv", "cert", "chain"},
       {"module", "tokenLabel", "keyLabel"},
       "pinFile",
       "pinEnv"},
  };
  return r;
}

bool valid_alias(std::string_view a) {
  if (a.empty() || a.size() > 64 || a == "default") {
    return false;
  }
  return std::all_of(a.begin(), a.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool valid_env_name(std::string_view n) {
  if (n.empty() || (n[0] >= '0' && n[0] <= '9')) {
    return false;
  }
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

const std::string& value_of(const SignerConfig& c, std::string_view setting) {
  for (const auto& s : kSettings) {
    if (s.name == setting) {
      return c.*(s.member);
    }
  }
  static const std::string empty;
  return empty;
}

std::string key_name(const std::string& alias, std::string_view setting) {
  return std::string(kPrefix) + alias + "." + std::string(setting);
}

std::unexpected<Error> key_error(const std::string& alias, std::string_view setting, Errc code,
                                 const std::string& message) {
  return fail(code, key_name(alias, setting) + ": " + message);
}

/** The configuration key a loader's field stands for. */
std::string_view setting_of(KeyField field, const SignerConfig& c) {
  switch (field) {
    case KeyField::cert: return "cert";
    case KeyField::key: return "key";
    case KeyField::chain: return "chain";
    case KeyField::file: return "file";
    case KeyField::password: return c.password_file.empty() ? "passwordEnv" : "passwordFile";
    case KeyField::module: return "module";
    case KeyField::token_label: return "tokenLabel";
    case KeyField::key_label: return "keyLabel";
    case KeyField::pin: return c.pin_file.empty() ? "pinEnv" : "pinFile";
    case KeyField::none: break;
  }
  return "source";
}

Result<Secret> read_secret(const SignerConfig& c, const std::string& file, std::string_view file_setting,
                           const std::string& env, std::string_view env_setting) {
  auto secret = file.empty() ? read_secret_env(env) : read_secret_file(file);
  if (!secret) {
    return key_error(c.alias, file.empty() ? env_setting : file_setting, secret.error().code, secret.error().message);
  }
  return secret;
}

}  // namespace

Result<SignersConfig> parse_signers_config(const std::map<std::string, std::string>& keys) {
  std::map<std::string, SignerConfig> by_alias;
  std::optional<std::string> default_alias;
  for (const auto& [k, v] : keys) {
    if (!k.starts_with(kPrefix)) {
      continue;
    }
    const std::string rest = k.substr(kPrefix.size());
    if (rest == "default") {
      if (v.empty()) {
        return fail(Errc::invalid_argument, k + ": empty (name one of the signers.<alias> aliases)");
      }
      default_alias = v;
      continue;
    }
    const auto dot = rest.find('.');
    if (dot == std::string::npos) {
      return fail(Errc::invalid_argument, k + ": expected signers.default or signers.<alias>.<setting>");
    }
    const std::string alias = rest.substr(0, dot);
    const std::string setting = rest.substr(dot + 1);
    if (!valid_alias(alias)) {
      return fail(Errc::invalid_argument,
                  k + ": '" + alias + "' is not a signer alias (1-64 of A-Z a-z 0-9 _ -, and not \"default\")");
    }
    const auto* known = std::find_if(std::begin(kSettings), std::end(kSettings),
                                     [&](const Setting& s) { return s.name == setting; });
    if (known == std::end(kSettings)) {
      return fail(Errc::invalid_argument,
                  k + ": unknown setting '" + setting +
                      "' (known: source, cert, key, chain, file, passwordFile, passwordEnv, module, tokenLabel, "
                      "keyLabel, pinFile, pinEnv)");
    }
    if (v.empty()) {
      return fail(Errc::invalid_argument, k + ": empty value");
    }
    auto& c = by_alias[alias];
    c.alias = alias;
    c.*(known->member) = v;
  }

  SignersConfig out;
  for (auto& [alias, c] : by_alias) {
    if (c.source.empty()) {
      return key_error(alias, "source", Errc::invalid_argument, "missing (pem, pkcs12 or pkcs11)");
    }
    const auto rule = std::find_if(rules().begin(), rules().end(), [&](const SourceRule& r) { return r.source == c.source; });
    if (rule == rules().end()) {
      return key_error(alias, "source", Errc::invalid_argument, "'" + c.source + "' is not pem, pkcs12 or pkcs11");
    }
    for (const auto& s : kSettings) {
      if (!(c.*(s.member)).empty() &&
          std::find(rule->allowed.begin(), rule->allowed.end(), s.name) == rule->allowed.end()) {
        return key_error(alias, s.name, Errc::invalid_argument, "not used by source " + c.source);
      }
    }
    for (const auto& r : rule->required) {
      if (value_of(c, r).empty()) {
        return key_error(alias, r, Errc::invalid_argument, "missing (required by source " + c.source + ")");
      }
    }
    if (!rule->secret_file.empty()) {
      const bool has_file = !value_of(c, rule->secret_file).empty();
      const bool has_env = !value_of(c, rule->secret_env).empty();
      if (has_file && has_env) {
        return key_error(alias, rule->secret_env, Errc::invalid_argument,
                         "give either " + key_name(alias, rule->secret_file) + " or " +
                             key_name(alias, rule->secret_env) + ", not both");
      }
      if (!has_file && !has_env) {
        return key_error(alias, rule->secret_file, Errc::invalid_argument,
                         "missing (or " + key_name(alias, rule->secret_env) +
                             "); secrets are never taken from the configuration itself");
      }
      if (has_env && !valid_env_name(value_of(c, rule->secret_env))) {
        return key_error(alias, rule->secret_env, Errc::invalid_argument,
                         "'" + value_of(c, rule->secret_env) + "' is not an environment variable name");
      }
    }
    if (c.source == "pkcs11" && c.token_label.size() > 32) {
      return key_error(alias, "tokenLabel", Errc::invalid_argument, "longer than 32 bytes (CK_TOKEN_INFO.label)");
    }
    out.signers.push_back(c);
  }
  if (default_alias) {
    if (by_alias.count(*default_alias) == 0) {
      std::string names;
      for (const auto& [alias, c] : by_alias) {
        names += (names.empty() ? "" : ", ") + alias;
      }
      return fail(Errc::invalid_argument, std::string(kPrefix) + "default: no signer '" + *default_alias +
                                              "' is configured (" + (names.empty() ? "none is" : "configured: " + names) +
                                              ")");
    }
    out.default_alias = *default_alias;
  } else if (out.signers.size() == 1) {
    out.default_alias = out.signers.front().alias;
  }
  return out;
}

Result<std::shared_ptr<SigningKey>> open_signer(const SignerConfig& c) {
  const auto named = [&](const detail::FieldError& e) {
    return key_error(c.alias, setting_of(e.field, c), e.error.code, e.error.message);
  };
  if (c.source == "pem") {
    auto key = detail::load_pem(c.cert, c.key, c.chain);
    if (!key) {
      return named(key.error());
    }
    (*key)->set_label(c.alias);
    return std::shared_ptr<SigningKey>(std::move(*key));
  }
  if (c.source == "pkcs12") {
    auto password = read_secret(c, c.password_file, "passwordFile", c.password_env, "passwordEnv");
    if (!password) {
      return std::unexpected(password.error());
    }
    auto key = detail::load_pkcs12(c.file, *password, c.chain);
    if (!key) {
      return named(key.error());
    }
    (*key)->set_label(c.alias);
    return std::shared_ptr<SigningKey>(std::move(*key));
  }
  if (c.source == "pkcs11") {
    auto pin = read_secret(c, c.pin_file, "pinFile", c.pin_env, "pinEnv");
    if (!pin) {
      return std::unexpected(pin.error());
    }
    Pkcs11Config p;
    p.module = c.module;
    p.token_label = c.token_label;
    p.key_label = c.key_label;
    p.cert_path = c.cert;
    p.chain_path = c.chain;
    auto key = detail::open_pkcs11(p, std::move(*pin));
    if (!key) {
      return named(key.error());
    }
    (*key)->set_label(c.alias);
    return std::shared_ptr<SigningKey>(std::move(*key));
  }
  return key_error(c.alias, "source", Errc::invalid_argument, "'" + c.source + "' is not pem, pkcs12 or pkcs11");
}

SignerDescription describe_signer(const SigningKey& key) {
  SignerDescription d;
  d.alias = std::string(key.label());
  d.source = std::string(key.source());
  d.alg = std::string(jws_alg_name(key.alg()));
  const X509* leaf = key.certificate();
  if (leaf != nullptr) {
    const CertSummary s = summarize(leaf);
    d.not_before = s.not_before;
    d.not_after = s.not_after;
    d.chain.push_back(s);
    d.chain_pem.push_back(ossl::x509_to_pem(leaf));
    auto role = hc_role(leaf);
    if (role && *role) {
      d.hc_role = **role;
    }
  }
  for (const auto& c : key.chain()) {
    d.chain.push_back(summarize(c.get()));
    d.chain_pem.push_back(ossl::x509_to_pem(c.get()));
  }
  return d;
}

std::shared_ptr<const SigningKey> SignerSet::find(std::string_view alias) const {
  auto it = m_keys.find(alias);
  return it == m_keys.end() ? nullptr : it->second;
}

std::vector<SignerDescription> SignerSet::describe() const {
  std::vector<SignerDescription> out;
  for (const auto& alias : m_aliases) {
    SignerDescription d = describe_signer(*m_keys.at(alias));
    d.alias = alias;
    out.push_back(std::move(d));
  }
  return out;
}

void SignerSet::add(std::string alias, std::shared_ptr<const SigningKey> key) {
  if (m_keys.count(alias) == 0) {
    m_aliases.insert(std::upper_bound(m_aliases.begin(), m_aliases.end(), alias), alias);
  }
  m_keys[alias] = std::move(key);
}

Result<SignerSet> load_signers(const std::map<std::string, std::string>& keys) {
  auto config = parse_signers_config(keys);
  if (!config) {
    return std::unexpected(config.error());
  }
  SignerSet set;
  for (const auto& c : config->signers) {
    auto key = open_signer(c);
    if (!key) {
      return std::unexpected(key.error());
    }
    set.add(c.alias, std::move(*key));
  }
  set.set_default(config->default_alias);
  return set;
}

}  // namespace hanko::certstore
