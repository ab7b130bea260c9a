#include "tests/support/testdata.hpp"

#include <filesystem>

#include "runtime/default_model.hpp"

namespace troupe::testing {

std::string source_dir() {
  return TROUPE_SOURCE_DIR;
}

std::string repo_testdata(const std::string& relative) {
  return source_dir() + "/tests/data/" + relative;
}

std::string shared_testdata(const std::string& relative) {
  std::string path = std::string(TROUPE_SHARED_TESTDATA) + "/" + relative;
  return std::filesystem::exists(path) ? path : std::string();
}

std::string default_model_gguf() {
  std::string path = runtime::default_model_path();
  return std::filesystem::exists(path) ? path : std::string();
}

}  // namespace troupe::testing
