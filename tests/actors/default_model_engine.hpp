#pragma once
// An engine around the real default model's GGUF on the CPU runner (2 threads), for the engine
// tests that need real logits: `config` as the test sets it (budget, async scheduling,
// speculative decoding ...), on `num_blocks` KV blocks of 16 tokens. A failure to load is a test
// failure and a null engine.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "actors/engine.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/model/cpu_runner.hpp"

namespace troupe::testing {

inline std::unique_ptr<actors::engine> start_default_model_engine(const std::string& path,
                                                                  runtime::engine_config config,
                                                                  int32_t num_blocks) {
  auto file = runtime::gguf_file::open(path);
  if (!file) ADD_FAILURE() << file.message();
  if (!file) return nullptr;
  auto vocab = runtime::vocab_from_gguf(**file);
  auto hparams = runtime::llama_hparams_from_gguf(**file);
  auto weights = runtime::load_llama_gguf(**file, 2);
  if (!vocab || !hparams || !weights) ADD_FAILURE() << "cannot load " << path;
  if (!vocab || !hparams || !weights) return nullptr;
  auto tokenizer = runtime::make_bpe_tokenizer(std::move(*vocab));
  auto runner = runtime::cpu_llama_runner::create(std::move(*weights), num_blocks, 16, 2);
  if (!tokenizer || !runner) ADD_FAILURE() << "cannot build the tokenizer or the runner";
  if (!tokenizer || !runner) return nullptr;
  config.disable_log_requests = true;
  auto started = actors::start_engine(config, std::move(*tokenizer), std::move(*runner),
                                      hparams->max_position_embeddings);
  if (!started) ADD_FAILURE() << started.message();
  return started ? std::move(*started) : nullptr;
}

}  // namespace troupe::testing
