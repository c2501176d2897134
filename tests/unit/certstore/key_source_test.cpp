// Key sources in memory (PEM, PKCS#12), secrets, and the signers.* configuration.
#include "hanko/certstore/key_source.h"

#include <gtest/gtest.h>
#include <openssl/pkcs12.h>

#include <atomic>
#include <thread>

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
using testing::openssl_verifies;

const Bytes kData = to_bytes("eyJhbGciOiJFUzI1NiJ9.eyJyZXNvdXJjZVR5cGUiOiJCdW5kbGUifQ");

const DevPki& pki() { return testing::current_pki(); }

std::filesystem::path dir() {
  static const auto d = test::temp_dir("key-source");
  return d;
}

/** Writes a PKCS#12 file of `id`'s key and certificate with `ca` in the bag; nid 0 = OpenSSL's defaults (AES-256, PBKDF2). */
std::filesystem::path write_p12(const std::string& name, const std::string& id, const char* password,
                                const std::vector<std::string>& ca_ids, bool with_cert = true, int nid = 0) {
  auto key = item_key(pki(), id);
  auto cert = item_cert(pki(), id);
  ossl::X509StackPtr ca(sk_X509_new_null());
  std::vector<ossl::X509Ptr> owned;
  for (const auto& c : ca_ids) {
    owned.push_back(item_cert(pki(), c));
    sk_X509_push(ca.get(), X509_dup(owned.back().get()));
  }
  ossl::Ptr<PKCS12, PKCS12_free> p12(
      PKCS12_create(password, "signer", key.get(), with_cert ? cert.get() : nullptr, ca.get(), nid, nid, 0, 0, 0));
  if (!p12) {
    throw std::runtime_error("PKCS12_create");
  }
  const Bytes der = ossl::to_der<i2d_PKCS12>(p12.get());
  const auto path = dir() / (name + ".p12");
  test::write_text(path, to_string(der));
  return path;
}

std::filesystem::path write_secret(const std::string& name, std::string_view text) {
  const auto path = dir() / name;
  test::write_text(path, text);
  return path;
}

// ---- JWS algorithm names ---------------------------------------------------

TEST(JwsAlg, AllowListOnly) {
  EXPECT_EQ(jws_alg_from_name("RS256"), JwsAlg::RS256);
  EXPECT_EQ(jws_alg_from_name("ES256"), JwsAlg::ES256);
  EXPECT_EQ(jws_alg_from_name("none"), std::nullopt);
  EXPECT_EQ(jws_alg_from_name("HS256"), std::nullopt);
  EXPECT_EQ(jws_alg_name(JwsAlg::ES256), "ES256");
}

// ---- Secrets ---------------------------------------------------------------

TEST(Secret, FileGivesItsFirstLineWithoutTheNewline) {
  const std::pair<std::string_view, std::string_view> cases[] = {
      {"s3cret\n", "s3cret"}, {"s3cret\r\n", "s3cret"}, {"s3cret", "s3cret"},
      {"first\nsecond\n", "first"}, {"", ""}, {"with space \n", "with space "}};
  int i = 0;
  for (const auto& [content, expected] : cases) {
    auto s = read_secret_file(write_secret("secret-" + std::to_string(++i), content).string());
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(s->view(), expected);
    EXPECT_EQ(std::string_view(s->c_str()), expected);
  }
}

TEST(Secret, FileErrorsNameTheFileNotItsContent) {
  auto missing = read_secret_file((dir() / "absent.pin").string());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Errc::io);
  EXPECT_NE(missing.error().message.find("absent.pin"), std::string::npos);

  auto big = read_secret_file(write_secret("big.pin", std::string(5000, 'x')).string());
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, Errc::too_large);

  auto nul = read_secret_file(write_secret("nul.pin", std::string("ab\0cd\n", 6)).string());
  ASSERT_FALSE(nul);
  EXPECT_EQ(nul.error().message.find("cd"), std::string::npos);  // the path only, never the content
  EXPECT_NE(nul.error().message.find("NUL"), std::string::npos);
}

TEST(Secret, Environment) {
  ::setenv("HANKO_TEST_SECRET_ENV", "from-env", 1);
  auto s = read_secret_env("HANKO_TEST_SECRET_ENV");
  ::unsetenv("HANKO_TEST_SECRET_ENV");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->view(), "from-env");
  auto unset = read_secret_env("HANKO_TEST_SECRET_ENV");
  ASSERT_FALSE(unset);
  EXPECT_NE(unset.error().message.find("HANKO_TEST_SECRET_ENV is not set"), std::string::npos);
}

TEST(Secret, MovesLeaveNothingBehind) {
  Secret a("1234");
  Secret b(std::move(a));
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_EQ(b.view(), "1234");
  Secret c;
  c = std::move(b);
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(c.view(), "1234");
}

// ---- PEM -------------------------------------------------------------------

TEST(PemKey, RsaAndEcSignaturesVerifyWithOpenSsl) {
  for (const char* id : {"doctor", "doctor-ec"}) {
    SCOPED_TRACE(id);
    const auto& item = pki().get(id);
    auto key = PemSigningKey::load(item.cert.string(), item.key.string(), item.chain.string());
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ((*key)->source(), "pem");
    EXPECT_EQ((*key)->chain().size(), 1u);
    auto sig = (*key)->sign(kData);
    ASSERT_TRUE(sig) << sig.error().message;
    EXPECT_TRUE(openssl_verifies((*key)->certificate(), kData, *sig));
    EXPECT_FALSE(openssl_verifies((*key)->certificate(), to_bytes("other data"), *sig));
    auto by_digest = (*key)->sign_digest(sha256(kData));
    ASSERT_TRUE(by_digest) << by_digest.error().message;
    EXPECT_TRUE(openssl_verifies((*key)->certificate(), kData, *by_digest));
    if (std::string_view(id) == "doctor") {
      EXPECT_EQ(*by_digest, *sig);  // PKCS#1 v1.5: deterministic
    } else {
      EXPECT_EQ(sig->size(), 64u);
    }
    EXPECT_FALSE((*key)->sign_digest(kData));  // not a 32-byte hash
  }
}

TEST(PemKey, KeyMustBelongToTheCertificate) {
  auto key = PemSigningKey::load(pki().get("dentist").cert.string(), pki().get("doctor").key.string());
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("does not belong to the certificate"), std::string::npos);
}

TEST(PemKey, WeakRsaIsRefused) {
  auto key = PemSigningKey::load(pki().get("rsa1024").cert.string(), pki().get("rsa1024").key.string());
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, Errc::policy);
}

TEST(PemKey, ConcurrentSigningFromFourThreads) {
  for (const char* id : {"doctor", "doctor-ec"}) {
    auto key = PemSigningKey::create(item_cert(pki(), id), item_key(pki(), id), {});
    ASSERT_TRUE(key);
    const SigningKey& k = **key;
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) {
      threads.emplace_back([&, i] {
        for (int j = 0; j < 20; ++j) {
          const Bytes data = to_bytes(std::to_string(i) + "/" + std::to_string(j));
          auto sig = (j % 2 == 0) ? k.sign(data) : k.sign_digest(sha256(data));
          if (sig && openssl_verifies(k.certificate(), data, *sig)) {
            ++good;
          }
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    EXPECT_EQ(good.load(), 80) << id;
  }
}

// ---- PKCS#12 ---------------------------------------------------------------

TEST(Pkcs12Key, OpensWithTheRightPasswordAndSigns) {
  for (const char* id : {"doctor", "doctor-ec"}) {
    SCOPED_TRACE(id);
    // The bag holds the root too (as exports often do): it is left out of the chain.
    const auto path = write_p12(std::string("right-") + id, id, "pa55 word", {"hpki-root", "hpki-signing-ca"});
    auto key = Pkcs12SigningKey::load(path.string(), Secret("pa55 word"));
    ASSERT_TRUE(key) << key.error().message;
    EXPECT_EQ((*key)->source(), "pkcs12");
    EXPECT_EQ(X509_cmp((*key)->certificate(), item_cert(pki(), id).get()), 0);
    ASSERT_EQ((*key)->chain().size(), 1u);
    EXPECT_EQ(X509_cmp((*key)->chain()[0].get(), item_cert(pki(), "hpki-signing-ca").get()), 0);
    auto sig = (*key)->sign(kData);
    ASSERT_TRUE(sig) << sig.error().message;
    EXPECT_TRUE(openssl_verifies((*key)->certificate(), kData, *sig));
  }
}

TEST(Pkcs12Key, WrongPasswordSaysSoWithoutThePassword) {
  const auto path = write_p12("wrong", "doctor", "right-password", {});
  auto key = Pkcs12SigningKey::load(path.string(), Secret("wrong-password"));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("wrong password"), std::string::npos) << key.error().message;
  EXPECT_EQ(key.error().message.find("wrong-password"), std::string::npos);
  EXPECT_EQ(key.error().message.find("right-password"), std::string::npos);
}

TEST(Pkcs12Key, TripleDesAndEmptyPassword) {
  const auto des = write_p12("3des", "doctor", "x", {"hpki-signing-ca"}, true, NID_pbe_WithSHA1And3_Key_TripleDES_CBC);
  auto key = Pkcs12SigningKey::load(des.string(), Secret("x"));
  ASSERT_TRUE(key) << key.error().message;
  auto empty = write_p12("empty", "doctor", "", {});
  auto key2 = Pkcs12SigningKey::load(empty.string(), Secret(""));
  ASSERT_TRUE(key2) << key2.error().message;
  EXPECT_FALSE(Pkcs12SigningKey::load(empty.string(), Secret("not empty")));
}

TEST(Pkcs12Key, BadFiles) {
  auto missing = Pkcs12SigningKey::load((dir() / "absent.p12").string(), Secret("x"));
  ASSERT_FALSE(missing);
  auto garbage = Pkcs12SigningKey::load(write_secret("garbage.p12", "not DER at all").string(), Secret("x"));
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("is not a PKCS#12 file"), std::string::npos);
  // A key whose certificate is not in the file (only another one, as a CA certificate).
  const auto no_cert = write_p12("no-cert", "doctor", "x", {"dentist"}, false);
  auto key = Pkcs12SigningKey::load(no_cert.string(), Secret("x"));
  ASSERT_FALSE(key);
  EXPECT_NE(key.error().message.find("no certificate for its private key"), std::string::npos) << key.error().message;
}

TEST(Pkcs12Key, WeakKeyIsRefused) {
  const auto path = write_p12("weak", "rsa1024", "x", {});
  auto key = Pkcs12SigningKey::load(path.string(), Secret("x"));
  ASSERT_FALSE(key);
  EXPECT_EQ(key.error().code, Errc::policy);
}

// ---- signers.* -------------------------------------------------------------

using Keys = std::map<std::string, std::string>;

Keys pem_signer(const std::string& alias, const std::string& id) {
  const auto& item = pki().get(id);
  return {{"signers." + alias + ".source", "pem"},
          {"signers." + alias + ".cert", item.cert.string()},
          {"signers." + alias + ".key", item.key.string()},
          {"signers." + alias + ".chain", item.chain.string()}};
}

Keys merged(std::initializer_list<Keys> parts) {
  Keys out;
  for (const auto& p : parts) {
    for (const auto& [k, v] : p) {
      out[k] = v;  // later parts win
    }
  }
  return out;
}

TEST(SignersConfig, EveryErrorNamesItsKey) {
  struct Case {
    const char* name;
    Keys keys;
    const char* key;  // the error message starts with "<key>: "
  };
  const Case cases[] = {
      {"no source", {{"signers.a.cert", "c.pem"}}, "signers.a.source"},
      {"bad source", {{"signers.a.source", "hsm"}}, "signers.a.source"},
      {"unknown setting", {{"signers.a.source", "pem"}, {"signers.a.password", "x"}}, "signers.a.password"},
      {"no setting", {{"signers.a", "x"}}, "signers.a"},
      {"bad alias", {{"signers.a b.source", "pem"}}, "signers.a b.source"},
      {"alias default", {{"signers.default.source", "pem"}}, "signers.default.source"},
      {"empty value", {{"signers.a.source", "pem"}, {"signers.a.cert", ""}}, "signers.a.cert"},
      {"pem without cert", {{"signers.a.source", "pem"}, {"signers.a.key", "k.pem"}}, "signers.a.cert"},
      {"pem without key", {{"signers.a.source", "pem"}, {"signers.a.cert", "c.pem"}}, "signers.a.key"},
      {"pem with module",
       {{"signers.a.source", "pem"}, {"signers.a.cert", "c"}, {"signers.a.key", "k"}, {"signers.a.module", "m.so"}},
       "signers.a.module"},
      {"pkcs12 without file", {{"signers.p.source", "pkcs12"}, {"signers.p.passwordFile", "f"}}, "signers.p.file"},
      {"pkcs12 without password", {{"signers.p.source", "pkcs12"}, {"signers.p.file", "f.p12"}}, "signers.p.passwordFile"},
      {"pkcs12 with both passwords",
       {{"signers.p.source", "pkcs12"}, {"signers.p.file", "f"}, {"signers.p.passwordFile", "f"}, {"signers.p.passwordEnv", "E"}},
       "signers.p.passwordEnv"},
      {"pkcs12 bad env name",
       {{"signers.p.source", "pkcs12"}, {"signers.p.file", "f"}, {"signers.p.passwordEnv", "A-B"}},
       "signers.p.passwordEnv"},
      {"pkcs12 with pin", {{"signers.p.source", "pkcs12"}, {"signers.p.file", "f"}, {"signers.p.pinFile", "f"}}, "signers.p.pinFile"},
      {"pkcs11 without module",
       {{"signers.h.source", "pkcs11"}, {"signers.h.tokenLabel", "t"}, {"signers.h.keyLabel", "k"}, {"signers.h.pinEnv", "P"}},
       "signers.h.module"},
      {"pkcs11 without token label",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "m"}, {"signers.h.keyLabel", "k"}, {"signers.h.pinEnv", "P"}},
       "signers.h.tokenLabel"},
      {"pkcs11 without key label",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "m"}, {"signers.h.tokenLabel", "t"}, {"signers.h.pinEnv", "P"}},
       "signers.h.keyLabel"},
      {"pkcs11 without pin",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "m"}, {"signers.h.tokenLabel", "t"}, {"signers.h.keyLabel", "k"}},
       "signers.h.pinFile"},
      {"pkcs11 with both pins",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "m"}, {"signers.h.tokenLabel", "t"}, {"signers.h.keyLabel", "k"},
        {"signers.h.pinEnv", "P"}, {"signers.h.pinFile", "f"}},
       "signers.h.pinEnv"},
      {"pkcs11 long token label",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "m"}, {"signers.h.tokenLabel", std::string(33, 't')},
        {"signers.h.keyLabel", "k"}, {"signers.h.pinEnv", "P"}},
       "signers.h.tokenLabel"},
      {"pkcs11 with key file",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "m"}, {"signers.h.tokenLabel", "t"}, {"signers.h.keyLabel", "k"},
        {"signers.h.pinEnv", "P"}, {"signers.h.key", "k.pem"}},
       "signers.h.key"},
      {"unknown default", merged({pem_signer("a", "doctor"), {{"signers.default", "b"}}}), "signers.default"},
      {"empty default", merged({pem_signer("a", "doctor"), {{"signers.default", ""}}}), "signers.default"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto parsed = parse_signers_config(c.keys);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, Errc::invalid_argument);
    EXPECT_EQ(parsed.error().message.rfind(std::string(c.key) + ": ", 0), 0u) << parsed.error().message;
  }
}

TEST(SignersConfig, ValidConfigurations) {
  auto none = parse_signers_config({{"server.listen", "127.0.0.1:8080"}});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->signers.empty());
  EXPECT_EQ(none->default_alias, "");

  auto one = parse_signers_config(pem_signer("only", "doctor"));
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(one->default_alias, "only");  // the only signer is the default

  auto two = parse_signers_config(merged({pem_signer("b", "doctor"), pem_signer("a", "dentist")}));
  ASSERT_TRUE(two) << two.error().message;
  ASSERT_EQ(two->signers.size(), 2u);
  EXPECT_EQ(two->signers[0].alias, "a");
  EXPECT_EQ(two->default_alias, "");  // several and no signers.default: none

  auto p11 = parse_signers_config({{"signers.hsm.source", "pkcs11"},
                                   {"signers.hsm.module", "/usr/lib/softhsm/libsofthsm2.so"},
                                   {"signers.hsm.tokenLabel", "hanko"},
                                   {"signers.hsm.keyLabel", "doctor"},
                                   {"signers.hsm.pinFile", "/etc/hanko/pin"},
                                   {"signers.hsm.cert", "/etc/hanko/doctor.pem"}});
  ASSERT_TRUE(p11) << p11.error().message;
  EXPECT_EQ(p11->signers[0].token_label, "hanko");
  EXPECT_EQ(p11->signers[0].pin_file, "/etc/hanko/pin");
}

TEST(Signers, LoadsPemAndPkcs12AndDescribesThem) {
  const auto p12 = write_p12("signers", "doctor-ec", "from file", {"hpki-signing-ca"});
  const auto pwfile = write_secret("p12.password", "from file\n");
  const auto p12env = write_p12("signers-env", "dentist", "from env", {"hpki-signing-ca"});
  ::setenv("HANKO_TEST_P12_PASSWORD", "from env", 1);
  const Keys keys = merged({pem_signer("doctor", "doctor"),
                            {{"signers.default", "ec"},
                             {"signers.ec.source", "pkcs12"},
                             {"signers.ec.file", p12.string()},
                             {"signers.ec.passwordFile", pwfile.string()},
                             {"signers.dentist.source", "pkcs12"},
                             {"signers.dentist.file", p12env.string()},
                             {"signers.dentist.passwordEnv", "HANKO_TEST_P12_PASSWORD"}}});
  auto set = load_signers(keys);
  ::unsetenv("HANKO_TEST_P12_PASSWORD");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->aliases(), (std::vector<std::string>{"dentist", "doctor", "ec"}));
  EXPECT_EQ(set->default_alias(), "ec");
  ASSERT_TRUE(set->default_signer());
  EXPECT_EQ(set->default_signer()->alg(), JwsAlg::ES256);
  EXPECT_EQ(set->find("absent"), nullptr);
  for (const auto& alias : set->aliases()) {
    auto key = set->find(alias);
    ASSERT_TRUE(key) << alias;
    EXPECT_EQ(key->label(), alias);
    auto sig = key->sign(kData);
    ASSERT_TRUE(sig) << sig.error().message;
    EXPECT_TRUE(openssl_verifies(key->certificate(), kData, *sig)) << alias;
  }
  const auto d = set->describe();
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(d[0].alias, "dentist");
  EXPECT_EQ(d[0].source, "pkcs12");
  EXPECT_EQ(d[0].hc_role, std::optional<std::string>("Dentist"));
  EXPECT_EQ(d[1].source, "pem");
  EXPECT_EQ(d[1].alg, "RS256");
  EXPECT_EQ(d[2].alg, "ES256");
  const CertSummary doctor = summarize(item_cert(pki(), "doctor").get());
  EXPECT_EQ(d[1].not_before, doctor.not_before);
  EXPECT_EQ(d[1].not_after, doctor.not_after);
  ASSERT_EQ(d[1].chain.size(), 2u);
  EXPECT_EQ(d[1].chain[0].subject, doctor.subject);
  EXPECT_EQ(d[1].chain[1].subject, summarize(item_cert(pki(), "hpki-signing-ca").get()).subject);
  ASSERT_EQ(d[1].chain_pem.size(), 2u);
  EXPECT_EQ(d[1].chain_pem[0], ossl::x509_to_pem(item_cert(pki(), "doctor").get()));

  // A signer without hcRole describes without one.
  auto norole = load_signers(pem_signer("x", "no-role"));
  ASSERT_TRUE(norole) << norole.error().message;
  EXPECT_EQ(norole->describe()[0].hc_role, std::nullopt);
}

TEST(Signers, OpenErrorsNameTheirKey) {
  const auto p12 = write_p12("open-errors", "doctor", "right", {});
  const auto wrong = write_secret("wrong.password", "wrong\n");
  struct Case {
    const char* name;
    Keys keys;
    const char* key;
  };
  const Case cases[] = {
      {"missing certificate", merged({pem_signer("a", "doctor"), {{"signers.a.cert", (dir() / "none.pem").string()}}}),
       "signers.a.cert"},
      {"missing key", merged({pem_signer("a", "doctor"), {{"signers.a.key", (dir() / "none.key").string()}}}),
       "signers.a.key"},
      {"key of another certificate", merged({pem_signer("a", "doctor"), {{"signers.a.key", pki().get("dentist").key.string()}}}),
       "signers.a.key"},
      {"missing chain", merged({pem_signer("a", "doctor"), {{"signers.a.chain", (dir() / "none-chain.pem").string()}}}),
       "signers.a.chain"},
      {"wrong password",
       {{"signers.p.source", "pkcs12"}, {"signers.p.file", p12.string()}, {"signers.p.passwordFile", wrong.string()}},
       "signers.p.passwordFile"},
      {"missing password file",
       {{"signers.p.source", "pkcs12"}, {"signers.p.file", p12.string()},
        {"signers.p.passwordFile", (dir() / "none.password").string()}},
       "signers.p.passwordFile"},
      {"unset password variable",
       {{"signers.p.source", "pkcs12"}, {"signers.p.file", p12.string()}, {"signers.p.passwordEnv", "HANKO_TEST_UNSET_VAR"}},
       "signers.p.passwordEnv"},
      {"missing PKCS#12 file",
       {{"signers.p.source", "pkcs12"}, {"signers.p.file", (dir() / "none.p12").string()},
        {"signers.p.passwordFile", wrong.string()}},
       "signers.p.file"},
      {"missing module",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "/nonexistent/p11.so"}, {"signers.h.tokenLabel", "t"},
        {"signers.h.keyLabel", "k"}, {"signers.h.pinFile", wrong.string()}},
       "signers.h.module"},
      {"missing PIN file",
       {{"signers.h.source", "pkcs11"}, {"signers.h.module", "/nonexistent/p11.so"}, {"signers.h.tokenLabel", "t"},
        {"signers.h.keyLabel", "k"}, {"signers.h.pinFile", (dir() / "none.pin").string()}},
       "signers.h.pinFile"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto set = load_signers(c.keys);
    ASSERT_FALSE(set);
    EXPECT_EQ(set.error().message.rfind(std::string(c.key) + ": ", 0), 0u) << set.error().message;
    EXPECT_EQ(set.error().message.find("right"), std::string::npos);
  }
}

}  // namespace
}  // namespace hanko::certstore
