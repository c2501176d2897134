#pragma once
/**
 * @file xml.h
 * Safe XML parsing and Canonical XML (C14N 1.1 and Exclusive C14N 1.0) for
 * FHIR XML documents, plus the FHIR XML `#document` signed bytes.
 *
 * Trust assumptions: the input is untrusted. Document::parse refuses, before
 * any tree is built, every DOCTYPE and every other `<!` markup declaration
 * (FHIR R4 xml.html: "the XML … SHALL NOT contain … DTDs"; this also stops
 * entity expansion bombs and external entities), references to undeclared
 * entities, bytes that are not UTF-8, characters that XML 1.0 does not
 * allow, inputs over a size limit and element nesting over a depth limit.
 * No network or file access ever happens while parsing.
 *
 * What is implemented exactly is described in docs/formats.md, section
 * "Canonical XML".
 */
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hanko/common/error.h"

namespace hanko::signer::xml {

/** Default limit on the input size, in bytes. */
inline constexpr std::size_t kDefaultMaxBytes = std::size_t{64} << 20;
/** Default limit on element nesting (the root element is depth 1). */
inline constexpr std::size_t kDefaultMaxDepth = 256;

/** The FHIR namespace, `http://hl7.org/fhir`. */
inline constexpr std::string_view kFhirNamespace = "http://hl7.org/fhir";
/** The XHTML namespace of FHIR narratives, `http://www.w3.org/1999/xhtml`. */
inline constexpr std::string_view kXhtmlNamespace = "http://www.w3.org/1999/xhtml";

/**
 * A parsed, namespace-well-formed XML document. Immutable once parsed;
 * movable, not copyable.
 */
class Document {
 public:
  /**
   * Parses `xml` (UTF-8, optionally with a UTF-8 byte order mark).
   *
   * Refused with Errc::too_large: more than `max_bytes` bytes.
   * Refused with Errc::invalid_argument: a DOCTYPE or ENTITY (or any other
   * `<!…>` declaration), a reference to an entity other than the five XML
   * predefines, invalid UTF-8, a character outside the XML 1.0 `Char`
   * production (XML 1.0 section 2.2), nesting deeper than `max_depth`, a
   * document that is not well-formed, an undeclared namespace prefix or a
   * duplicate attribute (Namespaces in XML 1.0 sections 5 and 6.3).
   * Refused with Errc::unsupported: an XML declaration naming an encoding
   * other than UTF-8, or a UTF-16/UTF-32 byte order mark.
   *
   * The scan for declarations, references and depth runs over the raw bytes
   * before the tree is built, in time linear in the input.
   */
  static Result<Document> parse(std::string_view xml, std::size_t max_bytes = kDefaultMaxBytes,
                                std::size_t max_depth = kDefaultMaxDepth);

  Document(Document&&) noexcept;
  Document& operator=(Document&&) noexcept;
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;
  ~Document();

  /** Opaque state; defined in signer/src/xml_internal.h (pugixml). */
  struct Impl;
  /** For signer-internal code only (see xml_internal.h). */
  const Impl& impl() const noexcept { return *m_impl; }

 private:
  explicit Document(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/** The canonicalization algorithm. */
enum class C14nMethod {
  c14n11,    ///< Canonical XML 1.1, http://www.w3.org/2006/12/xml-c14n11
  exc_c14n,  ///< Exclusive XML Canonicalization 1.0, http://www.w3.org/2001/10/xml-exc-c14n#
};

/** How to canonicalize. */
struct C14nOptions {
  C14nMethod method = C14nMethod::c14n11;
  /** The `#WithComments` variant: comments are kept. */
  bool with_comments = false;
  /**
   * Exclusive C14N only: the InclusiveNamespaces PrefixList; "#default"
   * names the default namespace. Ignored by C14N 1.1.
   */
  std::vector<std::string> inclusive_prefixes;
};

/**
 * The algorithm URI of `options` (for ds:CanonicalizationMethod/@Algorithm):
 * `http://www.w3.org/2006/12/xml-c14n11[#WithComments]` or
 * `http://www.w3.org/2001/10/xml-exc-c14n#[WithComments]`.
 */
std::string_view c14n_uri(const C14nOptions& options);

/**
 * The options for an algorithm URI (without a PrefixList); Errc::unsupported
 * for any other URI (C14N 1.0 included: hanko does not implement it).
 */
Result<C14nOptions> c14n_options_for_uri(std::string_view uri);

/** Selects one element of a Document, the apex of a subtree to canonicalize. */
struct ElementSelector {
  enum class Kind { id, path };
  Kind kind = Kind::id;
  /** The Id value (Kind::id) or the path (Kind::path). */
  std::string value;
  /** Kind::id: the unprefixed attribute name holding the Id (XAdES/XMLDSig: "Id"). */
  std::string id_attribute = "Id";

  /**
   * The one element whose unprefixed attribute `attribute` (or `xml:id`)
   * equals `value`. Zero or several such elements are an error: a duplicate
   * Id is how signature-wrapping attacks start.
   */
  static ElementSelector by_id(std::string value, std::string attribute = "Id");
  /**
   * An absolute path of element local names from the root, each optionally
   * with a 1-based index among same-named siblings, `*` for any name:
   * "/Bundle/entry[2]/resource/ *" (written without the space). Namespaces
   * are not compared.
   */
  static ElementSelector by_path(std::string path);
};

/**
 * Canonicalizes the whole document (the document node: comments and PIs
 * outside the root element are kept, separated by #xA, when
 * `with_comments`/always respectively).
 */
Result<std::string> canonicalize(const Document& doc, const C14nOptions& options);

/**
 * Canonicalizes one element and its descendants (a document subset that is
 * a whole subtree). C14N 1.1 section 2.4: the apex carries every namespace
 * in scope and inherits `xml:lang` and `xml:space` from its ancestors
 * (`xml:id` is not inherited); an ancestor's `xml:base` is refused with
 * Errc::unsupported rather than fixed up. Exclusive C14N section 3: only
 * visibly utilized namespaces and the PrefixList are rendered, no `xml:`
 * attribute is inherited.
 */
Result<std::string> canonicalize_element(const Document& doc, const ElementSelector& selector,
                                         const C14nOptions& options);

/**
 * True when the root element is `Bundle` in the FHIR namespace with a child
 * `<type value="document"/>`.
 */
bool is_document_bundle(const Document& doc);

/**
 * The signed bytes of a FHIR XML document Bundle, FHIR R4
 * `http://hl7.org/fhir/canonicalization/xml#document` as hanko implements
 * it (docs/formats.md "Canonical XML"): the root Bundle's `id`, `meta` and
 * `signature` children removed, comments removed, FHIR and XHTML elements
 * in default namespaces, whitespace-only text between FHIR elements
 * removed, whitespace runs in narrative text collapsed to one space, then
 * Canonical XML 1.1 without comments. No XML declaration. Errc::not_a_document
 * when the root is not a FHIR Bundle.
 */
Result<std::string> fhir_xml_document(const Document& doc);

}  // namespace hanko::signer::xml
