#pragma once
/**
 * @file text.h
 * Checks and conversions for the ASN.1 string types certstore reads.
 */
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/bytes.h"

namespace hanko::certstore {

/** Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. */
bool is_valid_utf8(std::string_view s);
/** Only the PrintableString alphabet (X.680 section 41.4). */
bool is_printable_string(std::string_view s);
/** BMPString (UCS-2, big-endian) to UTF-8; nullopt for an odd length or a surrogate. */
std::optional<std::string> bmp_to_utf8(ByteView b);

}  // namespace hanko::certstore
