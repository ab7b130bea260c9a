#pragma once
// benchmark_serving's datasets: prompts with their token lengths and the output length to ask.
//
//   random             token ids (offset + i + j) % vocab decoded to text, lengths drawn in
//                      [len * (1 - ratio), len * (1 + ratio)], a shared random prefix
//   custom             JSONL, one {"prompt": ...} per line
//   sharegpt           JSON array of {"conversations": [{"value": ...}, ...]}, shuffled with the
//                      seed and filtered as benchmark_serving filters (see sample_sharegpt)
//   prefix_repetition  groups of prompts sharing a random prefix (prefix-cache studies)
//
// Every sampler is deterministic for a seed. Errors are values naming the file and line.
// Thread: pure functions; the tokenizer is immutable and may be shared.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::loadgen {

struct sample_request {
  std::string prompt;
  int32_t prompt_len = 0;
  int32_t expected_output_len = 0;
};

using tokenizer_ptr = std::shared_ptr<const runtime::tokenizer>;

struct random_spec {
  int32_t input_len = 1024;
  int32_t output_len = 128;
  double range_ratio = 0.0;
  int32_t prefix_len = 0;
};
result<std::vector<sample_request>> sample_random(const tokenizer_ptr& tok, const random_spec& spec,
                                                  int64_t num_requests, uint64_t seed);

// Turns a raw prompt into the text sent (a chat template applied to one user message).
using prompt_transform = std::function<result<std::string>(const std::string& prompt)>;

// `text` is the file's content, `path` only names it in errors. With `apply_template` (as
// benchmark_serving without --skip-chat-template), each prompt is replaced by its rendering
// before its tokens are counted; a rendering error names the line.
result<std::vector<sample_request>> sample_custom(const tokenizer_ptr& tok, const std::string& path,
                                                  const std::string& text, int64_t num_requests,
                                                  int32_t output_len,
                                                  const prompt_transform& apply_template = {});

// Filtering as benchmark_serving: conversations with fewer than two turns are dropped; without
// a fixed output length, pairs with prompt or completion under 4 tokens, a prompt over 1024 or
// prompt + completion over 2048 tokens are skipped.
result<std::vector<sample_request>> sample_sharegpt(const tokenizer_ptr& tok,
                                                    const std::string& path,
                                                    const std::string& text, int64_t num_requests,
                                                    std::optional<int32_t> output_len,
                                                    uint64_t seed);

struct prefix_repetition_spec {
  int32_t prefix_len = 256;
  int32_t suffix_len = 256;
  int32_t num_prefixes = 10;
  int32_t output_len = 128;
};
result<std::vector<sample_request>> sample_prefix_repetition(const tokenizer_ptr& tok,
                                                             const prefix_repetition_spec& spec,
                                                             int64_t num_requests, uint64_t seed);

// Reads a whole file; an error names the path.
result<std::string> read_text_file(const std::string& path);

}  // namespace troupe::loadgen
