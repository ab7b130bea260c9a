#include "http/chat_output_setup.hpp"

#include <string>

#include <fmt/format.h>

namespace troupe::http {

int32_t find_token_id(const runtime::tokenizer& tokenizer, std::string_view text) {
  const std::vector<int32_t> ids = tokenizer.encode(text, /*add_special=*/false);
  if (ids.size() != 1 || tokenizer.decode(ids, /*skip_special=*/false) != text) return -1;
  return ids[0];
}

namespace {

reasoning_tokens find_reasoning_tokens(const runtime::tokenizer& tokenizer) {
  reasoning_tokens tokens;
  tokens.start_id = find_token_id(tokenizer, "<think>");
  tokens.end_id = find_token_id(tokenizer, "</think>");
  tokens.tool_start_id = find_token_id(tokenizer, "<tool_call>");
  tokens.tool_end_id = find_token_id(tokenizer, "</tool_call>");
  for (const char* boundary : {"<|im_start|>", "<|im_end|>"}) {
    if (int32_t id = find_token_id(tokenizer, boundary); id >= 0)
      tokens.turn_boundary_ids.push_back(id);
  }
  const auto is_marker = [&](int32_t id) {
    return id == tokens.start_id || id == tokens.end_id || id == tokens.tool_start_id ||
           id == tokens.tool_end_id;
  };
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.is_special(id) && !is_marker(id)) {
      tokens.dropped.push_back(
          {id, tokenizer.decode(std::span<const int32_t>(&id, 1), /*skip_special=*/false)});
    }
  }
  return tokens;
}

}  // namespace

result<chat_output_setup> make_chat_output_setup(std::string_view reasoning_parser_name,
                                                 bool enable_auto_tool_choice,
                                                 std::string_view tool_parser_name,
                                                 const runtime::tokenizer& tokenizer) {
  chat_output_setup setup;
  if (!reasoning_parser_name.empty()) {
    setup.reasoning_parser = find_reasoning_parser(reasoning_parser_name);
    if (!setup.reasoning_parser) {
      return error{fmt::format("reasoning_parser_name='{}' has not been registered (known: {})",
                               reasoning_parser_name, reasoning_parser_names())};
    }
    setup.reasoning_markers = find_reasoning_tokens(tokenizer);
    if (!reasoning_parser::make(*setup.reasoning_parser, setup.reasoning_markers)) {
      return error{fmt::format(
          "--reasoning-parser {} cannot be used with this model's tokenizer: it has no <think> "
          "and </think> tokens",
          reasoning_parser_name)};
    }
  }
  if (enable_auto_tool_choice && tool_parser_name.empty())
    return error{"--enable-auto-tool-choice requires --tool-call-parser"};
  if (!tool_parser_name.empty()) {
    const auto kind = find_tool_parser(tool_parser_name);
    if (!kind) {
      return error{fmt::format(
          "--enable-auto-tool-choice requires tool_parser:'{}' which has not been registered "
          "(known: {})",
          tool_parser_name, tool_parser_names())};
    }
    tool_parser_tokens markers;
    markers.python_tag = find_token_id(tokenizer, "<|python_tag|>");
    markers.tool_calls = find_token_id(tokenizer, "[TOOL_CALLS]");
    markers.has_args_token = find_token_id(tokenizer, "[ARGS]") >= 0;
    if (std::string e = tool_parser_token_error(*kind, markers);
        !e.empty() && enable_auto_tool_choice)
      return error{e};
    if (enable_auto_tool_choice) {
      setup.tool_parser = kind;
      setup.engine_tool_parser = tool_parser::make(*kind)->engine_based();
    }
  }
  return setup;
}

void apply_chat_output_setup(const chat_output_setup& setup, const runtime::tokenizer& tokenizer,
                             const chat_completion_request& chat,
                             actors::generation_request& generation,
                             chat_responder_options& options) {
  const tool_choice_mode& mode = chat.tool_choice;
  // vLLM adjusts a request where tools are called, or every request under a reasoning parser;
  // mistral's engine parser then keeps special tokens whatever the request.
  if (setup.tool_parser && tool_parser_keeps_special_tokens(*setup.tool_parser) &&
      (mode.parse_auto || mode.type != tool_choice_mode::kind::none ||
       (setup.reasoning_parser && *setup.tool_parser == tool_parser_kind::mistral)))
    generation.skip_special_tokens = false;
  const bool reasoning = setup.reasoning_parser.has_value();
  // vLLM makes a parser per choice whenever the server has one, whatever the request.
  if (!setup.any()) return;
  options.hide_metadata = !chat.include_reasoning;
  options.reasoning_tokens_details = reasoning;
  if (reasoning) {
    generation.prompt_token_ids =
        tokenizer.encode(generation.prompt, generation.add_special_tokens);
    generation.prompt.clear();
    options.prompt_token_ids = generation.prompt_token_ids;
    const bool ended = reasoning_parser::make(*setup.reasoning_parser, setup.reasoning_markers,
                                              chat.enable_thinking)
                           ->is_reasoning_end(generation.prompt_token_ids);
    if (!generation.sampling.grammar.empty() && chat.include_reasoning && !ended &&
        !setup.grammar_in_reasoning)
      generation.sampling.grammar_after_token = setup.reasoning_markers.end_id;
  }
  const bool forced = mode.type != tool_choice_mode::kind::none;
  options.make_parser = [&setup, include = chat.include_reasoning, thinking = chat.enable_thinking,
                         tools = mode.parse_auto || mode.parser_format, forced] {
    std::unique_ptr<reasoning_parser> reasoning;
    if (setup.reasoning_parser)
      reasoning =
          reasoning_parser::make(*setup.reasoning_parser, setup.reasoning_markers, thinking);
    std::unique_ptr<tool_parser> calls;
    if (tools && setup.tool_parser) calls = tool_parser::make(*setup.tool_parser, {forced});
    // vLLM's tool phase for tool_choice "none" (a forced call streams every piece instead),
    // which with engine parsers only (mistral's tool parser) runs the parser and drops its
    // calls: each delta's text is content, an empty one included.
    const bool engine = setup.engine_tool_parser && (!reasoning || reasoning->engine_based());
    const bool text_tool_phase = setup.tool_parser && !calls && !forced && !engine;
    return std::make_unique<chat_output_parser>(std::move(reasoning), std::move(calls), include,
                                                text_tool_phase);
  };
}

}  // namespace troupe::http
