#include "hanko/certstore/trust_store.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>

#include <atomic>
#include <thread>

#include "hanko/certstore/dev_pki.h"
#include "hanko/common/ossl.h"
#include "test_support.h"
#include "test_util.h"

namespace hanko::certstore {
namespace {

namespace fs = std::filesystem;
using testing::hx;
using testing::item_cert;
using testing::item_chain;
using testing::item_key;

const TrustStore& dev_store() {
  static TrustStore store = [] {
    auto r = TrustStore::load_dir(test::dev_pki().trust_dir);
    if (!r) {
      throw std::runtime_error(r.error().message);
    }
    return std::move(*r);
  }();
  return store;
}

/** Verifies a dev PKI item with its chain file as the untrusted certificates. */
ChainResult verify_item(const TrustStore& store, const DevPki& pki, std::string_view id, TimePoint at, Purpose purpose = Purpose::signature) {
  auto cert = item_cert(pki, id);
  auto chain = item_chain(pki, id);
  std::vector<const X509*> untrusted;
  for (const auto& c : chain) {
    untrusted.push_back(c.get());
  }
  return store.verify(cert.get(), untrusted, at, purpose);
}

std::string subject(const X509* c) { return ossl::name_to_string(X509_get_subject_name(c)); }

/** Re-signs `cert` with `key` and re-parses it, so that every cached encoding is fresh. */
ossl::X509Ptr resign(ossl::X509Ptr cert, EVP_PKEY* key) {
  if (X509_sign(cert.get(), key, EVP_sha256()) <= 0) {
    throw std::runtime_error("X509_sign");
  }
  return ossl::x509_from_der(ossl::x509_to_der(cert.get()));
}

TEST(TrustStore, LoadsTheDevTrustFolder) {
  const TrustStore& store = dev_store();
  EXPECT_EQ(store.anchor_count(), 3u);
  std::vector<std::string> names;
  for (const auto& a : store.anchors()) {
    names.push_back(subject(a.get()));
  }
  EXPECT_NE(std::find(names.begin(), names.end(), subject(item_cert(test::dev_pki(), "hpki-root").get())), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), subject(item_cert(test::dev_pki(), "jpki-root").get())), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), subject(item_cert(test::dev_pki(), "tsa-root").get())), names.end());
}

TEST(TrustStore, DoctorChainOkAtSignTime) {
  const auto& pki = test::dev_pki();
  ChainResult r = verify_item(dev_store(), pki, "doctor", test::sign_time());
  ASSERT_EQ(r.status, ChainStatus::ok) << r.message;
  EXPECT_EQ(r.depth, -1);
  EXPECT_FALSE(r.revocation_time);
  ASSERT_EQ(r.chain.size(), 3u);
  EXPECT_EQ(X509_cmp(r.chain[0].get(), item_cert(pki, "doctor").get()), 0);
  EXPECT_EQ(X509_cmp(r.chain[1].get(), item_cert(pki, "hpki-signing-ca").get()), 0);
  EXPECT_EQ(X509_cmp(r.chain[2].get(), item_cert(pki, "hpki-root").get()), 0);
}

TEST(TrustStore, EverySignerChainsAtSignTime) {
  const auto& pki = test::dev_pki();
  for (const char* id : {"doctor", "dentist", "pharmacist", "nurse", "no-role", "doctor-ec", "jpki-signer"}) {
    ChainResult r = verify_item(dev_store(), pki, id, test::sign_time());
    EXPECT_EQ(r.status, ChainStatus::ok) << id << ": " << r.message;
  }
}

TEST(TrustStore, MissingIntermediateIsNoChain) {
  auto doctor = item_cert(test::dev_pki(), "doctor");
  ChainResult r = dev_store().verify(doctor.get(), {}, test::sign_time(), Purpose::signature);
  EXPECT_EQ(r.status, ChainStatus::no_chain_found) << r.message;
  EXPECT_EQ(r.depth, 0);
  EXPECT_NE(r.message.find("Yamada Taro"), std::string::npos) << r.message;
}

TEST(TrustStore, IntermediateFromTheStoreIsUsed) {
  const auto& pki = test::dev_pki();
  auto store = TrustStore::load_dir(pki.trust_dir);
  ASSERT_TRUE(store);
  store->add_intermediate(item_cert(pki, "hpki-signing-ca"));
  auto doctor = item_cert(pki, "doctor");
  ChainResult r = store->verify(doctor.get(), {}, test::sign_time(), Purpose::signature);
  EXPECT_EQ(r.status, ChainStatus::ok) << r.message;
}

TEST(TrustStore, ExpiredCertificate) {
  ChainResult r = verify_item(dev_store(), test::dev_pki(), "expired", test::sign_time());
  EXPECT_EQ(r.status, ChainStatus::expired) << r.message;
  EXPECT_EQ(r.depth, 0);
  EXPECT_NE(r.message.find("Ito Jiro"), std::string::npos) << r.message;
  // ... but valid while it was valid.
  ChainResult then = verify_item(dev_store(), test::dev_pki(), "expired", utc(2024, 6, 1));
  EXPECT_EQ(then.status, ChainStatus::ok) << then.message;
}

TEST(TrustStore, NotYetValid) {
  ChainResult r = verify_item(dev_store(), test::dev_pki(), "doctor", test::pki_time() - std::chrono::days{2});
  EXPECT_EQ(r.status, ChainStatus::not_yet_valid) << r.message;
  EXPECT_EQ(r.depth, 0);
  EXPECT_NE(r.message.find("Yamada Taro"), std::string::npos) << r.message;
}

TEST(TrustStore, ExpiredLaterAtTheLeaf) {
  ChainResult r = verify_item(dev_store(), test::dev_pki(), "doctor", utc(2031, 1, 16));
  EXPECT_EQ(r.status, ChainStatus::expired) << r.message;
}

TEST(TrustStore, RevokedAfterRevocation) {
  ChainResult r = verify_item(dev_store(), test::dev_pki(), "revoked", test::sign_time());
  EXPECT_EQ(r.status, ChainStatus::revoked) << r.message;
  EXPECT_EQ(r.depth, 0);
  ASSERT_TRUE(r.revocation_time);
  EXPECT_EQ(*r.revocation_time, test::pki_time());
  EXPECT_NE(r.message.find("Watanabe Saburo"), std::string::npos) << r.message;
  // Exactly at the revocation time: revoked.
  EXPECT_EQ(verify_item(dev_store(), test::dev_pki(), "revoked", test::pki_time()).status, ChainStatus::revoked);
}

TEST(TrustStore, RevokedLaterIsOkWithTheRevocationTime) {
  ChainResult r = verify_item(dev_store(), test::dev_pki(), "revoked", test::pki_time() - std::chrono::hours{1});
  EXPECT_EQ(r.status, ChainStatus::ok) << r.message;
  ASSERT_TRUE(r.revocation_time);
  EXPECT_EQ(*r.revocation_time, test::pki_time());
  EXPECT_EQ(r.depth, 0);
}

TEST(TrustStore, WithoutTheCrlRevocationIsNotChecked) {
  const auto& pki = test::dev_pki();
  TrustStore store;
  store.add_anchor(item_cert(pki, "hpki-root"));
  ChainResult r = verify_item(store, pki, "revoked", test::sign_time());
  EXPECT_EQ(r.status, ChainStatus::ok) << r.message;
  EXPECT_FALSE(r.revocation_time);
}

TEST(TrustStore, CrlTimesDoNotMatter) {
  // The CRL is valid 2026-01-15 .. 2026-02-14; long after it, the revocation is still known.
  ChainResult r = verify_item(dev_store(), test::dev_pki(), "revoked", utc(2028, 1, 1));
  EXPECT_EQ(r.status, ChainStatus::revoked) << r.message;
  ChainResult doctor = verify_item(dev_store(), test::dev_pki(), "doctor", utc(2028, 1, 1));
  EXPECT_EQ(doctor.status, ChainStatus::ok) << doctor.message;
}

TEST(TrustStore, IndependentPkiIsNoChain) {
  const DevPki* other = &testing::second_pki();
  for (const char* id : {"doctor", "jpki-signer", "tsa"}) {
    ChainResult r = verify_item(dev_store(), *other, id, test::sign_time(), std::string_view(id) == "tsa" ? Purpose::timestamping : Purpose::signature);
    EXPECT_EQ(r.status, ChainStatus::no_chain_found) << id << ": " << r.message;
  }
  // The other PKI's own trust folder accepts it.
  auto own = TrustStore::load_dir(other->trust_dir);
  ASSERT_TRUE(own);
  EXPECT_EQ(verify_item(*own, *other, "doctor", test::sign_time()).status, ChainStatus::ok);
}

TEST(TrustStore, TamperedSignatureIsSignatureFailure) {
  const auto& pki = test::dev_pki();
  ossl::X509Ptr copy(X509_dup(item_cert(pki, "doctor").get()));
  auto forged = resign(std::move(copy), item_key(pki, "nurse").get());  // right names, wrong key
  auto chain = item_chain(pki, "doctor");
  ChainResult r = dev_store().verify(forged.get(), {chain[0].get()}, test::sign_time(), Purpose::signature);
  EXPECT_EQ(r.status, ChainStatus::signature_failure) << r.message;
  EXPECT_EQ(r.depth, 0);
}

TEST(TrustStore, TimestampingPurpose) {
  const auto& pki = test::dev_pki();
  ChainResult tsa = verify_item(dev_store(), pki, "tsa", test::sign_time(), Purpose::timestamping);
  EXPECT_EQ(tsa.status, ChainStatus::ok) << tsa.message;
  ASSERT_EQ(tsa.chain.size(), 2u);
  // Past-time tests timestamp up to three years back.
  EXPECT_EQ(verify_item(dev_store(), pki, "tsa", utc(2023, 6, 1), Purpose::timestamping).status, ChainStatus::ok);

  ChainResult doctor = verify_item(dev_store(), pki, "doctor", test::sign_time(), Purpose::timestamping);
  EXPECT_EQ(doctor.status, ChainStatus::constraints_failure) << doctor.message;
  EXPECT_EQ(doctor.depth, 0);
  EXPECT_EQ(verify_item(dev_store(), pki, "ocsp-responder", test::sign_time(), Purpose::timestamping).status,
            ChainStatus::constraints_failure);
}

TEST(TrustStore, TsaWithNonCriticalEkuFailsTimestamping) {
  const auto& pki = test::dev_pki();
  // EKU timeStamping, but not critical: SEQUENCE { OID 1.3.6.1.5.5.7.3.8 }.
  auto relaxed = testing::with_extension(item_cert(pki, "tsa").get(), NID_ext_key_usage, false, hx("30 0A 06 08 2B 06 01 05 05 07 03 08"));
  auto cert = resign(std::move(relaxed), item_key(pki, "tsa-root").get());
  ChainResult r = dev_store().verify(cert.get(), {}, test::sign_time(), Purpose::timestamping);
  EXPECT_EQ(r.status, ChainStatus::constraints_failure) << r.message;
  // The same certificate with the critical flag restored is fine.
  auto strict = testing::with_extension(cert.get(), NID_ext_key_usage, true, hx("30 0A 06 08 2B 06 01 05 05 07 03 08"));
  auto good = resign(std::move(strict), item_key(pki, "tsa-root").get());
  EXPECT_EQ(dev_store().verify(good.get(), {}, test::sign_time(), Purpose::timestamping).status, ChainStatus::ok);
}

TEST(TrustStore, SignaturePurposeRejectsTsaAndOcspCertificates) {
  const auto& pki = test::dev_pki();
  ChainResult tsa = verify_item(dev_store(), pki, "tsa", test::sign_time(), Purpose::signature);
  EXPECT_EQ(tsa.status, ChainStatus::constraints_failure) << tsa.message;
  EXPECT_NE(tsa.message.find("Hanko Dev TSA"), std::string::npos) << tsa.message;
  EXPECT_EQ(verify_item(dev_store(), pki, "ocsp-responder", test::sign_time(), Purpose::signature).status,
            ChainStatus::constraints_failure);
  // A CA certificate (keyUsage keyCertSign/cRLSign only) is not a signer either.
  EXPECT_EQ(verify_item(dev_store(), pki, "hpki-signing-ca", test::sign_time(), Purpose::signature).status,
            ChainStatus::constraints_failure);
}

TEST(TrustStore, LoadDirMissingFolder) {
  const fs::path missing = test::temp_dir("trust-missing") / "nope";
  auto r = TrustStore::load_dir(missing);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find(missing.string()), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("does not exist"), std::string::npos) << r.error().message;
}

TEST(TrustStore, LoadDirWithoutAnchor) {
  const auto& pki = test::dev_pki();
  const fs::path dir = test::temp_dir("trust-no-anchor");
  fs::copy_file(pki.get("hpki-signing-ca").cert, dir / "ca.pem");
  test::write_text(dir / "notes.txt", "ignored");
  auto r = TrustStore::load_dir(dir);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("no self-signed"), std::string::npos) << r.error().message;
  EXPECT_FALSE(TrustStore::load_dir(test::temp_dir("trust-empty")));
}

TEST(TrustStore, LoadDirRejectsUnreadableFiles) {
  const auto& pki = test::dev_pki();
  const fs::path dir = test::temp_dir("trust-garbage");
  fs::copy_file(pki.get("hpki-root").cert, dir / "root.pem");
  test::write_text(dir / "broken.crt", "this is not a certificate");
  auto r = TrustStore::load_dir(dir);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("broken.crt"), std::string::npos) << r.error().message;

  fs::remove(dir / "broken.crt");
  test::write_text(dir / "broken.crl", "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
  auto c = TrustStore::load_dir(dir);
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message.find("broken.crl"), std::string::npos) << c.error().message;
}

TEST(TrustStore, LoadDirReadsDerAndIntermediates) {
  const auto& pki = test::dev_pki();
  const fs::path dir = test::temp_dir("trust-der");
  auto root = item_cert(pki, "hpki-root");
  const Bytes der = ossl::x509_to_der(root.get());
  test::write_text(dir / "root.DER", to_string(der));
  fs::copy_file(pki.get("hpki-signing-ca").cert, dir / "signing-ca.cer");
  auto crl_text = test::read_text(pki.crl);
  ossl::BioPtr bio(BIO_new_mem_buf(crl_text.data(), static_cast<int>(crl_text.size())));
  ossl::X509CrlPtr crl(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_TRUE(crl);
  test::write_text(dir / "ca.crl", to_string(ossl::to_der<i2d_X509_CRL>(crl.get())));
  auto store = TrustStore::load_dir(dir);
  ASSERT_TRUE(store) << store.error().message;
  EXPECT_EQ(store->anchor_count(), 1u);
  auto doctor = item_cert(pki, "doctor");
  EXPECT_EQ(store->verify(doctor.get(), {}, test::sign_time(), Purpose::signature).status, ChainStatus::ok);
  auto revoked = item_cert(pki, "revoked");
  EXPECT_EQ(store->verify(revoked.get(), {}, test::sign_time(), Purpose::signature).status, ChainStatus::revoked);
}

TEST(TrustStore, NullLeaf) {
  ChainResult r = dev_store().verify(nullptr, {}, test::sign_time(), Purpose::signature);
  EXPECT_EQ(r.status, ChainStatus::general_failure);
  EXPECT_FALSE(r.message.empty());
}

TEST(TrustStore, MoveKeepsTheContents) {
  auto loaded = TrustStore::load_dir(test::dev_pki().trust_dir);
  ASSERT_TRUE(loaded);
  TrustStore moved = std::move(*loaded);
  EXPECT_EQ(moved.anchor_count(), 3u);
  EXPECT_EQ(verify_item(moved, test::dev_pki(), "doctor", test::sign_time()).status, ChainStatus::ok);
}

TEST(TrustStore, ConcurrentVerify) {
  const auto& pki = test::dev_pki();
  const TrustStore& store = dev_store();
  auto doctor = item_cert(pki, "doctor");
  auto revoked = item_cert(pki, "revoked");
  auto chain = item_chain(pki, "doctor");
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        if (store.verify(doctor.get(), {chain[0].get()}, test::sign_time(), Purpose::signature).status != ChainStatus::ok) {
          ++wrong;
        }
        if (store.verify(revoked.get(), {chain[0].get()}, test::sign_time(), Purpose::signature).status != ChainStatus::revoked) {
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

TEST(TrustStore, StatusNames) {
  EXPECT_EQ(chain_status_name(ChainStatus::ok), "ok");
  EXPECT_EQ(chain_status_name(ChainStatus::no_chain_found), "no_chain_found");
  EXPECT_EQ(chain_status_name(ChainStatus::revoked), "revoked");
  EXPECT_EQ(chain_status_name(ChainStatus::constraints_failure), "constraints_failure");
}

}  // namespace
}  // namespace hanko::certstore
