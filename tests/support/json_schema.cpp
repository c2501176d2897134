#include "json_schema.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <stdexcept>
#include <string_view>

#include "report_schema.h"
#include "test_support.h"

namespace hanko::test {

namespace {

/** Keywords that only annotate: they never make an instance invalid. */
const std::set<std::string, std::less<>> kAnnotations = {
    "$schema", "$id", "$defs", "$comment", "title", "description", "examples", "default", "format",
};

/** Keywords this validator implements. */
const std::set<std::string, std::less<>> kAssertions = {
    "type",     "enum",  "const",    "pattern", "minLength", "minItems", "required", "properties",
    "additionalProperties", "items", "$ref",
};

/** $ref chains and nested schemas deeper than this are reported (a $ref cycle would never end). */
constexpr int kMaxDepth = 256;

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string unescape_pointer_token(std::string_view token) {
  std::string out;
  for (std::size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out.push_back(token[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(token[i]);
    }
  }
  return out;
}

/** A short rendering of a value for messages. */
std::string brief(const json::Value& v) {
  std::string s = json::serialize(v);
  if (s.size() > 80) {
    s = s.substr(0, 77) + "...";
  }
  return s;
}

std::string_view type_name(const json::Value& v) {
  switch (v.type()) {
    case json::Type::null: return "null";
    case json::Type::boolean: return "boolean";
    case json::Type::number: return "number";
    case json::Type::string: return "string";
    case json::Type::array: return "array";
    case json::Type::object: return "object";
  }
  return "?";
}

/** Whether a number literal has no fractional part (1, -3, 2.0, 1e2). */
bool is_integer_literal(const std::string& literal) {
  if (literal.find_first_of(".eE") == std::string::npos) {
    return true;
  }
  char* end = nullptr;
  double d = std::strtod(literal.c_str(), &end);
  return end != nullptr && *end == '\0' && d == static_cast<double>(static_cast<long long>(d));
}

bool numbers_equal(const json::Number& a, const json::Number& b) {
  if (a.literal == b.literal) {
    return true;
  }
  return std::strtod(a.literal.c_str(), nullptr) == std::strtod(b.literal.c_str(), nullptr);
}

/** JSON Schema equality: same type and value; object member order does not matter. */
bool deep_equal(const json::Value& a, const json::Value& b) {
  if (a.type() != b.type()) {
    return false;
  }
  switch (a.type()) {
    case json::Type::null: return true;
    case json::Type::boolean: return a.as_bool() == b.as_bool();
    case json::Type::number: return numbers_equal(a.as_number(), b.as_number());
    case json::Type::string: return a.as_string() == b.as_string();
    case json::Type::array: {
      const auto& x = a.as_array();
      const auto& y = b.as_array();
      if (x.size() != y.size()) {
        return false;
      }
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!deep_equal(x[i], y[i])) {
          return false;
        }
      }
      return true;
    }
    case json::Type::object: {
      const auto& x = a.as_object();
      if (x.size() != b.as_object().size()) {
        return false;
      }
      for (const auto& [k, v] : x) {
        const json::Value* other = b.find(k);
        if (other == nullptr || !deep_equal(v, *other)) {
          return false;
        }
      }
      return true;
    }
  }
  return false;
}

/** Number of Unicode code points of a UTF-8 string (the json parser has already checked it is UTF-8). */
std::size_t code_points(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

/** A non-negative integer keyword value, or -1. */
long long non_negative(const json::Value& v) {
  if (!v.is_number() || v.as_number().literal.find_first_not_of("0123456789") != std::string::npos ||
      v.as_number().literal.size() > 18) {
    return -1;
  }
  return std::stoll(v.as_number().literal);
}

/** Compiled patterns, shared by every validation (tests validate many reports against one schema). */
const std::regex* compiled(const std::string& pattern, std::string& error) {
  static std::mutex mu;
  static std::map<std::string, std::regex, std::less<>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(pattern); it != cache.end()) {
    return &it->second;
  }
  try {
    return &cache.emplace(pattern, std::regex(pattern, std::regex::ECMAScript)).first->second;
  } catch (const std::regex_error& e) {
    error = e.what();
    return nullptr;
  }
}

class Validator {
 public:
  Validator(const json::Value& root, std::vector<std::string>& errors) : m_root(root), m_errors(errors) {}

  void validate(const json::Value& schema, const std::string& schema_ptr, const json::Value& inst, const std::string& ptr,
                int depth) {
    if (depth > kMaxDepth) {
      schema_error(ptr, schema_ptr, "schemas nest too deeply (a $ref cycle?)");
      return;
    }
    if (schema.is_bool()) {
      if (!schema.as_bool()) {
        fail(ptr, "no value is allowed here (schema false)");
      }
      return;
    }
    if (!schema.is_object()) {
      schema_error(ptr, schema_ptr, "a schema must be an object or a boolean");
      return;
    }
    for (const auto& [key, value] : schema.as_object()) {
      if (kAnnotations.contains(key)) {
        continue;
      }
      if (!kAssertions.contains(key)) {
        schema_error(ptr, schema_ptr, "unsupported keyword '" + key + "'");
        continue;
      }
      const std::string kw_ptr = schema_ptr + "/" + escape_pointer_token(key);
      if (key == "type") {
        check_type(value, kw_ptr, inst, ptr);
      } else if (key == "enum") {
        check_enum(value, kw_ptr, inst, ptr);
      } else if (key == "const") {
        if (!deep_equal(value, inst)) {
          fail(ptr, brief(inst) + " is not the required value " + brief(value));
        }
      } else if (key == "pattern") {
        check_pattern(value, kw_ptr, inst, ptr);
      } else if (key == "minLength") {
        long long n = non_negative(value);
        if (n < 0) {
          schema_error(ptr, kw_ptr, "minLength must be a non-negative integer");
        } else if (inst.is_string() && code_points(inst.as_string()) < static_cast<std::size_t>(n)) {
          fail(ptr, "the string " + brief(inst) + " is shorter than " + std::to_string(n) + " characters");
        }
      } else if (key == "minItems") {
        long long n = non_negative(value);
        if (n < 0) {
          schema_error(ptr, kw_ptr, "minItems must be a non-negative integer");
        } else if (inst.is_array() && inst.as_array().size() < static_cast<std::size_t>(n)) {
          fail(ptr, "the array has " + std::to_string(inst.as_array().size()) + " items, fewer than " +
                        std::to_string(n));
        }
      } else if (key == "required") {
        check_required(value, kw_ptr, inst, ptr);
      } else if (key == "properties") {
        check_properties(value, kw_ptr, inst, ptr, depth);
      } else if (key == "additionalProperties") {
        check_additional(schema, value, kw_ptr, inst, ptr, depth);
      } else if (key == "items") {
        if (!value.is_object() && !value.is_bool()) {
          schema_error(ptr, kw_ptr, "items must be one schema (the array form is prefixItems, not supported)");
        } else if (inst.is_array()) {
          const auto& a = inst.as_array();
          for (std::size_t i = 0; i < a.size(); ++i) {
            validate(value, kw_ptr, a[i], ptr + "/" + std::to_string(i), depth + 1);
          }
        }
      } else if (key == "$ref") {
        check_ref(value, kw_ptr, inst, ptr, depth);
      }
    }
  }

 private:
  void fail(const std::string& ptr, const std::string& message) {
    m_errors.push_back((ptr.empty() ? std::string("(root)") : ptr) + ": " + message);
  }
  void schema_error(const std::string& ptr, const std::string& schema_ptr, const std::string& message) {
    fail(ptr, "schema error at #" + schema_ptr + ": " + message);
  }

  void check_type(const json::Value& value, const std::string& kw_ptr, const json::Value& inst, const std::string& ptr) {
    std::vector<std::string> names;
    if (value.is_string()) {
      names.push_back(value.as_string());
    } else if (value.is_array() && !value.as_array().empty()) {
      for (const auto& n : value.as_array()) {
        if (!n.is_string()) {
          schema_error(ptr, kw_ptr, "type names must be strings");
          return;
        }
        names.push_back(n.as_string());
      }
    } else {
      schema_error(ptr, kw_ptr, "type must be a string or a non-empty array of strings");
      return;
    }
    static const std::set<std::string, std::less<>> known = {"null",   "boolean", "object", "array",
                                                             "number", "string",  "integer"};
    bool ok = false;
    std::string wanted;
    for (const auto& n : names) {
      if (!known.contains(n)) {
        schema_error(ptr, kw_ptr, "unknown type '" + n + "'");
        return;
      }
      wanted += (wanted.empty() ? "" : " or ") + n;
      if (n == type_name(inst) || (n == "integer" && inst.is_number() && is_integer_literal(inst.as_number().literal))) {
        ok = true;
      }
    }
    if (!ok) {
      fail(ptr, "expected " + wanted + ", found " + std::string(type_name(inst)) + " " + brief(inst));
    }
  }

  void check_enum(const json::Value& value, const std::string& kw_ptr, const json::Value& inst, const std::string& ptr) {
    if (!value.is_array()) {
      schema_error(ptr, kw_ptr, "enum must be an array");
      return;
    }
    for (const auto& v : value.as_array()) {
      if (deep_equal(v, inst)) {
        return;
      }
    }
    fail(ptr, brief(inst) + " is not one of the allowed values " + brief(value));
  }

  void check_pattern(const json::Value& value, const std::string& kw_ptr, const json::Value& inst,
                     const std::string& ptr) {
    if (!value.is_string()) {
      schema_error(ptr, kw_ptr, "pattern must be a string");
      return;
    }
    std::string why;
    const std::regex* re = compiled(value.as_string(), why);
    if (re == nullptr) {
      schema_error(ptr, kw_ptr, "pattern is not a valid regular expression: " + why);
      return;
    }
    if (inst.is_string() && !std::regex_search(inst.as_string(), *re)) {
      fail(ptr, "the string " + brief(inst) + " does not match the pattern " + value.as_string());
    }
  }

  void check_required(const json::Value& value, const std::string& kw_ptr, const json::Value& inst,
                      const std::string& ptr) {
    if (!value.is_array()) {
      schema_error(ptr, kw_ptr, "required must be an array");
      return;
    }
    for (const auto& name : value.as_array()) {
      if (!name.is_string()) {
        schema_error(ptr, kw_ptr, "required names must be strings");
        return;
      }
      if (inst.is_object() && inst.find(name.as_string()) == nullptr) {
        fail(ptr, "the required property \"" + name.as_string() + "\" is missing");
      }
    }
  }

  void check_properties(const json::Value& value, const std::string& kw_ptr, const json::Value& inst,
                        const std::string& ptr, int depth) {
    if (!value.is_object()) {
      schema_error(ptr, kw_ptr, "properties must be an object");
      return;
    }
    if (!inst.is_object()) {
      return;
    }
    for (const auto& [name, sub] : inst.as_object()) {
      if (const json::Value* s = value.find(name)) {
        validate(*s, kw_ptr + "/" + escape_pointer_token(name), sub, ptr + "/" + escape_pointer_token(name), depth + 1);
      }
    }
  }

  void check_additional(const json::Value& schema, const json::Value& value, const std::string& kw_ptr,
                        const json::Value& inst, const std::string& ptr, int depth) {
    if (!value.is_object() && !value.is_bool()) {
      schema_error(ptr, kw_ptr, "additionalProperties must be a schema");
      return;
    }
    if (!inst.is_object()) {
      return;
    }
    const json::Value* props = schema.find("properties");
    for (const auto& [name, sub] : inst.as_object()) {
      if (props != nullptr && props->find(name) != nullptr) {
        continue;
      }
      if (value.is_bool() && !value.as_bool()) {
        fail(ptr, "the property \"" + name + "\" is not allowed (additionalProperties false)");
      } else {
        validate(value, kw_ptr, sub, ptr + "/" + escape_pointer_token(name), depth + 1);
      }
    }
  }

  void check_ref(const json::Value& value, const std::string& kw_ptr, const json::Value& inst, const std::string& ptr,
                 int depth) {
    if (!value.is_string() || !value.as_string().starts_with("#")) {
      schema_error(ptr, kw_ptr, "only $ref to a JSON pointer in the same document (#/...) is supported");
      return;
    }
    std::string_view pointer = std::string_view(value.as_string()).substr(1);
    if (!pointer.empty() && pointer.front() != '/') {
      schema_error(ptr, kw_ptr, "$ref " + value.as_string() + " is not a JSON pointer");
      return;
    }
    const json::Value* target = &m_root;
    std::string_view rest = pointer;
    while (!rest.empty()) {
      rest.remove_prefix(1);
      std::size_t slash = rest.find('/');
      std::string token = unescape_pointer_token(rest.substr(0, slash));
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
      if (target->is_object()) {
        target = target->find(token);
      } else if (target->is_array() && !token.empty() && token.find_first_not_of("0123456789") == std::string::npos &&
                 token.size() < 10 && std::stoul(token) < target->as_array().size()) {
        target = &target->as_array()[std::stoul(token)];
      } else {
        target = nullptr;
      }
      if (target == nullptr) {
        schema_error(ptr, kw_ptr, "$ref " + value.as_string() + " does not resolve");
        return;
      }
    }
    validate(*target, std::string(pointer), inst, ptr, depth + 1);
  }

  const json::Value& m_root;
  std::vector<std::string>& m_errors;
};

}  // namespace

std::vector<std::string> validate_against_schema(const json::Value& schema, const json::Value& instance) {
  std::vector<std::string> errors;
  Validator(schema, errors).validate(schema, "", instance, "", 0);
  return errors;
}

const json::Value& report_schema() {
  static const json::Value schema = [] {
    const auto path = source_dir() / "docs" / "report-schema.json";
    auto parsed = json::parse(read_text(path));
    if (!parsed) {
      throw std::runtime_error(path.string() + " is not valid JSON: " + parsed.error().message);
    }
    return std::move(*parsed);
  }();
  return schema;
}

void expect_valid_report(const json::Value& report) {
  const auto errors = validate_against_schema(report_schema(), report);
  if (errors.empty()) {
    return;
  }
  std::string all;
  for (const auto& e : errors) {
    all += "\n  " + e;
  }
  ADD_FAILURE() << "the report violates docs/report-schema.json:" << all << "\nreport:\n" << json::serialize(report, 2);
}

}  // namespace hanko::test
