#include "der.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <vector>

namespace hanko::certstore::der {

namespace {

void append_length(Bytes& out, std::size_t len) {
  if (len < 0x80) {
    out.push_back(static_cast<std::uint8_t>(len));
    return;
  }
  std::uint8_t buf[sizeof(std::size_t)];
  int n = 0;
  while (len > 0) {
    buf[n++] = static_cast<std::uint8_t>(len & 0xFF);
    len >>= 8;
  }
  out.push_back(static_cast<std::uint8_t>(0x80 | n));
  while (n > 0) {
    out.push_back(buf[--n]);
  }
}

void append_base128(Bytes& out, std::uint64_t v) {
  std::uint8_t buf[10];
  int n = 0;
  do {
    buf[n++] = static_cast<std::uint8_t>(v & 0x7F);
    v >>= 7;
  } while (v > 0);
  while (n > 0) {
    --n;
    out.push_back(static_cast<std::uint8_t>(buf[n] | (n > 0 ? 0x80 : 0x00)));
  }
}

}  // namespace

Bytes tlv(std::uint8_t tag, ByteView content) {
  Bytes out;
  out.reserve(content.size() + 6);
  out.push_back(tag);
  append_length(out, content.size());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

Bytes cat(std::initializer_list<ByteView> parts) {
  Bytes out;
  for (const auto& p : parts) {
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

Bytes set_of(std::initializer_list<ByteView> parts) {
  std::vector<ByteView> sorted(parts);
  std::sort(sorted.begin(), sorted.end(), [](ByteView a, ByteView b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end());
  });
  Bytes content;
  for (const auto& p : sorted) {
    content.insert(content.end(), p.begin(), p.end());
  }
  return tlv(kSet, content);
}

Bytes utf8_string(std::string_view s) { return tlv(kUtf8String, as_bytes(s)); }
Bytes ia5_string(std::string_view s) { return tlv(kIa5String, as_bytes(s)); }
Bytes null_value() { return tlv(kNull, {}); }

std::optional<Bytes> oid_content(std::string_view dotted) {
  std::vector<std::uint64_t> arcs;
  std::size_t pos = 0;
  while (pos <= dotted.size()) {
    std::size_t end = dotted.find('.', pos);
    if (end == std::string_view::npos) {
      end = dotted.size();
    }
    std::string_view part = dotted.substr(pos, end - pos);
    if (part.empty() || (part.size() > 1 && part[0] == '0')) {
      return std::nullopt;
    }
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc{} || p != part.data() + part.size()) {
      return std::nullopt;
    }
    arcs.push_back(v);
    pos = end + 1;
  }
  if (arcs.size() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) || arcs[1] > (1ULL << 62)) {
    return std::nullopt;
  }
  Bytes out;
  append_base128(out, arcs[0] * 40 + arcs[1]);
  for (std::size_t i = 2; i < arcs.size(); ++i) {
    append_base128(out, arcs[i]);
  }
  return out;
}

Bytes oid(std::string_view dotted) {
  auto content = oid_content(dotted);
  if (!content) {
    throw std::invalid_argument("malformed OID constant: " + std::string(dotted));
  }
  return tlv(kOid, *content);
}

std::optional<std::uint8_t> Reader::peek_tag() const {
  if (empty()) {
    return std::nullopt;
  }
  return m_data[m_pos];
}

Result<Element> Reader::next() {
  const std::size_t start = m_pos;
  const std::size_t avail = m_data.size() - std::min(m_pos, m_data.size());
  if (avail < 2) {
    return fail(Errc::invalid_argument, "DER: truncated element header at offset " + std::to_string(start));
  }
  const std::uint8_t tag = m_data[m_pos];
  if ((tag & 0x1F) == 0x1F) {
    return fail(Errc::invalid_argument, "DER: multi-byte tag at offset " + std::to_string(start) + " is not supported");
  }
  const std::uint8_t first = m_data[m_pos + 1];
  std::size_t header = 2;
  std::size_t len = 0;
  if (first < 0x80) {
    len = first;
  } else if (first == 0x80) {
    return fail(Errc::invalid_argument, "DER: indefinite length at offset " + std::to_string(start) + " (BER, not DER)");
  } else {
    const std::size_t n = first & 0x7F;
    if (n > 4) {
      return fail(Errc::invalid_argument, "DER: length of " + std::to_string(n) + " octets at offset " + std::to_string(start) + " is too large");
    }
    if (avail < 2 + n) {
      return fail(Errc::invalid_argument, "DER: truncated length at offset " + std::to_string(start));
    }
    for (std::size_t i = 0; i < n; ++i) {
      len = (len << 8) | m_data[m_pos + 2 + i];
    }
    if (m_data[m_pos + 2] == 0 || len < 0x80) {
      return fail(Errc::invalid_argument, "DER: non-minimal length at offset " + std::to_string(start));
    }
    header = 2 + n;
  }
  if (len > avail - header) {
    return fail(Errc::invalid_argument, "DER: element at offset " + std::to_string(start) + " claims " + std::to_string(len) +
                                            " content octets but only " + std::to_string(avail - header) + " remain");
  }
  Element e;
  e.tag = tag;
  e.content = m_data.subspan(m_pos + header, len);
  e.whole = m_data.subspan(m_pos, header + len);
  m_pos += header + len;
  return e;
}

Result<Element> Reader::expect(std::uint8_t tag, std::string_view what) {
  auto e = next();
  if (!e) {
    return fail(e.error().code, std::string(what) + ": " + e.error().message);
  }
  if (e->tag != tag) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string got = {kHex[e->tag >> 4], kHex[e->tag & 0xF]};
    std::string want = {kHex[tag >> 4], kHex[tag & 0xF]};
    return fail(Errc::invalid_argument, std::string(what) + ": expected tag 0x" + want + ", found 0x" + got);
  }
  return e;
}

Result<std::string> oid_to_string(ByteView content) {
  if (content.empty()) {
    return fail(Errc::invalid_argument, "DER: empty OBJECT IDENTIFIER");
  }
  if (content.size() > 128) {
    return fail(Errc::invalid_argument, "DER: OBJECT IDENTIFIER too long");
  }
  std::string out;
  std::uint64_t v = 0;
  bool first = true;
  bool at_start = true;
  for (std::size_t i = 0; i < content.size(); ++i) {
    const std::uint8_t b = content[i];
    if (at_start && b == 0x80) {
      return fail(Errc::invalid_argument, "DER: non-minimal OBJECT IDENTIFIER arc");
    }
    if (v > (std::uint64_t{1} << 56)) {
      return fail(Errc::invalid_argument, "DER: OBJECT IDENTIFIER arc too large");
    }
    v = (v << 7) | (b & 0x7F);
    at_start = false;
    if ((b & 0x80) == 0) {
      if (first) {
        const std::uint64_t a0 = v < 40 ? 0 : (v < 80 ? 1 : 2);
        out = std::to_string(a0) + "." + std::to_string(v - a0 * 40);
        first = false;
      } else {
        out += "." + std::to_string(v);
      }
      v = 0;
      at_start = true;
    }
  }
  if (!at_start) {
    return fail(Errc::invalid_argument, "DER: truncated OBJECT IDENTIFIER");
  }
  return out;
}

}  // namespace hanko::certstore::der
