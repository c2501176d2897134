#pragma once
/**
 * SoftHSM2 for the PKCS#11 tests: real tokens, made and filled through the
 * module's own PKCS#11 interface (a second dlopen of the module gives the
 * same function list hanko uses, which also lets a test pull the rug from
 * under hanko: close its sessions, log it out, finalise the module).
 *
 * Isolation: SoftHSM keeps one process-wide state and reads SOFTHSM2_CONF
 * when it is initialised. The first use of SoftHsm::get() in a test
 * process, before anything initialises the module, points SOFTHSM2_CONF at
 * a configuration whose token folder is in the process's temporary folder;
 * every test then makes its own token (a unique label) in it. CTest runs
 * each test in its own process, so there every test has its own folder too.
 */
#include <p11-kit-1/p11-kit/pkcs11.h>

#include <filesystem>
#include <string>

#include "hanko/common/bytes.h"
#include "hanko/common/ossl.h"

namespace hanko::certstore::testing {

inline constexpr const char* kSoftHsmModule = "/usr/lib/softhsm/libsofthsm2.so";

/** One token: its label, user PIN (also in pin_file, newline-terminated) and helpers acting as "another application". */
class SoftHsmToken {
 public:
  std::string label;
  std::string pin;
  std::string so_pin;
  std::filesystem::path pin_file;

  /** The token's current slot (looked up by label). */
  CK_SLOT_ID slot() const;
  /** A private key (and, with `with_public`, its public key object) under `key_label`, CKA_ID `id`. */
  void import_key(const std::string& key_label, EVP_PKEY* key, const std::string& id, bool with_public = true,
                  bool always_authenticate = false) const;
  /** A CKO_CERTIFICATE (X.509) under `cert_label`. */
  void import_cert(const std::string& cert_label, const X509* cert, const std::string& id) const;
  /** Destroys every object of class `cls` labelled `object_label`; returns how many. */
  int destroy(const std::string& object_label, CK_OBJECT_CLASS cls) const;
  /** C_CloseAllSessions on the token's slot: hanko's sessions are gone, and so is its login. */
  void close_all_sessions() const;
  /** Logs the application out (C_Logout) while keeping the sessions. */
  void logout_everyone() const;
  /** C_SetPIN from `pin` to `new_pin` (updates `pin`). */
  void change_pin(const std::string& new_pin);
};

class SoftHsm {
 public:
  /** The process's SoftHSM (SOFTHSM2_CONF set on first use), initialised. */
  static SoftHsm& get();

  CK_FUNCTION_LIST* fn() const { return m_fn; }
  /** C_Initialize; CKR_CRYPTOKI_ALREADY_INITIALIZED is fine. Returns the raw result. */
  CK_RV initialize() const;
  CK_RV finalize() const;
  /** A new token labelled `<prefix>-<n>`, user PIN set. */
  SoftHsmToken create_token(const std::string& prefix) const;

  std::filesystem::path dir;

 private:
  SoftHsm();
  CK_FUNCTION_LIST* m_fn = nullptr;
};

/**
 * Whether `sig` (JWS form: PKCS#1 v1.5 for RSA, 64-byte R||S for EC) is a
 * SHA-256 signature of `data` by the certificate's key, checked with
 * OpenSSL alone (EVP_DigestVerify), independently of hanko's code.
 */
bool openssl_verifies(const X509* cert, ByteView data, ByteView sig);

/** Checks a PKCS#11 return value; throws std::runtime_error naming `what` otherwise. */
void check_rv(CK_RV rv, const char* what);

}  // namespace hanko::certstore::testing
