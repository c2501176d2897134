// Canonical XML 1.1 and Exclusive XML Canonicalization 1.0 over pugixml
// trees (hanko/signer/xml.h). Rules quoted from the W3C recommendations:
// https://www.w3.org/TR/xml-c14n11/ and https://www.w3.org/TR/xml-exc-c14n/.
#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "xml_internal.h"

namespace hanko::signer::xml {

namespace detail {
namespace {

/**
 * C14N 1.1 section 2.2, text nodes: "all ampersands are replaced by &amp;,
 * all open angle brackets (<) are replaced by &lt;, all closing angle
 * brackets (>) are replaced by &gt;, and all #xD characters are replaced by
 * &#xD;".
 */
void escape_text(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '\r': out += "&#xD;"; break;
      default: out += c;
    }
  }
}

/**
 * C14N 1.1 section 2.2, attribute nodes: "all ampersands are replaced by
 * &amp;, all open angle brackets (<) are replaced by &lt;, all quotation
 * mark characters are replaced by &quot;, and the whitespace characters #x9,
 * #xA, and #xD, are replaced with character references … &#x9;, &#xA; and
 * &#xD;".
 */
void escape_attribute(std::string& out, std::string_view s) {
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '"': out += "&quot;"; break;
      case '\t': out += "&#x9;"; break;
      case '\n': out += "&#xA;"; break;
      case '\r': out += "&#xD;"; break;
      default: out += c;
    }
  }
}

/** A prefix→URI map with undo frames, one frame per open element. */
class ScopedMap {
 public:
  void push() { m_marks.push_back(m_entries.size()); }
  void pop() {
    m_entries.resize(m_marks.back());
    m_marks.pop_back();
  }
  void set(std::string_view prefix, std::string_view uri) { m_entries.emplace_back(prefix, uri); }
  const std::string* find(std::string_view prefix) const {
    for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it) {
      if (it->first == prefix) {
        return &it->second;
      }
    }
    return nullptr;
  }
  /** The current binding of every prefix. */
  std::vector<std::pair<std::string, std::string>> current() const {
    std::vector<std::pair<std::string, std::string>> out;
    std::set<std::string_view> seen;
    for (auto it = m_entries.rbegin(); it != m_entries.rend(); ++it) {
      if (seen.insert(it->first).second) {
        out.push_back(*it);
      }
    }
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> m_entries;
  std::vector<std::size_t> m_marks;
};

struct Attr {
  std::string uri;
  std::string_view local;
  std::string_view qname;
  std::string_view value;
};

class Canonicalizer {
 public:
  explicit Canonicalizer(const C14nOptions& o) : m_opt(o) {
    for (const std::string& p : o.inclusive_prefixes) {
      m_prefix_list.insert(p == "#default" ? std::string() : p);
    }
  }

  /** Whole document: C14N 1.1 section 2.1 and 2.2 for the document node. */
  Result<std::string> document(pugi::xml_node doc) {
    pugi::xml_node root = doc.first_child();
    while (root && root.type() != pugi::node_element) {
      root = root.next_sibling();
    }
    bool after_root = false;
    for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) {
      if (n == root) {
        if (auto r = subtree(root); !r) {
          return std::unexpected(r.error());
        }
        after_root = true;
        continue;
      }
      // "a #xA is rendered … between the document element and a following
      // comment or PI; … after a PI or comment that precedes the document
      // element" (C14N 1.1 section 2.2, Comment and PI nodes).
      if (n.type() == pugi::node_pi || (n.type() == pugi::node_comment && m_opt.with_comments)) {
        if (after_root) {
          m_out += '\n';
        }
        leaf(n);
        if (!after_root) {
          m_out += '\n';
        }
      }
    }
    return std::move(m_out);
  }

  /** An element and its descendants, with the namespace context of its ancestors. */
  Result<std::string> element(pugi::xml_node apex) {
    std::vector<pugi::xml_node> ancestors;
    for (pugi::xml_node a = apex.parent(); a && a.type() == pugi::node_element; a = a.parent()) {
      ancestors.push_back(a);
    }
    m_in_scope.push();
    for (auto it = ancestors.rbegin(); it != ancestors.rend(); ++it) {
      for (pugi::xml_attribute a : it->attributes()) {
        if (auto p = declared_prefix(a)) {
          m_in_scope.set(*p, a.value());
        }
      }
    }
    if (m_opt.method == C14nMethod::c14n11) {
      // C14N 1.1 section 2.4: "xml:lang and xml:space are inherited … the
      // xml:id attribute is not a heritable attribute"; xml:base needs
      // fix-up, which hanko does not do: refuse rather than mis-sign.
      for (pugi::xml_node a : ancestors) {
        for (pugi::xml_attribute at : a.attributes()) {
          const std::string_view n = at.name();
          if (n == "xml:base") {
            return fail(Errc::unsupported, "subtree canonicalization under an ancestor with xml:base is not supported");
          }
          if ((n == "xml:lang" || n == "xml:space") && !apex.attribute(at.name()) &&
              std::none_of(m_inherited.begin(), m_inherited.end(),
                           [&](const Attr& x) { return x.qname == n; })) {
            m_inherited.push_back(Attr{std::string(kXmlNamespace), local_name_of(n), n, at.value()});
          }
        }
      }
    }
    m_apex = apex;
    if (auto r = subtree(apex); !r) {
      return std::unexpected(r.error());
    }
    return std::move(m_out);
  }

 private:
  Result<void> subtree(pugi::xml_node apex) {
    return walk(
        apex, [this](pugi::xml_node e) { return enter(e); }, [this](pugi::xml_node e) { leave(e); },
        [this](pugi::xml_node n) { leaf(n); });
  }

  Result<void> enter(pugi::xml_node e) {
    m_in_scope.push();
    m_rendered.push();
    for (pugi::xml_attribute a : e.attributes()) {
      if (auto p = declared_prefix(a)) {
        m_in_scope.set(*p, a.value());
      }
    }
    const std::string_view qname = e.name();
    // Attributes other than namespace declarations, with resolved URIs.
    std::vector<Attr> attrs;
    for (pugi::xml_attribute a : e.attributes()) {
      if (declared_prefix(a)) {
        continue;
      }
      const std::string_view an = a.name();
      const std::string_view p = prefix_of(an);
      std::string uri;
      if (p == "xml") {
        uri = kXmlNamespace;
      } else if (!p.empty()) {
        const std::string* u = m_in_scope.find(p);
        if (u == nullptr) {
          return fail(Errc::invalid_argument, "undeclared namespace prefix '" + std::string(p) + "'");
        }
        uri = *u;
      }
      attrs.push_back(Attr{std::move(uri), local_name_of(an), an, a.value()});
    }
    if (e == m_apex) {
      attrs.insert(attrs.end(), m_inherited.begin(), m_inherited.end());
    }

    // Namespace nodes to consider: (prefix, uri).
    std::vector<std::pair<std::string, std::string>> candidates;
    auto in_scope = [this](std::string_view p) -> std::optional<std::string> {
      if (const std::string* u = m_in_scope.find(p)) {
        return *u;
      }
      if (p.empty()) {
        return std::string();
      }
      return std::nullopt;
    };
    if (m_opt.method == C14nMethod::c14n11) {
      // C14N 1.1 section 2.3: "A namespace node N is ignored if the nearest
      // ancestor element of the node's parent element that is in the node-set
      // has a namespace node in the node-set with the same local name and
      // value as N. Otherwise, process the namespace node N".
      candidates = m_in_scope.current();
      if (!m_in_scope.find("")) {
        candidates.emplace_back("", "");
      }
    } else {
      // Exclusive C14N section 3: "A namespace node N with a prefix that does
      // not appear in the InclusiveNamespaces PrefixList is rendered if …
      // the element E that owns it is in the node-set and N is visibly
      // utilized by E" ("the element E … has a qualified name whose prefix is
      // the prefix of N, or … an attribute of E in the node-set whose prefix
      // is the prefix of N"; "the default namespace … is visibly utilized by
      // an element if the element has no prefix"), and "…if [it] has not
      // already been rendered by an output ancestor of E".
      std::set<std::string> used;
      used.insert(std::string(prefix_of(qname)));
      for (const Attr& a : attrs) {
        const std::string_view p = prefix_of(a.qname);
        if (!p.empty()) {
          used.insert(std::string(p));
        }
      }
      used.insert(m_prefix_list.begin(), m_prefix_list.end());
      for (const std::string& p : used) {
        if (auto u = in_scope(p)) {
          candidates.emplace_back(p, *u);
        }
      }
    }
    std::vector<std::pair<std::string, std::string>> emit;
    for (auto& [p, u] : candidates) {
      if (p == "xml") {
        continue;  // the xml namespace is never rendered
      }
      const std::string* done = m_rendered.find(p);
      if (p.empty() && u.empty()) {
        // Empty default namespace: rendered as xmlns="" only if an output
        // ancestor rendered a non-empty default namespace.
        if (done != nullptr && !done->empty()) {
          emit.emplace_back(p, u);
          m_rendered.set(p, u);
        }
        continue;
      }
      if (done == nullptr || *done != u) {
        emit.emplace_back(p, u);
        m_rendered.set(p, u);
      }
    }
    // "Namespace nodes … sorted lexicographically by local name (the default
    // namespace node, if one exists, has no local name and is therefore
    // lexicographically least)."
    std::sort(emit.begin(), emit.end());
    // "attribute nodes … sorted lexicographically with namespace URI as the
    // primary key and local name as the secondary key (an empty namespace
    // URI is lexicographically least)."
    std::sort(attrs.begin(), attrs.end(),
              [](const Attr& a, const Attr& b) { return std::tie(a.uri, a.local) < std::tie(b.uri, b.local); });

    m_out += '<';
    m_out += qname;
    for (const auto& [p, u] : emit) {
      m_out += p.empty() ? " xmlns=\"" : " xmlns:";
      if (!p.empty()) {
        m_out += p;
        m_out += "=\"";
      }
      escape_attribute(m_out, u);
      m_out += '"';
    }
    for (const Attr& a : attrs) {
      m_out += ' ';
      m_out += a.qname;
      m_out += "=\"";
      escape_attribute(m_out, a.value);
      m_out += '"';
    }
    m_out += '>';
    return {};
  }

  void leave(pugi::xml_node e) {
    m_out += "</";
    m_out += e.name();
    m_out += '>';
    m_rendered.pop();
    m_in_scope.pop();
  }

  void leaf(pugi::xml_node n) {
    switch (n.type()) {
      case pugi::node_pcdata:
      case pugi::node_cdata:  // "CDATA sections are replaced with their character content"
        escape_text(m_out, n.value());
        break;
      case pugi::node_comment:
        if (m_opt.with_comments) {
          m_out += "<!--";
          m_out += n.value();
          m_out += "-->";
        }
        break;
      case pugi::node_pi: {
        // "the PI target name of the node, a leading space and the string
        // value if it is not empty"
        m_out += "<?";
        m_out += n.name();
        const std::string_view v = n.value();
        if (!v.empty()) {
          m_out += ' ';
          m_out += v;
        }
        m_out += "?>";
        break;
      }
      default:
        break;
    }
  }

  const C14nOptions& m_opt;
  std::set<std::string> m_prefix_list;
  ScopedMap m_in_scope;
  ScopedMap m_rendered;
  std::vector<Attr> m_inherited;
  pugi::xml_node m_apex;
  std::string m_out;
};

}  // namespace

Result<std::string> c14n(pugi::xml_node node, const C14nOptions& options) {
  Canonicalizer c(options);
  if (node.type() == pugi::node_document) {
    return c.document(node);
  }
  if (node.type() != pugi::node_element) {
    return fail(Errc::invalid_argument, "only a document or an element can be canonicalized");
  }
  return c.element(node);
}

}  // namespace detail

std::string_view c14n_uri(const C14nOptions& options) {
  if (options.method == C14nMethod::exc_c14n) {
    return options.with_comments ? "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
                                 : "http://www.w3.org/2001/10/xml-exc-c14n#";
  }
  return options.with_comments ? "http://www.w3.org/2006/12/xml-c14n11#WithComments"
                               : "http://www.w3.org/2006/12/xml-c14n11";
}

Result<C14nOptions> c14n_options_for_uri(std::string_view uri) {
  for (C14nMethod m : {C14nMethod::c14n11, C14nMethod::exc_c14n}) {
    for (bool comments : {false, true}) {
      C14nOptions o{m, comments, {}};
      if (c14n_uri(o) == uri) {
        return o;
      }
    }
  }
  return fail(Errc::unsupported, "unsupported canonicalization algorithm " + std::string(uri));
}

Result<std::string> canonicalize(const Document& doc, const C14nOptions& options) {
  return detail::c14n(doc.impl().doc, options);
}

Result<std::string> canonicalize_element(const Document& doc, const ElementSelector& selector,
                                         const C14nOptions& options) {
  auto e = detail::select(doc.impl().doc, selector);
  if (!e) {
    return std::unexpected(e.error());
  }
  return detail::c14n(*e, options);
}

ElementSelector ElementSelector::by_id(std::string value, std::string attribute) {
  return ElementSelector{Kind::id, std::move(value), std::move(attribute)};
}

ElementSelector ElementSelector::by_path(std::string path) {
  return ElementSelector{Kind::path, std::move(path), "Id"};
}

}  // namespace hanko::signer::xml
