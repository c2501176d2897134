#include "hanko/tsa_client/dev_tsa.h"

#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "hanko/certstore/dev_pki.h"
#include "hanko/tsa_client/token.h"
#include "test_support.h"
#include "tsa_test_util.h"

namespace hanko::tsa {
namespace {

using namespace testutil;

const std::string kData = R"({"resourceType":"Bundle","type":"document"})";

class DevTsaTest : public ::testing::Test {
 protected:
  DevTsaFixture fx;
  DevTsa& tsa() { return *fx.tsa; }
};

TEST_F(DevTsaTest, GenTimeIsThePinnedClock) {
  InProcessTsa source(tsa());
  auto token = source.timestamp(as_bytes(kData));
  ASSERT_TRUE(token) << token.error().message;
  auto info = parse_token(*token);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->gen_time, test::sign_time());
  ASSERT_TRUE(info->accuracy);
  EXPECT_EQ(*info->accuracy, std::chrono::seconds(1));
  EXPECT_EQ(info->policy_oid, "2.999.3161.1");
  EXPECT_EQ(info->imprint_alg, DigestAlg::sha256);
  EXPECT_TRUE(ct_equal(info->imprint, sha256(kData)));
  ASSERT_TRUE(info->nonce);
  EXPECT_GE(info->nonce->size(), 1u);
  EXPECT_LE(info->nonce->size(), 8u);
  ASSERT_TRUE(info->tsa_cert);
  EXPECT_EQ(X509_cmp(info->tsa_cert.get(), tsa().certificate()), 0);
  EXPECT_FALSE(info->certs.empty());

  fx.clock.advance(std::chrono::seconds(3600));
  auto later = parse_token(*source.timestamp(as_bytes(kData)));
  ASSERT_TRUE(later);
  EXPECT_EQ(later->gen_time, test::sign_time() + std::chrono::hours(1));
}

TEST_F(DevTsaTest, AllowListedImprintAlgorithms) {
  InProcessTsa source(tsa());
  for (DigestAlg alg : {DigestAlg::sha256, DigestAlg::sha384, DigestAlg::sha512}) {
    auto token = source.timestamp(as_bytes(kData), alg);
    ASSERT_TRUE(token) << token.error().message;
    auto info = parse_token(*token);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->imprint_alg, alg);
    EXPECT_TRUE(ct_equal(info->imprint, digest(alg, as_bytes(kData))));
    auto v = verify_token(*token, as_bytes(kData), dev_trust(), test::sign_time());
    EXPECT_EQ(v.status, TokenStatus::ok) << v.message;
  }
}

TEST_F(DevTsaTest, SerialsAreUniqueAcrossThreads) {
  InProcessTsa source(tsa());
  std::set<std::string> serials;
  std::mutex mu;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        auto token = source.timestamp(as_bytes(kData));
        auto info = token ? parse_token(*token) : std::unexpected(token.error());
        if (!info) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mu);
        serials.insert(info->serial_hex);
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(serials.size(), 100u);
}

TEST_F(DevTsaTest, TokenCarriesSigningCertificateV2Only) {
  InProcessTsa source(tsa());
  auto token = source.timestamp(as_bytes(kData));
  ASSERT_TRUE(token);
  const unsigned char* p = token->data();
  ossl::CmsPtr cms(d2i_CMS_ContentInfo(nullptr, &p, static_cast<long>(token->size())));
  ASSERT_TRUE(cms);
  CMS_SignerInfo* si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms.get()), 0);
  EXPECT_GE(CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificateV2, -1), 0);
  EXPECT_LT(CMS_signed_get_attr_by_NID(si, NID_id_smime_aa_signingCertificate, -1), 0);
}

TEST_F(DevTsaTest, NoOrderingAndNonceEchoed) {
  const Bytes req = make_request(as_bytes(kData), DigestAlg::sha256, 0x1122334455667788ULL, true);
  const Bytes resp = tsa().respond(req);
  ASSERT_EQ(response_status(resp), 0);
  auto info = parse_token(token_of_response(resp));
  ASSERT_TRUE(info) << info.error().message;
  ASSERT_TRUE(info->nonce);
  EXPECT_EQ(hex(*info->nonce), "1122334455667788");
  const Bytes tst = tst_info_of(token_of_response(resp));
  const unsigned char* p = tst.data();
  ossl::TsTstInfoPtr t(d2i_TS_TST_INFO(nullptr, &p, static_cast<long>(tst.size())));
  ASSERT_TRUE(t);
  EXPECT_EQ(TS_TST_INFO_get_ordering(t.get()), 0);
  EXPECT_EQ(TS_TST_INFO_get_tsa(t.get()), nullptr);
}

TEST_F(DevTsaTest, CertReqFalseGivesTokenWithoutCertificates) {
  const Bytes resp = tsa().respond(make_request(as_bytes(kData), DigestAlg::sha256, 7, false));
  ASSERT_EQ(response_status(resp), 0);
  const Bytes token = token_of_response(resp);
  auto info = parse_token(token);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->certs.empty());
  EXPECT_EQ(info->tsa_cert, nullptr);
  // Without the certificate the signature cannot be checked.
  auto v = verify_token(token, as_bytes(kData), dev_trust(), test::sign_time());
  EXPECT_EQ(v.status, TokenStatus::signature_invalid) << v.message;
}

TEST_F(DevTsaTest, MalformedRequestsAreRejectedWithBadDataFormat) {
  const Bytes good = make_request(as_bytes(kData), DigestAlg::sha256, 1, true);
  Bytes trailing = good;
  trailing.push_back(0);
  Bytes truncated(good.begin(), good.end() - 3);
  const std::vector<Bytes> bad = {Bytes{}, to_bytes("not DER at all"), Bytes{0x30, 0x80, 0x00, 0x00}, trailing,
                                  truncated, Bytes(DevTsa::max_request_bytes + 1, 0x30)};
  for (const auto& b : bad) {
    const Bytes resp = tsa().respond(b);
    EXPECT_EQ(response_status(resp), 2) << hex(b).substr(0, 40);
    EXPECT_TRUE(response_fail_bit(resp, TS_INFO_BAD_DATA_FORMAT));
  }
  EXPECT_EQ(response_status(tsa().respond(good)), 0);
}

TEST_F(DevTsaTest, RejectsDisallowedAlgorithmAndPolicyAndVersion) {
  // SHA-1 imprint: badAlg.
  const Bytes sha1_req = rewrite_request(make_request(as_bytes(kData), DigestAlg::sha256, 1, true), [](TS_REQ* r) {
    unsigned char md[20] = {0};
    ossl::X509AlgorPtr a(X509_ALGOR_new());
    X509_ALGOR_set0(a.get(), OBJ_nid2obj(NID_sha1), V_ASN1_NULL, nullptr);
    TS_MSG_IMPRINT* mi = TS_REQ_get_msg_imprint(r);
    TS_MSG_IMPRINT_set_algo(mi, a.get());
    TS_MSG_IMPRINT_set_msg(mi, md, sizeof md);
  });
  Bytes resp = tsa().respond(sha1_req);
  EXPECT_EQ(response_status(resp), 2);
  EXPECT_TRUE(response_fail_bit(resp, TS_INFO_BAD_ALG));

  resp = tsa().respond(make_request(as_bytes(kData), DigestAlg::sha256, 1, true, "1.2.3.4"));
  EXPECT_EQ(response_status(resp), 2);
  EXPECT_TRUE(response_fail_bit(resp, TS_INFO_UNACCEPTED_POLICY));
  resp = tsa().respond(make_request(as_bytes(kData), DigestAlg::sha256, 1, true, "2.999.3161.1"));
  EXPECT_EQ(response_status(resp), 0);

  resp = tsa().respond(rewrite_request(make_request(as_bytes(kData), DigestAlg::sha256, 1, true),
                                       [](TS_REQ* r) { TS_REQ_set_version(r, 2); }));
  EXPECT_EQ(response_status(resp), 2);
}

TEST(DevTsaLoad, RefusesUnusableSigners) {
  FixedClock clock(test::sign_time());
  const auto& pki = test::dev_pki();
  // A signing certificate is not a TSA certificate.
  auto doctor = DevTsa::load(pki.get("doctor").cert.string(), pki.get("doctor").key.string(), "", clock);
  ASSERT_FALSE(doctor);
  EXPECT_EQ(doctor.error().code, Errc::invalid_argument);
  // Key of another certificate.
  auto mismatch = DevTsa::load(pki.get("tsa").cert.string(), pki.get("doctor").key.string(), "", clock);
  ASSERT_FALSE(mismatch);
  // Missing files.
  auto missing = DevTsa::load("/nonexistent/tsa.pem", "/nonexistent/tsa.key", "", clock);
  ASSERT_FALSE(missing);
  // Non-critical EKU: RFC 3161 2.3 "This extension MUST be critical."
  TestCert weak = make_tsa_cert("weak TSA", false);
  DevTsa weak_tsa(std::move(weak.cert), std::move(weak.key), {}, clock);
  auto check = weak_tsa.check();
  ASSERT_FALSE(check);
  EXPECT_NE(check.error().message.find("critical"), std::string::npos) << check.error().message;
  // It answers, but only with a systemFailure rejection.
  const Bytes resp = weak_tsa.respond(make_request(as_bytes(kData), DigestAlg::sha256, 1, true));
  EXPECT_EQ(response_status(resp), 2);
  EXPECT_TRUE(response_fail_bit(resp, TS_INFO_SYSTEM_FAILURE));
  // And a good self-made one loads.
  TestCert good = make_tsa_cert("good TSA", true);
  DevTsa good_tsa(std::move(good.cert), std::move(good.key), {}, clock);
  EXPECT_TRUE(good_tsa.check());
}

// --- the shared request/response checks (request_timestamp) ---

class ResponseChecks : public DevTsaTest {
 protected:
  Result<Bytes> via(const std::function<Bytes(ByteView)>& answer, const std::optional<std::string>& policy = {}) {
    return request_timestamp([&](ByteView req) -> Result<Bytes> { return answer(req); }, as_bytes(kData),
                             DigestAlg::sha256, policy);
  }
  static void expect_rejected(const Result<Bytes>& r, std::string_view needle) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::remote_rejected) << r.error().message;
    EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  }
};

TEST_F(ResponseChecks, HonestTsaPasses) {
  auto r = via([&](ByteView req) { return tsa().respond(req); });
  ASSERT_TRUE(r) << r.error().message;
  // The token is returned byte for byte as the TSA sent it.
  auto v = verify_token(*r, as_bytes(kData), dev_trust(), test::sign_time());
  EXPECT_EQ(v.status, TokenStatus::ok) << v.message;
}

TEST_F(ResponseChecks, AnswerToAnotherNonceIsRefused) {
  auto r = via([&](ByteView req) {
    return tsa().respond(rewrite_request(req, [](TS_REQ* q) {
      ossl::Asn1IntegerPtr n(ASN1_INTEGER_new());
      ASN1_INTEGER_set_uint64(n.get(), 42);
      TS_REQ_set_nonce(q, n.get());
    }));
  });
  expect_rejected(r, "nonce");
}

TEST_F(ResponseChecks, AnswerWithoutNonceIsRefused) {
  auto r = via([&](ByteView req) {
    // The same request without its nonce.
    const unsigned char* p = req.data();
    ossl::TsReqPtr q(d2i_TS_REQ(nullptr, &p, static_cast<long>(req.size())));
    ossl::TsReqPtr bare(TS_REQ_new());
    TS_REQ_set_version(bare.get(), 1);
    TS_REQ_set_msg_imprint(bare.get(), TS_REQ_get_msg_imprint(q.get()));
    TS_REQ_set_cert_req(bare.get(), 1);
    return tsa().respond(ossl::to_der<i2d_TS_REQ>(bare.get()));
  });
  expect_rejected(r, "no nonce");
}

TEST_F(ResponseChecks, AnswerForOtherDataIsRefused) {
  auto r = via([&](ByteView req) {
    return tsa().respond(rewrite_request(req, [](TS_REQ* q) {
      Bytes other = sha256(std::string_view("other data"));
      TS_MSG_IMPRINT_set_msg(TS_REQ_get_msg_imprint(q), other.data(), static_cast<int>(other.size()));
    }));
  });
  expect_rejected(r, "messageImprint");
}

TEST_F(ResponseChecks, PolicyMustMatchTheRequest) {
  auto ok = via([&](ByteView req) { return tsa().respond(req); }, "2.999.3161.1");
  EXPECT_TRUE(ok) << ok.error().message;
  // The TSA drops our policy and answers with its default one.
  auto r = via([&](ByteView req) {
    return tsa().respond(rewrite_request(req, [](TS_REQ* q) {
      ossl::Asn1ObjectPtr o(OBJ_txt2obj("2.999.3161.1", 1));
      TS_REQ_set_policy_id(q, o.get());
    }));
  }, "1.2.3.4");
  expect_rejected(r, "policy");
  // The TSA refuses a policy it does not serve.
  auto refused = via([&](ByteView req) { return tsa().respond(req); }, "1.2.3.4");
  expect_rejected(refused, "unacceptedPolicy");
  auto bad_oid = via([&](ByteView req) { return tsa().respond(req); }, "not an oid");
  ASSERT_FALSE(bad_oid);
  EXPECT_EQ(bad_oid.error().code, Errc::invalid_argument);
}

TEST_F(ResponseChecks, RejectionStatusIsReported) {
  auto r = via([&](ByteView) { return tsa().respond(to_bytes("garbage")); });
  expect_rejected(r, "badDataFormat");
  expect_rejected(r, "rejection");
}

TEST_F(ResponseChecks, GrantedWithoutTokenOrGarbageIsRefused) {
  // OpenSSL's d2i_TS_RESP already refuses a granted status without a token.
  expect_rejected(via([](ByteView) { return Bytes{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00}; }), "TimeStampResp");
  expect_rejected(via([](ByteView) { return to_bytes("<html>proxy error</html>"); }), "TimeStampResp");
  expect_rejected(via([](ByteView) { return Bytes{}; }), "TimeStampResp");
}

TEST_F(ResponseChecks, TransportErrorsPassThrough) {
  auto r = request_timestamp([](ByteView) -> Result<Bytes> { return fail(Errc::network, "down"); }, as_bytes(kData),
                             DigestAlg::sha256);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, Errc::network);
}

TEST_F(ResponseChecks, BrokenSignatureIsRefused) {
  auto r = via([&](ByteView req) {
    Bytes resp = tsa().respond(req);
    resp.back() ^= 0x01;  // the last bytes of the response are the signature value
    return resp;
  });
  expect_rejected(r, "signature");
}

TEST_F(ResponseChecks, TsaCertificateWithNonCriticalEkuIsRefused) {
  TestCert weak = make_tsa_cert("weak TSA", false);
  auto r = via([&](ByteView req) {
    const Bytes tst = tst_info_of(token_of_response(tsa().respond(req)));
    return wrap_granted(forge_token(tst, weak, weak.cert.get()));
  });
  expect_rejected(r, "critical");
  // The same forgery with a proper certificate passes the response checks.
  TestCert good = make_tsa_cert("good TSA", true);
  auto ok = via([&](ByteView req) {
    const Bytes tst = tst_info_of(token_of_response(tsa().respond(req)));
    return wrap_granted(forge_token(tst, good, good.cert.get()));
  });
  EXPECT_TRUE(ok) << ok.error().message;
}

TEST_F(ResponseChecks, SigningCertificateNamingAnotherCertificateIsRefused) {
  TestCert a = make_tsa_cert("TSA", true, nullptr, 5);
  TestCert b = make_tsa_cert("TSA", true, &a, 5, 1);  // same key, issuer and serial; other bytes
  auto r = via([&](ByteView req) {
    const Bytes tst = tst_info_of(token_of_response(tsa().respond(req)));
    return wrap_granted(forge_token(tst, b, a.cert.get()));
  });
  expect_rejected(r, "ESSCertID");
}

}  // namespace
}  // namespace hanko::tsa
