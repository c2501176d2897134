// Pkcs11SigningKey: a key on a PKCS#11 token (key_source.h).
//
// Sessions: a small pool (Pkcs11Config::max_sessions). PKCS#11 allows one
// active operation per session, and login state is per token and
// application, so every session of the pool is logged in once the first
// one is. A signature leases a session, signs (C_SignInit, C_Sign) and
// returns it. The pool's state is guarded by State::mu; token calls on a
// leased session run without it.
//
// Recovery (key_source.h): "soft" errors (CKR_USER_NOT_LOGGED_IN, a stale
// key or object handle) keep the sessions, log in again and find the key
// again; "hard" errors (the session, the token or the module is gone)
// forget the sessions, bump the pool's generation (leases of an older
// generation are dropped when they come back), initialise the module again
// when it says CKR_CRYPTOKI_NOT_INITIALIZED, and connect afresh: slot by
// token label, session, login, key by label. Forgotten sessions are not
// closed: after a re-initialisation their handle numbers may belong to
// someone else's sessions. The failed signature is then retried once.
#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

#include "hanko/certstore/key_source.h"
#include "hanko/common/digest.h"
#include "key_source_internal.h"
#include "pkcs11_module.h"

namespace hanko::certstore {

using detail::FieldError;
using detail::KeyField;

struct Pkcs11SigningKey::State {
  std::shared_ptr<p11::Module> module;  // first member: outlives the sessions closed in ~State
  Pkcs11Config config;
  Secret pin;
  ossl::X509Ptr cert;
  ossl::EvpPkeyPtr cert_key;  // the certificate's public key: every signature is verified with it
  std::vector<ossl::X509Ptr> chain;
  JwsAlg alg = JwsAlg::RS256;
  CK_KEY_TYPE key_type = CKK_RSA;
  std::string label;

  std::mutex mu;  // guards everything below
  std::condition_variable cv;
  CK_SLOT_ID slot = 0;
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  bool always_authenticate = false;
  std::uint64_t generation = 0;
  std::vector<CK_SESSION_HANDLE> idle;
  std::size_t open_count = 0;  // sessions of the current generation, idle or leased
  std::size_t max_sessions = 4;
  std::optional<Error> pin_rejected;  // latched: no C_Login is tried again
  std::atomic<std::uint64_t> recoveries{0};

  ~State() {
    std::lock_guard lock(mu);
    std::unique_lock<std::mutex> serial;
    if (module->serialize()) {
      serial = std::unique_lock(module->call_mutex());
    }
    for (CK_SESSION_HANDLE h : idle) {
      module->fn()->C_CloseSession(h);
    }
  }

  std::string where() const { return "key \"" + config.key_label + "\" on token \"" + config.token_label + "\""; }
};

namespace {

using State = Pkcs11SigningKey::State;

/** A failed token call: its return value, the configuration field it is about, and the message. */
struct Failure {
  CK_RV rv = CKR_GENERAL_ERROR;
  KeyField field = KeyField::none;
  Error error;
  std::uint64_t generation = 0;
};

template <class T>
using P11Result = std::expected<T, Failure>;

std::unexpected<Failure> p11_fail(CK_RV rv, KeyField field, Errc code, std::string message) {
  return std::unexpected<Failure>(Failure{rv, field, Error{code, std::move(message)}, 0});
}

bool is_pin_error(CK_RV rv) {
  return rv == CKR_PIN_INCORRECT || rv == CKR_PIN_INVALID || rv == CKR_PIN_LEN_RANGE || rv == CKR_PIN_EXPIRED ||
         rv == CKR_PIN_LOCKED;
}

/** Errors after which the key re-establishes its sessions and retries once. */
bool is_recoverable(CK_RV rv) {
  switch (rv) {
    case CKR_SESSION_HANDLE_INVALID:
    case CKR_SESSION_CLOSED:
    case CKR_USER_NOT_LOGGED_IN:
    case CKR_TOKEN_NOT_PRESENT:
    case CKR_TOKEN_NOT_RECOGNIZED:
    case CKR_DEVICE_REMOVED:
    case CKR_DEVICE_ERROR:
    case CKR_SLOT_ID_INVALID:
    case CKR_KEY_HANDLE_INVALID:
    case CKR_OBJECT_HANDLE_INVALID:
    case CKR_CRYPTOKI_NOT_INITIALIZED: return true;
    default: return false;
  }
}

/** Recoverable errors that leave the sessions valid: log in and find the key again. */
bool is_soft(CK_RV rv) {
  return rv == CKR_USER_NOT_LOGGED_IN || rv == CKR_KEY_HANDLE_INVALID || rv == CKR_OBJECT_HANDLE_INVALID;
}

/** Errors after which the session is gone (or its handle may now be someone else's): never close it. */
bool session_is_gone(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_TOKEN_NOT_PRESENT ||
         rv == CKR_DEVICE_REMOVED || rv == CKR_CRYPTOKI_NOT_INITIALIZED || rv == CKR_SLOT_ID_INVALID ||
         rv == CKR_TOKEN_NOT_RECOGNIZED;
}

CK_FUNCTION_LIST* fn(const State& s) { return s.module->fn(); }

/** Held around token calls when the module cannot lock for itself (p11::Module::serialize). */
std::unique_lock<std::mutex> serial_lock(const State& s) {
  return s.module->serialize() ? std::unique_lock(s.module->call_mutex()) : std::unique_lock<std::mutex>();
}

P11Result<CK_SLOT_ID> find_slot(const State& s) {
  std::vector<CK_SLOT_ID> slots;
  CK_RV rv = CKR_OK;
  for (int tries = 0; tries < 4; ++tries) {
    CK_ULONG n = 0;
    rv = fn(s)->C_GetSlotList(CK_TRUE, nullptr, &n);
    if (rv != CKR_OK) {
      break;
    }
    slots.resize(n);
    rv = fn(s)->C_GetSlotList(CK_TRUE, slots.data(), &n);
    if (rv == CKR_OK) {
      slots.resize(n);
      break;
    }
    if (rv != CKR_BUFFER_TOO_SMALL) {
      break;
    }
  }
  if (rv != CKR_OK) {
    return p11_fail(rv, KeyField::module, Errc::crypto,
                    "C_GetSlotList of PKCS#11 module " + s.config.module + " failed: " + p11::rv_name(rv));
  }
  std::vector<CK_SLOT_ID> matches;
  for (CK_SLOT_ID id : slots) {
    CK_TOKEN_INFO info{};
    if (fn(s)->C_GetTokenInfo(id, &info) != CKR_OK) {
      continue;
    }
    if (p11::trim_label(info.label, sizeof info.label) == s.config.token_label) {
      matches.push_back(id);
    }
  }
  if (matches.empty()) {
    return p11_fail(CKR_TOKEN_NOT_PRESENT, KeyField::token_label, Errc::invalid_argument,
                    "no token labelled \"" + s.config.token_label + "\" in PKCS#11 module " + s.config.module + " (" +
                        std::to_string(slots.size()) + " token(s) present)");
  }
  if (matches.size() > 1) {
    return p11_fail(CKR_TOKEN_NOT_PRESENT, KeyField::token_label, Errc::invalid_argument,
                    std::to_string(matches.size()) + " tokens are labelled \"" + s.config.token_label +
                        "\" in PKCS#11 module " + s.config.module + ": relabel one");
  }
  return matches.front();
}

P11Result<CK_SESSION_HANDLE> open_session(const State& s, CK_SLOT_ID slot) {
  CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
  const CK_RV rv = fn(s)->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &h);
  if (rv != CKR_OK) {
    return p11_fail(rv, KeyField::token_label, Errc::crypto,
                    "cannot open a session with token \"" + s.config.token_label + "\": " + p11::rv_name(rv));
  }
  return h;
}

/** Logs in (once per token: a session already in a user state needs nothing). Requires s.mu. */
P11Result<void> login(State& s, CK_SESSION_HANDLE h) {
  if (s.pin_rejected) {
    return std::unexpected<Failure>(Failure{CKR_PIN_INCORRECT, KeyField::pin, *s.pin_rejected, 0});
  }
  CK_SESSION_INFO info{};
  CK_RV rv = fn(s)->C_GetSessionInfo(h, &info);
  if (rv != CKR_OK) {
    return p11_fail(rv, KeyField::token_label, Errc::crypto,
                    "C_GetSessionInfo on token \"" + s.config.token_label + "\" failed: " + p11::rv_name(rv));
  }
  if (info.state == CKS_RO_USER_FUNCTIONS || info.state == CKS_RW_USER_FUNCTIONS) {
    return {};
  }
  rv = fn(s)->C_Login(h, CKU_USER, reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(s.pin.c_str())),
                      static_cast<CK_ULONG>(s.pin.size()));
  if (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN) {
    return {};
  }
  if (is_pin_error(rv)) {
    // Latched: a wrong PIN is never tried twice, so hanko cannot lock the token by retrying.
    s.pin_rejected = Error{Errc::invalid_argument, "token \"" + s.config.token_label + "\" rejected the PIN (" +
                                                       p11::rv_name(rv) + "); hanko will not try it again"};
    return std::unexpected<Failure>(Failure{rv, KeyField::pin, *s.pin_rejected, 0});
  }
  return p11_fail(rv, KeyField::pin, Errc::crypto,
                  "C_Login on token \"" + s.config.token_label + "\" failed: " + p11::rv_name(rv));
}

/** Up to two objects of `cls` labelled `label`. */
P11Result<std::vector<CK_OBJECT_HANDLE>> find_objects(const State& s, CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls,
                                                      const std::string& label) {
  CK_ATTRIBUTE tmpl[] = {
      {CKA_CLASS, &cls, sizeof cls},
      {CKA_LABEL, const_cast<char*>(label.data()), static_cast<CK_ULONG>(label.size())},
  };
  CK_RV rv = fn(s)->C_FindObjectsInit(h, tmpl, 2);
  if (rv != CKR_OK) {
    return p11_fail(rv, KeyField::key_label, Errc::crypto,
                    "C_FindObjectsInit on token \"" + s.config.token_label + "\" failed: " + p11::rv_name(rv));
  }
  CK_OBJECT_HANDLE found[2] = {};
  CK_ULONG n = 0;
  rv = fn(s)->C_FindObjects(h, found, 2, &n);
  const CK_RV fin = fn(s)->C_FindObjectsFinal(h);
  if (rv == CKR_OK) {
    rv = fin;
  }
  if (rv != CKR_OK) {
    return p11_fail(rv, KeyField::key_label, Errc::crypto,
                    "C_FindObjects on token \"" + s.config.token_label + "\" failed: " + p11::rv_name(rv));
  }
  return std::vector<CK_OBJECT_HANDLE>(found, found + n);
}

P11Result<CK_OBJECT_HANDLE> find_key(const State& s, CK_SESSION_HANDLE h) {
  auto keys = find_objects(s, h, CKO_PRIVATE_KEY, s.config.key_label);
  if (!keys) {
    return std::unexpected(keys.error());
  }
  if (keys->empty()) {
    return p11_fail(CKR_KEY_HANDLE_INVALID, KeyField::key_label, Errc::invalid_argument,
                    "no private key labelled \"" + s.config.key_label + "\" on token \"" + s.config.token_label + "\"");
  }
  if (keys->size() > 1) {
    return p11_fail(CKR_KEY_HANDLE_INVALID, KeyField::key_label, Errc::invalid_argument,
                    "several private keys are labelled \"" + s.config.key_label + "\" on token \"" +
                        s.config.token_label + "\"");
  }
  return keys->front();
}

/** An attribute's value; nullopt when the token does not reveal it (sensitive, absent). */
P11Result<std::optional<Bytes>> get_attribute(const State& s, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj,
                                              CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  CK_RV rv = fn(s)->C_GetAttributeValue(h, obj, &a, 1);
  if (rv == CKR_ATTRIBUTE_SENSITIVE || rv == CKR_ATTRIBUTE_TYPE_INVALID || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) {
    return std::optional<Bytes>();
  }
  if (rv != CKR_OK) {
    return p11_fail(rv, KeyField::key_label, Errc::crypto,
                    "C_GetAttributeValue on token \"" + s.config.token_label + "\" failed: " + p11::rv_name(rv));
  }
  Bytes value(a.ulValueLen);
  a.pValue = value.data();
  rv = fn(s)->C_GetAttributeValue(h, obj, &a, 1);
  if (rv != CKR_OK) {
    return p11_fail(rv, KeyField::key_label, Errc::crypto,
                    "C_GetAttributeValue on token \"" + s.config.token_label + "\" failed: " + p11::rv_name(rv));
  }
  value.resize(a.ulValueLen);
  return std::optional<Bytes>(std::move(value));
}

std::optional<CK_ULONG> as_ulong(const std::optional<Bytes>& v) {
  if (!v || v->size() != sizeof(CK_ULONG)) {
    return std::nullopt;
  }
  CK_ULONG out = 0;
  std::memcpy(&out, v->data(), sizeof out);
  return out;
}

std::optional<bool> as_bool(const std::optional<Bytes>& v) {
  if (!v || v->size() != sizeof(CK_BBOOL)) {
    return std::nullopt;
  }
  return (*v)[0] != CK_FALSE;
}

/**
 * Slot by token label, a new session, login, key by label: the pool then
 * holds that one session. Requires s.mu; the pool must be empty.
 */
P11Result<void> connect(State& s) {
  auto slot = find_slot(s);
  if (!slot) {
    return std::unexpected(slot.error());
  }
  auto h = open_session(s, *slot);
  if (!h) {
    return std::unexpected(h.error());
  }
  auto in = login(s, *h);
  if (!in) {
    fn(s)->C_CloseSession(*h);
    return std::unexpected(in.error());
  }
  auto key = find_key(s, *h);
  if (!key) {
    fn(s)->C_CloseSession(*h);
    return std::unexpected(key.error());
  }
  auto type = get_attribute(s, *h, *key, CKA_KEY_TYPE);
  if (!type) {
    fn(s)->C_CloseSession(*h);
    return std::unexpected(type.error());
  }
  const auto key_type = as_ulong(*type);
  if (!key_type) {
    fn(s)->C_CloseSession(*h);
    return p11_fail(CKR_ATTRIBUTE_TYPE_INVALID, KeyField::key_label, Errc::invalid_argument,
                    "the " + s.where() + " does not reveal its CKA_KEY_TYPE");
  }
  if (s.cert && *key_type != s.key_type) {
    // A reconnect found a different kind of key under the label.
    fn(s)->C_CloseSession(*h);
    return p11_fail(CKR_KEY_TYPE_INCONSISTENT, KeyField::key_label, Errc::invalid_argument,
                    "the " + s.where() + " is no longer the key of its certificate (its type changed)");
  }
  s.key_type = *key_type;
  auto always = get_attribute(s, *h, *key, CKA_ALWAYS_AUTHENTICATE);
  if (!always) {
    fn(s)->C_CloseSession(*h);
    return std::unexpected(always.error());
  }
  s.always_authenticate = as_bool(*always).value_or(false);
  s.slot = *slot;
  s.key = *key;
  s.idle.assign(1, *h);
  s.open_count = 1;
  return {};
}

/** A session taken from the pool for one signature. */
struct Lease {
  CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  bool always_authenticate = false;
  std::uint64_t generation = 0;
};

P11Result<Lease> acquire(State& s) {
  std::unique_lock lock(s.mu);
  for (;;) {
    if (s.pin_rejected) {
      return std::unexpected<Failure>(Failure{CKR_PIN_INCORRECT, KeyField::pin, *s.pin_rejected, s.generation});
    }
    if (!s.idle.empty()) {
      const CK_SESSION_HANDLE h = s.idle.back();
      s.idle.pop_back();
      return Lease{h, s.key, s.always_authenticate, s.generation};
    }
    if (s.open_count < s.max_sessions) {
      auto serial = serial_lock(s);
      auto h = open_session(s, s.slot);
      if (!h && h.error().rv == CKR_SESSION_COUNT && s.open_count > 0) {
        s.max_sessions = s.open_count;  // the token allows no more: wait for one of ours
        continue;
      }
      if (!h) {
        auto f = h.error();
        f.generation = s.generation;
        return std::unexpected(std::move(f));
      }
      auto in = login(s, *h);
      if (!in) {
        fn(s)->C_CloseSession(*h);
        auto f = in.error();
        f.generation = s.generation;
        return std::unexpected(std::move(f));
      }
      ++s.open_count;
      return Lease{*h, s.key, s.always_authenticate, s.generation};
    }
    s.cv.wait(lock);
  }
}

/** Gives a lease back: kept for the next signature, closed (`rv` says the session is fine), or dropped. */
void release(State& s, const Lease& lease, bool keep, CK_RV rv) {
  {
    std::lock_guard lock(s.mu);
    if (lease.generation == s.generation) {
      if (keep) {
        s.idle.push_back(lease.session);
      } else {
        if (!session_is_gone(rv)) {
          auto serial = serial_lock(s);
          fn(s)->C_CloseSession(lease.session);
        }
        --s.open_count;
      }
    }
    // A lease from before a recovery is dropped: its session is gone (see the file comment).
  }
  s.cv.notify_one();
}

/** One signature on a leased session; the raw token output. */
P11Result<Bytes> attempt(State& s, ByteView input) {
  auto lease = acquire(s);
  if (!lease) {
    return std::unexpected(lease.error());
  }
  auto serial = serial_lock(s);
  CK_MECHANISM mech{s.alg == JwsAlg::RS256 ? CKM_RSA_PKCS : CKM_ECDSA, nullptr, 0};
  std::string step = "C_SignInit";
  CK_RV rv = fn(s)->C_SignInit(lease->session, &mech, lease->key);
  if (rv == CKR_OK && lease->always_authenticate) {
    // CKA_ALWAYS_AUTHENTICATE: the PIN again for this one operation (PKCS#11 v2.40 section 4.9).
    step = "C_Login (CKU_CONTEXT_SPECIFIC)";
    rv = fn(s)->C_Login(lease->session, CKU_CONTEXT_SPECIFIC,
                        reinterpret_cast<CK_UTF8CHAR*>(const_cast<char*>(s.pin.c_str())),
                        static_cast<CK_ULONG>(s.pin.size()));
    if (is_pin_error(rv)) {
      std::lock_guard lock(s.mu);
      s.pin_rejected = Error{Errc::invalid_argument, "token \"" + s.config.token_label + "\" rejected the PIN (" +
                                                         p11::rv_name(rv) + "); hanko will not try it again"};
    }
  }
  Bytes sig;
  if (rv == CKR_OK) {
    step = "C_Sign";
    sig.resize(512);
    CK_ULONG len = static_cast<CK_ULONG>(sig.size());
    rv = fn(s)->C_Sign(lease->session, const_cast<CK_BYTE*>(input.data()), static_cast<CK_ULONG>(input.size()),
                       sig.data(), &len);
    if (rv == CKR_BUFFER_TOO_SMALL && len > sig.size() && len <= 8192) {
      sig.resize(len);
      rv = fn(s)->C_Sign(lease->session, const_cast<CK_BYTE*>(input.data()), static_cast<CK_ULONG>(input.size()),
                         sig.data(), &len);
    }
    sig.resize(rv == CKR_OK ? len : 0);
  }
  if (serial.owns_lock()) {
    serial.unlock();
  }
  release(s, *lease, rv == CKR_OK, rv);
  if (rv != CKR_OK) {
    return std::unexpected<Failure>(Failure{rv, is_pin_error(rv) ? KeyField::pin : KeyField::key_label, Error{Errc::crypto,
                                            step + " with the " + s.where() + " failed: " + p11::rv_name(rv)},
                                            lease->generation});
  }
  return sig;
}

/** Re-establishes the pool after `failure` (see the file comment). */
P11Result<void> recover(State& s, const Failure& failure) {
  std::unique_lock lock(s.mu);
  if (s.generation != failure.generation) {
    return {};  // another thread reconnected since this attempt started
  }
  auto serial = serial_lock(s);
  if (s.pin_rejected) {
    return std::unexpected<Failure>(Failure{CKR_PIN_INCORRECT, KeyField::pin, *s.pin_rejected, s.generation});
  }
  if (is_soft(failure.rv)) {
    // The sessions are fine: log in again on one of them and find the key again.
    std::optional<CK_SESSION_HANDLE> h;
    bool fresh = false;
    if (!s.idle.empty()) {
      h = s.idle.back();
    } else if (auto opened = open_session(s, s.slot)) {
      h = *opened;
      fresh = true;
    }
    if (h) {
      auto in = login(s, *h);
      auto key = in ? find_key(s, *h) : P11Result<CK_OBJECT_HANDLE>(std::unexpected(in.error()));
      if (key) {
        s.key = *key;
        if (fresh) {
          s.idle.push_back(*h);
          ++s.open_count;
        }
        s.recoveries.fetch_add(1);
        serial = {};
        lock.unlock();
        s.cv.notify_all();
        return {};
      }
      if (fresh) {
        fn(s)->C_CloseSession(*h);
      }
      if (!is_recoverable(key.error().rv) || key.error().field == KeyField::pin) {
        return std::unexpected(key.error());
      }
    }
    // Fall through: the sessions are not fine after all.
  }
  // Hard: forget every session (not closed: they are gone, and their numbers may be reused).
  ++s.generation;
  s.idle.clear();
  s.open_count = 0;
  auto connected = P11Result<void>();
  if (failure.rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
    const CK_RV init = s.module->initialize();
    if (init != CKR_OK) {
      return p11_fail(init, KeyField::module, Errc::crypto,
                      "C_Initialize of PKCS#11 module " + s.config.module + " failed: " + p11::rv_name(init));
    }
  }
  connected = connect(s);
  if (!connected && connected.error().rv == CKR_CRYPTOKI_NOT_INITIALIZED) {
    // The module was finalised behind our back (the first error did not say so): initialise it, once.
    const CK_RV init = s.module->initialize();
    if (init != CKR_OK) {
      return p11_fail(init, KeyField::module, Errc::crypto,
                      "C_Initialize of PKCS#11 module " + s.config.module + " failed: " + p11::rv_name(init));
    }
    connected = connect(s);
  }
  if (!connected) {
    return connected;
  }
  s.recoveries.fetch_add(1);
  serial = {};
  lock.unlock();
  s.cv.notify_all();
  return {};
}

/** Whether `sig` (JWS form) is a valid signature of `hash` under the certificate's key. */
bool verifies(const State& s, ByteView hash, ByteView sig) {
  Bytes der;
  ByteView to_check = sig;
  if (s.alg == JwsAlg::ES256) {
    auto d = ecdsa_raw_to_der(sig);
    if (!d) {
      return false;
    }
    der = std::move(*d);
    to_check = der;
  }
  ossl::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(s.cert_key.get(), nullptr));
  const bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
                  EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1 &&
                  (s.alg != JwsAlg::RS256 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1) &&
                  EVP_PKEY_verify(ctx.get(), to_check.data(), to_check.size(), hash.data(), hash.size()) == 1;
  clear_openssl_errors();
  return ok;
}

/** The token's output in JWS form: 64-byte R||S for ES256 (converted if the module returns DER). */
Result<Bytes> to_jws_form(const State& s, Bytes sig) {
  if (s.alg == JwsAlg::RS256) {
    return sig;
  }
  if (sig.size() == 64) {
    return sig;
  }
  auto raw = ecdsa_der_to_raw(sig, 32);
  if (!raw) {
    return fail(Errc::crypto, "the " + s.where() + " returned an ECDSA signature of " + std::to_string(sig.size()) +
                                  " bytes, neither R||S nor DER");
  }
  return raw;
}

/** Signs a SHA-256 hash, with one recovery; the Failure keeps the field for open's error attribution. */
std::expected<Bytes, FieldError> sign_hash(State& s, ByteView hash) {
  const Bytes input = s.alg == JwsAlg::RS256 ? sha256_digest_info(hash) : Bytes(hash.begin(), hash.end());
  auto raw = attempt(s, input);
  if (!raw && is_recoverable(raw.error().rv)) {
    auto again = recover(s, raw.error());
    if (!again) {
      return std::unexpected(FieldError{again.error().field,
                                        Error{again.error().error.code, raw.error().error.message +
                                                                            "; reconnecting failed: " +
                                                                            again.error().error.message}});
    }
    raw = attempt(s, input);
  }
  if (!raw) {
    return std::unexpected(FieldError{raw.error().field, raw.error().error});
  }
  auto sig = to_jws_form(s, std::move(*raw));
  if (!sig) {
    return std::unexpected(FieldError{KeyField::key_label, sig.error()});
  }
  if (!verifies(s, hash, *sig)) {
    return std::unexpected(FieldError{
        s.config.cert_path.empty() ? KeyField::key_label : KeyField::cert,
        Error{Errc::crypto, "a signature made with the " + s.where() +
                                " does not verify with the certificate: the key does not belong to it"}});
  }
  return std::move(*sig);
}

/** Compares what the token reveals of the public key with the certificate's. */
P11Result<void> compare_public_key(const State& s, CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key) {
  const KeyField field = s.config.cert_path.empty() ? KeyField::key_label : KeyField::cert;
  const auto mismatch = [&](const std::string& what) {
    return p11_fail(CKR_KEY_TYPE_INCONSISTENT, field, Errc::invalid_argument,
                    "the " + s.where() + " does not belong to the certificate (" + what + ")");
  };
  if (s.key_type == CKK_RSA) {
    auto n = get_attribute(s, h, key, CKA_MODULUS);
    auto e = get_attribute(s, h, key, CKA_PUBLIC_EXPONENT);
    if (!n) {
      return std::unexpected(n.error());
    }
    if (!e) {
      return std::unexpected(e.error());
    }
    if (!*n || !*e || (*n)->empty() || (*e)->empty()) {
      return {};  // not revealed: the test signature decides
    }
    ossl::BignumPtr cn, ce;
    BIGNUM* tmp = nullptr;
    if (EVP_PKEY_get_bn_param(s.cert_key.get(), OSSL_PKEY_PARAM_RSA_N, &tmp) == 1) {
      cn.reset(tmp);
    }
    tmp = nullptr;
    if (EVP_PKEY_get_bn_param(s.cert_key.get(), OSSL_PKEY_PARAM_RSA_E, &tmp) == 1) {
      ce.reset(tmp);
    }
    ossl::BignumPtr tn(BN_bin2bn((*n)->data(), static_cast<int>((*n)->size()), nullptr));
    ossl::BignumPtr te(BN_bin2bn((*e)->data(), static_cast<int>((*e)->size()), nullptr));
    clear_openssl_errors();
    if (!cn || !ce || !tn || !te || BN_cmp(cn.get(), tn.get()) != 0 || BN_cmp(ce.get(), te.get()) != 0) {
      return mismatch("the RSA modulus or exponent differs");
    }
    return {};
  }
  // EC: the curve from the private key, the point from the public key object with the same CKA_ID (or label).
  static constexpr std::uint8_t kP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  auto params = get_attribute(s, h, key, CKA_EC_PARAMS);
  if (!params) {
    return std::unexpected(params.error());
  }
  if (*params && !ct_equal(**params, ByteView(kP256))) {
    return mismatch("the key is not on P-256");
  }
  auto id = get_attribute(s, h, key, CKA_ID);
  if (!id) {
    return std::unexpected(id.error());
  }
  CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
  std::vector<CK_ATTRIBUTE> tmpl{{CKA_CLASS, &cls, sizeof cls}};
  if (*id && !(*id)->empty()) {
    tmpl.push_back({CKA_ID, (*id)->data(), static_cast<CK_ULONG>((*id)->size())});
  } else {
    tmpl.push_back({CKA_LABEL, const_cast<char*>(s.config.key_label.data()),
                    static_cast<CK_ULONG>(s.config.key_label.size())});
  }
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_ULONG count = 0;
  CK_RV rv = fn(s)->C_FindObjectsInit(h, tmpl.data(), static_cast<CK_ULONG>(tmpl.size()));
  if (rv == CKR_OK) {
    rv = fn(s)->C_FindObjects(h, &pub, 1, &count);
    fn(s)->C_FindObjectsFinal(h);
  }
  if (rv != CKR_OK || count == 0) {
    return {};  // no public key object: the test signature decides
  }
  auto point = get_attribute(s, h, pub, CKA_EC_POINT);
  if (!point) {
    return std::unexpected(point.error());
  }
  if (!*point) {
    return {};
  }
  ByteView p = **point;
  // PKCS#11 wants the point DER-encoded (OCTET STRING); some modules give it bare.
  if (p.size() == 67 && p[0] == 0x04 && p[1] == 0x41) {
    p = p.subspan(2);
  }
  unsigned char* enc = nullptr;
  const std::size_t enc_len = EVP_PKEY_get1_encoded_public_key(s.cert_key.get(), &enc);
  ossl::OpensslStringPtr owned(reinterpret_cast<char*>(enc));
  clear_openssl_errors();
  if (enc == nullptr || !ct_equal(p, ByteView(enc, enc_len))) {
    return mismatch("the EC public key differs");
  }
  return {};
}

}  // namespace

namespace detail {

FieldResult<std::unique_ptr<Pkcs11SigningKey>> open_pkcs11(const Pkcs11Config& config, Secret pin) {
  if (config.module.empty()) {
    return field_fail(KeyField::module, Error{Errc::invalid_argument, "no PKCS#11 module given"});
  }
  if (config.token_label.empty() || config.token_label.size() > 32) {
    return field_fail(KeyField::token_label,
                      Error{Errc::invalid_argument, "a token label has 1 to 32 bytes (CK_TOKEN_INFO.label)"});
  }
  if (config.key_label.empty()) {
    return field_fail(KeyField::key_label, Error{Errc::invalid_argument, "no key label given"});
  }
  if (config.max_sessions == 0) {
    return field_fail(KeyField::none, Error{Errc::invalid_argument, "a PKCS#11 key needs at least one session"});
  }
  auto module = p11::Module::get(config.module);
  if (!module) {
    return field_fail(KeyField::module, module.error());
  }
  auto st = std::make_unique<State>();
  State& s = *st;
  s.module = std::move(*module);
  s.config = config;
  s.pin = std::move(pin);
  s.max_sessions = config.max_sessions;
  {
    std::lock_guard lock(s.mu);
    auto serial = serial_lock(s);
    auto connected = connect(s);
    if (!connected) {
      if (connected.error().rv == CKR_CRYPTOKI_NOT_INITIALIZED && s.module->initialize() == CKR_OK) {
        // Finalised by someone else since it was loaded (the module object was shared): once more.
        connected = connect(s);
      }
      if (!connected) {
        return field_fail(connected.error().field, connected.error().error);
      }
    }
    const CK_SESSION_HANDLE h = s.idle.front();
    if (s.key_type != CKK_RSA && s.key_type != CKK_EC) {
      return field_fail(KeyField::key_label, Error{Errc::policy, "the " + s.where() +
                                                                     " is neither RSA nor EC: only RS256 and ES256"});
    }
    auto can_sign = get_attribute(s, h, s.key, CKA_SIGN);
    if (!can_sign) {
      return field_fail(can_sign.error().field, can_sign.error().error);
    }
    if (as_bool(*can_sign) == false) {
      return field_fail(KeyField::key_label, Error{Errc::invalid_argument, "the " + s.where() + " may not sign (CKA_SIGN is false)"});
    }
    // The certificate: a PEM file, or the token's CKO_CERTIFICATE with the key's label.
    if (!config.cert_path.empty()) {
      auto certs = ossl::load_certificates(config.cert_path);
      if (!certs) {
        return field_fail(KeyField::cert, certs.error());
      }
      s.cert = std::move(certs->front());
      for (std::size_t i = 1; i < certs->size(); ++i) {
        s.chain.push_back(std::move((*certs)[i]));
      }
    } else {
      auto found = find_objects(s, h, CKO_CERTIFICATE, config.key_label);
      if (!found) {
        return field_fail(found.error().field, found.error().error);
      }
      if (found->empty()) {
        return field_fail(KeyField::key_label,
                          Error{Errc::invalid_argument, "no certificate labelled \"" + config.key_label +
                                                            "\" on token \"" + config.token_label +
                                                            "\" (or give the certificate as a PEM file)"});
      }
      auto value = get_attribute(s, h, found->front(), CKA_VALUE);
      if (!value) {
        return field_fail(value.error().field, value.error().error);
      }
      if (*value) {
        s.cert = ossl::x509_from_der(**value);
      }
      if (!s.cert) {
        clear_openssl_errors();
        return field_fail(KeyField::key_label, Error{Errc::invalid_argument, "the certificate labelled \"" +
                                                                                 config.key_label + "\" on token \"" +
                                                                                 config.token_label +
                                                                                 "\" is not a DER X.509 certificate"});
      }
    }
    auto more = load_chain_file(config.chain_path);
    if (!more) {
      return field_fail(KeyField::chain, more.error());
    }
    for (auto& c : *more) {
      s.chain.push_back(std::move(c));
    }
    s.cert_key.reset(X509_get_pubkey(s.cert.get()));
    const KeyField cert_field = config.cert_path.empty() ? KeyField::key_label : KeyField::cert;
    if (!s.cert_key) {
      return field_fail(cert_field, openssl_error(Errc::invalid_argument, "cannot read the certificate's public key"));
    }
    auto alg = check_key_policy(s.cert.get(), s.cert_key.get(), false);
    if (!alg) {
      return field_fail(cert_field, alg.error());
    }
    if ((*alg == JwsAlg::RS256) != (s.key_type == CKK_RSA)) {
      return field_fail(cert_field, Error{Errc::invalid_argument,
                                          "the " + s.where() + " does not belong to the certificate (key types differ)"});
    }
    s.alg = *alg;
    auto same = compare_public_key(s, h, s.key);
    if (!same) {
      return field_fail(same.error().field, same.error().error);
    }
  }
  // A test signature through the normal path, verified with the certificate: proof that the key is its key.
  const Bytes probe = sha256(std::string_view("hanko PKCS#11 key check"));
  auto signed_probe = sign_hash(s, probe);
  if (!signed_probe) {
    return std::unexpected(signed_probe.error());
  }
  return std::make_unique<Pkcs11SigningKey>(std::move(st));
}

}  // namespace detail

Pkcs11SigningKey::Pkcs11SigningKey(std::unique_ptr<State> state) : m(std::move(state)) {}
Pkcs11SigningKey::~Pkcs11SigningKey() = default;

Result<std::unique_ptr<Pkcs11SigningKey>> Pkcs11SigningKey::open(const Pkcs11Config& config, Secret pin) {
  auto made = detail::open_pkcs11(config, std::move(pin));
  if (!made) {
    return std::unexpected(std::move(made.error().error));
  }
  return std::move(*made);
}

JwsAlg Pkcs11SigningKey::alg() const { return m->alg; }
const X509* Pkcs11SigningKey::certificate() const { return m->cert.get(); }
const std::vector<ossl::X509Ptr>& Pkcs11SigningKey::chain() const { return m->chain; }
std::string_view Pkcs11SigningKey::label() const { return m->label; }
void Pkcs11SigningKey::set_label(std::string label) { m->label = std::move(label); }
std::uint64_t Pkcs11SigningKey::recoveries() const { return m->recoveries.load(); }

Result<Bytes> Pkcs11SigningKey::sign(ByteView data) const { return sign_digest(sha256(data)); }

Result<Bytes> Pkcs11SigningKey::sign_digest(ByteView hash) const {
  if (hash.size() != 32) {
    return fail(Errc::invalid_argument, "sign_digest takes a 32-byte SHA-256 hash");
  }
  auto sig = sign_hash(*m, hash);
  if (!sig) {
    return std::unexpected(std::move(sig.error().error));
  }
  return std::move(*sig);
}

}  // namespace hanko::certstore
