#pragma once
/**
 * @file pkcs11_module.h
 * certstore-internal: a PKCS#11 module loaded with dlopen and reached
 * through its function list (pkcs11.h from p11-kit's headers; Debian 12 has
 * no OpenSSL 3 PKCS#11 provider). One Module per module file and process,
 * shared by every key on it.
 */
#include <p11-kit-1/p11-kit/pkcs11.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "hanko/common/error.h"

namespace hanko::certstore::p11 {

/** "CKR_PIN_INCORRECT", or "CKR 0x..." for codes without a name here. */
std::string rv_name(CK_RV rv);

/** A PKCS#11 label field (blank-padded, not NUL-terminated) without its padding. */
std::string trim_label(const unsigned char* field, std::size_t size);

class Module {
 public:
  /**
   * The module at `path` (resolved with std::filesystem::canonical), loaded
   * and initialised; the same object for every caller while one holds it.
   */
  static Result<std::shared_ptr<Module>> get(const std::string& path);

  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  /** C_Finalize if hanko initialised the module (never dlclose: modules linking OpenSSL do not unload cleanly). */
  ~Module();

  CK_FUNCTION_LIST* fn() const { return m_fn; }
  const std::string& path() const { return m_path; }

  /**
   * C_Initialize with CKF_OS_LOCKING_OK; CKR_CRYPTOKI_ALREADY_INITIALIZED
   * counts as success (someone else initialised it, and will finalise it).
   * A module that cannot lock (CKR_CANT_LOCK) is initialised without
   * arguments, and serialize() becomes true.
   */
  CK_RV initialize();
  /** Whether the caller must hold call_mutex() around its calls (a module without thread support). */
  bool serialize() const { return m_serialize.load(); }
  std::mutex& call_mutex() { return m_call_mutex; }

 private:
  Module(std::string path, void* handle, CK_FUNCTION_LIST* fn) : m_path(std::move(path)), m_handle(handle), m_fn(fn) {}

  std::string m_path;
  void* m_handle = nullptr;
  CK_FUNCTION_LIST* m_fn = nullptr;
  std::mutex m_init_mutex;
  bool m_owner = false;  ///< hanko's C_Initialize succeeded (guarded by m_init_mutex)
  std::atomic<bool> m_serialize{false};
  std::mutex m_call_mutex;
};

}  // namespace hanko::certstore::p11
