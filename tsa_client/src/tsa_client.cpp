#include <openssl/rand.h>

#include <algorithm>
#include <cctype>

#include "der_util.h"
#include "hanko/tsa_client/timestamp_source.h"
#include "token_internal.h"
#include "tsa_exchange.h"

namespace hanko::tsa {
namespace {

constexpr std::string_view kQueryType = "application/timestamp-query";
constexpr std::string_view kReplyType = "application/timestamp-reply";

/** What the response must echo. */
struct Expected {
  DigestAlg alg;
  Bytes imprint;
  ossl::Asn1IntegerPtr nonce;
  std::optional<std::string> policy;
};

struct Request {
  Bytes der;
  Expected expected;
};

Result<Request> build_request(ByteView data, DigestAlg alg, const std::optional<std::string>& policy) {
  Request out;
  out.expected.alg = alg;
  out.expected.imprint = digest(alg, data);
  out.expected.policy = policy;

  ossl::TsReqPtr req(TS_REQ_new());
  ossl::TsMsgImprintPtr mi(TS_MSG_IMPRINT_new());
  ossl::X509AlgorPtr algo(X509_ALGOR_new());
  if (!req || !mi || !algo) {
    return fail(Errc::internal, "out of memory building a TimeStampReq");
  }
  // Parameters NULL, as `openssl ts -query` sends them; TSAs accept NULL or absent.
  if (X509_ALGOR_set0(algo.get(), OBJ_nid2obj(detail::digest_nid(alg)), V_ASN1_NULL, nullptr) != 1 ||
      TS_MSG_IMPRINT_set_algo(mi.get(), algo.get()) != 1 ||
      TS_MSG_IMPRINT_set_msg(mi.get(), out.expected.imprint.data(), static_cast<int>(out.expected.imprint.size())) != 1 ||
      TS_REQ_set_version(req.get(), 1) != 1 || TS_REQ_set_msg_imprint(req.get(), mi.get()) != 1) {
    return std::unexpected(openssl_error(Errc::internal, "cannot build TimeStampReq"));
  }
  if (policy) {
    ossl::Asn1ObjectPtr obj(OBJ_txt2obj(policy->c_str(), 1));
    if (!obj) {
      clear_openssl_errors();
      return fail(Errc::invalid_argument, "TSA policy '" + *policy + "' is not a dotted OID");
    }
    if (TS_REQ_set_policy_id(req.get(), obj.get()) != 1) {
      return std::unexpected(openssl_error(Errc::internal, "cannot set reqPolicy"));
    }
  }
  // RFC 3161 2.4.1: "The nonce is a large random number with a high probability that the
  // client generates it only once" - 64 random bits.
  std::uint8_t raw[8];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    return std::unexpected(openssl_error(Errc::crypto, "RAND_bytes failed"));
  }
  ossl::BignumPtr bn(BN_bin2bn(raw, sizeof raw, nullptr));
  out.expected.nonce.reset(bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr);
  if (!out.expected.nonce || TS_REQ_set_nonce(req.get(), out.expected.nonce.get()) != 1 ||
      TS_REQ_set_cert_req(req.get(), 1) != 1) {
    return std::unexpected(openssl_error(Errc::internal, "cannot set the nonce"));
  }
  out.der = ossl::to_der<i2d_TS_REQ>(req.get());
  if (out.der.empty()) {
    return std::unexpected(openssl_error(Errc::internal, "cannot encode TimeStampReq"));
  }
  return out;
}

std::string status_name(long s) {
  switch (s) {
    case 0: return "granted";
    case 1: return "grantedWithMods";
    case 2: return "rejection";
    case 3: return "waiting";
    case 4: return "revocationWarning";
    case 5: return "revocationNotification";
    default: return "unknown status " + std::to_string(s);
  }
}

using detail::sanitize;

std::string describe_status(TS_STATUS_INFO* si) {
  long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
  std::string msg = "status " + status_name(status) + " (" + std::to_string(status) + ")";
  if (const ASN1_BIT_STRING* fi = TS_STATUS_INFO_get0_failure_info(si)) {
    static constexpr std::pair<int, const char*> kBits[] = {
        {TS_INFO_BAD_ALG, "badAlg"},
        {TS_INFO_BAD_REQUEST, "badRequest"},
        {TS_INFO_BAD_DATA_FORMAT, "badDataFormat"},
        {TS_INFO_TIME_NOT_AVAILABLE, "timeNotAvailable"},
        {TS_INFO_UNACCEPTED_POLICY, "unacceptedPolicy"},
        {TS_INFO_UNACCEPTED_EXTENSION, "unacceptedExtension"},
        {TS_INFO_ADD_INFO_NOT_AVAILABLE, "addInfoNotAvailable"},
        {TS_INFO_SYSTEM_FAILURE, "systemFailure"},
    };
    std::string bits;
    for (const auto& [bit, name] : kBits) {
      if (ASN1_BIT_STRING_get_bit(fi, bit) != 0) {
        bits += bits.empty() ? "" : ",";
        bits += name;
      }
    }
    if (!bits.empty()) {
      msg += ", failInfo " + bits;
    }
  }
  if (const auto* texts = TS_STATUS_INFO_get0_text(si)) {
    std::string joined;
    for (int i = 0; i < sk_ASN1_UTF8STRING_num(texts) && i < 4; ++i) {
      const ASN1_UTF8STRING* t = sk_ASN1_UTF8STRING_value(texts, i);
      joined += joined.empty() ? "" : "; ";
      joined += std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(t)),
                            static_cast<std::size_t>(ASN1_STRING_length(t)));
    }
    if (!joined.empty()) {
      msg += ": " + sanitize(joined);
    }
  }
  return msg;
}

/** The TimeStampToken TLV, byte for byte, out of a DER TimeStampResp. */
std::optional<ByteView> token_bytes(ByteView resp_der) {
  auto outer = der::read_tlv(resp_der);
  if (!outer || outer->tag != 0x30 || outer->whole.size() != resp_der.size()) {
    return std::nullopt;
  }
  auto status = der::read_tlv(outer->content);
  if (!status || status->tag != 0x30) {
    return std::nullopt;
  }
  ByteView rest = outer->content.subspan(status->whole.size());
  auto token = der::read_tlv(rest);
  if (!token || token->tag != 0x30 || token->whole.size() != rest.size()) {
    return std::nullopt;
  }
  return token->whole;
}

Result<Bytes> check_response(ByteView resp_der, const Expected& expected, TsaFailure& failure) {
  // Until the token parsed, a defect is a malformed answer; from there on, a bad token.
  failure = TsaFailure::malformed;
  auto reject = [](std::string m) { return fail(Errc::remote_rejected, std::move(m)); };
  auto resp = detail::d2i_full<TS_RESP, d2i_TS_RESP, TS_RESP_free>(resp_der);
  if (!resp) {
    return reject("TSA answer is not a DER TimeStampResp");
  }
  TS_STATUS_INFO* si = TS_RESP_get_status_info(resp.get());
  long status = ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(si));
  // RFC 3161 2.4.2: "When the status contains the value zero or one, a TimeStampToken MUST be present."
  if (status != TS_STATUS_GRANTED && status != TS_STATUS_GRANTED_WITH_MODS) {
    failure = TsaFailure::rejected;
    return reject("TSA refused the request: " + describe_status(si));
  }
  if (TS_RESP_get_token(resp.get()) == nullptr) {
    return reject("TSA granted the request but sent no token");
  }
  auto bytes = token_bytes(resp_der);
  if (!bytes) {
    return reject("TSA answer is not a DER TimeStampResp (cannot isolate the token)");
  }
  auto parsed = detail::parse(*bytes);
  if (!parsed) {
    return reject("TSA token: " + parsed.error().message);
  }
  failure = TsaFailure::bad_token;
  detail::ParsedToken& t = *parsed;
  // RFC 3161 2.4.2: nonce "MUST be present if the similar field was present in the
  // TimeStampReq. In that case it MUST have the same value."
  const ASN1_INTEGER* nonce = TS_TST_INFO_get_nonce(t.tst.get());
  if (nonce == nullptr) {
    return reject("TSA token carries no nonce although the request had one");
  }
  if (ASN1_INTEGER_cmp(nonce, expected.nonce.get()) != 0) {
    return reject("TSA token nonce does not match the request's nonce (replayed or misrouted answer)");
  }
  if (t.info.imprint_alg != expected.alg) {
    return reject("TSA token messageImprint algorithm " + std::string(digest_name(t.info.imprint_alg)) +
                  " is not the requested " + std::string(digest_name(expected.alg)));
  }
  if (!ct_equal(t.info.imprint, expected.imprint)) {
    return reject("TSA token messageImprint does not match the request");
  }
  // RFC 3161 2.4.2: policy "MUST have the same value as the similar field in TimeStampReq" if present.
  if (expected.policy && t.info.policy_oid != *expected.policy) {
    return reject("TSA token policy " + t.info.policy_oid + " is not the requested " + *expected.policy);
  }
  if (auto r = detail::check_tsa_certificate(t.info.tsa_cert.get()); !r) {
    return reject(r.error().message);
  }
  if (auto r = detail::check_signature(t); !r) {
    return reject(r.error().message);
  }
  if (auto r = detail::check_signing_cert(t); !r) {
    return reject(r.error().message);
  }
  failure = TsaFailure::none;
  return Bytes(bytes->begin(), bytes->end());
}

std::string media_type(std::string_view content_type) {
  auto semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.front())) != 0) {
    t.remove_prefix(1);
  }
  while (!t.empty() && std::isspace(static_cast<unsigned char>(t.back())) != 0) {
    t.remove_suffix(1);
  }
  std::string out(t);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

namespace detail {

std::string sanitize(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? '?' : c);
  }
  if (s.size() > max) {
    out += "...";
  }
  return out;
}

Result<Bytes> exchange(const TsaTransport& transport, ByteView data, DigestAlg alg,
                       const std::optional<std::string>& policy_oid, TsaFailure& failure) {
  failure = TsaFailure::none;
  if (!transport) {
    failure = TsaFailure::config;
    return fail(Errc::internal, "no TSA transport");
  }
  auto req = build_request(data, alg, policy_oid);
  if (!req) {
    failure = TsaFailure::config;
    return std::unexpected(req.error());
  }
  auto resp = transport(req->der);
  if (!resp) {
    if (failure == TsaFailure::none) {
      switch (resp.error().code) {
        case Errc::network:
          failure = is_timeout(resp.error()) ? TsaFailure::timeout : TsaFailure::unreachable;
          break;
        case Errc::invalid_argument:
        case Errc::internal:
        case Errc::io:
          failure = TsaFailure::config;
          break;
        default:
          failure = TsaFailure::malformed;
          break;
      }
    }
    return std::unexpected(resp.error());
  }
  auto token = check_response(*resp, req->expected, failure);
  clear_openssl_errors();
  return token;
}

TsaTransport http_transport(const HttpClient& http, const std::string& url, TsaFailure& failure) {
  return [&http, &url, &failure](ByteView req) -> Result<Bytes> {
    // RFC 3161 3.4: "the Content-Type ... application/timestamp-query ... application/timestamp-reply".
    auto r = http.post(url, kQueryType, to_string(req));
    if (!r) {
      if (r.error().code == Errc::too_large) {
        failure = TsaFailure::malformed;
        return fail(Errc::remote_rejected, "TSA " + r.error().message);
      }
      return std::unexpected(r.error());
    }
    if (r->status != 200) {
      failure = TsaFailure::http_status;
      return fail(Errc::remote_rejected, "TSA " + redact_url(url) + " answered HTTP " + std::to_string(r->status));
    }
    if (media_type(r->content_type) != kReplyType) {
      failure = TsaFailure::malformed;
      return fail(Errc::remote_rejected, "TSA " + redact_url(url) + " answered Content-Type '" +
                                             sanitize(r->content_type, 80) + "', not " + std::string(kReplyType));
    }
    return to_bytes(r->body);
  };
}

}  // namespace detail

Result<Bytes> request_timestamp(const TsaTransport& transport, ByteView data, DigestAlg alg,
                                const std::optional<std::string>& policy_oid) {
  TsaFailure failure = TsaFailure::none;
  return detail::exchange(transport, data, alg, policy_oid, failure);
}

namespace {
HttpOptions tsa_purpose(HttpOptions o) {
  if (o.purpose.empty()) {
    o.purpose = "tsa";
  }
  return o;
}
}  // namespace

HttpTsaClient::HttpTsaClient(std::string url, HttpOptions options, std::optional<std::string> policy_oid)
    : m_url(std::move(url)), m_http(tsa_purpose(std::move(options))), m_policy(std::move(policy_oid)) {}

Result<Bytes> HttpTsaClient::timestamp(ByteView data, DigestAlg alg) {
  TsaFailure failure = TsaFailure::none;
  auto token = detail::exchange(detail::http_transport(m_http, m_url, failure), data, alg, m_policy, failure);
  if (!token && token.error().code == Errc::remote_rejected && token.error().message.find(m_url) == std::string::npos) {
    return fail(Errc::remote_rejected, token.error().message + " [" + m_url + "]");
  }
  return token;
}

}  // namespace hanko::tsa
