#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/bytes.h"

namespace hanko {

/** RFC 4648 section 4, with padding. */
std::string base64_encode(ByteView data);
/** Strict RFC 4648 section 4 decoding (padding required, no whitespace); nullopt on bad input. */
std::optional<Bytes> base64_decode(std::string_view text);
/** RFC 4648 section 5, no padding (RFC 7515 base64url). */
std::string base64url_encode(ByteView data);
/** Strict base64url decoding: no padding, no whitespace; nullopt on bad input. */
std::optional<Bytes> base64url_decode(std::string_view text);

}  // namespace hanko
