// load_hf_tokenizer on small synthetic tokenizer.json files (tests/data/tokenizer/hf_synthetic,
// written with their goldens by make_goldens.py from the `tokenizers` 0.22.2 library) that use
// the pipeline parts the shared goldens do not: NFD/NFKC/NFKD, Lowercase, Strip, Prepend,
// regex Replace, Whitespace, WhitespaceSplit, Digits, Punctuation, every Split behaviour and
// invert, Metaspace always/never with split, ByteLevel add_prefix_space with its regex,
// unk/fuse_unk, continuing_subword_prefix, "a b" merges, added tokens with lstrip, rstrip,
// single_word and normalized, TemplateProcessing with a suffix, Sequence post-processor,
// decoders Metaspace, per-token Strip, and none.
#include <gtest/gtest.h>

#include "tests/runtime/tokenizer/hf_golden.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

class HfSynthetic : public ::testing::TestWithParam<const char*> {};

TEST_P(HfSynthetic, ReproducesGoldens) {
  const std::string root =
      testing::repo_testdata(std::string("tokenizer/hf_synthetic/") + GetParam());
  ASSERT_FALSE(root.empty());
  check_hf_goldens(root, GetParam());
  auto tok = load_hf_tokenizer(root);
  ASSERT_TRUE(tok.ok());
  check_random_streaming(*tok, (*tok)->vocab_size());
}

INSTANTIATE_TEST_SUITE_P(Configs, HfSynthetic,
                         ::testing::Values("nfd_lower_whitespace", "nfkc_punct_wssplit_prefix",
                                           "nfkd_split_behaviors", "metaspace_always_split",
                                           "metaspace_never_nosplit", "byte_level_prefix_regex"));

}  // namespace
}  // namespace troupe::runtime
