#pragma once
// Tool calls from the answer of a chat request whose tool_choice forces a call, as vLLM 0.32
// makes them with a tool parser that supports "required" and named choices (hermes and most
// others): the request's grammar (http/tool_choice.hpp) holds the answer to JSON, and the
// response turns that JSON into message.tool_calls.
//
//   named      answer = the function's arguments object      -> one call, arguments = the text
//   required   answer = [{"name": N, "parameters": {...}}, ...] -> one call per element,
//                                                               arguments = json.dumps(parameters)
//
// Non-streaming (vLLM's Parser._extract_tool_calls): named gives no call for a blank answer;
// required gives none when the answer does not parse as that array (a cut answer), and writes
// each call's parameters as Python does (http/python_json.hpp). The message's content is "".
// Streaming (vLLM's extract_named_tool_call_streaming / extract_required_tool_call_streaming):
// named sends each piece of text as the arguments of call 0, the first with the call's id and
// name; required sends a call once its name is complete and its parameters have begun (id, name
// and the parameters text so far), then each new piece of its parameters text with "name": null.
// finish_reason: "tool_calls" for required where the engine said "stop" (streaming: once a call
// was sent), else the engine's. With parallel_tool_calls false only call 0 is kept.
//
// Ids are "chatcmpl-tool-" + 16 random hex digits. Not thread-safe per object; the owning
// responder calls it from its session's strand.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::http {

// vLLM 0.32's --tool-strict-level: the server's floor for holding tool calls to the tools under
// a tool parser with a structural tag (hermes, http/tool_choice.hpp).
//   automatic  "auto" (vLLM's default): tool_choice "auto" is held only when a tool says
//              "strict": true (or parallel_tool_calls is false); arguments follow the
//              parameters of the tools that say "strict": true
//   function   "function": every "auto" request with tools is held to the call format
//   parameter  "parameter": and every tool's arguments follow its parameters
enum class tool_strict_level : uint8_t { automatic, function, parameter };

// "auto", "function" or "parameter" (vLLM's names); nullopt for any other.
std::optional<tool_strict_level> find_tool_strict_level(std::string_view name);

// What a chat request's tool_choice asks of the answer.
struct tool_choice_mode {
  enum class kind : uint8_t {
    none,      // "none", "auto" or absent: the answer is content
    required,  // "required": an array of calls to any of the tools
    named,     // {"type": "function", "function": {"name"}}: one call to that function
  };
  kind type = kind::none;
  std::string function_name;        // kind::named
  bool parallel_tool_calls = true;  // false (given explicitly): only the first call is kept
  // kind::none with tools, tool_choice "auto" or absent, and the server's
  // --enable-auto-tool-choice: the answer is parsed for calls by the server's tool parser.
  bool parse_auto = false;
  // A forced call held to the server's tool parser's own format (hermes, as vLLM's structural
  // tag holds it) instead of vLLM's JSON schema: the parser reads the calls back.
  bool parser_format = false;
};

// A call of a non-streaming message.
struct tool_call {
  std::string id;
  std::string name;
  std::string arguments;
};

// One call's piece of a stream chunk.
struct tool_call_delta {
  int32_t index = 0;  // the call's place in the answer
  // The call's first delta: its id (written with "type": "function") and name. Empty on later
  // deltas, which write "name": null when null_name (the required stream) and no name otherwise.
  std::string id;
  std::string name;
  bool null_name = false;
  std::string arguments;
  // The auto tool parsers' shapes (http/tool_parsers.hpp): hermes and llama3_json send a call's
  // first delta without "arguments" (has_arguments false); pythonic's later deltas write
  // "id": null (null_id) before "index".
  bool has_arguments = true;
  bool null_id = false;
  // mistral's shape (vLLM's pre-v11 MistralParser): every delta writes "type": "function", with
  // or without an id, and "name" only where has_name (a call's first delta may lack it, a later
  // one may bring it).
  bool mistral_shape = false;
  bool has_name = false;
};

// "chatcmpl-tool-<16 hex>"; thread-safe.
std::string make_tool_call_id();
// Mistral's id: 9 random ASCII letters and digits (Mistral's chat templates refuse any other
// id in a later turn); thread-safe.
std::string make_mistral_tool_call_id();

// The calls of a whole answer (mode.type != none), with fresh ids.
std::vector<tool_call> parse_tool_calls(const tool_choice_mode& mode, std::string_view text);

// The finish reason a choice reports: `engine_reason` ("stop" when empty) unless the mode
// makes it "tool_calls". `calls_streamed`: for a stream, whether any call was sent (a complete
// response passes true).
std::string tool_choice_finish_reason(const tool_choice_mode& mode, std::string_view engine_reason,
                                      bool calls_streamed);

// One choice's stream of tool-call deltas.
class tool_call_stream {
 public:
  explicit tool_call_stream(tool_choice_mode mode);
  tool_call_stream(tool_call_stream&&) noexcept;
  tool_call_stream& operator=(tool_call_stream&&) noexcept;
  ~tool_call_stream();

  // The deltas the next piece of the answer's text brings (possibly none).
  std::vector<tool_call_delta> on_text(std::string_view text);
  // Whether any call has been sent (vLLM's tools_streamed).
  bool calls_streamed() const { return calls_streamed_; }

 private:
  struct required_scanner;
  std::vector<tool_call_delta> named_deltas(std::string_view text);
  std::vector<tool_call_delta> required_deltas(std::string_view text);

  tool_choice_mode mode_;
  bool calls_streamed_ = false;
  std::unique_ptr<required_scanner> scanner_;  // kind::required
};

}  // namespace troupe::http
