// http/chat_output_parser.*: vLLM 0.32's DelegatingParser with a reasoning parser only.
#include "http/chat_output_parser.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace troupe::http {
namespace {

constexpr int32_t start = 1, end = 2, tool_start = 3, im_start = 10, im_end = 11;
using opt = std::optional<std::string>;
const opt null;

chat_output_parser make(reasoning_parser_kind kind, bool include = true, bool thinking = true) {
  reasoning_tokens tokens{start, end, tool_start, 4, {im_start, im_end}, {{im_end, "<|im_end|>"}}};
  return chat_output_parser(reasoning_parser::make(kind, tokens, thinking), nullptr, include);
}

struct step {
  std::string text;
  std::vector<int32_t> ids;
  std::optional<chat_output_delta> want;
};
chat_output_delta r(std::string text) {
  return {std::move(text), std::nullopt, {}};
}
chat_output_delta c(std::string text) {
  return {std::nullopt, std::move(text), {}};
}
chat_output_delta rc(std::string reasoning, std::string content) {
  return {std::move(reasoning), std::move(content), {}};
}
// include_reasoning false: vLLM sets reasoning to None, written as "reasoning": null.
chat_output_delta hidden(std::string content) {
  return {delta_text_field(std::in_place), std::move(content), {}};
}

struct stream_case {
  const char* name;
  reasoning_parser_kind kind;
  std::vector<int32_t> prompt;
  bool include;
  std::vector<step> steps;
};

const std::vector<int32_t> open_prompt = {im_start, 100, im_end, im_start, 101};
const std::vector<int32_t> think_prompt = {im_start, 101, start, 102};
const std::vector<int32_t> closed_prompt = {im_start, 101, start, end, 102};

TEST(chat_output_parser, streams_match_vllm) {
  using enum reasoning_parser_kind;
  const stream_case cases[] = {
      {"r1 start and end",
       deepseek_r1,
       open_prompt,
       true,
       {{"<think>", {start}, std::nullopt},
        {"ab", {100}, r("ab")},
        {"c</think>d", {101, end, 102}, rc("c", "d")},
        {"e", {103}, c("e")}}},
      {"r1 prompt opened",
       deepseek_r1,
       think_prompt,
       true,
       {{"ab", {100}, r("ab")}, {"</think>", {end}, std::nullopt}, {"x", {101}, c("x")}}},
      {"r1 prompt closed: all content",
       deepseek_r1,
       closed_prompt,
       true,
       {{"<think>", {start}, c("<think>")}, {"a", {100}, c("a")}}},
      {"r1 hidden reasoning",
       deepseek_r1,
       open_prompt,
       false,
       {{"<think>", {start}, std::nullopt},
        {"ab", {100}, std::nullopt},
        {"c</think>d", {101, end, 102}, hidden("d")}}},
      {"qwen3 end in the middle of a delta",
       qwen3,
       open_prompt,
       true,
       {{"<think>", {start}, std::nullopt},
        {"ab", {100}, r("ab")},
        {"c</think>\n\nd <", {101, end, 103, 104, 105}, rc("c", "\n\nd <")},  // flushed
        {"\n", {106}, c("\n")}}},
      {"qwen3 truncated: flushed at the end",
       qwen3,
       open_prompt,
       true,
       {{"<think>", {start}, std::nullopt},
        {"a <", {100}, r("a ")},
        {"/", {101}, std::nullopt},
        {"x", {102}, r("</x")}}},
      {"qwen3 implicit end at <tool_call>",
       qwen3,
       think_prompt,
       true,
       {{"a", {100}, r("a")}, {"<tool_call>{", {tool_start, 101}, c("<tool_call>{")}}},
  };
  for (const auto& sc : cases) {
    auto parser = make(sc.kind, sc.include);
    for (size_t i = 0; i < sc.steps.size(); ++i) {
      const step& s = sc.steps[i];
      std::optional<std::span<const int32_t>> prompt;
      if (i == 0) prompt = std::span<const int32_t>(sc.prompt);
      auto got = parser.parse_delta(s.text, s.ids, prompt, i + 1 == sc.steps.size());
      ASSERT_EQ(got.has_value(), s.want.has_value()) << sc.name << " step " << i;
      if (!got) continue;
      EXPECT_EQ(got->reasoning, s.want->reasoning) << sc.name << " step " << i;
      EXPECT_EQ(got->content, s.want->content) << sc.name << " step " << i;
    }
  }
}

TEST(chat_output_parser, whole_answers) {
  using enum reasoning_parser_kind;
  auto parts = make(qwen3).parse("<think>\nr\n</think>\n\nc");
  EXPECT_EQ(parts.reasoning, opt("\nr\n"));
  EXPECT_EQ(parts.content, opt("\n\nc"));
  parts = make(qwen3, false).parse("<think>r</think>c");
  EXPECT_EQ(parts.reasoning, null);
  EXPECT_EQ(parts.content, opt("c"));
  parts = make(deepseek_r1).parse("r</think>");
  EXPECT_EQ(parts.reasoning, opt("r"));
  EXPECT_EQ(parts.content, null);
  auto none = chat_output_parser(nullptr, nullptr, true).parse("<think>r</think>c");
  EXPECT_EQ(none.content, opt("<think>r</think>c"));
}

// vLLM serves the mistral tool parser as an engine parser: an answer with no call gets the
// extraction's content (the JSON text after [TOOL_CALLS]; null when empty), unless a non-engine
// reasoning parser (deepseek_r1) makes the whole parser a non-engine one.
TEST(chat_output_parser, mistral_answers_without_calls_take_the_extraction_content) {
  auto mistral = [](bool forced, std::unique_ptr<reasoning_parser> reasoning = nullptr) {
    return chat_output_parser(std::move(reasoning),
                              tool_parser::make(tool_parser_kind::mistral, {forced}), true);
  };
  EXPECT_EQ(mistral(false).parse("Hi [TOOL_CALLS]not json").content, opt("not json"));
  EXPECT_EQ(mistral(false).parse("").content, null);
  EXPECT_EQ(mistral(false).parse("   ").content, opt("   "));
  EXPECT_EQ(mistral(true).parse("not json").content, opt("not json"));
  EXPECT_EQ(mistral(true).parse("  ").content, null);
  const auto called = mistral(false).parse(R"(Hi [TOOL_CALLS][{"name": "f", "arguments": {}}])");
  EXPECT_EQ(called.content, opt("Hi "));
  ASSERT_EQ(called.tool_calls.size(), 1u);
  EXPECT_EQ(called.tool_calls[0].arguments, "{}");
  reasoning_tokens tokens{start, end, tool_start, 4, {im_start, im_end}, {}};
  auto r1 = reasoning_parser::make(reasoning_parser_kind::deepseek_r1, tokens, true);
  EXPECT_EQ(mistral(false, std::move(r1)).parse("r</think>Hi [TOOL_CALLS]not json").content,
            opt("Hi [TOOL_CALLS]not json"));
}

TEST(chat_output_parser, counts_reasoning_tokens_even_when_hidden) {
  const std::vector<int32_t> ids = {start, 100, 101, end, 102};
  EXPECT_EQ(make(reasoning_parser_kind::deepseek_r1, false).count_reasoning_tokens(ids), 2);
  EXPECT_EQ(make(reasoning_parser_kind::qwen3, false).count_reasoning_tokens(ids), 2);
  EXPECT_EQ(chat_output_parser(nullptr, nullptr, true).count_reasoning_tokens(ids), 0);
}

}  // namespace
}  // namespace troupe::http
