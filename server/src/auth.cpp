#include "auth.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <utility>

#include "hanko/common/base64.h"
#include "hanko/common/file.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/signing_key.h"

namespace hanko::server {

namespace {

using ParamBldPtr = ossl::Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = ossl::Ptr<OSSL_PARAM, OSSL_PARAM_free>;

constexpr std::string_view kClientsPrefix = "clients.";
constexpr std::string_view kAuthPrefix = "auth.";
constexpr std::string_view kScopeList = "sign, verify, archive.read, archive.write, admin";
/** Latest NumericDate accepted: 9999-12-31T23:59:59Z. */
constexpr double kMaxNumericDate = 253402300799.0;
/** Largest RSA modulus accepted from a JWKS (bounds the cost of a verification). */
constexpr int kMaxRsaBits = 16384;
constexpr int kMinRsaBits = 2048;

std::string_view trim_view(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string trim(std::string_view s) { return std::string(trim_view(s)); }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lo = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
           return lo(x) == lo(y);
         });
}

bool is_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

bool is_name(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_name_char); }

std::unexpected<Error> bad_key(std::string_view key, std::string_view what) {
  return fail(Errc::invalid_argument, "configuration key " + std::string(key) + ": " + std::string(what));
}

/** Splits a comma list; nullopt when an item is empty ("a,,b"). An empty or blank text gives no items. */
std::optional<std::vector<std::string>> split_list(std::string_view text) {
  std::vector<std::string> out;
  if (trim_view(text).empty()) {
    return out;
  }
  std::size_t pos = 0;
  while (true) {
    const std::size_t comma = text.find(',', pos);
    std::string item = trim(text.substr(pos, comma == std::string_view::npos ? std::string_view::npos : comma - pos));
    if (item.empty()) {
      return std::nullopt;
    }
    out.push_back(std::move(item));
    if (comma == std::string_view::npos) {
      return out;
    }
    pos = comma + 1;
  }
}

bool is_scope(std::string_view s) {
  return std::find(std::begin(kAllScopes), std::end(kAllScopes), s) != std::end(kAllScopes);
}

/** A decimal integer in [lo, hi], the whole text. */
bool parse_int_in(std::string_view s, long long lo, long long hi, long long& out) {
  s = trim_view(s);
  long long v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || ptr != s.data() + s.size() || v < lo || v > hi) {
    return false;
  }
  out = v;
  return true;
}

/** Hex SHA-256 with optional colons, either case; nullopt unless exactly 32 bytes. */
std::optional<Bytes> parse_fingerprint(std::string_view s) {
  std::string digits;
  for (char c : s) {
    if (c != ':') {
      digits.push_back(c);
    }
  }
  if (digits.size() != 64) {
    return std::nullopt;
  }
  Bytes out;
  for (std::size_t i = 0; i < 64; i += 2) {
    unsigned v = 0;
    const auto [ptr, ec] = std::from_chars(digits.data() + i, digits.data() + i + 2, v, 16);
    if (ec != std::errc{} || ptr != digits.data() + i + 2) {
      return std::nullopt;
    }
    out.push_back(static_cast<std::uint8_t>(v));
  }
  return out;
}

/** Text from a token or certificate, made safe for a log line: no control characters, bounded. */
std::string printable(std::string_view s, std::size_t max = 256) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (out.size() > max) {
    std::size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
      --cut;  // do not split a UTF-8 sequence
    }
    out.resize(cut);
    out += "...";
  }
  return out;
}

/** A value for a quoted auth-param of RFC 6750 (%x20-21 / %x23-5B / %x5D-7E), bounded. */
std::string challenge_text(std::string_view s) {
  std::string out;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"') {
      out.push_back('\'');
    } else if (c == '\\') {
      out.push_back('/');
    } else if (u < 0x20 || u > 0x7e) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
    if (out.size() >= 200) {
      break;
    }
  }
  return out;
}

std::string challenge() { return "Bearer realm=\"" + std::string(kAuthRealm) + "\""; }

AuthOutcome no_credentials(std::string reason, std::string subject = {}) {
  return AuthOutcome{AuthFailure{401, challenge(), std::move(reason), std::move(subject)}};
}

AuthOutcome invalid_token(std::string reason, std::string subject = {}) {
  std::string header = challenge() + ", error=\"invalid_token\", error_description=\"" + challenge_text(reason) + "\"";
  return AuthOutcome{AuthFailure{401, std::move(header), std::move(reason), std::move(subject)}};
}

// ---- Subject DNs --------------------------------------------------------------------

struct Ava {
  std::string type;
  std::string value;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

/** RFC 2253 section 3 string → RDNs (as written: most specific first). */
Result<std::vector<std::vector<Ava>>> parse_dn(std::string_view dn) {
  std::vector<std::vector<Ava>> rdns(1);
  std::size_t i = 0;
  auto skip_spaces = [&] {
    while (i < dn.size() && dn[i] == ' ') {
      ++i;
    }
  };
  while (true) {
    skip_spaces();
    const std::size_t eq = dn.find('=', i);
    if (eq == std::string_view::npos) {
      return fail(Errc::invalid_argument, "expected TYPE=value (e.g. CN=ehr1,O=Example Hospital,C=JP)");
    }
    Ava ava;
    ava.type = trim(dn.substr(i, eq - i));
    if (ava.type.empty() || !std::all_of(ava.type.begin(), ava.type.end(), is_name_char)) {
      return fail(Errc::invalid_argument, "'" + printable(ava.type, 64) + "' is not an attribute type (CN, O, OU, C, ... or a dotted OID)");
    }
    i = eq + 1;
    skip_spaces();
    if (i < dn.size() && dn[i] == '#') {
      return fail(Errc::invalid_argument, "hex-encoded values (#...) are not supported; write the value as text");
    }
    bool quoted = i < dn.size() && dn[i] == '"';
    if (quoted) {
      ++i;
    }
    std::size_t keep = 0;  // length of value up to its last escaped or non-space character
    char end_char = 0;
    while (i < dn.size()) {
      const char c = dn[i];
      if (quoted && c == '"') {
        ++i;
        quoted = false;
        keep = ava.value.size();
        skip_spaces();
        if (i < dn.size()) {
          end_char = dn[i];
          if (end_char != ',' && end_char != '+' && end_char != ';') {
            return fail(Errc::invalid_argument, "expected ',' or '+' after a quoted value");
          }
          ++i;
        }
        break;
      }
      if (!quoted && (c == ',' || c == '+' || c == ';')) {
        end_char = c;
        ++i;
        break;
      }
      if (c == '\\') {
        if (i + 1 >= dn.size()) {
          return fail(Errc::invalid_argument, "a '\\' at the end");
        }
        const int h1 = hex_digit(dn[i + 1]);
        const int h2 = i + 2 < dn.size() ? hex_digit(dn[i + 2]) : -1;
        if (h1 >= 0 && h2 >= 0) {
          ava.value.push_back(static_cast<char>(h1 * 16 + h2));
          i += 3;
        } else if (std::string_view(",+\"\\<>;=# ").find(dn[i + 1]) != std::string_view::npos) {
          ava.value.push_back(dn[i + 1]);
          i += 2;
        } else {
          return fail(Errc::invalid_argument, "'\\" + printable(dn.substr(i + 1, 1)) + "' is not an RFC 2253 escape");
        }
        keep = ava.value.size();
        continue;
      }
      if (!quoted && c == '"') {
        return fail(Errc::invalid_argument, "a '\"' inside a value must be escaped as \\\"");
      }
      ava.value.push_back(c);
      if (c != ' ') {
        keep = ava.value.size();
      }
      ++i;
    }
    if (quoted) {
      return fail(Errc::invalid_argument, "a quoted value is not closed");
    }
    ava.value.resize(keep);  // unescaped trailing spaces are not part of the value
    if (ava.value.empty()) {
      return fail(Errc::invalid_argument, "attribute " + ava.type + " has an empty value");
    }
    rdns.back().push_back(std::move(ava));
    if (end_char == 0) {
      return rdns;
    }
    if (end_char != '+') {
      rdns.emplace_back();
    }
  }
}

// ---- JWKS ---------------------------------------------------------------------------

std::shared_ptr<EVP_PKEY> share(ossl::EvpPkeyPtr p) { return std::shared_ptr<EVP_PKEY>(p.release(), EVP_PKEY_free); }

Result<ossl::EvpPkeyPtr> pkey_fromdata(const char* type, OSSL_PARAM_BLD* bld, const std::string& where) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, where + ": OpenSSL refuses the key parameters");
  }
  return ossl::EvpPkeyPtr(raw);
}

Result<Bytes> b64_member(const json::Value& k, std::string_view name, const std::string& where) {
  const std::string* s = k.find_string(name);
  if (s == nullptr) {
    return fail(Errc::invalid_argument, where + ": member \"" + std::string(name) + "\" is missing or not a string");
  }
  auto b = base64url_decode(*s);
  if (!b || b->empty()) {
    return fail(Errc::invalid_argument, where + ": member \"" + std::string(name) + "\" is not base64url without padding");
  }
  return std::move(*b);
}

Result<Jwk> rsa_jwk(const json::Value& k, const std::string& where) {
  auto n = b64_member(k, "n", where);
  if (!n) {
    return std::unexpected(n.error());
  }
  auto e = b64_member(k, "e", where);
  if (!e) {
    return std::unexpected(e.error());
  }
  if (n->size() > kMaxRsaBits / 8 + 1 || e->size() > 32) {
    return fail(Errc::invalid_argument, where + ": the RSA key is larger than " + std::to_string(kMaxRsaBits) + " bits");
  }
  ossl::BignumPtr bn_n(BN_bin2bn(n->data(), static_cast<int>(n->size()), nullptr));
  ossl::BignumPtr bn_e(BN_bin2bn(e->data(), static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e) {
    return std::unexpected(openssl_error(Errc::crypto, where + ": cannot read the RSA key"));
  }
  const int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits) {
    return fail(Errc::invalid_argument, where + ": RSA key of " + std::to_string(bits) + " bits; at least " +
                                            std::to_string(kMinRsaBits) + " are required (RFC 7518 section 3.3)");
  }
  if (bits > kMaxRsaBits) {
    return fail(Errc::invalid_argument, where + ": the RSA key is larger than " + std::to_string(kMaxRsaBits) + " bits");
  }
  if (!BN_is_odd(bn_n.get()) || !BN_is_odd(bn_e.get()) || BN_num_bits(bn_e.get()) < 2) {
    return fail(Errc::invalid_argument, where + ": not an RSA public key (n and e must be odd, e > 1)");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, where + ": cannot build the RSA key"));
  }
  auto pkey = pkey_fromdata("RSA", bld.get(), where);
  if (!pkey) {
    return std::unexpected(pkey.error());
  }
  Jwk jwk;
  jwk.type = JwkType::rsa;
  jwk.bits = bits;
  jwk.key = share(std::move(*pkey));
  return jwk;
}

Result<Jwk> ec_jwk(const json::Value& k, const std::string& where) {
  auto x = b64_member(k, "x", where);
  if (!x) {
    return std::unexpected(x.error());
  }
  auto y = b64_member(k, "y", where);
  if (!y) {
    return std::unexpected(y.error());
  }
  if (x->size() != 32 || y->size() != 32) {
    return fail(Errc::invalid_argument, where + ": P-256 coordinates x and y must be 32 bytes each (RFC 7518 section 6.2.1.2)");
  }
  Bytes point{0x04};
  point.insert(point.end(), x->begin(), x->end());
  point.insert(point.end(), y->begin(), y->end());
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, where + ": cannot build the EC key"));
  }
  auto pkey = pkey_fromdata("EC", bld.get(), where);
  const std::string off_curve = where + ": (x, y) is not a point on the P-256 curve";
  if (!pkey) {
    return fail(Errc::invalid_argument, off_curve);
  }
  ossl::EvpPkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey->get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, off_curve);
  }
  Jwk jwk;
  jwk.type = JwkType::ec_p256;
  jwk.bits = 256;
  jwk.key = share(std::move(*pkey));
  return jwk;
}

// ---- JWT ----------------------------------------------------------------------------

std::string_view jwk_type_name(JwkType t) { return t == JwkType::rsa ? "an RSA key" : "an EC P-256 key"; }

/** A description of a refused alg that never echoes unknown header text. */
std::string refused_alg(std::string_view alg) {
  if (alg == "none") {
    return "alg none (an unsigned token) is not accepted; only RS256 and ES256";
  }
  if (alg == "HS256" || alg == "HS384" || alg == "HS512") {
    return "alg " + std::string(alg) + " (a shared-secret MAC) is not accepted; only RS256 and ES256";
  }
  static constexpr std::string_view kKnown[] = {"RS384", "RS512", "PS256", "PS384", "PS512",
                                                "ES384", "ES512", "ES256K", "EdDSA"};
  if (std::find(std::begin(kKnown), std::end(kKnown), alg) != std::end(kKnown)) {
    return "alg " + std::string(alg) + " is not accepted; only RS256 and ES256";
  }
  return "the header alg is not one of RS256, ES256";
}

/** A NumericDate claim (RFC 7519 section 2): a JSON number, seconds since the epoch. */
Result<std::optional<double>> numeric_date(const json::Value& payload, std::string_view name) {
  const json::Value* v = payload.find(name);
  if (v == nullptr) {
    return std::optional<double>{};
  }
  if (!v->is_number()) {
    return fail(Errc::invalid_argument, "claim " + std::string(name) + " is not a number (NumericDate)");
  }
  const std::string& lit = v->as_number().literal;
  double d = 0;
  const auto [ptr, ec] = std::from_chars(lit.data(), lit.data() + lit.size(), d);
  if (ec != std::errc{} || ptr != lit.data() + lit.size() || !std::isfinite(d) || d < 0 || d > kMaxNumericDate) {
    return fail(Errc::invalid_argument, "claim " + std::string(name) + " is not a date between 1970 and 9999");
  }
  return std::optional<double>{d};
}

std::string date_text(double seconds) {
  return format_rfc3339(from_unix(static_cast<std::int64_t>(std::floor(seconds))));
}

bool verify_signature(const Jwk& key, std::string_view signing_input, ByteView sig) {
  Bytes der;
  ByteView to_check = sig;
  if (key.type == JwkType::ec_p256) {
    auto d = signer::ecdsa_raw_to_der(sig);
    if (!d) {
      clear_openssl_errors();
      return false;
    }
    der = std::move(*d);
    to_check = der;
  }
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key.key.get()) == 1;
  if (ok && key.type == JwkType::rsa) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
  }
  ok = ok && EVP_DigestVerify(ctx.get(), to_check.data(), to_check.size(),
                              reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size()) == 1;
  clear_openssl_errors();
  return ok;
}

}  // namespace

// ---- Configuration ------------------------------------------------------------------

bool AuthConfig::accepts_tokens() const {
  return std::any_of(clients.begin(), clients.end(), [](const ClientConfig& c) { return !c.token_subject.empty(); });
}

Result<std::string> normalize_subject_dn(std::string_view dn) {
  if (trim_view(dn).empty()) {
    return fail(Errc::invalid_argument, "empty subject DN");
  }
  if (dn.size() > 4096) {
    return fail(Errc::invalid_argument, "the subject DN is longer than 4096 characters");
  }
  auto rdns = parse_dn(dn);
  if (!rdns) {
    return std::unexpected(rdns.error());
  }
  ossl::X509NamePtr name(X509_NAME_new());
  if (!name) {
    return std::unexpected(openssl_error(Errc::crypto, "cannot allocate a name"));
  }
  // RFC 2253 writes the most specific RDN first; X509_NAME holds them root first.
  for (auto rdn = rdns->rbegin(); rdn != rdns->rend(); ++rdn) {
    bool first = true;
    for (auto ava = rdn->rbegin(); ava != rdn->rend(); ++ava) {
      std::string type = ava->type;
      if (OBJ_txt2nid(type.c_str()) == NID_undef) {
        std::transform(type.begin(), type.end(), type.begin(),
                       [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; });
        if (OBJ_txt2nid(type.c_str()) == NID_undef) {
          ASN1_OBJECT* probe = OBJ_txt2obj(ava->type.c_str(), 1);
          if (probe == nullptr) {
            clear_openssl_errors();
            return fail(Errc::invalid_argument, "'" + printable(ava->type, 64) + "' is not a known attribute type or dotted OID");
          }
          ASN1_OBJECT_free(probe);
          type = ava->type;
        }
      }
      if (X509_NAME_add_entry_by_txt(name.get(), type.c_str(), MBSTRING_UTF8,
                                     reinterpret_cast<const unsigned char*>(ava->value.data()),
                                     static_cast<int>(ava->value.size()), -1, first ? 0 : -1) != 1) {
        clear_openssl_errors();
        return fail(Errc::invalid_argument, "the value of " + ava->type + " is not valid for that attribute (e.g. C needs two letters, CN at most 64 characters)");
      }
      first = false;
    }
  }
  return ossl::name_to_string(name.get());
}

Result<AuthConfig> auth_config_from(const std::map<std::string, std::string>& keys) {
  AuthConfig config;
  std::map<std::string, ClientConfig> clients;
  bool have_issuer = false;
  bool have_audience = false;
  bool have_jwks = false;

  for (const auto& [key, raw] : keys) {
    const std::string value = trim(raw);
    if (key.starts_with(kClientsPrefix)) {
      const std::string_view rest = std::string_view(key).substr(kClientsPrefix.size());
      const std::size_t dot = rest.rfind('.');
      if (dot == std::string_view::npos || dot == 0) {
        return bad_key(key, "expected clients.<id>.<setting> (certSubject, certSha256, tokenSubject, scopes, signers)");
      }
      const std::string id(rest.substr(0, dot));
      const std::string_view field = rest.substr(dot + 1);
      if (!is_name(id)) {
        return bad_key(key, "'" + id + "' is not a client id ([A-Za-z0-9._-]+)");
      }
      ClientConfig& client = clients[id];
      client.id = id;
      if (field == "certSubject") {
        auto dn = normalize_subject_dn(value);
        if (!dn) {
          return bad_key(key, dn.error().message);
        }
        client.cert_subject = std::move(*dn);
      } else if (field == "certSha256") {
        auto fp = parse_fingerprint(value);
        if (!fp) {
          return bad_key(key, "'" + value + "' is not a hex SHA-256 fingerprint (64 hex digits, colons allowed)");
        }
        client.cert_sha256 = std::move(*fp);
      } else if (field == "tokenSubject") {
        if (value.empty()) {
          return bad_key(key, "empty; give the JWT sub of the client");
        }
        if (printable(value, value.size()) != value) {
          return bad_key(key, "contains control characters");
        }
        client.token_subject = value;
      } else if (field == "scopes") {
        auto items = split_list(value);
        if (!items) {
          return bad_key(key, "empty item in the comma-separated list '" + value + "'");
        }
        client.scopes.clear();
        for (const auto& s : *items) {
          if (!is_scope(s)) {
            return bad_key(key, "'" + s + "' is not one of " + std::string(kScopeList));
          }
          if (std::find(client.scopes.begin(), client.scopes.end(), s) == client.scopes.end()) {
            client.scopes.push_back(s);
          }
        }
      } else if (field == "signers") {
        auto items = split_list(value);
        if (!items) {
          return bad_key(key, "empty item in the comma-separated list '" + value + "'");
        }
        client.signers.clear();
        for (const auto& s : *items) {
          if (s == "*") {
            if (items->size() != 1) {
              return bad_key(key, "* (every signer) cannot be combined with aliases");
            }
          } else if (!is_name(s)) {
            return bad_key(key, "'" + s + "' is not a signer alias ([A-Za-z0-9._-]+) or *");
          }
          if (std::find(client.signers.begin(), client.signers.end(), s) == client.signers.end()) {
            client.signers.push_back(s);
          }
        }
      } else {
        return bad_key(key, "unknown client setting '" + std::string(field) +
                                "' (known: certSubject, certSha256, tokenSubject, scopes, signers)");
      }
    } else if (key.starts_with(kAuthPrefix)) {
      if (key == "auth.jwt.issuer" || key == "auth.jwt.audience") {
        if (value.empty()) {
          return bad_key(key, "empty");
        }
        (key == "auth.jwt.issuer" ? config.jwt.issuer : config.jwt.audience) = value;
        (key == "auth.jwt.issuer" ? have_issuer : have_audience) = true;
      } else if (key == "auth.jwt.jwksFile") {
        if (value.empty()) {
          return bad_key(key, "empty; give the path of the issuer's public JWKS file");
        }
        config.jwt.jwks_file = value;
        have_jwks = true;
      } else if (key == "auth.jwt.clockSkewSeconds") {
        long long v = 0;
        if (!parse_int_in(value, 0, 600, v)) {
          return bad_key(key, "'" + value + "' is not an integer from 0 to 600");
        }
        config.jwt.clock_skew = std::chrono::seconds(v);
      } else if (key == "auth.jwt.maxTokenBytes") {
        long long v = 0;
        if (!parse_int_in(value, 512, 65536, v)) {
          return bad_key(key, "'" + value + "' is not an integer from 512 to 65536");
        }
        config.jwt.max_token_bytes = static_cast<std::size_t>(v);
      } else {
        return bad_key(key, "unknown key (known: auth.jwt.issuer, auth.jwt.audience, auth.jwt.jwksFile, "
                            "auth.jwt.clockSkewSeconds, auth.jwt.maxTokenBytes)");
      }
    }
  }

  std::map<std::string, std::string> by_subject;
  std::map<Bytes, std::string> by_fingerprint;
  std::map<std::string, std::string> by_token_subject;
  for (auto& [id, client] : clients) {
    const std::string prefix = "clients." + id + ".";
    if (client.cert_subject.empty() && client.cert_sha256.empty() && client.token_subject.empty()) {
      return bad_key("clients." + id, "the client needs a credential: certSubject, certSha256 or tokenSubject");
    }
    // certSubject alone is ambiguous when two clients share it; with certSha256 the fingerprint decides.
    if (!client.cert_subject.empty() && client.cert_sha256.empty()) {
      if (auto [it, fresh] = by_subject.emplace(client.cert_subject, id); !fresh) {
        return bad_key(prefix + "certSubject", "the same subject is configured for client " + it->second);
      }
    }
    if (!client.cert_sha256.empty()) {
      if (auto [it, fresh] = by_fingerprint.emplace(client.cert_sha256, id); !fresh) {
        return bad_key(prefix + "certSha256", "the same fingerprint is configured for client " + it->second);
      }
    }
    if (!client.token_subject.empty()) {
      if (auto [it, fresh] = by_token_subject.emplace(client.token_subject, id); !fresh) {
        return bad_key(prefix + "tokenSubject", "the same subject is configured for client " + it->second);
      }
    }
    config.clients.push_back(std::move(client));
  }
  if (!by_token_subject.empty()) {
    const std::string& who = by_token_subject.begin()->second;
    const std::string why = "required because client " + who + " has a tokenSubject";
    if (!have_issuer) {
      return bad_key("auth.jwt.issuer", why);
    }
    if (!have_audience) {
      return bad_key("auth.jwt.audience", why);
    }
    if (!have_jwks) {
      return bad_key("auth.jwt.jwksFile", why);
    }
  }
  return config;
}

// ---- JWKS ---------------------------------------------------------------------------

Result<Jwks> Jwks::parse(std::string_view text) {
  if (text.size() > kMaxJwksBytes) {
    return fail(Errc::too_large, "the JWKS is larger than " + std::to_string(kMaxJwksBytes) + " bytes");
  }
  json::ParseLimits limits;
  limits.max_depth = 16;
  limits.max_bytes = kMaxJwksBytes;
  auto doc = json::parse(text, limits);
  if (!doc) {
    return fail(Errc::invalid_argument, "the JWKS is not JSON: " + doc.error().message);
  }
  const json::Value* keys = doc->find("keys");
  if (!doc->is_object() || keys == nullptr || !keys->is_array()) {
    return fail(Errc::invalid_argument, "the JWKS is not an object with a \"keys\" array (RFC 7517 section 5)");
  }
  static constexpr std::string_view kPrivate[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
  Jwks out;
  std::set<std::string> kids;
  for (std::size_t i = 0; i < keys->as_array().size(); ++i) {
    const json::Value& k = keys->as_array()[i];
    std::string where = "JWKS key " + std::to_string(i + 1);
    if (!k.is_object()) {
      return fail(Errc::invalid_argument, where + " is not an object");
    }
    std::string kid;
    if (const json::Value* v = k.find("kid"); v != nullptr) {
      if (!v->is_string()) {
        return fail(Errc::invalid_argument, where + ": kid is not a string");
      }
      kid = v->as_string();
      where += " (kid " + printable(kid, 64) + ")";
    }
    for (std::string_view m : kPrivate) {
      if (k.find(m) != nullptr) {
        return fail(Errc::invalid_argument, where + ": member \"" + std::string(m) +
                                                "\" is private key material; the JWKS must hold public keys only");
      }
    }
    const std::string* kty = k.find_string("kty");
    if (kty == nullptr) {
      return fail(Errc::invalid_argument, where + ": kty is missing or not a string");
    }
    const json::Value* use = k.find("use");
    if (use != nullptr && !use->is_string()) {
      return fail(Errc::invalid_argument, where + ": use is not a string");
    }
    const json::Value* alg_v = k.find("alg");
    if (alg_v != nullptr && !alg_v->is_string()) {
      return fail(Errc::invalid_argument, where + ": alg is not a string");
    }
    const std::string alg = alg_v != nullptr ? alg_v->as_string() : std::string();
    const json::Value* ops = k.find("key_ops");
    bool can_verify = true;
    if (ops != nullptr) {
      if (!ops->is_array()) {
        return fail(Errc::invalid_argument, where + ": key_ops is not an array");
      }
      can_verify = std::any_of(ops->as_array().begin(), ops->as_array().end(),
                               [](const json::Value& o) { return o.is_string() && o.as_string() == "verify"; });
    }
    if (use != nullptr && use->as_string() != "sig") {
      out.m_notes.push_back(where + " skipped: use is '" + printable(use->as_string(), 32) + "', not 'sig'");
      continue;
    }
    if (!can_verify) {
      out.m_notes.push_back(where + " skipped: key_ops does not contain 'verify'");
      continue;
    }
    Result<Jwk> jwk = fail(Errc::internal, "unset");
    if (*kty == "RSA") {
      if (alg == "ES256") {
        return fail(Errc::invalid_argument, where + ": alg ES256 does not fit an RSA key");
      }
      if (!alg.empty() && alg != "RS256") {
        out.m_notes.push_back(where + " skipped: alg " + printable(alg, 32) + " is not used (only RS256 and ES256)");
        continue;
      }
      jwk = rsa_jwk(k, where);
    } else if (*kty == "EC") {
      const std::string* crv = k.find_string("crv");
      if (crv == nullptr) {
        return fail(Errc::invalid_argument, where + ": crv is missing or not a string");
      }
      if (*crv != "P-256") {
        out.m_notes.push_back(where + " skipped: curve " + printable(*crv, 32) + " is not supported (only P-256)");
        continue;
      }
      if (alg == "RS256") {
        return fail(Errc::invalid_argument, where + ": alg RS256 does not fit an EC key");
      }
      if (!alg.empty() && alg != "ES256") {
        out.m_notes.push_back(where + " skipped: alg " + printable(alg, 32) + " is not used (only RS256 and ES256)");
        continue;
      }
      jwk = ec_jwk(k, where);
    } else {
      out.m_notes.push_back(where + " skipped: kty " + printable(*kty, 32) + " is not supported (only RSA and EC)");
      continue;
    }
    if (!jwk) {
      return std::unexpected(jwk.error());
    }
    if (!kid.empty() && !kids.insert(kid).second) {
      return fail(Errc::invalid_argument, where + ": the kid is used by an earlier key");
    }
    jwk->kid = kid;
    jwk->alg = alg;
    out.m_keys.push_back(std::move(*jwk));
  }
  if (out.m_keys.empty()) {
    std::string msg = "the JWKS has no usable key (RSA of at least 2048 bits or EC P-256, for RS256 or ES256)";
    for (const auto& n : out.m_notes) {
      msg += "; " + n;
    }
    return fail(Errc::invalid_argument, msg);
  }
  return out;
}

Result<Jwks> Jwks::load(const std::filesystem::path& path) {
  auto text = read_file(path.string(), kMaxJwksBytes);
  if (!text) {
    return std::unexpected(text.error());
  }
  auto jwks = parse(*text);
  if (!jwks) {
    return fail(jwks.error().code, path.string() + ": " + jwks.error().message);
  }
  return jwks;
}

// ---- JWT ----------------------------------------------------------------------------

Result<JwtClaims> verify_jwt(std::string_view token, const Jwks& jwks, const JwtSettings& settings, TimePoint now) {
  auto refuse = [](std::string msg) { return fail(Errc::invalid_argument, std::move(msg)); };
  if (token.size() > settings.max_token_bytes) {
    return fail(Errc::too_large, "the token is longer than " + std::to_string(settings.max_token_bytes) + " bytes");
  }
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    const auto parts = std::count(token.begin(), token.end(), '.') + 1;
    if (parts == 5) {
      return refuse("an encrypted token (JWE, five parts) is not accepted; a JWT is a JWS of three parts");
    }
    return refuse("a JWT has three base64url parts separated by '.', this token has " + std::to_string(parts));
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view sig_b64 = token.substr(dot2 + 1);

  auto header_bytes = base64url_decode(header_b64);
  if (!header_bytes || header_bytes->empty()) {
    return refuse("the header is not base64url without padding");
  }
  json::ParseLimits limits;
  limits.max_depth = 8;
  limits.max_bytes = settings.max_token_bytes;
  auto header = json::parse(to_string(*header_bytes), limits);
  if (!header || !header->is_object()) {
    return refuse("the header is not a JSON object");
  }
  const json::Value* alg_v = header->find("alg");
  if (alg_v == nullptr || !alg_v->is_string()) {
    return refuse("the header has no alg");
  }
  const std::string& alg = alg_v->as_string();
  if (alg != "RS256" && alg != "ES256") {
    return refuse(refused_alg(alg));
  }
  if (header->find("crit") != nullptr) {
    return refuse("the header has crit; no critical extension is supported (RFC 7515 section 4.1.11)");
  }
  const JwkType want = alg == "RS256" ? JwkType::rsa : JwkType::ec_p256;
  const Jwk* key = nullptr;
  if (const json::Value* kid_v = header->find("kid"); kid_v != nullptr) {
    if (!kid_v->is_string()) {
      return refuse("the header kid is not a string");
    }
    for (const auto& k : jwks.keys()) {
      if (!k.kid.empty() && k.kid == kid_v->as_string()) {
        key = &k;
        break;
      }
    }
    if (key == nullptr) {
      return refuse("no key of the JWKS has the token's kid");
    }
    if (key->type != want) {
      return refuse("the token's kid names " + std::string(jwk_type_name(key->type)) + ", which cannot verify " + alg);
    }
    if (!key->alg.empty() && key->alg != alg) {
      return refuse("the token's kid names a key for " + key->alg + ", not " + alg);
    }
  } else {
    std::size_t count = 0;
    for (const auto& k : jwks.keys()) {
      if (k.type == want && (k.alg.empty() || k.alg == alg)) {
        key = &k;
        ++count;
      }
    }
    if (count == 0) {
      return refuse("the JWKS has no key for " + alg);
    }
    if (count > 1) {
      return refuse("the token has no kid and the JWKS has several keys for " + alg);
    }
  }

  auto payload_bytes = base64url_decode(payload_b64);
  if (!payload_bytes || payload_bytes->empty()) {
    return refuse("the payload is not base64url without padding");
  }
  auto signature = base64url_decode(sig_b64);
  if (!signature || signature->empty()) {
    return refuse("the signature is not base64url without padding");
  }
  if (key->type == JwkType::ec_p256 && signature->size() != 64) {
    return refuse("an ES256 signature is 64 bytes (R||S, RFC 7518 section 3.4), this one has " +
                  std::to_string(signature->size()));
  }
  if (key->type == JwkType::rsa && signature->size() != static_cast<std::size_t>(EVP_PKEY_get_size(key->key.get()))) {
    return refuse("the RS256 signature does not have the length of the key's modulus");
  }
  if (!verify_signature(*key, token.substr(0, dot2), *signature)) {
    return refuse("the signature does not verify");
  }

  auto payload = json::parse(to_string(*payload_bytes), limits);
  if (!payload || !payload->is_object()) {
    return refuse("the payload is not a JSON object");
  }
  const std::string* iss = payload->find_string("iss");
  if (iss == nullptr) {
    return refuse("claim iss is missing or not a string");
  }
  if (*iss != settings.issuer) {
    return refuse("claim iss is not the configured issuer");
  }
  const json::Value* aud = payload->find("aud");
  if (aud == nullptr) {
    return refuse("claim aud is missing");
  }
  bool aud_ok = false;
  if (aud->is_string()) {
    aud_ok = aud->as_string() == settings.audience;
  } else if (aud->is_array()) {
    for (const auto& a : aud->as_array()) {
      if (!a.is_string()) {
        return refuse("claim aud is an array with a member that is not a string");
      }
      aud_ok = aud_ok || a.as_string() == settings.audience;
    }
  } else {
    return refuse("claim aud is neither a string nor an array");
  }
  if (!aud_ok) {
    return refuse("claim aud does not contain the configured audience");
  }

  const double now_s = std::chrono::duration<double>(now.time_since_epoch()).count();
  const double skew = static_cast<double>(settings.clock_skew.count());
  auto exp = numeric_date(*payload, "exp");
  if (!exp) {
    return std::unexpected(exp.error());
  }
  if (!exp->has_value()) {
    return refuse("claim exp is missing");
  }
  if (now_s >= **exp + skew) {
    return refuse("the token expired at " + date_text(**exp));
  }
  auto nbf = numeric_date(*payload, "nbf");
  if (!nbf) {
    return std::unexpected(nbf.error());
  }
  if (nbf->has_value() && now_s < **nbf - skew) {
    return refuse("the token is not valid before " + date_text(**nbf) + " (nbf)");
  }
  auto iat = numeric_date(*payload, "iat");
  if (!iat) {
    return std::unexpected(iat.error());
  }
  if (iat->has_value() && **iat > now_s + skew) {
    return refuse("the token was issued in the future (iat " + date_text(**iat) + ")");
  }
  const std::string* sub = payload->find_string("sub");
  if (sub == nullptr || sub->empty()) {
    return refuse("claim sub is missing or not a non-empty string");
  }

  JwtClaims claims;
  claims.subject = *sub;
  claims.issuer = *iss;
  claims.alg = alg;
  claims.kid = key->kid;
  claims.expires = from_unix(static_cast<std::int64_t>(std::floor(**exp)));
  return claims;
}

// ---- Authentication -----------------------------------------------------------------

Result<Authenticator> Authenticator::create(AuthConfig config) {
  if (!config.accepts_tokens()) {
    return Authenticator(std::move(config), Jwks{});
  }
  auto jwks = Jwks::load(config.jwt.jwks_file);
  if (!jwks) {
    return fail(jwks.error().code, "configuration key auth.jwt.jwksFile: " + jwks.error().message);
  }
  return create(std::move(config), std::move(*jwks));
}

Result<Authenticator> Authenticator::create(AuthConfig config, Jwks jwks) {
  if (config.accepts_tokens() && jwks.keys().empty()) {
    return fail(Errc::invalid_argument, "configuration key auth.jwt.jwksFile: the JWKS has no usable key");
  }
  return Authenticator(std::move(config), std::move(jwks));
}

AuthOutcome Authenticator::authenticate(const AuthRequest& request, TimePoint now) const {
  const std::string_view authorization = trim_view(request.authorization);
  if (!authorization.empty()) {
    const std::size_t sp = authorization.find_first_of(" \t");
    const std::string_view scheme = authorization.substr(0, sp);
    if (!iequals(scheme, "Bearer")) {
      return no_credentials("the Authorization header does not use the Bearer scheme");
    }
    const std::string_view token = sp == std::string_view::npos ? std::string_view() : trim_view(authorization.substr(sp));
    if (token.empty()) {
      return invalid_token("the Bearer token is empty");
    }
    return from_token(token, now);
  }
  if (request.peer_certificate != nullptr) {
    return from_certificate(request.peer_certificate);
  }
  return no_credentials("no credentials");
}

AuthOutcome Authenticator::from_token(std::string_view token, TimePoint now) const {
  if (!m_config.accepts_tokens()) {
    return invalid_token("bearer tokens are not accepted (no client has a tokenSubject)");
  }
  auto claims = verify_jwt(token, m_jwks, m_config.jwt, now);
  if (!claims) {
    return invalid_token(claims.error().message);
  }
  for (const auto& c : m_config.clients) {
    if (!c.token_subject.empty() && c.token_subject == claims->subject) {
      return AuthOutcome{Principal{c.id, claims->subject, std::string(kMethodBearerJwt), c.scopes, c.signers}};
    }
  }
  return invalid_token("the token's subject is not a configured client", printable(claims->subject));
}

AuthOutcome Authenticator::from_certificate(const X509* cert) const {
  const Bytes fingerprint = ossl::cert_sha256(cert);
  const std::string subject = ossl::name_to_string(X509_get_subject_name(cert));
  // A fingerprint pins one certificate: it decides before any subject match.
  for (const auto& c : m_config.clients) {
    if (!c.cert_sha256.empty() && ct_equal(c.cert_sha256, fingerprint) &&
        (c.cert_subject.empty() || c.cert_subject == subject)) {
      return AuthOutcome{Principal{c.id, subject, std::string(kMethodTlsClientCertificate), c.scopes, c.signers}};
    }
  }
  for (const auto& c : m_config.clients) {
    if (c.cert_sha256.empty() && !c.cert_subject.empty() && c.cert_subject == subject) {
      return AuthOutcome{Principal{c.id, subject, std::string(kMethodTlsClientCertificate), c.scopes, c.signers}};
    }
  }
  return no_credentials("the client certificate is not configured for any client", printable(subject));
}

std::string insufficient_scope_challenge(std::string_view scope) {
  return challenge() + ", error=\"insufficient_scope\", scope=\"" + challenge_text(scope) + "\"";
}

// ---- Authorization ------------------------------------------------------------------

std::vector<AccessRule> access_rules(bool metrics_protected) {
  return {
      {"GET", "/healthz", true, ""},
      {"GET", "/openapi.json", true, ""},
      metrics_protected ? AccessRule{"GET", "/metrics", false, kScopeAdmin} : AccessRule{"GET", "/metrics", true, ""},
      {"POST", "/v1/sign", false, kScopeSign},
      {"POST", "/v1/sign/prepare", false, kScopeSign},
      {"POST", "/v1/sign/complete", false, kScopeSign},
      {"POST", "/v1/extend", false, kScopeSign},
      {"GET", "/v1/signers", false, kScopeSign},
      {"POST", "/v1/verify", false, kScopeVerify},
      {"GET", "/v1/archive", false, kScopeArchiveRead},
      {"GET", "/v1/archive/*", false, kScopeArchiveRead},
      {"*", "/v1/archive", false, kScopeArchiveWrite},
      {"*", "/v1/archive/*", false, kScopeArchiveWrite},
      {"*", "/v1/trust", false, kScopeAdmin},
      {"*", "/v1/trust/*", false, kScopeAdmin},
      {"*", "/v1/registry", false, kScopeAdmin},
      {"*", "/v1/registry/*", false, kScopeAdmin},
      {"*", "/v1/keys", false, kScopeAdmin},
      {"*", "/v1/keys/*", false, kScopeAdmin},
      {"*", "/v1/admin", false, kScopeAdmin},
      {"*", "/v1/admin/*", false, kScopeAdmin},
      {"*", "*", false, ""},
  };
}

namespace {

bool canonical_path(std::string_view path) {
  if (path.empty() || path.front() != '/') {
    return false;
  }
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '\\') {
      return false;
    }
  }
  if (path == "/") {
    return true;
  }
  std::size_t pos = 1;
  while (true) {
    const std::size_t slash = path.find('/', pos);
    const std::string_view seg = path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (seg.empty() || seg == "." || seg == "..") {
      return false;
    }
    if (slash == std::string_view::npos) {
      return true;
    }
    pos = slash + 1;
  }
}

bool pattern_matches(std::string_view pattern, std::string_view path) {
  if (pattern == "*") {
    return true;
  }
  if (pattern.ends_with("/*")) {
    const std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the '/'
    return path.size() > prefix.size() && path.starts_with(prefix);
  }
  return path == pattern;
}

}  // namespace

RouteAccess route_access(std::string_view method, std::string_view path, bool metrics_protected) {
  if (const std::size_t q = path.find('?'); q != std::string_view::npos) {
    path = path.substr(0, q);
  }
  if (!canonical_path(path)) {
    return RouteAccess{false, {}, false};
  }
  if (method == "HEAD") {
    method = "GET";
  }
  for (const auto& rule : access_rules(metrics_protected)) {
    if ((rule.method == "*" || rule.method == method) && pattern_matches(rule.pattern, path)) {
      return RouteAccess{rule.is_public, rule.scope, true};
    }
  }
  return RouteAccess{false, {}, true};  // not reached: the table ends with ("*", "*")
}

bool has_scope(const Principal& principal, std::string_view scope) {
  return std::find(principal.scopes.begin(), principal.scopes.end(), scope) != principal.scopes.end();
}

bool may_use_signer(const Principal& principal, std::string_view alias) {
  return std::any_of(principal.signers.begin(), principal.signers.end(),
                     [&](const std::string& s) { return s == "*" || s == alias; });
}

}  // namespace hanko::server
