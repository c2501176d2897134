/**
 * @file json.cpp
 * RFC 8259 parser and writer for the hanko JSON document model (json.h).
 *
 * The parser is recursive descent; recursion is bounded by
 * ParseLimits::max_depth, so stack use is bounded too. It refuses what
 * I-JSON (RFC 7493) forbids: "Objects in I-JSON messages MUST NOT have
 * members with duplicate names" (section 2.3), invalid UTF-8 and
 * "unpaired surrogates" (section 2.1). Numbers are kept as their literal
 * text after checking the RFC 8259 section 6 grammar.
 */
#include "hanko/common/json.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <tuple>
#include <utility>

namespace hanko::json {

// ---------------------------------------------------------------------------
// Value
// ---------------------------------------------------------------------------

const Value* Value::find(std::string_view key) const {
  if (!is_object()) {
    return nullptr;
  }
  for (const auto& [name, value] : std::get<Object>(m_v)) {
    if (name == key) {
      return &value;
    }
  }
  return nullptr;
}

Value* Value::find(std::string_view key) {
  return const_cast<Value*>(std::as_const(*this).find(key));
}

const std::string* Value::find_string(std::string_view key) const {
  const Value* v = find(key);
  if (v == nullptr || !v->is_string()) {
    return nullptr;
  }
  return &v->as_string();
}

Value& Value::set(std::string key, Value v) {
  Object& obj = std::get<Object>(m_v);
  for (auto& member : obj) {
    if (member.first == key) {
      member.second = std::move(v);
      return member.second;
    }
  }
  obj.emplace_back(std::move(key), std::move(v));
  return obj.back().second;
}

bool Value::erase(std::string_view key) {
  if (!is_object()) {
    return false;
  }
  Object& obj = std::get<Object>(m_v);
  const auto it = std::find_if(obj.begin(), obj.end(), [&](const Member& m) { return m.first == key; });
  if (it == obj.end()) {
    return false;
  }
  obj.erase(it);
  return true;
}

// ---------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------

namespace {

/**
 * Length of the well-formed UTF-8 sequence at s[i] (RFC 3629 section 4,
 * "UTF8-octets"), or 0 when it is ill-formed: overlong forms, encoded
 * surrogates (U+D800..U+DFFF) and code points above U+10FFFF are refused.
 */
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) -> unsigned {
    return static_cast<unsigned char>(s[k]);
  };
  const unsigned b0 = byte(i);
  const std::size_t left = s.size() - i;
  const auto cont = [&](std::size_t k) { return (byte(i + k) & 0xC0u) == 0x80u; };
  if (b0 < 0x80u) {
    return 1;
  }
  if (b0 >= 0xC2u && b0 <= 0xDFu) {
    return (left >= 2 && cont(1)) ? 2 : 0;
  }
  if (b0 >= 0xE0u && b0 <= 0xEFu) {
    if (left < 3 || !cont(1) || !cont(2)) {
      return 0;
    }
    const unsigned b1 = byte(i + 1);
    if (b0 == 0xE0u && b1 < 0xA0u) {
      return 0;  // overlong
    }
    if (b0 == 0xEDu && b1 >= 0xA0u) {
      return 0;  // surrogate
    }
    return 3;
  }
  if (b0 >= 0xF0u && b0 <= 0xF4u) {
    if (left < 4 || !cont(1) || !cont(2) || !cont(3)) {
      return 0;
    }
    const unsigned b1 = byte(i + 1);
    if (b0 == 0xF0u && b1 < 0x90u) {
      return 0;  // overlong
    }
    if (b0 == 0xF4u && b1 >= 0x90u) {
      return 0;  // above U+10FFFF
    }
    return 4;
  }
  return 0;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80u) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800u) {
    out.push_back(static_cast<char>(0xC0u | (cp >> 6)));
    out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
  } else if (cp < 0x10000u) {
    out.push_back(static_cast<char>(0xE0u | (cp >> 12)));
    out.push_back(static_cast<char>(0x80u | ((cp >> 6) & 0x3Fu)));
    out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
  } else {
    out.push_back(static_cast<char>(0xF0u | (cp >> 18)));
    out.push_back(static_cast<char>(0x80u | ((cp >> 12) & 0x3Fu)));
    out.push_back(static_cast<char>(0x80u | ((cp >> 6) & 0x3Fu)));
    out.push_back(static_cast<char>(0x80u | (cp & 0x3Fu)));
  }
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

/** Objects with more members than this get a sort-based duplicate check. */
constexpr std::size_t kLinearDuplicateCheck = 16;

class Parser {
 public:
  Parser(std::string_view text, const ParseLimits& limits) : m_s(text), m_limits(limits) {}

  Result<Value> run() {
    if (m_s.size() >= 3 && m_s.substr(0, 3) == "\xEF\xBB\xBF") {
      // RFC 8259 section 8.1: "Implementations MUST NOT add a byte order mark
      // (U+FEFF) to the beginning of a networked-transmitted JSON text." We
      // refuse it rather than guess what else the sender did not follow.
      return error(0, "byte order mark (U+FEFF) before the JSON text");
    }
    skip_ws();
    Value v;
    if (!parse_value(v, 0)) {
      return std::unexpected(std::move(m_error));
    }
    skip_ws();
    if (m_pos != m_s.size()) {
      return error(m_pos, "unexpected data after the JSON text");
    }
    return v;
  }

 private:
  std::unexpected<Error> error(std::size_t at, std::string_view what, Errc code = Errc::invalid_argument) {
    return fail(code, "JSON: " + std::string(what) + " at byte " + std::to_string(at));
  }

  bool set_error(std::size_t at, std::string_view what, Errc code = Errc::invalid_argument) {
    m_error = Error{code, "JSON: " + std::string(what) + " at byte " + std::to_string(at)};
    return false;
  }

  void skip_ws() {
    while (m_pos < m_s.size()) {
      const char c = m_s[m_pos];
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
        ++m_pos;
      } else {
        break;
      }
    }
  }

  bool parse_value(Value& out, std::size_t depth) {
    if (m_pos >= m_s.size()) {
      return set_error(m_pos, "unexpected end of input, expected a value");
    }
    switch (m_s[m_pos]) {
      case '{':
        return parse_object(out, depth + 1);
      case '[':
        return parse_array(out, depth + 1);
      case '"': {
        std::string s;
        if (!parse_string(s)) {
          return false;
        }
        out = Value(std::move(s));
        return true;
      }
      case 't':
        return parse_literal("true", Value(true), out);
      case 'f':
        return parse_literal("false", Value(false), out);
      case 'n':
        return parse_literal("null", Value(nullptr), out);
      default:
        if (m_s[m_pos] == '-' || (m_s[m_pos] >= '0' && m_s[m_pos] <= '9')) {
          return parse_number(out);
        }
        return set_error(m_pos, "unexpected character, expected a value");
    }
  }

  bool parse_literal(std::string_view word, Value v, Value& out) {
    if (m_s.substr(m_pos, word.size()) != word) {
      return set_error(m_pos, "invalid literal");
    }
    m_pos += word.size();
    out = std::move(v);
    return true;
  }

  bool parse_number(Value& out) {
    // number = [ minus ] int [ frac ] [ exp ]   (RFC 8259 section 6)
    const std::size_t start = m_pos;
    const auto digit = [&](std::size_t k) { return k < m_s.size() && m_s[k] >= '0' && m_s[k] <= '9'; };
    if (m_s[m_pos] == '-') {
      ++m_pos;
    }
    if (!digit(m_pos)) {
      return set_error(m_pos, "invalid number: expected a digit");
    }
    if (m_s[m_pos] == '0') {
      ++m_pos;
      if (digit(m_pos)) {
        return set_error(start, "invalid number: leading zero");
      }
    } else {
      while (digit(m_pos)) {
        ++m_pos;
      }
    }
    if (m_pos < m_s.size() && m_s[m_pos] == '.') {
      ++m_pos;
      if (!digit(m_pos)) {
        return set_error(m_pos, "invalid number: expected a digit after '.'");
      }
      while (digit(m_pos)) {
        ++m_pos;
      }
    }
    if (m_pos < m_s.size() && (m_s[m_pos] == 'e' || m_s[m_pos] == 'E')) {
      ++m_pos;
      if (m_pos < m_s.size() && (m_s[m_pos] == '+' || m_s[m_pos] == '-')) {
        ++m_pos;
      }
      if (!digit(m_pos)) {
        return set_error(m_pos, "invalid number: expected a digit in the exponent");
      }
      while (digit(m_pos)) {
        ++m_pos;
      }
    }
    out = Value(Number{std::string(m_s.substr(start, m_pos - start))});
    return true;
  }

  bool parse_hex4(std::size_t at, std::uint32_t& v) {
    if (at + 4 > m_s.size()) {
      return set_error(at, "truncated \\u escape");
    }
    v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = m_s[at + k];
      unsigned d = 0;
      if (c >= '0' && c <= '9') {
        d = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        d = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        d = static_cast<unsigned>(c - 'A' + 10);
      } else {
        return set_error(at + k, "invalid hex digit in \\u escape");
      }
      v = (v << 4) | d;
    }
    return true;
  }

  /** Parses a string starting at the opening quote into `out`. */
  bool parse_string(std::string& out) {
    ++m_pos;  // opening quote
    for (;;) {
      // Copy the longest run of bytes that need no attention in one go.
      std::size_t run = m_pos;
      while (run < m_s.size()) {
        const auto c = static_cast<unsigned char>(m_s[run]);
        if (c == '"' || c == '\\' || c < 0x20u || c >= 0x80u) {
          break;
        }
        ++run;
      }
      out.append(m_s.data() + m_pos, run - m_pos);
      m_pos = run;
      if (m_pos >= m_s.size()) {
        return set_error(m_pos, "unterminated string");
      }
      const auto c = static_cast<unsigned char>(m_s[m_pos]);
      if (c == '"') {
        ++m_pos;
        return true;
      }
      if (c < 0x20u) {
        // RFC 8259 section 7: "the control characters (U+0000 through U+001F)" MUST be escaped.
        return set_error(m_pos, "unescaped control character in string");
      }
      if (c >= 0x80u) {
        const std::size_t n = utf8_sequence_length(m_s, m_pos);
        if (n == 0) {
          return set_error(m_pos, "invalid UTF-8 in string");
        }
        out.append(m_s.data() + m_pos, n);
        m_pos += n;
        continue;
      }
      // Backslash escape.
      const std::size_t esc = m_pos;
      if (m_pos + 1 >= m_s.size()) {
        return set_error(m_pos, "unterminated escape");
      }
      const char e = m_s[m_pos + 1];
      m_pos += 2;
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!parse_hex4(m_pos, cp)) {
            return false;
          }
          m_pos += 4;
          if (cp >= 0xDC00u && cp <= 0xDFFFu) {
            return set_error(esc, "unpaired low surrogate escape");
          }
          if (cp >= 0xD800u && cp <= 0xDBFFu) {
            std::uint32_t low = 0;
            if (m_pos + 1 >= m_s.size() || m_s[m_pos] != '\\' || m_s[m_pos + 1] != 'u') {
              return set_error(esc, "unpaired high surrogate escape");
            }
            if (!parse_hex4(m_pos + 2, low)) {
              return false;
            }
            if (low < 0xDC00u || low > 0xDFFFu) {
              return set_error(esc, "unpaired high surrogate escape");
            }
            m_pos += 6;
            cp = 0x10000u + ((cp - 0xD800u) << 10) + (low - 0xDC00u);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          return set_error(esc, "invalid escape in string");
      }
    }
  }

  bool check_depth(std::size_t depth) {
    if (depth > m_limits.max_depth) {
      return set_error(m_pos, "nesting deeper than " + std::to_string(m_limits.max_depth), Errc::too_large);
    }
    return true;
  }

  bool parse_array(Value& out, std::size_t depth) {
    if (!check_depth(depth)) {
      return false;
    }
    ++m_pos;  // '['
    Array arr;
    skip_ws();
    if (m_pos < m_s.size() && m_s[m_pos] == ']') {
      ++m_pos;
      out = Value(std::move(arr));
      return true;
    }
    for (;;) {
      skip_ws();
      arr.emplace_back();
      if (!parse_value(arr.back(), depth)) {
        return false;
      }
      skip_ws();
      if (m_pos >= m_s.size()) {
        return set_error(m_pos, "unterminated array");
      }
      if (m_s[m_pos] == ',') {
        ++m_pos;
        continue;
      }
      if (m_s[m_pos] == ']') {
        ++m_pos;
        break;
      }
      return set_error(m_pos, "expected ',' or ']' in array");
    }
    out = Value(std::move(arr));
    return true;
  }

  bool parse_object(Value& out, std::size_t depth) {
    if (!check_depth(depth)) {
      return false;
    }
    ++m_pos;  // '{'
    Object obj;
    std::vector<std::size_t> key_offsets;
    skip_ws();
    if (m_pos < m_s.size() && m_s[m_pos] == '}') {
      ++m_pos;
      out = Value(std::move(obj));
      return true;
    }
    for (;;) {
      skip_ws();
      if (m_pos >= m_s.size() || m_s[m_pos] != '"') {
        return set_error(m_pos, "expected a member name string");
      }
      const std::size_t key_at = m_pos;
      std::string key;
      if (!parse_string(key)) {
        return false;
      }
      if (obj.size() < kLinearDuplicateCheck) {
        for (const auto& m : obj) {
          if (m.first == key) {
            return set_error(key_at, "duplicate member name \"" + key + "\"");
          }
        }
      }
      key_offsets.push_back(key_at);
      skip_ws();
      if (m_pos >= m_s.size() || m_s[m_pos] != ':') {
        return set_error(m_pos, "expected ':' after member name");
      }
      ++m_pos;
      skip_ws();
      obj.emplace_back(std::piecewise_construct, std::forward_as_tuple(std::move(key)), std::forward_as_tuple());
      if (!parse_value(obj.back().second, depth)) {
        return false;
      }
      skip_ws();
      if (m_pos >= m_s.size()) {
        return set_error(m_pos, "unterminated object");
      }
      if (m_s[m_pos] == ',') {
        ++m_pos;
        continue;
      }
      if (m_s[m_pos] == '}') {
        ++m_pos;
        break;
      }
      return set_error(m_pos, "expected ',' or '}' in object");
    }
    if (obj.size() > kLinearDuplicateCheck && !check_duplicates_sorted(obj, key_offsets)) {
      return false;
    }
    out = Value(std::move(obj));
    return true;
  }

  /** O(n log n) duplicate check for large objects (a linear scan per member would be quadratic). */
  bool check_duplicates_sorted(const Object& obj, const std::vector<std::size_t>& offsets) {
    std::vector<std::size_t> idx(obj.size());
    for (std::size_t i = 0; i < idx.size(); ++i) {
      idx[i] = i;
    }
    std::sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
      const int c = obj[a].first.compare(obj[b].first);
      return c != 0 ? c < 0 : a < b;
    });
    bool found = false;
    std::size_t worst = 0;  // the earliest offset at which a repeated name appears
    for (std::size_t i = 1; i < idx.size(); ++i) {
      if (obj[idx[i]].first == obj[idx[i - 1]].first) {
        const std::size_t at = offsets[idx[i]];
        if (!found || at < offsets[worst]) {
          worst = idx[i];
        }
        found = true;
      }
    }
    if (found) {
      return set_error(offsets[worst], "duplicate member name \"" + obj[worst].first + "\"");
    }
    return true;
  }

  std::string_view m_s;
  const ParseLimits& m_limits;
  std::size_t m_pos = 0;
  Error m_error;
};

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

void write_indent(std::string& out, int indent, std::size_t level) {
  out.push_back('\n');
  out.append(static_cast<std::size_t>(indent) * level, ' ');
}

void write_value(std::string& out, const Value& v, int indent, std::size_t level) {
  switch (v.type()) {
    case Type::null:
      out += "null";
      return;
    case Type::boolean:
      out += v.as_bool() ? "true" : "false";
      return;
    case Type::number:
      out += v.as_number().literal;
      return;
    case Type::string:
      append_quoted(out, v.as_string());
      return;
    case Type::array: {
      const Array& a = v.as_array();
      out.push_back('[');
      for (std::size_t i = 0; i < a.size(); ++i) {
        if (i != 0) {
          out.push_back(',');
        }
        if (indent > 0) {
          write_indent(out, indent, level + 1);
        }
        write_value(out, a[i], indent, level + 1);
      }
      if (indent > 0 && !a.empty()) {
        write_indent(out, indent, level);
      }
      out.push_back(']');
      return;
    }
    case Type::object: {
      const Object& o = v.as_object();
      out.push_back('{');
      for (std::size_t i = 0; i < o.size(); ++i) {
        if (i != 0) {
          out.push_back(',');
        }
        if (indent > 0) {
          write_indent(out, indent, level + 1);
        }
        append_quoted(out, o[i].first);
        out += indent > 0 ? ": " : ":";
        write_value(out, o[i].second, indent, level + 1);
      }
      if (indent > 0 && !o.empty()) {
        write_indent(out, indent, level);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace

Result<Value> parse(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return fail(Errc::too_large, "JSON: input of " + std::to_string(text.size()) + " bytes exceeds the limit of " +
                                     std::to_string(limits.max_bytes));
  }
  return Parser(text, limits).run();
}

std::string serialize(const Value& v, int indent) {
  std::string out;
  write_value(out, v, indent, 0);
  return out;
}

void append_quoted(std::string& out, std::string_view s) {
  // RFC 8785 section 3.2.2.2: control characters are written as \b \f \n \r \t
  // where such a short form exists, otherwise as \u00hh "using lowercase
  // hexadecimal"; '"' and '\' are escaped; everything else is written as is.
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<unsigned char>(s[run]);
      if (c == '"' || c == '\\' || c < 0x20u || c >= 0x80u) {
        break;
      }
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i >= s.size()) {
      break;
    }
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80u) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        // Not UTF-8: write U+FFFD so that the output stays valid JSON. The
        // canonicalizers refuse such strings instead of reaching this point.
        out += "\xEF\xBF\xBD";
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xFu]);
        break;
    }
    ++i;
  }
  out.push_back('"');
}

}  // namespace hanko::json
