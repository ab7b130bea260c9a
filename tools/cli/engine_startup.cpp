#include "tools/cli/engine_startup.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

#include "runtime/formats/generation_config.hpp"
#include "runtime/serving/device_runners.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "runtime/serving/kv_cache_sizing.hpp"
#include "runtime/serving/model_files.hpp"
#include "tools/cli/validate.hpp"

namespace troupe::cli {

result<started_engine> start_engine_from_flags(const command_line& cl) {
  if (auto ok = validate_paths(cl); !ok) return ok.err();
  const auto device = runtime::resolve_engine_device(cl.engine);
  if (cl.was_given("gpu-memory-utilization") && device.ok() &&
      *device == runtime::engine_device::cpu) {
    spdlog::info(
        "--gpu-memory-utilization has no effect on the CPU backend; the KV cache size "
        "comes from --kv-cache-memory or --num-gpu-blocks-override");
  }
  runtime::engine_config config = cl.engine;
  if (device.ok() && *device == runtime::engine_device::cpu) {
    // vLLM's CPU platform takes VLLM_CPU_KVCACHE_SPACE over --kv-cache-memory-bytes.
    auto space = runtime::cpu_kv_cache_space_bytes(std::getenv("VLLM_CPU_KVCACHE_SPACE"));
    if (!space) return space.err();
    if (*space) {
      spdlog::info("VLLM_CPU_KVCACHE_SPACE: a KV cache of {} GiB", **space >> 30);
      config.kv_cache_memory = **space;
    }
  }
  auto built = runtime::build_engine(config);
  if (!built) return built.err();
  started_engine started{built->config, built->tokenizer_path, nullptr};
  auto engine = actors::start_engine(std::move(*built));
  if (!engine) return engine.err();
  started.engine = std::move(*engine);
  return started;
}

result<runtime::sampling_defaults> load_sampling_defaults(const command_line& cl) {
  auto defaults = runtime::load_generation_config(cl.serve.generation_config,
                                                  runtime::resolve_model_path(cl.engine));
  if (!defaults) return error{"--generation-config: " + defaults.message()};
  if (!cl.serve.override_generation_config.empty()) {
    defaults = runtime::apply_generation_overrides(std::move(*defaults),
                                                   cl.serve.override_generation_config);
    if (!defaults) return defaults.err();
  }
  const std::string overrides = runtime::describe_sampling_defaults(*defaults);
  if (overrides != "{}") {
    spdlog::info(
        "Default sampling parameters have been overridden by the model's Hugging Face "
        "generation config recommended from the model creator: {}",
        overrides);
  }
  return defaults;
}

}  // namespace troupe::cli
