#include "tools/cli/model_loading.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "runtime/default_model.hpp"
#include "runtime/formats/generation_config.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/tokenizer/sentencepiece.hpp"
#include "tools/cli/validate.hpp"

namespace troupe::cli {
namespace {

using clock = std::chrono::steady_clock;

double seconds_since(clock::time_point start) {
  return std::chrono::duration<double>(clock::now() - start).count();
}

result<std::shared_ptr<const runtime::gguf_file>> open_gguf(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    if (path == runtime::default_model_path()) {
      return error{"the default model is not in the cache (" + path +
                   "): run `bash tools/setup.sh --model` to fetch it, or pass --model FILE.gguf"};
    }
    return error{"model file not found: " + path};
  }
  if (std::filesystem::is_directory(path)) {
    return error{"'" + path +
                 "' is a directory without config.json: pass a Hugging Face model directory or "
                 "a .gguf file"};
  }
  return runtime::gguf_file::open(path);
}

// Number of KV blocks: --num-gpu-blocks-override wins, else the memory budget.
int32_t kv_blocks_for(const runtime::engine_config& config, const runtime::llama_hparams& hp) {
  if (config.num_gpu_blocks_override > 0) return config.num_gpu_blocks_override;
  int64_t budget = config.kv_cache_memory > 0 ? config.kv_cache_memory : default_cpu_kv_cache_bytes;
  int64_t per_block = runtime::kv_bytes_per_block(hp, config.block_size);
  return static_cast<int32_t>(std::min<int64_t>(budget / per_block, INT32_MAX));
}

// The tokenizer of a Hugging Face directory: tokenizer.json (preferred, as transformers'
// AutoTokenizer) or tokenizer.model, with tokenizer_config.json.
result<std::shared_ptr<const runtime::tokenizer>> hf_dir_tokenizer(const std::string& dir) {
  const std::filesystem::path d(dir);
  if (!std::filesystem::exists(d / "tokenizer.json") &&
      !std::filesystem::exists(d / "tokenizer.model")) {
    return error{dir +
                 ": no tokenizer.json or tokenizer.model; pass a tokenizer with --tokenizer PATH"};
  }
  auto tokenizer = runtime::load_tokenizer_dir(dir);
  if (!tokenizer) return error{dir + ": " + tokenizer.message()};
  return tokenizer;
}

// Weights (f32 whatever the file's dtype: the CPU backend computes in float32) and tokenizer of
// a GGUF file or a Hugging Face directory; `tokenizer` given replaces the model's own.
struct model_parts {
  std::shared_ptr<const runtime::tokenizer> tokenizer;
  runtime::llama_weights weights;
};

result<model_parts> load_parts(const std::string& path, unsigned num_threads,
                               std::shared_ptr<const runtime::tokenizer> tokenizer) {
  model_parts parts{std::move(tokenizer), {}};
  if (runtime::is_hf_model_dir(path)) {
    if (!parts.tokenizer) {
      auto own = hf_dir_tokenizer(path);
      if (!own) return own.err();
      parts.tokenizer = std::move(*own);
    }
    auto weights = runtime::load_hf_model(path, num_threads);
    if (!weights) return weights.err();
    parts.weights = std::move(*weights);
    return parts;
  }
  auto file = open_gguf(path);
  if (!file) return file.err();
  if (!parts.tokenizer) {
    auto vocab = runtime::vocab_from_gguf(**file);
    if (!vocab) return error{path + ": " + vocab.message()};
    auto own = runtime::make_bpe_tokenizer(std::move(*vocab));
    if (!own) return error{path + ": " + own.message()};
    parts.tokenizer = std::move(*own);
  }
  auto weights = runtime::load_llama_gguf(**file, num_threads);
  if (!weights) return error{path + ": " + weights.message()};
  parts.weights = std::move(*weights);
  return parts;
}

result<loaded_model> load_model_with(const runtime::engine_config& config,
                                     std::shared_ptr<const runtime::tokenizer> tokenizer);

}  // namespace

std::string resolve_model_path(const runtime::engine_config& config) {
  return config.model.empty() ? runtime::default_model_path() : config.model;
}

status check_flags(const command_line& cl) {
  if (auto ok = validate_paths(cl); !ok) return ok;
  if (auto ok = validate_for_cpu(cl.engine); !ok) return ok;
  if (cl.was_given("gpu-memory-utilization")) {
    spdlog::info(
        "--gpu-memory-utilization has no effect on the CPU backend; the KV cache size "
        "comes from --kv-cache-memory or --num-gpu-blocks-override");
  }
  return ok_status();
}

result<runtime::engine_config> resolve_engine_config(const command_line& cl,
                                                     int32_t model_max_len) {
  runtime::engine_config config = cl.engine;
  if (config.max_model_len == 0) config.max_model_len = model_max_len;
  if (!config.enable_chunked_prefill && !cl.was_given("max-num-batched-tokens")) {
    config.max_num_batched_tokens = std::max(config.max_model_len, 2048);
  }
  if (auto ok = validate_for_cpu(config); !ok) return ok.err();
  return config;
}

result<started_engine> start_engine_from_flags(const command_line& cl) {
  if (auto ok = check_flags(cl); !ok) return ok.err();
  auto model = load_model(cl);
  if (!model) return model.err();
  auto config = resolve_engine_config(cl, model->max_model_len);
  if (!config) return config.err();
  if (config->served_model_name.empty()) config->served_model_name = model->served_name;
  auto engine = actors::start_engine(*config, model->tokenizer, std::move(model->runner),
                                     model->max_model_len);
  if (!engine) return engine.err();
  return started_engine{std::move(*config), std::move(*engine)};
}

result<runtime::sampling_defaults> load_sampling_defaults(const command_line& cl) {
  auto defaults =
      runtime::load_generation_config(cl.serve.generation_config, resolve_model_path(cl.engine));
  if (!defaults) return error{"--generation-config: " + defaults.message()};
  const std::string overrides = runtime::describe_sampling_defaults(*defaults);
  if (overrides != "{}") {
    spdlog::info(
        "Default sampling parameters have been overridden by the model's Hugging Face "
        "generation config recommended from the model creator: {}",
        overrides);
  }
  return defaults;
}

result<std::shared_ptr<const runtime::tokenizer>> load_tokenizer(const std::string& path) {
  std::error_code ec;
  const auto file_name = std::filesystem::path(path).filename();
  if (file_name == "tokenizer.model" && !std::filesystem::is_directory(path, ec)) {
    const std::string dir = std::filesystem::path(path).parent_path().string();
    auto tokenizer = runtime::load_sentencepiece_tokenizer(dir.empty() ? "." : dir);
    if (!tokenizer) return error{path + ": " + tokenizer.message()};
    return tokenizer;
  }
  if (std::filesystem::is_directory(path, ec) || file_name == "tokenizer.json") {
    return hf_dir_tokenizer(std::filesystem::is_directory(path, ec)
                                ? path
                                : std::filesystem::path(path).parent_path().string());
  }
  auto file = open_gguf(path);
  if (!file) return file.err();
  auto vocab = runtime::vocab_from_gguf(**file);
  if (!vocab) return error{path + ": " + vocab.message()};
  return runtime::make_bpe_tokenizer(std::move(*vocab));
}

result<loaded_model> load_model(const command_line& cl) {
  if (cl.serve.tokenizer.empty()) return load_model(cl.engine);
  auto tokenizer = load_tokenizer(cl.serve.tokenizer);
  if (!tokenizer) return tokenizer.err();
  const int32_t num_tokens = (*tokenizer)->vocab_size();
  auto model = load_model_with(cl.engine, std::move(*tokenizer));
  if (model && num_tokens > model->runner->vocab_size()) {
    return error{"--tokenizer " + cl.serve.tokenizer + " has " + std::to_string(num_tokens) +
                 " tokens, more than the model's " + std::to_string(model->runner->vocab_size())};
  }
  return model;
}

result<loaded_model> load_model(const runtime::engine_config& config) {
  return load_model_with(config, nullptr);
}

namespace {

result<loaded_model> load_model_with(const runtime::engine_config& config,
                                     std::shared_ptr<const runtime::tokenizer> tokenizer) {
  auto start = clock::now();
  auto dtype = runtime::parse_weight_dtype(config.dtype);
  if (!dtype) return error{"--dtype: " + dtype.message()};
  loaded_model model;
  model.path = resolve_model_path(config);
  auto parts = load_parts(model.path, config.num_compute_threads, std::move(tokenizer));
  if (!parts) return parts.err();
  // auto: the checkpoint's torch_dtype, as vLLM (exact for weights already stored in it).
  const runtime::weight_dtype target =
      *dtype == runtime::weight_dtype::as_stored ? runtime::checkpoint_dtype(model.path) : *dtype;
  if (runtime::rounds_weights(target)) {
    runtime::round_weights(parts->weights, target);
    spdlog::info(
        "dtype {}: weights rounded to {} at load; activations, KV cache and accumulation stay "
        "float32 on the CPU backend",
        config.dtype, runtime::weight_dtype_name(target));
  }
  model.tokenizer = std::move(parts->tokenizer);
  auto weights = &parts->weights;
  model.max_model_len = weights->hparams.max_position_embeddings;
  int32_t num_blocks = kv_blocks_for(config, weights->hparams);
  if (num_blocks < 1) {
    return error{
        "the KV cache budget holds no block: raise --kv-cache-memory or set "
        "--num-gpu-blocks-override"};
  }
  int64_t kv_bytes = num_blocks * runtime::kv_bytes_per_block(weights->hparams, config.block_size);
  auto runner = runtime::cpu_llama_runner::create(std::move(*weights), num_blocks,
                                                  config.block_size, config.num_compute_threads);
  if (!runner) return error{model.path + ": " + runner.message()};
  model.runner = std::move(*runner);

  model.served_name = model.path == runtime::default_model_path()
                          ? std::string(runtime::default_model_served_name)
                          : config.model;  // vLLM: the --model argument as given
  spdlog::info("loaded {} in {:.1f} s: {} KV blocks of {} tokens ({:.0f} MiB)", model.path,
               seconds_since(start), num_blocks, config.block_size,
               static_cast<double>(kv_bytes) / (1 << 20));
  return model;
}

}  // namespace

}  // namespace troupe::cli
