// Tests of the JSON canonicalizations (hanko/signer/canonical.h) against the
// golden files of tests/data/canonical (see its README.md).
#include "hanko/signer/canonical.h"

#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "test_support.h"

namespace hanko::signer {
namespace {

std::string golden(std::string_view name) { return test::read_text(test::data_file("canonical/" + std::string(name))); }

json::Value parse_golden(std::string_view name) {
  auto v = json::parse(golden(name));
  EXPECT_TRUE(v.has_value()) << name << ": " << (v ? "" : v.error().message);
  return v ? std::move(*v) : json::Value();
}

std::string canon(const Canonicalizer& c, const json::Value& v) {
  auto r = c.canonicalize(v);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : std::string();
}

std::string jcs_of(std::string_view text) {
  auto v = json::parse(text);
  EXPECT_TRUE(v.has_value()) << text;
  return v ? canon(jcs(), *v) : std::string();
}

/** Lines "a<TAB>b" of a data file, skipping blanks and # comments. */
std::vector<std::pair<std::string, std::string>> table(std::string_view name) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::istringstream in(golden(name));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const auto tab = line.find('\t');
    EXPECT_NE(tab, std::string::npos) << line;
    rows.emplace_back(line.substr(0, tab), line.substr(tab + 1));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Golden files
// ---------------------------------------------------------------------------

TEST(Jcs, Rfc8785Section322Example) {
  EXPECT_EQ(canon(jcs(), parse_golden("rfc8785-3.2.2.input.json")), golden("rfc8785-3.2.2.jcs.json"));
}

TEST(Jcs, Rfc8785Section323SortingExample) {
  EXPECT_EQ(canon(jcs(), parse_golden("rfc8785-3.2.3.input.json")), golden("rfc8785-3.2.3.jcs.json"));
}

TEST(Jcs, JapaneseKeysEmojiKeysAndText) {
  EXPECT_EQ(canon(jcs(), parse_golden("japanese.input.json")), golden("japanese.jcs.json"));
}

TEST(FhirJson, JapaneseKeysEmojiKeysAndText) {
  EXPECT_EQ(canon(fhir_json(), parse_golden("japanese.input.json")), golden("japanese.fhir.json"));
}

TEST(Jcs, Escapes) {
  const std::string out = canon(jcs(), parse_golden("escapes.input.json"));
  EXPECT_EQ(out, golden("escapes.jcs.json"));
  EXPECT_NE(out.find("\xE2\x80\xA8"), std::string::npos);  // U+2028 literal, not \u2028
  EXPECT_EQ(out.find("\\u2028"), std::string::npos);
  EXPECT_EQ(out.find("\\/"), std::string::npos);
}

TEST(FhirJson, EscapesSameAsJcs) {
  EXPECT_EQ(canon(fhir_json(), parse_golden("escapes.input.json")), golden("escapes.jcs.json"));
}

TEST(Canonical, NestedBundleDocumentJcs) {
  const json::Value bundle = parse_golden("nested-bundle.input.json");
  auto r = canonical_document(bundle, jcs());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, golden("nested-bundle.document.jcs.json"));
  // The nested Bundle keeps id, meta and signature; the root's are gone.
  EXPECT_NE(r->find("nested-bundle-id"), std::string::npos);
  EXPECT_NE(r->find("bmVzdGVk"), std::string::npos);
  EXPECT_EQ(r->find("root-bundle-id"), std::string::npos);
  EXPECT_EQ(r->find("cm9vdA=="), std::string::npos);
  EXPECT_EQ(r->find("lastUpdated"), std::string::npos);
}

TEST(Canonical, NestedBundleDocumentFhirJson) {
  const json::Value bundle = parse_golden("nested-bundle.input.json");
  auto r = canonical_document(bundle, fhir_json());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, golden("nested-bundle.document.fhir.json"));
  EXPECT_NE(r->find("\"value\":1.50}"), std::string::npos);
  EXPECT_NE(r->find("\"value\":21.0}"), std::string::npos);
}

TEST(Canonical, WithoutDocumentViewTheRootFieldsAreSigned) {
  // Failing twin of the document tests: canonicalize() alone keeps them.
  const json::Value bundle = parse_golden("nested-bundle.input.json");
  const std::string all = canon(jcs(), bundle);
  EXPECT_NE(all, golden("nested-bundle.document.jcs.json"));
  EXPECT_NE(all.find("root-bundle-id"), std::string::npos);
}

TEST(Jcs, Idempotent) {
  for (const char* name : {"rfc8785-3.2.2.input.json", "rfc8785-3.2.3.input.json", "japanese.input.json",
                           "escapes.input.json", "nested-bundle.input.json"}) {
    const std::string once = canon(jcs(), parse_golden(name));
    EXPECT_EQ(jcs_of(once), once) << name;
    const std::string fhir_once = canon(fhir_json(), parse_golden(name));
    auto reparsed = json::parse(fhir_once);
    ASSERT_TRUE(reparsed.has_value()) << name;
    EXPECT_EQ(canon(fhir_json(), *reparsed), fhir_once) << name;
  }
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

TEST(Jcs, NumberTable) {
  const auto rows = table("numbers.txt");
  ASSERT_GT(rows.size(), 30u);
  for (const auto& [literal, expected] : rows) {
    auto r = jcs_number(literal);
    ASSERT_TRUE(r.has_value()) << literal << ": " << r.error().message;
    EXPECT_EQ(*r, expected) << literal;
    EXPECT_EQ(jcs_of("[" + literal + "]"), "[" + expected + "]") << literal;
  }
}

TEST(Jcs, Rfc8785AppendixB) {
  const auto rows = table("rfc8785-appendix-b.txt");
  ASSERT_EQ(rows.size(), 26u);
  for (const auto& [hex, expected] : rows) {
    std::uint64_t bits = 0;
    std::from_chars(hex.data(), hex.data() + hex.size(), bits, 16);
    const double d = std::bit_cast<double>(bits);
    if (expected == "error") {
      EXPECT_FALSE(std::isfinite(d)) << hex;  // NaN and Infinity have no JSON literal at all
      continue;
    }
    // Feed the double as a 17-significant-digit literal (not its shortest
    // form), so that the test exercises the reformatting.
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific, 16);
    const std::string literal(buf, res.ptr);
    auto r = jcs_number(literal);
    ASSERT_TRUE(r.has_value()) << hex << " " << literal;
    EXPECT_EQ(*r, expected) << hex << " " << literal;
  }
}

TEST(Jcs, OverflowIsAnError) {
  for (const char* lit : {"1e400", "-1e400", "1.7976931348623159e308", "123456789e99999999999999999999"}) {
    auto r = jcs_number(lit);
    ASSERT_FALSE(r.has_value()) << lit;
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    auto v = json::parse(std::string("{\"x\":[") + lit + "]}");
    ASSERT_TRUE(v.has_value());
    EXPECT_FALSE(jcs().canonicalize(*v).has_value()) << lit;
    // FHIR canonical JSON keeps the literal; it does not read it as a double.
    EXPECT_EQ(canon(fhir_json(), *v), std::string("{\"x\":[") + lit + "]}");
  }
  // Passing twin: the largest finite double and underflow to zero.
  EXPECT_EQ(*jcs_number("1.7976931348623157e308"), "1.7976931348623157e+308");
  EXPECT_EQ(*jcs_number("1e-99999999999999999999"), "0");
}

TEST(Canonical, InvalidNumberLiteralsRefused) {
  for (const char* lit : {"", "01", "1.", ".5", "+1", "NaN", "Infinity", "1e", "0x10", "1 ", " 1", "--1"}) {
    const json::Value v(json::Array{json::Value(json::Number{lit})});
    EXPECT_FALSE(jcs().canonicalize(v).has_value()) << "[" << lit << "]";
    EXPECT_FALSE(fhir_json().canonicalize(v).has_value()) << "[" << lit << "]";
    EXPECT_FALSE(jcs_number(lit).has_value()) << "[" << lit << "]";
  }
  const json::Value ok(json::Array{json::Value(json::Number{"-0.50e+01"})});
  EXPECT_EQ(canon(jcs(), ok), "[-5]");
  EXPECT_EQ(canon(fhir_json(), ok), "[-0.50e+01]");
}

TEST(FhirJson, NumbersExactlyAsWritten) {
  auto v = json::parse(R"({"b":[1.50,-0,1E+2,9007199254740993,0.000001234e0],"a":4.50})");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(canon(fhir_json(), *v), R"({"a":4.50,"b":[1.50,-0,1E+2,9007199254740993,0.000001234e0]})");
  EXPECT_EQ(canon(jcs(), *v), R"({"a":4.5,"b":[1.5,0,100,9007199254740992,0.000001234]})");
}

// ---------------------------------------------------------------------------
// Member order
// ---------------------------------------------------------------------------

TEST(Canonical, SortsByUtf16CodeUnitsNotUtf8Bytes) {
  // U+FB33, U+E000 and U+FFFF sort before U+1F600 in UTF-8 byte order but
  // after it in UTF-16 (0xD83D 0xDE00) order, which RFC 8785 prescribes.
  const std::string text = "{\"\xEF\xAC\xB3\":1,\"\xEE\x80\x80\":2,\"\xEF\xBF\xBF\":3,\"\xF0\x9F\x98\x80\":4,\"\xED\x9F\xBF\":5}";
  const std::string expected =
      "{\"\xED\x9F\xBF\":5,\"\xF0\x9F\x98\x80\":4,\"\xEE\x80\x80\":2,\"\xEF\xAC\xB3\":1,\"\xEF\xBF\xBF\":3}";
  EXPECT_EQ(jcs_of(text), expected);
  auto v = json::parse(text);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(canon(fhir_json(), *v), expected);
}

TEST(Canonical, SortsAfterCommonPrefixAndByLength) {
  EXPECT_EQ(jcs_of("{\"a\xEF\xBF\xBF\":1,\"a\xF0\x9F\x98\x80\":2,\"ab\":3,\"a\":4,\"\":5,\"B\":6}"),
            "{\"\":5,\"B\":6,\"a\":4,\"ab\":3,\"a\xF0\x9F\x98\x80\":2,\"a\xEF\xBF\xBF\":1}");
  // Two supplementary characters sharing the high surrogate: the low one decides.
  EXPECT_EQ(jcs_of("{\"\xF0\x9F\x98\x81\":1,\"\xF0\x9F\x98\x80\":2}"),
            "{\"\xF0\x9F\x98\x80\":2,\"\xF0\x9F\x98\x81\":1}");
}

TEST(Canonical, SortsRecursivelyInsideArrays) {
  EXPECT_EQ(jcs_of(R"([{"b":1,"a":[{"d":1,"c":2}]},{"z":0,"y":0}])"),
            R"([{"a":[{"c":2,"d":1}],"b":1},{"y":0,"z":0}])");
}

TEST(Canonical, DuplicateNamesRefused) {
  json::Value v{json::Object{}};
  v.as_object().emplace_back("a", json::Value(1));
  v.as_object().emplace_back("b", json::Value(2));
  EXPECT_TRUE(jcs().canonicalize(v).has_value());
  v.as_object().emplace_back("a", json::Value(3));  // only possible when built by hand
  for (const Canonicalizer* c : {&jcs(), &fhir_json()}) {
    auto r = c->canonicalize(json::Value(json::Array{v}));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, Errc::invalid_argument);
    EXPECT_NE(r.error().message.find("duplicate"), std::string::npos);
  }
}

TEST(Canonical, InvalidUtf8Refused) {
  for (const Canonicalizer* c : {&jcs(), &fhir_json()}) {
    EXPECT_TRUE(c->canonicalize(json::Value("\xE6\x97\xA5")).has_value());
    EXPECT_FALSE(c->canonicalize(json::Value("a\xFF")).has_value());
    EXPECT_FALSE(c->canonicalize(json::Value("\xED\xA0\x80")).has_value());  // encoded surrogate
    json::Value bad_key{json::Object{}};
    bad_key.set("\xC0\xAF", json::Value(1));
    EXPECT_FALSE(c->canonicalize(bad_key).has_value());
  }
}

TEST(Canonical, NoWhitespace) {
  const std::string pretty = "{\n  \"b\" : [ 1 , 2 ] ,\n  \"a\" : { \"x\" : \"s p\" }\n}\n";
  EXPECT_EQ(jcs_of(pretty), R"({"a":{"x":"s p"},"b":[1,2]})");
  auto v = json::parse(pretty);
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(canon(fhir_json(), *v), R"({"a":{"x":"s p"},"b":[1,2]})");
}

TEST(Canonical, Scalars) {
  EXPECT_EQ(jcs_of("null"), "null");
  EXPECT_EQ(jcs_of("true"), "true");
  EXPECT_EQ(jcs_of("\"x\""), "\"x\"");
  EXPECT_EQ(jcs_of("[]"), "[]");
  EXPECT_EQ(jcs_of("{}"), "{}");
}

// ---------------------------------------------------------------------------
// document_view and lookups
// ---------------------------------------------------------------------------

TEST(Canonical, DocumentViewRemovesOnlyRootFields) {
  const json::Value bundle = parse_golden("nested-bundle.input.json");
  const json::Value view = document_view(bundle);
  EXPECT_EQ(view.find("id"), nullptr);
  EXPECT_EQ(view.find("meta"), nullptr);
  EXPECT_EQ(view.find("signature"), nullptr);
  ASSERT_NE(view.find("entry"), nullptr);
  const json::Value& nested = view.find("entry")->as_array()[1].as_object()[1].second;
  EXPECT_NE(nested.find("id"), nullptr);
  EXPECT_NE(nested.find("meta"), nullptr);
  EXPECT_NE(nested.find("signature"), nullptr);
  // The original is untouched and the other members keep their order.
  EXPECT_NE(bundle.find("id"), nullptr);
  EXPECT_EQ(view.as_object().front().first, "resourceType");
  EXPECT_EQ(view.as_object().size(), bundle.as_object().size() - 3);
}

TEST(Canonical, DocumentViewOfNonObject) {
  const json::Value arr(json::Array{json::Value(1)});
  EXPECT_TRUE(document_view(arr).is_array());
  EXPECT_EQ(*canonical_document(arr, jcs()), "[1]");
}

TEST(Canonical, Names) {
  EXPECT_EQ(jcs().name(), "jcs");
  EXPECT_EQ(fhir_json().name(), "fhir-json");
  EXPECT_EQ(jcs().target_format(), "application/fhir+json;canonicalization=urn:ietf:rfc:8785");
  EXPECT_EQ(fhir_json().target_format(),
            "application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json#document");
  EXPECT_EQ(&jcs(), &jcs());
}

TEST(Canonical, LookupByNameOrTargetFormat) {
  EXPECT_EQ(canonicalizer_by_name("jcs"), &jcs());
  EXPECT_EQ(canonicalizer_by_name("fhir-json"), &fhir_json());
  EXPECT_EQ(canonicalizer_by_name(jcs().target_format()), &jcs());
  EXPECT_EQ(canonicalizer_by_name(fhir_json().target_format()), &fhir_json());
  EXPECT_EQ(canonicalizer_by_name("JCS"), nullptr);
  EXPECT_EQ(canonicalizer_by_name("c14n"), nullptr);
  EXPECT_EQ(canonicalizer_by_name(""), nullptr);

  EXPECT_EQ(canonicalizer_for_target_format(jcs().target_format()), &jcs());
  EXPECT_EQ(canonicalizer_for_target_format(fhir_json().target_format()), &fhir_json());
  EXPECT_EQ(canonicalizer_for_target_format("jcs"), nullptr);
  EXPECT_EQ(canonicalizer_for_target_format("application/fhir+json"), nullptr);
  EXPECT_EQ(canonicalizer_for_target_format(
                "application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json"),
            nullptr);
}

// ---------------------------------------------------------------------------
// A 1 MB FHIR Bundle from the shared corpus
// ---------------------------------------------------------------------------

TEST(Canonical, OneMegabyteBundle) {
  HANKO_CORPUS_OR_SKIP(path, "synthetic/jp-eprescription-example01-1m.json");
  auto bundle = json::parse(test::read_text(path));
  ASSERT_TRUE(bundle.has_value()) << bundle.error().message;
  for (const Canonicalizer* c : {&jcs(), &fhir_json()}) {
    auto doc = canonical_document(*bundle, *c);
    ASSERT_TRUE(doc.has_value()) << c->name() << ": " << doc.error().message;
    // Only the member order and (for JCS) the number forms change: the FHIR
    // form has exactly the length of the compact serialization.
    EXPECT_GT(doc->size(), 500'000u);
    if (c == &fhir_json()) {
      EXPECT_EQ(doc->size(), json::serialize(document_view(*bundle)).size());
    }
    auto again = json::parse(*doc);
    ASSERT_TRUE(again.has_value()) << c->name();
    EXPECT_EQ(*c->canonicalize(*again), *doc) << c->name();
  }
}

}  // namespace
}  // namespace hanko::signer
