// load_hf_tokenizer against the Hugging Face `tokenizers` 0.22.2 goldens of the shared test data
// (../shared/testdata/tokenizers/*/golden.jsonl): every line's ids_with_special, ids, decoded and
// decoded_skip_special, plus streaming detokenization equal to the full decode. Skips when the
// shared data is absent.
#include <gtest/gtest.h>

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

TEST(HfTokenizer, MissingFileIsAnError) {
  auto tok = load_hf_tokenizer("/nonexistent/tokenizer.json");
  EXPECT_FALSE(tok.ok());
}

}  // namespace
}  // namespace troupe::runtime
