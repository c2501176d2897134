#include "test_support.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "hanko/certstore/dev_pki.h"

namespace hanko::test {
namespace fs = std::filesystem;

namespace {
struct TempRoot {
  fs::path root;
  TempRoot() {
    std::random_device rd;
    root = fs::path(HANKO_BINARY_DIR) / "test-tmp" / ("run-" + std::to_string(rd()));
    fs::create_directories(root);
  }
  ~TempRoot() {
    std::error_code ec;
    if (std::getenv("HANKO_KEEP_TEST_FILES") == nullptr) {
      fs::remove_all(root, ec);
    }
  }
};
TempRoot& temp_root() {
  static TempRoot r;
  return r;
}
}  // namespace

TimePoint pki_time() { return utc(2026, 1, 15); }
TimePoint sign_time() { return utc(2026, 1, 16, 9, 30, 0); }

fs::path temp_dir(std::string_view tag) {
  static std::mutex mu;
  static int counter = 0;
  std::lock_guard lock(mu);
  fs::path p = temp_root().root / (std::string(tag) + "-" + std::to_string(++counter));
  fs::create_directories(p);
  return p;
}

fs::path source_dir() { return fs::path(HANKO_SOURCE_DIR); }
fs::path data_file(std::string_view relative) { return source_dir() / "tests" / "data" / relative; }
fs::path hanko_binary() { return fs::path(HANKO_BINARY_DIR) / "bin" / "hanko"; }

std::optional<fs::path> corpus_file(std::string_view name) {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("HANKO_CORPUS_DIR")) {
    candidates.emplace_back(env);
  }
  candidates.push_back(source_dir().parent_path() / "shared" / "corpus");
  for (const auto& dir : candidates) {
    fs::path p = dir / name;
    if (fs::is_regular_file(p)) {
      return p;
    }
  }
  return std::nullopt;
}

const certstore::DevPki& dev_pki() {
  static std::once_flag once;
  static std::optional<certstore::DevPki> pki;
  std::call_once(once, [] {
    // CTest runs every test in its own process: the PKI (made at the pinned
    // pki_time(), so always the same validity) is generated once per build
    // tree and shared, under a file lock.
    // The folder name carries the generation of certstore's dev PKI: bump it
    // whenever generate_dev_pki() changes, so an old build tree regenerates.
    fs::path dir = fs::path(HANKO_BINARY_DIR) / "test-fixtures" / "dev-pki-v4";
    fs::create_directories(dir.parent_path());
    int fd = ::open((dir.parent_path() / "dev-pki.lock").c_str(), O_CREAT | O_RDWR, 0644);
    if (fd < 0 || ::flock(fd, LOCK_EX) != 0) {
      throw std::runtime_error("cannot lock the test dev PKI folder");
    }
    Result<certstore::DevPki> r = fail(Errc::internal, "not loaded");
    if (fs::exists(dir / "manifest.json")) {
      r = certstore::load_dev_pki(dir);
    }
    if (!r) {
      r = certstore::generate_dev_pki(dir, pki_time());
    }
    ::flock(fd, LOCK_UN);
    ::close(fd);
    if (!r) {
      throw std::runtime_error("dev PKI generation failed: " + r.error().message);
    }
    pki = std::move(*r);
  });
  return *pki;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    throw std::runtime_error("cannot read " + p.string());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_text(const fs::path& p, std::string_view text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) {
    throw std::runtime_error("cannot write " + p.string());
  }
}

}  // namespace hanko::test
