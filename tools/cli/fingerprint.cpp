#include "tools/cli/fingerprint.hpp"

#include <cstdint>

#include <fmt/format.h>

namespace troupe::cli {
namespace {

uint64_t fnv1a(std::string_view bytes) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

}  // namespace

std::optional<std::string> system_fingerprint(const serve_options& serve,
                                              const runtime::engine_config& config,
                                              int32_t max_model_len, std::string_view version) {
  if (serve.fingerprint_mode == "none") return std::nullopt;
  if (serve.fingerprint_mode == "custom") {
    if (serve.fingerprint_value.empty()) return std::nullopt;
    return serve.fingerprint_value;
  }
  // Fields joined with a byte no path or name holds, so no two configurations read alike.
  const std::string described = fmt::format(
      "{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}\x1f{}", config.model, config.tokenizer,
      max_model_len, config.dtype, config.load_format, config.kv_cache_dtype, config.block_size,
      config.tensor_parallel_size, config.pipeline_parallel_size, config.device);
  const std::string hash8 = fmt::format("{:016x}", fnv1a(described)).substr(0, 8);
  std::string fingerprint = fmt::format("troupe-{}", version);
  if (serve.fingerprint_mode == "full") {
    if (config.tensor_parallel_size > 1)
      fingerprint += fmt::format("-tp{}", config.tensor_parallel_size);
    if (config.pipeline_parallel_size > 1)
      fingerprint += fmt::format("-pp{}", config.pipeline_parallel_size);
  }
  return fingerprint + "-" + hash8;
}

}  // namespace troupe::cli
