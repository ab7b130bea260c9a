#include "runtime/model/cpu_runner.hpp"

#include <utility>

#include "kernels/cpu/thread_pool.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/model/kv_cache.hpp"

namespace troupe::runtime {

result<std::unique_ptr<cpu_llama_runner>> cpu_llama_runner::create(
    llama_weights weights, int32_t num_kv_blocks, int32_t block_size, int32_t num_threads,
    backend::kv_cache_dtype kv_dtype, backend::cpu_activations activations, std::vector<int> cpus) {
  if (auto st = check(weights, num_kv_blocks, block_size); !st) return st.err();
  if (num_threads <= 0) num_threads = kernels::cpu::default_num_compute_threads();
  if (!cpus.empty() && cpus.size() != static_cast<size_t>(num_threads)) {
    return error{"cpus must name one CPU per compute thread"};
  }
  auto cache = kv_cache_shape_for(weights.hparams, num_kv_blocks, block_size, kv_dtype);
  set_kv_cache_scales(cache, weights);
  return std::unique_ptr<cpu_llama_runner>(
      new cpu_llama_runner(std::move(weights), cache, num_threads, activations, std::move(cpus)));
}

result<std::unique_ptr<cpu_llama_runner>> cpu_llama_runner::create_sharing(
    const cpu_llama_runner& source, int32_t num_threads, std::vector<int> cpus) {
  if (num_threads < 1) return error{"a runner needs at least one compute thread"};
  if (!cpus.empty() && cpus.size() != static_cast<size_t>(num_threads)) {
    return error{"cpus must name one CPU per compute thread"};
  }
  const auto& from = static_cast<const backend::cpu_backend&>(source.compute());
  auto compute = std::make_unique<backend::cpu_backend>(num_threads, nullptr, std::move(cpus),
                                                        from.activations());
  if (auto st = compute->share_weights_of(from); !st) return st.err();
  return std::unique_ptr<cpu_llama_runner>(
      new cpu_llama_runner(std::move(compute), source, num_threads));
}

cpu_llama_runner::cpu_llama_runner(std::unique_ptr<backend::cpu_backend> compute,
                                   const cpu_llama_runner& source, int32_t num_threads)
    : llama_runner(std::move(compute), source), num_threads_(num_threads) {}

cpu_llama_runner::cpu_llama_runner(llama_weights weights, const backend::kv_cache_shape& cache,
                                   int32_t num_threads, backend::cpu_activations activations,
                                   std::vector<int> cpus)
    : llama_runner(std::make_unique<backend::cpu_backend>(num_threads, nullptr, std::move(cpus),
                                                          activations),
                   std::move(weights), cache),
      num_threads_(num_threads) {}

}  // namespace troupe::runtime
