#include "hanko/certstore/dev_revocation_server.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>

#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/revocation.h"
#include "hanko/common/base64.h"
#include "hanko/common/http_client.h"
#include "hanko/common/ossl.h"
#include "hanko/store/database.h"
#include "test_support.h"
#include "test_util.h"

namespace hanko::certstore {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::item_cert;
using testing::item_key;
using Fault = DevRevocationServer::Fault;
using Endpoint = DevRevocationServer::Endpoint;

TimePoint t0() { return test::sign_time(); }
std::string subject(const X509* c) { return ossl::name_to_string(X509_get_subject_name(c)); }

HttpClient test_http(std::size_t max_bytes = 4u << 20) {
  HttpOptions o;
  o.connect_timeout = 2000ms;
  o.total_timeout = 20000ms;
  o.max_response_bytes = max_bytes;
  return HttpClient(o);
}

ossl::OcspResponsePtr parse_response(const std::string& body) {
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  ossl::OcspResponsePtr r(d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(body.size())));
  ERR_clear_error();
  return r;
}

/** An OCSP request for `cert` (SHA-1 CertID), with a nonce when asked. */
ossl::OcspRequestPtr make_request(const X509* cert, const X509* issuer, bool nonce = true) {
  ossl::OcspRequestPtr req(OCSP_REQUEST_new());
  ossl::OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), cert, issuer));
  if (!req || !id || OCSP_request_add0_id(req.get(), id.get()) == nullptr) {
    throw std::runtime_error("OCSP request");
  }
  id.release();
  if (nonce) {
    OCSP_request_add1_nonce(req.get(), nullptr, -1);
  }
  return req;
}

std::string request_body(OCSP_REQUEST* req) { return to_string(ossl::to_der<i2d_OCSP_REQUEST>(req)); }

/** Whether the basic response's signature verifies with `signer`'s key (nothing else is checked). */
bool signature_ok(OCSP_BASICRESP* bs, const X509* signer) {
  ossl::X509ViewStackPtr certs(sk_X509_new_null());
  sk_X509_push(certs.get(), const_cast<X509*>(signer));
  ossl::X509StorePtr store(X509_STORE_new());
  const int rc = OCSP_basic_verify(bs, certs.get(), store.get(), OCSP_NOINTERN | OCSP_NOVERIFY);
  ERR_clear_error();
  return rc == 1;
}

class DevRevocationServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const DevPki& pki = testing::current_pki();
    ca = item_cert(pki, "hpki-signing-ca");
    ca_key = item_key(pki, "hpki-signing-ca");
    root = item_cert(pki, "hpki-root");
    root_key = item_key(pki, "hpki-root");
    doctor = item_cert(pki, "doctor");
    tsa = item_cert(pki, "tsa");
    tsa_root = item_cert(pki, "tsa-root");
    auto s = DevRevocationServer::start("127.0.0.1", 0, clock);
    ASSERT_TRUE(s) << s.error().message;
    server = std::move(*s);
    ASSERT_TRUE(server->add_ca(ca.get(), ca_key.get(), "hpki-signing-ca"));
    ASSERT_TRUE(server->add_ca(root.get(), root_key.get(), "hpki-root"));
  }

  std::string url(std::string_view path) const { return server->base_url() + std::string(path); }

  Result<HttpResponse> post_ocsp(const std::string& body, std::string_view type = "application/ocsp-request") const {
    return http.post(url("/ocsp"), type, body);
  }

  /** POSTs a request for `cert`; fails the test unless HTTP 200 with a parseable OCSPResponse. */
  ossl::OcspResponsePtr ask(OCSP_REQUEST* req) const {
    auto r = post_ocsp(request_body(req));
    if (!r || r->status != 200) {
      ADD_FAILURE() << (r ? "HTTP " + std::to_string(r->status) : r.error().message);
      return nullptr;
    }
    EXPECT_EQ(r->content_type, "application/ocsp-response");
    auto resp = parse_response(r->body);
    EXPECT_TRUE(resp);
    return resp;
  }

  ossl::X509CrlPtr get_crl(const std::string& name) const {
    auto r = http.get(url("/crl/" + name + ".crl"));
    if (!r || r->status != 200) {
      ADD_FAILURE() << (r ? "HTTP " + std::to_string(r->status) : r.error().message);
      return nullptr;
    }
    EXPECT_EQ(r->content_type, "application/pkix-crl");
    return ossl::x509_crl_from_der(as_bytes(r->body));
  }

  FixedClock clock{t0()};
  std::unique_ptr<DevRevocationServer> server;
  HttpClient http = test_http();
  ossl::X509Ptr ca, root, doctor, tsa, tsa_root;
  ossl::EvpPkeyPtr ca_key, root_key;
};

TEST_F(DevRevocationServerTest, ListensOnAFreePortAndNamesItsBaseUrl) {
  EXPECT_GT(server->port(), 0);
  EXPECT_EQ(server->base_url(), "http://127.0.0.1:" + std::to_string(server->port()));
}

TEST(DevRevocationServerStart, RefusesBadAndBusyPorts) {
  FixedClock clock(t0());
  for (int port : {-1, 65536, 100000}) {
    auto r = DevRevocationServer::start("127.0.0.1", port, clock);
    ASSERT_FALSE(r) << port;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
  }
  auto first = DevRevocationServer::start("127.0.0.1", 0, clock);
  ASSERT_TRUE(first) << first.error().message;
  auto second = DevRevocationServer::start("127.0.0.1", (*first)->port(), clock);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, Errc::network);
  EXPECT_NE(second.error().message.find(std::to_string((*first)->port())), std::string::npos) << second.error().message;
}

TEST_F(DevRevocationServerTest, ServesTheCaCertificates) {
  auto r = http.get(url("/certs/hpki-signing-ca.der"));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "application/pkix-cert");
  EXPECT_EQ(to_bytes(r->body), ossl::x509_to_der(ca.get()));
  auto missing = http.get(url("/certs/jpki-root.der"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(DevRevocationServerTest, CrlIsSignedAtTheClockTime) {
  ASSERT_TRUE(server->revoke(ca.get(), doctor.get(), t0() - 1h, 1));
  auto crl = get_crl("hpki-signing-ca");
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(ca.get())), 0);
  EXPECT_EQ(ossl::asn1_time_to_timepoint(X509_CRL_get0_lastUpdate(crl.get())), t0());
  EXPECT_EQ(ossl::asn1_time_to_timepoint(X509_CRL_get0_nextUpdate(crl.get())), t0() + DevRevocationServer::crl_validity);
  X509_REVOKED* entry = nullptr;
  ASSERT_EQ(X509_CRL_get0_by_cert(crl.get(), &entry, doctor.get()), 1);
  EXPECT_EQ(ossl::asn1_time_to_timepoint(X509_REVOKED_get0_revocationDate(entry)), t0() - 1h);
  ossl::Asn1EnumeratedPtr reason(static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr)));
  ASSERT_TRUE(reason);
  EXPECT_EQ(ASN1_ENUMERATED_get(reason.get()), 1);
  ossl::Asn1IntegerPtr number(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(crl.get(), NID_crl_number, nullptr, nullptr)));
  ASSERT_TRUE(number);
  EXPECT_EQ(ASN1_INTEGER_get(number.get()), 1);

  clock.advance(3600s);
  auto later = get_crl("hpki-signing-ca");
  ASSERT_TRUE(later);
  EXPECT_EQ(ossl::asn1_time_to_timepoint(X509_CRL_get0_lastUpdate(later.get())), t0() + 1h);
  ossl::Asn1IntegerPtr number2(static_cast<ASN1_INTEGER*>(X509_CRL_get_ext_d2i(later.get(), NID_crl_number, nullptr, nullptr)));
  EXPECT_EQ(ASN1_INTEGER_get(number2.get()), 2);
  // The root's CRL is its own, and lists nothing.
  auto root_crl = get_crl("hpki-root");
  ASSERT_TRUE(root_crl);
  EXPECT_EQ(X509_CRL_verify(root_crl.get(), X509_get0_pubkey(root.get())), 1);
  EXPECT_LE(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(root_crl.get())), 0);  // -1: no list at all
  auto unknown = http.get(url("/crl/jpki-root.crl"));
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
}

TEST_F(DevRevocationServerTest, OcspAnswersAtTheClockTimeWithTheNonce) {
  auto req = make_request(doctor.get(), ca.get());
  auto resp = ask(req.get());
  ASSERT_TRUE(resp);
  ASSERT_EQ(OCSP_response_status(resp.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
  ossl::OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  ASSERT_TRUE(bs);
  EXPECT_EQ(OCSP_check_nonce(req.get(), bs.get()), 1);
  EXPECT_EQ(ossl::asn1_time_to_timepoint(OCSP_resp_get0_produced_at(bs.get())), t0());
  EXPECT_TRUE(signature_ok(bs.get(), ca.get()));
  EXPECT_FALSE(signature_ok(bs.get(), root.get()));
  EXPECT_LE(sk_X509_num(OCSP_resp_get0_certs(bs.get())), 0);  // the CA signs: no certificates (-1: no list at all)
  ossl::OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), doctor.get(), ca.get()));
  int status = -1;
  int reason = -1;
  ASN1_GENERALIZEDTIME *rev = nullptr, *thisupd = nullptr, *nextupd = nullptr;
  ASSERT_EQ(OCSP_resp_find_status(bs.get(), id.get(), &status, &reason, &rev, &thisupd, &nextupd), 1);
  EXPECT_EQ(status, V_OCSP_CERTSTATUS_GOOD);
  EXPECT_EQ(ossl::asn1_time_to_timepoint(thisupd), t0());
  EXPECT_EQ(ossl::asn1_time_to_timepoint(nextupd), t0() + DevRevocationServer::ocsp_validity);
  // Without a nonce in the request, none in the response.
  auto plain = make_request(doctor.get(), ca.get(), false);
  auto plain_resp = ask(plain.get());
  ASSERT_TRUE(plain_resp);
  ossl::OcspBasicRespPtr plain_bs(OCSP_response_get1_basic(plain_resp.get()));
  ASSERT_TRUE(plain_bs);
  EXPECT_EQ(OCSP_check_nonce(plain.get(), plain_bs.get()), 2);
}

TEST_F(DevRevocationServerTest, OcspStatuses) {
  const DevPki& pki = testing::current_pki();
  auto revoked = item_cert(pki, "revoked");
  auto nurse = item_cert(pki, "nurse");
  ASSERT_TRUE(server->revoke(ca.get(), revoked.get(), t0() - 2h, 4));
  // Serials as hex, case-insensitively.
  std::string nurse_serial = ossl::serial_hex(nurse.get());
  std::transform(nurse_serial.begin(), nurse_serial.end(), nurse_serial.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  ASSERT_TRUE(server->set_unknown(ca.get(), nurse_serial));
  struct Case {
    const char* name;
    const X509* cert;
    const X509* issuer;
    int status;
  };
  const std::vector<Case> cases = {
      {"good", doctor.get(), ca.get(), V_OCSP_CERTSTATUS_GOOD},
      {"revoked", revoked.get(), ca.get(), V_OCSP_CERTSTATUS_REVOKED},
      {"marked unknown", nurse.get(), ca.get(), V_OCSP_CERTSTATUS_UNKNOWN},
      {"issuer not registered", tsa.get(), tsa_root.get(), V_OCSP_CERTSTATUS_UNKNOWN},
      {"the signing CA against the root", ca.get(), root.get(), V_OCSP_CERTSTATUS_GOOD},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto req = make_request(c.cert, c.issuer);
    auto resp = ask(req.get());
    ASSERT_TRUE(resp);
    ossl::OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
    ASSERT_TRUE(bs);
    ossl::OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), c.cert, c.issuer));
    int status = -1;
    int reason = -1;
    ASN1_GENERALIZEDTIME* rev = nullptr;
    ASSERT_EQ(OCSP_resp_find_status(bs.get(), id.get(), &status, &reason, &rev, nullptr, nullptr), 1);
    EXPECT_EQ(status, c.status);
    if (status == V_OCSP_CERTSTATUS_REVOKED) {
      EXPECT_EQ(ossl::asn1_time_to_timepoint(rev), t0() - 2h);
      EXPECT_EQ(reason, 4);
    }
  }
}

TEST_F(DevRevocationServerTest, OcspGetMethod) {
  // RFC 6960 appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER encoding of the OCSPRequest}
  auto req = make_request(doctor.get(), ca.get(), false);
  std::string encoded;
  for (char c : base64_encode(ossl::to_der<i2d_OCSP_REQUEST>(req.get()))) {
    if (c == '+' || c == '/' || c == '=') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned char>(c));
      encoded += buf;
    } else {
      encoded += c;
    }
  }
  auto r = http.get(url("/ocsp/" + encoded));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  auto resp = parse_response(r->body);
  ASSERT_TRUE(resp);
  EXPECT_EQ(OCSP_response_status(resp.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
}

TEST_F(DevRevocationServerTest, MalformedRequestsAreAnsweredAndTheServerStaysUp) {
  struct Case {
    const char* name;
    std::function<Result<HttpResponse>()> send;
    long http_status;
    int ocsp_status;  // -1: no OCSP response expected
  };
  const std::string big(DevRevocationServer::max_request_bytes + 1, '\x30');
  const std::vector<Case> cases = {
      {"garbage body", [&] { return post_ocsp("not DER at all"); }, 200, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST},
      {"empty body", [&] { return post_ocsp(""); }, 200, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST},
      {"truncated request", [&] {
         auto req = make_request(doctor.get(), ca.get());
         std::string body = request_body(req.get());
         return post_ocsp(body.substr(0, body.size() - 3));
       }, 200, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST},
      {"GET with bad base64", [&] { return http.get(url("/ocsp/%%%not-base64")); }, 200, OCSP_RESPONSE_STATUS_MALFORMEDREQUEST},
      {"wrong Content-Type", [&] { return post_ocsp("x", "text/plain"); }, 415, -1},
      {"oversized body", [&] { return post_ocsp(big); }, 413, -1},
      {"GET /ocsp without a request", [&] { return http.get(url("/ocsp")); }, 405, -1},
      {"POST to a CRL", [&] { return http.post(url("/crl/hpki-root.crl"), "application/ocsp-request", "x"); }, 405, -1},
      {"unknown path", [&] { return http.get(url("/nothing-here")); }, 404, -1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = c.send();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, c.http_status);
    if (c.ocsp_status >= 0) {
      auto resp = parse_response(r->body);
      ASSERT_TRUE(resp);
      EXPECT_EQ(OCSP_response_status(resp.get()), c.ocsp_status);
    }
  }
  auto req = make_request(doctor.get(), ca.get());
  auto resp = ask(req.get());
  ASSERT_TRUE(resp);
  EXPECT_EQ(OCSP_response_status(resp.get()), OCSP_RESPONSE_STATUS_SUCCESSFUL);
}

TEST_F(DevRevocationServerTest, DelegatedResponderSignsAndIsIncluded) {
  const DevPki& pki = testing::current_pki();
  auto responder = item_cert(pki, "ocsp-responder");
  auto responder_key = item_key(pki, "ocsp-responder");
  ASSERT_TRUE(server->set_responder(ca.get(), responder.get(), responder_key.get()));
  auto req = make_request(doctor.get(), ca.get());
  auto resp = ask(req.get());
  ASSERT_TRUE(resp);
  ossl::OcspBasicRespPtr bs(OCSP_response_get1_basic(resp.get()));
  ASSERT_TRUE(bs);
  EXPECT_TRUE(signature_ok(bs.get(), responder.get()));
  EXPECT_FALSE(signature_ok(bs.get(), ca.get()));
  ASSERT_EQ(sk_X509_num(OCSP_resp_get0_certs(bs.get())), 1);
  EXPECT_EQ(X509_cmp(sk_X509_value(OCSP_resp_get0_certs(bs.get()), 0), responder.get()), 0);

  ASSERT_TRUE(server->set_responder(ca.get(), nullptr, nullptr));  // back to the CA
  auto again = ask(make_request(doctor.get(), ca.get()).get());
  ASSERT_TRUE(again);
  ossl::OcspBasicRespPtr bs2(OCSP_response_get1_basic(again.get()));
  ASSERT_TRUE(bs2);
  EXPECT_TRUE(signature_ok(bs2.get(), ca.get()));

  EXPECT_FALSE(server->set_responder(tsa_root.get(), responder.get(), responder_key.get()));  // not registered
  EXPECT_FALSE(server->set_responder(ca.get(), responder.get(), ca_key.get()));               // key does not match
  EXPECT_FALSE(server->set_responder(ca.get(), responder.get(), nullptr));
}

TEST_F(DevRevocationServerTest, FaultsAreObservable) {
  auto req = make_request(doctor.get(), ca.get());
  auto full_crl = http.get(url("/crl/hpki-signing-ca.crl"));
  ASSERT_TRUE(full_crl);
  struct Case {
    const char* name;
    Fault fault;
    Endpoint where;
    std::function<void()> expect;
  };
  auto basic_of = [&](const Result<HttpResponse>& r) -> ossl::OcspBasicRespPtr {
    EXPECT_TRUE(r && r->status == 200);
    if (!r) {
      return nullptr;
    }
    auto resp = parse_response(r->body);
    return resp ? ossl::OcspBasicRespPtr(OCSP_response_get1_basic(resp.get())) : nullptr;
  };
  const std::vector<Case> cases = {
      {"http_500", Fault::http_500, Endpoint::ocsp, [&] { EXPECT_EQ(post_ocsp(request_body(req.get()))->status, 500); }},
      {"garbage", Fault::garbage, Endpoint::crl,
       [&] {
         auto r = http.get(url("/crl/hpki-signing-ca.crl"));
         ASSERT_TRUE(r);
         EXPECT_EQ(r->status, 200);
         EXPECT_FALSE(ossl::x509_crl_from_der(as_bytes(r->body)));
       }},
      {"truncated", Fault::truncated, Endpoint::crl,
       [&] {
         auto r = http.get(url("/crl/hpki-signing-ca.crl"));
         ASSERT_TRUE(r);
         EXPECT_EQ(r->body.size(), full_crl->body.size() / 2);
         EXPECT_FALSE(ossl::x509_crl_from_der(as_bytes(r->body)));
       }},
      {"huge_body", Fault::huge_body, Endpoint::crl,
       [&] {
         auto r = test_http(1u << 20).get(url("/crl/hpki-signing-ca.crl"));
         ASSERT_FALSE(r);
         EXPECT_EQ(r.error().code, Errc::too_large) << r.error().message;
       }},
      {"crl_bad_signature", Fault::crl_bad_signature, Endpoint::crl,
       [&] {
         auto r = http.get(url("/crl/hpki-signing-ca.crl"));
         ASSERT_TRUE(r);
         auto crl = ossl::x509_crl_from_der(as_bytes(r->body));
         ASSERT_TRUE(crl);
         EXPECT_NE(X509_CRL_verify(crl.get(), X509_get0_pubkey(ca.get())), 1);
         ERR_clear_error();
       }},
      {"ocsp_bad_signature", Fault::ocsp_bad_signature, Endpoint::ocsp,
       [&] {
         auto bs = basic_of(post_ocsp(request_body(req.get())));
         ASSERT_TRUE(bs);
         EXPECT_FALSE(signature_ok(bs.get(), ca.get()));
       }},
      {"ocsp_try_later", Fault::ocsp_try_later, Endpoint::ocsp,
       [&] {
         auto r = post_ocsp(request_body(req.get()));
         ASSERT_TRUE(r);
         auto resp = parse_response(r->body);
         ASSERT_TRUE(resp);
         EXPECT_EQ(OCSP_response_status(resp.get()), OCSP_RESPONSE_STATUS_TRYLATER);
       }},
      {"ocsp_other_cert", Fault::ocsp_other_cert, Endpoint::ocsp,
       [&] {
         auto bs = basic_of(post_ocsp(request_body(req.get())));
         ASSERT_TRUE(bs);
         ossl::OcspCertIdPtr id(OCSP_cert_to_id(EVP_sha1(), doctor.get(), ca.get()));
         EXPECT_LT(OCSP_resp_find(bs.get(), id.get(), -1), 0);
         EXPECT_EQ(OCSP_resp_count(bs.get()), 1);
         EXPECT_TRUE(signature_ok(bs.get(), ca.get()));  // well signed, just about someone else
       }},
      {"drop_nonce", Fault::drop_nonce, Endpoint::ocsp,
       [&] {
         auto bs = basic_of(post_ocsp(request_body(req.get())));
         ASSERT_TRUE(bs);
         EXPECT_EQ(OCSP_check_nonce(req.get(), bs.get()), -1);  // -1: in the request only
       }},
      {"hang_up", Fault::hang_up, Endpoint::all,
       [&] {
         auto r = post_ocsp(request_body(req.get()));
         ASSERT_FALSE(r);
         EXPECT_EQ(r.error().code, Errc::network);
         auto g = http.get(url("/certs/hpki-signing-ca.der"));
         ASSERT_FALSE(g);
       }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    server->set_fault(c.fault, c.where);
    c.expect();
    server->set_fault(Fault::none);
  }
  EXPECT_TRUE(ask(req.get()));  // and the server is fine afterwards
}

TEST_F(DevRevocationServerTest, FaultsApplyPerEndpoint) {
  server->set_fault(Fault::http_500, Endpoint::ocsp);
  auto crl = http.get(url("/crl/hpki-signing-ca.crl"));
  ASSERT_TRUE(crl);
  EXPECT_EQ(crl->status, 200);
  auto cert = http.get(url("/certs/hpki-root.der"));
  ASSERT_TRUE(cert);
  EXPECT_EQ(cert->status, 200);
  auto ocsp = post_ocsp(request_body(make_request(doctor.get(), ca.get()).get()));
  ASSERT_TRUE(ocsp);
  EXPECT_EQ(ocsp->status, 500);
  server->set_fault(Fault::http_500, Endpoint::certs);
  server->set_fault(Fault::none, Endpoint::ocsp);
  EXPECT_EQ(http.get(url("/certs/hpki-root.der"))->status, 500);
  EXPECT_EQ(post_ocsp(request_body(make_request(doctor.get(), ca.get()).get()))->status, 200);
}

TEST_F(DevRevocationServerTest, RequestCountAndIdempotentStop) {
  EXPECT_EQ(server->request_count(), 0u);
  ASSERT_TRUE(http.get(url("/crl/hpki-root.crl")));
  ASSERT_TRUE(http.get(url("/nothing")));
  ASSERT_TRUE(post_ocsp("junk"));
  EXPECT_EQ(server->request_count(), 3u);
  server->stop();
  server->stop();
  auto r = http.get(url("/crl/hpki-root.crl"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
  EXPECT_EQ(server->request_count(), 3u);
}

TEST_F(DevRevocationServerTest, RegistrationIsValidated) {
  EXPECT_FALSE(server->add_ca(nullptr, ca_key.get(), "x"));
  EXPECT_FALSE(server->add_ca(ca.get(), nullptr, "x"));
  EXPECT_FALSE(server->add_ca(ca.get(), root_key.get(), "x"));  // key of another certificate
  for (const char* bad : {"", "../etc", "a/b", "a b", "crl?x"}) {
    EXPECT_FALSE(server->add_ca(ca.get(), ca_key.get(), bad)) << bad;
  }
  EXPECT_FALSE(server->revoke(ca.get(), "not-hex", t0(), 1));
  EXPECT_FALSE(server->revoke(ca.get(), "", t0(), 1));
  EXPECT_FALSE(server->revoke(ca.get(), doctor.get(), t0(), 7));   // 7 is not a CRLReason
  EXPECT_FALSE(server->revoke(ca.get(), doctor.get(), t0(), 11));
  EXPECT_FALSE(server->revoke(tsa_root.get(), tsa.get(), t0(), 1));  // CA not registered
  EXPECT_FALSE(server->set_unknown(tsa_root.get(), "01"));
  EXPECT_TRUE(server->revoke(ca.get(), doctor.get(), t0(), 0));
  // A name moves to the CA registered with it last.
  ASSERT_TRUE(server->add_ca(root.get(), root_key.get(), "hpki-signing-ca"));
  auto crl = get_crl("hpki-signing-ca");
  ASSERT_TRUE(crl);
  EXPECT_EQ(X509_NAME_cmp(X509_CRL_get_issuer(crl.get()), X509_get_subject_name(root.get())), 0);
  EXPECT_EQ(http.get(url("/crl/hpki-root.crl"))->status, 404);
}

// ---- the development PKI ----------------------------------------------------------------

TEST(ServeDevPki, RegistersTheCasAndRevokesRevoked) {
  const DevPki& pki = testing::current_pki();
  FixedClock clock(t0());
  auto server = DevRevocationServer::start("127.0.0.1", 0, clock);
  ASSERT_TRUE(server) << server.error().message;
  ASSERT_TRUE(serve_dev_pki(**server, pki));
  const HttpClient http = test_http();
  for (const char* name : {"hpki-root", "hpki-signing-ca", "jpki-root", "tsa-root"}) {
    auto crl = http.get((*server)->base_url() + "/crl/" + name + ".crl");
    ASSERT_TRUE(crl) << name;
    EXPECT_EQ(crl->status, 200) << name;
    auto cert = http.get((*server)->base_url() + "/certs/" + name + ".der");
    ASSERT_TRUE(cert) << name;
    EXPECT_EQ(to_bytes(cert->body), ossl::x509_to_der(item_cert(pki, name).get())) << name;
  }
  auto body = http.get((*server)->base_url() + "/crl/hpki-signing-ca.crl");
  auto crl = ossl::x509_crl_from_der(as_bytes(body->body));
  ASSERT_TRUE(crl);
  auto revoked = item_cert(pki, "revoked");
  X509_REVOKED* entry = nullptr;
  ASSERT_EQ(X509_CRL_get0_by_cert(crl.get(), &entry, revoked.get()), 1);
  EXPECT_EQ(ossl::asn1_time_to_timepoint(X509_REVOKED_get0_revocationDate(entry)), test::pki_time());

  DevPki undated = pki;
  undated.created.reset();
  auto r = serve_dev_pki(**server, undated);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
  DevPki incomplete = pki;
  incomplete.items.clear();
  EXPECT_FALSE(serve_dev_pki(**server, incomplete, t0()));
}

// A PKI generated for the server's URL, served by it, checked by the RevocationChecker: the whole loop.
TEST(ServeDevPki, EndToEndWithAGeneratedPki) {
  FixedClock clock(t0());
  auto started = DevRevocationServer::start("127.0.0.1", 0, clock);
  ASSERT_TRUE(started) << started.error().message;
  DevRevocationServer& server = **started;
  DevPkiOptions opts;
  opts.revocation_base_url = server.base_url();
  auto pki = generate_dev_pki(test::temp_dir("pki-served"), test::pki_time(), opts);
  ASSERT_TRUE(pki) << pki.error().message;
  ASSERT_TRUE(serve_dev_pki(server, *pki));
  auto db = store::Database::open_sqlite(test::temp_dir("pki-served-db") / "hanko.db");
  ASSERT_TRUE(db) << db.error().message;
  const HttpClient http = test_http();
  const TrustStore no_trust;
  RevocationChecker checker(http, no_trust, db->get(), RevocationOptions{});

  struct Case {
    const char* id;
    const char* issuer;
    RevocationStatus status;
    RevocationSourceKind source;
    std::string url;
  };
  const std::string base = server.base_url();
  const std::vector<Case> cases = {
      {"doctor", "hpki-signing-ca", RevocationStatus::good, RevocationSourceKind::ocsp, base + "/ocsp"},
      {"revoked", "hpki-signing-ca", RevocationStatus::revoked, RevocationSourceKind::ocsp, base + "/ocsp"},
      {"sha1", "hpki-signing-ca", RevocationStatus::good, RevocationSourceKind::ocsp, base + "/ocsp"},
      {"jpki-signer", "jpki-root", RevocationStatus::good, RevocationSourceKind::ocsp, base + "/ocsp"},
      // The signing CA has a CDP but no OCSP pointer: the CRL of the root decides.
      {"hpki-signing-ca", "hpki-root", RevocationStatus::good, RevocationSourceKind::crl, base + "/crl/hpki-root.crl"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.id);
    auto cert = item_cert(*pki, c.id);
    auto issuer = item_cert(*pki, c.issuer);
    RevocationResult r = checker.check(cert.get(), issuer.get(), t0());
    EXPECT_EQ(r.status, c.status) << r.message;
    EXPECT_EQ(r.source, c.source) << r.message;
    EXPECT_EQ(r.url, c.url);
    if (c.status == RevocationStatus::revoked) {
      EXPECT_EQ(r.revocation_time, test::pki_time());
      EXPECT_EQ(r.revocation_reason, "keyCompromise");
    }
  }
  // The delegated responder of the dev PKI is accepted; the revoked certificate is revoked by CRL too.
  auto ca = item_cert(*pki, "hpki-signing-ca");
  ASSERT_TRUE(server.set_responder(ca.get(), item_cert(*pki, "ocsp-responder").get(), item_key(*pki, "ocsp-responder").get()));
  auto nurse = item_cert(*pki, "nurse");
  RevocationResult delegated = checker.check(nurse.get(), ca.get(), t0());
  EXPECT_EQ(delegated.status, RevocationStatus::good) << delegated.message;
  EXPECT_EQ(delegated.responder, subject(item_cert(*pki, "ocsp-responder").get()));
  RevocationOptions crl_only;
  crl_only.order = RevocationOrder::crl_only;
  RevocationChecker crl_checker(http, no_trust, db->get(), crl_only);
  auto revoked = item_cert(*pki, "revoked");
  RevocationResult by_crl = crl_checker.check(revoked.get(), ca.get(), t0());
  EXPECT_EQ(by_crl.status, RevocationStatus::revoked) << by_crl.message;
  EXPECT_EQ(by_crl.url, base + "/crl/hpki-signing-ca.crl");
}

}  // namespace
}  // namespace hanko::certstore
