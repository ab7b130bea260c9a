// The chat chunk's tool_calls in each delta shape vLLM dumps (http/chat_json.hpp).
#include "http/chat_json.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::http {
namespace {

// The "tool_calls" array of a chunk whose delta holds `calls`.
std::string tool_calls_json(std::vector<tool_call_delta> calls) {
  chat_choice choice;
  choice.parsed = parsed_delta{{}, {}, std::move(calls)};
  const std::string chunk = chat_delta_chunk_json({"chatcmpl-x", 1, "m", {}}, choice, {}, false);
  const size_t start = chunk.find("\"tool_calls\":");
  const size_t end = chunk.find("]}", start);
  return start == std::string::npos ? chunk : chunk.substr(start, end + 1 - start);
}

TEST(ChatJson, WritesMistralToolDeltas) {
  tool_call_delta first;
  first.index = 0;
  first.id = "abcDEF123";
  first.mistral_shape = true;
  first.has_name = true;
  first.name = "f";
  first.has_arguments = false;
  EXPECT_EQ(tool_calls_json({first}),
            R"("tool_calls":[{"id":"abcDEF123","type":"function","index":0,)"
            R"("function":{"name":"f"}}])");
  // A later piece keeps "type" but has no id; arguments first, the name coming later.
  tool_call_delta later;
  later.index = 1;
  later.mistral_shape = true;
  later.arguments = "{\"a\"";
  tool_call_delta named = later;
  named.has_name = true;
  named.name = "g";
  named.has_arguments = false;
  EXPECT_EQ(tool_calls_json({later, named}),
            R"("tool_calls":[{"type":"function","index":1,"function":{"arguments":"{\"a\""}},)"
            R"({"type":"function","index":1,"function":{"name":"g"}}])");
}

TEST(ChatJson, WritesOtherToolDeltasAsBefore) {
  tool_call_delta first;
  first.id = "chatcmpl-tool-1";
  first.name = "f";
  first.has_arguments = false;
  tool_call_delta later;
  later.arguments = "{}";
  later.null_id = true;
  EXPECT_EQ(tool_calls_json({first, later}),
            R"("tool_calls":[{"id":"chatcmpl-tool-1","type":"function","index":0,)"
            R"("function":{"name":"f"}},{"id":null,"index":0,"function":{"arguments":"{}"}}])");
}

}  // namespace
}  // namespace troupe::http
