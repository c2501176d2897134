#include "hanko/common/ossl.h"

#include <openssl/pem.h>

#include <ctime>
#include <limits>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "hanko/common/digest.h"
#include "hanko/common/file.h"

namespace hanko::ossl {

X509Ptr x509_from_der(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert || p != der.data() + der.size()) {
    clear_openssl_errors();
    return nullptr;
  }
  return cert;
}

X509Ptr cached_x509_from_der(ByteView der) {
  // Bounded: when full, the cache is emptied (certificates still in use keep their own references).
  constexpr std::size_t kMaxEntries = 512;
  constexpr std::size_t kMaxDer = 64u << 10;  // larger inputs are not worth keeping
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
  };
  struct Cache {
    std::mutex mutex;
    std::unordered_map<std::string, X509Ptr, Hash, std::equal_to<>> map;
  };
  static Cache* cache = new Cache();  // never destroyed: usable from other static destructors
  if (der.empty() || der.size() > kMaxDer) {
    return x509_from_der(der);
  }
  const std::string_view key(reinterpret_cast<const char*>(der.data()), der.size());
  {
    std::lock_guard<std::mutex> lock(cache->mutex);
    auto it = cache->map.find(key);
    if (it != cache->map.end()) {
      return up_ref(it->second.get());
    }
  }
  X509Ptr cert = x509_from_der(der);
  if (!cert) {
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(cache->mutex);
  if (cache->map.size() >= kMaxEntries) {
    cache->map.clear();
  }
  auto [it, inserted] = cache->map.try_emplace(std::string(key), nullptr);
  if (inserted) {
    it->second = up_ref(cert.get());
    return cert;
  }
  return up_ref(it->second.get());  // another thread decoded it first: share one object
}

Bytes x509_to_der(const X509* cert) { return to_der<i2d_X509>(cert); }

X509CrlPtr x509_crl_from_der(ByteView der) {
  if (der.empty() || der.size() > static_cast<std::size_t>(std::numeric_limits<long>::max())) {
    return nullptr;
  }
  const unsigned char* p = der.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl || p != der.data() + der.size()) {
    clear_openssl_errors();
    return nullptr;
  }
  return crl;
}

std::vector<X509CrlPtr> x509_crls_from_pem(std::string_view pem) {
  std::vector<X509CrlPtr> out;
  if (pem.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return out;
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return out;
  }
  while (true) {
    X509CrlPtr c(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
    if (!c) {
      break;
    }
    out.push_back(std::move(c));
  }
  clear_openssl_errors();  // the loop ends with a "no start line" error
  return out;
}

std::vector<X509Ptr> certificates_from_pem(std::string_view pem) {
  std::vector<X509Ptr> out;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) {
    return out;
  }
  while (true) {
    X509Ptr c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c) {
      break;
    }
    out.push_back(std::move(c));
  }
  clear_openssl_errors();  // the loop ends with a "no start line" error
  return out;
}

Result<std::vector<X509Ptr>> load_certificates(const std::string& path) {
  auto text = read_file(path, 16u << 20);
  if (!text) {
    return std::unexpected(text.error());
  }
  if (text->find("-----BEGIN") != std::string::npos) {
    auto certs = certificates_from_pem(*text);
    if (certs.empty()) {
      return fail(Errc::invalid_argument, path + " holds no PEM certificate");
    }
    return certs;
  }
  auto cert = x509_from_der(as_bytes(*text));
  if (!cert) {
    return fail(Errc::invalid_argument, path + " is neither a PEM nor a DER certificate");
  }
  std::vector<X509Ptr> out;
  out.push_back(std::move(cert));
  return out;
}

Result<EvpPkeyPtr> load_private_key(const std::string& path) {
  auto text = read_file(path, 1u << 20);
  if (!text) {
    return std::unexpected(text.error());
  }
  BioPtr bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())));
  // A password callback that returns 0 makes encrypted keys fail instead of prompting on a terminal.
  auto no_prompt = [](char*, int, int, void*) noexcept -> int { return 0; };
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_prompt, nullptr));
  if (!key) {
    return std::unexpected(openssl_error(Errc::invalid_argument, "cannot read private key " + path));
  }
  return key;
}

std::string x509_to_pem(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), const_cast<X509*>(cert));
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

X509Ptr up_ref(X509* cert) {
  if (cert != nullptr) {
    X509_up_ref(cert);
  }
  return X509Ptr(cert);
}

std::string name_to_string(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, (XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) | ASN1_STRFLGS_UTF8_CONVERT);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string serial_hex(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  BignumPtr bn(ASN1_INTEGER_to_BN(serial, nullptr));
  if (!bn) {
    return {};
  }
  char* s = BN_bn2hex(bn.get());
  std::string out(s);
  OPENSSL_free(s);
  return out;
}

Bytes cert_sha256(const X509* cert) { return sha256(ByteView(x509_to_der(cert))); }

std::optional<TimePoint> asn1_time_to_timepoint(const ASN1_TIME* t) {
  if (t == nullptr) {
    return std::nullopt;
  }
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    clear_openssl_errors();
    return std::nullopt;
  }
  return utc(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

Asn1TimePtr timepoint_to_asn1(TimePoint t) {
  return Asn1TimePtr(ASN1_TIME_adj(nullptr, static_cast<time_t>(to_unix(t)), 0, 0));
}

}  // namespace hanko::ossl
