#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "hanko/common/error.h"

namespace hanko {

/** Reads a whole file; fails with Errc::too_large past `max_bytes`. */
Result<std::string> read_file(const std::string& path, std::size_t max_bytes = 256u << 20);
/** Writes a file atomically (temporary file in the same folder, then rename). */
Result<void> write_file(const std::string& path, std::string_view content);

}  // namespace hanko
