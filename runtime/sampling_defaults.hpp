#pragma once
// Server-wide defaults for the sampling fields a request leaves unset, as vLLM takes them from the
// model's generation_config.json (`--generation-config auto`, the default) or not at all
// (`--generation-config vllm`). A request's own value always wins.
#include <cstdint>
#include <optional>
#include <vector>

namespace troupe::runtime {

struct sampling_defaults {
  std::optional<float> temperature;
  std::optional<float> top_p;
  std::optional<int32_t> top_k;
  std::optional<float> min_p;
  std::optional<float> repetition_penalty;
  // generation_config's max_new_tokens: the default max_tokens of a request.
  std::optional<int32_t> max_tokens;
  // generation_config's eos_token_id (an int or a list): extra end-of-generation tokens, honoured
  // unless the request sets ignore_eos.
  std::vector<int32_t> eos_token_ids;

  bool empty() const {
    return !temperature && !top_p && !top_k && !min_p && !repetition_penalty && !max_tokens &&
           eos_token_ids.empty();
  }
};

}  // namespace troupe::runtime
