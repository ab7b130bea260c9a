#pragma once
// vLLM's system_fingerprint (its --fingerprint-mode), which responses carry so that a client can
// tell when the serving configuration changed:
//   full:   "troupe-<version>[-tp<N>][-pp<N>]-<hash8>" (the default)
//   hash:   "troupe-<version>-<hash8>"
//   custom: --fingerprint-value as given (null when not given, as vLLM's)
//   none:   null
// hash8 is 8 hex digits of a 64-bit FNV-1a hash of what decides the answers: the model, the
// tokenizer, max_model_len, dtype, load format, KV cache dtype and block size, the parallel
// sizes and the device. The same flags give the same fingerprint on every run and machine.
#include <optional>
#include <string>
#include <string_view>

#include "runtime/engine_config.hpp"
#include "tools/cli/flags.hpp"

namespace troupe::cli {

// `max_model_len` is the one in effect (the engine's, when the flag left it to the model).
std::optional<std::string> system_fingerprint(const serve_options& serve,
                                              const runtime::engine_config& config,
                                              int32_t max_model_len, std::string_view version);

}  // namespace troupe::cli
