#pragma once
// GGUF v3 reader: metadata key/values and tensor descriptors, with tensor data memory-mapped.
//
// File layout (little endian):
//   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv | kv pairs | tensor infos | pad |
//   tensor data (each tensor at `offset` from the data start, aligned to general.alignment = 32)
//
// The file stays mapped for the lifetime of the gguf_file; tensor_data() views point into it.
// Thread: a gguf_file is immutable once open() returns; every method may be called concurrently.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

// ggml tensor types (values as stored in the file).
enum class ggml_type : uint32_t {
  f32 = 0,
  f16 = 1,
  q4_0 = 2,
  q4_1 = 3,
  q5_0 = 6,
  q5_1 = 7,
  q8_0 = 8,
  q8_1 = 9,
  q2_k = 10,
  q3_k = 11,
  q4_k = 12,
  q5_k = 13,
  q6_k = 14,
  q8_k = 15,
  bf16 = 30,
};
std::string ggml_type_name(uint32_t type);

// Metadata value types as stored in the file. The reader widens them into gguf_value (every
// unsigned integer to uint64_t, signed to int64_t, f32/f64 to double); metadata_type() still tells
// the stored type of a top-level key.
enum class gguf_value_type : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

// One metadata value. Arrays hold elements of a single type.
struct gguf_value;
using gguf_array = std::vector<gguf_value>;
struct gguf_value {
  std::variant<uint64_t, int64_t, double, bool, std::string, gguf_array> v;
};

struct gguf_tensor_info {
  std::string name;
  std::vector<uint64_t> shape;  // ne[0] (fastest varying) first, as ggml writes it
  uint32_t type = 0;            // ggml_type value
  uint64_t offset = 0;          // from the start of the data section
  uint64_t num_bytes = 0;       // size of the data, from shape and type (set by open)
  uint64_t num_elements() const;
};

class gguf_parser;

class gguf_file {
 public:
  // Opens and validates `path`: magic, version (2 or 3), every count and string length against
  // the file size, tensor offsets/sizes inside the data section. Errors name the file and what
  // is wrong ("truncated in tensor info 12", "unsupported tensor type 16 for 'x'", ...).
  static result<std::shared_ptr<const gguf_file>> open(const std::string& path);
  ~gguf_file();
  gguf_file(const gguf_file&) = delete;
  gguf_file& operator=(const gguf_file&) = delete;

  uint32_t version() const { return version_; }
  const std::string& path() const { return path_; }
  uint32_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }  // file offset of the data section
  const std::map<std::string, gguf_value>& metadata() const { return metadata_; }
  const std::vector<gguf_tensor_info>& tensors() const { return tensors_; }

  // Typed metadata lookups; nullopt when the key is absent or has another type. Integer getters
  // accept any integer type that fits.
  const gguf_value* find(const std::string& key) const;
  std::optional<gguf_value_type> metadata_type(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<int64_t> get_int(const std::string& key) const;
  std::optional<double> get_float(const std::string& key) const;  // also accepts integers
  std::optional<bool> get_bool(const std::string& key) const;
  std::optional<std::vector<std::string>> get_string_array(const std::string& key) const;
  std::optional<std::vector<int64_t>> get_int_array(const std::string& key) const;
  std::optional<std::vector<double>> get_float_array(const std::string& key) const;

  const gguf_tensor_info* find_tensor(const std::string& name) const;
  // The raw (possibly quantized) bytes of a tensor, inside the mapping; empty for a tensor info
  // that does not describe this file's data.
  std::span<const uint8_t> tensor_data(const gguf_tensor_info& t) const;
  // Dequantizes a tensor to f32 (row-major, ne0 fastest). Errors on unsupported types.
  result<std::vector<float>> dequantize(const gguf_tensor_info& t) const;

 private:
  gguf_file() = default;
  friend class gguf_parser;
  std::string path_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  std::map<std::string, gguf_value> metadata_;
  std::map<std::string, gguf_value_type> metadata_types_;
  std::vector<gguf_tensor_info> tensors_;
  std::map<std::string, size_t> tensor_index_;  // name -> index in tensors_
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  size_t data_offset_ = 0;
};

}  // namespace troupe::runtime
