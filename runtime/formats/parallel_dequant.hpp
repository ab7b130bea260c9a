#pragma once
// Dequantizing many tensors of one file at once, split into block-aligned chunks shared by a few
// worker threads (a model's tensors range from a few KB to tens of MB, so per-tensor work items
// would balance badly).
#include <span>
#include <vector>

#include "base/result.hpp"
#include "runtime/formats/gguf.hpp"

namespace troupe::runtime {

struct dequant_job {
  const gguf_tensor_info* tensor;  // of `file` below
  std::vector<float>* out;         // resized to the tensor's element count
};

// Dequantizes every job. `num_threads` workers (0 = one per core, capped at 8).
// Errors: the first failing job in `jobs` order (unsupported type, ...); outputs are then
// unspecified.
// thread: the outputs must be distinct and not touched by others until this returns.
status dequantize_all(const gguf_file& file, std::span<const dequant_job> jobs,
                      unsigned num_threads);

}  // namespace troupe::runtime
