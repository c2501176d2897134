#include "hanko/common/digest.h"

#include <openssl/evp.h>

namespace hanko {

static const EVP_MD* md_for(DigestAlg alg) {
  switch (alg) {
    case DigestAlg::sha256: return EVP_sha256();
    case DigestAlg::sha384: return EVP_sha384();
    case DigestAlg::sha512: return EVP_sha512();
  }
  return EVP_sha256();
}

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
