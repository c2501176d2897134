#include "hanko/certstore/dev_revocation_server.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/ThreadPool.h>
#include <Poco/URI.h>

#include <openssl/ocsp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "hanko/common/base64.h"
#include "hanko/common/ossl.h"

namespace hanko::certstore {

namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;
using Fault = DevRevocationServer::Fault;
using Endpoint = DevRevocationServer::Endpoint;

/** 100 MiB: what Fault::huge_body offers to send. */
constexpr std::size_t kHugeBodyBytes = 100u << 20;

struct RevokedEntry {
  TimePoint when;
  int reason = 0;
};

struct CaEntry {
  ossl::X509Ptr cert;
  ossl::EvpPkeyPtr key;
  std::string name;
  ossl::X509Ptr responder;  ///< null: the CA signs its OCSP responses
  ossl::EvpPkeyPtr responder_key;
  std::map<std::string, RevokedEntry> revoked;  ///< by normalized serial hex
  std::set<std::string> unknown;
  long crl_number = 0;
};

/** Upper-case hex without leading zeros (the form ossl::serial_hex writes); nullopt if not hex. */
std::optional<std::string> normalize_serial(std::string_view hex_text) {
  if (hex_text.empty() || hex_text.size() > 128 ||
      !std::all_of(hex_text.begin(), hex_text.end(), [](unsigned char c) { return std::isxdigit(c) != 0; })) {
    return std::nullopt;
  }
  BIGNUM* raw = nullptr;
  const std::string text(hex_text);
  if (BN_hex2bn(&raw, text.c_str()) == 0) {
    clear_openssl_errors();
    return std::nullopt;
  }
  ossl::BignumPtr bn(raw);
  ossl::OpensslStringPtr s(BN_bn2hex(bn.get()));
  if (!s) {
    return std::nullopt;
  }
  return std::string(s.get());
}

std::optional<std::string> serial_of(const ASN1_INTEGER* serial) {
  ossl::BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) {
    clear_openssl_errors();
    return std::nullopt;
  }
  ossl::OpensslStringPtr s(BN_bn2hex(bn.get()));
  if (!s) {
    return std::nullopt;
  }
  return std::string(s.get());
}

ossl::Asn1IntegerPtr serial_from_hex(const std::string& hex_text) {
  BIGNUM* raw = nullptr;
  if (BN_hex2bn(&raw, hex_text.c_str()) == 0) {
    return nullptr;
  }
  ossl::BignumPtr bn(raw);
  return ossl::Asn1IntegerPtr(BN_to_ASN1_INTEGER(bn.get(), nullptr));
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 100 && std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-';
  });
}

std::string media_type(const std::string& content_type) {
  std::string t = content_type.substr(0, content_type.find(';'));
  auto not_space = [](unsigned char c) { return std::isspace(c) == 0; };
  t.erase(t.begin(), std::find_if(t.begin(), t.end(), not_space));
  t.erase(std::find_if(t.rbegin(), t.rend(), not_space).base(), t.end());
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return t;
}

/** Flips the last bit of a signature in place (the encoding of the signed part is unchanged). */
void flip_signature_bit(const ASN1_BIT_STRING* sig) {
  if (sig != nullptr && ASN1_STRING_length(sig) > 0) {
    auto* data = const_cast<unsigned char*>(ASN1_STRING_get0_data(sig));
    data[ASN1_STRING_length(sig) - 1] ^= 0x01;
  }
}

Bytes ocsp_error_response(int status) {
  ossl::OcspResponsePtr resp(OCSP_response_create(status, nullptr));
  return resp ? ossl::to_der<i2d_OCSP_RESPONSE>(resp.get()) : Bytes{};
}

/** An OCSP_REQUEST from DER; nullptr if malformed or followed by trailing bytes. */
ossl::OcspRequestPtr parse_request(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return nullptr;
  }
  const unsigned char* p = der.data();
  ossl::OcspRequestPtr req(d2i_OCSP_REQUEST(nullptr, &p, static_cast<long>(der.size())));
  if (!req || p != der.data() + der.size()) {
    clear_openssl_errors();
    return nullptr;
  }
  return req;
}

void send_bytes(HTTPServerResponse& resp, HTTPResponse::HTTPStatus status, const std::string& type, ByteView body) {
  resp.setStatus(status);
  resp.setContentType(type);
  resp.setContentLength(static_cast<std::streamsize>(body.size()));
  resp.sendBuffer(body.data(), body.size());
}

void send_text(HTTPServerResponse& resp, HTTPResponse::HTTPStatus status, const std::string& text) {
  send_bytes(resp, status, "text/plain; charset=utf-8", as_bytes(text));
}

/** Blocks SIGPIPE in the calling thread while alive (threads started meanwhile inherit the mask). */
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    m_ok = pthread_sigmask(SIG_BLOCK, &set, &m_old) == 0;
  }
  ~SigpipeBlock() {
    if (m_ok) {
      pthread_sigmask(SIG_SETMASK, &m_old, nullptr);
    }
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t m_old{};
  bool m_ok = false;
};

/** What the handlers share: the registered CAs, the faults, the clock. */
struct State {
  const Clock& clock;
  mutable std::mutex mu;
  std::vector<CaEntry> cas;
  Fault crl_fault = Fault::none;
  Fault ocsp_fault = Fault::none;
  Fault certs_fault = Fault::none;
  std::atomic<std::size_t> requests{0};

  explicit State(const Clock& c) : clock(c) {}

  CaEntry* find_ca(const X509* ca) {
    for (auto& e : cas) {
      if (X509_cmp(e.cert.get(), ca) == 0) {
        return &e;
      }
    }
    return nullptr;
  }

  Fault fault_for(Endpoint e) const {
    std::lock_guard lock(mu);
    switch (e) {
      case Endpoint::crl:
        return crl_fault;
      case Endpoint::ocsp:
        return ocsp_fault;
      case Endpoint::certs:
        return certs_fault;
      case Endpoint::all:
        break;
    }
    return Fault::none;
  }

  // ---- CRL ---------------------------------------------------------------------

  /** The current CRL of the CA registered as `name`; nullopt if none. Errors throw std::runtime_error (-> 500). */
  std::optional<Bytes> crl_for(const std::string& name, bool bad_signature) {
    std::lock_guard lock(mu);
    CaEntry* ca = nullptr;
    for (auto& e : cas) {
      if (e.name == name) {
        ca = &e;
      }
    }
    if (ca == nullptr) {
      return std::nullopt;
    }
    const TimePoint now = clock.now();
    ossl::X509CrlPtr crl(X509_CRL_new());
    ossl::Asn1TimePtr this_update = ossl::timepoint_to_asn1(now);
    ossl::Asn1TimePtr next_update = ossl::timepoint_to_asn1(now + DevRevocationServer::crl_validity);
    if (!crl || !this_update || !next_update || X509_CRL_set_version(crl.get(), 1) != 1 ||
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca->cert.get())) != 1 ||
        X509_CRL_set1_lastUpdate(crl.get(), this_update.get()) != 1 || X509_CRL_set1_nextUpdate(crl.get(), next_update.get()) != 1) {
      throw std::runtime_error(openssl_error(Errc::crypto, "CRL").message);
    }
    for (const auto& [serial_hex, r] : ca->revoked) {
      ossl::X509RevokedPtr entry(X509_REVOKED_new());
      ossl::Asn1IntegerPtr serial = serial_from_hex(serial_hex);
      ossl::Asn1TimePtr when = ossl::timepoint_to_asn1(r.when);
      if (!entry || !serial || !when || X509_REVOKED_set_serialNumber(entry.get(), serial.get()) != 1 ||
          X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1) {
        throw std::runtime_error(openssl_error(Errc::crypto, "CRL entry").message);
      }
      if (r.reason > 0) {  // RFC 5280 section 5.3.1: "the reason code CRL entry extension SHOULD be absent instead of using the unspecified (0) reasonCode value"
        ossl::Asn1EnumeratedPtr code(ASN1_ENUMERATED_new());
        if (!code || ASN1_ENUMERATED_set(code.get(), r.reason) != 1 ||
            X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0) != 1) {
          throw std::runtime_error(openssl_error(Errc::crypto, "CRL reason").message);
        }
      }
      if (X509_CRL_add0_revoked(crl.get(), entry.get()) != 1) {
        throw std::runtime_error(openssl_error(Errc::crypto, "CRL entry").message);
      }
      entry.release();  // owned by the CRL now
    }
    ossl::Asn1IntegerPtr number(ASN1_INTEGER_new());
    if (!number || ASN1_INTEGER_set(number.get(), ++ca->crl_number) != 1 ||
        X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) != 1) {
      throw std::runtime_error(openssl_error(Errc::crypto, "cRLNumber").message);
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, ca->cert.get(), nullptr, nullptr, crl.get(), 0);
    ossl::X509ExtPtr aki(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_authority_key_identifier, "keyid:always"));
    if (!aki || X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1) {
      throw std::runtime_error(openssl_error(Errc::crypto, "CRL AKI").message);
    }
    X509_CRL_sort(crl.get());
    if (X509_CRL_sign(crl.get(), ca->key.get(), EVP_sha256()) <= 0) {
      throw std::runtime_error(openssl_error(Errc::crypto, "X509_CRL_sign").message);
    }
    if (bad_signature) {
      const ASN1_BIT_STRING* sig = nullptr;
      X509_CRL_get0_signature(crl.get(), &sig, nullptr);
      flip_signature_bit(sig);
    }
    return ossl::to_der<i2d_X509_CRL>(crl.get());
  }

  std::optional<Bytes> cert_for(const std::string& name) {
    std::lock_guard lock(mu);
    for (const auto& e : cas) {
      if (e.name == name) {
        return ossl::x509_to_der(e.cert.get());
      }
    }
    return std::nullopt;
  }

  // ---- OCSP --------------------------------------------------------------------

  /** The DER OCSPResponse answering `body` (RFC 6960 section 4.2); malformed input gets malformedRequest. */
  Bytes ocsp_answer(ByteView body, Fault fault) {
    ossl::OcspRequestPtr req = parse_request(body);
    if (!req || OCSP_request_onereq_count(req.get()) <= 0) {
      return ocsp_error_response(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
    }
    if (fault == Fault::ocsp_try_later) {
      return ocsp_error_response(OCSP_RESPONSE_STATUS_TRYLATER);
    }
    std::lock_guard lock(mu);
    if (cas.empty()) {
      return ocsp_error_response(OCSP_RESPONSE_STATUS_UNAUTHORIZED);
    }
    const TimePoint now = clock.now();
    ossl::Asn1TimePtr this_update = ossl::timepoint_to_asn1(now);
    ossl::Asn1TimePtr next_update = ossl::timepoint_to_asn1(now + DevRevocationServer::ocsp_validity);
    ossl::OcspBasicRespPtr bs(OCSP_BASICRESP_new());
    if (!bs || !this_update || !next_update) {
      return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
    }
    const CaEntry* signer_ca = nullptr;
    for (int i = 0; i < OCSP_request_onereq_count(req.get()); ++i) {
      OCSP_CERTID* cid = OCSP_onereq_get0_id(OCSP_request_onereq_get0(req.get(), i));
      ASN1_OBJECT* md_obj = nullptr;
      ASN1_INTEGER* serial = nullptr;
      if (cid == nullptr || OCSP_id_get0_info(nullptr, &md_obj, nullptr, &serial, cid) != 1 || serial == nullptr) {
        return ocsp_error_response(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
      }
      const EVP_MD* md = EVP_get_digestbyobj(md_obj);
      const CaEntry* ca = nullptr;
      for (const auto& e : cas) {
        if (md == nullptr) {
          break;
        }
        ossl::OcspCertIdPtr ca_id(OCSP_cert_id_new(md, X509_get_subject_name(e.cert.get()), X509_get0_pubkey_bitstr(e.cert.get()), serial));
        if (ca_id && OCSP_id_issuer_cmp(ca_id.get(), cid) == 0) {
          ca = &e;
          break;
        }
      }
      clear_openssl_errors();
      ossl::OcspCertIdPtr answer_id(OCSP_CERTID_dup(cid));
      if (!answer_id) {
        return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
      }
      if (fault == Fault::ocsp_other_cert) {
        ASN1_INTEGER* answer_serial = nullptr;
        OCSP_id_get0_info(nullptr, nullptr, nullptr, &answer_serial, answer_id.get());
        ossl::BignumPtr bn(ASN1_INTEGER_to_BN(answer_serial, nullptr));
        if (!bn || BN_add_word(bn.get(), 1) != 1 || BN_to_ASN1_INTEGER(bn.get(), answer_serial) == nullptr) {
          return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
        }
      }
      const std::optional<std::string> serial_hex = serial_of(serial);
      int status = V_OCSP_CERTSTATUS_GOOD;
      int reason = OCSP_REVOKED_STATUS_NOSTATUS;
      ossl::Asn1TimePtr revtime;
      if (ca == nullptr || !serial_hex || ca->unknown.contains(*serial_hex)) {
        status = V_OCSP_CERTSTATUS_UNKNOWN;  // RFC 6960 section 2.2: "usually because the request indicates an unrecognized issuer"
      } else if (auto it = ca->revoked.find(*serial_hex); it != ca->revoked.end()) {
        status = V_OCSP_CERTSTATUS_REVOKED;
        reason = it->second.reason;
        revtime = ossl::timepoint_to_asn1(it->second.when);
      }
      if (OCSP_basic_add1_status(bs.get(), answer_id.get(), status, reason, revtime.get(), this_update.get(), next_update.get()) == nullptr) {
        clear_openssl_errors();
        return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
      }
      if (signer_ca == nullptr && ca != nullptr) {
        signer_ca = ca;
      }
    }
    if (signer_ca == nullptr) {
      signer_ca = &cas.front();  // some key must sign the "unknown" answers
    }
    // OCSP_copy_nonce: 1 copied, 2 the request had none.
    if (fault != Fault::drop_nonce && OCSP_copy_nonce(bs.get(), req.get()) <= 0) {
      clear_openssl_errors();
      return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
    }
    X509* signer = signer_ca->responder ? signer_ca->responder.get() : signer_ca->cert.get();
    EVP_PKEY* key = signer_ca->responder ? signer_ca->responder_key.get() : signer_ca->key.get();
    const unsigned long flags = signer_ca->responder ? 0UL : static_cast<unsigned long>(OCSP_NOCERTS);
    if (OCSP_basic_sign(bs.get(), signer, key, EVP_sha256(), nullptr, flags) != 1) {
      clear_openssl_errors();
      return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
    }
    // OCSP_basic_sign stamps producedAt from the wall clock: set it from the injected clock and sign again.
    auto* produced_at = const_cast<ASN1_GENERALIZEDTIME*>(OCSP_resp_get0_produced_at(bs.get()));
    if (produced_at == nullptr || ASN1_GENERALIZEDTIME_set(produced_at, static_cast<time_t>(to_unix(now))) == nullptr ||
        ASN1_item_sign(ASN1_ITEM_rptr(OCSP_RESPDATA), const_cast<X509_ALGOR*>(OCSP_resp_get0_tbs_sigalg(bs.get())), nullptr,
                       const_cast<ASN1_BIT_STRING*>(OCSP_resp_get0_signature(bs.get())),
                       const_cast<OCSP_RESPDATA*>(OCSP_resp_get0_respdata(bs.get())), key, EVP_sha256()) <= 0) {
      clear_openssl_errors();
      return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
    }
    if (fault == Fault::ocsp_bad_signature) {
      flip_signature_bit(OCSP_resp_get0_signature(bs.get()));
    }
    ossl::OcspResponsePtr resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs.get()));
    if (!resp) {
      clear_openssl_errors();
      return ocsp_error_response(OCSP_RESPONSE_STATUS_INTERNALERROR);
    }
    return ossl::to_der<i2d_OCSP_RESPONSE>(resp.get());
  }
};

/** One request: routing, faults, and the answers of DevRevocationServer::Impl. */
class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(State& impl) : m_impl(impl) {}

  void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
    ++m_impl.requests;
    resp.setKeepAlive(false);
    try {
      handle(req, resp);
    } catch (...) {
      if (!resp.sent()) {
        try {
          send_text(resp, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "internal error\n");
        } catch (...) {
          // the client is gone
        }
      }
    }
  }

 private:
  void handle(HTTPServerRequest& req, HTTPServerResponse& resp) {
    std::string path = req.getURI();
    path = path.substr(0, path.find('?'));
    const std::string& method = req.getMethod();
    const bool get = method == Poco::Net::HTTPRequest::HTTP_GET;
    const bool post = method == Poco::Net::HTTPRequest::HTTP_POST;

    Endpoint endpoint = Endpoint::all;
    std::string name;
    if (path.starts_with("/crl/") && path.ends_with(".crl") && path.size() > 9) {
      endpoint = Endpoint::crl;
      name = path.substr(5, path.size() - 9);
    } else if (path.starts_with("/certs/") && path.ends_with(".der") && path.size() > 11) {
      endpoint = Endpoint::certs;
      name = path.substr(7, path.size() - 11);
    } else if (path == "/ocsp" || path == "/ocsp/" || path.starts_with("/ocsp/")) {
      endpoint = Endpoint::ocsp;
    } else {
      send_text(resp, HTTPResponse::HTTP_NOT_FOUND, "not found\n");
      return;
    }
    const bool ocsp_post = endpoint == Endpoint::ocsp && post && (path == "/ocsp" || path == "/ocsp/");
    const bool ocsp_get = endpoint == Endpoint::ocsp && get && path.size() > 6;
    if (!(endpoint == Endpoint::ocsp ? (ocsp_post || ocsp_get) : get)) {
      resp.set("Allow", endpoint == Endpoint::ocsp ? "GET, POST" : "GET");
      send_text(resp, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
      return;
    }

    // The OCSP request is read first, bounded, whatever the fault.
    std::optional<Bytes> ocsp_request;
    if (ocsp_post) {
      if (media_type(req.getContentType()) != "application/ocsp-request") {
        send_text(resp, HTTPResponse::HTTP_UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/ocsp-request\n");
        return;
      }
      if (req.hasContentLength() && req.getContentLength64() > static_cast<Poco::Int64>(DevRevocationServer::max_request_bytes)) {
        send_text(resp, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "request body too large\n");
        return;
      }
      std::string body;
      std::istream& in = req.stream();
      char buf[4096];
      while (in) {
        in.read(buf, sizeof buf);
        const auto n = static_cast<std::size_t>(in.gcount());
        if (n == 0) {
          break;
        }
        if (body.size() + n > DevRevocationServer::max_request_bytes) {
          send_text(resp, HTTPResponse::HTTP_REQUEST_ENTITY_TOO_LARGE, "request body too large\n");
          return;
        }
        body.append(buf, n);
      }
      ocsp_request = to_bytes(body);
    } else if (ocsp_get) {
      // RFC 6960 appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}
      std::string decoded;
      try {
        Poco::URI::decode(path.substr(6), decoded);
      } catch (const Poco::Exception&) {
        decoded.clear();
      }
      ocsp_request = base64_decode(decoded).value_or(Bytes{});
    }

    const Fault fault = m_impl.fault_for(endpoint);
    switch (fault) {
      case Fault::hang_up:
        return;  // nothing sent: the connection closes when the handler returns (keep-alive is off)
      case Fault::http_500:
        send_text(resp, HTTPResponse::HTTP_INTERNAL_SERVER_ERROR, "injected fault: HTTP 500\n");
        return;
      case Fault::garbage: {
        Bytes junk(512);
        RAND_bytes(junk.data(), static_cast<int>(junk.size()));
        junk[0] = 0x05;  // never a SEQUENCE
        send_bytes(resp, HTTPResponse::HTTP_OK, content_type(endpoint), junk);
        return;
      }
      case Fault::huge_body: {
        resp.setStatus(HTTPResponse::HTTP_OK);
        resp.setContentType(content_type(endpoint));
        resp.setChunkedTransferEncoding(true);
        std::ostream& out = resp.send();
        const std::string chunk(64u << 10, '\0');
        for (std::size_t sent = 0; sent < kHugeBodyBytes && out.good(); sent += chunk.size()) {
          out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
        }
        return;
      }
      default:
        break;
    }

    Bytes body;
    switch (endpoint) {
      case Endpoint::crl: {
        auto crl = m_impl.crl_for(name, fault == Fault::crl_bad_signature);
        if (!crl) {
          send_text(resp, HTTPResponse::HTTP_NOT_FOUND, "no CA named " + name + "\n");
          return;
        }
        body = std::move(*crl);
        break;
      }
      case Endpoint::certs: {
        auto cert = m_impl.cert_for(name);
        if (!cert) {
          send_text(resp, HTTPResponse::HTTP_NOT_FOUND, "no CA named " + name + "\n");
          return;
        }
        body = std::move(*cert);
        break;
      }
      default:
        body = m_impl.ocsp_answer(*ocsp_request, fault);
        break;
    }
    if (fault == Fault::truncated) {
      body.resize(body.size() / 2);
    }
    send_bytes(resp, HTTPResponse::HTTP_OK, content_type(endpoint), body);
  }

  static std::string content_type(Endpoint e) {
    switch (e) {
      case Endpoint::crl:
        return "application/pkix-crl";
      case Endpoint::certs:
        return "application/pkix-cert";
      default:
        return "application/ocsp-response";
    }
  }

  State& m_impl;
};

class HandlerFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit HandlerFactory(State& impl) : m_impl(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(m_impl);  // Poco takes ownership
  }

 private:
  State& m_impl;
};

}  // namespace

struct DevRevocationServer::Impl {
  State state;
  std::string host;
  std::unique_ptr<Poco::Net::ServerSocket> socket;
  std::unique_ptr<Poco::ThreadPool> pool;
  std::unique_ptr<Poco::Net::HTTPServer> server;
  std::mutex life_mu;
  bool stopped = false;
  int bound_port = 0;

  explicit Impl(const Clock& c) : state(c) {}
};

DevRevocationServer::DevRevocationServer(Key) {}

DevRevocationServer::~DevRevocationServer() {
  try {
    stop();
  } catch (...) {
    // nothing sensible to do while destroying
  }
}

Result<std::unique_ptr<DevRevocationServer>> DevRevocationServer::start(const std::string& host, int port, const Clock& clock) {
  if (port < 0 || port > 65535) {
    return fail(Errc::invalid_argument, "dev revocation server: port " + std::to_string(port) + " is out of range");
  }
  auto server = std::make_unique<DevRevocationServer>(Key{});
  server->m_impl = std::make_unique<Impl>(clock);
  Impl& impl = *server->m_impl;
  impl.host = host;
  // The server's threads must not die of SIGPIPE when a client hangs up mid-answer (Fault::huge_body):
  // every thread they start from here inherits a mask with SIGPIPE blocked, so writes fail with EPIPE.
  SigpipeBlock block;
  try {
    // SO_REUSEADDR but not SO_REUSEPORT (Poco's two-argument constructor sets both): a busy port is an error.
    impl.socket = std::make_unique<Poco::Net::ServerSocket>();
    impl.socket->bind(Poco::Net::SocketAddress(host, static_cast<Poco::UInt16>(port)), true, false);
    impl.socket->listen(64);
    impl.bound_port = impl.socket->address().port();
    impl.pool = std::make_unique<Poco::ThreadPool>(1, 8);
    Poco::Net::HTTPServerParams::Ptr params = new Poco::Net::HTTPServerParams;
    params->setMaxThreads(6);
    params->setMaxQueued(64);
    params->setTimeout(Poco::Timespan(10, 0));
    params->setKeepAlive(false);  // one request per connection: stop() never waits on idle keep-alives
    impl.server = std::make_unique<Poco::Net::HTTPServer>(new HandlerFactory(impl.state), *impl.pool, *impl.socket, params);
    impl.server->start();
  } catch (const Poco::Exception& e) {
    return fail(Errc::network, "dev revocation server: cannot listen on " + host + ":" + std::to_string(port) + ": " + e.displayText());
  }
  return server;
}

int DevRevocationServer::port() const { return m_impl->bound_port; }

std::string DevRevocationServer::base_url() const {
  std::string h = m_impl->host;
  if (h.empty() || h == "0.0.0.0" || h == "::" || h == "[::]") {
    h = "127.0.0.1";
  } else if (h.find(':') != std::string::npos && h.front() != '[') {
    h = "[" + h + "]";
  }
  return "http://" + h + ":" + std::to_string(port());
}

Result<void> DevRevocationServer::add_ca(const X509* ca, const EVP_PKEY* key, std::string name) {
  if (ca == nullptr || key == nullptr) {
    return fail(Errc::invalid_argument, "dev revocation server: add_ca needs a certificate and a key");
  }
  if (!valid_name(name)) {
    return fail(Errc::invalid_argument, "dev revocation server: bad CA name '" + name + "' (letters, digits, '.', '_', '-')");
  }
  if (X509_check_private_key(ca, key) != 1) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, "dev revocation server: the key does not match the certificate of " + name);
  }
  ossl::X509Ptr cert(X509_dup(const_cast<X509*>(ca)));
  ossl::EvpPkeyPtr copy(EVP_PKEY_dup(const_cast<EVP_PKEY*>(key)));
  if (!cert || !copy) {
    return std::unexpected(openssl_error(Errc::crypto, "dev revocation server: cannot copy the CA"));
  }
  std::lock_guard lock(m_impl->state.mu);
  for (auto& e : m_impl->state.cas) {
    if (e.name == name && X509_cmp(e.cert.get(), ca) != 0) {
      e.name.clear();  // the name moves to the new CA
    }
  }
  if (CaEntry* existing = m_impl->state.find_ca(ca)) {
    existing->key = std::move(copy);
    existing->name = std::move(name);
    return {};
  }
  CaEntry entry;
  entry.cert = std::move(cert);
  entry.key = std::move(copy);
  entry.name = std::move(name);
  m_impl->state.cas.push_back(std::move(entry));
  return {};
}

Result<void> DevRevocationServer::set_responder(const X509* ca, const X509* responder_cert, const EVP_PKEY* responder_key) {
  if (ca == nullptr || (responder_cert == nullptr) != (responder_key == nullptr)) {
    return fail(Errc::invalid_argument, "dev revocation server: set_responder needs a CA, and a certificate with its key (or neither)");
  }
  if (responder_cert == nullptr) {
    std::lock_guard lock(m_impl->state.mu);
    CaEntry* e = m_impl->state.find_ca(ca);
    if (e == nullptr) {
      return fail(Errc::invalid_argument, "dev revocation server: set_responder for a CA that is not registered");
    }
    e->responder.reset();
    e->responder_key.reset();
    return {};
  }
  if (X509_check_private_key(responder_cert, responder_key) != 1) {
    clear_openssl_errors();
    return fail(Errc::invalid_argument, "dev revocation server: the responder key does not match its certificate");
  }
  ossl::X509Ptr cert(X509_dup(const_cast<X509*>(responder_cert)));
  ossl::EvpPkeyPtr key(EVP_PKEY_dup(const_cast<EVP_PKEY*>(responder_key)));
  if (!cert || !key) {
    return std::unexpected(openssl_error(Errc::crypto, "dev revocation server: cannot copy the responder"));
  }
  std::lock_guard lock(m_impl->state.mu);
  CaEntry* e = m_impl->state.find_ca(ca);
  if (e == nullptr) {
    return fail(Errc::invalid_argument, "dev revocation server: set_responder for a CA that is not registered");
  }
  e->responder = std::move(cert);
  e->responder_key = std::move(key);
  return {};
}

Result<void> DevRevocationServer::revoke(const X509* ca, const X509* cert, TimePoint when, int reason) {
  if (cert == nullptr) {
    return fail(Errc::invalid_argument, "dev revocation server: revoke needs a certificate");
  }
  return revoke(ca, ossl::serial_hex(cert), when, reason);
}

Result<void> DevRevocationServer::revoke(const X509* ca, std::string_view serial_hex, TimePoint when, int reason) {
  const auto serial = normalize_serial(serial_hex);
  if (ca == nullptr || !serial) {
    return fail(Errc::invalid_argument, "dev revocation server: revoke needs a CA and a hex serial");
  }
  if (reason < 0 || reason > 10 || reason == 7) {
    return fail(Errc::invalid_argument, "dev revocation server: CRLReason " + std::to_string(reason) + " is not defined (RFC 5280 section 5.3.1)");
  }
  std::lock_guard lock(m_impl->state.mu);
  CaEntry* e = m_impl->state.find_ca(ca);
  if (e == nullptr) {
    return fail(Errc::invalid_argument, "dev revocation server: revoke for a CA that is not registered");
  }
  e->revoked[*serial] = RevokedEntry{when, reason};
  e->unknown.erase(*serial);
  return {};
}

Result<void> DevRevocationServer::set_unknown(const X509* ca, std::string_view serial_hex) {
  const auto serial = normalize_serial(serial_hex);
  if (ca == nullptr || !serial) {
    return fail(Errc::invalid_argument, "dev revocation server: set_unknown needs a CA and a hex serial");
  }
  std::lock_guard lock(m_impl->state.mu);
  CaEntry* e = m_impl->state.find_ca(ca);
  if (e == nullptr) {
    return fail(Errc::invalid_argument, "dev revocation server: set_unknown for a CA that is not registered");
  }
  e->unknown.insert(*serial);
  e->revoked.erase(*serial);
  return {};
}

void DevRevocationServer::set_fault(Fault fault, Endpoint where) {
  std::lock_guard lock(m_impl->state.mu);
  if (where == Endpoint::all || where == Endpoint::crl) {
    m_impl->state.crl_fault = fault;
  }
  if (where == Endpoint::all || where == Endpoint::ocsp) {
    m_impl->state.ocsp_fault = fault;
  }
  if (where == Endpoint::all || where == Endpoint::certs) {
    m_impl->state.certs_fault = fault;
  }
}

std::size_t DevRevocationServer::request_count() const { return m_impl->state.requests.load(); }

void DevRevocationServer::stop() {
  if (!m_impl) {
    return;
  }
  std::lock_guard lock(m_impl->life_mu);
  if (m_impl->stopped) {
    return;
  }
  m_impl->stopped = true;
  if (m_impl->server) {
    m_impl->server->stopAll(false);
  }
  if (m_impl->pool) {
    m_impl->pool->joinAll();
  }
  if (m_impl->socket) {
    m_impl->socket->close();
  }
}

// ---- the development PKI ------------------------------------------------------------

Result<void> serve_dev_pki(DevRevocationServer& server, const DevPki& pki, TimePoint revoked_at) {
  try {
    for (const char* id : {"hpki-root", "hpki-signing-ca", "jpki-root", "tsa-root"}) {
      const DevPkiItem& item = pki.get(id);
      auto certs = ossl::load_certificates(item.cert.string());
      if (!certs) {
        return std::unexpected(certs.error());
      }
      auto key = ossl::load_private_key(item.key.string());
      if (!key) {
        return std::unexpected(key.error());
      }
      if (auto r = server.add_ca(certs->front().get(), key->get(), id); !r) {
        return r;
      }
    }
    auto ca = ossl::load_certificates(pki.get("hpki-signing-ca").cert.string());
    auto revoked = ossl::load_certificates(pki.get("revoked").cert.string());
    if (!ca || !revoked) {
      return std::unexpected(!ca ? ca.error() : revoked.error());
    }
    return server.revoke(ca->front().get(), revoked->front().get(), revoked_at, 1 /* keyCompromise */);
  } catch (const std::out_of_range& e) {
    return fail(Errc::invalid_argument, std::string("serve_dev_pki: ") + e.what());
  }
}

Result<void> serve_dev_pki(DevRevocationServer& server, const DevPki& pki) {
  if (!pki.created) {
    return fail(Errc::invalid_argument, "serve_dev_pki: the dev PKI does not say when it was created");
  }
  return serve_dev_pki(server, pki, *pki.created);
}

}  // namespace hanko::certstore
