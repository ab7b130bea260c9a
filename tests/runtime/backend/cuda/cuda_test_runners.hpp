#pragma once
// Runners over the CUDA backend (and the CPU's, for references) for the `gpu` tests of this
// folder: 16 KV blocks of 4 tokens each.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "kernels/cuda/device.hpp"
#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/model/llama_runner.hpp"

namespace troupe::testing {

inline constexpr int32_t runner_blocks = 16, runner_block_size = 4;

inline bool have_gpu() {
  return kernels::cuda::cuda_device_count() > 0;
}

inline std::unique_ptr<runtime::llama_runner> make_runner(
    std::unique_ptr<backend::compute_backend> b, runtime::llama_weights w,
    backend::kv_cache_dtype dtype) {
  auto r = runtime::llama_runner::create(std::move(b), std::move(w), runner_blocks,
                                         runner_block_size, dtype);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return r.ok() ? std::move(r).value() : nullptr;
}

// A runner over a new CUDA backend with graphs of up to max_rows rows (f32 KV cache); `backend`
// borrows that backend. Null (a test failure) when the backend cannot be made.
inline std::unique_ptr<runtime::llama_runner> make_graph_runner(const runtime::llama_weights& w,
                                                                int32_t max_rows,
                                                                backend::cuda_backend*& backend) {
  auto created = backend::cuda_backend::create(0);
  EXPECT_TRUE(created.ok()) << created.message();
  if (!created.ok()) return nullptr;
  backend = created->get();
  backend->enable_graphs(max_rows);
  return make_runner(std::move(*created), w, backend::kv_cache_dtype::f32);
}

inline int32_t argmax(const std::vector<float>& v, size_t begin, size_t n) {
  return static_cast<int32_t>(std::max_element(v.begin() + static_cast<std::ptrdiff_t>(begin),
                                               v.begin() + static_cast<std::ptrdiff_t>(begin + n)) -
                              v.begin() - static_cast<std::ptrdiff_t>(begin));
}

}  // namespace troupe::testing
