#include "runtime/serving/engine_builder.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <utility>

#include "runtime/model/cpu_runner.hpp"
#include "runtime/serving/model_files.hpp"

namespace troupe::runtime {
namespace {

using runner_list = std::vector<std::unique_ptr<model_runner>>;
using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

// The runners of every tensor-parallel rank. Today one CPU runner holds the whole model
// (validation lets only --tensor-parallel-size 1 through); with sharding, rank r gets shard r of
// the weights and a KV cache for its share of the heads, and --threads is divided among ranks.
result<runner_list> make_runners(llama_weights weights, const kv_cache_plan& plan,
                                 const engine_config& config) {
  auto runner = cpu_llama_runner::create(std::move(weights), plan.num_blocks, plan.block_size,
                                         config.num_compute_threads);
  if (!runner) return runner.err();
  runner_list runners;
  runners.push_back(std::move(*runner));
  return runners;
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
  auto files = load_model_files(config);
  if (!files) return files.err();
  auto plan = plan_kv_cache(config, files->weights.hparams);
  if (!plan) return plan.err();
  const int32_t model_max_len = files->weights.hparams.max_position_embeddings;
  const kv_cache_capacity kv{plan->num_blocks, plan->block_size};
  auto resolved = resolve_engine_config(config, model_max_len, kv);
  if (!resolved) return resolved.err();
  if (resolved->served_model_name.empty()) {
    resolved->served_model_name = default_served_model_name(config);
  }
  auto runners = make_runners(std::move(files->weights), *plan, config);
  if (!runners) return error{files->path + ": " + runners.message()};
  spdlog::info("loaded {} in {:.1f} s: {} KV blocks of {} tokens ({:.0f} MiB)", files->path,
               seconds_since(start), plan->num_blocks, plan->block_size,
               static_cast<double>(plan->num_bytes()) / (1 << 20));
  built_engine built = make_built(std::move(*resolved), kv, model_max_len,
                                  std::move(files->tokenizer), std::move(*runners));
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
  if (auto ok = validate_engine_config(config); !ok) return ok.err();
  auto resolved = resolve_engine_config(config, model_max_len, *kv);
  if (!resolved) return resolved.err();
  return make_built(std::move(*resolved), *kv, model_max_len, std::move(tokenizer),
                    std::move(runners));
}

}  // namespace troupe::runtime
