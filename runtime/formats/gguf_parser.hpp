#pragma once
// Internal to runtime/formats: fills a gguf_file from its mapped bytes. See gguf.hpp for the
// layout; gguf_file::open is the public entry.
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/result.hpp"
#include "runtime/formats/gguf.hpp"

namespace troupe::runtime {

class gguf_parser {
 public:
  // requires: `data` holds `size` readable bytes that outlive the parser.
  gguf_parser(gguf_file& file, const uint8_t* data, size_t size)
      : file_(file), data_(data), size_(size) {}

  // Parses everything, or returns the first problem found (without the file name).
  status parse();

 private:
  size_t remaining() const { return size_ - pos_; }
  template <class T>
  bool read(T& value);
  bool read_string(std::string& s);
  template <class Stored, class Widened>
  status read_scalar(gguf_value& out);
  status read_value(uint32_t type, uint32_t depth, gguf_value& out);
  status read_array(uint32_t depth, gguf_value& out);
  status read_tensor_info(uint64_t index, gguf_tensor_info& t);

  status parse_header();
  status parse_metadata();
  status parse_tensor_infos();
  status parse_alignment();
  status place_data();

  gguf_file& file_;
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t num_tensors_ = 0;
  uint64_t num_kv_ = 0;
};

}  // namespace troupe::runtime
