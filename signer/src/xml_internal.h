#pragma once
/**
 * @file xml_internal.h
 * pugixml-based internals of hanko/signer/xml.h, for signer code (XAdES)
 * that needs nodes. Private to signer/.
 *
 * pugixml does no namespace processing: prefixes are resolved here by
 * walking the `xmlns`/`xmlns:p` attributes of the element and its ancestors.
 * Document::parse has already checked that every prefix resolves.
 */
#include <pugixml.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "hanko/signer/xml.h"

namespace hanko::signer::xml {

struct Document::Impl {
  pugi::xml_document doc;
};

namespace detail {

/** Namespaces in XML 1.0 section 3: the prefix `xml` is bound to this URI. */
inline constexpr std::string_view kXmlNamespace = "http://www.w3.org/XML/1998/namespace";

/** "p" of "p:local", "" when unprefixed. */
std::string_view prefix_of(std::string_view qname);
/** "local" of "p:local". */
std::string_view local_name_of(std::string_view qname);

/** If `attr` is a namespace declaration: the prefix it declares ("" for xmlns=). */
std::optional<std::string_view> declared_prefix(const pugi::xml_attribute& attr);

/**
 * The namespace URI bound to `prefix` at `element` ("" = default namespace;
 * an unset default yields ""). nullopt when the prefix is not bound.
 */
std::optional<std::string> lookup_namespace(pugi::xml_node element, std::string_view prefix);

/** The namespace URI of an element (its prefix resolved); "" when none. */
std::string element_namespace(pugi::xml_node element);

/**
 * Canonicalizes `node`: the document node (whole document) or an element
 * (that element and its descendants, namespace context from its ancestors).
 * Iterative; memory grows with the depth of the tree, not the stack.
 */
Result<std::string> c14n(pugi::xml_node node, const C14nOptions& options);

/** The element selected by `selector` under the document `doc`. */
Result<pugi::xml_node> select(const pugi::xml_document& doc, const ElementSelector& selector);

/**
 * Checks the raw bytes before parsing: size, UTF-8 and XML Char, no `<!`
 * declarations except comments and CDATA, only predefined entity and valid
 * character references, one root element, nesting <= max_depth, UTF-8
 * encoding declaration. Linear time, no recursion.
 */
Result<void> prescan(std::string_view bytes, std::size_t max_bytes, std::size_t max_depth);

/** Namespace well-formedness of a parsed tree (prefixes bound, no duplicate attributes). */
Result<void> check_namespaces(const pugi::xml_document& doc);

/**
 * Visits the subtree under `apex` in document order without recursion:
 * `enter(element)` returns Result<void> and may stop the walk; `leave(element)`
 * after its children; `leaf(node)` for any other node.
 */
template <class Enter, class Leave, class Leaf>
Result<void> walk(pugi::xml_node apex, Enter&& enter, Leave&& leave, Leaf&& leaf) {
  pugi::xml_node n = apex;
  for (;;) {
    if (n.type() == pugi::node_element) {
      if (auto r = enter(n); !r) {
        return r;
      }
      if (pugi::xml_node c = n.first_child()) {
        n = c;
        continue;
      }
      leave(n);
    } else {
      leaf(n);
    }
    for (;;) {
      if (n == apex) {
        return {};
      }
      if (pugi::xml_node s = n.next_sibling()) {
        n = s;
        break;
      }
      n = n.parent();
      leave(n);
    }
  }
}

}  // namespace detail
}  // namespace hanko::signer::xml
