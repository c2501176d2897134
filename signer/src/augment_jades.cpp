// JAdES (ETSI TS 119 182-1) long-term parts: reading sigTst / xVals / rVals /
// tstVD / arcTst from the etsiU unprotected header, and adding them to an
// existing signature (hanko/signer/augment.h; docs/formats.md section 10).
#include <openssl/evp.h>
#include <openssl/ocsp.h>

#include <algorithm>

#include "augment_internal.h"
#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/common/json.h"
#include "hanko/common/ossl.h"
#include "hanko/signer/augment.h"
#include "hanko/signer/bundle.h"
#include "hanko/signer/canonical.h"
#include "hanko/signer/signing_key.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "hanko/tsa_client/token.h"

namespace hanko::signer {

namespace {

constexpr std::string_view kDerEncoding = "http://uri.etsi.org/19182/DER";

/** A JWS with its etsiU items as transported. */
struct RawJws {
  json::Value object;  ///< the flattened JSON serialization (null for the compact form)
  std::string protected_b64;
  std::string signature_b64;
  std::vector<std::string> raw_items;  ///< base64url items as transported (empty strings for clear JSON items)
  std::vector<json::Value> items;      ///< decoded items (JSON objects)
  bool clear_json = false;             ///< the items are clear JSON objects, not base64url
};

bool is_b64url_text(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
  });
}

Result<RawJws> parse_raw(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  RawJws out;
  if (!text.empty() && text.front() == '{') {
    auto v = json::parse(text, {.max_depth = 32, .max_bytes = 64u << 20});
    if (!v || !v->is_object()) {
      return fail(Errc::invalid_argument, "the JWS JSON serialization is not a JSON object");
    }
    if (v->find("signatures") != nullptr) {
      return fail(Errc::unsupported, "the general JWS JSON serialization (several signatures) is not supported");
    }
    const std::string* p = v->find_string("protected");
    const std::string* s = v->find_string("signature");
    if (p == nullptr || s == nullptr) {
      return fail(Errc::invalid_argument, "the JWS has no protected header or no signature");
    }
    if (const std::string* pl = v->find_string("payload"); pl != nullptr && !pl->empty()) {
      return fail(Errc::invalid_argument, "the JWS carries a payload; a FHIR signature is detached");
    }
    out.protected_b64 = *p;
    out.signature_b64 = *s;
    if (const json::Value* h = v->find("header")) {
      if (!h->is_object()) {
        return fail(Errc::invalid_argument, "the JWS unprotected header is not an object");
      }
      for (const auto& [name, value] : h->as_object()) {
        if (name != "etsiU") {
          return fail(Errc::invalid_argument, "JAdES allows only etsiU in the unprotected header, found " + name);
        }
        if (!value.is_array()) {
          return fail(Errc::invalid_argument, "etsiU is not an array");
        }
        bool strings = false;
        bool objects = false;
        for (const auto& item : value.as_array()) {
          if (item.is_string()) {
            strings = true;
            if (!is_b64url_text(item.as_string())) {
              return fail(Errc::invalid_argument, "an etsiU item is not base64url");
            }
            auto raw = base64url_decode(item.as_string());
            auto decoded = raw ? json::parse(to_string(*raw), {.max_depth = 32, .max_bytes = 64u << 20})
                               : Result<json::Value>(fail(Errc::invalid_argument, "not base64url"));
            if (!decoded || !decoded->is_object()) {
              return fail(Errc::invalid_argument, "an etsiU item is not the base64url of a JSON object");
            }
            out.raw_items.push_back(item.as_string());
            out.items.push_back(std::move(*decoded));
          } else if (item.is_object()) {
            objects = true;
            out.raw_items.emplace_back();
            out.items.push_back(item);
          } else {
            return fail(Errc::invalid_argument, "an etsiU item is neither base64url nor an object");
          }
        }
        if (strings && objects) {
          return fail(Errc::invalid_argument,
                      "etsiU mixes base64url and clear JSON items (TS 119 182-1 clause 5.3.1: all one or the other)");
        }
        out.clear_json = objects;
      }
    }
    out.object = std::move(*v);
  } else {
    const auto d1 = text.find('.');
    const auto d2 = d1 == std::string_view::npos ? d1 : text.find('.', d1 + 1);
    if (d1 == std::string_view::npos || d2 == std::string_view::npos ||
        text.find('.', d2 + 1) != std::string_view::npos) {
      return fail(Errc::invalid_argument, "the JWS is neither a compact serialization nor a JSON object");
    }
    if (d2 != d1 + 1) {
      return fail(Errc::invalid_argument, "the JWS carries a payload; a FHIR signature is detached");
    }
    out.protected_b64 = std::string(text.substr(0, d1));
    out.signature_b64 = std::string(text.substr(d2 + 1));
  }
  if (out.protected_b64.empty() || out.signature_b64.empty() || !is_b64url_text(out.protected_b64) ||
      !is_b64url_text(out.signature_b64)) {
    return fail(Errc::invalid_argument, "the JWS parts are not base64url");
  }
  return out;
}

/** TS 119 182-1 pkiOb: {"val": base64 DER, "encoding"?: "http://uri.etsi.org/19182/DER"}. */
Result<Bytes> pki_ob(const json::Value& v, std::string_view what) {
  const std::string* val = v.is_object() ? v.find_string("val") : nullptr;
  if (val == nullptr) {
    return fail(Errc::invalid_argument, std::string(what) + " is not a pkiOb object with a val string");
  }
  if (const json::Value* enc = v.find("encoding")) {
    if (!enc->is_string() || enc->as_string() != kDerEncoding) {
      return fail(Errc::invalid_argument, std::string(what) + " has an encoding other than DER");
    }
  }
  auto der = base64_decode(*val);
  if (!der || der->empty()) {
    return fail(Errc::invalid_argument, std::string(what) + " val is not base64");
  }
  return std::move(*der);
}

bool ocsp_response_parses(ByteView der) {
  const unsigned char* p = der.data();
  ossl::OcspResponsePtr r(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  const bool ok = r && p == der.data() + der.size();
  clear_openssl_errors();
  return ok;
}

/** xVals: [{"x509Cert": pkiOb} | {"otherCert": ...}]. */
Result<void> read_xvals(const json::Value& v, EmbeddedValues& out, std::vector<std::string>& ignored) {
  if (!v.is_array()) {
    return fail(Errc::invalid_argument, "xVals is not an array");
  }
  for (const auto& e : v.as_array()) {
    if (const json::Value* c = e.find("x509Cert")) {
      auto der = pki_ob(*c, "an xVals x509Cert");
      if (!der) {
        return std::unexpected(der.error());
      }
      if (!ossl::x509_from_der(*der)) {
        clear_openssl_errors();
        return fail(Errc::invalid_argument, "an xVals x509Cert is not a DER certificate");
      }
      out.certificates.push_back(std::move(*der));
    } else if (e.find("otherCert") != nullptr) {
      ignored.push_back("xVals otherCert (not processed)");
    } else {
      return fail(Errc::invalid_argument, "an xVals entry is neither x509Cert nor otherCert");
    }
  }
  return {};
}

/** rVals: {"crlVals": [pkiOb], "ocspVals": [pkiOb], "otherVals"?}. */
Result<void> read_rvals(const json::Value& v, EmbeddedValues& out, std::vector<std::string>& ignored) {
  if (!v.is_object()) {
    return fail(Errc::invalid_argument, "rVals is not an object");
  }
  for (const auto& [name, list] : v.as_object()) {
    if (name == "otherVals") {
      ignored.push_back("rVals otherVals (not processed)");
      continue;
    }
    if (name != "crlVals" && name != "ocspVals") {
      return fail(Errc::invalid_argument, "rVals holds an unknown member " + name);
    }
    if (!list.is_array()) {
      return fail(Errc::invalid_argument, "rVals " + name + " is not an array");
    }
    for (const auto& e : list.as_array()) {
      auto der = pki_ob(e, "an rVals " + name + " entry");
      if (!der) {
        return std::unexpected(der.error());
      }
      if (name == "crlVals") {
        if (!ossl::x509_crl_from_der(*der)) {
          clear_openssl_errors();
          return fail(Errc::invalid_argument, "an rVals crlVals entry is not a DER CRL");
        }
        out.crls.push_back(std::move(*der));
      } else {
        if (!ocsp_response_parses(*der)) {
          return fail(Errc::invalid_argument, "an rVals ocspVals entry is not a DER OCSPResponse");
        }
        out.ocsp_responses.push_back(std::move(*der));
      }
    }
  }
  return {};
}

/** A tstContainer {"tstTokens": [{"val": base64}], "canonAlg"?} with exactly one token. */
Result<Bytes> one_token(const json::Value& container, std::string_view what) {
  const json::Value* tokens = container.is_object() ? container.find("tstTokens") : nullptr;
  if (tokens == nullptr || !tokens->is_array() || tokens->as_array().size() != 1) {
    return fail(Errc::invalid_argument, std::string(what) + " must hold exactly one token (tstTokens)");
  }
  const json::Value& t = tokens->as_array().front();
  const std::string* val = t.find_string("val");
  if (val == nullptr) {
    return fail(Errc::invalid_argument, std::string(what) + " token has no val");
  }
  if (const json::Value* enc = t.find("encoding")) {
    if (!enc->is_string() || enc->as_string() != kDerEncoding) {
      return fail(Errc::invalid_argument, std::string(what) + " token has an encoding other than DER");
    }
  }
  auto der = base64_decode(*val);
  if (!der || der->empty()) {
    return fail(Errc::invalid_argument, std::string(what) + " token is not base64");
  }
  return std::move(*der);
}

/** TS 119 182-1 clause 5.3.6.3: the message-imprint input of an archive timestamp placed after `items`. */
std::string archive_input(std::string_view document, const RawJws& jws, std::size_t items) {
  std::string out = base64url_encode(as_bytes(document));
  out += '.';
  out += jws.protected_b64;
  out += '.';
  out += jws.signature_b64;
  out += '.';
  for (std::size_t i = 0; i < items && i < jws.raw_items.size(); ++i) {
    out += jws.raw_items[i];
  }
  return out;
}

Result<LongTermView> read_view(const RawJws& jws, std::string_view document) {
  LongTermView view;
  view.property_count = jws.items.size();
  bool has_sig_tst = false;
  bool has_values = false;
  bool has_arc_tst = false;
  for (std::size_t i = 0; i < jws.items.size(); ++i) {
    const json::Value& item = jws.items[i];
    if (!item.is_object() || item.as_object().size() != 1) {
      return fail(Errc::invalid_argument, "an etsiU item must be a JSON object with exactly one member");
    }
    const auto& [name, value] = item.as_object().front();
    if (name == "sigTst") {
      auto token = one_token(value, "sigTst");
      if (!token) {
        return std::unexpected(token.error());
      }
      view.timestamps.push_back(EmbeddedTimestamp{EmbeddedTimestamp::Kind::signature, std::move(*token), jws.signature_b64, i});
      has_sig_tst = true;
    } else if (name == "arcTst") {
      // Current TS 119 182-1: arcTst is a tstContainer; early drafts wrapped it:
      // {"tstContainer": {...}, "timeStamped": "all"}.
      const json::Value* container = &value;
      if (const json::Value* wrapped = value.find("tstContainer")) {
        if (const json::Value* ts = value.find("timeStamped"); ts != nullptr && !(ts->is_string() && ts->as_string() == "all")) {
          return fail(Errc::unsupported, "arcTst timeStamped other than \"all\" is not supported");
        }
        container = wrapped;
      }
      auto token = one_token(*container, "arcTst");
      if (!token) {
        return std::unexpected(token.error());
      }
      if (jws.clear_json) {
        return fail(Errc::unsupported,
                    "an arcTst over clear-JSON etsiU items needs canonAlg canonicalization, which hanko does not implement");
      }
      view.timestamps.push_back(
          EmbeddedTimestamp{EmbeddedTimestamp::Kind::archive, std::move(*token), archive_input(document, jws, i), i});
      has_arc_tst = true;
    } else if (name == "xVals" || name == "rVals" || name == "tstVD") {
      EmbeddedValues ev;
      ev.position = i;
      ev.kind = name == "tstVD" ? EmbeddedValues::Kind::timestamp : EmbeddedValues::Kind::signature;
      Result<void> ok;
      if (name == "xVals") {
        ok = read_xvals(value, ev, view.ignored);
      } else if (name == "rVals") {
        ok = read_rvals(value, ev, view.ignored);
      } else {
        if (!value.is_object()) {
          return fail(Errc::invalid_argument, "tstVD is not an object");
        }
        for (const auto& [m, mv] : value.as_object()) {
          if (m == "xVals") {
            ok = read_xvals(mv, ev, view.ignored);
          } else if (m == "rVals") {
            ok = read_rvals(mv, ev, view.ignored);
          } else {
            return fail(Errc::invalid_argument, "tstVD holds an unknown member " + m);
          }
          if (!ok) {
            break;
          }
        }
      }
      if (!ok) {
        return std::unexpected(ok.error());
      }
      view.values.push_back(std::move(ev));
      has_values = has_values || name != "tstVD";
    } else {
      view.ignored.push_back("etsiU item " + name + " (not processed)");
    }
  }
  view.level = has_arc_tst  ? SignatureLevel::B_LTA
               : has_values ? SignatureLevel::B_LT
               : has_sig_tst ? SignatureLevel::B_T
                             : SignatureLevel::B_B;
  return view;
}

/** Verifies the JWS signature value over the #document bytes with x5c[0] (RS256 / ES256). */
Result<std::vector<ossl::X509Ptr>> verify_value(const RawJws& jws, std::string_view document) {
  auto hraw = base64url_decode(jws.protected_b64);
  auto header = hraw ? json::parse(to_string(*hraw), {.max_depth = 32, .max_bytes = 4u << 20})
                     : Result<json::Value>(fail(Errc::invalid_argument, "not base64url"));
  if (!header || !header->is_object()) {
    return fail(Errc::invalid_argument, "the JWS protected header is not base64url JSON");
  }
  const std::string* alg_name = header->find_string("alg");
  auto alg = alg_name != nullptr ? jws_alg_from_name(*alg_name) : std::nullopt;
  if (!alg) {
    return fail(Errc::invalid_argument, "the JWS alg is not RS256 or ES256");
  }
  const json::Value* x5c = header->find("x5c");
  if (x5c == nullptr || !x5c->is_array() || x5c->as_array().empty() || x5c->as_array().size() > 10) {
    return fail(Errc::invalid_argument, "the JWS header has no usable x5c");
  }
  std::vector<ossl::X509Ptr> certs;
  for (const auto& c : x5c->as_array()) {
    auto der = c.is_string() ? base64_decode(c.as_string()) : std::nullopt;
    ossl::X509Ptr cert = der ? ossl::x509_from_der(*der) : nullptr;
    if (!cert) {
      return fail(Errc::invalid_argument, "an x5c entry is not a base64 DER certificate");
    }
    certs.push_back(std::move(cert));
  }
  if (const std::string* t = header->find_string("x5t#S256")) {
    auto want = base64url_decode(*t);
    if (!want || !ct_equal(*want, ossl::cert_sha256(certs.front().get()))) {
      return fail(Errc::invalid_argument, "x5t#S256 does not match the first x5c certificate");
    }
  }
  auto sig = base64url_decode(jws.signature_b64);
  if (!sig || sig->empty()) {
    return fail(Errc::invalid_argument, "the JWS signature is not base64url");
  }
  Bytes value = std::move(*sig);
  EVP_PKEY* pub = X509_get0_pubkey(certs.front().get());
  const int id = pub != nullptr ? EVP_PKEY_get_base_id(pub) : 0;
  if ((*alg == JwsAlg::RS256 && id != EVP_PKEY_RSA) || (*alg == JwsAlg::ES256 && id != EVP_PKEY_EC)) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, "the JWS alg does not match the key of x5c[0]");
  }
  if (*alg == JwsAlg::ES256) {
    auto der = value.size() == 64 ? ecdsa_raw_to_der(value) : Result<Bytes>(fail(Errc::invalid_argument, "size"));
    if (!der) {
      return fail(Errc::invalid_argument, "an ES256 signature value is 64 bytes (R||S)");
    }
    value = std::move(*der);
  }
  const std::string input = signing_input(jws.protected_b64, document);
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pub) == 1 &&
                  EVP_DigestVerify(ctx.get(), value.data(), value.size(),
                                   reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  clear_openssl_errors();
  if (!ok) {
    return fail(Errc::invalid_argument,
                "the signature does not verify over the #document bytes: the Bundle or the signature was changed "
                "after signing; it is not extended");
  }
  return certs;
}

json::Value pki(ByteView der) { return json::Value(json::Object{{"val", json::Value(base64_encode(der))}}); }

json::Value xvals_json(const std::vector<Bytes>& certs) {
  json::Array a;
  for (const auto& c : certs) {
    a.emplace_back(json::Object{{"x509Cert", pki(c)}});
  }
  return json::Value(std::move(a));
}

json::Value rvals_json(const std::vector<Bytes>& crls, const std::vector<Bytes>& ocsps) {
  json::Object o;
  if (!crls.empty()) {
    json::Array a;
    for (const auto& c : crls) {
      a.push_back(pki(c));
    }
    o.emplace_back("crlVals", json::Value(std::move(a)));
  }
  if (!ocsps.empty()) {
    json::Array a;
    for (const auto& c : ocsps) {
      a.push_back(pki(c));
    }
    o.emplace_back("ocspVals", json::Value(std::move(a)));
  }
  return json::Value(std::move(o));
}

json::Value tst_container(ByteView token) {
  return json::Value(json::Object{{"tstTokens", json::Value(json::Array{pki(token)})}});
}

/** Appends one base64url etsiU item {name: value}. */
void append_item(RawJws& jws, std::string name, json::Value value) {
  json::Object item;
  item.emplace_back(std::move(name), std::move(value));
  json::Value v(std::move(item));
  jws.raw_items.push_back(base64url_encode(as_bytes(json::serialize(v))));
  jws.items.push_back(std::move(v));
}

std::string serialize_jws(const RawJws& jws) {
  json::Array items;
  for (const auto& s : jws.raw_items) {
    items.emplace_back(s);
  }
  json::Value header(json::Object{{"etsiU", json::Value(std::move(items))}});
  if (jws.object.is_object()) {
    json::Value out = jws.object;
    if (out.find("header") != nullptr) {
      out.set("header", std::move(header));
    } else {
      // Keep the usual member order: protected, header, signature.
      json::Object o;
      for (auto& m : out.as_object()) {
        if (m.first == "signature") {
          o.emplace_back("header", header);
        }
        o.push_back(m);
      }
      out = json::Value(std::move(o));
    }
    return json::serialize(out);
  }
  json::Object o;
  o.emplace_back("protected", json::Value(jws.protected_b64));
  o.emplace_back("header", std::move(header));
  o.emplace_back("signature", json::Value(jws.signature_b64));
  return json::serialize(json::Value(std::move(o)));
}

void count(ExtendedBundle& stats, const detail::Collected& c) {
  stats.certificates_added += c.certificates.size();
  stats.crls_added += c.crls.size();
  stats.ocsp_responses_added += c.ocsp_responses.size();
  for (const auto& n : c.notes) {
    stats.notes.push_back(n);
  }
}

/** The certificates already in the signature: x5c and every embedded value. */
std::vector<Bytes> present_certificates(const std::vector<ossl::X509Ptr>& x5c, const LongTermView& view) {
  std::vector<Bytes> out;
  for (const auto& c : x5c) {
    out.push_back(ossl::x509_to_der(c.get()));
  }
  for (const auto& v : view.values) {
    out.insert(out.end(), v.certificates.begin(), v.certificates.end());
  }
  return out;
}

Result<Bytes> stamp(const ExtendContext& ctx, std::string_view data, DigestAlg alg, const char* what,
                    ExtendedBundle& stats) {
  if (ctx.tsa == nullptr) {
    return fail(Errc::invalid_argument, std::string(what) + " needs a timestamp source");
  }
  auto token = ctx.tsa->timestamp(as_bytes(data), alg);
  if (!token) {
    return std::unexpected(token.error());
  }
  if (auto ok = detail::check_new_token(ctx, *token, data, what); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto t = detail::token_time(*token)) {
    stats.timestamps_added.push_back(*t);
    stats.notes.push_back(std::string(what) + " from " + ctx.tsa->describe() + ", genTime " + format_rfc3339(*t) +
                          ", " + std::string(digest_name(alg)));
  }
  return token;
}

}  // namespace

Result<LongTermView> read_jades_long_term(std::string_view jws, std::string_view document) {
  auto raw = parse_raw(jws);
  if (!raw) {
    return std::unexpected(raw.error());
  }
  return read_view(*raw, document);
}

namespace {

/** Raises one JWS; returns the new JWS text (the input when nothing was added). */
Result<std::string> extend_jws(std::string_view text, std::string_view document, ExtendLevel target,
                               const ExtendContext& ctx, ExtendedBundle& stats) {
  auto parsed = parse_raw(text);
  if (!parsed) {
    return std::unexpected(parsed.error());
  }
  RawJws jws = std::move(*parsed);
  auto view = read_view(jws, document);
  if (!view) {
    return std::unexpected(view.error());
  }
  stats.before = stats.after = view->level;
  if (detail::satisfies(view->level, target)) {
    return std::string(text);
  }
  if (jws.clear_json) {
    return fail(Errc::unsupported, "the etsiU items are clear JSON; hanko extends only base64url etsiU items");
  }
  auto x5c = verify_value(jws, document);
  if (!x5c) {
    return std::unexpected(x5c.error());
  }
  SignatureLevel level = view->level;
  std::vector<Bytes> sig_tokens;
  for (const auto& t : view->timestamps) {
    if (t.kind == EmbeddedTimestamp::Kind::signature) {
      sig_tokens.push_back(t.token);
    }
  }
  // B-T: a signature timestamp over the ASCII base64url signature value (TS 119 182-1 clause 5.3.4).
  if (level == SignatureLevel::B_B) {
    auto token = stamp(ctx, jws.signature_b64, DigestAlg::sha256, "signature timestamp (sigTst)", stats);
    if (!token) {
      return std::unexpected(token.error());
    }
    append_item(jws, "sigTst", tst_container(*token));
    sig_tokens.push_back(std::move(*token));
    level = SignatureLevel::B_T;
  }
  // B-LT: xVals and rVals for the signer's chain and every signature timestamp's TSA chain.
  if (target != ExtendLevel::B_T && level == SignatureLevel::B_T) {
    detail::Collector col(ctx, present_certificates(*x5c, *view));
    std::vector<const X509*> untrusted;
    for (std::size_t i = 1; i < x5c->size(); ++i) {
      untrusted.push_back((*x5c)[i].get());
    }
    if (auto ok = col.add_signer_chain((*x5c)[0].get(), untrusted); !ok) {
      return std::unexpected(ok.error());
    }
    for (std::size_t i = 0; i < sig_tokens.size(); ++i) {
      if (auto ok = col.add_tsa_chain(sig_tokens[i], "signature timestamp " + std::to_string(i + 1)); !ok) {
        return std::unexpected(ok.error());
      }
    }
    const detail::Collected& c = col.result();
    if (c.empty()) {
      return fail(Errc::policy, "cannot make B-LT: no certificate or revocation data to embed (a self-signed signer?)");
    }
    if (!c.certificates.empty()) {
      append_item(jws, "xVals", xvals_json(c.certificates));
    }
    if (c.has_revocation()) {
      append_item(jws, "rVals", rvals_json(c.crls, c.ocsp_responses));
    }
    count(stats, c);
    level = SignatureLevel::B_LT;
  }
  // B-LTA: validation data of the last archive timestamp (tstVD), then a new arcTst over everything.
  if (target == ExtendLevel::B_LTA) {
    if (level == SignatureLevel::B_LTA) {
      const EmbeddedTimestamp* last = nullptr;
      for (const auto& t : view->timestamps) {
        if (t.kind == EmbeddedTimestamp::Kind::archive) {
          last = &t;
        }
      }
      const certstore::TrustStore* trust = ctx.tsa_trust != nullptr ? ctx.tsa_trust : ctx.signature_trust;
      if (trust == nullptr || ctx.revocation == nullptr) {
        return fail(Errc::invalid_argument, "renewing B-LTA needs TSA trust anchors and a revocation checker");
      }
      auto check = tsa::verify_token(last->token, as_bytes(last->covered), *trust, ctx.now);
      if (check.status != tsa::TokenStatus::ok && check.status != tsa::TokenStatus::chain_failure) {
        return fail(Errc::invalid_argument, "the last archive timestamp does not match what it covers (" +
                                                std::string(tsa::token_status_name(check.status)) + "): " +
                                                check.message + "; the signature is not renewed");
      }
      detail::Collector col(ctx, present_certificates(*x5c, *view));
      if (auto ok = col.add_tsa_chain(last->token, "the last archive timestamp"); !ok) {
        return std::unexpected(ok.error());
      }
      const detail::Collected& c = col.result();
      json::Object vd;
      if (!c.certificates.empty()) {
        vd.emplace_back("xVals", xvals_json(c.certificates));
      }
      if (c.has_revocation()) {
        vd.emplace_back("rVals", rvals_json(c.crls, c.ocsp_responses));
      }
      if (!vd.empty()) {
        append_item(jws, "tstVD", json::Value(std::move(vd)));
      }
      count(stats, c);
    }
    const std::string input = archive_input(document, jws, jws.raw_items.size());
    auto token = stamp(ctx, input, ctx.archive_digest, "archive timestamp (arcTst)", stats);
    if (!token) {
      return std::unexpected(token.error());
    }
    append_item(jws, "arcTst", tst_container(*token));
    level = SignatureLevel::B_LTA;
  }
  stats.after = level;
  stats.changed = true;
  return serialize_jws(jws);
}

}  // namespace

Result<ExtendedBundle> extend_json_bundle(std::string_view text, ExtendLevel target, const ExtendContext& ctx) {
  auto bundle = parse_document_bundle(text);
  if (!bundle) {
    return std::unexpected(bundle.error());
  }
  json::Value* sig = bundle->find("signature");
  if (sig == nullptr) {
    return fail(Errc::no_signature, "the Bundle carries no signature to extend");
  }
  if (!sig->is_object()) {
    return fail(Errc::invalid_argument, "Bundle.signature is not an object");
  }
  if (const std::string* f = sig->find_string("sigFormat"); f != nullptr && *f != "application/jose") {
    return fail(Errc::invalid_argument, "Bundle.signature.sigFormat " + *f + " is not application/jose");
  }
  const std::string* data = sig->find_string("data");
  auto jws_bytes = data != nullptr ? base64_decode(*data) : std::nullopt;
  if (!jws_bytes) {
    return fail(Errc::invalid_argument, "Bundle.signature.data is missing or not base64");
  }
  const signer::Canonicalizer* canon = &jcs();
  if (const std::string* tf = sig->find_string("targetFormat")) {
    canon = canonicalizer_for_target_format(*tf);
    if (canon == nullptr) {
      return fail(Errc::invalid_argument, "targetFormat " + *tf + " names a canonicalization hanko does not know");
    }
  }
  auto document = canonical_document(*bundle, *canon);
  if (!document) {
    return std::unexpected(document.error());
  }
  ExtendedBundle out;
  auto jws = extend_jws(to_string(*jws_bytes), *document, target, ctx, out);
  if (!jws) {
    return std::unexpected(jws.error());
  }
  if (!out.changed) {
    out.bundle = std::string(text);
    return out;
  }
  const std::string old_data = *data;
  const std::string new_data = base64_encode(as_bytes(*jws));
  out.bundle = std::string(text);
  if (!detail::replace_once(out.bundle, "\"" + old_data + "\"", "\"" + new_data + "\"")) {
    sig->set("data", json::Value(new_data));
    out.bundle = json::serialize(*bundle, 2);
  }
  return out;
}

}  // namespace hanko::signer
