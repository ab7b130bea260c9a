// load_hf_tokenizer against the Hugging Face `tokenizers` 0.22.2 goldens of the shared test data
// (../shared/testdata/tokenizers/*/golden.jsonl): every line's ids_with_special, ids, decoded and
// decoded_skip_special, plus streaming detokenization equal to the full decode. Skips when the
// shared data is absent.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/runtime/tokenizer/hf_golden.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

void check_goldens(const std::string& dir) {
  const std::string root = testing::shared_testdata("tokenizers/" + dir);
  if (root.empty()) GTEST_SKIP() << "shared tokenizer test data absent";
  check_hf_goldens(root, dir);
  auto tok = load_hf_tokenizer(root);
  ASSERT_TRUE(tok.ok());
  check_random_streaming(*tok, 300);
}

TEST(HfGolden, Llama2) {
  check_goldens("llama2");
}
TEST(HfGolden, Llama2Metaspace) {
  check_goldens("llama2_metaspace");
}
TEST(HfGolden, Llama3) {
  check_goldens("llama3");
}
TEST(HfGolden, Qwen3) {
  check_goldens("qwen3");
}
TEST(HfGolden, Gemma3) {
  check_goldens("gemma3");
}

// A Llama-class tokenizer_config.json asking for eos as well (as transformers honours it).
TEST(HfTokenizer, LlamaClassFollowsAddBosAddEos) {
  const std::string root = testing::shared_testdata("tokenizers/llama2");
  if (root.empty()) GTEST_SKIP() << "shared tokenizer test data absent";
  const auto dir = std::filesystem::temp_directory_path() / "troupe_hftok_add_eos";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(root + "/tokenizer.json", dir / "tokenizer.json",
                             std::filesystem::copy_options::overwrite_existing);
  const auto write_config = [&](const char* flags) {
    std::ofstream(dir / "tokenizer_config.json")
        << R"({"tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", )"
        << flags << "}";
  };
  write_config(R"("add_bos_token": true, "add_eos_token": true)");
  auto tok = load_hf_tokenizer(dir.string());
  ASSERT_TRUE(tok.ok()) << tok.message();
  const auto plain = (*tok)->encode("Hello", false);
  auto expected = plain;
  expected.insert(expected.begin(), 1);
  expected.push_back(2);
  EXPECT_EQ((*tok)->encode("Hello", true), expected);
  write_config(R"("add_bos_token": false)");
  tok = load_hf_tokenizer(dir.string());
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ((*tok)->encode("Hello", true), plain);
  std::filesystem::remove_all(dir);
}

// Malformed or unsupported files are errors that name the problem, never crashes.
TEST(HfTokenizer, BadFilesAreErrors) {
  const auto dir = std::filesystem::temp_directory_path() / "troupe_hftok_bad";
  std::filesystem::create_directories(dir);
  const auto load = [&](const std::string& json) {
    std::ofstream(dir / "tokenizer.json") << json;
    return load_hf_tokenizer(dir.string());
  };
  const std::string vocab = R"("vocab": {"a": 0, "b": 1, "ab": 2})";
  EXPECT_FALSE(load("{not json").ok());
  EXPECT_FALSE(load(R"({"added_tokens": []})").ok());
  auto unigram = load(R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  ASSERT_FALSE(unigram.ok());
  EXPECT_NE(unigram.message().find("Unigram"), std::string::npos) << unigram.message();
  auto normalizer = load(R"({"normalizer": {"type": "Precompiled"}, "model": {"type": "BPE", )" +
                         vocab + R"(, "merges": ["a b"]}})");
  ASSERT_FALSE(normalizer.ok());
  EXPECT_NE(normalizer.message().find("Precompiled"), std::string::npos);
  EXPECT_FALSE(load(R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(["},
                        "behavior": "Isolated"}, "model": {"type": "BPE", )" +
                    vocab + "}}")
                   .ok());
  auto ok = load(R"({"model": {"type": "BPE", )" + vocab + R"(, "merges": [["a", "b"]]}})");
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ((*ok)->encode("abba", false), (std::vector<int32_t>{2, 1, 0}));
  EXPECT_EQ((*ok)->decode(std::vector<int32_t>{2, 1, 0}, false), "ab b a");  // no decoder: " "
  std::filesystem::remove_all(dir);
}

TEST(HfTokenizer, MissingFileIsAnError) {
  auto tok = load_hf_tokenizer("/nonexistent/tokenizer.json");
  EXPECT_FALSE(tok.ok());
}

}  // namespace
}  // namespace troupe::runtime
