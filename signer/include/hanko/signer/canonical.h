#pragma once
/**
 * @file canonical.h
 * The JSON canonicalizations that turn a FHIR JSON resource into the bytes
 * that are signed: RFC 8785 (JCS) and FHIR R4 canonical JSON.
 *
 * Both refuse input that has no canonical form rather than sign something
 * else than what the caller holds: strings that are not UTF-8, duplicate
 * member names, number literals outside the RFC 8259 grammar, and (JCS
 * only) numbers that overflow an IEEE 754 double.
 */
#include <string>
#include <string_view>

#include "hanko/common/error.h"
#include "hanko/common/json.h"

namespace hanko::signer {

/** Turns a FHIR JSON resource into the bytes that are signed. */
class Canonicalizer {
 public:
  virtual ~Canonicalizer() = default;
  /** The canonical UTF-8 bytes of `v`, or Errc::invalid_argument when `v` has no canonical form. */
  virtual Result<std::string> canonicalize(const json::Value& v) const = 0;
  /** The targetFormat recorded in Bundle.signature. */
  virtual std::string_view target_format() const = 0;
  /** Short name: "jcs" or "fhir-json". */
  virtual std::string_view name() const = 0;
};

/**
 * RFC 8785 JSON Canonicalization Scheme. targetFormat
 * `application/fhir+json;canonicalization=urn:ietf:rfc:8785`.
 *
 * RFC 8785 section 3.2.3: "JSON object properties MUST be sorted recursively
 * ... the sorting process is applied to property name strings in their 'raw'
 * (unescaped) form ... formatted as arrays of UTF-16 code units."
 * Section 3.2.2.3: numbers "MUST be serialized according to the ECMAScript
 * Number.prototype.toString() algorithm"; so `1.50` becomes `1.5`, `1e23`
 * becomes `1e+23`, and integers above 2^53 are rounded to a double.
 */
class JcsCanonicalizer final : public Canonicalizer {
 public:
  Result<std::string> canonicalize(const json::Value& v) const override;
  std::string_view target_format() const override;
  std::string_view name() const override;
};

/**
 * FHIR R4 canonical JSON (http://hl7.org/fhir/canonicalization/json):
 * properties sorted, numbers exactly as written, no whitespace. targetFormat
 * `application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json#document`.
 *
 * R4 says "properties sorted alphabetically" without naming the collation;
 * hanko uses the JCS order (UTF-16 code units), which is byte order for the
 * ASCII names FHIR defines. Strings are written with the RFC 8785 escaping.
 */
class FhirJsonCanonicalizer final : public Canonicalizer {
 public:
  Result<std::string> canonicalize(const json::Value& v) const override;
  std::string_view target_format() const override;
  std::string_view name() const override;
};

/** The stateless JCS canonicalizer. */
const Canonicalizer& jcs();
/** The stateless FHIR R4 canonical JSON canonicalizer. */
const Canonicalizer& fhir_json();

/** By name ("jcs", "fhir-json") or by targetFormat string; nullptr if unknown. */
const Canonicalizer* canonicalizer_by_name(std::string_view name);
/** By the exact targetFormat string of Bundle.signature; nullptr if unknown. */
const Canonicalizer* canonicalizer_for_target_format(std::string_view target_format);

/**
 * The #document form: a copy of the Bundle with the root id, meta and
 * signature removed (only at the root; nested Bundles keep theirs).
 *
 * FHIR R4 json.html#canonical, `#document`: everything "except Bundle.id and
 * Bundle.metadata" (i.e. Bundle.meta). Bundle.signature goes too: a detached
 * signature cannot cover itself. A value that is not an object is returned
 * unchanged.
 */
json::Value document_view(const json::Value& bundle);

/** document_view + canonicalize. */
Result<std::string> canonical_document(const json::Value& bundle, const Canonicalizer& c);

/**
 * Formats a JSON number literal as ECMAScript Number.prototype.toString()
 * does for the nearest IEEE 754 double (RFC 8785 section 3.2.2.3). `-0`
 * gives "0"; literals that round to infinity are refused. Exposed for tests.
 */
Result<std::string> jcs_number(std::string_view literal);

}  // namespace hanko::signer
