// The FHIR XML #document signed bytes (hanko/signer/xml.h): FHIR R4
// xml.html#canonical rules applied to a copy of the tree, then C14N 1.1.
#include <string>
#include <vector>

#include "xml_internal.h"

namespace hanko::signer::xml {

namespace {

using detail::element_namespace;
using detail::local_name_of;
using detail::prefix_of;

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool whitespace_only(std::string_view s) {
  for (char c : s) {
    if (!is_xml_space(c)) {
      return false;
    }
  }
  return true;
}

/** Each run of XML whitespace (#x20 #x9 #xD #xA) becomes one space. */
std::string collapse_spaces(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  bool in_run = false;
  for (char c : s) {
    if (is_xml_space(c)) {
      if (!in_run) {
        out += ' ';
      }
      in_run = true;
    } else {
      out += c;
      in_run = false;
    }
  }
  return out;
}

bool is_text(pugi::xml_node n) { return n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata; }

bool fhir_or_xhtml(std::string_view uri) { return uri == kFhirNamespace || uri == kXhtmlNamespace; }

Result<void> no_walk_error() { return {}; }

}  // namespace

bool is_document_bundle(const Document& doc) {
  const pugi::xml_node root = doc.impl().doc.document_element();
  if (local_name_of(root.name()) != "Bundle" || element_namespace(root) != kFhirNamespace) {
    return false;
  }
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name_of(c.name()) == "type" && element_namespace(c) == kFhirNamespace) {
      return std::string_view(c.attribute("value").value()) == "document";
    }
  }
  return false;
}

Result<std::string> fhir_xml_document(const Document& doc) {
  const pugi::xml_node original_root = doc.impl().doc.document_element();
  if (local_name_of(original_root.name()) != "Bundle" || element_namespace(original_root) != kFhirNamespace) {
    return fail(Errc::not_a_document, "the root element is not a Bundle in the FHIR namespace");
  }
  pugi::xml_document copy;
  copy.reset(doc.impl().doc);
  const pugi::xml_node root = copy.document_element();

  // 1. #document: "everything except Bundle.id and Bundle.metadata"; the
  //    signature goes too (a detached signature cannot cover itself).
  std::vector<pugi::xml_node> drop;
  for (pugi::xml_node c = root.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && element_namespace(c) == kFhirNamespace) {
      const std::string_view ln = local_name_of(c.name());
      if (ln == "id" || ln == "meta" || ln == "signature") {
        drop.push_back(c);
      }
    }
  }
  // 2. "Leave out comments" (and PIs/declarations outside the root: the
  //    XML declaration is never part of canonical XML).
  auto r = detail::walk(
      root, [](pugi::xml_node) { return no_walk_error(); }, [](pugi::xml_node) {},
      [&](pugi::xml_node n) {
        if (n.type() == pugi::node_comment) {
          drop.push_back(n);
        }
      });
  if (!r) {
    return std::unexpected(r.error());
  }
  for (pugi::xml_node c = copy.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_comment) {
      drop.push_back(c);
    }
  }
  for (pugi::xml_node n : drop) {
    n.parent().remove_child(n);
  }

  // 3. "Default namespaces for FHIR and XHTML": record each element's
  //    namespace first (the rewrite changes the declarations lookups use).
  std::vector<std::string> namespaces;
  r = detail::walk(
      root,
      [&](pugi::xml_node e) -> Result<void> {
        namespaces.push_back(element_namespace(e));
        for (pugi::xml_attribute a : e.attributes()) {
          const std::string_view p = prefix_of(a.name());
          if (!p.empty() && p != "xml" && p != "xmlns" &&
              fhir_or_xhtml(detail::lookup_namespace(e, p).value_or(std::string()))) {
            return fail(Errc::unsupported, std::string("attribute ") + a.name() +
                                               " in the FHIR or XHTML namespace is not supported");
          }
        }
        return {};
      },
      [](pugi::xml_node) {}, [](pugi::xml_node) {});
  if (!r) {
    return std::unexpected(r.error());
  }
  std::size_t index = 0;
  std::vector<std::string> default_stack{std::string()};
  r = detail::walk(
      root,
      [&](pugi::xml_node e) -> Result<void> {
        const std::string& uri = namespaces[index++];
        std::string inherited = default_stack.back();
        // Remove every default declaration and every prefix bound to the
        // FHIR or XHTML namespace; re-declare the default where needed.
        std::vector<pugi::xml_attribute> remove;
        for (pugi::xml_attribute a : e.attributes()) {
          if (auto p = detail::declared_prefix(a); p && (p->empty() || fhir_or_xhtml(a.value()))) {
            remove.push_back(a);
          }
        }
        for (pugi::xml_attribute a : remove) {
          e.remove_attribute(a);
        }
        const bool unprefixed = prefix_of(e.name()).empty() || fhir_or_xhtml(uri);
        if (unprefixed) {
          const std::string local(local_name_of(e.name()));
          e.set_name(local.c_str());
          if (uri != inherited) {
            e.prepend_attribute("xmlns").set_value(uri.c_str());
          }
          inherited = uri;
        }
        default_stack.push_back(inherited);
        return {};
      },
      [&](pugi::xml_node) { default_stack.pop_back(); }, [](pugi::xml_node) {});
  if (!r) {
    return std::unexpected(r.error());
  }

  // 4. Whitespace: "no whitespace other than single spaces in property
  //    values and in the xhtml in the Narrative". FHIR elements have no
  //    text content, so whitespace-only text under them goes; in XHTML,
  //    adjacent text nodes are merged and whitespace runs collapsed.
  index = 0;
  r = detail::walk(
      root,
      [&](pugi::xml_node e) -> Result<void> {
        const std::string& uri = namespaces[index++];
        std::vector<pugi::xml_node> remove;
        if (uri == kFhirNamespace) {
          for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
            if (is_text(c) && whitespace_only(c.value())) {
              remove.push_back(c);
            }
          }
        } else if (uri == kXhtmlNamespace) {
          for (pugi::xml_node c = e.first_child(); c; c = c.next_sibling()) {
            if (!is_text(c)) {
              continue;
            }
            std::string text = c.value();
            pugi::xml_node next = c.next_sibling();
            while (next && is_text(next)) {
              text += next.value();
              remove.push_back(next);
              next = next.next_sibling();
            }
            const std::string collapsed = collapse_spaces(text);
            if (c.type() == pugi::node_cdata) {
              pugi::xml_node t = e.insert_child_before(pugi::node_pcdata, c);
              t.set_value(collapsed.c_str());
              remove.push_back(c);
            } else {
              c.set_value(collapsed.c_str());
            }
            if (!next) {
              break;
            }
            c = next;  // an element: the loop's next_sibling moves past it
          }
        }
        for (pugi::xml_node n : remove) {
          e.remove_child(n);
        }
        return {};
      },
      [](pugi::xml_node) {}, [](pugi::xml_node) {});
  if (!r) {
    return std::unexpected(r.error());
  }
  return detail::c14n(copy, C14nOptions{C14nMethod::c14n11, false, {}});
}

}  // namespace hanko::signer::xml
