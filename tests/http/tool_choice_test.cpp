// tool_choice on /v1/chat/completions (http/tool_choice): vLLM's validation and messages, and the
// grammar a forced call gets, checked by the texts it accepts.
#include "http/tool_choice.hpp"

#include <string>

#include <gtest/gtest.h>

#include "http/chat_request.hpp"
#include "runtime/grammar/grammar.hpp"

namespace troupe::http {
namespace {

const completion_limits limits{"fake-model", 257};

const std::string get_tool = R"({"type": "function", "function": {"name": "get",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}})";
const std::string ping_tool = R"({"type": "function", "function": {"name": "ping"}})";

// A request with both tools and these extra fields.
std::string body(const std::string& fields) {
  return R"({"messages": [{"role": "user", "content": "Hi"}], "tools": [)" + get_tool + ", " +
         ping_tool + "], " + fields + "}";
}

chat_completion_request parse_ok(const std::string& text) {
  auto parsed = parse_chat_completion_request(text, limits, 42);
  if (auto* e = std::get_if<api_error>(&parsed)) {
    ADD_FAILURE() << text << " -> " << e->message;
    return {};
  }
  return std::get<chat_completion_request>(std::move(parsed));
}

api_error error_of(const std::string& text) {
  auto parsed = parse_chat_completion_request(text, limits, 42);
  if (auto* e = std::get_if<api_error>(&parsed)) return *e;
  ADD_FAILURE() << text << " was accepted";
  return {};
}

bool accepts(const chat_completion_request& r, const std::string& text) {
  auto ok = runtime::grammar::accepts(r.completion.generation.sampling.grammar, text);
  EXPECT_TRUE(ok.ok()) << ok.message();
  return ok.ok() && *ok;
}

TEST(tool_choice, none_auto_and_absent_leave_the_answer_free) {
  completion_limits auto_tools = limits;
  auto_tools.tool_parser = tool_parser_kind::pythonic;
  for (const char* fields : {R"("tool_choice": "none")", R"("tool_choice": "auto")",
                             R"("tool_choice": null)", R"("parallel_tool_calls": false)"}) {
    for (const completion_limits& server : {limits, auto_tools}) {
      const bool is_auto = std::string_view(fields).find("auto") != std::string_view::npos;
      auto parsed = parse_chat_completion_request(body(fields), server, 42);
      if (is_auto && !server.tool_parser) {
        // vLLM refuses "auto" unless the server parses tool calls.
        ASSERT_TRUE(std::holds_alternative<api_error>(parsed)) << fields;
        EXPECT_EQ(std::get<api_error>(parsed).message,
                  "\"auto\" tool choice requires --enable-auto-tool-choice and "
                  "--tool-call-parser to be set");
        continue;
      }
      ASSERT_TRUE(std::holds_alternative<chat_completion_request>(parsed)) << fields;
      const auto& r = std::get<chat_completion_request>(parsed);
      EXPECT_EQ(r.tool_choice.type, tool_choice_mode::kind::none) << fields;
      EXPECT_TRUE(r.completion.generation.sampling.grammar.empty()) << fields;
      // With --enable-auto-tool-choice, "auto" or no choice (with tools) is parsed for calls.
      const bool none = std::string_view(fields).find("none") != std::string_view::npos;
      EXPECT_EQ(r.tool_choice.parse_auto, server.tool_parser && !none) << fields;
    }
  }
  parse_ok(R"({"messages": [], "tool_choice": "none"})");
  completion_limits auto_tools_server = limits;
  auto_tools_server.tool_parser = tool_parser_kind::hermes;
  auto without_tools = parse_chat_completion_request(R"({"messages": []})", auto_tools_server, 42);
  ASSERT_TRUE(std::holds_alternative<chat_completion_request>(without_tools));
  EXPECT_FALSE(std::get<chat_completion_request>(without_tools).tool_choice.parse_auto);
}

TEST(tool_choice, a_named_function_holds_the_answer_to_its_parameters) {
  auto r = parse_ok(body(R"("tool_choice": {"type": "function", "function": {"name": "get"}})"));
  EXPECT_EQ(r.tool_choice.type, tool_choice_mode::kind::named);
  EXPECT_EQ(r.tool_choice.function_name, "get");
  EXPECT_TRUE(r.tool_choice.parallel_tool_calls);
  EXPECT_TRUE(accepts(r, R"({"city": "Paris"})"));
  EXPECT_TRUE(accepts(r, R"({ "city":"Oslo" })"));
  EXPECT_FALSE(accepts(r, R"({})"));
  EXPECT_FALSE(accepts(r, R"({"city": 3})"));
  EXPECT_FALSE(accepts(r, R"([{"name": "get", "parameters": {"city": "Paris"}}])"));
  // "type" may be left out (pydantic's default).
  parse_ok(body(R"("tool_choice": {"function": {"name": "get"}})"));
}

TEST(tool_choice, a_function_without_parameters_takes_an_empty_object) {
  for (const std::string& params : {std::string(""), std::string(R"(, "parameters": {})"),
                                    std::string(R"(, "parameters": null)")}) {
    auto r = parse_ok(
        R"({"messages": [], "tools": [{"type": "function", "function": {"name": "f")" + params +
        R"(}}], "tool_choice": {"type": "function", "function": {"name": "f"}}})");
    EXPECT_TRUE(accepts(r, "{}")) << params;
    EXPECT_FALSE(accepts(r, R"({"a": 1})")) << params;
  }
}

TEST(tool_choice, required_holds_the_answer_to_an_array_of_calls) {
  auto r = parse_ok(body(R"("tool_choice": "required")"));
  EXPECT_EQ(r.tool_choice.type, tool_choice_mode::kind::required);
  EXPECT_TRUE(accepts(r, R"([{"name": "get", "parameters": {"city": "Paris"}}])"));
  EXPECT_TRUE(accepts(r, R"([{"name": "ping", "parameters": {}}, )"
                         R"({"name": "get", "parameters": {"city": "Rome"}}])"));
  EXPECT_FALSE(accepts(r, "[]"));
  EXPECT_FALSE(accepts(r, R"([{"name": "put", "parameters": {}}])"));
  EXPECT_FALSE(accepts(r, R"([{"name": "get"}])"));
  EXPECT_FALSE(accepts(r, R"([{"name": "get", "parameters": {}}])"));
  EXPECT_FALSE(accepts(r, R"([{"parameters": {}, "name": "ping"}])"));
  EXPECT_FALSE(accepts(r, R"({"name": "ping", "parameters": {}})"));
}

TEST(tool_choice, parallel_tool_calls_false_allows_one_call) {
  auto r = parse_ok(body(R"("tool_choice": "required", "parallel_tool_calls": false)"));
  EXPECT_FALSE(r.tool_choice.parallel_tool_calls);
  EXPECT_TRUE(accepts(r, R"([{"name": "ping", "parameters": {}}])"));
  EXPECT_FALSE(accepts(r, R"([{"name": "ping", "parameters": {}}, {"name": "ping", )"
                          R"("parameters": {}}])"));
  EXPECT_TRUE(parse_ok(body(R"("tool_choice": "required", "parallel_tool_calls": null)"))
                  .tool_choice.parallel_tool_calls);
  EXPECT_EQ(error_of(body(R"("tool_choice": "required", "parallel_tool_calls": "no")")).param,
            "parallel_tool_calls");
}

TEST(tool_choice, defs_of_every_tool_move_to_the_top_of_the_required_schema) {
  const std::string tools = R"({"messages": [], "tool_choice": "required", "tools": [
      {"type": "function", "function": {"name": "a", "parameters": {"type": "object",
        "properties": {"p": {"$ref": "#/$defs/point"}}, "required": ["p"],
        "$defs": {"point": {"type": "integer"}}}}},
      {"type": "function", "function": {"name": "b", "parameters": {"type": "object",
        "properties": {"q": {"$ref": "#/$defs/)";
  auto r = parse_ok(tools + R"(point"}}, "required": ["q"],
        "$defs": {"point": {"type": "integer"}}}}}]})");
  EXPECT_TRUE(accepts(r, R"([{"name": "b", "parameters": {"q": 3}}])"));
  EXPECT_FALSE(accepts(r, R"([{"name": "a", "parameters": {"p": "x"}}])"));
  EXPECT_EQ(error_of(tools + R"(point"}}, "$defs": {"point": {"type": "string"}}}}}]})").message,
            "Tool definition 'point' has multiple schemas, which is not supported. "
            "(parameter=tools)");
  EXPECT_EQ(error_of(tools + R"(point"}}, "$defs": [1]}}}]})").message,
            "`$defs` in the parameters of tool 'b' must be an object, got list. "
            "(parameter=tools)");
}

TEST(tool_choice, a_forced_call_replaces_response_format_and_json_under_required) {
  auto r = parse_ok(body(R"("tool_choice": {"type": "function", "function": {"name": "get"}},
                             "response_format": {"type": "json_object"})"));
  EXPECT_FALSE(accepts(r, R"({"other": 1})"));
  EXPECT_TRUE(accepts(r, R"({"city": "Paris"})"));
  r = parse_ok(
      body(R"("tool_choice": "required", "structured_outputs": {"json": {"type": "string"}})"));
  EXPECT_TRUE(accepts(r, R"([{"name": "ping", "parameters": {}}])"));
}

TEST(tool_choice, invalid_choices_are_400s_with_vllms_messages) {
  const std::string usage =
      R"(Correct usage: `{"type": "function", "function": {"name": "my_function"}}`)";
  struct refused {
    std::string body, message, param;
  };
  const refused cases[] = {
      {R"({"messages": [], "tool_choice": "required", "tools": []})",
       "`tools` must not be an empty array. Either provide at least one tool or omit the field "
       "entirely.",
       "tools"},
      {R"({"messages": [], "tool_choice": "required"})",
       "When using `tool_choice`, `tools` must be set.", "tool_choice"},
      {R"({"messages": [], "tool_choice": {"type": "function", "function": {"name": "get"}}})",
       "When using `tool_choice`, `tools` must be set.", "tool_choice"},
      {body(R"("tool_choice": "any")"),
       R"(Invalid value for `tool_choice`: any! Only named tools, "none", "auto" or "required" are supported.)",
       "tool_choice"},
      {body(R"("tool_choice": {"type": "function"})"),
       "Invalid value for `function`: `None` in `tool_choice`! " + usage, "tool_choice.function"},
      {body(R"("tool_choice": {"type": "function", "function": "get"})"),
       "Invalid value for `function`: `get` in `tool_choice`! " + usage, "tool_choice.function"},
      {body(R"("tool_choice": {"type": "function", "function": {}})"),
       "Expected field `name` in `function` in `tool_choice`! " + usage,
       "tool_choice.function.name"},
      {body(R"("tool_choice": {"type": "function", "function": {"name": ""}})"),
       "Invalid `name` in `function`: `` in `tool_choice`! " + usage, "tool_choice.function.name"},
      {body(R"("tool_choice": {"type": "function", "function": {"name": null}})"),
       "Invalid `name` in `function`: `None` in `tool_choice`! " + usage,
       "tool_choice.function.name"},
      {body(R"("tool_choice": {"type": "function", "function": {"name": "put"}})"),
       "The tool specified in `tool_choice` does not match any of the specified `tools`",
       "tool_choice"},
      {body(R"("tool_choice": {"type": "function", "function": {"name": "get"}},
               "structured_outputs": {"regex": "a+"})"),
       "You can only either use constraints for structured outputs or tools, not both.", ""},
  };
  for (const refused& c : cases) {
    api_error e = error_of(c.body);
    EXPECT_EQ(e.status, 400) << c.body;
    // vLLM's VLLMValidationError names its parameter at the end of the message.
    EXPECT_EQ(e.message, c.param.empty() ? c.message : c.message + " (parameter=" + c.param + ")")
        << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
  }
  EXPECT_EQ(error_of(body(R"("tool_choice": {"type": "tool", "function": {"name": "get"}})")).param,
            "tool_choice");
  // A schema the grammar cannot take.
  EXPECT_EQ(error_of(R"({"messages": [], "tool_choice": "required", "tools": [{"type": "function",
                "function": {"name": "f", "parameters": {"type": "string", "pattern": "a+"}}}]})")
                .param,
            "tools");
}

// With --tool-call-parser hermes a forced call is held to hermes' own format, as vLLM's hermes
// structural tag holds it: "<tool_call>" JSON "</tool_call>" blocks (with or without the
// newlines), one for a named choice, one or more for "required", arguments any JSON value unless
// the tool is strict.
TEST(tool_choice, hermes_holds_a_forced_call_to_its_own_format) {
  completion_limits hermes = limits;
  hermes.tool_parser = tool_parser_kind::hermes;
  auto parse = [&](const std::string& text) {
    auto parsed = parse_chat_completion_request(text, hermes, 42);
    EXPECT_TRUE(std::holds_alternative<chat_completion_request>(parsed)) << text;
    return std::get<chat_completion_request>(std::move(parsed));
  };
  const std::string get = "<tool_call>\n{\"name\": \"get\", \"arguments\": ";
  const std::string ping = "<tool_call>{\"name\": \"ping\", \"arguments\": ";
  auto named = parse(body(R"("tool_choice": {"type": "function", "function": {"name": "get"}})"));
  EXPECT_TRUE(named.tool_choice.parser_format);
  EXPECT_TRUE(accepts(named, get + "{\"city\": \"Paris\"}}\n</tool_call>"));
  EXPECT_TRUE(accepts(named, get + "\"any JSON\"}\n</tool_call>"));  // not strict
  EXPECT_FALSE(accepts(named, get + "{}}\n</tool_call>" + get + "{}}\n</tool_call>"));
  EXPECT_FALSE(accepts(named, ping + "{}}</tool_call>"));
  EXPECT_FALSE(accepts(named, R"({"city": "Paris"})"));

  auto required = parse(body(R"("tool_choice": "required")"));
  EXPECT_TRUE(required.tool_choice.parser_format);
  EXPECT_TRUE(accepts(required, ping + "{}}</tool_call>"));
  EXPECT_TRUE(accepts(required, get + "[1]}\n</tool_call>" + ping + "null}</tool_call>"));
  EXPECT_FALSE(accepts(required, ""));
  EXPECT_FALSE(accepts(required, get + "{}}\n</tool_call>\n" + ping + "{}}</tool_call>"));

  // A strict tool's arguments follow its parameters.
  const std::string strict = R"({"messages": [], "tool_choice": "required", "tools": [
      {"type": "function", "function": {"name": "get", "strict": true, "parameters":
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]})";
  auto pinned = parse(strict);
  EXPECT_TRUE(accepts(pinned, get + "{\"city\": \"Oslo\"}}\n</tool_call>"));
  EXPECT_FALSE(accepts(pinned, get + "{}}\n</tool_call>"));
}

// Under hermes, vLLM 0.32 holds "auto" to the call format too (VLLM_ENFORCE_STRICT_TOOL_CALLING,
// on by default) when a tool is strict, --tool-strict-level is above "auto" or
// parallel_tool_calls is false: any text, in which "<tool_call>" begins a whole call (xgrammar's
// triggered tags; the texts below were checked against xgrammar 0.2's matcher).
TEST(tool_choice, hermes_holds_auto_calls_when_strict) {
  completion_limits hermes = limits;
  hermes.tool_parser = tool_parser_kind::hermes;
  auto parse = [&](const std::string& text, const completion_limits& server) {
    auto parsed = parse_chat_completion_request(text, server, 42);
    EXPECT_TRUE(std::holds_alternative<chat_completion_request>(parsed)) << text;
    return std::get<chat_completion_request>(std::move(parsed));
  };
  const std::string call =
      "<tool_call>\n{\"name\": \"get\", \"arguments\": {\"city\": \"Oslo\"}}\n"
      "</tool_call>";
  const std::string loose = "<tool_call>{\"name\": \"get\", \"arguments\": {}}</tool_call>";
  const std::string ping = "<tool_call>{\"name\": \"ping\", \"arguments\": 7}</tool_call>";

  // Nothing strict: "auto" stays free (the parser reads whatever comes).
  for (const char* fields : {R"("tool_choice": "auto")", R"("temperature": 0)"}) {
    auto free = parse(body(fields), hermes);
    EXPECT_TRUE(free.tool_choice.parse_auto);
    EXPECT_TRUE(free.completion.generation.sampling.grammar.empty()) << fields;
  }

  // --tool-strict-level function: the call format, arguments free unless the tool is strict.
  completion_limits function = hermes;
  function.strict_tools = tool_strict_level::function;
  auto held = parse(body(R"("tool_choice": "auto")"), function);
  EXPECT_TRUE(held.tool_choice.parse_auto);
  EXPECT_FALSE(held.tool_choice.parser_format);
  for (const std::string& text :
       {std::string(""), std::string("Hello"), std::string("Hello <tool_cal"), "Hi " + call,
        call + " and " + ping, call + ping + " bye", loose, "<<tool_call>" + call.substr(11),
        std::string("<tool_call") + "\n" + std::string(5000, 'x')}) {
    EXPECT_TRUE(accepts(held, text)) << text;
  }
  for (const std::string& text :
       {std::string("<tool_call>junk"), "Hi " + call.substr(0, 40) + "x",
        std::string("<tool_call>{\"name\": \"other\", \"arguments\": {}}</tool_call>"),
        call + "<tool_call>\n"}) {
    EXPECT_FALSE(accepts(held, text)) << text;
  }
  // An explicit null tool_choice is None for vLLM: parsed as "auto", held to nothing.
  EXPECT_TRUE(parse(body(R"("tool_choice": null)"), function)
                  .completion.generation.sampling.grammar.empty());

  // parallel_tool_calls false (any level): the answer ends after its first call.
  auto single = parse(body(R"("tool_choice": "auto", "parallel_tool_calls": false)"), hermes);
  EXPECT_TRUE(accepts(single, "Sure. " + call));
  EXPECT_TRUE(accepts(single, "No call needed."));
  EXPECT_FALSE(accepts(single, call + ping));
  EXPECT_FALSE(accepts(single, call + " done"));

  // A strict tool (level auto): its arguments follow its parameters; the others' stay free.
  const std::string strict_tools = R"({"messages": [], "tools": [
      {"type": "function", "function": {"name": "get", "strict": true, "parameters":
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
      )" + ping_tool + "]}";
  auto strict = parse(strict_tools, hermes);
  EXPECT_TRUE(accepts(strict, "Let me look. " + call + ping));
  EXPECT_FALSE(accepts(strict, loose));

  // --tool-strict-level parameter: every tool's arguments follow its parameters.
  completion_limits parameter = hermes;
  parameter.strict_tools = tool_strict_level::parameter;
  auto all = parse(body(R"("tool_choice": "auto")"), parameter);
  EXPECT_TRUE(accepts(all, call));
  EXPECT_FALSE(accepts(all, loose));
  auto required = parse(body(R"("tool_choice": "required")"), parameter);
  EXPECT_FALSE(accepts(required, loose));
  EXPECT_TRUE(accepts(required, call));

  // "required" with parallel_tool_calls false: exactly one call.
  auto one = parse(body(R"("tool_choice": "required", "parallel_tool_calls": false)"), hermes);
  EXPECT_TRUE(accepts(one, ping));
  EXPECT_FALSE(accepts(one, ping + ping));

  // "auto" with a structured output: calls only, or that output.
  auto either = parse(body(R"("response_format": {"type": "json_schema", "json_schema":
      {"name": "n", "schema": {"type": "object", "properties": {"n": {"type": "integer"}},
       "required": ["n"]}}})"),
                      function);
  EXPECT_TRUE(accepts(either, R"({"n": 3})"));
  EXPECT_TRUE(accepts(either, call + ping));
  EXPECT_FALSE(accepts(either, "Hi " + call));
  EXPECT_FALSE(accepts(either, R"({"m": 3})"));
  // ... and with parallel_tool_calls false only a strict tool brings the calls in (vLLM keeps
  // the output's grammar alone otherwise).
  auto output_only = parse(body(R"("parallel_tool_calls": false, "response_format":
      {"type": "json_object"})"),
                           hermes);
  EXPECT_FALSE(accepts(output_only, call));
  EXPECT_TRUE(accepts(output_only, R"({"a": 1})"));
}

// vLLM 0.32's mistral parser reads forced calls itself: "required" and named answers are held to
// a bare JSON array of {"name", "arguments"} calls (one for a named choice), read back by the
// parser; a request's own structured_outputs stay instead.
TEST(tool_choice, mistral_holds_a_forced_call_to_a_bare_array) {
  completion_limits mistral = limits;
  mistral.tool_parser = tool_parser_kind::mistral;
  auto parse = [&](const std::string& text) {
    auto parsed = parse_chat_completion_request(text, mistral, 42);
    EXPECT_TRUE(std::holds_alternative<chat_completion_request>(parsed)) << text;
    return std::get<chat_completion_request>(std::move(parsed));
  };
  auto required = parse(body(R"("tool_choice": "required", "parallel_tool_calls": false)"));
  EXPECT_TRUE(required.tool_choice.parser_format);
  EXPECT_TRUE(accepts(required, R"([{"name": "get", "arguments": {"city": "Oslo"}}])"));
  EXPECT_TRUE(accepts(required, R"([{"name": "ping", "arguments": {"any": [1]}},
                                    {"name": "get", "arguments": {"city": "Rome"}}])"));
  EXPECT_FALSE(accepts(required, R"([])"));
  EXPECT_FALSE(accepts(required, R"([{"name": "get", "arguments": {}}])"));
  EXPECT_FALSE(accepts(required, R"([{"name": "ping", "arguments": 3}])"));
  EXPECT_FALSE(accepts(required, R"([{"name": "get", "parameters": {"city": "Oslo"}}])"));
  EXPECT_FALSE(accepts(required, R"([TOOL_CALLS][{"name": "ping", "arguments": {}}])"));

  auto named = parse(body(R"("tool_choice": {"type": "function", "function": {"name": "ping"}},
      "response_format": {"type": "json_object"})"));
  EXPECT_TRUE(named.tool_choice.parser_format);
  EXPECT_TRUE(accepts(named, R"([{"name": "ping", "arguments": {}}])"));
  EXPECT_FALSE(accepts(named, R"([{"name": "get", "arguments": {"city": "Oslo"}}])"));
  EXPECT_FALSE(accepts(named, R"([{"name": "ping", "arguments": {}}, {"name": "ping",
                                  "arguments": {}}])"));
  EXPECT_FALSE(accepts(named, R"({"a": 1})"));

  // Its own structured_outputs stay (vLLM injects the schema only without them).
  auto own = parse(body(R"("tool_choice": "required", "structured_outputs": {"regex": "[ab]+"})"));
  EXPECT_TRUE(own.tool_choice.parser_format);
  EXPECT_TRUE(accepts(own, "abba"));
  EXPECT_FALSE(accepts(own, R"([{"name": "ping", "arguments": {}}])"));

  // "auto" is held to nothing.
  EXPECT_TRUE(parse(body(R"("tool_choice": "auto", "parallel_tool_calls": false)"))
                  .completion.generation.sampling.grammar.empty());
}

// Under llama3_json vLLM 0.32 holds "auto" (under the same conditions as hermes) and forced calls
// to xgrammar's builtin "llama" tag. The verdicts are xgrammar's for the tags vLLM builds
// (get_model_structural_tag("llama", ...), limit_to_single_tool_call), over these texts.
TEST(tool_choice, llama3_json_holds_calls_to_the_llama_tag) {
  const std::vector<std::string> texts = {
      "",
      "Hello",
      R"(x {"name": "get", "parameters": {"city": "Lyon"}} y)",
      R"({"name": "get", "parameters": {"city": "Lyon"}})",
      R"({"name": "get", "parameters": {"town": 1}})",
      R"({"name": "ping", "parameters": {"a": [1]}})",
      R"({"name": "pong", "parameters": {}})",
      R"({"name": "get", "parameters": {"city": "A"}}{"name": "ping", "parameters": 3})",
      R"({"name": "get", "parameters": {"city": "A"}} then)",
      "a <think> b",
      R"({"name": )",
      R"({"name": "ping", "parameters": {}}; {"name": "ping", "parameters": {}})",
  };
  struct held {
    std::string request;
    tool_strict_level level;
    std::vector<bool> verdicts;  // per text
  };
  const std::string strict_get = R"({"messages": [{"role": "user", "content": "Hi"}], "tools": [
      {"type": "function", "function": {"name": "get", "strict": true, "parameters": {"type":
      "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}, )" +
                                 ping_tool + "]}";
  const std::vector<held> cases = {
      {strict_get, tool_strict_level::automatic, {1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 0, 1}},
      {body(R"("parallel_tool_calls": false)"),
       tool_strict_level::function,
       {1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0}},
      {body(R"("tool_choice": "required")"),
       tool_strict_level::automatic,
       {0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 0, 1}},
      {body(R"("tool_choice": "required", "parallel_tool_calls": false)"),
       tool_strict_level::automatic,
       {0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0}},
      {body(R"("tool_choice": {"type": "function", "function": {"name": "get"}})"),
       tool_strict_level::automatic,
       {0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0}},
      {body(R"("tool_choice": {"type": "function", "function": {"name": "get"}})"),
       tool_strict_level::parameter,
       {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}},
  };
  for (const held& c : cases) {
    completion_limits llama = limits;
    llama.tool_parser = tool_parser_kind::llama3_json;
    llama.strict_tools = c.level;
    auto parsed = parse_chat_completion_request(c.request, llama, 42);
    ASSERT_TRUE(std::holds_alternative<chat_completion_request>(parsed)) << c.request;
    const auto& r = std::get<chat_completion_request>(parsed);
    ASSERT_FALSE(r.completion.generation.sampling.grammar.empty()) << c.request;
    EXPECT_EQ(r.tool_choice.parser_format, r.tool_choice.type != tool_choice_mode::kind::none);
    for (size_t i = 0; i < texts.size(); ++i)
      EXPECT_EQ(accepts(r, texts[i]), c.verdicts[i]) << c.request << "\ntext: " << texts[i];
  }
  // Without a strict tool, a level above auto or parallel_tool_calls false, "auto" is free.
  completion_limits llama = limits;
  llama.tool_parser = tool_parser_kind::llama3_json;
  auto free = parse_chat_completion_request(body(R"("tool_choice": "auto")"), llama, 42);
  ASSERT_TRUE(std::holds_alternative<chat_completion_request>(free));
  EXPECT_TRUE(
      std::get<chat_completion_request>(free).completion.generation.sampling.grammar.empty());
}

}  // namespace
}  // namespace troupe::http
