#pragma once
/**
 * @file json.h
 * A small JSON document model for FHIR resources. Unlike Poco::JSON it keeps
 * what canonicalization needs: object members in the order written, number
 * literals exactly as written (FHIR R4 canonical JSON keeps them; JCS
 * reformats them), and it refuses duplicate member names, invalid UTF-8 and
 * lone surrogates (I-JSON, RFC 7493), with a depth limit so that hostile
 * input is parsed in bounded time and memory.
 */
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "hanko/common/error.h"

namespace hanko::json {

class Value;
using Array = std::vector<Value>;
using Member = std::pair<std::string, Value>;
/** Members in document order. */
using Object = std::vector<Member>;

enum class Type { null, boolean, number, string, array, object };

/** A number kept as its literal text (RFC 8259 grammar, already validated). */
struct Number {
  std::string literal;
};

class Value {
 public:
  Value() = default;  ///< null
  Value(std::nullptr_t) {}
  Value(bool b) : m_v(b) {}
  Value(const char* s) : m_v(std::string(s)) {}
  Value(std::string s) : m_v(std::move(s)) {}
  Value(std::string_view s) : m_v(std::string(s)) {}
  Value(Number n) : m_v(std::move(n)) {}
  Value(int n) : m_v(Number{std::to_string(n)}) {}
  Value(long long n) : m_v(Number{std::to_string(n)}) {}
  Value(Array a) : m_v(std::move(a)) {}
  Value(Object o) : m_v(std::move(o)) {}

  Type type() const { return static_cast<Type>(m_v.index()); }
  bool is_null() const { return type() == Type::null; }
  bool is_bool() const { return type() == Type::boolean; }
  bool is_number() const { return type() == Type::number; }
  bool is_string() const { return type() == Type::string; }
  bool is_array() const { return type() == Type::array; }
  bool is_object() const { return type() == Type::object; }

  /** Accessors; calling the wrong one is a programming error (std::bad_variant_access). */
  bool as_bool() const { return std::get<bool>(m_v); }
  const std::string& as_string() const { return std::get<std::string>(m_v); }
  const Number& as_number() const { return std::get<Number>(m_v); }
  const Array& as_array() const { return std::get<Array>(m_v); }
  Array& as_array() { return std::get<Array>(m_v); }
  const Object& as_object() const { return std::get<Object>(m_v); }
  Object& as_object() { return std::get<Object>(m_v); }

  /** Member lookup on an object; nullptr when absent or when this is not an object. */
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  /** The string member `key`, or nullptr when absent or not a string. */
  const std::string* find_string(std::string_view key) const;
  /** Replaces the member `key` or appends it at the end. This must be an object. */
  Value& set(std::string key, Value v);
  /** Removes the member `key`; returns whether it was there. */
  bool erase(std::string_view key);

 private:
  std::variant<std::nullptr_t, bool, Number, std::string, Array, Object> m_v{nullptr};
};

struct ParseLimits {
  std::size_t max_depth = 128;              ///< nesting of arrays and objects
  std::size_t max_bytes = 64u << 20;        ///< input size
};

/** Parses one JSON text (RFC 8259, I-JSON rules); errors say where (byte offset). */
Result<Value> parse(std::string_view text, const ParseLimits& limits = {});

/**
 * Writes JSON: members in stored order, numbers as their literal, strings with
 * the minimal RFC 8785 escaping (so the output is valid UTF-8 JSON). `indent` 0
 * is compact; >0 pretty-prints with that many spaces.
 */
std::string serialize(const Value& v, int indent = 0);

/** Appends `s` as a JSON string literal with RFC 8785 escaping. */
void append_quoted(std::string& out, std::string_view s);

}  // namespace hanko::json
