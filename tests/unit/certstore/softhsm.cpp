#include "softhsm.h"

#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "test_support.h"

namespace hanko::certstore::testing {

namespace {

Bytes bn_bytes(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    throw std::runtime_error(std::string("EVP_PKEY_get_bn_param ") + name);
  }
  ossl::BignumPtr owned(bn);
  Bytes out(static_cast<std::size_t>(pad > 0 ? pad : BN_num_bytes(bn)));
  BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
  return out;
}

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const void* value, std::size_t len) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), static_cast<CK_ULONG>(len)};
}
CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const Bytes& b) { return attr(type, b.data(), b.size()); }
CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const std::string& s) { return attr(type, s.data(), s.size()); }

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

/** DER OID prime256v1, the CKA_EC_PARAMS of P-256. */
const Bytes kP256Params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

/** A read-write session of "another application" (the test), logged in as the user; closed at the end. */
class UserSession {
 public:
  UserSession(const SoftHsmToken& token, bool login = true) : m_fn(SoftHsm::get().fn()) {
    SoftHsm::get().initialize();
    check_rv(m_fn->C_OpenSession(token.slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &m_h),
             "C_OpenSession");
    if (login) {
      const CK_RV rv = m_fn->C_Login(m_h, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(token.pin.data())),
                                     static_cast<CK_ULONG>(token.pin.size()));
      if (rv != CKR_USER_ALREADY_LOGGED_IN) {
        check_rv(rv, "C_Login (test)");
      }
    }
  }
  ~UserSession() { m_fn->C_CloseSession(m_h); }
  UserSession(const UserSession&) = delete;
  UserSession& operator=(const UserSession&) = delete;
  CK_SESSION_HANDLE h() const { return m_h; }

 private:
  CK_FUNCTION_LIST* m_fn;
  CK_SESSION_HANDLE m_h = CK_INVALID_HANDLE;
};

}  // namespace

bool openssl_verifies(const X509* cert, ByteView data, ByteView sig) {
  EVP_PKEY* pk = X509_get0_pubkey(cert);
  if (pk == nullptr) {
    return false;
  }
  Bytes der(sig.begin(), sig.end());
  if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
    if (sig.size() != 64) {
      return false;
    }
    ossl::EcdsaSigPtr es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), 32, nullptr);
    BIGNUM* s = BN_bin2bn(sig.data() + 32, 32, nullptr);
    ECDSA_SIG_set0(es.get(), r, s);
    der = ossl::to_der<i2d_ECDSA_SIG>(es.get());
  }
  ossl::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const bool ok = EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pk) == 1 &&
                  EVP_DigestVerify(ctx.get(), der.data(), der.size(), data.data(), data.size()) == 1;
  ERR_clear_error();
  return ok;
}

void check_rv(CK_RV rv, const char* what) {
  if (rv != CKR_OK) {
    throw std::runtime_error(std::string(what) + " failed: 0x" + std::to_string(rv));
  }
}

SoftHsm::SoftHsm() {
  dir = test::temp_dir("softhsm");
  std::filesystem::create_directories(dir / "tokens");
  test::write_text(dir / "softhsm2.conf", "directories.tokendir = " + (dir / "tokens").string() +
                                              "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
  // Before anything in this process initialises the module (SoftHSM reads it in C_Initialize).
  ::setenv("SOFTHSM2_CONF", (dir / "softhsm2.conf").c_str(), 1);
  void* handle = dlopen(kSoftHsmModule, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw std::runtime_error(std::string("dlopen ") + kSoftHsmModule);
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  check_rv(get_list(&m_fn), "C_GetFunctionList");
  check_rv(initialize(), "C_Initialize");
}

SoftHsm& SoftHsm::get() {
  static SoftHsm instance;
  return instance;
}

CK_RV SoftHsm::initialize() const {
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  const CK_RV rv = m_fn->C_Initialize(&args);
  return rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? CKR_OK : rv;
}

CK_RV SoftHsm::finalize() const { return m_fn->C_Finalize(nullptr); }

SoftHsmToken SoftHsm::create_token(const std::string& prefix) const {
  static int counter = 0;
  check_rv(initialize(), "C_Initialize");
  SoftHsmToken t;
  t.label = prefix + "-" + std::to_string(++counter);
  t.pin = "user-" + std::to_string(counter) + "-4711";
  t.so_pin = "so-" + std::to_string(counter) + "-0815";
  // The slot without an initialised token (SoftHSM always offers one).
  CK_ULONG n = 0;
  check_rv(m_fn->C_GetSlotList(CK_FALSE, nullptr, &n), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  check_rv(m_fn->C_GetSlotList(CK_FALSE, slots.data(), &n), "C_GetSlotList");
  std::optional<CK_SLOT_ID> free;
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info{};
    if (m_fn->C_GetTokenInfo(s, &info) == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED) == 0) {
      free = s;
      break;
    }
  }
  if (!free) {
    throw std::runtime_error("SoftHSM offers no free slot");
  }
  unsigned char label32[32];
  std::memset(label32, ' ', sizeof label32);
  std::memcpy(label32, t.label.data(), std::min<std::size_t>(t.label.size(), 32));
  check_rv(m_fn->C_InitToken(*free, reinterpret_cast<CK_UTF8CHAR*>(t.so_pin.data()),
                             static_cast<CK_ULONG>(t.so_pin.size()), label32),
           "C_InitToken");
  {
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    check_rv(m_fn->C_OpenSession(t.slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h), "C_OpenSession");
    check_rv(m_fn->C_Login(h, CKU_SO, reinterpret_cast<CK_UTF8CHAR*>(t.so_pin.data()),
                           static_cast<CK_ULONG>(t.so_pin.size())),
             "C_Login (SO)");
    check_rv(m_fn->C_InitPIN(h, reinterpret_cast<CK_UTF8CHAR*>(t.pin.data()), static_cast<CK_ULONG>(t.pin.size())),
             "C_InitPIN");
    m_fn->C_Logout(h);
    m_fn->C_CloseSession(h);
  }
  t.pin_file = dir / (t.label + ".pin");
  test::write_text(t.pin_file, t.pin + "\n");
  return t;
}

CK_SLOT_ID SoftHsmToken::slot() const {
  auto* fn = SoftHsm::get().fn();
  CK_ULONG n = 0;
  check_rv(fn->C_GetSlotList(CK_TRUE, nullptr, &n), "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  check_rv(fn->C_GetSlotList(CK_TRUE, slots.data(), &n), "C_GetSlotList");
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO info{};
    if (fn->C_GetTokenInfo(s, &info) != CKR_OK) {
      continue;
    }
    std::string l(reinterpret_cast<const char*>(info.label), sizeof info.label);
    l.erase(l.find_last_not_of(' ') + 1);
    if (l == label) {
      return s;
    }
  }
  throw std::runtime_error("no token " + label);
}

void SoftHsmToken::import_key(const std::string& key_label, EVP_PKEY* key, const std::string& id, bool with_public,
                              bool always_authenticate) const {
  UserSession s(*this);
  auto* fn = SoftHsm::get().fn();
  CK_OBJECT_CLASS priv_class = CKO_PRIVATE_KEY;
  CK_OBJECT_CLASS pub_class = CKO_PUBLIC_KEY;
  CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA) {
    CK_KEY_TYPE type = CKK_RSA;
    const Bytes n = bn_bytes(key, OSSL_PKEY_PARAM_RSA_N), e = bn_bytes(key, OSSL_PKEY_PARAM_RSA_E),
                d = bn_bytes(key, OSSL_PKEY_PARAM_RSA_D), p = bn_bytes(key, OSSL_PKEY_PARAM_RSA_FACTOR1),
                q = bn_bytes(key, OSSL_PKEY_PARAM_RSA_FACTOR2), dp = bn_bytes(key, OSSL_PKEY_PARAM_RSA_EXPONENT1),
                dq = bn_bytes(key, OSSL_PKEY_PARAM_RSA_EXPONENT2),
                qi = bn_bytes(key, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
    std::vector<CK_ATTRIBUTE> priv = {
        attr(CKA_CLASS, &priv_class, sizeof priv_class), attr(CKA_KEY_TYPE, &type, sizeof type),
        attr(CKA_TOKEN, &kTrue, 1), attr(CKA_PRIVATE, &kTrue, 1), attr(CKA_SENSITIVE, &kTrue, 1),
        attr(CKA_SIGN, &kTrue, 1), attr(CKA_LABEL, key_label), attr(CKA_ID, id), attr(CKA_MODULUS, n),
        attr(CKA_PUBLIC_EXPONENT, e), attr(CKA_PRIVATE_EXPONENT, d), attr(CKA_PRIME_1, p), attr(CKA_PRIME_2, q),
        attr(CKA_EXPONENT_1, dp), attr(CKA_EXPONENT_2, dq), attr(CKA_COEFFICIENT, qi),
        attr(CKA_ALWAYS_AUTHENTICATE, always_authenticate ? &kTrue : &kFalse, 1)};
    check_rv(fn->C_CreateObject(s.h(), priv.data(), static_cast<CK_ULONG>(priv.size()), &obj), "C_CreateObject (RSA)");
    if (with_public) {
      std::vector<CK_ATTRIBUTE> pub = {attr(CKA_CLASS, &pub_class, sizeof pub_class), attr(CKA_KEY_TYPE, &type, sizeof type),
                                       attr(CKA_TOKEN, &kTrue, 1),  attr(CKA_VERIFY, &kTrue, 1),
                                       attr(CKA_LABEL, key_label),   attr(CKA_ID, id),
                                       attr(CKA_MODULUS, n),         attr(CKA_PUBLIC_EXPONENT, e)};
      check_rv(fn->C_CreateObject(s.h(), pub.data(), static_cast<CK_ULONG>(pub.size()), &obj), "C_CreateObject (RSA pub)");
    }
    return;
  }
  CK_KEY_TYPE type = CKK_EC;
  const Bytes d = bn_bytes(key, OSSL_PKEY_PARAM_PRIV_KEY, 32);
  std::vector<CK_ATTRIBUTE> priv = {
      attr(CKA_CLASS, &priv_class, sizeof priv_class), attr(CKA_KEY_TYPE, &type, sizeof type),
      attr(CKA_TOKEN, &kTrue, 1), attr(CKA_PRIVATE, &kTrue, 1), attr(CKA_SENSITIVE, &kTrue, 1),
      attr(CKA_SIGN, &kTrue, 1), attr(CKA_LABEL, key_label), attr(CKA_ID, id), attr(CKA_EC_PARAMS, kP256Params),
      attr(CKA_VALUE, d), attr(CKA_ALWAYS_AUTHENTICATE, always_authenticate ? &kTrue : &kFalse, 1)};
  check_rv(fn->C_CreateObject(s.h(), priv.data(), static_cast<CK_ULONG>(priv.size()), &obj), "C_CreateObject (EC)");
  if (with_public) {
    unsigned char* enc = nullptr;
    const std::size_t len = EVP_PKEY_get1_encoded_public_key(key, &enc);
    Bytes point = {0x04, static_cast<std::uint8_t>(len)};  // DER OCTET STRING around the uncompressed point
    point.insert(point.end(), enc, enc + len);
    OPENSSL_free(enc);
    std::vector<CK_ATTRIBUTE> pub = {attr(CKA_CLASS, &pub_class, sizeof pub_class),
                                     attr(CKA_KEY_TYPE, &type, sizeof type),
                                     attr(CKA_TOKEN, &kTrue, 1),
                                     attr(CKA_VERIFY, &kTrue, 1),
                                     attr(CKA_LABEL, key_label),
                                     attr(CKA_ID, id),
                                     attr(CKA_EC_PARAMS, kP256Params),
                                     attr(CKA_EC_POINT, point)};
    check_rv(fn->C_CreateObject(s.h(), pub.data(), static_cast<CK_ULONG>(pub.size()), &obj), "C_CreateObject (EC pub)");
  }
}

void SoftHsmToken::import_cert(const std::string& cert_label, const X509* cert, const std::string& id) const {
  UserSession s(*this);
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE type = CKC_X_509;
  const Bytes der = ossl::x509_to_der(cert);
  const Bytes subject = ossl::to_der<i2d_X509_NAME>(X509_get_subject_name(cert));
  std::vector<CK_ATTRIBUTE> a = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_CERTIFICATE_TYPE, &type, sizeof type),
                                 attr(CKA_TOKEN, &kTrue, 1),       attr(CKA_LABEL, cert_label),
                                 attr(CKA_ID, id),                 attr(CKA_SUBJECT, subject),
                                 attr(CKA_VALUE, der)};
  CK_OBJECT_HANDLE obj = CK_INVALID_HANDLE;
  check_rv(SoftHsm::get().fn()->C_CreateObject(s.h(), a.data(), static_cast<CK_ULONG>(a.size()), &obj),
           "C_CreateObject (certificate)");
}

int SoftHsmToken::destroy(const std::string& object_label, CK_OBJECT_CLASS cls) const {
  UserSession s(*this);
  auto* fn = SoftHsm::get().fn();
  std::vector<CK_ATTRIBUTE> a = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_LABEL, object_label)};
  check_rv(fn->C_FindObjectsInit(s.h(), a.data(), static_cast<CK_ULONG>(a.size())), "C_FindObjectsInit");
  CK_OBJECT_HANDLE found[16];
  CK_ULONG n = 0;
  check_rv(fn->C_FindObjects(s.h(), found, 16, &n), "C_FindObjects");
  fn->C_FindObjectsFinal(s.h());
  for (CK_ULONG i = 0; i < n; ++i) {
    check_rv(fn->C_DestroyObject(s.h(), found[i]), "C_DestroyObject");
  }
  return static_cast<int>(n);
}

void SoftHsmToken::close_all_sessions() const {
  SoftHsm::get().initialize();
  check_rv(SoftHsm::get().fn()->C_CloseAllSessions(slot()), "C_CloseAllSessions");
}

void SoftHsmToken::logout_everyone() const {
  UserSession s(*this);
  check_rv(SoftHsm::get().fn()->C_Logout(s.h()), "C_Logout");
}

void SoftHsmToken::change_pin(const std::string& new_pin) {
  UserSession s(*this);
  check_rv(SoftHsm::get().fn()->C_SetPIN(s.h(), reinterpret_cast<CK_UTF8CHAR*>(pin.data()),
                                         static_cast<CK_ULONG>(pin.size()),
                                         reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(new_pin.data())),
                                         static_cast<CK_ULONG>(new_pin.size())),
           "C_SetPIN");
  pin = new_pin;
}

}  // namespace hanko::certstore::testing
