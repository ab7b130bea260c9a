#pragma once
// Helpers shared by the formats tests: temporary files that remove themselves.
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace troupe::testing {

// A file under the temp dir, unique per process and name, deleted when this goes out of scope.
class temp_file {
 public:
  explicit temp_file(const std::string& name)
      : path_((std::filesystem::temp_directory_path() /
               ("troupe_formats_" + std::to_string(::getpid()) + "_" + name))
                  .string()) {}
  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }
  temp_file(const temp_file&) = delete;
  temp_file& operator=(const temp_file&) = delete;

  const std::string& path() const { return path_; }
  void write(const std::vector<uint8_t>& bytes, size_t length) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(length));
  }
  void write(const std::vector<uint8_t>& bytes) const { write(bytes, bytes.size()); }

 private:
  std::string path_;
};

}  // namespace troupe::testing
