#include "hanko/signer/jades.h"

#include "hanko/common/base64.h"
#include "hanko/common/digest.h"
#include "hanko/tsa_client/timestamp_source.h"

namespace hanko::signer {

std::string_view level_name(Level level) {
  switch (level) {
    case Level::B_B: return "B-B";
    case Level::B_T: return "B-T";
  }
  return "B-T";
}

std::optional<Level> level_from_name(std::string_view name) {
  if (name == "B-B" || name == "b-b") {
    return Level::B_B;
  }
  if (name == "B-T" || name == "b-t") {
    return Level::B_T;
  }
  return std::nullopt;
}

std::string signing_input(std::string_view protected_b64, std::string_view payload) {
  std::string out;
  std::string p = base64url_encode(as_bytes(payload));
  out.reserve(protected_b64.size() + 1 + p.size());
  out.append(protected_b64);
  out.push_back('.');
  out.append(p);
  return out;
}

SignerCertificates signer_certificates(const SigningKey& key) {
  SignerCertificates out;
  out.certificate = key.certificate();
  for (const auto& c : key.chain()) {
    out.chain.push_back(c.get());
  }
  out.alg = key.alg();
  return out;
}

Result<PreparedJws> prepare_jades(std::string_view payload, const SignerCertificates& signer,
                                  const JwsSignParams& params) {
  const X509* cert = signer.certificate;
  if (cert == nullptr) {
    return fail(Errc::invalid_argument, "the signer has no certificate");
  }
  json::Array x5c;
  x5c.emplace_back(base64_encode(ossl::x509_to_der(cert)));
  for (const X509* c : signer.chain) {
    x5c.emplace_back(base64_encode(ossl::x509_to_der(c)));
  }
  json::Array sr_cms;
  for (const auto& oid : params.commitment_oids) {
    json::Object comm_id{{"id", json::Value(std::string(kUrnOid) + oid)}};
    sr_cms.emplace_back(json::Object{{"commId", json::Value(std::move(comm_id))}});
  }
  json::Object header;
  header.emplace_back("alg", json::Value(std::string(jws_alg_name(signer.alg))));
  header.emplace_back("x5c", json::Value(std::move(x5c)));
  header.emplace_back("x5t#S256", json::Value(base64url_encode(ossl::cert_sha256(cert))));
  header.emplace_back("iat", json::Value(static_cast<long long>(to_unix(params.signing_time))));
  if (!sr_cms.empty()) {
    header.emplace_back("srCms", json::Value(std::move(sr_cms)));
  }
  std::string header_json = json::serialize(json::Value(std::move(header)));
  PreparedJws out;
  out.protected_b64 = base64url_encode(as_bytes(header_json));
  out.signing_input = signing_input(out.protected_b64, payload);
  out.level = params.level;
  return out;
}

Result<std::string> complete_jades(std::string_view protected_b64, Level level, ByteView signature_value,
                                   tsa::TimestampSource* tsa) {
  if (level == Level::B_T && tsa == nullptr) {
    return fail(Errc::invalid_argument, "B-T needs a timestamp authority");
  }
  std::string sig_b64 = base64url_encode(signature_value);
  if (level == Level::B_B) {
    return std::string(protected_b64) + ".." + sig_b64;
  }
  // B-T: JAdES sigTst, imprint over the ASCII base64url signature value (TS 119 182-1 clause 5.3.4).
  auto token = tsa->timestamp(as_bytes(sig_b64), DigestAlg::sha256);
  if (!token) {
    return std::unexpected(token.error());
  }
  json::Object tst_token{{"val", json::Value(base64_encode(*token))}};
  json::Object sig_tst{{"tstTokens", json::Value(json::Array{json::Value(std::move(tst_token))})}};
  json::Object item{{"sigTst", json::Value(std::move(sig_tst))}};
  std::string item_b64 = base64url_encode(as_bytes(json::serialize(json::Value(std::move(item)))));
  json::Object unprotected{{"etsiU", json::Value(json::Array{json::Value(item_b64)})}};
  json::Object jws;
  jws.emplace_back("protected", json::Value(std::string(protected_b64)));
  jws.emplace_back("header", json::Value(std::move(unprotected)));
  jws.emplace_back("signature", json::Value(sig_b64));
  return json::serialize(json::Value(std::move(jws)));
}

Result<std::string> make_jades(std::string_view payload, const SigningKey& key, const JwsSignParams& params,
                               tsa::TimestampSource* tsa) {
  if (params.level == Level::B_T && tsa == nullptr) {
    return fail(Errc::invalid_argument, "B-T needs a timestamp authority");
  }
  auto prepared = prepare_jades(payload, signer_certificates(key), params);
  if (!prepared) {
    return std::unexpected(prepared.error());
  }
  auto sig = key.sign(as_bytes(prepared->signing_input));
  if (!sig) {
    return std::unexpected(sig.error());
  }
  return complete_jades(prepared->protected_b64, prepared->level, *sig, tsa);
}

namespace {

Result<json::Value> decode_json_b64url(std::string_view b64, std::string_view what) {
  auto raw = base64url_decode(b64);
  if (!raw) {
    return fail(Errc::invalid_argument, std::string(what) + " is not base64url");
  }
  auto v = json::parse(to_string(*raw), {.max_depth = 32, .max_bytes = 4u << 20});
  if (!v) {
    return fail(Errc::invalid_argument, std::string(what) + " is not JSON: " + v.error().message);
  }
  if (!v->is_object()) {
    return fail(Errc::invalid_argument, std::string(what) + " is not a JSON object");
  }
  return v;
}

bool is_b64url_text(std::string_view s) {
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<ParsedJws> parse_jws(std::string_view text) {
  ParsedJws out;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (!text.empty() && text.front() == '{') {
    out.json_serialization = true;
    auto v = json::parse(text, {.max_depth = 32, .max_bytes = 16u << 20});
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
    out.protected_b64 = *p;
    out.signature_b64 = *s;
    if (const std::string* pl = v->find_string("payload")) {
      out.payload_b64 = *pl;
    }
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
        for (const auto& item : value.as_array()) {
          if (item.is_string()) {
            auto decoded = decode_json_b64url(item.as_string(), "an etsiU item");
            if (!decoded) {
              return std::unexpected(decoded.error());
            }
            out.etsi_u.push_back(std::move(*decoded));
          } else if (item.is_object()) {
            out.etsi_u.push_back(item);
          } else {
            return fail(Errc::invalid_argument, "an etsiU item is neither base64url nor an object");
          }
        }
      }
    }
  } else {
    auto d1 = text.find('.');
    auto d2 = d1 == std::string_view::npos ? d1 : text.find('.', d1 + 1);
    if (d1 == std::string_view::npos || d2 == std::string_view::npos || text.find('.', d2 + 1) != std::string_view::npos) {
      return fail(Errc::invalid_argument, "the JWS is neither a compact serialization nor a JSON object");
    }
    out.protected_b64 = std::string(text.substr(0, d1));
    out.payload_b64 = std::string(text.substr(d1 + 1, d2 - d1 - 1));
    out.signature_b64 = std::string(text.substr(d2 + 1));
  }
  if (!is_b64url_text(out.protected_b64) || !is_b64url_text(out.signature_b64)) {
    return fail(Errc::invalid_argument, "the JWS parts are not base64url");
  }
  auto header = decode_json_b64url(out.protected_b64, "the JWS protected header");
  if (!header) {
    return std::unexpected(header.error());
  }
  out.header = std::move(*header);
  auto sig = base64url_decode(out.signature_b64);
  if (!sig || sig->empty()) {
    return fail(Errc::invalid_argument, "the JWS signature is empty or not base64url");
  }
  out.signature = std::move(*sig);
  return out;
}

}  // namespace hanko::signer
