// Tests of the safe XML parser and Canonical XML (hanko/signer/xml.h) against
// the golden files of tests/data/c14n (see its README.md) and, when present,
// xmllint (libxml2-utils).
#include "hanko/signer/xml.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <sys/wait.h>

#include "test_support.h"
#include "xml_internal.h"

namespace hanko::signer::xml {
namespace {

namespace fs = std::filesystem;

const C14nOptions kC14n11{C14nMethod::c14n11, false, {}};
const C14nOptions kC14n11Comments{C14nMethod::c14n11, true, {}};
const C14nOptions kExc{C14nMethod::exc_c14n, false, {}};
const C14nOptions kExcComments{C14nMethod::exc_c14n, true, {}};

std::string c14n_data(std::string_view name) { return test::read_text(test::data_file("c14n/" + std::string(name))); }

Document parse_ok(std::string_view xml) {
  auto d = Document::parse(xml);
  EXPECT_TRUE(d.has_value()) << (d ? "" : d.error().message);
  if (!d) {
    return std::move(*Document::parse("<empty/>"));
  }
  return std::move(*d);
}

std::string canon(const Document& d, const C14nOptions& o) {
  auto r = canonicalize(d, o);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : std::string();
}

std::string subtree(std::string_view xml, const ElementSelector& s, const C14nOptions& o) {
  const Document d = parse_ok(xml);
  auto r = canonicalize_element(d, s, o);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : std::string();
}

Error parse_error(std::string_view xml, std::size_t max_bytes = kDefaultMaxBytes,
                  std::size_t max_depth = kDefaultMaxDepth) {
  auto d = Document::parse(xml, max_bytes, max_depth);
  EXPECT_FALSE(d.has_value()) << "accepted: " << xml.substr(0, 80);
  return d ? Error{} : d.error();
}

/** Output of a command, or nullopt if it failed. */
std::optional<std::string> run(const std::string& command) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(command.c_str(), "r"), pclose);
  if (!p) {
    return std::nullopt;
  }
  std::string out;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), p.get())) > 0) {
    out.append(buf.data(), n);
  }
  if (pclose(p.release()) != 0) {
    return std::nullopt;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Golden files: every input in four variants (out/NAME.VARIANT.txt).
// ---------------------------------------------------------------------------

const std::vector<std::string> kInputs = {
    "w3c-3.1-pis-comments", "w3c-3.2-whitespace", "w3c-3.3-start-end", "w3c-3.4-chars", "w3c-3.6-utf8",
    "namespaces",           "xml-attributes",     "escapes",           "empty-elements", "comments-pis",
    "cdata",                "japanese",           "fhir-narrative",    "subtree",        "fhir-bundle",
};

class C14nGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(C14nGolden, AllFourVariants) {
  const Document d = parse_ok(c14n_data(GetParam() + ".xml"));
  EXPECT_EQ(canon(d, kC14n11), c14n_data("out/" + GetParam() + ".c14n11.txt"));
  EXPECT_EQ(canon(d, kC14n11Comments), c14n_data("out/" + GetParam() + ".c14n11-comments.txt"));
  EXPECT_EQ(canon(d, kExc), c14n_data("out/" + GetParam() + ".exc.txt"));
  EXPECT_EQ(canon(d, kExcComments), c14n_data("out/" + GetParam() + ".exc-comments.txt"));
}

TEST_P(C14nGolden, CanonicalFormIsAFixpoint) {
  const Document d = parse_ok(c14n_data(GetParam() + ".xml"));
  for (const C14nOptions& o : {kC14n11, kC14n11Comments, kExc, kExcComments}) {
    const std::string once = canon(d, o);
    EXPECT_EQ(canon(parse_ok(once), o), once) << c14n_uri(o);
  }
}

/** libxml2's xmllint is an independent implementation: byte-for-byte equality. */
TEST_P(C14nGolden, EqualsXmllint) {
  if (!fs::exists("/usr/bin/xmllint")) {
    GTEST_SKIP() << "xmllint not installed (libxml2-utils)";
  }
  const std::string path = test::data_file("c14n/" + GetParam() + ".xml").string();
  const Document d = parse_ok(c14n_data(GetParam() + ".xml"));
  const auto c14n11 = run("/usr/bin/xmllint --c14n11 '" + path + "'");
  const auto exc = run("/usr/bin/xmllint --exc-c14n '" + path + "'");
  ASSERT_TRUE(c14n11 && exc) << "xmllint failed on " << path;
  EXPECT_EQ(canon(d, kC14n11Comments), *c14n11);
  EXPECT_EQ(canon(d, kExcComments), *exc);
}

INSTANTIATE_TEST_SUITE_P(Inputs, C14nGolden, ::testing::ValuesIn(kInputs),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-' || c == '.') {
                               c = '_';
                             }
                           }
                           return n;
                         });

// ---------------------------------------------------------------------------
// Specific rules (each with a passing and a failing side)
// ---------------------------------------------------------------------------

TEST(C14n, EmptyElementsBecomeStartEndPairs) {
  EXPECT_EQ(canon(parse_ok("<a><b/><c x='1'/></a>"), kC14n11), "<a><b></b><c x=\"1\"></c></a>");
}

TEST(C14n, AttributesSortedByNamespaceUriThenLocalNameUnqualifiedFirst) {
  const Document d = parse_ok(R"(<e xmlns:z="urn:a" xmlns:a="urn:z" a:x="3" z:y="2" z:x="1" b="0" a="-1"/>)");
  EXPECT_EQ(canon(d, kC14n11),
            R"(<e xmlns:a="urn:z" xmlns:z="urn:a" a="-1" b="0" z:x="1" z:y="2" a:x="3"></e>)");
}

TEST(C14n, SuperfluousDeclarationsRemovedButRedeclarationsKept) {
  const Document d = parse_ok(R"(<a xmlns:p="urn:p"><b xmlns:p="urn:p"/><c xmlns:p="urn:q"/></a>)");
  EXPECT_EQ(canon(d, kC14n11), R"(<a xmlns:p="urn:p"><b></b><c xmlns:p="urn:q"></c></a>)");
}

TEST(C14n, EmptyDefaultOnlyWhenParentHadOne) {
  EXPECT_EQ(canon(parse_ok(R"(<a xmlns=""><b xmlns=""/></a>)"), kC14n11), "<a><b></b></a>");
  EXPECT_EQ(canon(parse_ok(R"(<a xmlns="urn:d"><b xmlns=""/></a>)"), kC14n11),
            R"(<a xmlns="urn:d"><b xmlns=""></b></a>)");
}

TEST(C14n, ExclusiveRendersOnlyVisiblyUtilizedPrefixes) {
  const Document d = parse_ok(R"(<a xmlns:u="urn:u" xmlns:p="urn:p"><p:b/></a>)");
  EXPECT_EQ(canon(d, kExc), R"(<a><p:b xmlns:p="urn:p"></p:b></a>)");
  EXPECT_EQ(canon(d, kC14n11), R"(<a xmlns:p="urn:p" xmlns:u="urn:u"><p:b></p:b></a>)");
}

TEST(C14n, ExclusivePrefixListRendersListedPrefixesInclusively) {
  const Document d = parse_ok(R"(<a xmlns="urn:d" xmlns:u="urn:u" xmlns:p="urn:p"><p:b/></a>)");
  C14nOptions o = kExc;
  o.inclusive_prefixes = {"u", "#default", "absent"};
  EXPECT_EQ(canon(d, o), R"(<a xmlns="urn:d" xmlns:u="urn:u"><p:b xmlns:p="urn:p"></p:b></a>)");
  EXPECT_EQ(canon(d, kExc), R"(<a xmlns="urn:d"><p:b xmlns:p="urn:p"></p:b></a>)");
}

TEST(C14n, TextAndAttributeEscapes) {
  const Document d = parse_ok("<a t=\"&#9;&#10;&#13;&quot;&lt;&gt;&amp;'\">&#13;\r\n\t&lt;&gt;&amp;\"'</a>");
  EXPECT_EQ(canon(d, kC14n11), "<a t=\"&#x9;&#xA;&#xD;&quot;&lt;>&amp;'\">&#xD;\n\t&lt;&gt;&amp;\"'</a>");
}

TEST(C14n, LiteralWhitespaceInAttributesIsNormalizedToSpaces) {
  // XML 1.0 section 3.3.3: literal TAB/LF/CR (after line-end normalization) become #x20.
  EXPECT_EQ(canon(parse_ok("<a t=\"1\t2\n3\r\n4\"/>"), kC14n11), "<a t=\"1 2 3 4\"></a>");
}

TEST(C14n, CommentsAndPisOutsideTheRootAreSeparatedByLineFeeds) {
  const Document d = parse_ok("<?xml version=\"1.0\"?>\n<!--a-->\n<?p?>\n<r/>\n<!--b-->\n<?q d?>\n");
  EXPECT_EQ(canon(d, kC14n11Comments), "<!--a-->\n<?p?>\n<r></r>\n<!--b-->\n<?q d?>");
  EXPECT_EQ(canon(d, kC14n11), "<?p?>\n<r></r>\n<?q d?>");
}

TEST(C14n, CdataBecomesEscapedText) {
  EXPECT_EQ(canon(parse_ok("<a><![CDATA[<&>]]></a>"), kC14n11), "<a>&lt;&amp;&gt;</a>");
}

TEST(C14n, UriForEveryVariantAndBack) {
  EXPECT_EQ(c14n_uri(kC14n11), "http://www.w3.org/2006/12/xml-c14n11");
  EXPECT_EQ(c14n_uri(kC14n11Comments), "http://www.w3.org/2006/12/xml-c14n11#WithComments");
  EXPECT_EQ(c14n_uri(kExc), "http://www.w3.org/2001/10/xml-exc-c14n#");
  EXPECT_EQ(c14n_uri(kExcComments), "http://www.w3.org/2001/10/xml-exc-c14n#WithComments");
  for (const C14nOptions& o : {kC14n11, kC14n11Comments, kExc, kExcComments}) {
    auto back = c14n_options_for_uri(c14n_uri(o));
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(back->method, o.method);
    EXPECT_EQ(back->with_comments, o.with_comments);
  }
  auto c14n10 = c14n_options_for_uri("http://www.w3.org/TR/2001/REC-xml-c14n-20010315");
  ASSERT_FALSE(c14n10.has_value());
  EXPECT_EQ(c14n10.error().code, Errc::unsupported);
}

// ---------------------------------------------------------------------------
// Subtrees: C14N 1.1 and exclusive differ in what the apex inherits
// ---------------------------------------------------------------------------

constexpr std::string_view kDs = "http://www.w3.org/2000/09/xmldsig#";

TEST(C14nSubtree, C14n11ApexCarriesAllInScopeNamespacesAndHeritableXmlAttributes) {
  const std::string xml = c14n_data("subtree.xml");
  EXPECT_EQ(subtree(xml, ElementSelector::by_id("si"), kC14n11),
            "<ds:SignedInfo xmlns=\"http://example.org/default\" xmlns:ds=\"" + std::string(kDs) +
                "\" xmlns:unused=\"http://example.org/unused\" xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\""
                " Id=\"si\" xml:lang=\"ja\" xml:space=\"preserve\">\n"
                "    <ds:Reference URI=\"#a\" xades:Type=\"t\"><ds:Transforms></ds:Transforms>plain</ds:Reference>\n"
                "  </ds:SignedInfo>");
}

TEST(C14nSubtree, ExclusiveApexCarriesOnlyVisiblyUtilizedNamespacesAndNoXmlAttributes) {
  const std::string xml = c14n_data("subtree.xml");
  EXPECT_EQ(subtree(xml, ElementSelector::by_id("si"), kExc),
            "<ds:SignedInfo xmlns:ds=\"" + std::string(kDs) +
                "\" Id=\"si\">\n"
                "    <ds:Reference xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" URI=\"#a\" xades:Type=\"t\">"
                "<ds:Transforms></ds:Transforms>plain</ds:Reference>\n"
                "  </ds:SignedInfo>");
}

TEST(C14nSubtree, ExclusivePrefixListAtTheApex) {
  C14nOptions o = kExc;
  o.inclusive_prefixes = {"#default", "unused"};
  EXPECT_EQ(subtree(c14n_data("subtree.xml"), ElementSelector::by_id("si"), o),
            "<ds:SignedInfo xmlns=\"http://example.org/default\" xmlns:ds=\"" + std::string(kDs) +
                "\" xmlns:unused=\"http://example.org/unused\" Id=\"si\">\n"
                "    <ds:Reference xmlns:xades=\"http://uri.etsi.org/01903/v1.3.2#\" URI=\"#a\" xades:Type=\"t\">"
                "<ds:Transforms></ds:Transforms>plain</ds:Reference>\n"
                "  </ds:SignedInfo>");
}

TEST(C14nSubtree, CommentsInsideTheSubtreeOnlyWithComments) {
  const std::string with = subtree(c14n_data("subtree.xml"), ElementSelector::by_id("si"), kExcComments);
  EXPECT_NE(with.find("plain<!-- c --></ds:Reference>"), std::string::npos) << with;
  const std::string without = subtree(c14n_data("subtree.xml"), ElementSelector::by_id("si"), kExc);
  EXPECT_EQ(without.find("<!--"), std::string::npos) << without;
}

TEST(C14nSubtree, ByPathInheritedDefaultNamespace) {
  const std::string xml = c14n_data("subtree.xml");
  EXPECT_EQ(subtree(xml, ElementSelector::by_path("/Signature/Object/plain"), kExc),
            R"(<plain xmlns="http://example.org/default" xmlns:p="http://example.org/p" Id="inner" p:x="1">t</plain>)");
  EXPECT_EQ(subtree(xml, ElementSelector::by_path("/Signature/Object[1]/*"), kC14n11),
            "<plain xmlns=\"http://example.org/default\" xmlns:ds=\"" + std::string(kDs) +
                "\" xmlns:p=\"http://example.org/p\" xmlns:unused=\"http://example.org/unused\" Id=\"inner\""
                " p:x=\"1\" xml:lang=\"ja\" xml:space=\"preserve\">t</plain>");
}

TEST(C14nSubtree, ApexKeepsItsOwnXmlLangAndXmlIdIsNotInherited) {
  const std::string xml = R"(<r xml:lang="ja" xml:id="r1"><e xml:lang="en" Id="e"/></r>)";
  EXPECT_EQ(subtree(xml, ElementSelector::by_id("e"), kC14n11), R"(<e Id="e" xml:lang="en"></e>)");
  EXPECT_EQ(subtree(R"(<r xml:lang="ja"><e Id="e"/></r>)", ElementSelector::by_id("e"), kC14n11),
            R"(<e Id="e" xml:lang="ja"></e>)");
}

TEST(C14nSubtree, XmlBaseOnAnAncestorIsRefused) {
  const Document d = parse_ok(R"(<r xml:base="http://a/b/"><e Id="e"/></r>)");
  auto r = canonicalize_element(d, ElementSelector::by_id("e"), kC14n11);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::unsupported);
  // Exclusive C14N does not inherit xml: attributes, so it is fine there.
  EXPECT_EQ(canonicalize_element(d, ElementSelector::by_id("e"), kExc).value_or(""), R"(<e Id="e"></e>)");
}

TEST(C14nSubtree, SelectorErrors) {
  const Document d = parse_ok(R"(<r><a Id="x"/><b Id="x"/><c xml:id="y"/></r>)");
  EXPECT_FALSE(canonicalize_element(d, ElementSelector::by_id("nope"), kC14n11).has_value());
  auto dup = canonicalize_element(d, ElementSelector::by_id("x"), kC14n11);
  ASSERT_FALSE(dup.has_value());
  EXPECT_NE(dup.error().message.find("ambiguous"), std::string::npos);
  EXPECT_EQ(canonicalize_element(d, ElementSelector::by_id("y"), kC14n11).value_or(""), R"(<c xml:id="y"></c>)");
  EXPECT_EQ(canonicalize_element(d, ElementSelector::by_path("/r/*[3]"), kC14n11).value_or(""),
            R"(<c xml:id="y"></c>)");
  EXPECT_FALSE(canonicalize_element(d, ElementSelector::by_path("/r/*[4]"), kC14n11).has_value());
  EXPECT_FALSE(canonicalize_element(d, ElementSelector::by_path("r/a"), kC14n11).has_value());
  EXPECT_FALSE(canonicalize_element(d, ElementSelector::by_path("/r/a[0]"), kC14n11).has_value());
}

TEST(C14nSubtree, InternalNodeApiMatchesPublicApi) {
  const Document d = parse_ok(c14n_data("subtree.xml"));
  auto node = detail::select(d.impl().doc, ElementSelector::by_id("obj"));
  ASSERT_TRUE(node.has_value());
  EXPECT_EQ(detail::element_namespace(*node), kDs);
  EXPECT_EQ(detail::c14n(*node, kExc).value_or("x"),
            canonicalize_element(d, ElementSelector::by_id("obj"), kExc).value_or("y"));
}

// ---------------------------------------------------------------------------
// Refused input: each a clear Error in bounded time
// ---------------------------------------------------------------------------

TEST(XmlParse, BillionLaughsDoctypeIsRefusedBeforeExpansion) {
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n";
  for (int i = 1; i <= 9; ++i) {
    xml += "<!ENTITY lol" + std::to_string(i) + " \"";
    for (int k = 0; k < 10; ++k) {
      xml += "&lol" + (i == 1 ? std::string() : std::to_string(i - 1)) + ";";
    }
    xml += "\">\n";
  }
  xml += "]>\n<lolz>&lol9;</lolz>";
  const Error e = parse_error(xml);
  EXPECT_EQ(e.code, Errc::invalid_argument);
  EXPECT_NE(e.message.find("DOCTYPE"), std::string::npos) << e.message;
}

TEST(XmlParse, ExternalEntityIsRefused) {
  const Error e = parse_error("<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>");
  EXPECT_NE(e.message.find("DOCTYPE"), std::string::npos) << e.message;
  const Error e2 = parse_error("<!DOCTYPE r SYSTEM \"http://example.org/r.dtd\"><r/>");
  EXPECT_NE(e2.message.find("DOCTYPE"), std::string::npos) << e2.message;
}

TEST(XmlParse, EntityDeclarationAndUndeclaredReferencesAreRefused) {
  EXPECT_NE(parse_error("<!ENTITY x \"y\"><r/>").message.find("ENTITY"), std::string::npos);
  EXPECT_NE(parse_error("<r>&x;</r>").message.find("undeclared entity"), std::string::npos);
  EXPECT_NE(parse_error("<r a=\"&x;\"/>").message.find("undeclared entity"), std::string::npos);
  EXPECT_TRUE(Document::parse("<r a=\"&amp;&lt;&gt;&apos;&quot;&#x3042;&#12354;\">&amp;</r>").has_value());
}

TEST(XmlParse, InvalidCharacterReferencesAreRefused) {
  EXPECT_FALSE(Document::parse("<r>&#0;</r>").has_value());
  EXPECT_FALSE(Document::parse("<r>&#x1;</r>").has_value());
  EXPECT_FALSE(Document::parse("<r>&#xD800;</r>").has_value());
  EXPECT_FALSE(Document::parse("<r>&#x110000;</r>").has_value());
  EXPECT_FALSE(Document::parse("<r>& x</r>").has_value());
  EXPECT_TRUE(Document::parse("<r>&#x10FFFF;&#9;</r>").has_value());
}

TEST(XmlParse, HundredThousandNestedElementsFailFastAtTheDepthLimit) {
  std::string xml;
  for (int i = 0; i < 100000; ++i) {
    xml += "<a>";
  }
  for (int i = 0; i < 100000; ++i) {
    xml += "</a>";
  }
  const auto start = std::chrono::steady_clock::now();
  const Error e = parse_error(xml);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_NE(e.message.find("deeper than the limit of 256"), std::string::npos) << e.message;
}

TEST(XmlParse, DepthLimitIsExact) {
  auto nested = [](int depth) {
    std::string x;
    for (int i = 0; i < depth; ++i) {
      x += "<a>";
    }
    for (int i = 0; i < depth; ++i) {
      x += "</a>";
    }
    return x;
  };
  EXPECT_TRUE(Document::parse(nested(256)).has_value());
  EXPECT_FALSE(Document::parse(nested(257)).has_value());
  EXPECT_TRUE(Document::parse(nested(3), kDefaultMaxBytes, 3).has_value());
  EXPECT_FALSE(Document::parse(nested(4), kDefaultMaxBytes, 3).has_value());
}

TEST(XmlParse, DeepTreesAreCanonicalizedWithoutRecursion) {
  // With the limit raised, 100,000 levels parse and canonicalize: the
  // canonicalizer walks iteratively (a recursive one would overflow the stack).
  std::string xml;
  for (int i = 0; i < 100000; ++i) {
    xml += "<a>";
  }
  xml += "x";
  for (int i = 0; i < 100000; ++i) {
    xml += "</a>";
  }
  auto d = Document::parse(xml, kDefaultMaxBytes, 200000);
  ASSERT_TRUE(d.has_value()) << d.error().message;
  auto c = canonicalize(*d, kExc);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(*c, xml);
}

TEST(XmlParse, InvalidUtf8IsRefused) {
  EXPECT_NE(parse_error("<r>\xC0\xAF</r>").message.find("UTF-8"), std::string::npos);      // overlong '/'
  EXPECT_NE(parse_error("<r>\x80</r>").message.find("UTF-8"), std::string::npos);          // lone continuation
  EXPECT_NE(parse_error("<r>\xED\xA0\x80</r>").message.find("UTF-8"), std::string::npos);  // surrogate
  EXPECT_NE(parse_error("<r>\xE3\x81</r>").message.find("UTF-8"), std::string::npos);      // truncated
  EXPECT_NE(parse_error("<r a=\"\xFF\"/>").message.find("UTF-8"), std::string::npos);
  EXPECT_TRUE(Document::parse("<r>\xE3\x81\x82\xF0\x9F\x8D\xA3</r>").has_value());  // あ🍣
}

TEST(XmlParse, ControlCharactersAreRefused) {
  EXPECT_FALSE(Document::parse(std::string_view("<r>\x01</r>")).has_value());
  EXPECT_FALSE(Document::parse(std::string_view("<r>\0</r>", 8)).has_value());
  EXPECT_TRUE(Document::parse("<r>\t\n\r</r>").has_value());
}

TEST(XmlParse, OversizedInputIsRefusedBeforeParsing) {
  const std::string xml = "<r>" + std::string(1000, 'x') + "</r>";
  EXPECT_EQ(parse_error(xml, xml.size() - 1).code, Errc::too_large);
  EXPECT_TRUE(Document::parse(xml, xml.size()).has_value());
}

TEST(XmlParse, OnlyUtf8Encodings) {
  EXPECT_EQ(parse_error("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>").code, Errc::unsupported);
  EXPECT_EQ(parse_error("\xFF\xFE<\0r\0/\0>\0").code, Errc::unsupported);
  EXPECT_TRUE(Document::parse("<?xml version=\"1.0\" encoding=\"utf-8\"?><r/>").has_value());
  EXPECT_TRUE(Document::parse("\xEF\xBB\xBF<r/>").has_value());
}

TEST(XmlParse, NamespaceWellFormedness) {
  EXPECT_NE(parse_error("<p:r/>").message.find("undeclared namespace prefix"), std::string::npos);
  EXPECT_NE(parse_error("<r p:a=\"1\"/>").message.find("undeclared namespace prefix"), std::string::npos);
  EXPECT_NE(parse_error("<r a=\"1\" a=\"2\"/>").message.find("duplicate"), std::string::npos);
  EXPECT_NE(parse_error(R"(<r xmlns:p="urn:x" xmlns:q="urn:x" p:a="1" q:a="2"/>)").message.find("duplicate"),
            std::string::npos);
  EXPECT_FALSE(Document::parse(R"(<r xmlns:p=""/>)").has_value());
  EXPECT_FALSE(Document::parse(R"(<r xmlns:xml="urn:other"/>)").has_value());
  EXPECT_FALSE(Document::parse(R"(<r xmlns:xmlns="urn:x"/>)").has_value());
  EXPECT_TRUE(Document::parse(R"(<p:r xmlns:p="urn:x" xmlns:q="urn:y" p:a="1" q:a="2" xml:lang="ja"/>)").has_value());
}

TEST(XmlParse, NotWellFormedIsRefused) {
  EXPECT_FALSE(Document::parse("<a><b></a></b>").has_value());
  EXPECT_FALSE(Document::parse("<a/><b/>").has_value());
  EXPECT_FALSE(Document::parse("text<a/>").has_value());
  EXPECT_FALSE(Document::parse("").has_value());
  EXPECT_FALSE(Document::parse("<a><!-- x -- y --></a>").has_value());
  EXPECT_FALSE(Document::parse("<a><!-- x ---></a>").has_value());
  EXPECT_FALSE(Document::parse("<a>").has_value());
  EXPECT_TRUE(Document::parse("<a><!----><!-- x - y --></a>").has_value());
}

// ---------------------------------------------------------------------------
// FHIR XML #document
// ---------------------------------------------------------------------------

TEST(FhirXml, DocumentFormGolden) {
  const Document d = parse_ok(c14n_data("fhir-bundle.xml"));
  auto r = fhir_xml_document(d);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, c14n_data("out/fhir-bundle.fhir-xml.txt"));
  // Root id/meta/signature and comments gone; the nested Bundle keeps its id and meta.
  EXPECT_EQ(r->find("bundle-1"), std::string::npos);
  EXPECT_EQ(r->find("AAAA"), std::string::npos);
  EXPECT_EQ(r->find("<!--"), std::string::npos);
  EXPECT_NE(r->find("<id value=\"inner\"></id><meta>"), std::string::npos);
  EXPECT_TRUE(r->starts_with("<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"document\">"));
}

TEST(FhirXml, NarrativeWhitespaceCollapsedAttributeValuesKept) {
  const Document d = parse_ok(
      "<Bundle xmlns=\"http://hl7.org/fhir\">\n  <type value=\"document\"/>\n  <x value=\"a  b\"/>"
      "<div xmlns=\"http://www.w3.org/1999/xhtml\">\n  a \t b  <b> c </b>\n</div></Bundle>");
  EXPECT_EQ(fhir_xml_document(d).value_or(""),
            "<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"document\"></type><x value=\"a  b\"></x>"
            "<div xmlns=\"http://www.w3.org/1999/xhtml\"> a b <b> c </b> </div></Bundle>");
}

TEST(FhirXml, SameBytesForDefaultAndPrefixedNamespaces) {
  const Document plain = parse_ok(
      R"(<Bundle xmlns="http://hl7.org/fhir"><type value="document"/><div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></Bundle>)");
  const Document prefixed = parse_ok(
      R"(<f:Bundle xmlns:f="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml"><f:type value="document"/><h:div><h:p>x</h:p></h:div></f:Bundle>)");
  ASSERT_TRUE(fhir_xml_document(plain).has_value());
  EXPECT_EQ(fhir_xml_document(plain).value_or("a"), fhir_xml_document(prefixed).value_or("b"));
}

TEST(FhirXml, SignedBytesChangeWithContentButNotWithIdMetaSignatureOrComments) {
  const std::string base = R"(<Bundle xmlns="http://hl7.org/fhir"><type value="document"/><entry/></Bundle>)";
  const std::string decorated =
      R"(<?xml version="1.0"?><!--c--><Bundle xmlns="http://hl7.org/fhir"><id value="1"/><meta><versionId value="2"/></meta>)"
      R"(<type value="document"/><!--c--><entry/><signature><data value="x"/></signature></Bundle>)";
  const std::string changed = R"(<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/><entry/></Bundle>)";
  const std::string a = fhir_xml_document(parse_ok(base)).value_or("a");
  EXPECT_EQ(a, fhir_xml_document(parse_ok(decorated)).value_or("b"));
  EXPECT_NE(a, fhir_xml_document(parse_ok(changed)).value_or("a"));
}

TEST(FhirXml, NotABundleIsRefused) {
  auto r = fhir_xml_document(parse_ok(R"(<Patient xmlns="http://hl7.org/fhir"/>)"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::not_a_document);
  EXPECT_FALSE(fhir_xml_document(parse_ok("<Bundle/>")).has_value());
}

TEST(FhirXml, AttributeInFhirNamespaceIsUnsupported) {
  auto r = fhir_xml_document(
      parse_ok(R"(<Bundle xmlns="http://hl7.org/fhir" xmlns:f="http://hl7.org/fhir"><type f:value="document"/></Bundle>)"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::unsupported);
}

TEST(FhirXml, IsDocumentBundle) {
  EXPECT_TRUE(is_document_bundle(parse_ok(R"(<Bundle xmlns="http://hl7.org/fhir"><type value="document"/></Bundle>)")));
  EXPECT_FALSE(
      is_document_bundle(parse_ok(R"(<Bundle xmlns="http://hl7.org/fhir"><type value="collection"/></Bundle>)")));
  EXPECT_FALSE(is_document_bundle(parse_ok(R"(<Bundle><type value="document"/></Bundle>)")));
  EXPECT_FALSE(is_document_bundle(parse_ok(R"(<Patient xmlns="http://hl7.org/fhir"><type value="document"/></Patient>)")));
}

void check_corpus_document(const fs::path& path) {
  const Document d = parse_ok(test::read_text(path));
  EXPECT_TRUE(is_document_bundle(d));
  auto r = fhir_xml_document(d);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_TRUE(r->starts_with("<Bundle xmlns=\"http://hl7.org/fhir\">"));
  EXPECT_FALSE(r->starts_with("<Bundle xmlns=\"http://hl7.org/fhir\"><id "));
  EXPECT_EQ(r->find("<!--"), std::string::npos);
  EXPECT_EQ(r->find("<?xml"), std::string::npos);
  EXPECT_EQ(r->find("xhtml:"), std::string::npos);
  // The signed bytes are their own FHIR canonical form and their own C14N 1.1.
  const Document again = parse_ok(*r);
  EXPECT_EQ(fhir_xml_document(again).value_or(""), *r);
  EXPECT_EQ(canon(again, kC14n11), *r);
  if (fs::exists("/usr/bin/xmllint")) {
    const fs::path tmp = test::temp_dir("xml-c14n") / "signed.xml";
    test::write_text(tmp, *r);
    EXPECT_EQ(run("/usr/bin/xmllint --c14n11 '" + tmp.string() + "'").value_or(""), *r);
  }
}

TEST(FhirXml, CorpusJpEprescription) {
  HANKO_CORPUS_OR_SKIP(path, "jp-eprescription-example01.xml");
  check_corpus_document(path);
}

TEST(FhirXml, CorpusIpsBundle) {
  HANKO_CORPUS_OR_SKIP(path, "ips-bundle-01.xml");
  check_corpus_document(path);
}

// ---------------------------------------------------------------------------
// hanko canonicalize (the CLI), when the binary has been built
// ---------------------------------------------------------------------------

TEST(CanonicalizeCli, XmlMethodsAndErrors) {
  const fs::path hanko = test::hanko_binary();
  if (!fs::exists(hanko)) {
    GTEST_SKIP() << "hanko binary not built";
  }
  const std::string in = test::data_file("c14n/fhir-bundle.xml").string();
  EXPECT_EQ(run("'" + hanko.string() + "' canonicalize --in '" + in + "'").value_or(""),
            c14n_data("out/fhir-bundle.fhir-xml.txt"));
  const std::string ns = test::data_file("c14n/namespaces.xml").string();
  EXPECT_EQ(run("'" + hanko.string() + "' canonicalize --method exc-c14n --with-comments --in '" + ns + "'").value_or(""),
            c14n_data("out/namespaces.exc-comments.txt"));
  const fs::path bad = test::temp_dir("xml-cli") / "bomb.xml";
  test::write_text(bad, "<!DOCTYPE r [<!ENTITY a \"b\">]><r>&a;</r>");
  const int rc = std::system(("'" + hanko.string() + "' canonicalize --in '" + bad.string() + "' 2>/dev/null").c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 3);
  const auto err = run("'" + hanko.string() + "' canonicalize --in '" + bad.string() + "' 2>&1 || true");
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(std::count(err->begin(), err->end(), '\n'), 1) << *err;
  EXPECT_NE(err->find("DOCTYPE"), std::string::npos);
}

}  // namespace
}  // namespace hanko::signer::xml
