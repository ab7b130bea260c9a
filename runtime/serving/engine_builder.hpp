#pragma once
// The engine builder: from one engine_config to everything an engine runs on, in the runtime
// layer, so the CLI only parses flags and calls it and the actor system only starts what it is
// handed (vLLM's EngineCore setup vs its API server).
//
//   engine_config ──build_engine──▶ built_engine ──actors::start_engine──▶ running engine
//                   validate_engine_config          (config resolved: max_model_len, budget)
//                   load_model_files                 tokenizer
//                   plan_kv_cache                    runners (one per rank of every engine)
//                   make_runners
//                   resolve_engine_config
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "runtime/engine_config.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/sched/block_hash.hpp"
#include "runtime/serving/config_checks.hpp"
#include "runtime/serving/kv_cache_sizing.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::runtime {

// What an engine is started from. Move-only (it owns the runners).
struct built_engine {
  // Validated and resolved (resolve_engine_config): max_model_len and max_num_batched_tokens are
  // the effective limits, block_size the KV cache's, served_model_name set when a model was
  // loaded. Nothing downstream re-derives them.
  engine_config config;
  block_hash_algo hash_algo = block_hash_algo::sha256;  // config.prefix_caching_hash_algo
  kv_cache_capacity kv_cache;                           // every runner's, checked equal
  std::string model_path;      // the file or directory loaded; empty when assembled
  int32_t model_max_len = 0;   // the model's own context length (0 = unknown)
  std::string tokenizer_path;  // where the tokenizer (and the chat template) came from
  std::shared_ptr<const runtime::tokenizer> tokenizer;
  // Engine by engine (config.data_parallel_size of them), each engine's ranks in order:
  // runners[d * R + r] is engine d's rank r, R = tensor_parallel_size x pipeline_parallel_size
  // (rank r = stage x TP + tensor rank).
  std::vector<std::unique_ptr<model_runner>> runners;
};

// Validates `config` completely (config_checks.hpp), loads the model and tokenizer
// (model_files.hpp), sizes the KV cache (kv_cache_sizing.hpp), creates the runners and resolves
// the limits. Logs what it loaded and the cache size.
// Errors: a message for the user naming the flag or file at fault; nothing is left running.
// thread: any; blocks while loading.
result<built_engine> build_engine(const engine_config& config);

// For callers that already hold a tokenizer and runners (tests, tools with a model in memory):
// the same validation and resolution as build_engine, with the KV geometry the runners have
// (config's KV sizing fields are not used). `model_max_len` 0 = unknown.
// Errors: a null tokenizer, no runner or a null one, runners whose KV caches differ, a number of
// runners other than DP x TP x PP, and
// whatever validate_engine_config / resolve_engine_config refuse.
result<built_engine> assemble_engine(const engine_config& config,
                                     std::shared_ptr<const tokenizer> tokenizer,
                                     std::vector<std::unique_ptr<model_runner>> runners,
                                     int32_t model_max_len);

}  // namespace troupe::runtime
