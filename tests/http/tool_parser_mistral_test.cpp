// The mistral tool parser (http/tool_parser_mistral.cpp) against what vLLM 0.32's
// MistralToolParser returns for the same text with a pre-v11 tokenizer (the expectations come from
// running vLLM's class, as tools/compare_tool_parsers.py does).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "http/tool_parsers.hpp"

namespace troupe::http {
namespace {

bool is_mistral_id(const std::string& id) {
  if (id.size() != 9) return false;
  for (char c : id) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum) return false;
  }
  return true;
}

struct whole_case {
  bool forced;  // tool_choice "required" or named
  std::string text;
  bool tools_called;
  std::vector<std::pair<std::string, std::string>> calls;  // name, arguments
  std::optional<std::string> content;
};

// No marker, content before it (null when blank), numbers and strings as json.dumps writes
// them, string/null/absent arguments, skipped entries, repeated markers, the regex fallback, no
// calls (the JSON text is the content), forced calls without a marker.
TEST(MistralToolParser, ExtractsWholeAnswersLikeVllm) {
  const std::vector<whole_case> cases = {
      {false, "Hello, how can I help?", false, {}, "Hello, how can I help?"},
      {false,
       "[{\"name\": \"f\", \"arguments\": {}}]",
       false,
       {},
       "[{\"name\": \"f\", \"arguments\": {}}]"},
      {false,
       "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]",
       true,
       {{"get_weather", "{\"city\": \"Paris\"}"}},
       {}},
      {false,
       "Let me check.\n[TOOL_CALLS] [{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": "
       "\"b\", \"arguments\": {}}]",
       true,
       {{"a", "{\"x\": 1}"}, {"b", "{}"}},
       "Let me check.\n"},
      {false,
       "  \n[TOOL_CALLS]{\"name\": \"f\", \"arguments\": {\"s\": \"\\u00e9 😀\", \"x\": 1E2, \"k\": "
       "1, \"k\": -0, \"y\": 1e400, \"z\": NaN}}",
       true,
       {{"f", "{\"s\": \"é 😀\", \"x\": 100.0, \"k\": 0, \"y\": Infinity, \"z\": NaN}"}},
       {}},
      {false,
       "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}, {\"name\": \"g\", "
       "\"arguments\": null}, {\"name\": \"h\"}]",
       true,
       {{"f", "{\"a\": 1}"}, {"g", "{}"}, {"h", "{}"}},
       {}},
      {false,
       "[TOOL_CALLS][1, \"x\", {\"foo\": 1}, {\"arguments\": {\"a\": [1, 2.50]}}, {\"name\": 5, "
       "\"arguments\": [true]}]",
       true,
       {{"", "{\"a\": [1, 2.5]}"}, {"", "[true]"}},
       {}},
      {false,
       "[TOOL_CALLS][TOOL_CALLS]  [{\"name\": \"f\", \"arguments\": {}}] then text [TOOL_CALLS] "
       "ignored",
       true,
       {{"f", "{}"}},
       {}},
      {false,
       "[TOOL_CALLS] [TOOL_CALLS]Sure: [{\"name\": \"f\", \"arguments\": {\"a\": 1}}] done",
       true,
       {{"f", "{\"a\": 1}"}},
       {}},
      {false,
       "Before [TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"x\": 1",
       false,
       {},
       "[{\"name\": \"f\", \"arguments\": {\"x\": 1"},
      {false, "Before [TOOL_CALLS] not json", false, {}, "not json"},
      {false, "Before [TOOL_CALLS]   ", false, {}, ""},
      {false, "[TOOL_CALLS][]", false, {}, "[]"},
      {false,
       "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"u\": \"\\ud83d\\ude00\"}}]{\"trailing\": "
       "1}",
       true,
       {{"f", "{\"u\": \"😀\"}"}},
       {}},
      {true,
       "  [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"日本\"}}]\n",
       true,
       {{"get_weather", "{\"city\": \"日本\"}"}},
       {}},
      {true, "{\"name\": \"get_weather\", \"arguments\": {}}", true, {{"get_weather", "{}"}}, {}},
      {true, "", false, {}, ""},
      {true, "not json", false, {}, "not json"},
      {true,
       "Text [TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}}]",
       true,
       {{"f", "{}"}},
       "Text "},
  };
  for (const whole_case& c : cases) {
    SCOPED_TRACE(c.text);
    const tool_call_extraction got =
        tool_parser::make(tool_parser_kind::mistral, {.forced_call = c.forced})->extract(c.text);
    EXPECT_EQ(got.tools_called, c.tools_called);
    EXPECT_EQ(got.content, c.content);
    ASSERT_EQ(got.calls.size(), c.calls.size());
    for (size_t i = 0; i < c.calls.size(); ++i) {
      EXPECT_EQ(got.calls[i].name, c.calls[i].first);
      EXPECT_EQ(got.calls[i].arguments, c.calls[i].second);
      EXPECT_TRUE(is_mistral_id(got.calls[i].id)) << got.calls[i].id;
    }
  }
}

// One step written compactly: "-" for nothing, "{}" for an empty delta, else "c:<content>" and
// per call "#<index>" ("+id" on the delta with the call's id, then " name=<name>" and
// " args=<arguments>" where set), joined by '|'.
std::string describe(const std::optional<tool_parser_delta>& d) {
  if (!d) return "-";
  std::string out = d->content ? "c:" + *d->content : "";
  for (const tool_call_delta& call : d->calls) {
    EXPECT_TRUE(call.mistral_shape);
    if (!out.empty()) out += '|';
    out += "#" + std::to_string(call.index);
    if (!call.id.empty()) {
      EXPECT_TRUE(is_mistral_id(call.id)) << call.id;
      out += "+id";
    }
    if (call.has_name) out += " name=" + call.name;
    if (call.has_arguments) out += " args=" + call.arguments;
  }
  return out.empty() ? "{}" : out;
}

struct stream_case {
  bool forced;
  std::vector<std::string> pieces;
  std::vector<std::string> steps;
  bool parsed_calls;  // has_parsed_calls() at the end
};

TEST(MistralToolParser, StreamsLikeVllm) {
  const std::vector<stream_case> cases = {
      // Token by token: content, the marker, the name once its string closes, the arguments
      // object as raw text (its first piece lstripped), an empty delta when the array closes,
      // then content again.
      {false,
       {"Sure", ".",   " ",        "[TOOL_CALLS]", "[",    "{\"",       "name", "\":",
        " \"",  "get", "_weather", "\",",          " \"",  "arguments", "\":",  " {\"",
        "city", "\":", " \"",      "Paris",        "\"}}", "]",         " done"},
       {"c:Sure",
        "c:.",
        "c: ",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "-",
        "#0+id name=get_weather",
        "-",
        "-",
        "-",
        "#0 args={\"",
        "#0 args=city",
        "#0 args=\":",
        "#0 args= \"",
        "#0 args=Paris",
        "#0 args=\"}",
        "{}",
        "c: done"},
       true},
      // One piece with both calls: each call's delta has its id, name and arguments.
      {false,
       {"[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"a\": {\"b\": 1}}}, {\"name\": \"g\", "
        "\"arguments\": {}}]"},
       {"#0+id name=f args={\"a\": {\"b\": 1}}|#1+id name=g args={}"},
       true},
      // Content and the marker in one piece; the arguments' first piece loses its spaces.
      {false,
       {"Hi [TOOL_CALLS][{\"name\": \"f\", ", "\"arguments\":  {\"x\": 1}}]", " bye"},
       {"c:Hi |#0+id name=f", "#0 args={\"x\": 1}", "c: bye"},
       true},
      // A bare object is the only call; the text after it is content.
      {false,
       {"[TOOL_CALLS]{\"name\": \"f\", \"arguments\": {\"q\": \"a}b\"}}", " after"},
       {"#0+id name=f args={\"q\": \"a}b\"}", "c: after"},
       true},
      // String arguments go out as the string's text.
      {false,
       {"[TOOL_CALLS][{\"name\": \"f\", \"arguments\": \"raw\"}]"},
       {"#0+id name=f args=raw"},
       true},
      // Arguments before the name: the id comes with the arguments, the name after them.
      {false,
       {"[TOOL_CALLS]", "[", "{\"", "arguments", "\":", " {\"", "a", "\":", " ", "1", "},", " \"",
        "name", "\":", " \"", "f", "\"}", "]"},
       {"-", "-", "-", "-", "-", "#0+id args={\"", "#0 args=a", "#0 args=\":", "#0 args= ",
        "#0 args=1", "#0 args=}", "-", "-", "-", "-", "-", "#0 name=f", "{}"},
       true},
      // Not JSON: ijson fails again on every later piece, so nothing more is sent.
      {false,
       {"[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"x\": }", "}]", " text"},
       {"-", "-", "-"},
       true},
      // A forced call: the bare array streams without a marker.
      {true,
       {"[", "{\"", "name", "\":", " \"", "get", "_weather", "\",", " \"", "arguments",
        "\":", " {\"", "city", "\":", " \"", "Paris", "\"}}", "]"},
       {"-", "-", "-", "-", "-", "-", "-", "#0+id name=get_weather", "-", "-", "-", "#0 args={\"",
        "#0 args=city", "#0 args=\":", "#0 args= \"", "#0 args=Paris", "#0 args=\"}", "{}"},
       true},
      // No marker: each piece is content, an empty one too.
      {false, {"Hello", " there", ""}, {"c:Hello", "c: there", "c:"}, false},
      // A forced call starts with the first piece that has text.
      {true,
       {"", "[{\"name\": \"f\"", ", \"arguments\": {}}]"},
       {"c:", "#0+id name=f", "#0 args={}"},
       true},
      // The marker's text split across pieces is no marker.
      {false,
       {"[TOOL", "_CALLS][{\"name\": \"f\", \"arguments\": {}}]"},
       {"c:[TOOL", "c:_CALLS][{\"name\": \"f\", \"arguments\": {}}]"},
       false},
      // An empty array: an empty delta, then content (the text before a later marker is lost).
      {false, {"[TOOL_CALLS][]", "x[TOOL_CALLS]y"}, {"{}", "c:y"}, false},
  };
  for (const stream_case& c : cases) {
    SCOPED_TRACE(c.pieces[0]);
    auto parser = tool_parser::make(tool_parser_kind::mistral, {.forced_call = c.forced});
    std::string current;
    ASSERT_EQ(c.pieces.size(), c.steps.size());
    for (size_t k = 0; k < c.pieces.size(); ++k) {
      current += c.pieces[k];
      EXPECT_EQ(describe(parser->extract_streaming(current, c.pieces[k])), c.steps[k])
          << "step " << k;
    }
    // vLLM's server reads an adapter whose own prev_tool_call_arr stays empty.
    EXPECT_EQ(parser->remaining_unstreamed_args(), "");
    EXPECT_EQ(parser->has_parsed_calls(), c.parsed_calls);
  }
}

TEST(MistralToolParser, MakesMistralIds) {
  const std::string a = make_mistral_tool_call_id();
  const std::string b = make_mistral_tool_call_id();
  EXPECT_TRUE(is_mistral_id(a)) << a;
  EXPECT_TRUE(is_mistral_id(b)) << b;
  EXPECT_NE(a, b);
}

TEST(MistralToolParser, NeedsAPreV11Tokenizer) {
  const auto mistral = tool_parser_kind::mistral;
  EXPECT_EQ(find_tool_parser("mistral"), mistral);
  EXPECT_TRUE(tool_parser_keeps_special_tokens(mistral));
  EXPECT_EQ(tool_parser_token_error(mistral, {}),
            "Mistral parser could not locate the tool call token in the tokenizer!");
  EXPECT_EQ(tool_parser_token_error(mistral, {.tool_calls = 5}), "");
  const std::string v11 =
      tool_parser_token_error(mistral, {.tool_calls = 5, .has_args_token = true});
  EXPECT_NE(v11.find("pre-v11"), std::string::npos) << v11;
  // [TOOL_CALLS] is looked for first, as vLLM raises for it before reading the format.
  EXPECT_EQ(tool_parser_token_error(mistral, {.has_args_token = true}),
            "Mistral parser could not locate the tool call token in the tokenizer!");
}

}  // namespace
}  // namespace troupe::http
