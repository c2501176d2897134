#pragma once
/**
 * @file json_schema.h
 * A small JSON Schema (draft 2020-12) validator over hanko::json::Value, for
 * tests. It implements the keywords docs/report-schema.json uses and no more:
 *
 * - assertions: type (a name or an array of names; "integer" is a number
 *   with no fractional part), enum, const, pattern (ECMAScript regex via
 *   std::regex, unanchored as the spec says: "a string instance is
 *   considered valid if the regular expression matches the instance
 *   successfully"), minLength (in Unicode code points), minItems, required;
 * - applicators: properties, additionalProperties (a schema, true or
 *   false), items (one schema for every element), $ref to a JSON pointer
 *   inside the same document ("#/$defs/name");
 * - annotations, ignored: $schema, $id, $defs, $comment, title, description,
 *   examples, default, format (an annotation by default in 2020-12).
 *
 * Any other keyword, a $ref that does not resolve, or a malformed keyword
 * value is reported as an error rather than silently ignored, so a schema
 * never seems to pass because the validator skipped part of it.
 */
#include <string>
#include <vector>

#include "hanko/common/json.h"

namespace hanko::test {

/**
 * Validates `instance` against `schema`. Returns every violation found
 * (empty = valid); each message starts with the JSON pointer (RFC 6901) of
 * the offending instance location, e.g.
 * `/signatures/0/indication: "PASSED" is not one of the allowed values`,
 * with "" written as `(root)`.
 */
std::vector<std::string> validate_against_schema(const json::Value& schema, const json::Value& instance);

}  // namespace hanko::test
