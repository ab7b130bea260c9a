// Dataset samplers with a small word-per-token tokenizer: lengths, determinism, filtering, and
// errors that name the line.
#include "loadgen/datasets.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace troupe::loadgen {
namespace {

// "w<i> ", built by appends (GCC 12 flags `"w" + std::to_string(i)` with a false -Wrestrict).
std::string word(int32_t i) {
  std::string s = "w";
  s += std::to_string(i);
  s += ' ';
  return s;
}

// Token i is the word "w<i> "; anything else encodes to one token per word (id 0).
class word_tokenizer : public runtime::tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool) const override {
    std::vector<int32_t> ids;
    std::istringstream in{std::string(text)};
    std::string word;
    while (in >> word) {
      ids.push_back(word.size() > 1 && word[0] == 'w' ? std::stoi(word.substr(1)) % 97 : 0);
    }
    return ids;
  }
  std::string decode(std::span<const int32_t> ids, bool) const override {
    std::string out;
    for (int32_t id : ids)
      out += token_bytes(id);
    return out;
  }
  std::string token_bytes(int32_t id) const override { return word(id); }
  int32_t vocab_size() const override { return 97; }
  int32_t bos_id() const override { return 0; }
  int32_t eos_id() const override { return 0; }
  bool is_special(int32_t) const override { return false; }
  bool is_eog(int32_t) const override { return false; }
};

tokenizer_ptr tok() {
  return std::make_shared<word_tokenizer>();
}

TEST(random_dataset, lengths_within_range_and_deterministic) {
  random_spec spec{100, 20, 0.5, 10};
  auto a = sample_random(tok(), spec, 50, 3);
  ASSERT_TRUE(a.ok()) << a.message();
  std::set<int32_t> lens;
  for (const auto& r : *a) {
    EXPECT_GE(r.prompt_len, 10 + 50);
    EXPECT_LE(r.prompt_len, 10 + 150);
    EXPECT_GE(r.expected_output_len, 10);
    EXPECT_LE(r.expected_output_len, 30);
    lens.insert(r.prompt_len);
  }
  EXPECT_GT(lens.size(), 5u);
  auto b = sample_random(tok(), spec, 50, 3);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*a)[7].prompt, (*b)[7].prompt);
  // The shared prefix is the same in every prompt.
  EXPECT_EQ((*a)[0].prompt.substr(0, 20), (*a)[1].prompt.substr(0, 20));
  EXPECT_FALSE(sample_random(nullptr, spec, 1, 0).ok());
}

TEST(random_dataset, zero_ratio_gives_exact_lengths) {
  auto a = sample_random(tok(), {32, 8, 0.0, 0}, 10, 1);
  ASSERT_TRUE(a.ok());
  for (const auto& r : *a) {
    EXPECT_EQ(r.prompt_len, 32);
    EXPECT_EQ(r.expected_output_len, 8);
  }
}

TEST(custom_dataset, reads_prompts_and_names_the_bad_line) {
  auto ok = sample_custom(tok(), "d.jsonl", "{\"prompt\": \"w1 w2 w3\"}\n\n{\"prompt\": \"w4\"}\n",
                          3, 16);
  ASSERT_TRUE(ok.ok()) << ok.message();
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[0].prompt_len, 3);
  EXPECT_EQ((*ok)[1].prompt, "w4");
  EXPECT_EQ((*ok)[2].prompt, "w1 w2 w3");  // cycled
  EXPECT_EQ((*ok)[0].expected_output_len, 16);
  auto bad = sample_custom(tok(), "d.jsonl", "{\"prompt\": \"a\"}\n{\"text\": 1}\n", 2, 16);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("d.jsonl:2"), std::string::npos) << bad.message();
  auto broken = sample_custom(tok(), "d.jsonl", "{\"prompt\": \"a\"}\n\n{oops\n", 2, 16);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.message().find("d.jsonl:3"), std::string::npos) << broken.message();
}

TEST(custom_dataset, template_applies_before_counting_and_errors_name_the_line) {
  prompt_transform wrap = [](const std::string& p) -> result<std::string> {
    if (p == "boom") return error{"raised"};
    return "u1 " + p + " a1";
  };
  auto ok = sample_custom(tok(), "d.jsonl", "{\"prompt\": \"w1 w2\"}\n", 2, 16, wrap);
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)[0].prompt, "u1 w1 w2 a1");
  EXPECT_EQ((*ok)[0].prompt_len, 4);
  EXPECT_EQ((*ok)[1].prompt, "u1 w1 w2 a1");  // cycled after templating, not templated twice
  auto bad =
      sample_custom(tok(), "d.jsonl", "{\"prompt\": \"a\"}\n{\"prompt\": \"boom\"}\n", 2, 16, wrap);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("d.jsonl:2: chat template: raised"), std::string::npos)
      << bad.message();
}

std::string conversation(int prompt_words, int reply_words) {
  auto words = [](int n) {
    std::string s;
    for (int i = 0; i < n; ++i)
      s += word(i);
    return s;
  };
  std::string out = "{\"conversations\": [{\"from\": \"human\", \"value\": \"";
  out += words(prompt_words);
  out += "\"}, {\"from\": \"gpt\", \"value\": \"";
  out += words(reply_words);
  out += "\"}]}";
  return out;
}

TEST(sharegpt_dataset, filters_like_benchmark_serving) {
  std::string text = "[";
  for (auto [p, r] : {std::pair{10, 10}, {2, 10}, {10, 3}, {1500, 10}, {20, 30}}) {
    text += conversation(p, r);
    text += ",";
  }
  text += "{\"conversations\": []}]";
  auto got = sample_sharegpt(tok(), "s.json", text, 10, std::nullopt, 0);
  ASSERT_TRUE(got.ok()) << got.message();
  ASSERT_EQ(got->size(), 2u);
  for (const auto& r : *got)
    EXPECT_TRUE(r.prompt_len == 10 || r.prompt_len == 20);
  auto fixed = sample_sharegpt(tok(), "s.json", text, 10, 5, 0);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ(fixed->size(), 5u);  // no filtering with a fixed output length
  auto broken = sample_sharegpt(tok(), "s.json", "[\n{\n", 1, std::nullopt, 0);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.message().find("s.json:"), std::string::npos);
}

TEST(prefix_repetition_dataset, prompts_share_prefixes) {
  auto got = sample_prefix_repetition(tok(), {8, 4, 2, 16}, 10, 5);
  ASSERT_TRUE(got.ok());
  std::set<std::string> prefixes;
  for (const auto& r : *got) {
    EXPECT_EQ(r.prompt_len, 12);
    std::istringstream in(r.prompt);
    std::string w, prefix;
    for (int i = 0; i < 8 && in >> w; ++i)
      prefix += w + " ";
    prefixes.insert(prefix);
  }
  EXPECT_EQ(prefixes.size(), 2u);
}

}  // namespace
}  // namespace troupe::loadgen
