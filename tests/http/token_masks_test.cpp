// allowed_token_ids and bad_words in a request: vLLM's checks and messages, and bad words
// tokenized as vLLM does (alone, and after a space when that makes a new first token).
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "http/completion_request.hpp"
#include "http/sampling_fields.hpp"
#include "tests/http/fake_engine.hpp"

namespace troupe::http {
namespace {

const completion_limits limits{"smollm", 1000};

std::variant<completion_request, api_error> parse(const std::string& body) {
  return parse_completion_request(body, limits, 1);
}

api_error error_of(const std::string& body) {
  auto parsed = parse(body);
  if (auto* error = std::get_if<api_error>(&parsed)) return *error;
  ADD_FAILURE() << body << " was accepted";
  return {};
}

TEST(token_masks, allowed_token_ids_are_kept_sorted_once_and_checked) {
  auto parsed = parse(R"({"prompt": "a", "allowed_token_ids": [40, 3, 40, 999]})");
  ASSERT_TRUE(std::holds_alternative<completion_request>(parsed));
  EXPECT_EQ(std::get<completion_request>(parsed).generation.sampling.allowed_token_ids,
            (std::vector<int32_t>{3, 40, 999}));
  auto e = error_of(R"({"prompt": "a", "allowed_token_ids": []})");
  EXPECT_EQ(e.message, "allowed_token_ids is not None and empty!");
  EXPECT_EQ(e.param, "allowed_token_ids");
  e = error_of(R"({"prompt": "a", "allowed_token_ids": [1, 1000]})");
  EXPECT_EQ(e.message, "allowed_token_ids contains out-of-vocab token id!");
  EXPECT_EQ(error_of(R"({"prompt": "a", "allowed_token_ids": ["1"]})").status, 400);
  EXPECT_EQ(error_of(R"({"prompt": "a", "allowed_token_ids": -1})").param, "allowed_token_ids");
}

TEST(token_masks, bad_words_are_non_empty_strings_kept_once) {
  auto parsed = parse(R"({"prompt": "a", "bad_words": ["no", "way", "no"]})");
  ASSERT_TRUE(std::holds_alternative<completion_request>(parsed));
  EXPECT_EQ(std::get<completion_request>(parsed).bad_words,
            (std::vector<std::string>{"no", "way"}));
  auto e = error_of(R"({"prompt": "a", "bad_words": ["it's", ""]})");
  EXPECT_EQ(e.message, R"(bad_words cannot contain an empty string. Got bad_words=['it\'s', ''])");
  EXPECT_EQ(e.param, "");  // vLLM's SamplingParams names none
  EXPECT_EQ(error_of(R"({"prompt": "a", "bad_words": "no"})").param, "bad_words");
  EXPECT_EQ(error_of(R"({"prompt": "a", "bad_words": [1]})").param, "bad_words");
}

// A word-piece tokenizer in miniature: "cat", " cat" and " dog" are single tokens, everything
// else bytes.
class word_tokenizer final : public runtime::tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool) const override {
    static const std::map<std::string_view, int32_t> words = {
        {" cat", 300}, {" dog", 301}, {"cat", 302}};
    if (auto it = words.find(text); it != words.end()) return {it->second};
    return bytes_.encode(text, false);
  }
  std::string decode(std::span<const int32_t> ids, bool skip) const override {
    return bytes_.decode(ids, skip);
  }
  std::string token_bytes(int32_t id) const override { return bytes_.token_bytes(id); }
  int32_t vocab_size() const override { return 303; }
  int32_t bos_id() const override { return 256; }
  int32_t eos_id() const override { return 256; }
  bool is_special(int32_t id) const override { return id == 256; }
  bool is_eog(int32_t id) const override { return id == 256; }

 private:
  testing::byte_tokenizer bytes_;
};

TEST(token_masks, bad_words_tokenize_alone_and_after_a_space_when_that_is_one_new_word) {
  const word_tokenizer tokenizer;
  auto ids = tokenize_bad_words({"  dog", "cat", "x"}, tokenizer);
  ASSERT_TRUE(std::holds_alternative<std::vector<std::vector<int32_t>>>(ids));
  // "dog" (3 bytes, leading spaces stripped) and " dog" (one token: not as many, left out);
  // "cat" and " cat" (one token each, another first token: both); "x" and " x" (two bytes:
  // longer, left out).
  EXPECT_EQ(std::get<std::vector<std::vector<int32_t>>>(ids),
            (std::vector<std::vector<int32_t>>{{'d', 'o', 'g'}, {302}, {300}, {'x'}}));
  const testing::byte_tokenizer bytes;
  std::vector<std::string> many;
  for (int i = 0; i < 129; ++i)
    many.push_back(std::to_string(i));
  auto refused = tokenize_bad_words(many, bytes);
  ASSERT_TRUE(std::holds_alternative<api_error>(refused));
  EXPECT_EQ(std::get<api_error>(refused).message,
            "Too many bad words after tokenization: 129. The max number is 128.");
}

}  // namespace
}  // namespace troupe::http
