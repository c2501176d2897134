#include "pkcs11_module.h"

#include <dlfcn.h>

#include <cstdio>
#include <filesystem>
#include <map>

namespace hanko::certstore::p11 {

std::string rv_name(CK_RV rv) {
  switch (rv) {
#define HANKO_RV(x) \
  case x: return #x;
    HANKO_RV(CKR_OK)
    HANKO_RV(CKR_CANCEL)
    HANKO_RV(CKR_HOST_MEMORY)
    HANKO_RV(CKR_SLOT_ID_INVALID)
    HANKO_RV(CKR_GENERAL_ERROR)
    HANKO_RV(CKR_FUNCTION_FAILED)
    HANKO_RV(CKR_ARGUMENTS_BAD)
    HANKO_RV(CKR_CANT_LOCK)
    HANKO_RV(CKR_ATTRIBUTE_SENSITIVE)
    HANKO_RV(CKR_ATTRIBUTE_TYPE_INVALID)
    HANKO_RV(CKR_DATA_INVALID)
    HANKO_RV(CKR_DATA_LEN_RANGE)
    HANKO_RV(CKR_DEVICE_ERROR)
    HANKO_RV(CKR_DEVICE_MEMORY)
    HANKO_RV(CKR_DEVICE_REMOVED)
    HANKO_RV(CKR_FUNCTION_NOT_SUPPORTED)
    HANKO_RV(CKR_KEY_HANDLE_INVALID)
    HANKO_RV(CKR_KEY_TYPE_INCONSISTENT)
    HANKO_RV(CKR_KEY_FUNCTION_NOT_PERMITTED)
    HANKO_RV(CKR_MECHANISM_INVALID)
    HANKO_RV(CKR_MECHANISM_PARAM_INVALID)
    HANKO_RV(CKR_OBJECT_HANDLE_INVALID)
    HANKO_RV(CKR_OPERATION_ACTIVE)
    HANKO_RV(CKR_OPERATION_NOT_INITIALIZED)
    HANKO_RV(CKR_PIN_INCORRECT)
    HANKO_RV(CKR_PIN_INVALID)
    HANKO_RV(CKR_PIN_LEN_RANGE)
    HANKO_RV(CKR_PIN_EXPIRED)
    HANKO_RV(CKR_PIN_LOCKED)
    HANKO_RV(CKR_SESSION_CLOSED)
    HANKO_RV(CKR_SESSION_COUNT)
    HANKO_RV(CKR_SESSION_HANDLE_INVALID)
    HANKO_RV(CKR_SIGNATURE_INVALID)
    HANKO_RV(CKR_TOKEN_NOT_PRESENT)
    HANKO_RV(CKR_TOKEN_NOT_RECOGNIZED)
    HANKO_RV(CKR_USER_ALREADY_LOGGED_IN)
    HANKO_RV(CKR_USER_NOT_LOGGED_IN)
    HANKO_RV(CKR_USER_PIN_NOT_INITIALIZED)
    HANKO_RV(CKR_USER_TYPE_INVALID)
    HANKO_RV(CKR_BUFFER_TOO_SMALL)
    HANKO_RV(CKR_CRYPTOKI_NOT_INITIALIZED)
    HANKO_RV(CKR_CRYPTOKI_ALREADY_INITIALIZED)
    HANKO_RV(CKR_FUNCTION_REJECTED)
#undef HANKO_RV
    default: break;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "CKR 0x%lx", static_cast<unsigned long>(rv));
  return buf;
}

std::string trim_label(const unsigned char* field, std::size_t size) {
  std::size_t n = size;
  while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0')) {
    --n;
  }
  return std::string(reinterpret_cast<const char*>(field), n);
}

Result<std::shared_ptr<Module>> Module::get(const std::string& path) {
  if (path.empty()) {
    return fail(Errc::invalid_argument, "no PKCS#11 module given");
  }
  std::error_code ec;
  const auto canonical = std::filesystem::canonical(path, ec);
  if (ec || !std::filesystem::is_regular_file(canonical, ec)) {
    return fail(Errc::io, "PKCS#11 module " + path + " does not exist or is not a file");
  }
  const std::string key = canonical.string();

  // Keys share a module: one C_Initialize per process, whoever opens it first.
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<Module>> registry;
  std::lock_guard lock(mu);
  if (auto existing = registry[key].lock()) {
    return existing;
  }
  void* handle = dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return fail(Errc::io, "cannot load PKCS#11 module " + path + ": " + (why != nullptr ? why : "dlopen failed"));
  }
  auto get_list = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
  if (get_list == nullptr) {
    return fail(Errc::invalid_argument, path + " is not a PKCS#11 module (no C_GetFunctionList)");
  }
  CK_FUNCTION_LIST* fn = nullptr;
  const CK_RV rv = get_list(&fn);
  if (rv != CKR_OK || fn == nullptr) {
    return fail(Errc::crypto, "C_GetFunctionList of PKCS#11 module " + path + " failed: " + rv_name(rv));
  }
  if (fn->version.major != 2) {
    return fail(Errc::unsupported, "PKCS#11 module " + path + " offers interface version " +
                                       std::to_string(fn->version.major) + "." + std::to_string(fn->version.minor) +
                                       ", not 2.x");
  }
  std::shared_ptr<Module> module(new Module(key, handle, fn));
  const CK_RV init = module->initialize();
  if (init != CKR_OK) {
    return fail(Errc::crypto, "C_Initialize of PKCS#11 module " + path + " failed: " + rv_name(init));
  }
  registry[key] = module;
  return module;
}

CK_RV Module::initialize() {
  std::lock_guard lock(m_init_mutex);
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK;
  CK_RV rv = m_fn->C_Initialize(&args);
  if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
    // Someone else (in this process) initialised it, and owns its C_Finalize.
    m_owner = false;
    return CKR_OK;
  }
  if (rv == CKR_CANT_LOCK) {
    // The module cannot lock for itself: hanko serialises every call to it.
    rv = m_fn->C_Initialize(nullptr);
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      m_serialize = true;
      m_owner = false;
      return CKR_OK;
    }
    if (rv == CKR_OK) {
      m_serialize = true;
    }
  }
  if (rv == CKR_OK) {
    m_owner = true;
  }
  return rv;
}

Module::~Module() {
  std::lock_guard lock(m_init_mutex);
  if (m_owner) {
    m_fn->C_Finalize(nullptr);
  }
}

}  // namespace hanko::certstore::p11
