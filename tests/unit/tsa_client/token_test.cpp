#include "hanko/tsa_client/token.h"

#include <gtest/gtest.h>

#include "hanko/certstore/dev_pki.h"
#include "hanko/tsa_client/dev_tsa.h"
#include "test_support.h"
#include "tsa_test_util.h"

namespace hanko::tsa {
namespace {

using namespace testutil;

const std::string kData = R"({"resourceType":"Bundle","id":"doc-1"})";

class TokenTest : public ::testing::Test {
 protected:
  DevTsaFixture fx;
  Bytes good_token() {
    InProcessTsa source(*fx.tsa);
    auto t = source.timestamp(as_bytes(kData));
    EXPECT_TRUE(t) << t.error().message;
    return t ? *t : Bytes{};
  }
  TokenVerification verify(ByteView token, std::string_view data = kData) {
    return verify_token(token, as_bytes(data), dev_trust(), test::sign_time());
  }
};

TEST_F(TokenTest, VerifiesAndReportsChain) {
  const Bytes token = good_token();
  auto v = verify(token);
  ASSERT_EQ(v.status, TokenStatus::ok) << v.message;
  ASSERT_TRUE(v.info);
  EXPECT_EQ(v.info->gen_time, test::sign_time());
  EXPECT_EQ(v.chain.status, certstore::ChainStatus::ok);
  EXPECT_GE(v.chain.chain.size(), 2u);  // TSA and its root
}

TEST_F(TokenTest, OtherDataIsImprintMismatch) {
  const Bytes token = good_token();
  auto v = verify(token, R"({"resourceType":"Bundle","id":"doc-2"})");
  EXPECT_EQ(v.status, TokenStatus::imprint_mismatch) << v.message;
  ASSERT_TRUE(v.info);  // the token itself parsed
  EXPECT_EQ(verify(token, "").status, TokenStatus::imprint_mismatch);
}

TEST_F(TokenTest, TsaOutsideTheTrustStoreIsChainFailure) {
  TestCert stranger = make_tsa_cert("stranger TSA", true);
  DevTsa other(std::move(stranger.cert), std::move(stranger.key), {}, fx.clock);
  InProcessTsa source(other);
  auto token = source.timestamp(as_bytes(kData));
  ASSERT_TRUE(token) << token.error().message;  // the response checks do not judge trust
  auto v = verify(*token);
  EXPECT_EQ(v.status, TokenStatus::chain_failure) << v.message;
  EXPECT_NE(v.chain.status, certstore::ChainStatus::ok);
}

TEST_F(TokenTest, TsaCertificateMustBeValidAtTheGivenTime) {
  const Bytes token = good_token();
  auto late = verify_token(token, as_bytes(kData), dev_trust(), test::pki_time() + std::chrono::days(365 * 20));
  EXPECT_EQ(late.status, TokenStatus::chain_failure) << late.message;
  EXPECT_EQ(late.chain.status, certstore::ChainStatus::expired) << late.chain.message;
  auto early = verify_token(token, as_bytes(kData), dev_trust(), test::pki_time() - std::chrono::days(365 * 5));
  EXPECT_EQ(early.status, TokenStatus::chain_failure) << early.message;
}

TEST_F(TokenTest, TamperedTstInfoIsSignatureInvalid) {
  Bytes token = good_token();
  // Change one digit of genTime ("20260116093000Z") inside the signed TSTInfo.
  const std::string needle = "20260116093000Z";
  auto it = std::search(token.begin(), token.end(), needle.begin(), needle.end());
  ASSERT_NE(it, token.end());
  *(it + 11) = '9';  // 09:30:00 -> 09:39:00
  auto v = verify(token);
  EXPECT_EQ(v.status, TokenStatus::signature_invalid) << v.message;
}

TEST_F(TokenTest, TamperedSignatureIsSignatureInvalid) {
  Bytes token = good_token();
  token.back() ^= 0x01;
  auto v = verify(token);
  EXPECT_TRUE(v.status == TokenStatus::signature_invalid || v.status == TokenStatus::malformed) << v.message;
  EXPECT_NE(v.status, TokenStatus::ok);
}

TEST_F(TokenTest, EveryByteFlipInTheSignedPartIsDetected) {
  const Bytes token = good_token();
  const Bytes tst = tst_info_of(token);
  auto pos = std::search(token.begin(), token.end(), tst.begin(), tst.end());
  ASSERT_NE(pos, token.end());
  const auto start = static_cast<std::size_t>(pos - token.begin());
  for (std::size_t i = start; i < start + tst.size(); ++i) {
    Bytes t = token;
    t[i] ^= 0x20;
    auto v = verify(t);
    EXPECT_TRUE(v.status == TokenStatus::signature_invalid || v.status == TokenStatus::malformed ||
                v.status == TokenStatus::imprint_mismatch)
        << "byte " << i << ": " << token_status_name(v.status) << " " << v.message;
  }
}

TEST_F(TokenTest, GarbageAndTruncationAreMalformed) {
  const Bytes token = good_token();
  Bytes truncated(token.begin(), token.begin() + static_cast<std::ptrdiff_t>(token.size() / 2));
  Bytes trailing = token;
  trailing.push_back(0x00);
  for (const Bytes& b : {Bytes{}, to_bytes("garbage"), truncated, trailing, Bytes{0x30, 0x00}}) {
    auto v = verify(b);
    EXPECT_EQ(v.status, TokenStatus::malformed) << v.message;
    EXPECT_FALSE(v.info);
    EXPECT_FALSE(parse_token(b));
  }
  // A CMS SignedData that is not a timestamp token.
  TestCert c = make_tsa_cert("x", true);
  ossl::BioPtr in(BIO_new_mem_buf("hello", 5));
  ossl::CmsPtr cms(CMS_sign(c.cert.get(), c.key.get(), nullptr, in.get(), CMS_BINARY));
  ASSERT_TRUE(cms);
  const Bytes plain = ossl::to_der<i2d_CMS_ContentInfo>(cms.get());
  auto v = verify(plain);
  EXPECT_EQ(v.status, TokenStatus::malformed);
  EXPECT_NE(v.message.find("TSTInfo"), std::string::npos) << v.message;
}

TEST_F(TokenTest, ImprintAlgorithmOffTheAllowListIsMalformed) {
  TestCert signer = make_tsa_cert("TSA", true);
  const Bytes tst = with_imprint_alg(tst_info_of(good_token()), NID_sha1);
  const Bytes token = forge_token(tst, signer, signer.cert.get());
  auto parsed = parse_token(token);
  ASSERT_FALSE(parsed);
  EXPECT_EQ(parsed.error().code, Errc::unsupported);
  auto v = verify(token);
  EXPECT_EQ(v.status, TokenStatus::malformed);
  EXPECT_NE(v.message.find("allow-list"), std::string::npos) << v.message;
  // The same forgery with the genuine algorithm parses (and fails only on trust).
  const Bytes honest = forge_token(tst_info_of(good_token()), signer, signer.cert.get());
  EXPECT_TRUE(parse_token(honest));
  EXPECT_EQ(verify(honest).status, TokenStatus::chain_failure);
}

TEST_F(TokenTest, SigningCertificateMustNameTheSigner) {
  TestCert a = make_tsa_cert("TSA", true, nullptr, 9);
  TestCert b = make_tsa_cert("TSA", true, &a, 9, 1);  // same key, issuer and serial as a
  const Bytes tst = tst_info_of(good_token());
  // Signed by b, SigningCertificateV2 names a (b's twin: same key, issuer and serial).
  const Bytes wrong = forge_token(tst, b, a.cert.get());
  auto v = verify(wrong);
  EXPECT_EQ(v.status, TokenStatus::signer_mismatch) << v.message;
  EXPECT_NE(v.message.find("ESSCertID"), std::string::npos) << v.message;
  // Signed by b, naming b: only the trust check fails.
  const Bytes right = forge_token(tst, b, b.cert.get());
  EXPECT_EQ(verify(right).status, TokenStatus::chain_failure);
  // RFC 5035: the first ESSCertIDv2 must be the signer's. Here the list is
  // [other, b] and `other` is in the token too.
  TestCert other = make_tsa_cert("other", true);
  const Bytes second = forge_token(tst, b, other.cert.get(), {other.cert.get()}, {b.cert.get()});
  auto v3 = verify(second);
  EXPECT_EQ(v3.status, TokenStatus::signer_mismatch) << v3.message;
  const Bytes first = forge_token(tst, b, b.cert.get(), {other.cert.get()}, {other.cert.get()});
  EXPECT_EQ(verify(first).status, TokenStatus::chain_failure);
  // No SigningCertificate attribute at all.
  const Bytes none = forge_token(tst, b, nullptr);
  auto v2 = verify(none);
  EXPECT_EQ(v2.status, TokenStatus::signer_mismatch) << v2.message;
}

TEST_F(TokenTest, NonCriticalEkuIsChainFailure) {
  // RFC 3161 2.3: "This extension MUST be critical." hanko reports chain_failure.
  TestCert weak = make_tsa_cert("weak TSA", false);
  const Bytes token = forge_token(tst_info_of(good_token()), weak, weak.cert.get());
  auto v = verify(token);
  EXPECT_EQ(v.status, TokenStatus::chain_failure);
  EXPECT_NE(v.message.find("critical"), std::string::npos) << v.message;
}

TEST_F(TokenTest, ParseTokenFields) {
  const Bytes req = make_request(as_bytes(kData), DigestAlg::sha384, 0xABCDEF, true);
  const Bytes token = token_of_response(fx.tsa->respond(req));
  auto info = parse_token(token);
  ASSERT_TRUE(info) << info.error().message;
  EXPECT_EQ(info->imprint_alg, DigestAlg::sha384);
  EXPECT_EQ(info->imprint.size(), 48u);
  ASSERT_TRUE(info->nonce);
  EXPECT_EQ(hex(*info->nonce), "abcdef");
  EXPECT_FALSE(info->serial_hex.empty());
  ASSERT_TRUE(info->tsa_cert);
  EXPECT_EQ(X509_cmp(info->tsa_cert.get(), fx.tsa->certificate()), 0);
}

}  // namespace
}  // namespace hanko::tsa
