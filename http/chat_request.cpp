#include "http/chat_request.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <rapidjson/document.h>

#include "http/chat_messages.hpp"
#include "http/request_fields.hpp"
#include "http/tool_choice.hpp"

namespace troupe::http {
namespace {

// logprobs (bool) and top_logprobs as vLLM's check_logprobs validates them; the engine's
// `logprobs` is top_logprobs when logprobs is true, else -1 (none).
parse_error read_logprobs(const Value& body, int32_t max_logprobs, int32_t vocab_size,
                          int32_t& out) {
  bool logprobs = false;
  if (auto e = read_bool(body, "logprobs", logprobs)) return e;
  int64_t top = 0;
  if (const Value* v = member(body, "top_logprobs")) {
    std::optional<int64_t> value = as_integer(*v);
    if (!value) return type_error("top_logprobs", "an integer");
    top = *value;
    if (top < -1) {
      return validation_error("`top_logprobs` must be a positive value or -1.", "top_logprobs",
                              std::to_string(top));
    }
    if (top != 0 && !logprobs) {
      return validation_error("when using `top_logprobs`, `logprobs` must be set to true.",
                              "top_logprobs");
    }
    // -1: the whole vocabulary, which max_logprobs refuses like any count above it.
    if (top == -1) top = vocab_size;
    if (top > max_logprobs) {
      return validation_error(fmt::format("Requested sample logprobs of {}, which is greater than "
                                          "max allowed: {}",
                                          top, max_logprobs),
                              "logprobs", std::to_string(top));
    }
  }
  out = logprobs ? static_cast<int32_t>(top) : -1;
  return std::nullopt;
}

// The role of the last message of `messages` (a JSON array); nullopt without one.
std::optional<std::string> last_role(const rapidjson::Document& messages) {
  if (messages.HasParseError() || !messages.IsArray() || messages.Empty()) return std::nullopt;
  const Value* role = member(messages[messages.Size() - 1], "role");
  if (role == nullptr || !role->IsString()) return std::nullopt;
  return std::string(role->GetString(), role->GetStringLength());
}

// vLLM's chat echo: each choice's content starts with the last message's content when that
// message has the answer's `role`.
std::string echo_text(const rapidjson::Document& messages, std::string_view role) {
  if (last_role(messages) != role) return {};
  const Value* content = member(messages[messages.Size() - 1], "content");
  if (content == nullptr) return {};
  if (content->IsString()) return {content->GetString(), content->GetStringLength()};
  std::string joined;  // a template that loops over parts got them as a list: join their texts
  if (content->IsArray()) {
    for (const Value& part : content->GetArray()) {
      const Value* text = part.IsObject() ? member(part, "text") : nullptr;
      if (text == nullptr || !text->IsString()) continue;
      if (!joined.empty()) joined += '\n';
      joined.append(text->GetString(), text->GetStringLength());
    }
  }
  return joined;
}

// max_completion_tokens wins over the deprecated max_tokens: checked here, then handed to the
// shared fields as max_tokens (so min_tokens and generation_config's cap see it).
parse_error move_max_completion_tokens(rapidjson::Document& body) {
  const Value* v = member(body, "max_completion_tokens");
  if (v == nullptr) return std::nullopt;
  std::optional<int64_t> value = as_integer(*v);
  if (!value) return type_error("max_completion_tokens", "an integer or null");
  body.RemoveMember("max_tokens");
  body.AddMember("max_tokens", rapidjson::Value(*value), body.GetAllocator());
  return std::nullopt;
}

// chat_template_kwargs.enable_thinking as Python's truth test reads it; absent: whether a
// reasoning_effort is other than "none" (http/chat_messages.cpp), without one true.
bool enable_thinking(const Value& body) {
  const Value* kwargs = member(body, "chat_template_kwargs");
  const Value* v =
      kwargs != nullptr && kwargs->IsObject() ? member(*kwargs, "enable_thinking") : nullptr;
  if (v == nullptr) {
    const Value* effort = member(body, "reasoning_effort");
    return effort == nullptr || !effort->IsString() ||
           std::string_view(effort->GetString()) != "none";
  }
  if (v->IsNull()) return false;
  if (v->IsBool()) return v->GetBool();
  if (v->IsNumber()) return v->GetDouble() != 0.0;
  if (v->IsString()) return v->GetStringLength() > 0;
  if (v->IsArray()) return !v->Empty();
  return v->MemberCount() > 0;
}

}  // namespace

std::variant<chat_completion_request, api_error> parse_chat_completion_request(
    std::string_view body, const completion_limits& limits, uint64_t default_seed) {
  rapidjson::Document doc;
  if (auto e = parse_json_object(body, doc)) return std::move(*e);

  chat_completion_request request;
  actors::generation_request& generation = request.completion.generation;
  generation.max_tokens = 0;              // chat's default: up to the model's length
  generation.add_special_tokens = false;  // vLLM's chat default
  int32_t logprobs = -1;
  parse_error error = read_logprobs(doc, limits.max_logprobs, limits.vocab_size, logprobs);
  bool echo = false;
  if (!error) error = read_bool(doc, "echo", echo);
  if (!error) error = read_bool(doc, "include_reasoning", request.include_reasoning);
  if (!error) error = read_bool(doc, "return_prompt_text", request.return_prompt_text);
  const bool completion_tokens_given = member(doc, "max_completion_tokens") != nullptr;
  if (!error) error = move_max_completion_tokens(doc);
  // Chat's logprobs and echo mean something else than the completions fields of the same names.
  for (const char* key : {"logprobs", "top_logprobs", "echo"})
    doc.RemoveMember(key);
  if (!error) error = read_generation_fields(doc, limits, default_seed, request.completion);
  // vLLM's SamplingParams refuses 0 here (an echo does not generate the prompt's text).
  if (!error && request.completion.zero_max_tokens) error = max_tokens_error(0);
  if (!error) {
    error = check_model_length(request.completion, limits,
                               completion_tokens_given ? "max_completion_tokens" : "max_tokens");
  }
  chat_inputs inputs;
  if (!error) error = read_chat_inputs(doc, inputs);
  // After the structured outputs: a forced tool call's grammar replaces theirs.
  if (!error) {
    error = read_tool_choice(doc, limits.structured_outputs, limits.tool_parser,
                             request.tool_choice, generation.sampling, limits.strict_tools);
  }
  if (error) return std::move(*error);
  // vLLM's echo asks for the prompt's logprobs (top_logprobs of them) unless prompt_logprobs is
  // given; a stream does not report them, so it does not compute them either.
  if (echo && member(doc, "prompt_logprobs") == nullptr && !request.completion.stream)
    generation.sampling.num_prompt_logprobs = std::max(logprobs, 0);
  request.enable_thinking = enable_thinking(doc);
  generation.logprobs = logprobs;
  if (auto e = check_beam_search(request.completion, /*completions=*/false)) return std::move(*e);
  // vLLM's --exclude-tools-when-tool-choice-none: the template does not see the tools.
  if (limits.exclude_tools_when_tool_choice_none) {
    const Value* choice = member(doc, "tool_choice");
    if (choice != nullptr && choice->IsString() && view(*choice) == "none")
      inputs.chat.tools_json.reset();
  }
  request.chat = std::move(inputs.chat);
  request.continue_final_message = inputs.continue_final_message;
  request.chat_template = std::move(inputs.chat_template);
  rapidjson::Document messages;
  messages.Parse(request.chat.messages_json.c_str());
  request.role = request.chat.add_generation_prompt
                     ? limits.response_role
                     : last_role(messages).value_or(limits.response_role);
  if (echo) request.echo_text = echo_text(messages, request.role);
  return request;
}

}  // namespace troupe::http
