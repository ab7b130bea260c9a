#pragma once
// From parsed flags to a running engine, for the commands that start one (serve, generate): the
// engine is built by runtime::build_engine (validation, model, KV cache, runners) and started
// by actors::start_engine; nothing here derives a limit or loads a model itself.
#include <memory>
#include <string>

#include "actors/engine.hpp"
#include "base/result.hpp"
#include "runtime/engine_config.hpp"
#include "runtime/sampling_defaults.hpp"
#include "tools/cli/flags.hpp"

namespace troupe::cli {

struct started_engine {
  runtime::engine_config config;  // as runtime::build_engine resolved it
  std::string tokenizer_path;     // where the tokenizer came from (the chat template's home)
  std::unique_ptr<actors::engine> engine;
};

// validate_paths(cl), runtime::build_engine(cl.engine), actors::start_engine. Logs that
// --gpu-memory-utilization has no effect on CPU when it was given. The error is a message for
// the user.
result<started_engine> start_engine_from_flags(const command_line& cl);

// The sampling defaults `--generation-config` (auto | vllm | DIR) gives for the model of `cl`
// (runtime/formats/generation_config.hpp); logs vLLM's info line when they override anything.
result<runtime::sampling_defaults> load_sampling_defaults(const command_line& cl);

}  // namespace troupe::cli
