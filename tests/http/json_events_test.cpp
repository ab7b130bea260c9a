// http/json_events.hpp against ijson 3.6's yajl2_c backend (the events and errors below are what
// ijson.parse_coro reported for the same pieces).
#include "http/json_events.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::http {
namespace {

// Each piece's events as "prefix:type[=value]" joined by ' ', "ERR" appended after an error.
std::vector<std::string> run(const std::vector<std::string>& pieces) {
  static const char* const names[] = {"start_map", "end_map", "start_array", "end_array", "map_key",
                                      "string",    "number",  "boolean",     "null"};
  json_event_parser parser;
  std::vector<std::string> out;
  for (const std::string& piece : pieces) {
    std::vector<json_event_parser::event> events;
    const bool ok = parser.feed(piece, events);
    std::string line;
    for (const auto& e : events) {
      if (!line.empty()) line += ' ';
      line += e.prefix + ":" + names[static_cast<int>(e.type)];
      if (e.type == json_event_parser::event_type::map_key ||
          e.type == json_event_parser::event_type::string)
        line += "=" + e.value;
    }
    if (!ok) line += line.empty() ? "ERR" : " ERR";
    out.push_back(line);
  }
  return out;
}

TEST(JsonEvents, EmitsWhenIjsonDoes) {
  // A number waits for the character after it; strings and literals complete at their end.
  EXPECT_EQ(run({"[1", ",", "2]"}),
            (std::vector<std::string>{":start_array", "item:number", "item:number :end_array"}));
  EXPECT_EQ(run({"{\"a\"", ":", "\"x\"", "}"}),
            (std::vector<std::string>{":start_map :map_key=a", "", "a:string=x", ":end_map"}));
  EXPECT_EQ(run({"tru", "e"}), (std::vector<std::string>{"", ":boolean"}));
  EXPECT_EQ(run({"[{\"name\": \"f\", \"arguments\": {\"a\": [1]}}]"}),
            (std::vector<std::string>{
                ":start_array item:start_map item:map_key=name item.name:string=f "
                "item:map_key=arguments item.arguments:start_map item.arguments:map_key=a "
                "item.arguments.a:start_array item.arguments.a.item:number "
                "item.arguments.a:end_array item.arguments:end_map item:end_map :end_array"}));
  // yajl's whitespace includes \v and \f.
  EXPECT_EQ(run({"[\v1\f]"}), (std::vector<std::string>{":start_array item:number :end_array"}));
}

TEST(JsonEvents, BuildsPrefixesAsTheCBackend) {
  EXPECT_EQ(run({"{\"\": {\"x\": [1]}}"}),
            (std::vector<std::string>{":start_map :map_key= :start_map :map_key=x .x:start_array "
                                      ".x.item:number .x:end_array :end_map :end_map"}));
  EXPECT_EQ(run({"{\"\": [{\"a.b\": 1}]}"}),
            (std::vector<std::string>{":start_map :map_key= :start_array item:start_map "
                                      "item:map_key=a.b item.a.b:number item:end_map :end_array "
                                      ":end_map"}));
}

TEST(JsonEvents, DecodesEscapesAsYajl) {
  EXPECT_EQ(run({"[\"a\\u00", "e9\\ud83d\\ude00\\/\"]"}),
            (std::vector<std::string>{":start_array", "item:string=aé😀/ :end_array"}));
  // A high surrogate without a \u escape after it becomes '?'; a lone low one fails.
  EXPECT_EQ(run({"[\"\\ud83dab\"]"}),
            (std::vector<std::string>{":start_array item:string=?ab :end_array"}));
  EXPECT_EQ(run({"[\"\\udc00\"]"}), (std::vector<std::string>{":start_array ERR"}));
}

TEST(JsonEvents, FailsWhereYajlDoesAndStaysFailed) {
  // A token out of place fails once it is complete.
  EXPECT_EQ(run({"{5", "}", "{}"}), (std::vector<std::string>{":start_map", "ERR", "ERR"}));
  EXPECT_EQ(run({"[01", "]"}), (std::vector<std::string>{":start_array item:number", "ERR"}));
  EXPECT_EQ(run({"[1]x"}), (std::vector<std::string>{":start_array item:number :end_array ERR"}));
  EXPECT_EQ(run({"{\"a\": 1}  ", "x"}),
            (std::vector<std::string>{":start_map :map_key=a a:number :end_map", "ERR"}));
  EXPECT_EQ(run({"[1,]"}), (std::vector<std::string>{":start_array item:number ERR"}));
  EXPECT_EQ(run({"[NaN]"}), (std::vector<std::string>{":start_array ERR"}));
  EXPECT_EQ(run({"[\"\x01\"]"}), (std::vector<std::string>{":start_array ERR"}));
  EXPECT_EQ(run({"[1.", "]"}), (std::vector<std::string>{":start_array", "ERR"}));
  EXPECT_EQ(run({"/* c */[1]"}), (std::vector<std::string>{"ERR"}));
}

}  // namespace
}  // namespace troupe::http
