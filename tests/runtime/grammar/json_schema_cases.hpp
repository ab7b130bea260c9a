#pragma once
// Tables of (schema, text, accepted) for the JSON-schema converter's tests: every row is one
// where vLLM 0.32 with xgrammar 0.2.8 gives the same answer (tools/compare_json_schema_grammar.py),
// except the rows marked "differs": the deliberate differences listed in
// runtime/grammar/json_schema_grammar.hpp.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/json_schema_grammar.hpp"

namespace troupe::runtime::grammar::schema_testing {

struct text_case {
  const char* text;
  bool accepted;
};

struct schema_cases {
  const char* schema;
  std::vector<text_case> texts;
};

inline std::string grammar_for(const char* schema, bool any_whitespace = true) {
  json_schema_options options;
  options.any_whitespace = any_whitespace;
  auto g = json_schema_to_grammar(schema, options);
  EXPECT_TRUE(g.ok()) << schema << ": " << g.message();
  return g.ok() ? *g : std::string();
}

inline bool accepted(const std::string& grammar, std::string_view text) {
  auto r = accepts(grammar, text);
  EXPECT_TRUE(r.ok()) << r.message() << "\n" << grammar;
  return r.ok() && *r;
}

inline void expect_language(const std::vector<schema_cases>& table, bool any_whitespace = true) {
  for (const auto& [schema, texts] : table) {
    std::string g = grammar_for(schema, any_whitespace);
    for (const auto& [text, expected] : texts)
      EXPECT_EQ(accepted(g, text), expected) << schema << " on '" << text << "'\n" << g;
  }
}

}  // namespace troupe::runtime::grammar::schema_testing
