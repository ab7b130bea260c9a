#pragma once
// safetensors reader: one file, or a sharded checkpoint through model.safetensors.index.json.
//
// File layout (little endian):
//   u64 header_len | header: JSON object, header_len bytes | data
//   header = { "<name>": {"dtype": "F32"|"F16"|"BF16"|"I8", "shape": [d0, d1, ...],
//                         "data_offsets": [begin, end]},   (from the start of data)
//              "__metadata__": {...} (optional, ignored) }
// Shapes are row-major with the last dimension fastest, so a PyTorch Linear weight [out, in] is
// llama_weights' [out][in] layout as is.
//
// Files stay memory-mapped for the lifetime of the object; tensor views point into the mapping.
// Thread: immutable once open() returns; every method may be called concurrently.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

// i8: the int8 weights of W8A8 checkpoints (runtime/formats/compressed_tensors.hpp).
enum class safetensors_dtype { f32, f16, bf16, i8 };
const char* safetensors_dtype_name(safetensors_dtype dtype);  // "F32", "F16", "BF16", "I8"
int64_t safetensors_dtype_size(safetensors_dtype dtype);

struct safetensors_tensor {
  std::string name;
  safetensors_dtype dtype = safetensors_dtype::f32;
  std::vector<int64_t> shape;
  std::span<const uint8_t> data;  // inside the file's mapping
  int64_t num_elements() const;
  // The elements widened to f32 (F16/BF16/I8 converted exactly).
  std::vector<float> to_f32() const;
};

class safetensors_file {
 public:
  // Opens and validates `path`: header length inside the file, header JSON, every tensor's dtype
  // (F32/F16/BF16/I8, others are an error naming it), shape and offsets (inside the data, size
  // equal to shape x dtype size, no overlap). Errors name the file and the tensor.
  static result<std::shared_ptr<const safetensors_file>> open(const std::string& path);
  ~safetensors_file();
  safetensors_file(const safetensors_file&) = delete;
  safetensors_file& operator=(const safetensors_file&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, safetensors_tensor>& tensors() const { return tensors_; }
  const safetensors_tensor* find(const std::string& name) const;

 private:
  safetensors_file() = default;
  status parse();
  std::string path_;
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  std::map<std::string, safetensors_tensor> tensors_;
};

// Every tensor of a checkpoint directory: model.safetensors, or the shards listed by
// model.safetensors.index.json ("weight_map": {tensor: shard file}).
class safetensors_checkpoint {
 public:
  // Errors: neither file present, an unreadable/invalid index or shard, a tensor the index names
  // missing from its shard, a tensor present in two shards.
  static result<safetensors_checkpoint> open_dir(const std::string& dir);

  const safetensors_tensor* find(const std::string& name) const;
  size_t num_tensors() const { return index_.size(); }
  const std::vector<std::shared_ptr<const safetensors_file>>& files() const { return files_; }

 private:
  std::vector<std::shared_ptr<const safetensors_file>> files_;
  std::map<std::string, const safetensors_tensor*> index_;
};

// One tensor to write: `values` are converted to `dtype` (round to nearest even; I8 values must
// be integers in [-128, 127]).
struct safetensors_entry {
  std::string name;
  safetensors_dtype dtype = safetensors_dtype::f32;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// Writes a single-file checkpoint (tensors in the given order, 8-byte aligned header).
status write_safetensors(const std::string& path, const std::vector<safetensors_entry>& tensors);

}  // namespace troupe::runtime
