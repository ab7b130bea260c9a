#pragma once
// From flags to a running engine: checking them, loading the model (tokenizer, weights, a CPU
// runner with its KV cache sized from the flags) and starting the actors.
#include <cstdint>
#include <memory>
#include <string>

#include "actors/engine.hpp"
#include "runtime/engine_config.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/result.hpp"
#include "runtime/sampling_defaults.hpp"
#include "runtime/tokenizer/tokenizer.hpp"
#include "tools/cli/flags.hpp"

namespace troupe::cli {

struct loaded_model {
  std::string path;         // the file loaded
  std::string served_name;  // the name clients use when --served-model-name is not given
  std::shared_ptr<const runtime::tokenizer> tokenizer;
  std::unique_ptr<runtime::model_runner> runner;
  int32_t max_model_len = 0;  // the model's own context length
};

// Default KV cache size on CPU when neither --kv-cache-memory nor --num-gpu-blocks-override is
// given (vLLM's CPU backend defaults to 4 GiB; troupe keeps the default model under 1.5 GB).
inline constexpr int64_t default_cpu_kv_cache_bytes = int64_t{512} << 20;

// The model file `config.model` names (empty: the embedded default model).
std::string resolve_model_path(const runtime::engine_config& config);

// Loads the GGUF file or Hugging Face directory (config.json, *.safetensors, tokenizer.json) at
// resolve_model_path(config): tokenizer, f32 weights (whatever the checkpoint dtype: the CPU
// backend computes in float32), CPU runner with
// num_gpu_blocks_override blocks, or as many as kv_cache_memory (default above) holds.
result<loaded_model> load_model(const runtime::engine_config& config);

// The checks that need no model, run before loading one: files named by flags exist, and the
// engine flags are ones a CPU engine supports. Logs that GPU-only settings have no effect.
status check_flags(const command_line& cl);

// The engine configuration `serve` and `generate` run with: the parsed flags, checked for what a
// CPU engine supports, with max_model_len defaulting to the model's context length and, without
// chunked prefill, an unset token budget raised to max(max_model_len, 2048) as vLLM does.
result<runtime::engine_config> resolve_engine_config(const command_line& cl, int32_t model_max_len);

// load_model(cl.engine), with the tokenizer of --tokenizer instead of the model's when given.
result<loaded_model> load_model(const command_line& cl);

struct started_engine {
  runtime::engine_config config;  // as resolved for the loaded model
  std::unique_ptr<actors::engine> engine;
};

// What `serve` and `generate` start with: check_flags, load_model(cl), resolve_engine_config and
// actors::start_engine. The error is a message for the user.
result<started_engine> start_engine_from_flags(const command_line& cl);

// The sampling defaults `--generation-config` (auto | vllm | DIR) gives for the model of `cl`
// (runtime/formats/generation_config.hpp); logs vLLM's info line when they override anything.
result<runtime::sampling_defaults> load_sampling_defaults(const command_line& cl);

// Loads only the tokenizer: of a GGUF file, a directory (tokenizer.json, else tokenizer.model),
// or the tokenizer.json / tokenizer.model file itself.
result<std::shared_ptr<const runtime::tokenizer>> load_tokenizer(const std::string& path);

}  // namespace troupe::cli
