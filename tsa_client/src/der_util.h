#pragma once
/**
 * A minimal bounds-checked DER TLV reader and writer for the two places that
 * need raw DER: slicing the TimeStampToken out of a TimeStampResp (so that the
 * token is returned byte for byte as the TSA signed it) and encoding rejection
 * responses (OpenSSL has no public setters for PKIStatusInfo text/failInfo).
 */
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "hanko/common/bytes.h"

namespace hanko::tsa::der {

/** One TLV: its tag byte, the whole encoding and the contents. */
struct Tlv {
  std::uint8_t tag = 0;
  ByteView whole;
  ByteView content;
};

/** Reads the TLV at the start of `in` (single-byte tags, definite lengths up to 4 length bytes). */
inline std::optional<Tlv> read_tlv(ByteView in) {
  if (in.size() < 2) {
    return std::nullopt;
  }
  const std::uint8_t tag = in[0];
  if ((tag & 0x1f) == 0x1f) {
    return std::nullopt;  // multi-byte tags do not occur in these structures
  }
  std::size_t pos = 1;
  std::size_t len = in[pos++];
  if ((len & 0x80) != 0) {
    const std::size_t n = len & 0x7f;
    if (n == 0 || n > 4 || in.size() - pos < n) {
      return std::nullopt;  // indefinite length (BER) or absurd size
    }
    len = 0;
    for (std::size_t i = 0; i < n; ++i) {
      len = (len << 8) | in[pos++];
    }
  }
  if (in.size() - pos < len) {
    return std::nullopt;
  }
  return Tlv{tag, in.subspan(0, pos + len), in.subspan(pos, len)};
}

inline void append_length(Bytes& out, std::size_t len) {
  if (len < 0x80) {
    out.push_back(static_cast<std::uint8_t>(len));
    return;
  }
  std::uint8_t buf[sizeof(std::size_t)];
  std::size_t n = 0;
  while (len > 0) {
    buf[n++] = static_cast<std::uint8_t>(len & 0xff);
    len >>= 8;
  }
  out.push_back(static_cast<std::uint8_t>(0x80 | n));
  while (n > 0) {
    out.push_back(buf[--n]);
  }
}

inline Bytes tlv(std::uint8_t tag, ByteView content) {
  Bytes out;
  out.reserve(content.size() + 6);
  out.push_back(tag);
  append_length(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

inline Bytes concat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (ByteView p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

/** INTEGER for a small non-negative value. */
inline Bytes small_integer(std::uint8_t v) {
  const std::uint8_t c[1] = {v};
  return tlv(0x02, c);
}

/** A BIT STRING with the one named bit `bit` set (DER: no trailing zero bits). */
inline Bytes single_bit(unsigned bit) {
  Bytes content(1 + bit / 8 + 1, 0);
  content[0] = static_cast<std::uint8_t>(7 - bit % 8);  // unused bits in the last byte
  content[1 + bit / 8] = static_cast<std::uint8_t>(0x80u >> (bit % 8));
  return tlv(0x03, content);
}

}  // namespace hanko::tsa::der
