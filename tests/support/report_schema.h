#pragma once
/**
 * @file report_schema.h
 * Checks a validation report (verifier::to_json) against docs/report-schema.json.
 */
#include "hanko/common/json.h"

namespace hanko::test {

/** docs/report-schema.json, parsed once (throws std::runtime_error if it is missing or not JSON). */
const json::Value& report_schema();

/** Adds a GoogleTest failure for every way `report` violates docs/report-schema.json. */
void expect_valid_report(const json::Value& report);

}  // namespace hanko::test
