#pragma once
/**
 * @file der.h
 * A tiny DER writer and a bounds-checked DER reader, private to certstore.
 * Only what the HPKI/JPKI extensions need: single-byte tags (tag number
 * below 31), definite lengths, no indefinite (BER) encodings.
 */
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/bytes.h"
#include "hanko/common/error.h"

namespace hanko::certstore::der {

/** Universal tags and class bits (X.690 section 8.1.2). */
inline constexpr std::uint8_t kBoolean = 0x01;
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kNull = 0x05;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kUtf8String = 0x0C;
inline constexpr std::uint8_t kPrintableString = 0x13;
inline constexpr std::uint8_t kIa5String = 0x16;
inline constexpr std::uint8_t kSequence = 0x30;
inline constexpr std::uint8_t kSet = 0x31;
/** [n] EXPLICIT (context-specific, constructed). */
constexpr std::uint8_t context_constructed(unsigned n) { return static_cast<std::uint8_t>(0xA0 | n); }
/** [n] IMPLICIT of a primitive type (context-specific, primitive). */
constexpr std::uint8_t context_primitive(unsigned n) { return static_cast<std::uint8_t>(0x80 | n); }

// ---- writer ---------------------------------------------------------------

/** One TLV: `tag`, definite length, `content`. */
Bytes tlv(std::uint8_t tag, ByteView content);
/** Concatenation of encoded elements (for SEQUENCE/SET contents). */
Bytes cat(std::initializer_list<ByteView> parts);
inline Bytes sequence(std::initializer_list<ByteView> parts) { return tlv(kSequence, cat(parts)); }
/** A SET OF: elements sorted by their encoding, as X.690 section 11.6 requires of DER. */
Bytes set_of(std::initializer_list<ByteView> parts);
/** [n] EXPLICIT wrapping one encoded element. */
inline Bytes explicit_tag(unsigned n, ByteView inner) { return tlv(context_constructed(n), inner); }
Bytes utf8_string(std::string_view s);
Bytes ia5_string(std::string_view s);
Bytes null_value();
/** The content octets of an OBJECT IDENTIFIER given in dotted form; nullopt if malformed. */
std::optional<Bytes> oid_content(std::string_view dotted);
/** A complete OBJECT IDENTIFIER TLV; throws std::invalid_argument on a malformed constant. */
Bytes oid(std::string_view dotted);

// ---- reader ---------------------------------------------------------------

/** One parsed element; `content` points into the reader's input. */
struct Element {
  std::uint8_t tag = 0;
  ByteView content;
  ByteView whole;  ///< tag, length and content
};

/**
 * A cursor over DER bytes. Every read checks the remaining length before it
 * touches a byte; lengths are never trusted.
 */
class Reader {
 public:
  explicit Reader(ByteView data) : m_data(data) {}
  bool empty() const { return m_pos >= m_data.size(); }
  /** The next element, whatever its tag. */
  Result<Element> next();
  /** The next element, which must carry `tag`; `what` names it in the error. */
  Result<Element> expect(std::uint8_t tag, std::string_view what);
  /** The tag of the next element without consuming it (nullopt at the end). */
  std::optional<std::uint8_t> peek_tag() const;

 private:
  ByteView m_data;
  std::size_t m_pos = 0;
};

/** The dotted form of OID content octets; an Error if malformed (X.690 section 8.19). */
Result<std::string> oid_to_string(ByteView content);

}  // namespace hanko::certstore::der
