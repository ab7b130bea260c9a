#include "runtime/default_model.hpp"

#include <cstdlib>

namespace troupe::runtime {

std::string model_cache_dir() {
  if (const char* dir = std::getenv("TROUPE_MODEL_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/troupe/models";
}

std::string default_model_path() {
  return model_cache_dir() + "/" + default_model_file;
}

}  // namespace troupe::runtime
