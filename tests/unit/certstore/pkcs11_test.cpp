// Pkcs11SigningKey against real SoftHSM2 tokens (softhsm.h explains the isolation).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hanko/certstore/key_source.h"
#include "hanko/certstore/signers.h"
#include "hanko/common/digest.h"
#include "softhsm.h"
#include "test_support.h"
#include "test_util.h"

namespace hanko::certstore {
namespace {

using testing::item_cert;
using testing::item_chain;
using testing::item_key;
using testing::kSoftHsmModule;
using testing::openssl_verifies;
using testing::SoftHsm;
using testing::SoftHsmToken;

const Bytes kData = to_bytes("eyJhbGciOiJSUzI1NiJ9.eyJyZXNvdXJjZVR5cGUiOiJCdW5kbGUifQ");

class Pkcs11Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kSoftHsmModule)) {
      GTEST_SKIP() << "SoftHSM2 is not installed (" << kSoftHsmModule << "): apt-get install softhsm2";
    }
    ASSERT_EQ(SoftHsm::get().initialize(), static_cast<CK_RV>(CKR_OK));
  }

  static const DevPki& pki() { return testing::current_pki(); }

  /** A fresh token holding the key and certificate of dev PKI item `id`, both labelled `label`. */
  static SoftHsmToken token_with(const std::string& id, const std::string& label = "signer") {
    SoftHsmToken t = SoftHsm::get().create_token("hanko");
    auto key = item_key(pki(), id);
    auto cert = item_cert(pki(), id);
    t.import_key(label, key.get(), "01");
    t.import_cert(label, cert.get(), "01");
    return t;
  }

  static Pkcs11Config config(const SoftHsmToken& t, const std::string& label = "signer") {
    Pkcs11Config c;
    c.module = kSoftHsmModule;
    c.token_label = t.label;
    c.key_label = label;
    return c;
  }

  /** The PIN as hanko gets it: from the token's PIN file. */
  static Secret pin_of(const SoftHsmToken& t) {
    auto pin = read_secret_file(t.pin_file.string());
    EXPECT_TRUE(pin) << pin.error().message;
    return pin ? std::move(*pin) : Secret();
  }

  static std::unique_ptr<Pkcs11SigningKey> open(const SoftHsmToken& t, const std::string& label = "signer") {
    auto key = Pkcs11SigningKey::open(config(t, label), pin_of(t));
    EXPECT_TRUE(key) << key.error().message;
    return key ? std::move(*key) : nullptr;
  }

  static void expect_signs(const SigningKey& key) {
    auto sig = key.sign(kData);
    ASSERT_TRUE(sig) << sig.error().message;
    EXPECT_TRUE(openssl_verifies(key.certificate(), kData, *sig));
  }
};

TEST_F(Pkcs11Test, RsaKeySignsAndOpenSslVerifies) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->alg(), JwsAlg::RS256);
  EXPECT_EQ(key->source(), "pkcs11");
  EXPECT_EQ(X509_cmp(key->certificate(), item_cert(pki(), "doctor").get()), 0);
  auto sig = key->sign(kData);
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_EQ(sig->size(), 256u);
  EXPECT_TRUE(openssl_verifies(key->certificate(), kData, *sig));
  // PKCS#1 v1.5 is deterministic: the token's signature is exactly the one of the key file.
  auto pem = PemSigningKey::create(item_cert(pki(), "doctor"), item_key(pki(), "doctor"), {});
  ASSERT_TRUE(pem);
  EXPECT_EQ(*sig, *(*pem)->sign(kData));
  // sign_digest over the precomputed hash gives the same signature.
  auto by_digest = key->sign_digest(sha256(kData));
  ASSERT_TRUE(by_digest) << by_digest.error().message;
  EXPECT_EQ(*by_digest, *sig);
  // ...and a signature over other data does not verify for kData.
  auto other = key->sign(to_bytes("other"));
  ASSERT_TRUE(other);
  EXPECT_FALSE(openssl_verifies(key->certificate(), kData, *other));
}

TEST_F(Pkcs11Test, EcKeySignsRawRs) {
  auto t = token_with("doctor-ec");
  auto key = open(t);
  ASSERT_TRUE(key);
  EXPECT_EQ(key->alg(), JwsAlg::ES256);
  auto sig = key->sign(kData);
  ASSERT_TRUE(sig) << sig.error().message;
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(openssl_verifies(key->certificate(), kData, *sig));
  auto by_digest = key->sign_digest(sha256(kData));
  ASSERT_TRUE(by_digest) << by_digest.error().message;
  EXPECT_TRUE(openssl_verifies(key->certificate(), kData, *by_digest));
  Bytes tampered = *sig;
  tampered[10] ^= 0x01;
  EXPECT_FALSE(openssl_verifies(key->certificate(), kData, tampered));
}

TEST_F(Pkcs11Test, SignDigestWantsThirtyTwoBytes) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  auto bad = key->sign_digest(to_bytes("short"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Errc::invalid_argument);
}

TEST_F(Pkcs11Test, CertificateFromPemFileWhenTheTokenHasNone) {
  SoftHsmToken t = SoftHsm::get().create_token("hanko");
  t.import_key("signer", item_key(pki(), "doctor").get(), "01");
  auto without = Pkcs11SigningKey::open(config(t), pin_of(t));
  ASSERT_FALSE(without);
  EXPECT_NE(without.error().message.find("no certificate labelled \"signer\""), std::string::npos)
      << without.error().message;

  auto c = config(t);
  c.cert_path = pki().get("doctor").cert.string();
  c.chain_path = pki().get("doctor").chain.string();
  auto key = Pkcs11SigningKey::open(c, pin_of(t));
  ASSERT_TRUE(key) << key.error().message;
  ASSERT_EQ((*key)->chain().size(), item_chain(pki(), "doctor").size());
  expect_signs(**key);
}

TEST_F(Pkcs11Test, WrongPinIsAClearErrorWithoutThePin) {
  auto t = token_with("doctor");
  const std::string wrong = "not-the-pin-31337";
  auto key = Pkcs11SigningKey::open(config(t), Secret(wrong));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("CKR_PIN_INCORRECT"), std::string::npos) << key.error().message;
  EXPECT_NE(key.error().message.find(t.label), std::string::npos);
  EXPECT_EQ(key.error().message.find(wrong), std::string::npos);
  EXPECT_EQ(key.error().message.find(t.pin), std::string::npos);
  // The token is not locked: the right PIN still works.
  auto right = open(t);
  ASSERT_TRUE(right);
  expect_signs(*right);
}

TEST_F(Pkcs11Test, PinRejectedOnReloginIsNeverTriedAgain) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  const std::string old_pin = t.pin;
  t.change_pin("changed-behind-hankos-back");
  t.close_all_sessions();  // hanko must log in again, with its (now wrong) PIN
  auto first = key->sign(kData);
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("rejected the PIN"), std::string::npos) << first.error().message;
  // Even with the old PIN back, the key does not log in again: no retry loop that could lock a card.
  t.change_pin(old_pin);
  t.close_all_sessions();
  auto second = key->sign(kData);
  ASSERT_FALSE(second);
  EXPECT_NE(second.error().message.find("will not try it again"), std::string::npos) << second.error().message;
  // A key opened afresh (a restart) works.
  auto fresh = open(t);
  ASSERT_TRUE(fresh);
  expect_signs(*fresh);
}

TEST_F(Pkcs11Test, UnknownTokenLabel) {
  auto t = token_with("doctor");
  auto c = config(t);
  c.token_label = "no-such-token";
  auto key = Pkcs11SigningKey::open(c, pin_of(t));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("no token labelled \"no-such-token\""), std::string::npos) << key.error().message;
}

TEST_F(Pkcs11Test, UnknownKeyLabel) {
  auto t = token_with("doctor");
  auto key = Pkcs11SigningKey::open(config(t, "no-such-key"), pin_of(t));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("no private key labelled \"no-such-key\""), std::string::npos)
      << key.error().message;
}

TEST_F(Pkcs11Test, BadModule) {
  Pkcs11Config c;
  c.token_label = "t";
  c.key_label = "k";
  c.module = "/nonexistent/libpkcs11.so";
  auto missing = Pkcs11SigningKey::open(c, Secret("1234"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("does not exist"), std::string::npos) << missing.error().message;
  // A shared library that is not a PKCS#11 module.
  c.module = "/usr/lib/x86_64-linux-gnu/libcrypto.so.3";
  if (std::filesystem::exists(c.module)) {
    auto not_p11 = Pkcs11SigningKey::open(c, Secret("1234"));
    ASSERT_FALSE(not_p11);
    EXPECT_NE(not_p11.error().message.find("not a PKCS#11 module"), std::string::npos) << not_p11.error().message;
  }
  c.module = kSoftHsmModule;
  c.token_label = std::string(33, 'x');
  auto too_long = Pkcs11SigningKey::open(c, Secret("1234"));
  ASSERT_FALSE(too_long);
  EXPECT_NE(too_long.error().message.find("1 to 32 bytes"), std::string::npos);
}

TEST_F(Pkcs11Test, RsaKeyOfAnotherCertificateIsRefused) {
  SoftHsmToken t = SoftHsm::get().create_token("hanko");
  t.import_key("signer", item_key(pki(), "doctor").get(), "01");
  t.import_cert("signer", item_cert(pki(), "dentist").get(), "01");
  auto key = Pkcs11SigningKey::open(config(t), pin_of(t));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("does not belong to the certificate"), std::string::npos) << key.error().message;
}

TEST_F(Pkcs11Test, EcKeyOfAnotherCertificateIsRefused) {
  // A fresh P-256 key with doctor-ec's certificate; with and without a public key object on the token
  // (without one, only the test signature can tell).
  for (bool with_public : {true, false}) {
    SCOPED_TRACE(with_public ? "with public key object" : "private key only");
    ossl::EvpPkeyPtr other(EVP_EC_gen("P-256"));
    ASSERT_TRUE(other);
    SoftHsmToken t = SoftHsm::get().create_token("hanko");
    t.import_key("signer", other.get(), "02", with_public);
    t.import_cert("signer", item_cert(pki(), "doctor-ec").get(), "02");
    auto key = Pkcs11SigningKey::open(config(t), pin_of(t));
    ASSERT_FALSE(key);
    EXPECT_NE(key.error().message.find(with_public ? "does not belong to the certificate" : "does not verify with the certificate"),
              std::string::npos)
        << key.error().message;
  }
}

TEST_F(Pkcs11Test, KeyTypeOfCertificateMustMatch) {
  SoftHsmToken t = SoftHsm::get().create_token("hanko");
  t.import_key("signer", item_key(pki(), "doctor").get(), "01");
  t.import_cert("signer", item_cert(pki(), "doctor-ec").get(), "01");
  auto key = Pkcs11SigningKey::open(config(t), pin_of(t));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("key types differ"), std::string::npos) << key.error().message;
}

TEST_F(Pkcs11Test, WeakCertificateKeyIsRefused) {
  auto t = token_with("rsa1024");
  auto key = Pkcs11SigningKey::open(config(t), pin_of(t));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, Errc::policy);
}

TEST_F(Pkcs11Test, RecoversWhenItsSessionsAreClosedBehindItsBack) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  expect_signs(*key);
  EXPECT_EQ(key->recoveries(), 0u);
  t.close_all_sessions();
  expect_signs(*key);  // same request: reconnect and retry
  EXPECT_EQ(key->recoveries(), 1u);
  expect_signs(*key);
  EXPECT_EQ(key->recoveries(), 1u);
}

TEST_F(Pkcs11Test, RecoversWhenLoggedOutBehindItsBack) {
  auto t = token_with("doctor-ec");
  auto key = open(t);
  ASSERT_TRUE(key);
  t.logout_everyone();
  expect_signs(*key);
  EXPECT_EQ(key->recoveries(), 1u);
}

TEST_F(Pkcs11Test, RecoversWhenTheModuleIsReinitialised) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  ASSERT_EQ(SoftHsm::get().finalize(), static_cast<CK_RV>(CKR_OK));
  ASSERT_EQ(SoftHsm::get().initialize(), static_cast<CK_RV>(CKR_OK));
  expect_signs(*key);
  EXPECT_EQ(key->recoveries(), 1u);
}

TEST_F(Pkcs11Test, InitialisesTheModuleAgainWhenFinalisedBehindItsBack) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  ASSERT_EQ(SoftHsm::get().finalize(), static_cast<CK_RV>(CKR_OK));
  expect_signs(*key);  // CKR_CRYPTOKI_NOT_INITIALIZED: hanko calls C_Initialize itself
  EXPECT_EQ(key->recoveries(), 1u);
  // hanko initialised the module this time, so it finalises it when its last key goes.
  key.reset();
  CK_ULONG n = 0;
  EXPECT_EQ(SoftHsm::get().fn()->C_GetSlotList(CK_TRUE, nullptr, &n), static_cast<CK_RV>(CKR_CRYPTOKI_NOT_INITIALIZED));
}

TEST_F(Pkcs11Test, DoesNotFinaliseAModuleSomeoneElseInitialised) {
  auto t = token_with("doctor");
  auto key = open(t);  // the test initialised SoftHSM first: hanko got CKR_CRYPTOKI_ALREADY_INITIALIZED
  ASSERT_TRUE(key);
  key.reset();
  CK_ULONG n = 0;
  EXPECT_EQ(SoftHsm::get().fn()->C_GetSlotList(CK_TRUE, nullptr, &n), static_cast<CK_RV>(CKR_OK));
}

TEST_F(Pkcs11Test, KeyGoneFromTheTokenFailsClearly) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  ASSERT_EQ(t.destroy("signer", CKO_PRIVATE_KEY), 1);
  t.close_all_sessions();
  auto sig = key->sign(kData);
  ASSERT_FALSE(sig);
  EXPECT_NE(sig.error().message.find("no private key labelled \"signer\""), std::string::npos) << sig.error().message;
  // It stays an error, and no signature is made.
  EXPECT_FALSE(key->sign(kData));
}

TEST_F(Pkcs11Test, KeyReplacedOnTheTokenIsNeverUsed) {
  auto t = token_with("doctor");
  auto key = open(t);
  ASSERT_TRUE(key);
  ASSERT_EQ(t.destroy("signer", CKO_PRIVATE_KEY), 1);
  t.import_key("signer", item_key(pki(), "dentist").get(), "01", false);
  t.close_all_sessions();
  auto sig = key->sign(kData);
  ASSERT_FALSE(sig);
  EXPECT_NE(sig.error().message.find("does not verify with the certificate"), std::string::npos)
      << sig.error().message;
}

TEST_F(Pkcs11Test, AlwaysAuthenticateKeyLogsInForEachSignature) {
  SoftHsmToken t = SoftHsm::get().create_token("hanko");
  t.import_key("signer", item_key(pki(), "doctor").get(), "01", true, /*always_authenticate=*/true);
  t.import_cert("signer", item_cert(pki(), "doctor").get(), "01");
  auto key = open(t);
  ASSERT_TRUE(key);
  expect_signs(*key);
  expect_signs(*key);

  // The token does enforce it: the same key, signed with without the context-specific login, refuses.
  auto* fn = SoftHsm::get().fn();
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  ASSERT_EQ(fn->C_OpenSession(t.slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &h), static_cast<CK_RV>(CKR_OK));
  CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
  std::string label = "signer";
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, label.data(), label.size()}};
  CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
  CK_ULONG n = 0;
  ASSERT_EQ(fn->C_FindObjectsInit(h, tmpl, 2), static_cast<CK_RV>(CKR_OK));
  ASSERT_EQ(fn->C_FindObjects(h, &obj, 1, &n), static_cast<CK_RV>(CKR_OK));
  fn->C_FindObjectsFinal(h);
  ASSERT_EQ(n, 1u);  // visible: hanko's sessions keep the token logged in
  CK_MECHANISM mech{CKM_RSA_PKCS, nullptr, 0};
  Bytes input = sha256_digest_info(sha256(kData));
  Bytes sig(256);
  CK_ULONG len = sig.size();
  CK_RV rv = fn->C_SignInit(h, &mech, obj);
  if (rv == CKR_OK) {
    rv = fn->C_Sign(h, input.data(), input.size(), sig.data(), &len);
  }
  EXPECT_NE(rv, static_cast<CK_RV>(CKR_OK));
  fn->C_CloseSession(h);
}

TEST_F(Pkcs11Test, ConcurrentSigningFromFourThreads) {
  for (const char* id : {"doctor", "doctor-ec"}) {
    SCOPED_TRACE(id);
    auto t = token_with(id);
    auto c = config(t);
    c.max_sessions = 2;  // fewer sessions than threads: some wait for a session
    auto key = Pkcs11SigningKey::open(c, pin_of(t));
    ASSERT_TRUE(key) << key.error().message;
    const SigningKey& k = **key;
    std::atomic<int> good{0}, bad{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        for (int j = 0; j < 20; ++j) {
          const Bytes data = to_bytes("thread " + std::to_string(i) + " signature " + std::to_string(j));
          auto sig = k.sign(data);
          (sig && openssl_verifies(k.certificate(), data, *sig) ? good : bad)++;
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    EXPECT_EQ(good.load(), 80);
    EXPECT_EQ(bad.load(), 0);
  }
}

TEST_F(Pkcs11Test, SignersConfigurationWithPinFileAndPinEnv) {
  auto t = token_with("doctor");
  ::setenv("HANKO_TEST_P11_PIN", t.pin.c_str(), 1);
  const std::map<std::string, std::string> keys = {
      {"signers.default", "hsm-file"},
      {"signers.hsm-file.source", "pkcs11"},
      {"signers.hsm-file.module", kSoftHsmModule},
      {"signers.hsm-file.tokenLabel", t.label},
      {"signers.hsm-file.keyLabel", "signer"},
      {"signers.hsm-file.pinFile", t.pin_file.string()},
      {"signers.hsm-file.chain", pki().get("doctor").chain.string()},
      {"signers.hsm-env.source", "pkcs11"},
      {"signers.hsm-env.module", kSoftHsmModule},
      {"signers.hsm-env.tokenLabel", t.label},
      {"signers.hsm-env.keyLabel", "signer"},
      {"signers.hsm-env.pinEnv", "HANKO_TEST_P11_PIN"},
  };
  auto set = load_signers(keys);
  ::unsetenv("HANKO_TEST_P11_PIN");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->aliases(), (std::vector<std::string>{"hsm-env", "hsm-file"}));
  EXPECT_EQ(set->default_alias(), "hsm-file");
  for (const auto& alias : set->aliases()) {
    auto key = set->find(alias);
    ASSERT_TRUE(key);
    EXPECT_EQ(key->label(), alias);
    expect_signs(*key);
  }
  const auto described = set->describe();
  ASSERT_EQ(described.size(), 2u);
  EXPECT_EQ(described[1].alias, "hsm-file");
  EXPECT_EQ(described[1].source, "pkcs11");
  EXPECT_EQ(described[1].hc_role, std::optional<std::string>("Medical Doctor"));
  EXPECT_EQ(described[1].chain.size(), 2u);  // the signer and hpki-signing-ca

  // A wrong PIN names the key it came from. (PKCS#11 login state is per token and application: while
  // the keys above are logged in, any session of this process is, and no PIN would be checked.)
  set = Result<SignerSet>(SignerSet());
  auto wrong_file = t.pin_file.parent_path() / (t.label + ".wrong-pin");
  test::write_text(wrong_file, "wrong-pin\n");
  auto bad = keys;
  bad["signers.hsm-file.pinFile"] = wrong_file.string();
  bad.erase("signers.hsm-env.source");
  for (const char* k : {"signers.hsm-env.module", "signers.hsm-env.tokenLabel", "signers.hsm-env.keyLabel",
                        "signers.hsm-env.pinEnv"}) {
    bad.erase(k);
  }
  auto failed = load_signers(bad);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message.rfind("signers.hsm-file.pinFile: ", 0), 0u) << failed.error().message;
  EXPECT_EQ(failed.error().message.find("wrong-pin"), std::string::npos);
  // An unknown token label names tokenLabel.
  auto no_token = bad;
  no_token["signers.hsm-file.pinFile"] = t.pin_file.string();
  no_token["signers.hsm-file.tokenLabel"] = "absent";
  auto failed_token = load_signers(no_token);
  ASSERT_FALSE(failed_token);
  EXPECT_EQ(failed_token.error().message.rfind("signers.hsm-file.tokenLabel: ", 0), 0u) << failed_token.error().message;
  auto no_key = bad;
  no_key["signers.hsm-file.pinFile"] = t.pin_file.string();
  no_key["signers.hsm-file.keyLabel"] = "absent";
  auto failed_key = load_signers(no_key);
  ASSERT_FALSE(failed_key);
  EXPECT_EQ(failed_key.error().message.rfind("signers.hsm-file.keyLabel: ", 0), 0u) << failed_key.error().message;
}

}  // namespace
}  // namespace hanko::certstore
