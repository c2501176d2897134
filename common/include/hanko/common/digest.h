#pragma once
#include <string_view>

#include "hanko/common/bytes.h"
#include "hanko/common/error.h"

namespace hanko {

/** Digest algorithms on hanko's allow-list. */
enum class DigestAlg { sha256, sha384, sha512 };

Bytes digest(DigestAlg alg, ByteView data);
inline Bytes sha256(ByteView data) { return digest(DigestAlg::sha256, data); }
inline Bytes sha256(std::string_view data) { return digest(DigestAlg::sha256, as_bytes(data)); }

/** "SHA-256" etc. */
std::string_view digest_name(DigestAlg alg);

}  // namespace hanko
