// Structured outputs end to end on the embedded default model (SmolLM2-135M-Instruct): whatever
// the model would rather say, every answer matches its constraint (a JSON schema, a regex, a
// choice, any JSON object), greedy or sampled, alone or sixteen at once: complete when it
// finished with "stop", the beginning of a match when max_tokens cut it. Skips when the model
// has not been fetched (tools/setup.sh --model).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>
#include <thread>
#include <vector>

#include "runtime/grammar/grammar.hpp"
#include "runtime/grammar/json_schema_grammar.hpp"
#include "runtime/grammar/regex_grammar.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/http/test_client.hpp"
#include "tests/integration/suite_server.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

using http::testing::parse_json;
using http::testing::test_client;

const std::string person_schema =
    R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 12},
        "age": {"type": "integer"}, "city": {"enum": ["Paris", "Rome", "Oslo"]}},
        "required": ["name", "age", "city"]})";

class structured_outputs : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (testing::default_model_gguf().empty()) return;
    suite_.start(runtime::build_engine(testing::default_model_suite_config()));
  }
  static void TearDownTestSuite() { suite_.stop(); }
  void SetUp() override {
    if (suite_.engine() == nullptr)
      GTEST_SKIP() << "default model not fetched (tools/setup.sh --model)";
  }
  static uint16_t port() { return suite_.server().port(); }

  // The choices' (text, finish_reason) of a /v1/completions or chat answer.
  static std::vector<std::pair<std::string, std::string>> post(const std::string& target,
                                                               const std::string& body) {
    test_client client(port());
    auto reply = client.request(boost::beast::http::verb::post, target, body);
    EXPECT_EQ(reply.status, 200) << reply.body;
    std::vector<std::pair<std::string, std::string>> out;
    if (reply.status != 200) return out;
    auto doc = parse_json(reply.body);
    for (const auto& c : doc["choices"].GetArray()) {
      const auto& text = c.HasMember("message") ? c["message"]["content"] : c["text"];
      out.emplace_back(text.GetString(), c["finish_reason"].GetString());
    }
    return out;
  }

  // A finished answer matches; one cut by max_tokens begins a match.
  static bool matches(const std::string& grammar, const std::string& text,
                      const std::string& finish = "stop") {
    auto r = finish == "length" ? runtime::grammar::accepts_prefix(grammar, text)
                                : runtime::grammar::accepts(grammar, text);
    EXPECT_TRUE(r.ok()) << r.message();
    return r.ok() && *r;
  }

  static inline testing::suite_server suite_;
};

TEST_F(structured_outputs, json_schema_answers_parse_and_follow_the_schema) {
  const auto grammar = runtime::grammar::json_schema_to_grammar(person_schema);
  ASSERT_TRUE(grammar.ok()) << grammar.message();
  // Greedy, then sampled four times: every answer is complete JSON of the schema.
  for (const std::string& sampling : {std::string(R"("temperature": 0)"),
                                      std::string(R"("temperature": 1.0, "n": 4, "seed": 3)")}) {
    const auto answers = post(
        "/v1/completions",
        R"({"prompt": "<|im_start|>user\nDescribe a person as JSON.<|im_end|>\n<|im_start|>assistant\n",
                                  "max_tokens": 96, )" +
            sampling +
            R"(, "response_format": {"type": "json_schema",
                                  "json_schema": {"name": "person", "schema": )" +
            person_schema + "}}}");
    ASSERT_FALSE(answers.empty());
    for (const auto& [text, finish] : answers) {
      EXPECT_EQ(finish, "stop") << text;
      EXPECT_TRUE(matches(*grammar, text)) << text;
      rapidjson::Document doc;
      doc.Parse(text.c_str());
      ASSERT_FALSE(doc.HasParseError()) << text;
      EXPECT_TRUE(doc["name"].IsString() && doc["age"].IsInt64()) << text;
    }
  }
}

TEST_F(structured_outputs, completions_follow_a_regex_a_choice_and_any_json_object) {
  const auto regex = runtime::grammar::regex_to_grammar("[0-9]{3}-[0-9]{4}");
  const auto choice = runtime::grammar::choice_to_grammar({"yes", "no", "maybe not"});
  const std::string object = runtime::grammar::json_object_grammar();
  ASSERT_TRUE(regex.ok() && choice.ok());
  const std::pair<std::string, std::string> cases[] = {
      {R"("structured_outputs": {"regex": "[0-9]{3}-[0-9]{4}"})", *regex},
      {R"("structured_outputs": {"choice": ["yes", "no", "maybe not"]})", *choice},
      {R"("response_format": {"type": "json_object"})", object},
  };
  for (const auto& [field, grammar] : cases) {
    const auto answers = post("/v1/completions", R"({"prompt": "Q: Is the sky green?\nA: ",
                                                     "max_tokens": 48, "temperature": 0.8,
                                                     "seed": 11, "n": 3, )" +
                                                     field + "}");
    ASSERT_EQ(answers.size(), 3u) << field;
    for (const auto& [text, finish] : answers)
      EXPECT_TRUE(matches(grammar, text, finish)) << field << ": " << finish << " " << text;
  }
}

// Sixteen constrained requests at once share steps (and the grammar's cached masks) with
// unconstrained ones; each answer still matches its own constraint.
TEST_F(structured_outputs, concurrent_constrained_and_free_requests_keep_their_own_rules) {
  const auto regex = runtime::grammar::regex_to_grammar("(ab|cd){2,5}");
  ASSERT_TRUE(regex.ok());
  std::vector<std::thread> clients;
  std::vector<std::vector<std::pair<std::string, std::string>>> answers(16);
  for (int i = 0; i < 16; ++i) {
    clients.emplace_back([&, i] {
      const std::string field =
          i % 2 == 0 ? R"(, "structured_outputs": {"regex": "(ab|cd){2,5}"})" : "";
      answers[static_cast<size_t>(i)] =
          post("/v1/completions", R"({"prompt": "Letters: ", "max_tokens": 24, "seed": )" +
                                      std::to_string(i) + field + "}");
    });
  }
  for (auto& c : clients)
    c.join();
  for (int i = 0; i < 16; i += 2) {
    ASSERT_EQ(answers[static_cast<size_t>(i)].size(), 1u);
    const auto& [text, finish] = answers[static_cast<size_t>(i)][0];
    EXPECT_TRUE(matches(*regex, text, finish)) << finish << " " << text;
  }
}

}  // namespace
}  // namespace troupe
