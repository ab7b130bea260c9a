// load_hf_tokenizer against the Hugging Face `tokenizers` 0.22.2 goldens of the shared test data
// (../shared/testdata/tokenizers/*/golden.jsonl): every line's ids_with_special, ids, decoded and
// decoded_skip_special, plus streaming detokenization equal to the full decode. Skips when the
// shared data is absent.
#include <gtest/gtest.h>

#include <chrono>

#include "runtime/tokenizer/tokenizer.hpp"
#include "tests/runtime/tokenizer/jsonl.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

std::string streamed(const std::shared_ptr<const tokenizer>& tok, const std::vector<int32_t>& ids,
                     bool skip_special) {
  incremental_detokenizer stream(tok, skip_special);
  std::string text;
  for (const int32_t id : ids)
    text += stream.push(id);
  return text + stream.finish();
}

void check_goldens(const std::string& dir) {
  const std::string root = testing::shared_testdata("tokenizers/" + dir);
  if (root.empty()) GTEST_SKIP() << "shared tokenizer test data absent";
  const auto start = std::chrono::steady_clock::now();
  auto tok = load_hf_tokenizer(root);
  ASSERT_TRUE(tok.ok()) << tok.message();
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ %s ] loaded in %.3f s, vocab %d\n", dir.c_str(), load_s, (*tok)->vocab_size());
  const auto lines = testing::read_jsonl(root + "/golden.jsonl");
  ASSERT_GE(lines.size(), 175u);
  int num_failed = 0;
  for (const auto& line : lines) {
    const std::string id = testing::json_string(line["id"]);
    const std::string text = testing::json_string(line["text"]);
    const auto ids = testing::json_ids(line["ids"]);
    const auto ids_with_special = testing::json_ids(line["ids_with_special"]);
    const std::string decoded = testing::json_string(line["decoded"]);
    const std::string decoded_skip = testing::json_string(line["decoded_skip_special"]);
    const bool ok = (*tok)->encode(text, false) == ids &&
                    (*tok)->encode(text, true) == ids_with_special &&
                    (*tok)->decode(ids, false) == decoded &&
                    (*tok)->decode(ids_with_special, true) == decoded_skip;
    EXPECT_EQ((*tok)->encode(text, false), ids) << id;
    EXPECT_EQ((*tok)->encode(text, true), ids_with_special) << id;
    EXPECT_EQ((*tok)->decode(ids, false), decoded) << id;
    EXPECT_EQ((*tok)->decode(ids_with_special, true), decoded_skip) << id;
    EXPECT_EQ(streamed(*tok, ids, false), decoded) << id;
    EXPECT_EQ(streamed(*tok, ids_with_special, true), decoded_skip) << id;
    num_failed += ok ? 0 : 1;
  }
  EXPECT_EQ(num_failed, 0) << dir;
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
