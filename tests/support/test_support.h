#pragma once
/**
 * Shared test helpers. Tests pin time: the dev PKI of the test process is made
 * at kPkiTime, and validation happens at fixed points after it.
 */
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "hanko/common/clock.h"

namespace hanko::certstore {
struct DevPki;
}

namespace hanko::test {

/** The pinned time at which the test dev PKI is created: 2026-01-15T00:00:00Z. */
TimePoint pki_time();
/** A pinned signing time one day after pki_time(). */
TimePoint sign_time();

/** A fresh, empty folder under the build tree; removed at process exit. */
std::filesystem::path temp_dir(std::string_view tag);

/** The project's source folder (for tests/data and examples). */
std::filesystem::path source_dir();
/** A file under tests/data. */
std::filesystem::path data_file(std::string_view relative);
/** The hanko binary built next to the tests. */
std::filesystem::path hanko_binary();

/**
 * A file of ../shared/corpus (the team's shared test corpus), or nullopt
 * when the corpus is absent (a user's clone): use HANKO_CORPUS_OR_SKIP.
 */
std::optional<std::filesystem::path> corpus_file(std::string_view name);

/** The development PKI for this test process, generated once at pki_time(). */
const certstore::DevPki& dev_pki();

std::string read_text(const std::filesystem::path& p);
void write_text(const std::filesystem::path& p, std::string_view text);

}  // namespace hanko::test

#define HANKO_CORPUS_OR_SKIP(var, name)                                  \
  const auto var##_opt = ::hanko::test::corpus_file(name);               \
  if (!var##_opt) {                                                      \
    GTEST_SKIP() << "shared corpus not present: " << (name);             \
  }                                                                      \
  const std::filesystem::path var = *var##_opt
