#pragma once
// Builds GGUF v3 files (v2 on request): metadata of every value type, tensors given as f32 and
// encoded to F32/F16/BF16/Q8_0/Q4_0/Q4_1, or given as already-encoded bytes. Used by tests to
// make small models and corrupt files, and by `troupe make-model`.
//
// Output layout: header | kv pairs (insertion order) | tensor infos | zero pad to alignment |
// each tensor's data, zero-padded to alignment (offsets assigned in insertion order).
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "runtime/formats/gguf.hpp"

namespace troupe::runtime {

// A metadata value together with its on-disk type (gguf_value alone widens the type away).
struct gguf_meta {
  gguf_value_type type = gguf_value_type::u8;
  gguf_value value;                                    // scalars and strings
  gguf_value_type element_type = gguf_value_type::u8;  // arrays: the type of every element
  std::vector<gguf_meta> elements;                     // arrays

  static gguf_meta u8(uint8_t v) { return {gguf_value_type::u8, {uint64_t{v}}, {}, {}}; }
  static gguf_meta i8(int8_t v) { return {gguf_value_type::i8, {int64_t{v}}, {}, {}}; }
  static gguf_meta u16(uint16_t v) { return {gguf_value_type::u16, {uint64_t{v}}, {}, {}}; }
  static gguf_meta i16(int16_t v) { return {gguf_value_type::i16, {int64_t{v}}, {}, {}}; }
  static gguf_meta u32(uint32_t v) { return {gguf_value_type::u32, {uint64_t{v}}, {}, {}}; }
  static gguf_meta i32(int32_t v) { return {gguf_value_type::i32, {int64_t{v}}, {}, {}}; }
  static gguf_meta u64(uint64_t v) { return {gguf_value_type::u64, {v}, {}, {}}; }
  static gguf_meta i64(int64_t v) { return {gguf_value_type::i64, {v}, {}, {}}; }
  static gguf_meta f32(float v) { return {gguf_value_type::f32, {double{v}}, {}, {}}; }
  static gguf_meta f64(double v) { return {gguf_value_type::f64, {v}, {}, {}}; }
  static gguf_meta boolean(bool v) { return {gguf_value_type::boolean, {v}, {}, {}}; }
  static gguf_meta string(std::string v) {
    return {gguf_value_type::string, {std::move(v)}, {}, {}};
  }
  // requires: every element has type `element_type`.
  static gguf_meta array(gguf_value_type element_type, std::vector<gguf_meta> elements) {
    return {gguf_value_type::array, {}, element_type, std::move(elements)};
  }
  static gguf_meta string_array(const std::vector<std::string>& values);
  static gguf_meta i32_array(const std::vector<int32_t>& values);
  static gguf_meta f32_array(const std::vector<float>& values);
};

class gguf_writer {
 public:
  // A non-default alignment is also recorded as general.alignment (u32).
  explicit gguf_writer(uint32_t alignment = 32);

  void set_version(uint32_t version) { version_ = version; }
  // Adds a key (or replaces its value, keeping its position).
  void set(const std::string& key, gguf_meta value);

  // Adds a tensor from f32 values (row-major, ne0 = shape[0] fastest), encoded as `type`.
  // Errors: duplicate name, values.size() != product of shape, type not encodable (quantize.hpp).
  status add_tensor(const std::string& name, std::vector<uint64_t> shape, ggml_type type,
                    std::span<const float> values);
  // Adds a tensor whose bytes are already in ggml type `type` (any id, even an invalid one, so
  // tests can write files the reader must reject). Errors only on a duplicate name.
  status add_raw_tensor(const std::string& name, std::vector<uint64_t> shape, uint32_t type,
                        std::vector<uint8_t> bytes);

  // The complete file.
  std::vector<uint8_t> to_bytes() const;
  // Writes the file; errors name the path and the OS error.
  status write(const std::string& path) const;

 private:
  struct tensor {
    std::string name;
    std::vector<uint64_t> shape;
    uint32_t type;
    std::vector<uint8_t> bytes;
  };
  std::vector<uint8_t> header_bytes() const;  // everything before the data section

  uint32_t alignment_;
  uint32_t version_ = 3;
  std::vector<std::pair<std::string, gguf_meta>> metadata_;
  std::vector<tensor> tensors_;
};

}  // namespace troupe::runtime
