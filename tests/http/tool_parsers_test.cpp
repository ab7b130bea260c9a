// The auto tool-call parsers against what vLLM 0.32's parsers return for the same text (the
// expectations come from tools/compare_tool_parsers.py runs).
#include "http/tool_parsers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::http {
namespace {

struct whole_case {
  tool_parser_kind kind;
  std::string text;
  bool tools_called;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
  std::optional<std::string> content;
};

// Each case's whole-answer extraction: whether calls were found, their names, arguments and
// ids, and the content left.
void expect_extractions(const std::vector<whole_case>& cases) {
  for (const whole_case& c : cases) {
    SCOPED_TRACE(c.text);
    const tool_call_extraction got = tool_parser::make(c.kind)->extract(c.text);
    EXPECT_EQ(got.tools_called, c.tools_called);
    EXPECT_EQ(got.content, c.content);
    ASSERT_EQ(got.calls.size(), c.calls.size());
    for (size_t i = 0; i < c.calls.size(); ++i) {
      EXPECT_EQ(got.calls[i].name, c.calls[i].first);
      EXPECT_EQ(got.calls[i].arguments, c.calls[i].second);
      EXPECT_TRUE(got.calls[i].id.starts_with("chatcmpl-tool-"));
    }
  }
}

TEST(ToolParsers, ExtractsWholeAnswers) {
  const std::string w = R"({"name": "get_weather", "arguments": {"city": "Paris"}})";
  const std::string w_args = R"({"city": "Paris"})";
  const auto hermes = tool_parser_kind::hermes;
  const auto llama = tool_parser_kind::llama3_json;
  const std::vector<whole_case> cases = {
      {hermes, "Hello", false, {}, "Hello"},
      {hermes, "<tool_call>\n" + w + "\n</tool_call>", true, {{"get_weather", w_args}}, {}},
      {hermes,
       "Let me check.\n<tool_call>" + w + "</tool_call>",
       true,
       {{"get_weather", w_args}},
       "Let me check.\n"},
      {hermes,
       "<tool_call>" + w + "</tool_call><tool_call>{\"name\": \"t\", \"arguments\": {}}",
       true,
       {{"get_weather", w_args}, {"t", "{}"}},
       {}},
      {hermes,
       R"(<tool_call>{"name": "f", "arguments": {"s": "\u00e9 😀", "x": 1E2, "k": 1, "k": -0}})",
       true,
       {{"f", R"({"s": "é 😀", "x": 100.0, "k": 0})"}},
       {}},
      {hermes,
       R"(<tool_call>{"name": "f", "arguments": {"x": 1)",
       false,
       {},
       R"(<tool_call>{"name": "f", "arguments": {"x": 1)"},
      {hermes,
       R"(<tool_call>{"name": 5, "arguments": {}}</tool_call>)",
       false,
       {},
       R"(<tool_call>{"name": 5, "arguments": {}}</tool_call>)"},
      {hermes, "<tool_call></tool_call>", false, {}, "<tool_call></tool_call>"},
      {llama, "Hello there", false, {}, "Hello there"},
      {llama, w, true, {{"get_weather", w_args}}, {}},
      {llama,
       "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": [1, 2.50]}}",
       true,
       {{"f", R"({"a": [1, 2.5]})"}},
       {}},
      {llama,
       w + "; {\"name\": \"t\", \"parameters\": {}}",
       true,
       {{"get_weather", w_args}, {"t", "{}"}},
       {}},
      {llama, "I will call " + w + " now", true, {{"get_weather", w_args}}, {}},
      {llama, "The set {} is empty", false, {}, "The set {} is empty"},
      {llama, "{bad json", false, {}, "{bad json"},
      // The second object starts right where the first ends and is skipped; its inner {} then
      // has no "name", and the whole answer is content.
      {llama,
       R"({"name": "f", "parameters": {}}{"name": "g", "parameters": {}})",
       false,
       {},
       R"({"name": "f", "parameters": {}}{"name": "g", "parameters": {}})"},
  };
  expect_extractions(cases);
}

// One step's result written compactly: "-" for nothing, else "c:<content>" and per call
// "n<index>:<name>" (first delta, with an id) or "a<index>:<arguments>", joined by '|'.
std::string describe(const std::optional<tool_parser_delta>& d) {
  if (!d) return "-";
  std::string out = d->content ? "c:" + *d->content : "";
  for (const tool_call_delta& call : d->calls) {
    if (!out.empty()) out += '|';
    if (!call.id.empty()) {
      out += "n" + std::to_string(call.index) + ":" + call.name;
      EXPECT_FALSE(call.has_arguments);
    } else {
      out += "a" + std::to_string(call.index) + ":" + call.arguments;
    }
  }
  return out;
}

struct stream_case {
  tool_parser_kind kind;
  std::vector<std::string> pieces;
  std::vector<std::string> steps;
  std::string remaining;
};

TEST(ToolParsers, StreamsLikeVllm) {
  const auto hermes = tool_parser_kind::hermes;
  const auto llama = tool_parser_kind::llama3_json;
  const std::vector<stream_case> cases = {
      // Content, a tag cut across pieces held back, then name and arguments.
      {hermes,
       {"Sure", " <",   "tool", "_call",     ">\n{\"", "name", "\":", " \"",
        "f",    "\",",  " \"",  "arguments", "\":",    " {\"", "a",   "\":",
        " 1",   "}}\n", "</",   "tool",      "_call",  ">"},
       {"c:Sure", "c: ", "-",      "-",    "-",      "-",     "-",    "-", "-", "n0:f", "-",
        "-",      "-",   "a0:{\"", "a0:a", "a0:\":", "a0: 1", "a0:}", "-", "-", "-",    "-"},
       ""},
      // A '<' that turns out not to be a tag is sent late; unicode arguments.
      {hermes,
       {"a <", "b", "<tool_call>{\"name\": \"f\", \"arguments\": {\"s\": \"é", "世\"}}"},
       {"c:a ", "c:<b", "n0:f|a0:{\"s\": \"é", "a0:世\"}"},
       ""},
      // Two calls; the second waits for its name.
      {hermes,
       {"<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call><tool_call>{\"na",
        "me\": \"g\", \"arguments\": {\"x\": 2}}</tool_call>"},
       {"n0:f|a0:{}", "n1:g|a1:{\"x\": 2}"},
       ""},
      {llama, {"Hello", " there"}, {"c:Hello", "c: there"}, ""},
      // Arguments stream by common prefix of the autocompleted JSON; the closing text once
      // complete.
      {llama,
       {"{\"", "name", "\":", " \"", "get", "_weather", "\",", " \"", "parameters", "\":", " {\"",
        "city", "\":", " \"", "Par", "is", "\"}}"},
       {"-", "-", "-", "-", "-", "-", "n0:get_weather", "-", "-", "-", "-", "-", "-", "-",
        "a0:{\"city\": \"", "a0:Par", "a0:is\"}"},
       ""},
      // A second object: the first's held-back closing text goes first.
      {llama,
       {"{\"name\": \"f\", \"parameters\": {\"a\": \"x", "\"}}; {\"name\": \"g\", \"para",
        "meters\": {}}"},
       {"-", "a0:{\"a\": \"x\"}", "n1:g"},
       "{}"},
  };
  for (const stream_case& c : cases) {
    SCOPED_TRACE(c.pieces[0]);
    auto parser = tool_parser::make(c.kind);
    std::string current;
    ASSERT_EQ(c.pieces.size(), c.steps.size());
    for (size_t k = 0; k < c.pieces.size(); ++k) {
      current += c.pieces[k];
      EXPECT_EQ(describe(parser->extract_streaming(current, c.pieces[k])), c.steps[k])
          << "step " << k;
    }
    EXPECT_EQ(parser->remaining_unstreamed_args(), c.remaining);
  }
}

TEST(ToolParsers, ExtractsPythonicWholeAnswers) {
  const auto py = tool_parser_kind::pythonic;
  const std::vector<whole_case> cases = {
      {py, "Hello", false, {}, "Hello"},
      {py,
       "[get_weather(city='Paris', unit=\"c\"), get_time()]",
       true,
       {{"get_weather", R"({"city": "Paris", "unit": "c"})"}, {"get_time", "{}"}},
       {}},
      // Numbers as json.dumps writes Python's values; tuples and sets become lists.
      {py,
       "[f(a=-2, b=1e5, c=.5, d=0x1F, e=-0.0, g=1e400, h=1_000, t=(1, [True, None]), n=null)]",
       true,
       {{"f", R"({"a": -2, "b": 100000.0, "c": 0.5, "d": 31, "e": -0.0, "g": Infinity, "h": 1000, )"
              R"("t": [1, [true, null]], "n": null})"}},
       {}},
      // Dict keys: 1 and True are one key; non-string keys written as json.dumps writes them.
      {py,
       "[f(k={1: 'a', True: 'b', 2.0: 'c', None: 1, 1e400: 2})]",
       true,
       {{"f", R"({"k": {"1": "b", "2.0": "c", "null": 1, "Infinity": 2}})"}},
       {}},
      {py,
       R"([f(s='''a)"
       "\r\n"
       R"(b''' 'c', r=r'\d\'', u='\u00e9\x41\101 世')])",
       true,
       {{"f", R"({"s": "a\nbc", "r": "\\d\\'", "u": "éAA 世"})"}},
       {}},
      {py, "[f(x=1, x=2)]\nDone", true, {{"f", R"({"x": 2})"}}, {}},
      // Not a call: text first, the gate regex (dotted names, spaces), a value that is not a
      // literal, a cut answer, a non-call element, text after the list.
      {py, "Sure: [f(x=1)]", false, {}, "Sure: [f(x=1)]"},
      {py, "[ns.tool(x=1)]", false, {}, "[ns.tool(x=1)]"},
      {py, "[f() , g()]", false, {}, "[f() , g()]"},
      {py, "[f(x=g())]", false, {}, "[f(x=g())]"},
      {py, "[f(x=-True)]", false, {}, "[f(x=-True)]"},
      {py, "[f(x={-1: 2})]", false, {}, "[f(x={-1: 2})]"},
      {py, "[f(x='cut", false, {}, "[f(x='cut"},
      {py, "[f(x=1), 'text']", false, {}, "[f(x=1), 'text']"},
      {py, "[f(x=1)]\nI called it.", false, {}, "[f(x=1)]\nI called it."},
  };
  expect_extractions(cases);
}

// As describe(), but pythonic's first delta carries arguments ("n<index>:<name>:<arguments>")
// and its later ones "id": null.
std::string describe_pythonic(const std::optional<tool_parser_delta>& d) {
  if (!d) return "-";
  std::string out = d->content ? "c:" + *d->content : "";
  for (const tool_call_delta& call : d->calls) {
    if (!out.empty()) out += '|';
    EXPECT_TRUE(call.has_arguments);
    if (!call.id.empty()) {
      EXPECT_FALSE(call.null_id);
      out += "n" + std::to_string(call.index) + ":" + call.name + ":" + call.arguments;
    } else {
      EXPECT_TRUE(call.null_id);
      out += "a" + std::to_string(call.index) + ":" + call.arguments;
    }
  }
  return out;
}

TEST(ToolParsers, StreamsPythonicLikeVllm) {
  const std::vector<std::pair<std::vector<std::string>, std::vector<std::string>>> cases = {
      // A string streams with its closing quote and brackets held back; a call that closes
      // goes whole; the end sends an empty content.
      {{"[get_weather(", "city='Pa", "ris', unit=", "'c'), get_time()", "]"},
       {"-", "n0:get_weather:{\"city\": \"Pa", "-", "a0:ris\", \"unit\": \"c\"}|n1:get_time:{}",
        "c:"}},
      {{"Hello", " there"}, {"c:Hello", "c: there"}},
      // The first call waits for its ')'; code points, not bytes, decide what was sent.
      {{"[f(a=1", ")", ", g(s='é", "世', n=[1, ", "2])]"},
       {"-", "n0:f:{\"a\": 1}", "n1:g:{\"s\": \"é", "-", "a1:世\", \"n\": [1, 2]}"}},
      // vLLM sends the 1. of a cut number and never corrects it.
      {{"[f(d={'k': {'x': 1.", "5}})]"}, {"n0:f:{\"d\": {\"k\": {\"x\": 1.0", "a0:}}}"}},
  };
  for (const auto& [pieces, steps] : cases) {
    SCOPED_TRACE(pieces[0]);
    auto parser = tool_parser::make(tool_parser_kind::pythonic);
    std::string current;
    ASSERT_EQ(pieces.size(), steps.size());
    for (size_t k = 0; k < pieces.size(); ++k) {
      current += pieces[k];
      EXPECT_EQ(describe_pythonic(parser->extract_streaming(current, pieces[k])), steps[k])
          << "step " << k;
    }
    EXPECT_EQ(parser->remaining_unstreamed_args(), "");
    EXPECT_EQ(parser->has_parsed_calls(), pieces[0].starts_with("["));
  }
}

TEST(ToolParsers, NamesAndRequestEffects) {
  EXPECT_EQ(find_tool_parser("hermes"), tool_parser_kind::hermes);
  EXPECT_EQ(find_tool_parser("llama4_json"), tool_parser_kind::llama3_json);
  EXPECT_EQ(find_tool_parser("jamba"), std::nullopt);
  EXPECT_EQ(find_tool_parser("mistral"), tool_parser_kind::mistral);
  EXPECT_EQ(find_tool_parser("pythonic"), tool_parser_kind::pythonic);
  EXPECT_EQ(tool_parser_names(), "hermes, llama3_json, llama4_json, mistral, pythonic");
  EXPECT_FALSE(tool_parser_keeps_special_tokens(tool_parser_kind::pythonic));
  EXPECT_EQ(tool_parser_token_error(tool_parser_kind::pythonic, {}), "");
  EXPECT_TRUE(tool_parser_keeps_special_tokens(tool_parser_kind::hermes));
  EXPECT_FALSE(tool_parser_keeps_special_tokens(tool_parser_kind::llama3_json));
  EXPECT_NE(tool_parser_token_error(tool_parser_kind::llama3_json, {}), "");
  EXPECT_EQ(tool_parser_token_error(tool_parser_kind::llama3_json, {.python_tag = 128010}), "");
  EXPECT_EQ(tool_parser_token_error(tool_parser_kind::hermes, {}), "");
}

}  // namespace
}  // namespace troupe::http
