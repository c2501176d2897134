// Tests of the JSON document model (hanko/common/json.h): the RFC 8259 /
// I-JSON parser, its refusals, and the RFC 8785-escaping writer.
#include "hanko/common/json.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "test_support.h"

namespace hanko::json {
namespace {

/** Deep equality: same types, member order, number literals and strings. */
bool equal(const Value& a, const Value& b) {
  if (a.type() != b.type()) {
    return false;
  }
  switch (a.type()) {
    case Type::null:
      return true;
    case Type::boolean:
      return a.as_bool() == b.as_bool();
    case Type::number:
      return a.as_number().literal == b.as_number().literal;
    case Type::string:
      return a.as_string() == b.as_string();
    case Type::array: {
      const Array& x = a.as_array();
      const Array& y = b.as_array();
      if (x.size() != y.size()) {
        return false;
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!equal(x[i], y[i])) {
          return false;
        }
      }
      return true;
    }
    case Type::object: {
      const Object& x = a.as_object();
      const Object& y = b.as_object();
      if (x.size() != y.size()) {
        return false;
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (x[i].first != y[i].first || !equal(x[i].second, y[i].second)) {
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

Value parse_ok(std::string_view text, const ParseLimits& limits = {}) {
  auto r = parse(text, limits);
  EXPECT_TRUE(r.has_value()) << "input: " << text << "\nerror: " << (r ? "" : r.error().message);
  return r ? std::move(*r) : Value();
}

// ---------------------------------------------------------------------------
// Accepted input
// ---------------------------------------------------------------------------

TEST(JsonParse, Scalars) {
  EXPECT_TRUE(parse_ok("null").is_null());
  EXPECT_TRUE(parse_ok("true").as_bool());
  EXPECT_FALSE(parse_ok("false").as_bool());
  EXPECT_EQ(parse_ok("\"abc\"").as_string(), "abc");
  EXPECT_EQ(parse_ok("  \t\r\n 42 \n").as_number().literal, "42");
}

TEST(JsonParse, NumbersKeptAsWritten) {
  for (const char* lit : {"0", "-0", "1.50", "-0.0", "1E+2", "1e-7", "0.000001234", "9007199254740993",
                          "123456789012345678901234567890", "2.5E-3", "-1.0e0"}) {
    const Value v = parse_ok(lit);
    ASSERT_TRUE(v.is_number()) << lit;
    EXPECT_EQ(v.as_number().literal, lit);
  }
}

TEST(JsonParse, KeepsMemberOrder) {
  const Value v = parse_ok(R"({"z":1,"a":2,"m":{"y":true,"b":null}})");
  const Object& o = v.as_object();
  ASSERT_EQ(o.size(), 3u);
  EXPECT_EQ(o[0].first, "z");
  EXPECT_EQ(o[1].first, "a");
  EXPECT_EQ(o[2].first, "m");
  EXPECT_EQ(o[2].second.as_object()[0].first, "y");
  EXPECT_EQ(o[2].second.as_object()[1].first, "b");
}

TEST(JsonParse, DecodesEscapes) {
  const Value v = parse_ok(R"("\"\\\/\b\f\n\r\t\u0041\u00e9\u3042\ud83d\ude00\u0000")");
  EXPECT_EQ(v.as_string(), std::string("\"\\/\b\f\n\r\tA\xC3\xA9\xE3\x81\x82\xF0\x9F\x98\x80") + '\0');
}

TEST(JsonParse, UpperCaseHexEscapes) {
  EXPECT_EQ(parse_ok(R"("\u00E9\uD83D\uDE00")").as_string(), "\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(JsonParse, LiteralUtf8Kept) {
  const std::string text = "{\"患者\":\"山田 太郎\",\"emoji\":\"😀\",\"max\":\"\xF4\x8F\xBF\xBF\"}";
  const Value v = parse_ok(text);
  EXPECT_EQ(*v.find_string("患者"), "山田 太郎");
  EXPECT_EQ(*v.find_string("emoji"), "😀");
  EXPECT_EQ(*v.find_string("max"), "\xF4\x8F\xBF\xBF");  // U+10FFFF
}

TEST(JsonParse, EmptyContainersAndNesting) {
  const Value v = parse_ok(R"([{}, [], [[]], {"a":{}}])");
  ASSERT_EQ(v.as_array().size(), 4u);
  EXPECT_TRUE(v.as_array()[0].as_object().empty());
  EXPECT_TRUE(v.as_array()[1].as_array().empty());
}

TEST(JsonParse, SameNameInDifferentObjectsAndCases) {
  parse_ok(R"({"a":{"a":1},"b":[{"a":1},{"a":2}],"A":3})");
}

TEST(JsonParse, DepthLimitIsInclusive) {
  ParseLimits limits;
  limits.max_depth = 3;
  parse_ok("[[[1]]]", limits);
  parse_ok(R"({"a":{"b":[1]}})", limits);
  const std::string deep128 = std::string(128, '[') + std::string(128, ']');
  parse_ok(deep128);
}

TEST(JsonParse, SizeLimitIsInclusive) {
  ParseLimits limits;
  limits.max_bytes = 5;
  parse_ok("[1,2]", limits);
}

// ---------------------------------------------------------------------------
// Refused input
// ---------------------------------------------------------------------------

struct BadCase {
  std::string text;
  std::size_t offset;  ///< expected "at byte N"
  const char* why;
};

TEST(JsonParse, Refusals) {
  const std::vector<BadCase> cases = {
      {"", 0, "empty input"},
      {"   ", 3, "only whitespace"},
      {"{", 1, "unterminated object"},
      {"[1,]", 3, "trailing comma in array"},
      {R"({"a":1,})", 7, "trailing comma in object"},
      {"[1 2]", 3, "missing comma"},
      {R"({"a" 1})", 5, "missing colon"},
      {"{1:2}", 1, "non-string member name"},
      {"{'a':1}", 1, "single-quoted name"},
      {"01", 0, "leading zero"},
      {"-01", 0, "leading zero after minus"},
      {"[00]", 1, "double zero"},
      {"1.", 2, "no digit after point"},
      {".5", 0, "no integer part"},
      {"1e", 2, "no exponent digits"},
      {"1e+", 3, "no exponent digits after sign"},
      {"+1", 0, "plus sign"},
      {"-", 1, "lone minus"},
      {"NaN", 0, "NaN"},
      {"Infinity", 0, "Infinity"},
      {"-Infinity", 1, "-Infinity"},
      {"tru", 0, "truncated true"},
      {"nul", 0, "truncated null"},
      {"True", 0, "capitalised literal"},
      {"\"abc", 4, "unterminated string"},
      {std::string("\"a\x01z\""), 2, "raw control character"},
      {std::string("\"a\nz\""), 2, "raw newline"},
      {std::string("\"a\tz\""), 2, "raw tab"},
      {R"("\x")", 1, "unknown escape"},
      {R"("\u12G4")", 5, "bad hex digit"},
      {R"("\u12")", 3, "truncated \\u escape"},
      {R"("\ud800")", 1, "lone high surrogate"},
      {R"("\udc00")", 1, "lone low surrogate"},
      {R"("\ud800\u0041")", 1, "high surrogate followed by non-surrogate"},
      {R"("\ud800\ud800")", 1, "high surrogate followed by high surrogate"},
      {R"("\ud800x")", 1, "high surrogate followed by text"},
      {R"("a\udfffb")", 2, "lone low surrogate inside text"},
      {"\"\xFF\"", 1, "byte 0xFF"},
      {"\"ab\x80\"", 3, "lone continuation byte"},
      {"\"\xC0\xAF\"", 1, "overlong 2-byte form"},
      {"\"\xE0\x80\xAF\"", 1, "overlong 3-byte form"},
      {"\"\xF0\x80\x80\xAF\"", 1, "overlong 4-byte form"},
      {"\"\xED\xA0\x80\"", 1, "UTF-8 encoded surrogate"},
      {"\"\xF4\x90\x80\x80\"", 1, "above U+10FFFF"},
      {"\"\xE3\x81\"", 1, "truncated 3-byte sequence"},
      {"\"\xE3\x81", 1, "truncated sequence at end of input"},
      {"{\"\xFF\":1}", 2, "invalid UTF-8 in a member name"},
      {R"({"a":1,"a":2})", 7, "duplicate member name"},
      {R"({"a":1,"b":{"c":1,"c":1}})", 18, "nested duplicate member name"},
      {"{} x", 3, "trailing garbage"},
      {"1 2", 2, "two values"},
      {"[1]]", 3, "extra bracket"},
      {"/*c*/1", 0, "comment"},
      {"\xEF\xBB\xBF{}", 0, "byte order mark"},
      {"[1,\x0B2]", 3, "vertical tab is not JSON whitespace"},
  };
  for (const auto& c : cases) {
    const auto r = parse(c.text);
    ASSERT_FALSE(r.has_value()) << c.why;
    EXPECT_EQ(r.error().code, Errc::invalid_argument) << c.why;
    const std::string at = "at byte " + std::to_string(c.offset);
    EXPECT_TRUE(r.error().message.ends_with(at)) << c.why << ": " << r.error().message;
    EXPECT_TRUE(r.error().message.starts_with("JSON: ")) << c.why;
  }
}

TEST(JsonParse, DuplicateInLargeObject) {
  // More members than the linear check covers: the sort-based check must
  // find the repeat and report where the second one is.
  std::string text = "{";
  for (int i = 0; i < 40; ++i) {
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  const std::size_t dup_at = text.size();
  text += "\"k3\":0}";
  const auto r = parse(text);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("duplicate member name \"k3\""), std::string::npos) << r.error().message;
  EXPECT_TRUE(r.error().message.ends_with("at byte " + std::to_string(dup_at))) << r.error().message;

  // Passing twin: 18 distinct members (also past the linear check).
  parse_ok(R"({"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17})");
}

TEST(JsonParse, HugeObjectIsNotQuadratic) {
  // 200 000 members: a per-member linear duplicate scan would need 2e10
  // comparisons; the sort-based check takes milliseconds.
  std::string text = "{";
  for (int i = 0; i < 200000; ++i) {
    text += "\"member" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  }
  text.back() = '}';
  const Value v = parse_ok(text);
  EXPECT_EQ(v.as_object().size(), 200000u);
  text.insert(text.size() - 1, ",\"member199999\":1");
  const auto r = parse(text);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("duplicate member name \"member199999\""), std::string::npos);
}

TEST(JsonParse, DepthLimitRefused) {
  ParseLimits limits;
  limits.max_depth = 3;
  const auto r = parse("[[[[1]]]]", limits);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::too_large);
  EXPECT_TRUE(r.error().message.ends_with("at byte 3")) << r.error().message;

  const auto o = parse(R"({"a":{"b":{"c":{}}}})", limits);
  ASSERT_FALSE(o.has_value());
  EXPECT_EQ(o.error().code, Errc::too_large);

  const std::string deep129 = std::string(129, '[') + std::string(129, ']');
  EXPECT_FALSE(parse(deep129).has_value());
}

TEST(JsonParse, HostileDepthDoesNotCrash) {
  const std::string hostile(1'000'000, '[');
  const auto r = parse(hostile);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::too_large);
  const std::string objects = [] {
    std::string s;
    for (int i = 0; i < 100000; ++i) {
      s += "{\"a\":";
    }
    return s;
  }();
  EXPECT_FALSE(parse(objects).has_value());
}

TEST(JsonParse, SizeLimitRefused) {
  ParseLimits limits;
  limits.max_bytes = 5;
  const auto r = parse("[1, 2]", limits);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::too_large);
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

TEST(JsonSerialize, CompactRoundTripIsExact) {
  const std::string text = R"({"resourceType":"Bundle","n":[1.50,-0,1E+2,0],"s":"a\"b\\c\n","t":true,"f":false,"z":null,"e":{},"a":[]})";
  EXPECT_EQ(serialize(parse_ok(text)), text);
}

TEST(JsonSerialize, Indented) {
  const Value v = parse_ok(R"({"a":[1,{"b":"x"}],"c":{},"d":[]})");
  EXPECT_EQ(serialize(v, 2),
            "{\n"
            "  \"a\": [\n"
            "    1,\n"
            "    {\n"
            "      \"b\": \"x\"\n"
            "    }\n"
            "  ],\n"
            "  \"c\": {},\n"
            "  \"d\": []\n"
            "}");
  EXPECT_EQ(serialize(Value(Array{}), 4), "[]");
  EXPECT_EQ(serialize(Value(Array{Value(1)}), 4), "[\n    1\n]");
}

TEST(JsonSerialize, Rfc8785Escaping) {
  std::string controls;
  for (int c = 0; c < 0x20; ++c) {
    controls.push_back(static_cast<char>(c));
  }
  EXPECT_EQ(serialize(Value(controls)),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
            "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d"
            "\\u001e\\u001f\"");
  // Only '"' and '\' besides the controls; '/', DEL, U+2028/U+2029 and non-ASCII are literal.
  EXPECT_EQ(serialize(Value("\"\\/\x7F\xE2\x80\xA8\xE2\x80\xA9日本語😀")),
            "\"\\\"\\\\/\x7F\xE2\x80\xA8\xE2\x80\xA9日本語😀\"");
}

TEST(JsonSerialize, AppendQuoted) {
  std::string out = "x=";
  append_quoted(out, "a\tb");
  EXPECT_EQ(out, "x=\"a\\tb\"");
}

TEST(JsonSerialize, InvalidUtf8BecomesReplacementCharacter) {
  // Passing: valid UTF-8 is kept. Failing input: each bad byte becomes U+FFFD.
  EXPECT_EQ(serialize(Value("\xC3\xA9")), "\"\xC3\xA9\"");
  EXPECT_EQ(serialize(Value("a\xFF" "b\xED\xA0\x80")),
            "\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");
  EXPECT_TRUE(parse(serialize(Value("\xC0\xAF\xE3\x81"))).has_value());
}

TEST(JsonSerialize, ReparsesEqualWithEscapes) {
  const Value v = parse_ok(R"({"k\u0000ey":"\u0001\u001f\"\\\/\u2028😀","n":[1.50e-3]})");
  EXPECT_TRUE(equal(parse_ok(serialize(v)), v));
  EXPECT_TRUE(equal(parse_ok(serialize(v, 3)), v));
}

// ---------------------------------------------------------------------------
// Value
// ---------------------------------------------------------------------------

TEST(JsonValue, FindSetErase) {
  Value v = parse_ok(R"({"a":"x","b":1})");
  ASSERT_NE(v.find("a"), nullptr);
  EXPECT_EQ(*v.find_string("a"), "x");
  EXPECT_EQ(v.find("missing"), nullptr);
  EXPECT_EQ(v.find_string("b"), nullptr);  // present, but not a string
  v.set("a", Value(true));                 // replaces in place
  v.set("c", Value("new"));                // appends
  EXPECT_EQ(serialize(v), R"({"a":true,"b":1,"c":"new"})");
  EXPECT_TRUE(v.erase("b"));
  EXPECT_FALSE(v.erase("b"));
  EXPECT_EQ(serialize(v), R"({"a":true,"c":"new"})");
  Value* c = v.find("c");
  ASSERT_NE(c, nullptr);
  *c = Value(Number{"2.50"});
  EXPECT_EQ(serialize(v), R"({"a":true,"c":2.50})");
}

TEST(JsonValue, FindOnNonObject) {
  const Value arr = parse_ok("[1]");
  EXPECT_EQ(arr.find("a"), nullptr);
  EXPECT_EQ(arr.find_string("a"), nullptr);
  Value s("text");
  EXPECT_FALSE(s.erase("a"));
}

TEST(JsonValue, Constructors) {
  EXPECT_EQ(serialize(Value(Object{{"i", Value(-7)}, {"l", Value(1234567890123LL)}, {"n", Value()},
                                   {"sv", Value(std::string_view("v"))}})),
            R"({"i":-7,"l":1234567890123,"n":null,"sv":"v"})");
}

// ---------------------------------------------------------------------------
// A 1 MB FHIR Bundle from the shared corpus
// ---------------------------------------------------------------------------

TEST(JsonCorpus, OneMegabyteBundleRoundTrips) {
  HANKO_CORPUS_OR_SKIP(path, "synthetic/jp-eprescription-example01-1m.json");
  const std::string text = test::read_text(path);
  ASSERT_GT(text.size(), 1'000'000u);
  const Value v = parse_ok(text);
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(*v.find_string("resourceType"), "Bundle");
  const std::string compact = serialize(v);
  EXPECT_LT(compact.size(), text.size() + 1);
  EXPECT_TRUE(equal(parse_ok(compact), v));
  EXPECT_EQ(serialize(parse_ok(compact)), compact);
  EXPECT_TRUE(equal(parse_ok(serialize(v, 2)), v));
}

}  // namespace
}  // namespace hanko::json
