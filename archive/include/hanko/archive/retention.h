#pragma once
/**
 * @file retention.h
 * Legal retention periods by document type (domain.md section 4): a
 * dispensed prescription 3 years (薬剤師法 §27), a medical record 5 years
 * (医師法 §24). The archive (a later issue) keeps and renews signatures
 * for this long; the values are configuration, these are the defaults.
 */
#include <chrono>
#include <optional>
#include <string_view>

namespace hanko::archive {

/** LOINC 57833-6 (prescription for medication) in the JP document type codes. */
inline constexpr std::string_view kPrescriptionTypeCode = "57833-6";

/** The default retention for a Composition.type code: 3 years for a prescription, otherwise 5 years. */
std::chrono::years default_retention(std::string_view composition_type_code);

}  // namespace hanko::archive
