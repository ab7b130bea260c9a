// load_hf_tokenizer on held-out random texts (tests/data/tokenizer/hf_fuzz, goldens written by
// make_goldens.py with the `tokenizers` 0.22.2 library) for the shared tokenizer.json files:
// every script, whitespace kind, literal special token, control characters and Unicode 16
// letters. Skips when ../shared is absent.
#include <gtest/gtest.h>

#include "tests/runtime/tokenizer/hf_golden.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

class HfFuzz : public ::testing::TestWithParam<const char*> {};

TEST_P(HfFuzz, ReproducesGoldens) {
  const std::string root = testing::shared_testdata(std::string("tokenizers/") + GetParam());
  if (root.empty()) GTEST_SKIP() << "shared tokenizer test data absent";
  auto tok = load_hf_tokenizer(root);
  ASSERT_TRUE(tok.ok()) << tok.message();
  check_hf_goldens(*tok, testing::repo_testdata(std::string("tokenizer/hf_fuzz/") + GetParam()),
                   GetParam());
}

INSTANTIATE_TEST_SUITE_P(Shared, HfFuzz,
                         ::testing::Values("llama2", "llama2_metaspace", "llama3", "qwen3",
                                           "gemma3"));

}  // namespace
}  // namespace troupe::runtime
