#include "runtime/model/cpu_runner.hpp"

#include <utility>

#include "kernels/cpu/thread_pool.hpp"
#include "runtime/backend/cpu_backend.hpp"

namespace troupe::runtime {

result<std::unique_ptr<cpu_llama_runner>> cpu_llama_runner::create(llama_weights weights,
                                                                   int32_t num_kv_blocks,
                                                                   int32_t block_size,
                                                                   int32_t num_threads) {
  if (auto st = check(weights, num_kv_blocks, block_size); !st) return st.err();
  if (num_threads <= 0) num_threads = kernels::cpu::default_num_compute_threads();
  return std::unique_ptr<cpu_llama_runner>(
      new cpu_llama_runner(std::move(weights), num_kv_blocks, block_size, num_threads));
}

cpu_llama_runner::cpu_llama_runner(llama_weights weights, int32_t num_kv_blocks, int32_t block_size,
                                   int32_t num_threads)
    : llama_runner(std::make_unique<backend::cpu_backend>(num_threads), std::move(weights),
                   num_kv_blocks, block_size),
      num_threads_(num_threads) {}

}  // namespace troupe::runtime
