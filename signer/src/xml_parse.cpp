// Safe parsing of untrusted XML (hanko/signer/xml.h): a byte-level prescan
// that refuses DTDs, entities and deep nesting before pugixml builds a tree,
// then namespace well-formedness checks pugixml does not do.
#include <charconv>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "xml_internal.h"

namespace hanko::signer::xml {

namespace detail {

std::string_view prefix_of(std::string_view qname) {
  const auto colon = qname.find(':');
  return colon == std::string_view::npos ? std::string_view{} : qname.substr(0, colon);
}

std::string_view local_name_of(std::string_view qname) {
  const auto colon = qname.find(':');
  return colon == std::string_view::npos ? qname : qname.substr(colon + 1);
}

std::optional<std::string_view> declared_prefix(const pugi::xml_attribute& attr) {
  const std::string_view name = attr.name();
  if (name == "xmlns") {
    return std::string_view{};
  }
  if (name.starts_with("xmlns:")) {
    return name.substr(6);
  }
  return std::nullopt;
}

std::optional<std::string> lookup_namespace(pugi::xml_node element, std::string_view prefix) {
  if (prefix == "xml") {
    return std::string(kXmlNamespace);
  }
  for (pugi::xml_node e = element; e && e.type() == pugi::node_element; e = e.parent()) {
    for (pugi::xml_attribute a : e.attributes()) {
      if (auto p = declared_prefix(a); p && *p == prefix) {
        return std::string(a.value());
      }
    }
  }
  if (prefix.empty()) {
    return std::string();
  }
  return std::nullopt;
}

std::string element_namespace(pugi::xml_node element) {
  return lookup_namespace(element, prefix_of(element.name())).value_or(std::string());
}

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/** XML 1.0 section 2.2: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] */
bool is_xml_char(std::uint32_t cp) {
  return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
         (cp >= 0x10000 && cp <= 0x10FFFF);
}

std::string at(std::size_t offset) { return " at byte " + std::to_string(offset); }

/** RFC 3629 section 4 (no overlongs, no surrogates, <= U+10FFFF) plus XML Char. */
Result<void> check_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      cp = b0 & 0x1F;
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      cp = b0 & 0x0F;
      len = 3;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      cp = b0 & 0x07;
      len = 4;
    } else {
      return fail(Errc::invalid_argument, "XML is not valid UTF-8" + at(i));
    }
    if (i + len > s.size()) {
      return fail(Errc::invalid_argument, "XML is not valid UTF-8 (truncated sequence)" + at(i));
    }
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) {
        return fail(Errc::invalid_argument, "XML is not valid UTF-8" + at(i));
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return fail(Errc::invalid_argument, "XML is not valid UTF-8 (overlong or surrogate)" + at(i));
    }
    if (!is_xml_char(cp)) {
      return fail(Errc::invalid_argument, "XML contains a character XML 1.0 does not allow" + at(i));
    }
    i += len;
  }
  return {};
}

/**
 * XML 1.0 section 4.1: a reference at s[i] == '&'. Without a DTD only
 * amp, lt, gt, apos, quot exist ("the entity … MUST be declared");
 * character references must match the Char production. Returns its length.
 */
Result<std::size_t> check_reference(std::string_view s, std::size_t i) {
  const auto semi = s.find(';', i);
  if (semi == std::string_view::npos || semi - i > 12) {
    return fail(Errc::invalid_argument, "bare '&' or unterminated reference in XML" + at(i));
  }
  const std::string_view body = s.substr(i + 1, semi - i - 1);
  if (body == "amp" || body == "lt" || body == "gt" || body == "apos" || body == "quot") {
    return semi - i + 1;
  }
  if (body.starts_with('#')) {
    std::string_view digits = body.substr(1);
    int base = 10;
    if (digits.starts_with('x')) {
      digits = digits.substr(1);
      base = 16;
    }
    std::uint32_t cp = 0;
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, base);
    if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || !is_xml_char(cp)) {
      return fail(Errc::invalid_argument, "invalid character reference &" + std::string(body) + ";" + at(i));
    }
    return semi - i + 1;
  }
  return fail(Errc::invalid_argument, "reference to undeclared entity &" + std::string(body) +
                                          "; (no DTD: only the five predefined entities exist)" + at(i));
}

/** The encoding pseudo-attribute of an XML declaration "<?xml ... ?>", if any. */
Result<void> check_xml_declaration(std::string_view decl) {
  const auto pos = decl.find("encoding");
  if (pos == std::string_view::npos) {
    return {};
  }
  auto q = decl.find_first_of("\"'", pos);
  if (q == std::string_view::npos) {
    return fail(Errc::invalid_argument, "malformed XML declaration");
  }
  const auto end = decl.find(decl[q], q + 1);
  if (end == std::string_view::npos) {
    return fail(Errc::invalid_argument, "malformed XML declaration");
  }
  std::string enc(decl.substr(q + 1, end - q - 1));
  for (char& c : enc) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  if (enc != "UTF-8" && enc != "UTF8") {
    return fail(Errc::unsupported, "XML encoding '" + enc + "' is not supported (only UTF-8)");
  }
  return {};
}

}  // namespace

Result<void> prescan(std::string_view s, std::size_t max_bytes, std::size_t max_depth) {
  if (s.size() > max_bytes) {
    return fail(Errc::too_large,
                "XML input of " + std::to_string(s.size()) + " bytes exceeds the limit of " + std::to_string(max_bytes));
  }
  if (s.starts_with("\xFE\xFF") || s.starts_with("\xFF\xFE") || s.starts_with(std::string_view("\0\0\xFE\xFF", 4))) {
    return fail(Errc::unsupported, "UTF-16/UTF-32 XML is not supported (only UTF-8)");
  }
  std::size_t i = s.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  if (auto r = check_utf8(s.substr(i)); !r) {
    return r;
  }
  std::size_t depth = 0;
  bool seen_root = false;
  const std::size_t n = s.size();
  auto starts = [&](std::size_t pos, std::string_view tok) { return s.substr(pos, tok.size()) == tok; };
  while (i < n) {
    const char c = s[i];
    if (c == '&') {
      if (depth == 0) {
        return fail(Errc::invalid_argument, "text outside the root element" + at(i));
      }
      auto len = check_reference(s, i);
      if (!len) {
        return std::unexpected(len.error());
      }
      i += *len;
      continue;
    }
    if (c != '<') {
      if (depth == 0 && !is_space(c)) {
        return fail(Errc::invalid_argument, "text outside the root element" + at(i));
      }
      ++i;
      continue;
    }
    if (starts(i, "<!--")) {
      const auto end = s.find("-->", i + 4);
      if (end == std::string_view::npos) {
        return fail(Errc::invalid_argument, "unterminated comment" + at(i));
      }
      // XML 1.0 section 2.5: "the string '--' (double-hyphen) MUST NOT occur within comments."
      if (const auto dd = s.find("--", i + 4); dd != end || (end > i + 4 && s[end - 1] == '-')) {
        return fail(Errc::invalid_argument, "'--' inside a comment" + at(i));
      }
      i = end + 3;
    } else if (starts(i, "<![CDATA[")) {
      if (depth == 0) {
        return fail(Errc::invalid_argument, "CDATA section outside the root element" + at(i));
      }
      const auto end = s.find("]]>", i + 9);
      if (end == std::string_view::npos) {
        return fail(Errc::invalid_argument, "unterminated CDATA section" + at(i));
      }
      i = end + 3;
    } else if (starts(i, "<!DOCTYPE")) {
      return fail(Errc::invalid_argument,
                  "XML with a DOCTYPE is refused (FHIR XML forbids DTDs; no entity expansion)" + at(i));
    } else if (starts(i, "<!ENTITY")) {
      return fail(Errc::invalid_argument, "XML ENTITY declarations are refused" + at(i));
    } else if (starts(i, "<!")) {
      return fail(Errc::invalid_argument, "XML markup declarations are refused" + at(i));
    } else if (starts(i, "<?")) {
      const auto end = s.find("?>", i + 2);
      if (end == std::string_view::npos) {
        return fail(Errc::invalid_argument, "unterminated processing instruction" + at(i));
      }
      const std::string_view pi = s.substr(i, end + 2 - i);
      if (pi.size() > 6 && pi.substr(2, 3) == "xml" && is_space(pi[5])) {
        if (auto r = check_xml_declaration(pi); !r) {
          return r;
        }
      }
      i = end + 2;
    } else if (starts(i, "</")) {
      if (depth == 0) {
        return fail(Errc::invalid_argument, "end tag without a start tag" + at(i));
      }
      const auto end = s.find('>', i);
      if (end == std::string_view::npos) {
        return fail(Errc::invalid_argument, "unterminated end tag" + at(i));
      }
      --depth;
      i = end + 1;
    } else {
      // A start tag: find its '>' outside quoted attribute values.
      if (depth == 0 && seen_root) {
        return fail(Errc::invalid_argument, "more than one root element" + at(i));
      }
      std::size_t j = i + 1;
      char quote = 0;
      for (; j < n; ++j) {
        const char d = s[j];
        if (quote != 0) {
          if (d == quote) {
            quote = 0;
          } else if (d == '<') {
            return fail(Errc::invalid_argument, "'<' in an attribute value" + at(j));
          } else if (d == '&') {
            auto len = check_reference(s, j);
            if (!len) {
              return std::unexpected(len.error());
            }
            j += *len - 1;
          }
        } else if (d == '"' || d == '\'') {
          quote = d;
        } else if (d == '>' || d == '<') {
          break;
        }
      }
      if (j >= n || s[j] != '>') {
        return fail(Errc::invalid_argument, "unterminated start tag" + at(i));
      }
      seen_root = true;
      if (s[j - 1] != '/') {
        if (++depth > max_depth) {
          return fail(Errc::invalid_argument,
                      "XML elements nested deeper than the limit of " + std::to_string(max_depth) + at(i));
        }
      }
      i = j + 1;
    }
  }
  if (!seen_root) {
    return fail(Errc::invalid_argument, "XML has no root element");
  }
  if (depth != 0) {
    return fail(Errc::invalid_argument, "XML ends inside an element");
  }
  return {};
}

namespace {

/** NCName check light: non-empty, no colon (qname split already), no space. */
bool valid_qname(std::string_view q) {
  if (q.empty() || q.front() == ':' || q.back() == ':') {
    return false;
  }
  return q.find(':') == q.rfind(':');
}

}  // namespace

Result<void> check_namespaces(const pugi::xml_document& doc) {
  auto enter = [](pugi::xml_node e) -> Result<void> {
    const std::string_view name = e.name();
    if (!valid_qname(name)) {
      return fail(Errc::invalid_argument, "invalid element name '" + std::string(name) + "'");
    }
    std::set<std::string_view> qnames;
    std::set<std::pair<std::string, std::string_view>> expanded;
    for (pugi::xml_attribute a : e.attributes()) {
      const std::string_view an = a.name();
      if (!valid_qname(an) || !qnames.insert(an).second) {
        return fail(Errc::invalid_argument,
                    "invalid or duplicate attribute '" + std::string(an) + "' on <" + std::string(name) + ">");
      }
      if (auto p = declared_prefix(a)) {
        const std::string_view v = a.value();
        // Namespaces in XML 1.0 section 3: "The prefix xmlns … MUST NOT be declared";
        // "The prefix xml … MUST NOT be bound to any other namespace name";
        // "In a namespace declaration for a prefix …, the attribute value MUST NOT be empty."
        if (*p == "xmlns" || v == "http://www.w3.org/2000/xmlns/" || (*p == "xml") != (v == kXmlNamespace) ||
            (!p->empty() && v.empty())) {
          return fail(Errc::invalid_argument, "illegal namespace declaration " + std::string(an) + "=\"" +
                                                  std::string(v) + "\"");
        }
        continue;
      }
      const std::string_view ap = prefix_of(an);
      if (ap.empty()) {
        expanded.emplace(std::string(), an);
        continue;
      }
      auto uri = lookup_namespace(e, ap);
      if (!uri) {
        return fail(Errc::invalid_argument, "undeclared namespace prefix '" + std::string(ap) + "' in attribute " +
                                                std::string(an));
      }
      if (!expanded.emplace(*uri, local_name_of(an)).second) {
        return fail(Errc::invalid_argument, "duplicate attribute {" + *uri + "}" + std::string(local_name_of(an)));
      }
    }
    const std::string_view ep = prefix_of(name);
    if (!ep.empty() && !lookup_namespace(e, ep)) {
      return fail(Errc::invalid_argument, "undeclared namespace prefix '" + std::string(ep) + "' in element <" +
                                              std::string(name) + ">");
    }
    return {};
  };
  return walk(doc.document_element(), enter, [](pugi::xml_node) {}, [](pugi::xml_node) {});
}

namespace {

bool id_matches(pugi::xml_node e, std::string_view attribute, std::string_view value) {
  for (pugi::xml_attribute a : e.attributes()) {
    const std::string_view an = a.name();
    if ((an == attribute || an == "xml:id") && a.value() == value) {
      return true;
    }
  }
  return false;
}

}  // namespace

Result<pugi::xml_node> select(const pugi::xml_document& doc, const ElementSelector& selector) {
  const pugi::xml_node root = doc.document_element();
  if (selector.kind == ElementSelector::Kind::id) {
    if (selector.value.empty()) {
      return fail(Errc::invalid_argument, "empty Id");
    }
    pugi::xml_node found;
    std::size_t count = 0;
    auto r = walk(
        root,
        [&](pugi::xml_node e) -> Result<void> {
          if (id_matches(e, selector.id_attribute, selector.value)) {
            found = e;
            ++count;
          }
          return {};
        },
        [](pugi::xml_node) {}, [](pugi::xml_node) {});
    if (!r) {
      return std::unexpected(r.error());
    }
    if (count == 0) {
      return fail(Errc::invalid_argument, "no element with " + selector.id_attribute + "=\"" + selector.value + "\"");
    }
    if (count > 1) {
      return fail(Errc::invalid_argument,
                  "several elements with " + selector.id_attribute + "=\"" + selector.value + "\" (ambiguous)");
    }
    return found;
  }
  // Kind::path: "/a/b[2]/*"
  std::string_view path = selector.value;
  if (!path.starts_with('/')) {
    return fail(Errc::invalid_argument, "element path must start with '/': " + selector.value);
  }
  pugi::xml_node current = doc;
  while (!path.empty()) {
    path.remove_prefix(1);
    const auto slash = path.find('/');
    std::string_view step = path.substr(0, slash);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash);
    std::size_t index = 1;
    if (const auto br = step.find('['); br != std::string_view::npos) {
      if (!step.ends_with(']')) {
        return fail(Errc::invalid_argument, "bad step in element path: " + std::string(step));
      }
      const std::string_view num = step.substr(br + 1, step.size() - br - 2);
      const auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), index);
      if (ec != std::errc() || p != num.data() + num.size() || index == 0) {
        return fail(Errc::invalid_argument, "bad index in element path: " + std::string(step));
      }
      step = step.substr(0, br);
    }
    if (step.empty()) {
      return fail(Errc::invalid_argument, "empty step in element path: " + selector.value);
    }
    pugi::xml_node next;
    std::size_t seen = 0;
    for (pugi::xml_node c = current.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_element && (step == "*" || local_name_of(c.name()) == step) && ++seen == index) {
        next = c;
        break;
      }
    }
    if (!next) {
      return fail(Errc::invalid_argument, "no element at path " + selector.value);
    }
    current = next;
  }
  if (current.type() != pugi::node_element) {
    return fail(Errc::invalid_argument, "no element at path " + selector.value);
  }
  return current;
}

}  // namespace detail

Document::Document(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Document::Document(Document&&) noexcept = default;
Document& Document::operator=(Document&&) noexcept = default;
Document::~Document() = default;

Result<Document> Document::parse(std::string_view xml, std::size_t max_bytes, std::size_t max_depth) {
  if (auto r = detail::prescan(xml, max_bytes, max_depth); !r) {
    return std::unexpected(r.error());
  }
  auto impl = std::make_unique<Impl>();
  // pugixml parse_default = cdata | escapes | wconv_attribute | eol: line ends
  // normalized (XML 1.0 section 2.11) and attribute values normalized for
  // CDATA-type attributes (section 3.3.3: literal TAB/LF/CR become spaces,
  // character references kept). parse_ws_pcdata keeps whitespace-only text,
  // which canonical XML keeps.
  constexpr unsigned kOptions =
      pugi::parse_default | pugi::parse_ws_pcdata | pugi::parse_comments | pugi::parse_pi | pugi::parse_declaration;
  const pugi::xml_parse_result pr = impl->doc.load_buffer(xml.data(), xml.size(), kOptions, pugi::encoding_utf8);
  if (!pr) {
    return fail(Errc::invalid_argument, std::string("XML is not well-formed: ") + pr.description() + " at byte " +
                                            std::to_string(pr.offset));
  }
  if (!impl->doc.document_element()) {
    return fail(Errc::invalid_argument, "XML has no root element");
  }
  if (auto r = detail::check_namespaces(impl->doc); !r) {
    return std::unexpected(r.error());
  }
  return Document(std::move(impl));
}

}  // namespace hanko::signer::xml
