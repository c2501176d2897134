#include "hanko/common/digest.h"

#include <openssl/evp.h>

namespace hanko {

namespace {

/**
 * The provider implementation, fetched once: EVP_sha256() and friends are
 * "legacy" handles that OpenSSL 3 resolves with an implicit fetch (a locked
 * method-store lookup) on every EVP_Digest. A fetched EVP_MD is immutable
 * and may be shared between threads. Falls back to the legacy handle if the
 * fetch fails (for example before a provider is configured).
 */
const EVP_MD* fetched(const char* name, const EVP_MD* legacy) {
  const EVP_MD* md = EVP_MD_fetch(nullptr, name, nullptr);
  return md != nullptr ? md : legacy;
}

const EVP_MD* md_for(DigestAlg alg) {
  switch (alg) {
    case DigestAlg::sha256: {
      static const EVP_MD* md = fetched("SHA2-256", EVP_sha256());
      return md;
    }
    case DigestAlg::sha384: {
      static const EVP_MD* md = fetched("SHA2-384", EVP_sha384());
      return md;
    }
    case DigestAlg::sha512: {
      static const EVP_MD* md = fetched("SHA2-512", EVP_sha512());
      return md;
    }
  }
  return md_for(DigestAlg::sha256);
}

}  // namespace

Bytes digest(DigestAlg alg, ByteView data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md_for(alg), nullptr);
  return Bytes(out, out + len);
}

std::string_view digest_name(DigestAlg alg) {
  switch (alg) {
    case DigestAlg::sha256: return "SHA-256";
    case DigestAlg::sha384: return "SHA-384";
    case DigestAlg::sha512: return "SHA-512";
  }
  return "SHA-256";
}

}  // namespace hanko
