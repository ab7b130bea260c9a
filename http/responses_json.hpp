#pragma once
// The JSON of vLLM 0.32's Responses API objects, in its field order with every field present
// (null when unset): the response object, its output items, and token logprobs in the Responses
// shapes. Pure functions of their arguments (new_item_id draws random digits).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/responses_request.hpp"

namespace troupe::http {

struct responses_usage {
  int64_t input_tokens = 0;
  int64_t cached_tokens = 0;  // of the input, served from the prefix cache
  int64_t output_tokens = 0;
  int64_t reasoning_tokens = 0;
};

// `prefix` + 16 random hex digits ("resp_", "msg_", "fc_", "rs_").
std::string new_item_id(std::string_view prefix);

// The response object. `output` is a JSON array; `max_output_tokens` the resolved one.
std::string response_object_json(const responses_echo& echo, std::string_view model,
                                 int64_t created_at, std::string_view status,
                                 int64_t max_output_tokens, std::string_view output,
                                 const std::optional<responses_usage>& usage);

// An output_text part; `logprobs` raw JSON ("null", "[]" or a list).
std::string output_text_json(std::string_view text, std::string_view logprobs);
// A message item whose content is `parts` (a raw JSON array).
std::string message_item_json(std::string_view id, std::string_view parts, std::string_view status);
std::string function_call_item_json(std::string_view arguments, std::string_view call_id,
                                    std::string_view name, std::string_view id,
                                    std::string_view status);
// A reasoning item; `text` none: "content": null; `status` "": null.
std::string reasoning_item_json(std::string_view id, const std::optional<std::string>& text,
                                std::string_view status);

// Chat's logprobs "content" list (raw JSON) as the Responses' list: [{"token", "bytes",
// "logprob", "top_logprobs": [{"token", "bytes", "logprob"}]}], or for a stream delta
// [{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}] (`delta`). Without the list
// "" (nothing).
std::string responses_logprobs_json(std::string_view chat_content, bool delta);

}  // namespace troupe::http
