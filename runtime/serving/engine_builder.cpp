#include "runtime/serving/engine_builder.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <utility>

#include "kernels/cpu/amx_gemm.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/model/pipeline_parallel.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"
#include "runtime/serving/device_runners.hpp"
#include "runtime/serving/model_files.hpp"

namespace troupe::runtime {
namespace {

using runner_list = std::vector<std::unique_ptr<model_runner>>;
using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

std::string cpu_list(const std::vector<int>& cpus) {
  std::string s;
  for (int cpu : cpus) {
    if (!s.empty()) s += ',';
    s += std::to_string(cpu);
  }
  return s;
}

// What the CPU's bf16 weights multiply: x rounded to bf16 for an explicit --dtype bfloat16 (vLLM's
// activations; AMX tiles or full-rate AVX512-BF16 where the CPU has them; --kv-cache-dtype auto is
// then bf16 too), f32 x otherwise (auto keeps troupe's f32 activations on the CPU; where bf16
// tiles run, the log says what bfloat16 would do). `resolved`: the dtype --dtype resolved to for
// this checkpoint.
backend::cpu_activations cpu_activations_for(const engine_config& config, weight_dtype resolved) {
  const auto dtype = parse_weight_dtype(config.dtype);
  if (!dtype || *dtype != weight_dtype::bfloat16) {
    if (dtype && *dtype == weight_dtype::as_stored && resolved == weight_dtype::bfloat16 &&
        kernels::cpu::bf16_tiles_supported()) {
      spdlog::info(
          "--dtype auto: this bf16 checkpoint computes with f32 activations on the CPU; "
          "--dtype bfloat16 computes as vLLM does (bf16 activations and KV cache), with this "
          "CPU's {}",
          kernels::cpu::describe(*kernels::cpu::best_bf16_tile_engine()));
    }
    return backend::cpu_activations::f32;
  }
  const auto engine = kernels::cpu::best_bf16_tile_engine();
  spdlog::info(
      "--dtype bfloat16: bf16 weights multiply activations rounded to bf16, {}{}",
      engine ? "with " : "by panel_gemm (this CPU has neither usable AMX-BF16 tiles nor a ",
      engine ? kernels::cpu::describe(*engine) : "full-rate AVX512-BF16)");
  return backend::cpu_activations::bf16;
}

// vLLM's VLLM_PP_LAYER_PARTITION: the pipeline stages' layer counts, e.g. "10,12,10".
std::string_view layer_partition() {
  const char* env = std::getenv("VLLM_PP_LAYER_PARTITION");
  return env != nullptr ? std::string_view(env) : std::string_view();
}

// One engine's runners on `cpus` (its ranks' CPUs, rank by rank; empty: unpinned), each rank
// with threads_per_rank compute threads. `who`: the log's name for the engine ("" alone).
result<runner_list> make_engine_runners(llama_weights weights, backend::cpu_activations activations,
                                        const kv_cache_plan& plan, const engine_config& config,
                                        int32_t threads_per_rank,
                                        const std::vector<std::vector<int>>& cpus,
                                        const std::string& who) {
  runner_list runners;
  const int32_t tp = config.tensor_parallel_size, pp = config.pipeline_parallel_size;
  const int32_t ranks = tp * pp;
  auto placement = [&](int32_t r) {
    return cpus.empty() ? std::string("unpinned (too few CPUs to give each rank its own)")
                        : "pinned to CPU " + cpu_list(cpus[static_cast<size_t>(r)]);
  };
  if (ranks == 1) {
    auto runner = cpu_llama_runner::create(std::move(weights), plan.num_blocks, plan.block_size,
                                           threads_per_rank, plan.dtype, activations,
                                           cpus.empty() ? std::vector<int>{} : cpus.front());
    if (!runner) return runner.err();
    spdlog::info("{}{} compute thread(s), {}", who, threads_per_rank, placement(0));
    runners.push_back(std::move(*runner));
    return runners;
  }
  if (pp == 1) {
    auto made =
        make_tensor_parallel_runners(std::move(weights), ranks, threads_per_rank, plan.num_blocks,
                                     plan.block_size, cpus, plan.dtype, activations);
    if (!made) return made.err();
    for (int32_t r = 0; r < ranks; ++r) {
      spdlog::info("{}tensor-parallel rank {}: {} compute thread(s), {}", who, r, threads_per_rank,
                   placement(r));
    }
    for (auto& rank : *made)
      runners.push_back(std::move(rank));
    return runners;
  }
  const auto layers = pipeline_layer_ranges(weights.hparams.num_layers, pp, layer_partition());
  if (!layers) return layers.err();
  auto made =
      make_pipeline_runners(std::move(weights), {pp, tp, threads_per_rank, layer_partition()},
                            plan.num_blocks, plan.block_size, cpus, plan.dtype, activations);
  if (!made) return made.err();
  for (int32_t r = 0; r < ranks; ++r) {
    const auto [first, end] = (*layers)[static_cast<size_t>(r / tp)];
    spdlog::info(
        "{}pipeline stage {} (layers {}-{}), tensor-parallel rank {}: {} compute thread(s), {}",
        who, r / tp, first, end - 1, r % tp, threads_per_rank, placement(r));
  }
  for (auto& rank : *made)
    runners.push_back(std::move(rank));
  return runners;
}

// The runners of every rank, engine by engine (built_engine::runners' order). One rank: one CPU
// runner holds the whole model on --threads threads. N = DP x TP x PP ranks: rank r of an engine
// holds its stage's layers of shard r % TP of the weights and a KV cache for those heads and
// layers; the --threads compute threads are divided among all the ranks (at least one each) and
// pinned, rank by rank, to the CPUs this process may use, when there are enough of them.
// Engines after the first read engine 0's weights, one copy in memory (rank r's backend shares
// engine 0's rank r's: cpu_llama_runner::create_sharing, make_tensor_parallel_runners_sharing);
// with pipeline stages each engine holds its own copy (as vLLM's engines do).
result<runner_list> make_runners(llama_weights weights, backend::cpu_activations activations,
                                 const kv_cache_plan& plan, const engine_config& config) {
  const int32_t dp = config.data_parallel_size;
  const int32_t engine_ranks = config.tensor_parallel_size * config.pipeline_parallel_size;
  const int32_t world_size = dp * engine_ranks;
  if (world_size == 1) {
    auto runner = cpu_llama_runner::create(std::move(weights), plan.num_blocks, plan.block_size,
                                           config.num_compute_threads, plan.dtype, activations);
    if (!runner) return runner.err();
    runner_list runners;
    runners.push_back(std::move(*runner));
    return runners;
  }
  const int32_t total = config.num_compute_threads > 0
                            ? config.num_compute_threads
                            : kernels::cpu::default_num_compute_threads();
  const int32_t per_rank = std::max(1, total / world_size);
  if (per_rank * world_size != total) {
    spdlog::warn("--threads {} does not divide among {} ranks: {} per rank", total, world_size,
                 per_rank);
  }
  const auto cpus = plan_rank_cpus(world_size, per_rank);
  runner_list runners;
  for (int32_t d = 0; d < dp; ++d) {
    std::vector<std::vector<int>> engine_cpus;
    if (!cpus.empty()) {
      const auto first = cpus.begin() + static_cast<ptrdiff_t>(d) * engine_ranks;
      engine_cpus.assign(first, first + engine_ranks);
    }
    const std::string who = dp > 1 ? "engine " + std::to_string(d) + ": " : "";
    if (d > 0 && config.pipeline_parallel_size == 1 && engine_ranks > 1) {
      std::vector<const tensor_parallel_runner*> first;
      for (int32_t r = 0; r < engine_ranks; ++r)
        first.push_back(
            static_cast<const tensor_parallel_runner*>(runners[static_cast<size_t>(r)].get()));
      auto shared = make_tensor_parallel_runners_sharing(first, per_rank, engine_cpus);
      if (!shared) return shared.err();
      for (int32_t r = 0; r < engine_ranks; ++r) {
        spdlog::info("{}tensor-parallel rank {}: {} compute thread(s), {}, the weights engine 0's",
                     who, r, per_rank,
                     engine_cpus.empty()
                         ? std::string("unpinned")
                         : "pinned to CPU " + cpu_list(engine_cpus[static_cast<size_t>(r)]));
        runners.push_back(std::move((*shared)[static_cast<size_t>(r)]));
      }
      continue;
    }
    if (engine_ranks == 1 && d > 0) {
      const auto& first = static_cast<const cpu_llama_runner&>(*runners.front());
      auto shared = cpu_llama_runner::create_sharing(
          first, per_rank, engine_cpus.empty() ? std::vector<int>{} : engine_cpus.front());
      if (!shared) return shared.err();
      spdlog::info("{}{} compute thread(s), {}, the weights engine 0's (one copy in memory)", who,
                   per_rank,
                   engine_cpus.empty() ? std::string("unpinned")
                                       : "pinned to CPU " + cpu_list(engine_cpus.front()));
      runners.push_back(std::move(*shared));
      continue;
    }
    const bool copy = config.pipeline_parallel_size > 1 && d + 1 < dp;  // later engines need them
    auto made = make_engine_runners(copy ? weights : std::move(weights), activations, plan, config,
                                    per_rank, engine_cpus, who);
    if (!made) return made.err();
    for (auto& runner : *made)
      runners.push_back(std::move(runner));
  }
  return runners;
}

// TROUPE_CPU_OP_TIMES=N (environment, for finding where a step's time goes): every rank's backend
// logs its ops' wall-clock times every N steps (runtime/backend/op_times.hpp).
void enable_cpu_op_timing(runner_list& runners) {
  const char* env = std::getenv("TROUPE_CPU_OP_TIMES");
  const int32_t report_every = env != nullptr ? std::max(0, std::atoi(env)) : 0;
  if (report_every == 0) return;
  for (size_t r = 0; r < runners.size(); ++r) {
    backend::compute_backend* compute = nullptr;
    if (auto* one = dynamic_cast<llama_runner*>(runners[r].get())) compute = &one->compute();
    if (auto* rank = dynamic_cast<tensor_parallel_runner*>(runners[r].get()))
      compute = &rank->compute();
    if (auto* stage = dynamic_cast<pipeline_stage_runner*>(runners[r].get()))
      compute = &stage->compute();
    if (auto* cpu = dynamic_cast<backend::cpu_backend*>(compute)) {
      cpu->enable_op_timing(report_every,
                            runners.size() > 1 ? "CPU rank " + std::to_string(r) : "CPU");
    }
  }
  spdlog::info("CPU op timing on (TROUPE_CPU_OP_TIMES={}): op times logged every {} steps",
               report_every, report_every);
}

// The KV cache the runners hold; every rank must hold the same blocks.
result<kv_cache_capacity> runners_kv_cache(const runner_list& runners) {
  if (runners.empty()) return error{"an engine needs a model runner"};
  for (const auto& runner : runners) {
    if (!runner) return error{"an engine needs a model runner (got a null one)"};
  }
  const kv_cache_capacity kv{runners[0]->num_kv_blocks(), runners[0]->block_size()};
  for (const auto& runner : runners) {
    if (runner->num_kv_blocks() != kv.num_blocks || runner->block_size() != kv.block_size) {
      return error{"the model runners' KV caches differ: every rank must hold the same blocks"};
    }
  }
  return kv;
}

built_engine make_built(engine_config resolved, kv_cache_capacity kv, int32_t model_max_len,
                        std::shared_ptr<const tokenizer> tokenizer, runner_list runners) {
  built_engine built;
  // Validated: the algorithm is one parse_block_hash_algo knows.
  built.hash_algo = parse_block_hash_algo(resolved.prefix_caching_hash_algo).value();
  built.config = std::move(resolved);
  built.kv_cache = kv;
  built.model_max_len = model_max_len;
  built.tokenizer = std::move(tokenizer);
  built.runners = std::move(runners);
  return built;
}

}  // namespace

result<built_engine> build_engine(const engine_config& config) {
  if (auto ok = validate_engine_config(config); !ok) return ok.err();
  const auto start = clock::now();
  auto device = resolve_engine_device(config);
  if (!device) return device.err();
  auto files = load_model_files(config);
  if (!files) return files.err();
  if (auto split = check_tensor_parallel(files->weights.hparams, config.tensor_parallel_size);
      !split) {
    return error{files->path + ": --tensor-parallel-size " +
                 std::to_string(config.tensor_parallel_size) + ": " + split.message()};
  }
  int32_t stage_layers = 0;  // the most layers a pipeline stage holds (0: one stage)
  if (config.pipeline_parallel_size > 1) {
    if (*device == engine_device::cuda) {
      return error{"pipeline parallelism runs on the CPU only for now: --pipeline-parallel-size " +
                   std::to_string(config.pipeline_parallel_size) + " needs --device cpu"};
    }
    auto stages = pipeline_layer_ranges(files->weights.hparams.num_layers,
                                        config.pipeline_parallel_size, layer_partition());
    if (!stages) {
      return error{files->path + ": --pipeline-parallel-size " +
                   std::to_string(config.pipeline_parallel_size) + ": " + stages.message()};
    }
    for (const auto& [first, end] : *stages)
      stage_layers = std::max(stage_layers, end - first);
  }
  const auto activations = *device == engine_device::cpu ? cpu_activations_for(config, files->dtype)
                                                         : backend::cpu_activations::f32;
  auto plan = plan_kv_cache(config, files->weights.hparams,
                            auto_kv_cache_dtype(*device, files->dtype, activations), stage_layers);
  if (!plan) return plan.err();
  const int32_t model_max_len = files->weights.hparams.max_position_embeddings;
  runner_list runners;
  if (*device == engine_device::cuda) {
    // The GPU's cache is sized after a profiling step, which needs the final token budget: the
    // limits first (no cache bound yet), then the runner and its cache.
    auto limits = resolve_engine_config(config, model_max_len, {INT32_MAX, plan->block_size});
    if (!limits) return limits.err();
    auto gpu = make_cuda_runners(std::move(files->weights), *limits, *plan);
    if (!gpu) return error{files->path + ": " + gpu.message()};
    *plan = gpu->plan;
    runners = std::move(gpu->runners);
  }
  const kv_cache_capacity kv{plan->num_blocks, plan->block_size};
  auto resolved = resolve_engine_config(config, model_max_len, kv);
  if (!resolved) return resolved.err();
  if (resolved->served_model_name.empty()) {
    resolved->served_model_name = default_served_model_name(config);
  }
  if (*device == engine_device::cpu) {
    spdlog::info("CPU features usable here: {}",
                 kernels::cpu::describe(kernels::cpu::detect_cpu_features()));
    auto cpu = make_runners(std::move(files->weights), activations, *plan, config);
    if (!cpu) return error{files->path + ": " + cpu.message()};
    runners = std::move(*cpu);
    enable_cpu_op_timing(runners);
  }
  spdlog::info("loaded {} in {:.1f} s: {} KV blocks of {} tokens, {} ({:.0f} MiB{})", files->path,
               seconds_since(start), plan->num_blocks, plan->block_size,
               kv_cache_dtype_name(plan->dtype), static_cast<double>(plan->num_bytes()) / (1 << 20),
               plan->world_size > 1 ? " per rank" : "");
  built_engine built = make_built(std::move(*resolved), kv, model_max_len,
                                  std::move(files->tokenizer), std::move(runners));
  built.model_path = files->path;
  built.tokenizer_path = resolve_tokenizer_path(config);
  return built;
}

result<built_engine> assemble_engine(const engine_config& config,
                                     std::shared_ptr<const tokenizer> tokenizer,
                                     std::vector<std::unique_ptr<model_runner>> runners,
                                     int32_t model_max_len) {
  if (!tokenizer) return error{"an engine needs a tokenizer"};
  auto kv = runners_kv_cache(runners);
  if (!kv) return kv.err();
  const auto ranks = static_cast<size_t>(std::max(1, config.data_parallel_size)) *
                     static_cast<size_t>(config.tensor_parallel_size) *
                     static_cast<size_t>(std::max(1, config.pipeline_parallel_size));
  if (runners.size() != ranks) {
    return error{"--data-parallel-size " + std::to_string(config.data_parallel_size) +
                 " x --tensor-parallel-size " + std::to_string(config.tensor_parallel_size) +
                 " x --pipeline-parallel-size " + std::to_string(config.pipeline_parallel_size) +
                 " needs as many runners (got " + std::to_string(runners.size()) + ")"};
  }
  if (auto ok = validate_engine_config(config); !ok) return ok.err();
  auto resolved = resolve_engine_config(config, model_max_len, *kv);
  if (!resolved) return resolved.err();
  return make_built(std::move(*resolved), *kv, model_max_len, std::move(tokenizer),
                    std::move(runners));
}

}  // namespace troupe::runtime
