#include "hanko/verifier/policy.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>

#include "hanko/certstore/cert_info.h"
#include "hanko/common/bytes.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/bundle.h"
#include "hanko/store/database.h"

namespace hanko::verifier {

namespace {

constexpr std::string_view kHpkiArc = "1.2.392.100495.1.5.";  // HPKI certificate policies
constexpr std::string_view kJpkiArc = "1.2.392.200149.8.5.";  // JPKI certificate policies
constexpr std::string_view kRegisterHint = "register it with `hanko registry add`";

std::string join(const std::vector<std::string>& items, std::string_view sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += sep;
    }
    out += items[i];
  }
  return out;
}

bool contains(const std::vector<std::string>& items, std::string_view s) {
  return std::find(items.begin(), items.end(), s) != items.end();
}

bool under_arc(const std::string& oid, std::string_view arc) { return oid.starts_with(arc); }

// ---- document type --------------------------------------------------------------

using signer::composition_of;

/** The codings of Composition.type that have a string code, in order. */
std::vector<DocumentType> type_codings(const json::Value& bundle) {
  std::vector<DocumentType> out;
  const json::Value* comp = composition_of(bundle);
  const json::Value* type = comp != nullptr ? comp->find("type") : nullptr;
  const json::Value* codings = type != nullptr ? type->find("coding") : nullptr;
  if (codings == nullptr || !codings->is_array()) {
    return out;
  }
  for (const auto& c : codings->as_array()) {
    const std::string* code = c.find_string("code");
    if (code == nullptr || code->empty()) {
      continue;
    }
    DocumentType d;
    d.code = *code;
    if (const std::string* s = c.find_string("system")) {
      d.system = *s;
    }
    if (const std::string* s = c.find_string("display")) {
      d.display = *s;
    }
    out.push_back(std::move(d));
  }
  return out;
}

bool rule_matches(const QualificationRule& rule, const std::optional<DocumentType>& doc) {
  if (rule.doc_type_code.empty()) {
    return true;
  }
  if (!doc) {
    return false;
  }
  return doc->code == rule.doc_type_code && (rule.doc_type_system.empty() || doc->system == rule.doc_type_system);
}

std::string describe_doc(const std::optional<DocumentType>& doc) {
  if (!doc) {
    return "(unknown: no Composition.type.coding)";
  }
  std::string s = doc->system.empty() ? doc->code : doc->system + "|" + doc->code;
  if (!doc->display.empty()) {
    s += " (" + doc->display + ")";
  }
  return s;
}

// ---- names -------------------------------------------------------------------------

/** An ASN1_STRING as UTF-8 (empty on failure). */
std::string asn1_utf8(const ASN1_STRING* s) {
  unsigned char* raw = nullptr;
  const int len = ASN1_STRING_to_UTF8(&raw, s);
  auto free_raw = [](unsigned char* p) { OPENSSL_free(p); };
  std::unique_ptr<unsigned char, decltype(free_raw)> owned(raw, free_raw);
  if (len < 0 || raw == nullptr) {
    clear_openssl_errors();
    return {};
  }
  return std::string(reinterpret_cast<const char*>(raw), static_cast<std::size_t>(len));
}

void common_names(const X509_NAME* name, std::vector<std::string>& out) {
  for (int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1); idx >= 0;
       idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx)) {
    std::string cn = asn1_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
    if (!cn.empty()) {
      out.push_back(std::move(cn));
    }
  }
}

/** Subject CN, CN of subjectAltName directoryNames, JPKI name otherName. */
std::vector<std::string> certificate_names(const X509* cert) {
  std::vector<std::string> out;
  common_names(X509_get_subject_name(cert), out);
  int crit = 0;
  ossl::GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, nullptr)));
  clear_openssl_errors();
  if (names) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
      if (gn->type == GEN_DIRNAME && gn->d.directoryName != nullptr) {
        common_names(gn->d.directoryName, out);
      }
    }
  }
  if (auto jpki = certstore::jpki_identity(cert)) {
    out.push_back(jpki->name);
  }
  return out;
}

/** Appends the code point `cp` as UTF-8. */
void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/**
 * A name folded for a loose comparison: full-width ASCII (U+FF01..U+FF5E)
 * becomes ASCII, ASCII letters lower case; spaces (ASCII, U+00A0, U+3000),
 * the middle dots U+30FB and U+FF65, commas and full stops are dropped.
 * Bytes that are not well-formed UTF-8 are kept as they are.
 */
std::string fold_name(std::string_view s) {
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    char32_t cp = 0;
    std::size_t len = 0;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if ((b0 & 0xE0) == 0xC0) {
      cp = b0 & 0x1F;
      len = 2;
    } else if ((b0 & 0xF0) == 0xE0) {
      cp = b0 & 0x0F;
      len = 3;
    } else if ((b0 & 0xF8) == 0xF0) {
      cp = b0 & 0x07;
      len = 4;
    }
    bool ok = len > 0 && i + len <= s.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (!ok) {
      out += s[i];
      ++i;
      continue;
    }
    i += len;
    if (cp >= 0xFF01 && cp <= 0xFF5E) {
      cp -= 0xFEE0;  // full-width ASCII
    }
    if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0x00A0 || cp == 0x3000 || cp == 0x30FB ||
        cp == 0xFF65 || cp == ',' || cp == '.') {
      continue;
    }
    if (cp >= 'A' && cp <= 'Z') {
      cp = cp - 'A' + 'a';
    }
    append_utf8(out, cp);
  }
  return out;
}

/** The names of a FHIR resource's HumanName array: text, family+given, given+family. */
std::vector<std::string> human_names(const json::Value& resource) {
  std::vector<std::string> out;
  const json::Value* names = resource.find("name");
  if (names == nullptr || !names->is_array()) {
    return out;
  }
  for (const auto& n : names->as_array()) {
    if (const std::string* text = n.find_string("text"); text != nullptr && !text->empty()) {
      out.push_back(*text);
    }
    std::string family;
    if (const std::string* f = n.find_string("family")) {
      family = *f;
    }
    std::string given;
    if (const json::Value* g = n.find("given"); g != nullptr && g->is_array()) {
      for (const auto& part : g->as_array()) {
        if (part.is_string()) {
          given += (given.empty() ? "" : " ") + part.as_string();
        }
      }
    }
    if (!family.empty() || !given.empty()) {
      out.push_back(family + " " + given);
      out.push_back(given + " " + family);
    }
  }
  return out;
}

/** The resource a reference points at: entry fullUrl, "Type/id", or a fullUrl ending in "/Type/id". */
const json::Value* resolve_reference(const json::Value& bundle, const std::string& ref) {
  const json::Value* entries = bundle.find("entry");
  if (entries == nullptr || !entries->is_array() || ref.empty()) {
    return nullptr;
  }
  for (const auto& e : entries->as_array()) {
    const json::Value* res = e.find("resource");
    if (res == nullptr || !res->is_object()) {
      continue;
    }
    const std::string* full_url = e.find_string("fullUrl");
    if (full_url != nullptr && *full_url == ref) {
      return res;
    }
    const std::string* rt = res->find_string("resourceType");
    const std::string* id = res->find_string("id");
    if (rt != nullptr && id != nullptr && ref == *rt + "/" + *id) {
      return res;
    }
    if (full_url != nullptr && ref.find(':') == std::string::npos && full_url->ends_with("/" + ref)) {
      return res;
    }
  }
  return nullptr;
}

// ---- registry ----------------------------------------------------------------------

bool covers(const store::RegistryEntry& e, TimePoint t) { return e.valid_from <= t && t < e.valid_to; }

std::string lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return s;
}

bool role_accepted(const QualificationRule& rule, const QualificationPolicy& policy, const std::string& role) {
  if (!rule.roles.empty()) {
    return contains(rule.roles, role);
  }
  return policy.healthcare_roles.empty() || contains(policy.healthcare_roles, role);
}

/** "a prescription" for a coded rule, "this document" for a fallback. */
std::string document_noun(const QualificationRule& rule) {
  return rule.doc_type_code.empty() ? std::string("this document") : "a " + rule.name;
}

/** Sets outcome and message from the role, the rule and where the role came from ("hcRole", "registered role"). */
void judge_role(QualificationDecision& d, const QualificationRule& rule, const QualificationPolicy& policy,
                const std::string& role, const std::string& what) {
  d.role = role;
  if (role_accepted(rule, policy, role)) {
    d.outcome = QualificationOutcome::qualified;
    d.message = what + " " + role + " may sign " + document_noun(rule) + " (rule " + rule.name + ")";
    return;
  }
  d.outcome = QualificationOutcome::not_qualified;
  if (!rule.roles.empty()) {
    d.message = what + " " + role + " may not sign " + document_noun(rule) + " (rule " + rule.name + " allows " +
                join(rule.roles, ", ") + ")";
  } else {
    d.message = what + " " + role + " is not a healthcare role this policy knows (rule " + rule.name +
                " accepts " + join(policy.healthcare_roles, ", ") +
                "): if it is one, add it to policy.healthcareRoles";
  }
}

/**
 * Decides from the registry. `no_entry_message` is the message when no entry
 * exists at all. Identity lookup only when both name and birth date are known.
 */
void decide_from_registry(QualificationDecision& d, const X509* signer, const QualificationRule& rule,
                          const QualificationPolicy& policy, store::Database* registry, TimePoint t,
                          const std::optional<certstore::JpkiIdentity>& jpki, const std::string& no_entry_message) {
  d.outcome = QualificationOutcome::not_verifiable;
  d.source = "none";
  if (registry == nullptr) {
    d.message = no_entry_message;
    d.warnings.push_back("no qualification registry is configured");
    return;
  }
  const std::string sha = hex(ossl::cert_sha256(signer));
  std::string name, birth;
  if (jpki && jpki->birth_date && !jpki->name.empty() && !jpki->birth_date->empty()) {
    name = jpki->name;
    birth = *jpki->birth_date;
  }
  auto found = registry->find_registry(sha, name, birth);
  if (!found) {
    d.message = "the qualification registry could not be read (" + found.error().message +
                "): try again, or ask the administrator to check the database";
    return;
  }
  // By certificate first, then by identity; each in id order (as returned).
  std::vector<const store::RegistryEntry*> by_cert, by_identity;
  for (const auto& e : *found) {
    if (!e.cert_sha256.empty() && lower(e.cert_sha256) == sha) {
      by_cert.push_back(&e);
    } else if (!name.empty() && e.jpki_name == name && e.jpki_birth_date == birth) {
      by_identity.push_back(&e);
    }
  }
  std::vector<const store::RegistryEntry*> candidates = by_cert;
  candidates.insert(candidates.end(), by_identity.begin(), by_identity.end());
  if (candidates.empty()) {
    d.message = no_entry_message;
    return;
  }
  std::vector<const store::RegistryEntry*> current;
  for (const auto* e : candidates) {
    if (covers(*e, t)) {
      current.push_back(e);
    }
  }
  if (current.empty()) {
    const auto* e = candidates.front();
    d.message = "registry entry #" + std::to_string(e->id) + " (" + e->role + ") is valid from " +
                format_rfc3339(e->valid_from) + " to " + format_rfc3339(e->valid_to) + ", not at the signing time " +
                format_rfc3339(t) + ": renew the registration with `hanko registry add`";
    return;
  }
  const store::RegistryEntry* chosen = current.front();
  for (const auto* e : current) {
    if (role_accepted(rule, policy, e->role)) {
      chosen = e;
      break;
    }
  }
  std::set<std::string> roles;
  for (const auto* e : current) {
    roles.insert(e->role);
  }
  if (roles.size() > 1) {
    d.warnings.push_back("several registry entries cover the signing time with different roles; entry #" +
                         std::to_string(chosen->id) + " (" + chosen->role + ") was used");
  }
  if (std::find(by_cert.begin(), by_cert.end(), chosen) == by_cert.end()) {
    d.warnings.push_back("registry entry #" + std::to_string(chosen->id) +
                         " matched the JPKI name and birth date, not this certificate's SHA-256");
  }
  d.source = "registry";
  d.registry_id = chosen->id;
  d.licence_number = chosen->licence_number;
  judge_role(d, rule, policy, chosen->role, "registered role");
  d.message += " (registry entry #" + std::to_string(chosen->id) + ")";
}

/** policy_not_allowed unless one of `found` is in `allowed`. */
bool check_policy_oids(QualificationDecision& d, const std::vector<std::string>& found,
                       const std::vector<std::string>& allowed, std::string_view profile, std::string_view key) {
  for (const auto& oid : found) {
    if (contains(allowed, oid)) {
      return true;
    }
  }
  d.outcome = QualificationOutcome::policy_not_allowed;
  d.message = "the " + std::string(profile) + " certificate policy " +
              (found.empty() ? std::string("(none)") : join(found, ", ")) + " is not accepted for signing (allowed: " +
              (allowed.empty() ? std::string("none") : join(allowed, ", ")) +
              "): sign with a signing certificate, or add the policy to " + std::string(key);
  return false;
}

bool check_non_repudiation(QualificationDecision& d, const X509* signer, const QualificationPolicy& policy) {
  if (!policy.require_non_repudiation || certstore::has_non_repudiation(signer)) {
    return true;
  }
  d.outcome = QualificationOutcome::policy_not_allowed;
  d.message =
      "the signer certificate's keyUsage lacks nonRepudiation, so it is not a signing certificate: sign with the "
      "signing (not the authentication) certificate";
  return false;
}

// ---- crypto ------------------------------------------------------------------------

const std::set<std::string, std::less<>>& key_algorithms() {
  static const std::set<std::string, std::less<>> s = {"RSA", "EC", "Ed25519", "Ed448"};
  return s;
}
const std::set<std::string, std::less<>>& known_algorithms() {
  static const std::set<std::string, std::less<>> s = {
      "RSA",     "EC",      "Ed25519", "Ed448",   "MD5",      "SHA-1",    "SHA-224", "SHA-256", "SHA-384",
      "SHA-512", "SHA3-256", "SHA3-384", "SHA3-512", "RS256", "RS384",    "RS512",   "PS256",   "PS384",
      "PS512",   "ES256",   "ES384",   "ES512",   "EdDSA"};
  return s;
}

std::string digest_name(int md_nid) {
  switch (md_nid) {
    case NID_md5: return "MD5";
    case NID_sha1: return "SHA-1";
    case NID_sha224: return "SHA-224";
    case NID_sha256: return "SHA-256";
    case NID_sha384: return "SHA-384";
    case NID_sha512: return "SHA-512";
    case NID_sha3_256: return "SHA3-256";
    case NID_sha3_384: return "SHA3-384";
    case NID_sha3_512: return "SHA3-512";
    default: {
      const char* sn = OBJ_nid2sn(md_nid);
      return sn != nullptr ? sn : "unknown digest";
    }
  }
}

/** The public key's algorithm name for the table ("RSA", "EC", ...) and its size in bits. */
struct KeyInfo {
  std::string name;
  int bits = 0;
  int curve_nid = NID_undef;  ///< EC only
};

std::optional<KeyInfo> key_info(const X509* cert) {
  EVP_PKEY* pkey = X509_get0_pubkey(cert);
  if (pkey == nullptr) {
    clear_openssl_errors();
    return std::nullopt;
  }
  KeyInfo k;
  k.bits = EVP_PKEY_get_bits(pkey);
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS: k.name = "RSA"; break;
    case EVP_PKEY_EC: {
      k.name = "EC";
      char group[80] = {};
      std::size_t len = 0;
      if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) == 1) {
        k.curve_nid = OBJ_txt2nid(group);
        if (k.curve_nid == NID_undef) {
          k.curve_nid = EC_curve_nist2nid(group);
        }
      }
      clear_openssl_errors();
      break;
    }
    case EVP_PKEY_ED25519: k.name = "Ed25519"; break;
    case EVP_PKEY_ED448: k.name = "Ed448"; break;
    default: {
      const char* tn = EVP_PKEY_get0_type_name(pkey);
      k.name = tn != nullptr ? tn : "unknown key type";
    }
  }
  return k;
}

std::string key_label(const KeyInfo& k) { return k.name + "-" + std::to_string(k.bits); }

/** Collects failures of several rows; sunset kept only while every failure is a sunset. */
class CryptoAccumulator {
 public:
  CryptoAccumulator(const CryptoConstraints& c, TimePoint at) : m_c(c), m_at(at) {}

  /** Checks `name` (and `bits` when > 0) against the table; `what` names it in messages. */
  void check(const std::string& name, int bits, const std::string& what) {
    const AlgorithmConstraint* row = m_c.find(name);
    if (row == nullptr) {
      failure(what + " (" + name + ") is not an accepted algorithm (add it to crypto.algorithms if it should be)",
              std::nullopt);
      return;
    }
    if (row->min_bits > 0 && bits > 0 && bits < row->min_bits) {
      failure(what + " " + name + "-" + std::to_string(bits) + " is shorter than the minimum of " +
                  std::to_string(row->min_bits) + " bits",
              std::nullopt);
    }
    if (row->sunset && m_at >= *row->sunset) {
      failure(what + " " + name + " is not acceptable for signatures made after " + format_rfc3339(*row->sunset) +
                  " (this one: " + format_rfc3339(m_at) + ")",
              row->sunset);
    }
  }

  void failure(std::string message, std::optional<TimePoint> sunset) {
    m_failures.push_back(std::move(message));
    if (!sunset) {
      m_all_sunset = false;
    } else if (!m_sunset || *sunset < *m_sunset) {
      m_sunset = sunset;
    }
  }

  CryptoCheck result(const std::string& ok_message) const {
    CryptoCheck r;
    r.ok = m_failures.empty();
    if (r.ok) {
      r.message = ok_message;
      return r;
    }
    r.message = join(m_failures, "; ");
    if (m_all_sunset) {
      r.sunset = m_sunset;
    }
    return r;
  }

 private:
  const CryptoConstraints& m_c;
  TimePoint m_at;
  std::vector<std::string> m_failures;
  bool m_all_sunset = true;
  std::optional<TimePoint> m_sunset;
};

/** What a JWS alg needs: digest name, key algorithm name, EC curve. */
struct JwsAlgSpec {
  std::string_view alg, digest, key;
  int curve_nid = NID_undef;
};

std::optional<JwsAlgSpec> jws_alg_spec(std::string_view alg) {
  static const JwsAlgSpec kSpecs[] = {
      {"RS256", "SHA-256", "RSA"},
      {"RS384", "SHA-384", "RSA"},
      {"RS512", "SHA-512", "RSA"},
      {"PS256", "SHA-256", "RSA"},
      {"PS384", "SHA-384", "RSA"},
      {"PS512", "SHA-512", "RSA"},
      {"ES256", "SHA-256", "EC", NID_X9_62_prime256v1},
      {"ES384", "SHA-384", "EC", NID_secp384r1},
      {"ES512", "SHA-512", "EC", NID_secp521r1},
      {"EdDSA", "", "Ed25519"},  // or Ed448: checked separately
  };
  for (const auto& s : kSpecs) {
    if (s.alg == alg) {
      return s;
    }
  }
  return std::nullopt;
}

// ---- configuration parsing --------------------------------------------------------

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) {
    return {};
  }
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

/** Splits on `sep`, trimming items; an empty item is an error (nullopt). An all-blank value is an empty list. */
std::optional<std::vector<std::string>> split_list(std::string_view value, char sep) {
  std::vector<std::string> out;
  if (trim(value).empty()) {
    return out;
  }
  std::size_t start = 0;
  while (true) {
    const auto pos = value.find(sep, start);
    std::string item = trim(value.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (item.empty()) {
      return std::nullopt;
    }
    out.push_back(std::move(item));
    if (pos == std::string_view::npos) {
      return out;
    }
    start = pos + 1;
  }
}

bool is_dotted_oid(std::string_view s) {
  if (s.size() < 3 || (s[0] != '0' && s[0] != '1' && s[0] != '2') || s[1] != '.') {
    return false;
  }
  bool digit_seen = false;
  for (std::size_t i = 2; i < s.size(); ++i) {
    if (s[i] == '.') {
      if (!digit_seen) {
        return false;
      }
      digit_seen = false;
    } else if (s[i] >= '0' && s[i] <= '9') {
      digit_seen = true;
    } else {
      return false;
    }
  }
  return digit_seen;
}

bool is_rule_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

std::optional<bool> parse_bool(std::string_view v) {
  const std::string s = lower(trim(v));
  if (s == "true" || s == "yes" || s == "on" || s == "1") {
    return true;
  }
  if (s == "false" || s == "no" || s == "off" || s == "0") {
    return false;
  }
  return std::nullopt;
}

Result<std::vector<std::string>> parse_oid_list(const std::string& key, const std::string& value) {
  auto items = split_list(value, ',');
  if (!items) {
    return fail(Errc::invalid_argument, "configuration key " + key + ": empty item in the comma-separated list \"" + value + "\"");
  }
  for (const auto& oid : *items) {
    if (!is_dotted_oid(oid)) {
      return fail(Errc::invalid_argument, "configuration key " + key + ": \"" + oid + "\" is not a dotted OID");
    }
  }
  return *items;
}

Result<std::vector<std::string>> parse_role_list(const std::string& key, const std::string& value) {
  if (trim(value) == "*") {
    return std::vector<std::string>{};
  }
  auto items = split_list(value, ';');
  if (!items || items->empty()) {
    return fail(Errc::invalid_argument, "configuration key " + key +
                                            ": give role strings separated by ';' (e.g. Medical Doctor;Dentist), or * for any");
  }
  return *items;
}

}  // namespace

// ---- Qualification policy -----------------------------------------------------------

QualificationPolicy QualificationPolicy::defaults() {
  QualificationPolicy p;
  p.rules = {
      QualificationRule{"prescription", std::string(kDocTypeSystem), std::string(kDocTypePrescription),
                        {"Medical Doctor", "Dentist"}},
      QualificationRule{"any-document", "", "", {}},
  };
  p.hpki_policy_oids = {certstore::kOidHpkiSignPolicy};
  p.jpki_policy_oids = {certstore::kOidJpkiSignPolicy};
  p.healthcare_roles = {"Medical Doctor",      "Dentist", "Pharmacist",           "Nurse",
                        "Public Health Nurse", "Midwife", "Director of Hospital", "Director of Clinic"};
  p.require_non_repudiation = true;
  return p;
}

std::optional<DocumentType> document_type(const json::Value& bundle) {
  auto codings = type_codings(bundle);
  if (codings.empty()) {
    return std::nullopt;
  }
  return std::move(codings.front());
}

std::optional<DocumentType> document_type(const json::Value& bundle, const QualificationPolicy& policy) {
  auto codings = type_codings(bundle);
  if (codings.empty()) {
    return std::nullopt;
  }
  for (const auto& rule : policy.rules) {
    if (rule.doc_type_code.empty()) {
      continue;
    }
    for (const auto& c : codings) {
      if (rule_matches(rule, c)) {
        return c;
      }
    }
  }
  return std::move(codings.front());
}

std::string_view outcome_name(QualificationOutcome outcome) {
  switch (outcome) {
    case QualificationOutcome::qualified: return "QUALIFIED";
    case QualificationOutcome::not_qualified: return "NOT_QUALIFIED";
    case QualificationOutcome::not_verifiable: return "NOT_VERIFIABLE";
    case QualificationOutcome::policy_not_allowed: return "POLICY_NOT_ALLOWED";
  }
  return "UNKNOWN";
}

SubIndication sub_indication_for(QualificationOutcome outcome) {
  switch (outcome) {
    case QualificationOutcome::qualified: return SubIndication::none;
    case QualificationOutcome::not_qualified:
    case QualificationOutcome::not_verifiable: return SubIndication::sig_constraints_failure;
    case QualificationOutcome::policy_not_allowed: return SubIndication::chain_constraints_failure;
  }
  return SubIndication::sig_constraints_failure;
}

QualificationDecision decide_qualification(const X509* signer, const std::optional<DocumentType>& doc,
                                           TimePoint signing_time, const QualificationPolicy& policy,
                                           store::Database* registry) {
  QualificationDecision d;
  if (signer == nullptr) {
    d.message = "there is no signer certificate, so the signer's qualification cannot be checked";
    return d;
  }
  const QualificationRule* rule = nullptr;
  for (const auto& r : policy.rules) {
    if (rule_matches(r, doc)) {
      rule = &r;
      break;
    }
  }
  if (rule == nullptr) {
    d.outcome = QualificationOutcome::not_qualified;
    d.message = "no qualification rule applies to the document type " + describe_doc(doc) +
                ": the policy accepts no signer for it (add a fallback rule with docType = * to policy.rules)";
    return d;
  }
  d.rule = rule->name;
  if (!doc) {
    d.warnings.push_back("the document type is unknown (no Composition.type.coding): rule " + rule->name + " applied");
  }

  const std::vector<std::string> oids = certstore::policy_oids(signer);
  const auto role = certstore::hc_role(signer);
  const auto jpki = certstore::jpki_identity(signer);
  const bool hpki_oid = std::any_of(oids.begin(), oids.end(), [](const std::string& o) { return under_arc(o, kHpkiArc); });
  const bool jpki_oid = std::any_of(oids.begin(), oids.end(), [](const std::string& o) { return under_arc(o, kJpkiArc); });
  const bool is_hpki = !role.has_value() || role->has_value() || hpki_oid;
  const bool is_jpki = !is_hpki && (jpki_oid || jpki.has_value());

  if (is_hpki) {
    if (!check_policy_oids(d, oids, policy.hpki_policy_oids, "HPKI", "policy.hpkiPolicyOids") ||
        !check_non_repudiation(d, signer, policy)) {
      return d;
    }
    if (!role) {
      d.outcome = QualificationOutcome::not_verifiable;
      d.message = "the hcRole in the signer certificate is malformed (" + role.error().message +
                  "), so the qualification is not electronically verifiable: ask the certificate authority";
      return d;
    }
    if (!role->has_value()) {
      decide_from_registry(d, signer, *rule, policy, registry, signing_time, std::nullopt,
                           "the signer certificate carries no hcRole, so the qualification is not electronically "
                           "verifiable: sign with an HPKI certificate that carries the qualification, or " +
                               std::string(kRegisterHint));
      return d;
    }
    d.source = "hcRole";
    judge_role(d, *rule, policy, **role, "hcRole");
    return d;
  }
  if (is_jpki) {
    if (!check_policy_oids(d, oids, policy.jpki_policy_oids, "JPKI", "policy.jpkiPolicyOids") ||
        !check_non_repudiation(d, signer, policy)) {
      return d;
    }
    decide_from_registry(d, signer, *rule, policy, registry, signing_time, jpki,
                         "the qualification of a JPKI signer is not electronically verifiable: " + std::string(kRegisterHint));
    return d;
  }
  if (!check_non_repudiation(d, signer, policy)) {
    return d;
  }
  d.warnings.push_back("the signer certificate follows neither the HPKI nor the JPKI profile");
  decide_from_registry(d, signer, *rule, policy, registry, signing_time, std::nullopt,
                       "the signer certificate carries no qualification (neither HPKI nor JPKI), so it is not "
                       "electronically verifiable: " +
                           std::string(kRegisterHint));
  return d;
}

std::vector<std::string> compare_signer_with_bundle(const X509* signer, const std::optional<std::string>& role,
                                                    const json::Value& bundle, const std::string& who_reference) {
  std::vector<std::string> w;
  const std::string signer_desc = role ? "the signer (" + *role + ")" : std::string("the signer");
  if (who_reference.empty()) {
    w.push_back("Signature.who has no reference: the Bundle does not say which Practitioner signed, so " + signer_desc +
                " cannot be compared with one");
    return w;
  }
  const auto cert_names = signer != nullptr ? certificate_names(signer) : std::vector<std::string>{};
  std::set<std::string> folded;
  for (const auto& n : cert_names) {
    folded.insert(fold_name(n));
  }
  if (who_reference.find_first_of("/:") == std::string::npos) {
    // Not a reference (those are "Type/id" or a URL/URN): Signature.who.display, compared directly.
    const std::string display = fold_name(who_reference);
    if (display.empty() || !folded.contains(display)) {
      w.push_back("Signature.who names " + who_reference + " but the signer certificate names " +
                  (cert_names.empty() ? std::string("no one") : join(cert_names, " / ")) + ": check that " +
                  signer_desc + " is the person named in the document");
    }
    return w;
  }
  const json::Value* res = resolve_reference(bundle, who_reference);
  if (res == nullptr) {
    w.push_back("Signature.who (" + who_reference + ") does not resolve to a resource in the Bundle");
    return w;
  }
  const std::string* rt = res->find_string("resourceType");
  if (rt != nullptr && *rt == "PractitionerRole") {
    const json::Value* p = res->find("practitioner");
    const std::string* ref = p != nullptr ? p->find_string("reference") : nullptr;
    if (ref == nullptr) {
      w.push_back("the PractitionerRole of Signature.who (" + who_reference + ") names no practitioner");
      return w;
    }
    res = resolve_reference(bundle, *ref);
    if (res == nullptr) {
      w.push_back("the practitioner of the PractitionerRole of Signature.who (" + *ref +
                  ") does not resolve to a resource in the Bundle");
      return w;
    }
    rt = res->find_string("resourceType");
  }
  if (rt == nullptr || *rt != "Practitioner") {
    w.push_back("Signature.who (" + who_reference + ") points at a " + (rt != nullptr ? *rt : std::string("resource")) +
                ", not a Practitioner or PractitionerRole");
    return w;
  }
  const auto bundle_names = human_names(*res);
  if (bundle_names.empty()) {
    w.push_back("the Practitioner of Signature.who (" + who_reference + ") has no name to compare with the certificate");
    return w;
  }
  if (cert_names.empty()) {
    w.push_back("the signer certificate carries no name to compare with the Practitioner of Signature.who");
    return w;
  }
  for (const auto& n : bundle_names) {
    const std::string f = fold_name(n);
    if (!f.empty() && folded.contains(f)) {
      return w;
    }
  }
  // The first name (text, or family+given) is enough to show.
  w.push_back("the signer certificate names " + join(cert_names, " / ") + " but Signature.who (" + who_reference +
              ") is the Practitioner " + bundle_names.front() + ": check that " + signer_desc +
              " is the prescriber named in the document");
  return w;
}

Result<QualificationPolicy> qualification_policy_from(const std::map<std::string, std::string>& keys) {
  const QualificationPolicy defaults = QualificationPolicy::defaults();
  QualificationPolicy p = defaults;
  constexpr std::string_view kPrefix = "policy.";
  constexpr std::string_view kRulePrefix = "policy.rule.";

  // The rule list first: per-rule keys refer to it.
  std::vector<std::string> names;
  if (auto it = keys.find("policy.rules"); it != keys.end()) {
    auto items = split_list(it->second, ',');
    if (!items || items->empty()) {
      return fail(Errc::invalid_argument, "configuration key policy.rules: give rule names separated by ',' (e.g. prescription,any-document)");
    }
    std::set<std::string> seen;
    for (const auto& n : *items) {
      if (!is_rule_name(n)) {
        return fail(Errc::invalid_argument, "configuration key policy.rules: \"" + n + "\" is not a rule name ([A-Za-z0-9_-]+)");
      }
      if (!seen.insert(n).second) {
        return fail(Errc::invalid_argument, "configuration key policy.rules: rule \"" + n + "\" is listed twice");
      }
    }
    names = *items;
    p.rules.clear();
    for (const auto& n : names) {
      auto def = std::find_if(defaults.rules.begin(), defaults.rules.end(), [&](const QualificationRule& r) { return r.name == n; });
      p.rules.push_back(def != defaults.rules.end() ? *def : QualificationRule{n, "", "", {}});
    }
  }
  auto rule_named = [&](std::string_view n) -> QualificationRule* {
    for (auto& r : p.rules) {
      if (r.name == n) {
        return &r;
      }
    }
    return nullptr;
  };

  for (const auto& [key, value] : keys) {
    if (!key.starts_with(kPrefix) || key == "policy.rules") {
      continue;
    }
    if (key.starts_with(kRulePrefix)) {
      const std::string_view rest = std::string_view(key).substr(kRulePrefix.size());
      const auto dot = rest.rfind('.');
      if (dot == std::string_view::npos) {
        return fail(Errc::invalid_argument,
                    "configuration key " + key + ": expected policy.rule.<name>.docType or policy.rule.<name>.roles");
      }
      const std::string_view name = rest.substr(0, dot);
      const std::string_view field = rest.substr(dot + 1);
      QualificationRule* rule = rule_named(name);
      if (rule == nullptr) {
        return fail(Errc::invalid_argument, "configuration key " + key + ": rule \"" + std::string(name) +
                                                "\" is not listed in policy.rules (" + [&] {
                                                  std::vector<std::string> n;
                                                  for (const auto& r : p.rules) {
                                                    n.push_back(r.name);
                                                  }
                                                  return join(n, ",");
                                                }() + ")");
      }
      if (field == "docType") {
        const std::string v = trim(value);
        if (v == "*") {
          rule->doc_type_system.clear();
          rule->doc_type_code.clear();
        } else if (v.empty()) {
          return fail(Errc::invalid_argument, "configuration key " + key + ": empty; write system|code, code, or * for any document type");
        } else if (auto bar = v.rfind('|'); bar != std::string::npos) {
          std::string system = trim(std::string_view(v).substr(0, bar));
          std::string code = trim(std::string_view(v).substr(bar + 1));
          if (system.empty() || code.empty()) {
            return fail(Errc::invalid_argument, "configuration key " + key + ": \"" + v + "\" needs both a system and a code (system|code)");
          }
          rule->doc_type_system = std::move(system);
          rule->doc_type_code = std::move(code);
        } else {
          rule->doc_type_system.clear();
          rule->doc_type_code = v;
        }
      } else if (field == "roles") {
        auto roles = parse_role_list(key, value);
        if (!roles) {
          return std::unexpected(roles.error());
        }
        rule->roles = std::move(*roles);
      } else {
        return fail(Errc::invalid_argument, "configuration key " + key + ": unknown rule setting \"" + std::string(field) +
                                                "\" (known: docType, roles)");
      }
    } else if (key == "policy.hpkiPolicyOids" || key == "policy.jpkiPolicyOids") {
      auto oids = parse_oid_list(key, value);
      if (!oids) {
        return std::unexpected(oids.error());
      }
      (key == "policy.hpkiPolicyOids" ? p.hpki_policy_oids : p.jpki_policy_oids) = std::move(*oids);
    } else if (key == "policy.healthcareRoles") {
      auto roles = parse_role_list(key, value);
      if (!roles) {
        return std::unexpected(roles.error());
      }
      p.healthcare_roles = std::move(*roles);
    } else if (key == "policy.requireNonRepudiation") {
      auto b = parse_bool(value);
      if (!b) {
        return fail(Errc::invalid_argument, "configuration key " + key + ": \"" + value + "\" is not true or false");
      }
      p.require_non_repudiation = *b;
    } else {
      return fail(Errc::invalid_argument,
                  "configuration key " + key +
                      " is unknown (known: policy.rules, policy.rule.<name>.docType, policy.rule.<name>.roles, "
                      "policy.hpkiPolicyOids, policy.jpkiPolicyOids, policy.healthcareRoles, policy.requireNonRepudiation)");
    }
  }
  return p;
}

// ---- Cryptographic constraints -------------------------------------------------------

CryptoConstraints CryptoConstraints::defaults() {
  CryptoConstraints c;
  c.table = {
      {"RSA", 2048, std::nullopt},     {"EC", 256, std::nullopt},       {"SHA-1", 0, utc(2013, 1, 1)},
      {"SHA-256", 0, std::nullopt},    {"SHA-384", 0, std::nullopt},    {"SHA-512", 0, std::nullopt},
      {"RS256", 0, std::nullopt},      {"RS384", 0, std::nullopt},      {"RS512", 0, std::nullopt},
      {"PS256", 0, std::nullopt},      {"PS384", 0, std::nullopt},      {"PS512", 0, std::nullopt},
      {"ES256", 0, std::nullopt},      {"ES384", 0, std::nullopt},      {"ES512", 0, std::nullopt},
  };
  return c;
}

const AlgorithmConstraint* CryptoConstraints::find(std::string_view name) const {
  for (const auto& row : table) {
    if (row.name == name) {
      return &row;
    }
  }
  return nullptr;
}

CryptoCheck check_certificate_crypto(const X509* cert, TimePoint at, const CryptoConstraints& constraints) {
  CryptoAccumulator acc(constraints, at);
  if (cert == nullptr) {
    acc.failure("no certificate", std::nullopt);
    return acc.result("");
  }
  const auto key = key_info(cert);
  if (!key) {
    acc.failure("the certificate's public key cannot be read", std::nullopt);
  } else {
    acc.check(key->name, key->bits, "key");
  }
  int md_nid = NID_undef;
  int pk_nid = NID_undef;
  int sec_bits = 0;
  std::uint32_t flags = 0;
  std::string sig_label;
  if (X509_get_signature_info(const_cast<X509*>(cert), &md_nid, &pk_nid, &sec_bits, &flags) != 1) {
    clear_openssl_errors();
    const int sig_nid = X509_get_signature_nid(cert);
    const char* ln = OBJ_nid2ln(sig_nid);
    acc.failure(std::string("the certificate's signature algorithm ") + (ln != nullptr ? ln : "(unknown)") +
                    " is not recognised",
                std::nullopt);
  } else if (md_nid == NID_undef) {
    if (pk_nid == NID_ED25519 || pk_nid == NID_ED448) {
      sig_label = pk_nid == NID_ED25519 ? "Ed25519" : "Ed448";
      acc.check(sig_label, 0, "certificate signature");
    } else {
      acc.failure("the certificate's signature algorithm has no recognised digest", std::nullopt);
    }
  } else {
    sig_label = digest_name(md_nid);
    acc.check(sig_label, 0, "certificate signature digest");
  }
  return acc.result((key ? key_label(*key) + " key" : std::string("key")) + ", " + sig_label +
                    " certificate signature: acceptable at " + format_rfc3339(at));
}

CryptoCheck check_signature_crypto(std::string_view jws_alg, const X509* signer, TimePoint at,
                                   const CryptoConstraints& constraints) {
  CryptoAccumulator acc(constraints, at);
  const std::string alg(jws_alg);
  const auto spec = jws_alg_spec(jws_alg);
  if (!spec) {
    acc.failure("JWS algorithm \"" + alg + "\" is not a public-key signature algorithm hanko accepts", std::nullopt);
    return acc.result("");
  }
  acc.check(alg, 0, "JWS algorithm");
  if (!spec->digest.empty()) {
    acc.check(std::string(spec->digest), 0, "digest of " + alg);
  }
  const auto key = signer != nullptr ? key_info(signer) : std::nullopt;
  if (!key) {
    acc.failure("the signer's public key cannot be read", std::nullopt);
    return acc.result("");
  }
  const bool eddsa = spec->alg == "EdDSA";
  const bool key_fits = eddsa ? (key->name == "Ed25519" || key->name == "Ed448")
                              : (key->name == spec->key && (spec->curve_nid == NID_undef || key->curve_nid == spec->curve_nid));
  if (!key_fits) {
    std::string need(spec->key);
    if (spec->curve_nid != NID_undef) {
      need += " " + std::string(OBJ_nid2sn(spec->curve_nid));
    }
    acc.failure(alg + " needs a " + need + " key, but the signer's key is " + key_label(*key), std::nullopt);
  } else {
    acc.check(key->name, key->bits, "signer key");
  }
  return acc.result(alg + " with a " + key_label(*key) + " key: acceptable at " + format_rfc3339(at));
}

Result<CryptoConstraints> crypto_constraints_from(const std::map<std::string, std::string>& keys) {
  const CryptoConstraints defaults = CryptoConstraints::defaults();
  CryptoConstraints c = defaults;
  constexpr std::string_view kPrefix = "crypto.";
  if (auto it = keys.find("crypto.algorithms"); it != keys.end()) {
    auto items = split_list(it->second, ',');
    if (!items || items->empty()) {
      return fail(Errc::invalid_argument, "configuration key crypto.algorithms: give algorithm names separated by ',' (e.g. RSA,EC,SHA-256,RS256,ES256)");
    }
    c.table.clear();
    for (const auto& n : *items) {
      if (!known_algorithms().contains(n)) {
        return fail(Errc::invalid_argument, "configuration key crypto.algorithms: unknown algorithm \"" + n + "\"");
      }
      if (c.find(n) != nullptr) {
        return fail(Errc::invalid_argument, "configuration key crypto.algorithms: \"" + n + "\" is listed twice");
      }
      const AlgorithmConstraint* def = defaults.find(n);
      c.table.push_back(def != nullptr ? *def : AlgorithmConstraint{n, 0, std::nullopt});
    }
  }
  for (const auto& [key, value] : keys) {
    if (!key.starts_with(kPrefix) || key == "crypto.algorithms") {
      continue;
    }
    const std::string_view rest = std::string_view(key).substr(kPrefix.size());
    const auto dot = rest.rfind('.');
    if (dot == std::string_view::npos) {
      return fail(Errc::invalid_argument, "configuration key " + key +
                                              " is unknown (known: crypto.algorithms, crypto.<NAME>.minBits, crypto.<NAME>.sunset)");
    }
    const std::string name(rest.substr(0, dot));
    const std::string_view field = rest.substr(dot + 1);
    if (!known_algorithms().contains(name)) {
      return fail(Errc::invalid_argument, "configuration key " + key + ": unknown algorithm \"" + name + "\"");
    }
    AlgorithmConstraint* row = nullptr;
    for (auto& r : c.table) {
      if (r.name == name) {
        row = &r;
      }
    }
    if (row == nullptr) {
      return fail(Errc::invalid_argument, "configuration key " + key + ": " + name +
                                              " is not in crypto.algorithms; add it there to accept it");
    }
    const std::string v = trim(value);
    if (field == "minBits") {
      if (!key_algorithms().contains(name)) {
        return fail(Errc::invalid_argument, "configuration key " + key + ": minBits applies only to key algorithms (RSA, EC)");
      }
      int bits = 0;
      bool ok = !v.empty() && v.size() <= 6 && std::all_of(v.begin(), v.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      if (ok) {
        bits = std::stoi(v);
      }
      if (!ok || bits > 65536) {
        return fail(Errc::invalid_argument, "configuration key " + key + ": \"" + value + "\" is not a key size in bits (0..65536)");
      }
      row->min_bits = bits;
    } else if (field == "sunset") {
      if (lower(v) == "none") {
        row->sunset.reset();
      } else {
        auto t = parse_rfc3339(v);
        if (!t) {
          return fail(Errc::invalid_argument, "configuration key " + key + ": \"" + value +
                                                  "\" is not a date (2013-01-01) or date-time (2013-01-01T00:00:00Z), or none");
        }
        row->sunset = *t;
      }
    } else {
      return fail(Errc::invalid_argument, "configuration key " + key + ": unknown setting \"" + std::string(field) +
                                              "\" (known: minBits, sunset)");
    }
  }
  return c;
}

}  // namespace hanko::verifier
