/**
 * @file canonical.cpp
 * RFC 8785 (JCS) and FHIR R4 canonical JSON.
 */
#include "hanko/signer/canonical.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

namespace hanko::signer {

namespace {

constexpr std::string_view kJcsTargetFormat = "application/fhir+json;canonicalization=urn:ietf:rfc:8785";
constexpr std::string_view kFhirJsonTargetFormat =
    "application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json#document";

// ---------------------------------------------------------------------------
// UTF-8 helpers
// ---------------------------------------------------------------------------

/** Length of the well-formed UTF-8 sequence at s[i] (RFC 3629), 0 when ill-formed. */
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) -> unsigned { return static_cast<unsigned char>(s[i + k]); };
  const std::size_t left = s.size() - i;
  const auto cont = [&](std::size_t k) { return (b(k) & 0xC0u) == 0x80u; };
  const unsigned b0 = b(0);
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
    if ((b0 == 0xE0u && b(1) < 0xA0u) || (b0 == 0xEDu && b(1) >= 0xA0u)) {
      return 0;  // overlong, or an encoded surrogate
    }
    return 3;
  }
  if (b0 >= 0xF0u && b0 <= 0xF4u) {
    if (left < 4 || !cont(1) || !cont(2) || !cont(3)) {
      return 0;
    }
    if ((b0 == 0xF0u && b(1) < 0x90u) || (b0 == 0xF4u && b(1) >= 0x90u)) {
      return 0;  // overlong, or above U+10FFFF
    }
    return 4;
  }
  return 0;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80u) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_length(s, i);
    if (n == 0) {
      return false;
    }
    i += n;
  }
  return true;
}

/** Decodes the code point starting at s[i] (s is valid UTF-8 and i is at a sequence start). */
std::uint32_t decode_at(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) -> std::uint32_t { return static_cast<unsigned char>(s[i + k]); };
  const std::uint32_t b0 = b(0);
  if (b0 < 0x80u) {
    return b0;
  }
  if (b0 < 0xE0u) {
    return ((b0 & 0x1Fu) << 6) | (b(1) & 0x3Fu);
  }
  if (b0 < 0xF0u) {
    return ((b0 & 0x0Fu) << 12) | ((b(1) & 0x3Fu) << 6) | (b(2) & 0x3Fu);
  }
  return ((b0 & 0x07u) << 18) | ((b(1) & 0x3Fu) << 12) | ((b(2) & 0x3Fu) << 6) | (b(3) & 0x3Fu);
}

/** The UTF-16 code units of a code point, as one 32-bit key that sorts like them. */
std::uint32_t utf16_key(std::uint32_t cp) {
  if (cp < 0x10000u) {
    return cp << 16;
  }
  const std::uint32_t v = cp - 0x10000u;
  return ((0xD800u + (v >> 10)) << 16) | (0xDC00u + (v & 0x3FFu));
}

/**
 * a < b comparing the UTF-16 code units of two valid UTF-8 strings, without
 * converting them. UTF-8 byte order is code point order, which differs from
 * UTF-16 order only where a supplementary character (a surrogate pair,
 * 0xD800..0xDFFF) meets U+E000..U+FFFF, so only the first differing code
 * point needs a closer look.
 */
bool utf16_less(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < n && a[i] == b[i]) {
    ++i;
  }
  if (i == n) {
    return a.size() < b.size();
  }
  // Back up to the start of the code point holding the first difference; the
  // bytes before i are shared, so it starts at the same offset in both.
  while (i > 0 && (static_cast<unsigned char>(a[i]) & 0xC0u) == 0x80u) {
    --i;
  }
  return utf16_key(decode_at(a, i)) < utf16_key(decode_at(b, i));
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/** RFC 8259 section 6: number = [ minus ] int [ frac ] [ exp ]. */
bool valid_number_literal(std::string_view s) {
  std::size_t i = 0;
  const auto digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (i < s.size() && s[i] == '-') {
    ++i;
  }
  if (!digit(i)) {
    return false;
  }
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i)) {
      ++i;
    }
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digit(i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
      ++i;
    }
    if (!digit(i)) {
      return false;
    }
    while (digit(i)) {
      ++i;
    }
  }
  return i == s.size();
}

/**
 * The decimal exponent of the leading non-zero digit of a valid literal
 * (1234 -> 3, 0.05 -> -2), saturated; used to tell overflow from underflow.
 */
long long leading_exponent(std::string_view s) {
  std::size_t i = (s[0] == '-') ? 1 : 0;
  const std::size_t int_start = i;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    ++i;
  }
  const std::size_t int_end = i;
  std::size_t frac_start = int_end;
  std::size_t frac_end = int_end;
  if (i < s.size() && s[i] == '.') {
    frac_start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    frac_end = i;
  }
  long long exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool neg = false;
    if (s[i] == '+' || s[i] == '-') {
      neg = s[i] == '-';
      ++i;
    }
    for (; i < s.size(); ++i) {
      exp = std::min<long long>(exp * 10 + (s[i] - '0'), 1'000'000'000'000LL);
    }
    if (neg) {
      exp = -exp;
    }
  }
  for (std::size_t k = int_start; k < int_end; ++k) {
    if (s[k] != '0') {
      return static_cast<long long>(int_end - k - 1) + exp;
    }
  }
  for (std::size_t k = frac_start; k < frac_end; ++k) {
    if (s[k] != '0') {
      return -static_cast<long long>(k - frac_start + 1) + exp;
    }
  }
  return std::numeric_limits<long long>::min();  // zero
}

/** ECMAScript Number::toString(x) for a finite double (ECMA-262 section 6.1.6.1.20). */
std::string es_number_to_string(double d) {
  if (d == 0.0) {
    return "0";  // "If x is either +0 or -0, return "0"."
  }
  std::array<char, 64> buf{};
  // Shortest round-trip digits, in scientific form "d[.ddd]e[+-]xx": these are
  // the k digits of s and the exponent n-1 that ECMAScript describes ("k is as
  // small as possible"; ties resolved towards the closer value, as Ryu does).
  const auto r = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
  std::string_view sci(buf.data(), static_cast<std::size_t>(r.ptr - buf.data()));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const std::size_t epos = sci.find('e');
  std::string digits;
  for (const char c : sci.substr(0, epos)) {
    if (c != '.') {
      digits.push_back(c);
    }
  }
  int e10 = 0;
  std::from_chars(sci.data() + epos + 1 + (sci[epos + 1] == '+' ? 1 : 0), sci.data() + sci.size(), e10);
  const int k = static_cast<int>(digits.size());
  const int n = e10 + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 < 0 ? '-' : '+');
    out += std::to_string(n - 1 < 0 ? -(n - 1) : n - 1);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Writer shared by both canonicalizations
// ---------------------------------------------------------------------------

enum class NumberMode { ecmascript, literal };

class Writer {
 public:
  explicit Writer(NumberMode mode) : m_mode(mode) {}

  Result<std::string> run(const json::Value& v) {
    if (!write(v)) {
      return std::unexpected(std::move(m_error));
    }
    return std::move(m_out);
  }

  /** run(document_view(bundle)) without copying the Bundle. */
  Result<std::string> run_document(const json::Value& bundle) {
    if (!bundle.is_object()) {
      return run(bundle);
    }
    if (!write_object(bundle.as_object(), true)) {
      return std::unexpected(std::move(m_error));
    }
    return std::move(m_out);
  }

 private:
  bool error(std::string message) {
    m_error = Error{Errc::invalid_argument, std::move(message)};
    return false;
  }

  bool write_string(const std::string& s) {
    if (!valid_utf8(s)) {
      return error("canonical JSON: string is not valid UTF-8");
    }
    json::append_quoted(m_out, s);
    return true;
  }

  bool write(const json::Value& v) {
    switch (v.type()) {
      case json::Type::null:
        m_out += "null";
        return true;
      case json::Type::boolean:
        m_out += v.as_bool() ? "true" : "false";
        return true;
      case json::Type::number: {
        const std::string& lit = v.as_number().literal;
        if (m_mode == NumberMode::literal) {
          if (!valid_number_literal(lit)) {
            return error("canonical JSON: invalid number literal \"" + lit + "\"");
          }
          m_out += lit;
          return true;
        }
        auto n = jcs_number(lit);
        if (!n) {
          m_error = std::move(n.error());
          return false;
        }
        m_out += *n;
        return true;
      }
      case json::Type::string:
        return write_string(v.as_string());
      case json::Type::array: {
        m_out.push_back('[');
        bool first = true;
        for (const auto& item : v.as_array()) {
          if (!first) {
            m_out.push_back(',');
          }
          first = false;
          if (!write(item)) {
            return false;
          }
        }
        m_out.push_back(']');
        return true;
      }
      case json::Type::object:
        return write_object(v.as_object(), false);
    }
    return error("canonical JSON: unknown value type");
  }

  /** An object; with `document`, without the members document_view() drops (id, meta, signature). */
  bool write_object(const json::Object& obj, bool document) {
        std::vector<const json::Member*> members;
        members.reserve(obj.size());
        for (const auto& m : obj) {
          if (document && (m.first == "id" || m.first == "meta" || m.first == "signature")) {
            continue;
          }
          if (!valid_utf8(m.first)) {
            return error("canonical JSON: member name is not valid UTF-8");
          }
          members.push_back(&m);
        }
        std::sort(members.begin(), members.end(),
                  [](const json::Member* a, const json::Member* b) { return utf16_less(a->first, b->first); });
        for (std::size_t i = 1; i < members.size(); ++i) {
          if (members[i]->first == members[i - 1]->first) {
            // RFC 8785 section 3.1 requires I-JSON input, which has unique names.
            return error("canonical JSON: duplicate member name \"" + members[i]->first + "\"");
          }
        }
        m_out.push_back('{');
        bool first = true;
        for (const json::Member* m : members) {
          if (!first) {
            m_out.push_back(',');
          }
          first = false;
          json::append_quoted(m_out, m->first);
          m_out.push_back(':');
          if (!write(m->second)) {
            return false;
          }
        }
        m_out.push_back('}');
        return true;
  }

  NumberMode m_mode;
  std::string m_out;
  Error m_error;
};

}  // namespace

Result<std::string> jcs_number(std::string_view literal) {
  if (!valid_number_literal(literal)) {
    return fail(Errc::invalid_argument, "JCS: invalid number literal \"" + std::string(literal) + "\"");
  }
  double d = 0.0;
  const auto r = std::from_chars(literal.data(), literal.data() + literal.size(), d);
  if (r.ec == std::errc::result_out_of_range) {
    if (leading_exponent(literal) >= 0) {
      // RFC 8785 section 3.2.2.3: "Note: Since Not a Number (NaN) and Infinity
      // are not permitted in JSON, occurrences of NaN or Infinity MUST cause a
      // compliant JCS implementation to terminate with an appropriate error."
      return fail(Errc::invalid_argument, "JCS: number " + std::string(literal) + " overflows a double");
    }
    return std::string("0");  // underflow: rounds to (-)0, which ECMAScript writes as "0"
  }
  if (r.ec != std::errc() || r.ptr != literal.data() + literal.size()) {
    return fail(Errc::invalid_argument, "JCS: cannot read number literal \"" + std::string(literal) + "\"");
  }
  if (!std::isfinite(d)) {
    return fail(Errc::invalid_argument, "JCS: number " + std::string(literal) + " overflows a double");
  }
  return es_number_to_string(d);
}

Result<std::string> JcsCanonicalizer::canonicalize(const json::Value& v) const {
  return Writer(NumberMode::ecmascript).run(v);
}
std::string_view JcsCanonicalizer::target_format() const { return kJcsTargetFormat; }
std::string_view JcsCanonicalizer::name() const { return "jcs"; }

Result<std::string> FhirJsonCanonicalizer::canonicalize(const json::Value& v) const {
  // Members are sorted in the JCS order (UTF-16 code units): R4 only says
  // "alphabetically", and for FHIR's ASCII property names every order agrees.
  return Writer(NumberMode::literal).run(v);
}
std::string_view FhirJsonCanonicalizer::target_format() const { return kFhirJsonTargetFormat; }
std::string_view FhirJsonCanonicalizer::name() const { return "fhir-json"; }

const Canonicalizer& jcs() {
  static const JcsCanonicalizer instance;
  return instance;
}

const Canonicalizer& fhir_json() {
  static const FhirJsonCanonicalizer instance;
  return instance;
}

const Canonicalizer* canonicalizer_by_name(std::string_view name) {
  for (const Canonicalizer* c : {&jcs(), &fhir_json()}) {
    if (name == c->name() || name == c->target_format()) {
      return c;
    }
  }
  return nullptr;
}

const Canonicalizer* canonicalizer_for_target_format(std::string_view target_format) {
  for (const Canonicalizer* c : {&jcs(), &fhir_json()}) {
    if (target_format == c->target_format()) {
      return c;
    }
  }
  return nullptr;
}

json::Value document_view(const json::Value& bundle) {
  if (!bundle.is_object()) {
    return bundle;
  }
  json::Object out;
  out.reserve(bundle.as_object().size());
  for (const auto& [name, value] : bundle.as_object()) {
    if (name == "id" || name == "meta" || name == "signature") {
      continue;
    }
    out.emplace_back(name, value);
  }
  return json::Value(std::move(out));
}

Result<std::string> canonical_document(const json::Value& bundle, const Canonicalizer& c) {
  // The built-in canonicalizers write the document view directly (no deep copy of the Bundle);
  // any other Canonicalizer gets the copy.
  if (&c == &jcs()) {
    return Writer(NumberMode::ecmascript).run_document(bundle);
  }
  if (&c == &fhir_json()) {
    return Writer(NumberMode::literal).run_document(bundle);
  }
  return c.canonicalize(document_view(bundle));
}

}  // namespace hanko::signer
