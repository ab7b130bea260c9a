// http/reasoning_parsers.*: cases from vLLM 0.32's DeepSeekR1ReasoningParser and Qwen3Parser
// (tools/compare_reasoning_parsers.py checks many more against vLLM itself).
#include "http/reasoning_parsers.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace troupe::http {
namespace {

constexpr int32_t start = 1, end = 2, tool_start = 3, tool_end = 4, im_start = 10, im_end = 11;
using opt = std::optional<std::string>;
const opt null;

reasoning_tokens test_tokens() {
  reasoning_tokens tokens{start, end, tool_start, tool_end, {im_start, im_end}, {}};
  tokens.dropped = {{im_end, "<|im_end|>"}, {im_start, "<|im_start|>"}};
  return tokens;
}

std::unique_ptr<reasoning_parser> make(reasoning_parser_kind kind, bool thinking = true) {
  return reasoning_parser::make(kind, test_tokens(), thinking);
}

struct extract_case {
  reasoning_parser_kind kind;
  std::string text;
  opt reasoning, content;
};

TEST(reasoning_parsers, extract_matches_vllm) {
  using enum reasoning_parser_kind;
  const extract_case cases[] = {
      {deepseek_r1, "<think>abc</think>xyz", "abc", "xyz"},
      {deepseek_r1, "abc</think>xyz", "abc", "xyz"},     // the prompt opened it
      {deepseek_r1, "<think>abc", "abc", null},          // truncated
      {deepseek_r1, "no markers", "no markers", null},   // all reasoning
      {deepseek_r1, "<think>abc</think>", "abc", null},  // empty content is null
      {deepseek_r1, "", "", null},                       // reasoning "" (not null)
      {deepseek_r1, "<think>a</think>b</think>c", "a", "b</think>c"},
      {qwen3, "<think>abc</think>xyz", "abc", "xyz"},
      {qwen3, "abc</think>xyz", "abc", "xyz"},
      {qwen3, "<think>abc", "abc", null},
      {qwen3, "", null, null},
      {qwen3, "<think>a</think>b</think>c", "a", "bc"},  // later </think> dropped
      {qwen3, "a<tool_call>{}</tool_call>", "a", "<tool_call>{}</tool_call>"},
      {qwen3, "a<|im_end|>b</think><|im_start|>c", "ab", "c"},  // special tokens dropped
      {qwen3, "日本</think>é😀", "日本", "é😀"},
  };
  for (const auto& c : cases) {
    auto parts = make(c.kind)->extract(c.text);
    EXPECT_EQ(parts.reasoning, c.reasoning) << c.text;
    EXPECT_EQ(parts.content, c.content) << c.text;
  }
  auto off = make(qwen3, false)->extract("<think>a</think>b");
  EXPECT_EQ(off.reasoning, null);
  EXPECT_EQ(off.content, opt("<think>a</think>b"));
}

struct step {
  std::string text;
  std::vector<int32_t> ids;
  std::optional<reasoning_delta> want;
};

void run_stream(reasoning_parser& parser, const std::vector<step>& steps, const char* name) {
  std::string previous;
  std::vector<int32_t> previous_ids;
  for (size_t i = 0; i < steps.size(); ++i) {
    const step& s = steps[i];
    std::string current = previous + s.text;
    std::vector<int32_t> current_ids = previous_ids;
    current_ids.insert(current_ids.end(), s.ids.begin(), s.ids.end());
    auto got =
        parser.extract_streaming(previous, current, s.text, previous_ids, current_ids, s.ids);
    ASSERT_EQ(got.has_value(), s.want.has_value()) << name << " step " << i;
    if (got) {
      EXPECT_EQ(got->reasoning, s.want->reasoning) << name << " step " << i;
      EXPECT_EQ(got->content, s.want->content) << name << " step " << i;
    }
    previous = current;
    previous_ids = current_ids;
  }
}

reasoning_delta r(std::string text) {
  return {std::move(text), std::nullopt};
}
reasoning_delta c(std::string text) {
  return {std::nullopt, std::move(text)};
}
reasoning_delta rc(std::string reasoning, opt content) {
  return {std::move(reasoning), content};
}

TEST(reasoning_parsers, deepseek_r1_stream) {
  auto parser = make(reasoning_parser_kind::deepseek_r1);
  run_stream(*parser,
             {{"<think>", {start}, std::nullopt},  // a lone marker sends nothing
              {"ab", {100}, r("ab")},
              {"c</think>d", {101, end, 102}, rc("c", "d")},  // </think> inside a delta
              {"e", {103}, c("e")}},
             "start and end");
  parser = make(reasoning_parser_kind::deepseek_r1);
  run_stream(*parser,
             {{"ab", {100}, r("ab")},  // no <think>: reasoning until </think>
              {"</think>", {end}, std::nullopt},
              {"x", {101}, c("x")}},
             "end only");
  parser = make(reasoning_parser_kind::deepseek_r1);
  run_stream(*parser, {{"<think>a</think>", {start, 100, end}, rc("a", null)}}, "one delta");
  // </think> among the ids but not in the text: Python's find gives -1 and slices by it.
  parser = make(reasoning_parser_kind::deepseek_r1);
  run_stream(*parser, {{"aé😀bcdefghij", {100, end}, rc("aé😀bcdefghi", "fghij")}}, "missing text");
}

TEST(reasoning_parsers, qwen3_stream_holds_back_marker_prefixes) {
  auto parser = make(reasoning_parser_kind::qwen3);
  run_stream(*parser,
             {{"<think>", {start}, std::nullopt},
              {"a <", {100}, r("a ")},  // "<" may begin a marker: held back
              {"b", {101}, r("<b")},
              {"</think>", {end}, std::nullopt},
              {"\n\n", {102}, std::nullopt},  // blank content waits
              {"x", {103}, c("\n\nx")}},
             "qwen3");
  EXPECT_TRUE(parser->engine_reasoning_ended());
  // Spelled-out markers are text once ids are streamed.
  parser = make(reasoning_parser_kind::qwen3);
  run_stream(*parser, {{"a</think>b", {100, 101, 102}, r("a</think>b")}}, "spelled out");
  EXPECT_FALSE(parser->engine_reasoning_ended());
  auto tail = parser->finish_streaming();
  EXPECT_FALSE(tail.has_value());
}

TEST(reasoning_parsers, is_reasoning_end_and_content_ids) {
  using enum reasoning_parser_kind;
  const std::vector<int32_t> opened = {im_start, 100, im_end, im_start, 101, start, 102};
  const std::vector<int32_t> closed = {im_start, 101, start, 102, end, 103};
  const std::vector<int32_t> plain = {im_start, 100, im_end, im_start, 101};
  EXPECT_FALSE(make(deepseek_r1)->is_reasoning_end(opened));
  EXPECT_TRUE(make(deepseek_r1)->is_reasoning_end(closed));
  EXPECT_FALSE(make(deepseek_r1)->is_reasoning_end(plain));
  EXPECT_FALSE(make(qwen3)->is_reasoning_end(opened));
  EXPECT_TRUE(make(qwen3)->is_reasoning_end(closed));
  EXPECT_FALSE(make(qwen3)->is_reasoning_end(plain));  // stops at the turn boundary
  EXPECT_TRUE(make(qwen3, false)->is_reasoning_end(plain));
  EXPECT_TRUE(make(qwen3)->is_reasoning_end(std::vector<int32_t>{100, tool_start}));

  EXPECT_EQ(make(deepseek_r1)->extract_content_ids(closed), (std::vector<int32_t>{103}));
  EXPECT_EQ(make(deepseek_r1)->extract_content_ids(std::vector<int32_t>{100, end}),
            std::vector<int32_t>{});  // </think> last: none yet
  EXPECT_EQ(make(qwen3)->extract_content_ids(closed), (std::vector<int32_t>{103}));
  EXPECT_EQ(make(qwen3)->extract_content_ids(std::vector<int32_t>{100, tool_start, 101}),
            (std::vector<int32_t>{tool_start, 101}));
}

TEST(reasoning_parsers, count_reasoning_tokens) {
  using enum reasoning_parser_kind;
  const std::vector<int32_t> ids = {start, 100, 101, end, 102};
  const std::vector<int32_t> opened = {100, 101, end, 102};
  const std::vector<int32_t> nested = {start, 100, start, 101, end, 102, end, 103, end, 104};
  EXPECT_EQ(make(deepseek_r1)->count_reasoning_tokens(ids), 2);
  EXPECT_EQ(make(deepseek_r1)->count_reasoning_tokens(opened), 0);  // vLLM counts only spans
  EXPECT_EQ(make(deepseek_r1)->count_reasoning_tokens(nested), 3);
  EXPECT_EQ(make(qwen3)->count_reasoning_tokens(ids), 2);
  EXPECT_EQ(make(qwen3)->count_reasoning_tokens(opened), 2);
  EXPECT_EQ(make(qwen3, false)->count_reasoning_tokens(ids), 0);
  EXPECT_EQ(make(qwen3)->count_reasoning_tokens(std::vector<int32_t>{100, tool_start, 101}), 1);
}

TEST(reasoning_parsers, names_and_missing_tokens) {
  EXPECT_EQ(find_reasoning_parser("deepseek_r1"), reasoning_parser_kind::deepseek_r1);
  EXPECT_EQ(find_reasoning_parser("qwen3"), reasoning_parser_kind::qwen3);
  EXPECT_FALSE(find_reasoning_parser("qwen2"));
  EXPECT_EQ(reasoning_parser_names(), "deepseek_r1, qwen3");
  reasoning_tokens none;
  EXPECT_EQ(reasoning_parser::make(reasoning_parser_kind::deepseek_r1, none), nullptr);
  auto qwen3 = reasoning_parser::make(reasoning_parser_kind::qwen3, none);  // text only
  ASSERT_NE(qwen3, nullptr);
  EXPECT_EQ(qwen3->extract("a</think>b").content, opt("b"));
  EXPECT_FALSE(qwen3->is_reasoning_end(std::vector<int32_t>{5, 6}));
}

}  // namespace
}  // namespace troupe::http
