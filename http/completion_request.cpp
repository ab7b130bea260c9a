#include "http/completion_request.hpp"

#include <iterator>
#include <limits>
#include <optional>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "http/request_fields.hpp"

namespace troupe::http {
namespace {

parse_error read_token_ids(const Value& ids, const completion_limits& limits,
                           std::vector<int32_t>& out) {
  if (ids.Empty()) return bad_request("`prompt` must not be empty.", "prompt");
  for (const Value& id : ids.GetArray()) {
    std::optional<int64_t> value = as_integer(id);
    if (!value) return type_error("prompt", "a string or a list of token ids (integers)");
    bool in_vocab = *value >= 0 && (limits.vocab_size <= 0 || *value < limits.vocab_size);
    if (!in_vocab || *value > std::numeric_limits<int32_t>::max()) {
      return bad_request(fmt::format("Token id {} is out of vocabulary", *value));
    }
    out.push_back(static_cast<int32_t>(*value));
  }
  return std::nullopt;
}

bool is_token_id_list(const Value& v) {
  return v.IsArray() && !v.Empty() && v[0].IsNumber();
}

// One prompt of `prompt`: a string or a list of token ids.
parse_error read_one_prompt(const Value& v, const completion_limits& limits, batch_prompt& out) {
  if (v.IsString()) {
    out.text.assign(v.GetString(), v.GetStringLength());
    return std::nullopt;
  }
  if (v.IsArray()) return read_token_ids(v, limits, out.token_ids);
  return type_error("prompt", "a string or a list of token ids");
}

// `prompt`: one prompt (a string or a list of token ids), or vLLM's batch of them (a list of
// strings or of token-id lists), each generated as its own request.
parse_error read_prompt(const Value& body, const completion_limits& limits,
                        completion_request& out) {
  const Value* prompt = member(body, "prompt");
  if (prompt == nullptr) return bad_request("`prompt` is required.", "prompt");
  std::vector<batch_prompt> prompts;
  if (prompt->IsString() || is_token_id_list(*prompt)) {
    if (prompt->IsString() && prompt->GetStringLength() == 0) {
      return validation_error("Either prompt or prompt_embeds must be provided and non-empty.",
                              "prompt");
    }
    if (auto e = read_one_prompt(*prompt, limits, prompts.emplace_back())) return e;
  } else if (prompt->IsArray()) {
    if (prompt->Empty()) return bad_request("You must pass at least one prompt");
    const int64_t num_choices = static_cast<int64_t>(prompt->Size()) * out.generation.n;
    if (num_choices > max_batch_choices) {
      return bad_request(fmt::format("A request may ask for at most {} choices in all (prompts "
                                     "times n), got {}.",
                                     max_batch_choices, num_choices),
                         "prompt");
    }
    for (const Value& one : prompt->GetArray()) {
      if (auto e = read_one_prompt(one, limits, prompts.emplace_back())) return e;
    }
  } else {
    return type_error("prompt", "a string or a list of token ids");
  }
  out.generation.prompt = std::move(prompts.front().text);
  out.generation.prompt_token_ids = std::move(prompts.front().token_ids);
  out.more_prompts.assign(std::make_move_iterator(prompts.begin() + 1),
                          std::make_move_iterator(prompts.end()));
  return std::nullopt;
}

// Completions' logprobs: how many alternatives per token (0 = only the sampled token's).
parse_error read_logprobs(const Value& body, const completion_limits& limits,
                          actors::generation_request& out) {
  const Value* v = member(body, "logprobs");
  if (v == nullptr) return std::nullopt;
  std::optional<int64_t> value = as_integer(*v);
  if (!value) return type_error("logprobs", "an integer");
  if (*value < -1) {
    return validation_error("`logprobs` must be a positive value or -1.", "logprobs",
                            std::to_string(*value));
  }
  // -1: the whole vocabulary, which max_logprobs refuses like any count above it.
  const int64_t n = *value >= 0 ? *value : limits.vocab_size;
  if (n > limits.max_logprobs || n < 0) {
    return validation_error(fmt::format("Requested sample logprobs of {}, which is greater than "
                                        "max allowed: {}",
                                        n, limits.max_logprobs),
                            "logprobs", std::to_string(n));
  }
  out.logprobs = static_cast<int32_t>(n);
  return std::nullopt;
}

// echo: the response starts with the prompt. As in vLLM, echo with logprobs reports the prompt's
// logprobs too (prompt_logprobs defaults to logprobs), and echo with max_tokens 0 generates one
// token that the response leaves out.
parse_error read_echo(const Value& body, completion_request& out) {
  if (auto e = read_bool(body, "echo", out.echo)) return e;
  if (!out.echo) return std::nullopt;
  auto& sampling = out.generation.sampling;
  if (sampling.num_prompt_logprobs < 0 && member(body, "prompt_logprobs") == nullptr)
    sampling.num_prompt_logprobs = out.generation.logprobs;
  if (out.zero_max_tokens) {
    out.zero_max_tokens = false;
    out.echo_only = true;
    out.generation.max_tokens = 1;
  }
  return std::nullopt;
}

}  // namespace

std::variant<completion_request, api_error> parse_completion_request(
    std::string_view body, const completion_limits& limits, uint64_t default_seed) {
  rapidjson::Document doc;
  if (auto e = parse_json_object(body, doc)) return std::move(*e);

  completion_request request;
  parse_error error = read_generation_fields(doc, limits, default_seed, request);
  if (!error) error = read_logprobs(doc, limits, request.generation);
  if (!error) error = read_echo(doc, request);
  if (!error) error = check_beam_search(request, /*completions=*/true);
  // max_tokens 0 is an echo's only (vLLM 0.32).
  if (!error && request.zero_max_tokens) error = max_tokens_error(0);
  if (!error) error = check_model_length(request, limits, "max_tokens");
  if (!error) error = read_prompt(doc, limits, request);
  if (error) return std::move(*error);
  return request;
}

}  // namespace troupe::http
