#pragma once
// The structural tag vLLM 0.32 holds llama3_json tool calls to (xgrammar's builtin "llama" tag,
// through vLLM's Parser._apply_structural_tag), as grammar text:
//
//   a call    {"name": "N", "parameters": ARGS}     N one of the tools; ARGS following its
//                                                   parameters when the tool is strict (or every
//                                                   tool with --tool-strict-level parameter),
//                                                   any JSON value otherwise
//   automatic any text without "<think>"/"</think>", in which '{"name": ' begins a call that
//             must be whole, then any text again (xgrammar's triggered tags)
//   required  the same, starting with a call (at_least_one)
//   forced    the named tool's call alone
//   single    (parallel_tool_calls false) nothing after the first call
//
// Built as a runtime::grammar structural tag. Internal to http/: it exposes rapidjson.
#include <string>
#include <string_view>

#include "http/request_fields.hpp"

namespace troupe::http {

struct llama_tool_tag {
  enum class choice : uint8_t { automatic, required, forced };
  choice kind = choice::automatic;
  std::string_view forced_name;  // choice::forced
  bool single = false;
  bool all_strict = false;
};

// The grammar of `tag` over `tools` (checked by http/chat_messages) in `out`; a 400 naming
// `tools` for a tool whose parameters do not convert.
parse_error llama_tool_grammar(const Value& tools, const llama_tool_tag& tag, std::string& out);

}  // namespace troupe::http
