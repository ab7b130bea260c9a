#pragma once
// The CPU Llama runner: llama_runner over a backend::cpu_backend (kernels/cpu and a pool of
// compute threads). Weights stay f32 in host memory, adopted by the backend without a copy; the
// paged KV cache is host memory too (f32; bf16 / f16 words with --kv-cache-dtype bfloat16 /
// float16; fp8 codes with fp8*).
//
// Thread: one thread at a time calls execute()/forward_logits() (the executor actor's).
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/model/llama_checks.hpp"
#include "runtime/model/llama_runner.hpp"
#include "runtime/model/llama_weights.hpp"

namespace troupe::runtime {

class cpu_llama_runner : public llama_runner {
 public:
  // llama_runner::create on a new cpu_backend of num_threads compute threads, which allocates
  // num_kv_blocks * kv_bytes_per_block(hparams, block_size, kv_dtype) bytes of cache.
  // num_threads <= 0 means kernels::cpu::default_num_compute_threads(). `activations`: what bf16
  // weights multiply (backend::cpu_activations). `cpus`, one per thread when given, pins them
  // (backend::cpu_backend); empty: unpinned.
  static result<std::unique_ptr<cpu_llama_runner>> create(
      llama_weights weights, int32_t num_kv_blocks, int32_t block_size, int32_t num_threads = 0,
      backend::kv_cache_dtype kv_dtype = backend::kv_cache_dtype::f32,
      backend::cpu_activations activations = backend::cpu_activations::f32,
      std::vector<int> cpus = {});

  // A runner on a new cpu_backend of num_threads threads (pinned to `cpus`, one per thread,
  // when given) that reads `source`'s weights, the same memory (data-parallel engines on one
  // machine hold one copy of the model), with a KV cache of source's shape of its own. Neither
  // runner's backend takes a weight afterwards. Errors: num_threads < 1, a cpus list of another
  // size, or a source that cannot share (cpu_backend::share_weights_of).
  static result<std::unique_ptr<cpu_llama_runner>> create_sharing(const cpu_llama_runner& source,
                                                                  int32_t num_threads,
                                                                  std::vector<int> cpus = {});

  int32_t num_threads() const { return num_threads_; }

 private:
  cpu_llama_runner(std::unique_ptr<backend::cpu_backend> compute, const cpu_llama_runner& source,
                   int32_t num_threads);
  cpu_llama_runner(llama_weights weights, const backend::kv_cache_shape& cache, int32_t num_threads,
                   backend::cpu_activations activations, std::vector<int> cpus);

  int32_t num_threads_;
};

}  // namespace troupe::runtime
