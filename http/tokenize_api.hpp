#pragma once
// POST (or GET with a body) /tokenize and /detokenize, vLLM's shapes:
//   /tokenize   {"model"?, "prompt": str, "add_special_tokens": true}
//            or {"model"?, "messages": [...], "add_generation_prompt": true,
//                "continue_final_message": false, "add_special_tokens": false, "tools",
//                "chat_template_kwargs"}   (rendered with the server's chat template)
//            -> {"count", "max_model_len", "tokens": [...], "token_strs": null}
//   /detokenize {"model"?, "tokens": [...]} -> {"prompt": str}  (special tokens kept)
// Errors are OpenAI JSON errors: 400 for a bad body or a token id out of the vocabulary, 404 for
// another model's name. `return_token_strs` is refused (troupe's tokenizer interface has no
// vocabulary strings).
#include <string>
#include <string_view>
#include <variant>

#include "actors/engine.hpp"
#include "http/api_error.hpp"
#include "http/chat_prompt.hpp"

namespace troupe::http {

struct tokenize_context {
  const runtime::tokenizer& tokenizer;
  const actors::model_info& info;
  const chat_template_setup* chat = nullptr;  // null: "messages" requests get 400
};

// The JSON response body for a /tokenize request body, or the error.
std::variant<std::string, api_error> tokenize_json(std::string_view body,
                                                   const tokenize_context& context);

// The JSON response body for a /detokenize request body, or the error.
std::variant<std::string, api_error> detokenize_json(std::string_view body,
                                                     const tokenize_context& context);

}  // namespace troupe::http
