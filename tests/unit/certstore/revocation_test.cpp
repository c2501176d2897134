#include "hanko/certstore/revocation.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

#include "hanko/certstore/dev_pki.h"
#include "hanko/certstore/dev_revocation_server.h"
#include "hanko/common/ossl.h"
#include "hanko/store/database.h"
#include "test_support.h"
#include "test_util.h"

namespace hanko::certstore {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using testing::hx;
using testing::item_cert;
using testing::item_key;
using testing::reissue;
using testing::RevocationPointers;
using Fault = DevRevocationServer::Fault;
using Endpoint = DevRevocationServer::Endpoint;
using Order = RevocationOrder;
using S = RevocationStatus;
using Src = RevocationSourceKind;

/** The pinned validation time; the test server's clock starts there. */
TimePoint t0() { return test::sign_time(); }

std::string subject(const X509* c) { return ossl::name_to_string(X509_get_subject_name(c)); }
bool contains(const std::string& hay, std::string_view needle) { return hay.find(needle) != std::string::npos; }

/** The dev PKI certificates and keys these tests use, loaded once. */
struct Material {
  ossl::X509Ptr root, ca, tsa_root, responder, unauthorized, doctor;
  ossl::EvpPkeyPtr root_key, ca_key, tsa_root_key, responder_key, unauthorized_key, doctor_key;
};

const Material& m() {
  static const Material mat = [] {
    const DevPki& pki = testing::current_pki();
    Material x;
    x.root = item_cert(pki, "hpki-root");
    x.ca = item_cert(pki, "hpki-signing-ca");
    x.tsa_root = item_cert(pki, "tsa-root");
    x.responder = item_cert(pki, "ocsp-responder");
    x.unauthorized = item_cert(pki, "ocsp-unauthorized");
    x.doctor = item_cert(pki, "doctor");
    x.root_key = item_key(pki, "hpki-root");
    x.ca_key = item_key(pki, "hpki-signing-ca");
    x.tsa_root_key = item_key(pki, "tsa-root");
    x.responder_key = item_key(pki, "ocsp-responder");
    x.unauthorized_key = item_key(pki, "ocsp-unauthorized");
    x.doctor_key = item_key(pki, "doctor");
    return x;
  }();
  return mat;
}

HttpClient test_http() {
  HttpOptions o;
  o.connect_timeout = 2000ms;
  o.total_timeout = 20000ms;
  return HttpClient(o);
}

RevocationOptions opts_with(Order order) {
  RevocationOptions o;
  o.order = order;
  return o;
}

/** A loopback URL where nothing listens: a server was started there and stopped. */
std::string closed_base_url() {
  FixedClock clock(t0());
  auto s = DevRevocationServer::start("127.0.0.1", 0, clock);
  if (!s) {
    throw std::runtime_error(s.error().message);
  }
  const std::string url = (*s)->base_url();
  (*s)->stop();
  return url;
}

class RevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = DevRevocationServer::start("127.0.0.1", 0, clock);
    ASSERT_TRUE(s) << s.error().message;
    server = std::move(*s);
    ASSERT_TRUE(server->add_ca(m().ca.get(), m().ca_key.get(), "hpki-signing-ca"));
    ASSERT_TRUE(server->add_ca(m().root.get(), m().root_key.get(), "hpki-root"));
    leaf = fresh_leaf();
  }

  /** A doctor certificate with a new serial, pointing at the test server. */
  ossl::X509Ptr fresh_leaf() const { return reissue(m().doctor.get(), m().ca_key.get(), RevocationPointers{server->base_url()}); }

  RevocationResult check(const X509* cert, RevocationOptions opts, TimePoint at, store::Database* db = nullptr,
                         const TrustStore* trust = nullptr) const {
    RevocationChecker checker(http, trust != nullptr ? *trust : no_trust, db, std::move(opts));
    return checker.check(cert, m().ca.get(), at);
  }
  RevocationResult check(RevocationOptions opts, TimePoint at, store::Database* db = nullptr) const {
    return check(leaf.get(), std::move(opts), at, db);
  }

  std::string crl_url() const { return server->base_url() + "/crl/hpki-signing-ca.crl"; }
  std::string ocsp_url() const { return server->base_url() + "/ocsp"; }

  FixedClock clock{t0()};
  std::unique_ptr<DevRevocationServer> server;
  HttpClient http = test_http();
  TrustStore no_trust;
  ossl::X509Ptr leaf;
};

// ---- good ---------------------------------------------------------------------------------

TEST_F(RevocationTest, CrlGood) {
  RevocationResult r = check(opts_with(Order::crl_only), t0());
  EXPECT_EQ(r.status, S::good) << r.message;
  EXPECT_EQ(r.source, Src::crl);
  EXPECT_EQ(r.url, crl_url());
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(r.this_update, t0());
  EXPECT_EQ(r.next_update, t0() + DevRevocationServer::crl_validity);
  EXPECT_EQ(r.responder, subject(m().ca.get()));
  EXPECT_FALSE(r.revocation_time);
  EXPECT_FALSE(r.revocation_reason);
  EXPECT_TRUE(contains(r.message, "Yamada Taro")) << r.message;
  EXPECT_TRUE(contains(r.message, ossl::serial_hex(leaf.get()))) << r.message;
  EXPECT_TRUE(contains(r.message, crl_url())) << r.message;
  EXPECT_EQ(r.attempts, std::vector<std::string>{"CRL " + crl_url() + ": good"});
  EXPECT_EQ(server->request_count(), 1u);
}

TEST_F(RevocationTest, OcspGood) {
  RevocationResult r = check(opts_with(Order::ocsp_only), t0());
  EXPECT_EQ(r.status, S::good) << r.message;
  EXPECT_EQ(r.source, Src::ocsp);
  EXPECT_EQ(r.url, ocsp_url());
  EXPECT_EQ(r.produced_at, t0());
  EXPECT_EQ(r.this_update, t0());
  EXPECT_EQ(r.next_update, t0() + DevRevocationServer::ocsp_validity);
  EXPECT_EQ(r.responder, subject(m().ca.get()));
  EXPECT_TRUE(contains(r.message, ocsp_url())) << r.message;
  EXPECT_TRUE(contains(r.message, "Yamada Taro")) << r.message;
  EXPECT_EQ(server->request_count(), 1u);
}

TEST_F(RevocationTest, DefaultOrderAsksOcspFirstAndStopsThere) {
  RevocationResult r = check(RevocationOptions{}, t0());
  EXPECT_EQ(r.status, S::good) << r.message;
  EXPECT_EQ(r.source, Src::ocsp);
  EXPECT_EQ(server->request_count(), 1u);  // the CRL was not needed
  RevocationResult c = check(opts_with(Order::crl_then_ocsp), t0());
  EXPECT_EQ(c.status, S::good) << c.message;
  EXPECT_EQ(c.source, Src::crl);
}

// ---- revoked and unknown ---------------------------------------------------------------------

TEST_F(RevocationTest, RevokedIsReportedWithTimeAndReason) {
  struct Case {
    Order order;
    std::chrono::seconds offset;  // revocation time relative to the validation time
    int reason;
    std::optional<std::string> reason_name;
  };
  const std::vector<Case> cases = {
      {Order::crl_only, -1h, 1, "keyCompromise"},
      // Revoked after `at`: still reported revoked, with the time, for the verifier to compare with POE times.
      {Order::crl_only, 1h, 4, "superseded"},
      // unspecified(0): RFC 5280 5.3.1 says leave the reasonCode extension out, so there is no reason.
      {Order::crl_only, -1h, 0, std::nullopt},
      {Order::ocsp_only, -1h, 1, "keyCompromise"},
      {Order::ocsp_only, 1h, 5, "cessationOfOperation"},
      {Order::ocsp_only, -1h, 0, "unspecified"},
      {Order::crl_only, -3h, 6, "certificateHold"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.order == Order::crl_only ? "crl " : "ocsp ") + std::to_string(c.offset.count()) + "s reason " +
                 std::to_string(c.reason));
    auto cert = fresh_leaf();
    ASSERT_TRUE(server->revoke(m().ca.get(), cert.get(), t0() + c.offset, c.reason));
    RevocationResult r = check(cert.get(), opts_with(c.order), t0());
    EXPECT_EQ(r.status, S::revoked) << r.message;
    EXPECT_EQ(r.source, c.order == Order::crl_only ? Src::crl : Src::ocsp);
    EXPECT_EQ(r.revocation_time, t0() + c.offset);
    EXPECT_EQ(r.revocation_reason, c.reason_name);
    EXPECT_TRUE(contains(r.message, "revoked at " + format_rfc3339(t0() + c.offset))) << r.message;
  }
  // The certificate next to them is untouched.
  EXPECT_EQ(check(opts_with(Order::crl_only), t0()).status, S::good);
  EXPECT_EQ(check(opts_with(Order::ocsp_only), t0()).status, S::good);
}

TEST_F(RevocationTest, RemoveFromCrlDoesNotRevoke) {
  ASSERT_TRUE(server->revoke(m().ca.get(), leaf.get(), t0() - 1h, 8));
  RevocationResult r = check(opts_with(Order::crl_only), t0());
  EXPECT_EQ(r.status, S::good) << r.message;
}

TEST_F(RevocationTest, OcspUnknownIsFinal) {
  ASSERT_TRUE(server->set_unknown(m().ca.get(), ossl::serial_hex(leaf.get())));
  RevocationResult r = check(RevocationOptions{}, t0());
  EXPECT_EQ(r.status, S::unknown) << r.message;
  EXPECT_EQ(r.source, Src::ocsp);
  EXPECT_TRUE(contains(r.message, "does not know")) << r.message;
  EXPECT_EQ(server->request_count(), 1u);  // "unknown" is an answer: no CRL fallback
}

// ---- OCSP authorization (RFC 6960 section 4.2.2.2) ------------------------------------------------

TEST_F(RevocationTest, OcspResponderAuthorization) {
  TrustStore tsa_root_trusted;
  tsa_root_trusted.add_anchor(ossl::up_ref(m().tsa_root.get()));
  TrustStore responder_trusted;
  responder_trusted.add_anchor(ossl::up_ref(m().unauthorized.get()));
  // The CA's delegated responder, re-issued so that it expired the day before.
  ossl::X509Ptr expired_responder(X509_dup(m().responder.get()));
  ossl::Asn1TimePtr yesterday = ossl::timepoint_to_asn1(t0() - std::chrono::days{1});
  ASSERT_EQ(X509_set1_notAfter(expired_responder.get(), yesterday.get()), 1);
  ASSERT_GT(X509_sign(expired_responder.get(), m().ca_key.get(), EVP_sha256()), 0);
  struct Case {
    const char* name;
    const X509* responder;
    const EVP_PKEY* key;
    const TrustStore* trust;
    S expected;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"the CA itself", nullptr, nullptr, nullptr, S::good, subject(m().ca.get())},
      {"delegated by the CA with id-kp-OCSPSigning", m().responder.get(), m().responder_key.get(), nullptr, S::good,
       subject(m().responder.get())},
      {"issued by another CA", m().unauthorized.get(), m().unauthorized_key.get(), nullptr, S::invalid, "not authorized"},
      {"issued by another CA that is a local OCSP anchor", m().unauthorized.get(), m().unauthorized_key.get(), &tsa_root_trusted,
       S::good, subject(m().unauthorized.get())},
      {"itself a local OCSP anchor", m().unauthorized.get(), m().unauthorized_key.get(), &responder_trusted, S::good,
       subject(m().unauthorized.get())},
      {"issued by the CA without id-kp-OCSPSigning", m().doctor.get(), m().doctor_key.get(), nullptr, S::invalid,
       "lacks id-kp-OCSPSigning"},
      {"delegated, but expired at producedAt", expired_responder.get(), m().responder_key.get(), nullptr, S::invalid,
       "was not valid at producedAt"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(server->set_responder(m().ca.get(), c.responder, c.key));
    RevocationResult r = check(leaf.get(), opts_with(Order::ocsp_only), t0(), nullptr, c.trust);
    EXPECT_EQ(r.status, c.expected) << r.message;
    EXPECT_TRUE(contains(r.status == S::good ? r.responder : r.message, c.message_part)) << r.message;
    if (r.status == S::invalid) {
      EXPECT_TRUE(contains(r.message, subject(c.responder))) << r.message;
      EXPECT_TRUE(contains(r.message, ocsp_url())) << r.message;
    }
  }
}

// ---- faults and fallback -----------------------------------------------------------------------

TEST_F(RevocationTest, FaultsAndFallback) {
  struct Case {
    const char* name;
    Fault fault;
    Endpoint where;
    Order order;
    S expected;
    Src source;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {"CRL with a bad signature", Fault::crl_bad_signature, Endpoint::crl, Order::crl_only, S::invalid, Src::crl, "signature"},
      {"truncated DER CRL", Fault::truncated, Endpoint::crl, Order::crl_only, S::invalid, Src::crl, "not a DER or PEM CRL"},
      {"garbage CRL", Fault::garbage, Endpoint::crl, Order::crl_only, S::invalid, Src::crl, "not a DER or PEM CRL"},
      {"CRL HTTP 500", Fault::http_500, Endpoint::crl, Order::crl_only, S::unavailable, Src::crl, "HTTP status 500"},
      {"CRL server hangs up", Fault::hang_up, Endpoint::crl, Order::crl_only, S::unavailable, Src::crl, "/crl/hpki-signing-ca.crl"},
      {"OCSP garbage falls back to the CRL", Fault::garbage, Endpoint::ocsp, Order::ocsp_then_crl, S::good, Src::crl,
       "not a DER OCSPResponse"},
      {"OCSP HTTP 500 falls back to the CRL", Fault::http_500, Endpoint::ocsp, Order::ocsp_then_crl, S::good, Src::crl, "HTTP status 500"},
      {"truncated OCSP falls back to the CRL", Fault::truncated, Endpoint::ocsp, Order::ocsp_then_crl, S::good, Src::crl,
       "not a DER OCSPResponse"},
      {"OCSP tryLater falls back to the CRL", Fault::ocsp_try_later, Endpoint::ocsp, Order::ocsp_then_crl, S::good, Src::crl, "trylater"},
      {"OCSP hang-up falls back to the CRL", Fault::hang_up, Endpoint::ocsp, Order::ocsp_then_crl, S::good, Src::crl, "/ocsp"},
      {"OCSP without nonce falls back to the CRL", Fault::drop_nonce, Endpoint::ocsp, Order::ocsp_then_crl, S::good, Src::crl, "nonce"},
      {"OCSP only, tryLater", Fault::ocsp_try_later, Endpoint::ocsp, Order::ocsp_only, S::unavailable, Src::ocsp, "trylater"},
      {"OCSP only, HTTP 500", Fault::http_500, Endpoint::ocsp, Order::ocsp_only, S::unavailable, Src::ocsp, "HTTP status 500"},
      {"OCSP only, hang-up", Fault::hang_up, Endpoint::ocsp, Order::ocsp_only, S::unavailable, Src::ocsp, "/ocsp"},
      {"OCSP nonce dropped", Fault::drop_nonce, Endpoint::ocsp, Order::ocsp_only, S::invalid, Src::ocsp, "nonce"},
      {"OCSP bad signature", Fault::ocsp_bad_signature, Endpoint::ocsp, Order::ocsp_only, S::invalid, Src::ocsp, "signature"},
      {"OCSP response for another certificate", Fault::ocsp_other_cert, Endpoint::ocsp, Order::ocsp_only, S::invalid, Src::ocsp,
       "does not cover"},
      {"CRL down falls forward to OCSP", Fault::http_500, Endpoint::crl, Order::crl_then_ocsp, S::good, Src::ocsp, "HTTP status 500"},
      {"OCSP down does not matter to crl_only", Fault::http_500, Endpoint::ocsp, Order::crl_only, S::good, Src::crl, crl_url()},
      {"CRL down does not matter to ocsp_only", Fault::http_500, Endpoint::crl, Order::ocsp_only, S::good, Src::ocsp, ocsp_url()},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    server->set_fault(Fault::none);
    server->set_fault(c.fault, c.where);
    RevocationResult r = check(opts_with(c.order), t0());
    EXPECT_EQ(r.status, c.expected) << r.message;
    EXPECT_EQ(r.source, c.source) << r.message;
    EXPECT_TRUE(contains(r.message, c.message_part)) << r.message;
    EXPECT_FALSE(r.attempts.empty());
    if (c.order == Order::ocsp_then_crl || c.order == Order::crl_then_ocsp) {
      ASSERT_GE(r.attempts.size(), 2u);
      EXPECT_TRUE(r.attempts.front().starts_with(c.order == Order::ocsp_then_crl ? "OCSP " + ocsp_url() : "CRL " + crl_url()))
          << r.attempts.front();
    }
  }
  server->set_fault(Fault::none);
  EXPECT_EQ(check(RevocationOptions{}, t0()).status, S::good);  // the server survived every fault
}

TEST_F(RevocationTest, NonceIsNotRequiredWhenDisabled) {
  server->set_fault(Fault::drop_nonce, Endpoint::ocsp);
  RevocationOptions o = opts_with(Order::ocsp_only);
  o.ocsp_nonce = false;
  RevocationResult r = check(o, t0());
  EXPECT_EQ(r.status, S::good) << r.message;
  o.ocsp_nonce = true;
  EXPECT_EQ(check(o, t0()).status, S::invalid);
}

TEST_F(RevocationTest, InvalidDataOutranksUnavailable) {
  ASSERT_TRUE(server->set_responder(m().ca.get(), m().unauthorized.get(), m().unauthorized_key.get()));
  server->set_fault(Fault::http_500, Endpoint::crl);
  RevocationResult r = check(RevocationOptions{}, t0());
  EXPECT_EQ(r.status, S::invalid) << r.message;
  EXPECT_EQ(r.source, Src::ocsp);
  EXPECT_TRUE(contains(r.message, ocsp_url())) << r.message;
  EXPECT_TRUE(contains(r.message, crl_url())) << r.message;
  // ... and with both merely down, unavailable.
  server->set_fault(Fault::http_500, Endpoint::all);
  EXPECT_EQ(check(RevocationOptions{}, t0()).status, S::unavailable);
}

TEST_F(RevocationTest, HugeCrlIsRefusedWithBoundedMemory) {
  server->set_fault(Fault::huge_body, Endpoint::crl);  // 100 MiB, chunked: no Content-Length to refuse up front
  RevocationOptions o = opts_with(Order::crl_only);
  o.max_crl_bytes = 1u << 20;
  RevocationResult r = check(o, t0());
  EXPECT_EQ(r.status, S::unavailable) << r.message;
  EXPECT_TRUE(contains(r.message, "exceeds 1048576 bytes")) << r.message;
  EXPECT_TRUE(contains(r.message, crl_url())) << r.message;
  server->set_fault(Fault::none);
  EXPECT_EQ(check(o, t0()).status, S::good);
}

TEST_F(RevocationTest, CrlFromAnotherIssuerIsInvalid) {
  // The TSA root now answers under the signing CA's CRL name.
  ASSERT_TRUE(server->add_ca(m().tsa_root.get(), m().tsa_root_key.get(), "hpki-signing-ca"));
  RevocationResult r = check(opts_with(Order::crl_only), t0());
  EXPECT_EQ(r.status, S::invalid) << r.message;
  EXPECT_TRUE(contains(r.message, "Hanko Dev TSA Root CA")) << r.message;
  EXPECT_TRUE(contains(r.message, "not by the certificate's issuer")) << r.message;
  ASSERT_TRUE(server->add_ca(m().ca.get(), m().ca_key.get(), "hpki-signing-ca"));
  EXPECT_EQ(check(opts_with(Order::crl_only), t0()).status, S::good);
}

// ---- times -------------------------------------------------------------------------------

TEST_F(RevocationTest, Freshness) {
  struct Case {
    const char* name;
    Order order;
    std::chrono::seconds at;  // relative to the server's thisUpdate
    S expected;
    const char* message_part;
  };
  const auto crl_next = std::chrono::duration_cast<std::chrono::seconds>(DevRevocationServer::crl_validity);
  const auto ocsp_next = std::chrono::duration_cast<std::chrono::seconds>(DevRevocationServer::ocsp_validity);
  const std::vector<Case> cases = {
      {"CRL before nextUpdate", Order::crl_only, crl_next - 1s, S::good, "not revoked"},
      {"CRL at nextUpdate", Order::crl_only, crl_next, S::good, "not revoked"},
      {"CRL after nextUpdate is stale", Order::crl_only, crl_next + 1s, S::unavailable, "stale"},
      {"CRL thisUpdate within the skew", Order::crl_only, -299s, S::good, "not revoked"},
      {"CRL not yet valid", Order::crl_only, -301s, S::invalid, "not yet valid"},
      {"OCSP nextUpdate passed within the skew", Order::ocsp_only, ocsp_next + 299s, S::good, "not revoked"},
      {"OCSP after nextUpdate is stale", Order::ocsp_only, ocsp_next + 301s, S::unavailable, "stale"},
      {"OCSP produced within the skew", Order::ocsp_only, -299s, S::good, "not revoked"},
      {"OCSP produced in the future", Order::ocsp_only, -301s, S::invalid, "produced at"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::size_t before = server->request_count();
    RevocationResult r = check(opts_with(c.order), t0() + c.at);
    EXPECT_EQ(r.status, c.expected) << r.message;
    EXPECT_TRUE(contains(r.message, c.message_part)) << r.message;
    EXPECT_EQ(server->request_count(), before + 1);
  }
}

TEST_F(RevocationTest, StaleCachedCrlIsFetchedAgainAndStillStaleIsUnavailable) {
  auto db = store::Database::open_sqlite(test::temp_dir("rev-stale") / "hanko.db");
  ASSERT_TRUE(db) << db.error().message;
  EXPECT_EQ(check(opts_with(Order::crl_only), t0(), db->get()).status, S::good);
  const std::size_t before = server->request_count();
  const TimePoint late = t0() + DevRevocationServer::crl_validity + 1h;
  RevocationResult r = check(opts_with(Order::crl_only), late, db->get());
  EXPECT_EQ(r.status, S::unavailable) << r.message;
  EXPECT_FALSE(r.from_cache);
  EXPECT_EQ(server->request_count(), before + 1);  // the stale cache entry was not used: a new fetch
  EXPECT_TRUE(contains(r.message, "stale")) << r.message;
  EXPECT_TRUE(contains(r.message, crl_url())) << r.message;
  // Once the server has moved on, the refetch gives fresh data.
  clock.set(late);
  RevocationResult fresh = check(opts_with(Order::crl_only), late, db->get());
  EXPECT_EQ(fresh.status, S::good) << fresh.message;
  EXPECT_EQ(fresh.this_update, late);
}

// ---- unreachable, missing pointers, bad arguments ----------------------------------------------

TEST_F(RevocationTest, UnreachableServerIsUnavailableNamingEveryUrl) {
  const std::string closed = closed_base_url();
  auto cert = reissue(m().doctor.get(), m().ca_key.get(), RevocationPointers{closed});
  RevocationResult crl = check(cert.get(), opts_with(Order::crl_only), t0());
  EXPECT_EQ(crl.status, S::unavailable) << crl.message;
  EXPECT_EQ(crl.url, closed + "/crl/hpki-signing-ca.crl");
  EXPECT_TRUE(contains(crl.message, closed + "/crl/hpki-signing-ca.crl")) << crl.message;
  ASSERT_EQ(crl.attempts.size(), 1u);
  EXPECT_TRUE(crl.attempts[0].starts_with("CRL " + closed + "/crl/hpki-signing-ca.crl: ")) << crl.attempts[0];

  RevocationResult both = check(cert.get(), RevocationOptions{}, t0());
  EXPECT_EQ(both.status, S::unavailable) << both.message;
  EXPECT_TRUE(contains(both.message, closed + "/ocsp")) << both.message;
  EXPECT_TRUE(contains(both.message, closed + "/crl/hpki-signing-ca.crl")) << both.message;
  ASSERT_EQ(both.attempts.size(), 2u);
  EXPECT_TRUE(both.attempts[0].starts_with("OCSP " + closed + "/ocsp: ")) << both.attempts[0];
  EXPECT_TRUE(both.attempts[1].starts_with("CRL " + closed + "/crl/hpki-signing-ca.crl: ")) << both.attempts[1];
}

TEST_F(RevocationTest, CertificateWithoutPointersIsUnavailable) {
  auto bare = reissue(m().doctor.get(), m().ca_key.get(), RevocationPointers{""});
  RevocationResult r = check(bare.get(), RevocationOptions{}, t0());
  EXPECT_EQ(r.status, S::unavailable) << r.message;
  EXPECT_TRUE(contains(r.message, "names no http OCSP responder")) << r.message;
  EXPECT_TRUE(contains(r.message, "names no http CRL distribution point")) << r.message;
  EXPECT_EQ(server->request_count(), 0u);
}

TEST_F(RevocationTest, WrongIssuerOrNullIsInvalid) {
  RevocationChecker checker(http, no_trust, nullptr, RevocationOptions{});
  RevocationResult wrong = checker.check(leaf.get(), m().root.get(), t0());
  EXPECT_EQ(wrong.status, S::invalid);
  EXPECT_TRUE(contains(wrong.message, "is not its issuer")) << wrong.message;
  // Same name, other key: the signature decides.
  ossl::X509Ptr impostor(X509_dup(m().ca.get()));
  ASSERT_EQ(X509_set_pubkey(impostor.get(), m().tsa_root_key.get()), 1);
  ASSERT_GT(X509_sign(impostor.get(), m().tsa_root_key.get(), EVP_sha256()), 0);
  EXPECT_EQ(checker.check(leaf.get(), impostor.get(), t0()).status, S::invalid);
  EXPECT_EQ(checker.check(nullptr, m().ca.get(), t0()).status, S::invalid);
  EXPECT_EQ(checker.check(leaf.get(), nullptr, t0()).status, S::invalid);
  EXPECT_EQ(checker.check(leaf.get(), m().ca.get(), t0()).status, S::good);
  EXPECT_EQ(server->request_count(), 1u);
}

TEST_F(RevocationTest, FetchDisabledWithoutCacheIsUnavailable) {
  RevocationOptions o;
  o.fetch = false;
  RevocationResult r = check(o, t0());
  EXPECT_EQ(r.status, S::unavailable) << r.message;
  EXPECT_TRUE(contains(r.message, "fetching is disabled")) << r.message;
  EXPECT_EQ(server->request_count(), 0u);
}

TEST_F(RevocationTest, ConcurrentChecks) {
  auto db = store::Database::open_sqlite(test::temp_dir("rev-threads") / "hanko.db");
  ASSERT_TRUE(db) << db.error().message;
  RevocationChecker checker(http, no_trust, db->get(), RevocationOptions{});
  auto revoked = fresh_leaf();
  ASSERT_TRUE(server->revoke(m().ca.get(), revoked.get(), t0() - 1h, 1));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        if (checker.check(leaf.get(), m().ca.get(), t0()).status != S::good ||
            checker.check(revoked.get(), m().ca.get(), t0()).status != S::revoked) {
          ++wrong;
        }
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

/** The cache key of the OCSP answer for `cert`, computed independently of the checker. */
std::string ocsp_cache_key(const X509* cert, const X509* issuer) {
  ossl::OcspCertIdPtr cid(OCSP_cert_to_id(EVP_sha1(), cert, issuer));
  ASN1_OCTET_STRING* key_hash = nullptr;
  OCSP_id_get0_info(nullptr, nullptr, &key_hash, nullptr, cid.get());
  return "ocsp|" + hex(ByteView(ASN1_STRING_get0_data(key_hash), static_cast<std::size_t>(ASN1_STRING_length(key_hash)))) + "|" +
         ossl::serial_hex(cert);
}

// ---- cache ------------------------------------------------------------------------------

class RevocationCacheTest : public RevocationTest {
 protected:
  void SetUp() override {
    RevocationTest::SetUp();
    auto opened = store::Database::open_sqlite(test::temp_dir("rev-cache") / "hanko.db");
    ASSERT_TRUE(opened) << opened.error().message;
    db = std::move(*opened);
  }
  std::unique_ptr<store::Database> db;
};

TEST_F(RevocationCacheTest, SecondCheckNeedsNoNetwork) {
  struct Case {
    const char* name;
    Order order;
    bool revoke;
    ossl::X509Ptr cert;
    RevocationResult first;
  };
  std::vector<Case> cases;
  cases.push_back({"CRL good", Order::crl_only, false, fresh_leaf(), {}});
  cases.push_back({"CRL revoked", Order::crl_only, true, fresh_leaf(), {}});
  cases.push_back({"OCSP good", Order::ocsp_only, false, fresh_leaf(), {}});
  cases.push_back({"OCSP revoked", Order::ocsp_only, true, fresh_leaf(), {}});
  for (auto& c : cases) {
    if (c.revoke) {
      ASSERT_TRUE(server->revoke(m().ca.get(), c.cert.get(), t0() - 2h, 1));
    }
  }
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    c.first = check(c.cert.get(), opts_with(c.order), t0(), db.get());
    EXPECT_EQ(c.first.status, c.revoke ? S::revoked : S::good) << c.first.message;
  }
  server->stop();
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    RevocationResult again = check(c.cert.get(), opts_with(c.order), t0() + 1h, db.get());
    EXPECT_EQ(again.status, c.first.status) << again.message;
    EXPECT_TRUE(again.from_cache);
    EXPECT_EQ(again.source, c.first.source);
    EXPECT_EQ(again.url, c.first.url);
    EXPECT_EQ(again.this_update, c.first.this_update);
    EXPECT_EQ(again.next_update, c.first.next_update);
    EXPECT_EQ(again.revocation_time, c.first.revocation_time);
    EXPECT_EQ(again.revocation_reason, c.first.revocation_reason);
    EXPECT_TRUE(contains(again.message, "(cached)")) << again.message;
  }
  // A certificate never checked: no OCSP answer is cached for it, but the cached CRL covers it.
  auto other = fresh_leaf();
  EXPECT_EQ(check(other.get(), opts_with(Order::ocsp_only), t0(), db.get()).status, S::unavailable);
  RevocationResult via_crl = check(other.get(), RevocationOptions{}, t0(), db.get());
  EXPECT_EQ(via_crl.status, S::good) << via_crl.message;
  EXPECT_TRUE(via_crl.from_cache);
}

TEST_F(RevocationCacheTest, CacheKeysAndContents) {
  ASSERT_EQ(check(opts_with(Order::ocsp_only), t0(), db.get()).status, S::good);
  ASSERT_EQ(check(opts_with(Order::crl_only), t0(), db.get()).status, S::good);
  // "ocsp|<SHA-1 issuerKeyHash, lower-case hex>|<serial, upper-case hex>"
  ossl::OcspCertIdPtr cid(OCSP_cert_to_id(EVP_sha1(), leaf.get(), m().ca.get()));
  ASN1_OCTET_STRING* key_hash = nullptr;
  ASSERT_EQ(OCSP_id_get0_info(nullptr, nullptr, &key_hash, nullptr, cid.get()), 1);
  const std::string ocsp_key =
      "ocsp|" + hex(ByteView(ASN1_STRING_get0_data(key_hash), static_cast<std::size_t>(ASN1_STRING_length(key_hash)))) + "|" +
      ossl::serial_hex(leaf.get());
  EXPECT_EQ(ocsp_key, ocsp_cache_key(leaf.get(), m().ca.get()));
  auto ocsp = db->get_revocation(ocsp_key);
  ASSERT_TRUE(ocsp && *ocsp) << ocsp_key;
  EXPECT_EQ((*ocsp)->kind, "ocsp");
  EXPECT_EQ((*ocsp)->url, ocsp_url());
  EXPECT_EQ((*ocsp)->this_update, t0());
  EXPECT_EQ((*ocsp)->next_update, t0() + DevRevocationServer::ocsp_validity);
  EXPECT_EQ((*ocsp)->fetched_at, t0());
  auto crl = db->get_revocation("crl|" + crl_url());
  ASSERT_TRUE(crl && *crl);
  EXPECT_EQ((*crl)->kind, "crl");
  EXPECT_EQ((*crl)->next_update, t0() + DevRevocationServer::crl_validity);
  EXPECT_TRUE(ossl::x509_crl_from_der((*crl)->der));
  EXPECT_EQ(db->revocation_count().value(), 2u);
}

TEST_F(RevocationCacheTest, NotUsedAfterNextUpdate) {
  struct Case {
    Order order;
    std::chrono::hours fresh_for;
  };
  for (const Case c : {Case{Order::ocsp_only, DevRevocationServer::ocsp_validity}, Case{Order::crl_only, DevRevocationServer::crl_validity}}) {
    SCOPED_TRACE(c.order == Order::crl_only ? "CRL" : "OCSP");
    clock.set(t0());
    auto cert = fresh_leaf();
    ASSERT_EQ(check(cert.get(), opts_with(c.order), t0(), db.get()).status, S::good);
    std::size_t requests = server->request_count();
    RevocationResult cached = check(cert.get(), opts_with(c.order), t0() + c.fresh_for, db.get());  // at == nextUpdate: still fresh
    EXPECT_TRUE(cached.from_cache) << cached.message;
    EXPECT_EQ(server->request_count(), requests);
    const TimePoint later = t0() + c.fresh_for + 1h;
    clock.set(later);
    RevocationResult after = check(cert.get(), opts_with(c.order), later, db.get());
    EXPECT_EQ(after.status, S::good) << after.message;
    EXPECT_FALSE(after.from_cache);
    EXPECT_EQ(after.this_update, later);
    EXPECT_EQ(server->request_count(), requests + 1);
    // ... and the new data is cached in turn.
    EXPECT_TRUE(check(cert.get(), opts_with(c.order), later + 1h, db.get()).from_cache);
  }
}

TEST_F(RevocationCacheTest, CachedDataIsCheckedOnEveryUse) {
  // A cached CRL whose signature was tampered with, and a cached OCSP "response" of garbage,
  // both marked fresh: neither may be believed.
  auto fetched = http.get(crl_url());
  ASSERT_TRUE(fetched) << fetched.error().message;
  Bytes tampered = to_bytes(fetched->body);
  tampered.back() ^= 0x01;  // the last byte of a CRL is in its signature
  store::CachedRevocation crl_entry{"crl|" + crl_url(), "crl", crl_url(), tampered, t0(), t0() + 24h, t0()};
  ASSERT_TRUE(db->put_revocation(crl_entry));
  ossl::OcspCertIdPtr cid(OCSP_cert_to_id(EVP_sha1(), leaf.get(), m().ca.get()));
  ASN1_OCTET_STRING* key_hash = nullptr;
  OCSP_id_get0_info(nullptr, nullptr, &key_hash, nullptr, cid.get());
  const std::string ocsp_key =
      "ocsp|" + hex(ByteView(ASN1_STRING_get0_data(key_hash), static_cast<std::size_t>(ASN1_STRING_length(key_hash)))) + "|" +
      ossl::serial_hex(leaf.get());
  store::CachedRevocation ocsp_entry{ocsp_key, "ocsp", ocsp_url(), hx("30 03 0A 01 00 -- OCSPResponse{successful} without a body"),
                                     t0(), t0() + 24h, t0()};
  ASSERT_TRUE(db->put_revocation(ocsp_entry));

  RevocationOptions offline;
  offline.fetch = false;
  RevocationResult r = check(offline, t0(), db.get());
  EXPECT_EQ(r.status, S::invalid) << r.message;
  EXPECT_TRUE(contains(r.message, "(cached)")) << r.message;
  EXPECT_TRUE(contains(r.message, "signature")) << r.message;
  EXPECT_EQ(server->request_count(), 1u);  // only the test's own GET

  for (Order o : {Order::crl_only, Order::ocsp_only}) {
    RevocationResult online = check(opts_with(o), t0(), db.get());
    EXPECT_EQ(online.status, S::good) << online.message;
    EXPECT_FALSE(online.from_cache);
    EXPECT_TRUE(check(offline, t0(), db.get()).from_cache);  // the good data replaced the bad
  }
}

TEST_F(RevocationCacheTest, FetchDisabledUsesOnlyTheCache) {
  RevocationOptions offline;
  offline.fetch = false;
  EXPECT_EQ(check(offline, t0(), db.get()).status, S::unavailable);
  EXPECT_EQ(server->request_count(), 0u);
  ASSERT_EQ(check(RevocationOptions{}, t0(), db.get()).status, S::good);
  RevocationResult r = check(offline, t0() + 1h, db.get());
  EXPECT_EQ(r.status, S::good) << r.message;
  EXPECT_TRUE(r.from_cache);
  EXPECT_EQ(server->request_count(), 1u);
}

/** An OCSP response made by hand, for the cases the test server cannot produce. */
struct OcspSpec {
  const X509* signer;
  const EVP_PKEY* key;
  bool include_signer;
  int status;
  int reason;
  TimePoint this_update;
  std::optional<TimePoint> next_update;
  TimePoint produced_at;
};

Bytes make_ocsp_der(const X509* cert, const X509* issuer, const OcspSpec& s) {
  ossl::OcspBasicRespPtr bs(OCSP_BASICRESP_new());
  ossl::OcspCertIdPtr cid(OCSP_cert_to_id(EVP_sha1(), cert, issuer));
  ossl::Asn1TimePtr thisupd = ossl::timepoint_to_asn1(s.this_update);
  ossl::Asn1TimePtr nextupd = s.next_update ? ossl::timepoint_to_asn1(*s.next_update) : nullptr;
  ossl::Asn1TimePtr revtime = ossl::timepoint_to_asn1(s.this_update - 1h);
  EXPECT_TRUE(OCSP_basic_add1_status(bs.get(), cid.get(), s.status, s.reason, s.status == V_OCSP_CERTSTATUS_REVOKED ? revtime.get() : nullptr,
                                     thisupd.get(), nextupd.get()));
  auto* key = const_cast<EVP_PKEY*>(s.key);
  EXPECT_EQ(OCSP_basic_sign(bs.get(), const_cast<X509*>(s.signer), key, EVP_sha256(), nullptr,
                            s.include_signer ? 0UL : static_cast<unsigned long>(OCSP_NOCERTS)),
            1);
  // producedAt from the test's time, not the wall clock; then sign again.
  ASN1_GENERALIZEDTIME_set(const_cast<ASN1_GENERALIZEDTIME*>(OCSP_resp_get0_produced_at(bs.get())), static_cast<time_t>(to_unix(s.produced_at)));
  EXPECT_GT(ASN1_item_sign(ASN1_ITEM_rptr(OCSP_RESPDATA), const_cast<X509_ALGOR*>(OCSP_resp_get0_tbs_sigalg(bs.get())), nullptr,
                           const_cast<ASN1_BIT_STRING*>(OCSP_resp_get0_signature(bs.get())),
                           const_cast<OCSP_RESPDATA*>(OCSP_resp_get0_respdata(bs.get())), key, EVP_sha256()),
            0);
  ossl::OcspResponsePtr resp(OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs.get()));
  return ossl::to_der<i2d_OCSP_RESPONSE>(resp.get());
}

TEST_F(RevocationCacheTest, HandMadeOcspResponsesAreChecked) {
  const X509* ca = m().ca.get();
  const EVP_PKEY* ca_key = m().ca_key.get();
  const X509* responder = m().responder.get();
  const EVP_PKEY* responder_key = m().responder_key.get();
  constexpr int kGood = V_OCSP_CERTSTATUS_GOOD;
  constexpr int kNoReason = OCSP_REVOKED_STATUS_NOSTATUS;
  struct Case {
    const char* name;
    OcspSpec spec;
    S expected;
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {"CA-signed, fresh", {ca, ca_key, false, kGood, kNoReason, t0() - 1h, t0() + 23h, t0() - 1h}, S::good, "not revoked"},
      {"thisUpdate in the future", {ca, ca_key, false, kGood, kNoReason, t0() + 1h, t0() + 23h, t0() - 1h}, S::invalid, "not yet valid"},
      {"nextUpdate before thisUpdate", {ca, ca_key, false, kGood, kNoReason, t0() - 1h, t0() - 2h, t0() - 1h}, S::invalid,
       "before its thisUpdate"},
      {"no nextUpdate, recent", {ca, ca_key, false, kGood, kNoReason, t0() - 1h, std::nullopt, t0() - 1h}, S::good, "not revoked"},
      {"no nextUpdate, too old", {ca, ca_key, false, kGood, kNoReason, t0() - 25h, std::nullopt, t0() - 25h}, S::unavailable,
       "no nextUpdate"},
      {"delegated responder, certificate included", {responder, responder_key, true, kGood, kNoReason, t0() - 1h, t0() + 23h, t0() - 1h},
       S::good, "not revoked"},
      {"delegated responder, certificate left out", {responder, responder_key, false, kGood, kNoReason, t0() - 1h, t0() + 23h, t0() - 1h},
       S::invalid, "responderID"},
      {"revoked without a reason", {ca, ca_key, false, V_OCSP_CERTSTATUS_REVOKED, kNoReason, t0() - 1h, t0() + 23h, t0() - 1h},
       S::revoked, "revoked at"},
  };
  RevocationOptions offline = opts_with(Order::ocsp_only);
  offline.fetch = false;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto cert = fresh_leaf();
    store::CachedRevocation entry{ocsp_cache_key(cert.get(), ca), "ocsp", ocsp_url(), make_ocsp_der(cert.get(), ca, c.spec),
                                  c.spec.this_update, t0() + 24h, t0() - 1h};
    ASSERT_TRUE(db->put_revocation(entry));
    RevocationResult r = check(cert.get(), offline, t0(), db.get());
    EXPECT_EQ(r.status, c.expected) << r.message;
    EXPECT_TRUE(contains(r.message, c.message_part)) << r.message;
    if (r.status == S::revoked) {
      EXPECT_EQ(r.revocation_time, c.spec.this_update - 1h);
      EXPECT_FALSE(r.revocation_reason);
    }
  }
  EXPECT_EQ(server->request_count(), 0u);
}

// ---- configured CRL files and crafted CRLs ------------------------------------------------------

/** Writes `text` to a new file and returns its path. */
fs::path write_file_in(const std::string& tag, const std::string& name, std::string_view text) {
  const fs::path p = test::temp_dir(tag) / name;
  test::write_text(p, text);
  return p;
}

RevocationResult check_with_files(const X509* cert, const X509* issuer, std::vector<fs::path> files, TimePoint at) {
  static const HttpClient http = test_http();
  static const TrustStore none;
  RevocationOptions o;
  o.order = Order::crl_only;
  o.fetch = false;
  o.crl_files = std::move(files);
  RevocationChecker checker(http, none, nullptr, o);
  return checker.check(cert, issuer, at);
}

TEST(RevocationCrlFiles, DevPkiCrlInPemAndDer) {
  const DevPki& pki = testing::current_pki();
  auto doctor = item_cert(pki, "doctor");
  auto revoked = item_cert(pki, "revoked");
  auto ca = item_cert(pki, "hpki-signing-ca");
  auto crls = ossl::x509_crls_from_pem(test::read_text(pki.crl));
  ASSERT_EQ(crls.size(), 1u);
  const fs::path der = write_file_in("crl-files", "ca.crl", to_string(ossl::to_der<i2d_X509_CRL>(crls[0].get())));
  for (const fs::path& file : {pki.crl, der}) {
    SCOPED_TRACE(file.string());
    RevocationResult good = check_with_files(doctor.get(), ca.get(), {file}, t0());
    EXPECT_EQ(good.status, S::good) << good.message;
    EXPECT_EQ(good.url, "file " + file.string());
    EXPECT_TRUE(contains(good.message, file.string())) << good.message;
    RevocationResult bad = check_with_files(revoked.get(), ca.get(), {file}, t0());
    EXPECT_EQ(bad.status, S::revoked) << bad.message;
    EXPECT_EQ(bad.revocation_time, test::pki_time());
    // 30 days later the file is stale, and fetching is off.
    RevocationResult stale = check_with_files(doctor.get(), ca.get(), {file}, test::pki_time() + std::chrono::days{31});
    EXPECT_EQ(stale.status, S::unavailable) << stale.message;
    EXPECT_TRUE(contains(stale.message, "stale")) << stale.message;
  }
  // A CRL of another issuer is not consulted at all.
  RevocationResult other = check_with_files(doctor.get(), ca.get(), {pki.root_crl}, t0());
  EXPECT_EQ(other.status, S::unavailable) << other.message;
  // The root's CRL covers the signing CA.
  auto root = item_cert(pki, "hpki-root");
  EXPECT_EQ(check_with_files(ca.get(), root.get(), {pki.root_crl}, t0()).status, S::good);
}

TEST(RevocationCrlFiles, UnusableFilesAreReportedNotFatal) {
  const DevPki& pki = testing::current_pki();
  auto doctor = item_cert(pki, "doctor");
  auto ca = item_cert(pki, "hpki-signing-ca");
  auto crls = ossl::x509_crls_from_pem(test::read_text(pki.crl));
  ASSERT_EQ(crls.size(), 1u);
  const Bytes der = ossl::to_der<i2d_X509_CRL>(crls[0].get());
  const fs::path dir = test::temp_dir("crl-bad-files");
  const fs::path truncated = dir / "truncated.crl";
  test::write_text(truncated, to_string(ByteView(der).first(der.size() / 2)));
  const fs::path lying = dir / "lying-length.crl";
  test::write_text(lying, to_string(hx(R"(
      30 84 7F FF FF FF   -- SEQUENCE claiming 2 GiB of content
      30 03 02 01 01      -- ... of which 5 bytes follow
  )")));
  const fs::path huge = dir / "huge.crl";
  { std::ofstream(huge).put('0'); }
  fs::resize_file(huge, 100u << 20);  // 100 MB (sparse): larger than max_crl_bytes
  const fs::path missing = dir / "missing.crl";

  RevocationOptions o;
  o.order = Order::crl_only;
  o.fetch = false;
  o.max_crl_bytes = 1u << 20;
  o.crl_files = {truncated, lying, huge, missing, pki.crl};
  RevocationChecker checker(test_http(), TrustStore{}, nullptr, o);
  ASSERT_EQ(checker.load_errors().size(), 4u);
  EXPECT_TRUE(contains(checker.load_errors()[0], "truncated.crl: not a DER or PEM CRL")) << checker.load_errors()[0];
  EXPECT_TRUE(contains(checker.load_errors()[1], "lying-length.crl: not a DER or PEM CRL")) << checker.load_errors()[1];
  EXPECT_TRUE(contains(checker.load_errors()[2], "is larger than 1048576 bytes")) << checker.load_errors()[2];
  EXPECT_TRUE(contains(checker.load_errors()[3], "missing.crl")) << checker.load_errors()[3];
  // The good file still works, and the bad ones are named in the attempts.
  RevocationResult r = checker.check(doctor.get(), ca.get(), t0());
  EXPECT_EQ(r.status, S::good) << r.message;
  EXPECT_EQ(std::count_if(r.attempts.begin(), r.attempts.end(), [](const std::string& a) { return contains(a, "(ignored)"); }), 4);
}

/** A small CA made on the spot (EC P-256), with the keyUsage given. */
struct MiniCa {
  ossl::X509Ptr cert;
  ossl::EvpPkeyPtr key;
};

MiniCa make_ca(const char* key_usage) {
  MiniCa ca;
  ca.key.reset(EVP_EC_gen("P-256"));
  ca.cert.reset(X509_new());
  X509* c = ca.cert.get();
  X509_set_version(c, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
  X509_NAME* name = X509_get_subject_name(c);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Mini CA"), -1, -1, 0);
  X509_set_issuer_name(c, name);
  ossl::Asn1TimePtr nb = ossl::timepoint_to_asn1(t0() - std::chrono::days{10});
  ossl::Asn1TimePtr na = ossl::timepoint_to_asn1(t0() + std::chrono::days{3650});
  X509_set1_notBefore(c, nb.get());
  X509_set1_notAfter(c, na.get());
  X509_set_pubkey(c, ca.key.get());
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, c, c, nullptr, nullptr, 0);
  for (const auto& [nid, value] : std::vector<std::pair<int, const char*>>{{NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, key_usage}}) {
    ossl::X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
    X509_add_ext(c, ext.get(), -1);
  }
  X509_sign(c, ca.key.get(), EVP_sha256());
  return ca;
}

/** A leaf issued by `ca` (the doctor certificate, renamed and re-signed) with CDP http://crl.example/ca.crl. */
ossl::X509Ptr leaf_of(const MiniCa& ca, bool is_ca = false) {
  ossl::X509Ptr c(X509_dup(m().doctor.get()));
  X509_set_issuer_name(c.get(), X509_get_subject_name(ca.cert.get()));
  for (int nid : {NID_authority_key_identifier, NID_crl_distribution_points, NID_info_access, NID_basic_constraints}) {
    for (int i = X509_get_ext_by_NID(c.get(), nid, -1); i >= 0; i = X509_get_ext_by_NID(c.get(), nid, -1)) {
      ossl::X509ExtPtr gone(X509_delete_ext(c.get(), i));
    }
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), c.get(), nullptr, nullptr, 0);
  ossl::X509ExtPtr cdp(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_crl_distribution_points, "URI:http://crl.example/ca.crl"));
  X509_add_ext(c.get(), cdp.get(), -1);
  if (is_ca) {
    ossl::X509ExtPtr bc(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    X509_add_ext(c.get(), bc.get(), -1);
    for (int i = X509_get_ext_by_NID(c.get(), NID_key_usage, -1); i >= 0; i = X509_get_ext_by_NID(c.get(), NID_key_usage, -1)) {
      ossl::X509ExtPtr gone(X509_delete_ext(c.get(), i));
    }
    ossl::X509ExtPtr ku(X509V3_EXT_nconf_nid(nullptr, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
    X509_add_ext(c.get(), ku.get(), -1);
  }
  X509_sign(c.get(), ca.key.get(), EVP_sha256());
  return ossl::x509_from_der(ossl::x509_to_der(c.get()));
}

using CrlExt = std::function<void(X509_CRL*, X509V3_CTX*)>;
using EntryExt = std::function<void(X509_REVOKED*)>;

/** What write_crl puts in a CRL; built fluently: CrlSpec{}.list(cert).ext(...). */
struct CrlSpec {
  std::optional<std::chrono::seconds> next_update = std::chrono::hours(24);  // relative to thisUpdate = t0() - 1h
  const X509* listed = nullptr;
  std::optional<int> reason;
  CrlExt extra;           // CRL extensions
  EntryExt entry_extra;   // entry extensions

  CrlSpec next(std::optional<std::chrono::seconds> n) const {
    CrlSpec c = *this;
    c.next_update = n;
    return c;
  }
  CrlSpec list(const X509* cert, std::optional<int> why = std::nullopt) const {
    CrlSpec c = *this;
    c.listed = cert;
    c.reason = why;
    return c;
  }
  CrlSpec ext(CrlExt f) const {
    CrlSpec c = *this;
    c.extra = std::move(f);
    return c;
  }
  CrlSpec entry_ext(EntryExt f) const {
    CrlSpec c = *this;
    c.entry_extra = std::move(f);
    return c;
  }
};

/** Writes a CRL of `ca` as DER and returns the file. */
fs::path write_crl(const MiniCa& ca, const CrlSpec& spec) {
  ossl::X509CrlPtr crl(X509_CRL_new());
  X509_CRL_set_version(crl.get(), 1);
  X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(ca.cert.get()));
  const TimePoint this_update = t0() - 1h;
  ossl::Asn1TimePtr tu = ossl::timepoint_to_asn1(this_update);
  X509_CRL_set1_lastUpdate(crl.get(), tu.get());
  if (spec.next_update) {
    ossl::Asn1TimePtr nu = ossl::timepoint_to_asn1(this_update + *spec.next_update);
    X509_CRL_set1_nextUpdate(crl.get(), nu.get());
  }
  if (spec.listed != nullptr) {
    ossl::X509RevokedPtr entry(X509_REVOKED_new());
    X509_REVOKED_set_serialNumber(entry.get(), const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(spec.listed)));
    ossl::Asn1TimePtr when = ossl::timepoint_to_asn1(t0() - 2h);
    X509_REVOKED_set_revocationDate(entry.get(), when.get());
    if (spec.reason) {
      ossl::Asn1EnumeratedPtr code(ASN1_ENUMERATED_new());
      ASN1_ENUMERATED_set(code.get(), *spec.reason);
      X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, code.get(), 0, 0);
    }
    if (spec.entry_extra) {
      spec.entry_extra(entry.get());
    }
    X509_CRL_add0_revoked(crl.get(), entry.release());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, ca.cert.get(), nullptr, nullptr, crl.get(), 0);
  if (spec.extra) {
    spec.extra(crl.get(), &ctx);
  }
  X509_CRL_sort(crl.get());
  X509_CRL_sign(crl.get(), ca.key.get(), EVP_sha256());
  static std::atomic<int> n{0};
  return write_file_in("crafted-crl", "crl-" + std::to_string(++n) + ".crl", to_string(ossl::to_der<i2d_X509_CRL>(crl.get())));
}

std::function<void(X509_CRL*, X509V3_CTX*)> conf_ext(int nid, const char* value) {
  return [nid, value](X509_CRL* crl, X509V3_CTX* ctx) {
    ossl::X509ExtPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value));
    ASSERT_TRUE(ext) << value;
    X509_CRL_add_ext(crl, ext.get(), -1);
  };
}

std::function<void(X509_CRL*, X509V3_CTX*)> raw_ext(const char* oid, bool critical) {
  return [oid, critical](X509_CRL* crl, X509V3_CTX*) {
    ossl::Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
    ossl::Asn1OctetStringPtr data(ASN1_OCTET_STRING_new());
    const unsigned char null_value[] = {0x05, 0x00};
    ASN1_OCTET_STRING_set(data.get(), null_value, sizeof null_value);
    ossl::X509ExtPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), critical ? 1 : 0, data.get()));
    X509_CRL_add_ext(crl, ext.get(), -1);
  };
}

TEST(RevocationCrlChecks, EveryCheckPassesAndFails) {
  const MiniCa ca = make_ca("critical,keyCertSign,cRLSign");
  const MiniCa no_crl_sign = make_ca("critical,keyCertSign");
  auto leaf = leaf_of(ca);
  auto sub_ca = leaf_of(ca, true);
  auto leaf2 = leaf_of(no_crl_sign);
  struct Case {
    const char* name;
    const X509* cert;
    const MiniCa* issuer;
    CrlSpec spec;
    std::chrono::seconds at;  // relative to t0()
    S expected;
    const char* message_part;
  };
  const std::vector<Case> cases = {
      {"plain CRL", leaf.get(), &ca, CrlSpec{}, 0s, S::good, "not revoked"},
      {"listed", leaf.get(), &ca, CrlSpec{}.list(leaf.get()), 0s, S::revoked, "revoked at"},
      {"listed with removeFromCRL", leaf.get(), &ca, CrlSpec{}.list(leaf.get(), 8), 0s, S::good, "not revoked"},
      {"no nextUpdate, young enough", leaf.get(), &ca, CrlSpec{}.next(std::nullopt), 22h, S::good, "not revoked"},
      {"no nextUpdate, too old", leaf.get(), &ca, CrlSpec{}.next(std::nullopt), 24h, S::unavailable, "no nextUpdate"},
      {"nextUpdate before thisUpdate", leaf.get(), &ca, CrlSpec{}.next(-1s), 0s, S::invalid, "before its thisUpdate"},
      {"issuer keyUsage allows cRLSign", leaf.get(), &ca, CrlSpec{}, 0s, S::good, "not revoked"},
      {"issuer keyUsage without cRLSign", leaf2.get(), &no_crl_sign, CrlSpec{}, 0s, S::invalid, "cRLSign"},
      {"IDP onlyContainsUserCerts, end entity", leaf.get(), &ca, CrlSpec{}.ext(conf_ext(NID_issuing_distribution_point, "critical,onlyuser:TRUE")),
       0s, S::good, "not revoked"},
      {"IDP onlyContainsUserCerts, CA", sub_ca.get(), &ca, CrlSpec{}.ext(conf_ext(NID_issuing_distribution_point, "critical,onlyuser:TRUE")),
       0s, S::invalid, "onlyContainsUserCerts"},
      {"IDP onlyContainsCACerts, CA", sub_ca.get(), &ca, CrlSpec{}.ext(conf_ext(NID_issuing_distribution_point, "critical,onlyCA:TRUE")), 0s,
       S::good, "not revoked"},
      {"IDP onlyContainsCACerts, end entity", leaf.get(), &ca, CrlSpec{}.ext(conf_ext(NID_issuing_distribution_point, "critical,onlyCA:TRUE")),
       0s, S::invalid, "onlyContainsCACerts"},
      {"IDP names the certificate's distribution point", leaf.get(), &ca,
       CrlSpec{}.ext(conf_ext(NID_issuing_distribution_point, "critical,fullname:URI:http://crl.example/ca.crl")), 0s, S::good, "not revoked"},
      {"IDP names another distribution point", leaf.get(), &ca,
       CrlSpec{}.ext(conf_ext(NID_issuing_distribution_point, "critical,fullname:URI:http://crl.example/other.crl")), 0s, S::invalid,
       "does not name any"},
      {"IDP indirect CRL", leaf.get(), &ca, CrlSpec{}.ext(conf_ext(NID_issuing_distribution_point, "critical,indirectCRL:TRUE")), 0s, S::invalid,
       "indirect"},
      {"delta CRL indicator", leaf.get(), &ca,
       CrlSpec{}.ext([](X509_CRL* crl, X509V3_CTX*) {
         ossl::Asn1IntegerPtr base(ASN1_INTEGER_new());
         ASN1_INTEGER_set(base.get(), 1);
         X509_CRL_add1_ext_i2d(crl, NID_delta_crl, base.get(), 1, 0);
       }),
       0s, S::invalid, "delta"},
      {"unknown non-critical extension", leaf.get(), &ca, CrlSpec{}.ext(raw_ext("1.3.6.1.4.1.99999.1", false)), 0s, S::good, "not revoked"},
      {"unknown critical extension", leaf.get(), &ca, CrlSpec{}.ext(raw_ext("1.3.6.1.4.1.99999.1", true)), 0s, S::invalid,
       "unsupported critical extension 1.3.6.1.4.1.99999.1"},
      {"critical entry extension", leaf.get(), &ca,
       CrlSpec{}.list(leaf.get()).entry_ext(
            [](X509_REVOKED* e) {  // invalidityDate, marked critical
              ossl::Asn1TimePtr when(ASN1_GENERALIZEDTIME_set(nullptr, static_cast<time_t>(to_unix(t0() - 3h))));
              X509_REVOKED_add1_ext_i2d(e, NID_invalidity_date, when.get(), 1, 0);
            }),
       0s, S::invalid, "a CRL entry has an unsupported critical extension 2.5.29.24"},
      {"non-critical entry extension", leaf.get(), &ca,
       CrlSpec{}.list(leaf.get()).entry_ext(
            [](X509_REVOKED* e) {
              ossl::Asn1TimePtr when(ASN1_GENERALIZEDTIME_set(nullptr, static_cast<time_t>(to_unix(t0() - 3h))));
              X509_REVOKED_add1_ext_i2d(e, NID_invalidity_date, when.get(), 0, 0);
            }),
       0s, S::revoked, "revoked at"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const fs::path file = write_crl(*c.issuer, c.spec);
    RevocationResult r = check_with_files(c.cert, c.issuer->cert.get(), {file}, t0() + c.at);
    EXPECT_EQ(r.status, c.expected) << r.message;
    EXPECT_TRUE(contains(r.message, c.message_part)) << r.message;
    EXPECT_TRUE(contains(r.message, file.string())) << r.message;
  }
  // A CRL with the right name signed by another key.
  const MiniCa twin = make_ca("critical,keyCertSign,cRLSign");  // same subject "CN=Mini CA", other key
  RevocationResult forged = check_with_files(leaf.get(), ca.cert.get(), {write_crl(twin, CrlSpec{})}, t0());
  EXPECT_EQ(forged.status, S::invalid) << forged.message;
  EXPECT_TRUE(contains(forged.message, "signature does not verify")) << forged.message;
}

// ---- an independent implementation agrees ------------------------------------------------------

TEST_F(RevocationTest, OpensslCommandLineAgrees) {
  if (std::system("openssl version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl command not available";
  }
  const fs::path dir = test::temp_dir("rev-openssl");
  test::write_text(dir / "ca.pem", ossl::x509_to_pem(m().ca.get()));
  test::write_text(dir / "root.pem", ossl::x509_to_pem(m().root.get()));
  test::write_text(dir / "leaf.pem", ossl::x509_to_pem(leaf.get()));
  auto revoked = fresh_leaf();
  test::write_text(dir / "revoked.pem", ossl::x509_to_pem(revoked.get()));
  ASSERT_TRUE(server->revoke(m().ca.get(), revoked.get(), t0() - 1h, 1));
  auto run = [&](const std::string& cmd) {
    const fs::path out = dir / "out.txt";
    const int rc = std::system((cmd + " > '" + out.string() + "' 2>&1").c_str());
    return std::make_pair(rc, test::read_text(out));
  };
  auto crl = http.get(crl_url());
  ASSERT_TRUE(crl);
  test::write_text(dir / "ca.crl", crl->body);
  auto [rc, text] = run("openssl crl -inform DER -in '" + (dir / "ca.crl").string() + "' -CAfile '" + (dir / "ca.pem").string() + "' -noout -text");
  EXPECT_EQ(rc, 0) << text;
  EXPECT_TRUE(contains(text, "verify OK")) << text;
  EXPECT_TRUE(contains(text, "Serial Number: " + ossl::serial_hex(revoked.get()))) << text;
  EXPECT_TRUE(contains(text, "Key Compromise")) << text;

  server->set_fault(Fault::crl_bad_signature, Endpoint::crl);
  auto bad = http.get(crl_url());
  ASSERT_TRUE(bad);
  test::write_text(dir / "bad.crl", bad->body);
  auto [bad_rc, bad_text] = run("openssl crl -inform DER -in '" + (dir / "bad.crl").string() + "' -CAfile '" + (dir / "ca.pem").string() + "' -noout");
  EXPECT_TRUE(contains(bad_text, "verify failure")) << bad_text;
  (void)bad_rc;
  server->set_fault(Fault::none);

  // openssl's OCSP client, with a nonce, verifying the CA-signed response up to the root.
  const std::string ocsp = "openssl ocsp -issuer '" + (dir / "ca.pem").string() + "' -CAfile '" + (dir / "root.pem").string() +
                           "' -verify_other '" + (dir / "ca.pem").string() + "' -url " + ocsp_url() + " -cert ";
  auto [good_rc, good_text] = run(ocsp + "'" + (dir / "leaf.pem").string() + "'");
  EXPECT_EQ(good_rc, 0) << good_text;
  EXPECT_TRUE(contains(good_text, "Response verify OK")) << good_text;
  // "<file>: good" (or "<file>: WARNING: Status times invalid.\n<error line>\ngood" once the wall clock is past nextUpdate).
  EXPECT_TRUE(contains(good_text, "leaf.pem: good") || contains(good_text, "\ngood\n")) << good_text;
  auto [rev_rc, rev_text] = run(ocsp + "'" + (dir / "revoked.pem").string() + "'");
  EXPECT_EQ(rev_rc, 0) << rev_text;
  EXPECT_TRUE(contains(rev_text, "revoked.pem: revoked") || contains(rev_text, "\nrevoked\n")) << rev_text;
  EXPECT_FALSE(contains(good_text, "revoked")) << good_text;
  EXPECT_TRUE(contains(rev_text, "Reason: keyCompromise")) << rev_text;
}

}  // namespace
}  // namespace hanko::certstore
