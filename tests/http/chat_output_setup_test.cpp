// The server's answer parsers (http/chat_output_setup): startup checks with vLLM's messages, the
// marker tokens found in the vocabulary, and what a chat request changes under them (special
// tokens kept for hermes, the prompt as ids, the grammar's start after the reasoning).
#include "http/chat_output_setup.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/http/fake_engine.hpp"

namespace troupe::http {
namespace {

// Bytes, plus the markers as added tokens 300.. ("<|im_end|>" special), split out before bytes.
class marker_tokenizer final : public runtime::tokenizer {
 public:
  marker_tokenizer() = default;
  // The markers and these ones after them (ids from 305).
  explicit marker_tokenizer(std::vector<std::string> more) {
    markers.insert(markers.end(), more.begin(), more.end());
  }

  std::vector<int32_t> encode(std::string_view text, bool) const override {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < text.size();) {
      bool marker = false;
      for (size_t m = 0; m < markers.size(); ++m) {
        if (text.substr(i).starts_with(markers[m])) {
          ids.push_back(300 + static_cast<int32_t>(m));
          i += markers[m].size();
          marker = true;
          break;
        }
      }
      if (!marker) ids.push_back(static_cast<unsigned char>(text[i++]));
    }
    return ids;
  }
  std::string decode(std::span<const int32_t> ids, bool) const override {
    std::string out;
    for (int32_t id : ids)
      out += token_bytes(id);
    return out;
  }
  std::string token_bytes(int32_t id) const override {
    if (id >= 300) return markers[static_cast<size_t>(id - 300)];
    return std::string(1, static_cast<char>(id));
  }
  int32_t vocab_size() const override { return 300 + static_cast<int32_t>(markers.size()); }
  int32_t bos_id() const override { return 304; }
  int32_t eos_id() const override { return 304; }
  bool is_special(int32_t id) const override { return id == 304; }
  bool is_eog(int32_t id) const override { return id == 304; }

  std::vector<std::string> markers = {"<think>", "</think>", "<tool_call>", "</tool_call>",
                                      "<|im_end|>"};
};

const marker_tokenizer tokenizer;

TEST(chat_output_setup, startup_finds_the_markers_and_refuses_what_vllm_refuses) {
  auto setup = make_chat_output_setup("deepseek_r1", true, "hermes", tokenizer);
  ASSERT_TRUE(setup) << setup.message();
  EXPECT_EQ(setup->reasoning_markers.start_id, 300);
  EXPECT_EQ(setup->reasoning_markers.end_id, 301);
  EXPECT_EQ(setup->reasoning_markers.tool_start_id, 302);
  ASSERT_EQ(setup->reasoning_markers.dropped.size(), 1u);
  EXPECT_EQ(setup->reasoning_markers.dropped[0].text, "<|im_end|>");
  EXPECT_EQ(setup->tool_parser, tool_parser_kind::hermes);
  EXPECT_EQ(find_token_id(tokenizer, "<think>"), 300);
  EXPECT_EQ(find_token_id(tokenizer, "think"), -1);

  // A parser without --enable-auto-tool-choice parses nothing, as in vLLM.
  auto quiet = make_chat_output_setup("", false, "hermes", tokenizer);
  ASSERT_TRUE(quiet) << quiet.message();
  EXPECT_FALSE(quiet->any());

  EXPECT_EQ(make_chat_output_setup("", true, "", tokenizer).message(),
            "--enable-auto-tool-choice requires --tool-call-parser");
  const testing::byte_tokenizer no_markers;
  EXPECT_NE(make_chat_output_setup("deepseek_r1", false, "", no_markers).message().find("<think>"),
            std::string::npos);
  EXPECT_NE(
      make_chat_output_setup("", true, "llama3_json", no_markers).message().find("<|python_tag|>"),
      std::string::npos);
  // qwen3 matches its markers by text when the vocabulary lacks them: no error.
  EXPECT_TRUE(make_chat_output_setup("qwen3", false, "", no_markers));
}

chat_completion_request chat_with_grammar() {
  chat_completion_request chat;
  chat.completion.generation.prompt = "<|im_end|>assistant\n<think>";
  chat.completion.generation.sampling.grammar = R"(root ::= "x")";
  return chat;
}

TEST(chat_output_setup, a_reasoning_parser_starts_the_grammar_after_the_reasoning) {
  auto setup = make_chat_output_setup("deepseek_r1", false, "", tokenizer);
  ASSERT_TRUE(setup) << setup.message();
  chat_completion_request chat = chat_with_grammar();
  chat_responder_options options;
  actors::generation_request& generation = chat.completion.generation;
  apply_chat_output_setup(*setup, tokenizer, chat, generation, options);
  EXPECT_EQ(generation.sampling.grammar_after_token, 301);
  EXPECT_TRUE(generation.prompt.empty());
  EXPECT_EQ(generation.prompt_token_ids.back(), 300);
  EXPECT_EQ(options.prompt_token_ids, generation.prompt_token_ids);
  EXPECT_TRUE(options.reasoning_tokens_details);
  ASSERT_TRUE(options.make_parser);
  EXPECT_NE(options.make_parser(), nullptr);

  // include_reasoning false, or a prompt that ended the reasoning, or enable_in_reasoning: the
  // grammar holds every output.
  chat = chat_with_grammar();
  chat.include_reasoning = false;
  apply_chat_output_setup(*setup, tokenizer, chat, chat.completion.generation, options);
  EXPECT_EQ(chat.completion.generation.sampling.grammar_after_token, -1);
  EXPECT_TRUE(options.hide_metadata);
  chat = chat_with_grammar();
  chat.completion.generation.prompt += "</think>";
  apply_chat_output_setup(*setup, tokenizer, chat, chat.completion.generation, options);
  EXPECT_EQ(chat.completion.generation.sampling.grammar_after_token, -1);
  setup->grammar_in_reasoning = true;
  chat = chat_with_grammar();
  apply_chat_output_setup(*setup, tokenizer, chat, chat.completion.generation, options);
  EXPECT_EQ(chat.completion.generation.sampling.grammar_after_token, -1);
}

TEST(chat_output_setup, hermes_keeps_special_tokens_only_where_tools_are_called) {
  auto setup = make_chat_output_setup("", true, "hermes", tokenizer);
  ASSERT_TRUE(setup) << setup.message();
  for (bool parse_auto : {false, true}) {
    chat_completion_request chat;
    chat.tool_choice.parse_auto = parse_auto;
    chat_responder_options options;
    apply_chat_output_setup(*setup, tokenizer, chat, chat.completion.generation, options);
    EXPECT_EQ(chat.completion.generation.skip_special_tokens, !parse_auto);
    // vLLM makes a parser whenever the server has one; no reasoning: no reasoning tokens.
    EXPECT_TRUE(options.make_parser);
    EXPECT_FALSE(options.reasoning_tokens_details);
    EXPECT_EQ(chat.completion.generation.prompt_token_ids.size(), 0u);
  }
}

// mistral needs [TOOL_CALLS] (vLLM's message) and, in troupe, no [ARGS] (v11+ calls are not
// read); it keeps special tokens where tools are called, and with a reasoning parser for every
// request, as vLLM's engine parser sets skip_special_tokens false whenever it adjusts one.
TEST(chat_output_setup, mistral_needs_its_marker_and_keeps_special_tokens) {
  EXPECT_EQ(make_chat_output_setup("", true, "mistral", tokenizer).message(),
            "Mistral parser could not locate the tool call token in the tokenizer!");
  const marker_tokenizer v11({"[TOOL_CALLS]", "[ARGS]"});
  EXPECT_NE(make_chat_output_setup("", true, "mistral", v11).message().find("[ARGS]"),
            std::string::npos);
  const marker_tokenizer mistral({"[TOOL_CALLS]"});
  auto setup = make_chat_output_setup("", true, "mistral", mistral);
  ASSERT_TRUE(setup) << setup.message();
  EXPECT_EQ(setup->tool_parser, tool_parser_kind::mistral);
  auto skips = [&](const chat_output_setup& s, bool parse_auto, tool_choice_mode::kind type) {
    chat_completion_request chat;
    chat.tool_choice.parse_auto = parse_auto;
    chat.tool_choice.type = type;
    chat_responder_options options;
    apply_chat_output_setup(s, mistral, chat, chat.completion.generation, options);
    EXPECT_TRUE(options.make_parser);
    return chat.completion.generation.skip_special_tokens;
  };
  EXPECT_TRUE(skips(*setup, false, tool_choice_mode::kind::none));
  EXPECT_FALSE(skips(*setup, true, tool_choice_mode::kind::none));
  EXPECT_FALSE(skips(*setup, false, tool_choice_mode::kind::required));
  auto reasoning = make_chat_output_setup("deepseek_r1", true, "mistral", mistral);
  ASSERT_TRUE(reasoning) << reasoning.message();
  EXPECT_FALSE(skips(*reasoning, false, tool_choice_mode::kind::none));
  // hermes adjusts only requests that call tools.
  auto hermes = make_chat_output_setup("deepseek_r1", true, "hermes", mistral);
  ASSERT_TRUE(hermes) << hermes.message();
  EXPECT_TRUE(skips(*hermes, false, tool_choice_mode::kind::none));
}

}  // namespace
}  // namespace troupe::http
