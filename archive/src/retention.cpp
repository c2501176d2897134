#include "hanko/archive/retention.h"

namespace hanko::archive {

std::chrono::years default_retention(std::string_view composition_type_code) {
  if (composition_type_code == kPrescriptionTypeCode) {
    return std::chrono::years(3);
  }
  return std::chrono::years(5);
}

}  // namespace hanko::archive
