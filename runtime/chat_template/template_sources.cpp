// Reading a chat template from files: tokenizer_config.json and GGUF metadata. The GGUF reader
// here walks only the metadata key/values (this library does not link troupe_formats), skipping
// values it does not need, and stops at the key it wants.
#include <cstdint>
#include <fstream>
#include <sstream>

#include "runtime/chat_template/chat_template.hpp"

namespace troupe::runtime {
namespace {

class gguf_metadata_reader {
 public:
  explicit gguf_metadata_reader(std::ifstream& in) : in_(in) {}

  result<std::string> find_string(const std::string& wanted) {
    char magic[4];
    if (!read(magic, 4) || std::string(magic, 4) != "GGUF") return error{"not a GGUF file"};
    uint32_t version = 0;
    uint64_t num_tensors = 0, num_kv = 0;
    if (!pod(version) || !pod(num_tensors) || !pod(num_kv)) return error{"truncated GGUF header"};
    if (version < 2) return error{"unsupported GGUF version"};
    for (uint64_t i = 0; i < num_kv; ++i) {
      std::string key;
      uint32_t type = 0;
      if (!string(key) || !pod(type)) return error{"truncated GGUF metadata"};
      if (key == wanted) {
        std::string v;
        if (type != 8 || !string(v)) return error{"GGUF key " + wanted + " is not a string"};
        return v;
      }
      if (!skip(type, 0)) return error{"bad GGUF metadata value for " + key};
    }
    return error{"GGUF file has no " + wanted};
  }

 private:
  bool read(void* p, size_t n) {
    return static_cast<bool>(in_.read(static_cast<char*>(p), static_cast<std::streamsize>(n)));
  }
  template <class T>
  bool pod(T& v) {
    return read(&v, sizeof v);
  }
  bool string(std::string& s) {
    uint64_t n = 0;
    if (!pod(n) || n > (uint64_t{1} << 30)) return false;
    s.resize(n);
    return n == 0 || read(s.data(), n);
  }
  bool skip_bytes(uint64_t n) {
    return static_cast<bool>(in_.seekg(static_cast<std::streamoff>(n), std::ios::cur));
  }
  bool skip(uint32_t type, int depth) {
    static const uint64_t sizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type > 12 || depth > 2) return false;
    if (type == 8) {
      uint64_t n = 0;
      return pod(n) && skip_bytes(n);
    }
    if (type == 9) {
      uint32_t elem = 0;
      uint64_t n = 0;
      if (!pod(elem) || !pod(n)) return false;
      if (elem != 8 && elem != 9 && elem <= 12) return skip_bytes(n * sizes[elem]);
      for (uint64_t i = 0; i < n; ++i) {
        if (!skip(elem, depth + 1)) return false;
      }
      return true;
    }
    return skip_bytes(sizes[type]);
  }

  std::ifstream& in_;
};

}  // namespace

result<std::string> chat_template_from_tokenizer_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot open " + path};
  std::stringstream ss;
  ss << in.rdbuf();
  return chat_template_from_tokenizer_config(ss.str());
}

result<std::string> chat_template_from_gguf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot open " + path};
  return gguf_metadata_reader(in).find_string("tokenizer.chat_template");
}

}  // namespace troupe::runtime
