// http/tool_calls: a forced tool call's answer as vLLM 0.32 turns it into tool calls, whole and
// streamed. Expected deltas are what vLLM's extract_required_tool_call_streaming returned for the
// same pieces.
#include "http/tool_calls.hpp"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

const tool_choice_mode named{tool_choice_mode::kind::named, "get", true};
const tool_choice_mode required{tool_choice_mode::kind::required, "", true};

bool is_tool_call_id(const std::string& id) {
  return id.size() == 30 && id.rfind("chatcmpl-tool-", 0) == 0 &&
         id.find_first_not_of("0123456789abcdef", 14) == std::string::npos;
}

// A delta as "index|id?|name|arguments", name "null" for a null name and "-" for none.
std::string describe(const tool_call_delta& d) {
  std::string name = !d.id.empty() ? d.name : d.null_name ? "null" : "-";
  return std::to_string(d.index) + (d.id.empty() ? "|" : "|id|") + name + "|" + d.arguments;
}

std::vector<std::vector<std::string>> stream(tool_choice_mode mode,
                                             const std::vector<std::string>& pieces) {
  tool_call_stream s(std::move(mode));
  std::vector<std::vector<std::string>> out;
  for (const std::string& piece : pieces) {
    auto& chunk = out.emplace_back();
    for (const tool_call_delta& d : s.on_text(piece)) {
      if (!d.id.empty()) {
        EXPECT_TRUE(is_tool_call_id(d.id)) << d.id;
      }
      chunk.push_back(describe(d));
    }
  }
  return out;
}

TEST(tool_calls, a_named_answer_is_one_call_with_the_text_as_arguments) {
  auto calls = parse_tool_calls(named, R"({"city": "Paris"})");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(is_tool_call_id(calls[0].id)) << calls[0].id;
  EXPECT_EQ(calls[0].name, "get");
  EXPECT_EQ(calls[0].arguments, R"({"city": "Paris"})");
  EXPECT_EQ(parse_tool_calls(named, R"({"city": "Pa)")[0].arguments, R"({"city": "Pa)");
  EXPECT_TRUE(parse_tool_calls(named, "").empty());
  EXPECT_TRUE(parse_tool_calls(named, " \n\u00a0\u3000").empty());  // Python's strip()
}

TEST(tool_calls, a_required_answer_becomes_calls_with_python_written_arguments) {
  auto calls = parse_tool_calls(
      required, R"([{"name": "get", "parameters": {"city": "Paris", "n": 1E2, "city": "Rome"}},
                   {"name":"ping","parameters":{}}, {"name": "a"}, {"name": "b", "parameters": null,
                    "extra": 1, "strict": 1}])");
  ASSERT_EQ(calls.size(), 4u);
  EXPECT_EQ(calls[0].name, "get");
  EXPECT_EQ(calls[0].arguments, R"({"city": "Rome", "n": 100.0})");
  EXPECT_EQ(calls[1].name, "ping");
  EXPECT_EQ(calls[1].arguments, "{}");
  EXPECT_EQ(calls[2].arguments, "null");
  EXPECT_EQ(calls[3].arguments, "null");
  EXPECT_NE(calls[0].id, calls[1].id);
  EXPECT_TRUE(is_tool_call_id(calls[3].id));
}

TEST(tool_calls, a_required_answer_that_pydantic_refuses_has_no_calls) {
  for (const char* bad :
       {R"([{"name": "a", "parameters": {"b": "c)",  // cut by max_tokens
        R"([{"name": "a", "parameters": {}}] x)", R"({"name": "a"})",
        R"([{"name": "a", "parameters": [1]}])", R"([{"name": 1, "parameters": {}}])",
        R"([{"parameters": {}}])", R"([{"name": "a", "parameters": {}, "description": 3}])",
        R"([{"name": "a", "parameters": {}}, 3])", ""}) {
    EXPECT_TRUE(parse_tool_calls(required, bad).empty()) << bad;
  }
  EXPECT_TRUE(parse_tool_calls(required, "[]").empty());
}

TEST(tool_calls, parallel_tool_calls_false_keeps_the_first_call) {
  tool_choice_mode single = required;
  single.parallel_tool_calls = false;
  auto calls = parse_tool_calls(
      single, R"([{"name": "a", "parameters": {}}, {"name": "b", "parameters": {}}])");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "a");
  auto chunks = stream(
      single, {R"([{"name": "a", "parameters": {}}, {"name": "b", "parameters")", R"(: {}}])"});
  EXPECT_EQ(chunks, (std::vector<std::vector<std::string>>{{"0|id|a|{}"}, {}}));
}

TEST(tool_calls, finish_reasons_follow_vllm) {
  EXPECT_EQ(tool_choice_finish_reason(required, "stop", true), "tool_calls");
  EXPECT_EQ(tool_choice_finish_reason(required, "stop", false), "stop");
  EXPECT_EQ(tool_choice_finish_reason(required, "length", true), "length");
  EXPECT_EQ(tool_choice_finish_reason(named, "stop", true), "stop");
  EXPECT_EQ(tool_choice_finish_reason(named, "", true), "stop");
}

TEST(tool_calls, a_named_stream_sends_each_piece_as_arguments_of_call_zero) {
  auto chunks = stream(named, {R"({"ci)", "", R"(ty": 1})"});
  EXPECT_EQ(chunks, (std::vector<std::vector<std::string>>{
                        {R"(0|id|get|{"ci)"}, {"0|-|"}, {R"(0|-|ty": 1})"}}));
}

TEST(tool_calls, a_required_stream_announces_a_call_once_its_parameters_begin) {
  auto chunks = stream(required, {R"([{"name": "get", "param)", R"(eters": {"city": "Pa)",
                                  R"(ris"}}, {"na)", R"(me": "put", "parameters": {}}])", ""});
  EXPECT_EQ(chunks,
            (std::vector<std::vector<std::string>>{
                {}, {R"(0|id|get|{"city": "Pa)"}, {R"(0|null|ris"})"}, {"1|id|put|{}"}, {}}));
}

TEST(tool_calls, a_required_stream_reads_only_the_element_level) {
  // Brackets and quotes inside values do not end them; two calls may start in one piece.
  auto chunks =
      stream(required, {R"([{"name":"get","parameters":{"a":[1,"]}"]}},{"name":"put",)"
                        R"("parameters":{"b":"}"}}] trailing {"name": "x", "parameters": {}})"});
  EXPECT_EQ(chunks, (std::vector<std::vector<std::string>>{
                        {R"(0|id|get|{"a":[1,"]}"]})", R"(1|id|put|{"b":"}"})"}}));
  // A scalar value ends at whitespace, a comma or the closing brace.
  chunks = stream(required, {R"([{"name": "a", "parameters": 1)", "2", R"( }])"});
  EXPECT_EQ(chunks, (std::vector<std::vector<std::string>>{{"0|id|a|1"}, {"0|null|2"}, {}}));
  // A name that is not a JSON string never makes its call ready.
  chunks = stream(required, {R"([{"name": "a\q", "parameters": {}}])"});
  EXPECT_EQ(chunks, (std::vector<std::vector<std::string>>{{}}));
}

}  // namespace
}  // namespace troupe::http
