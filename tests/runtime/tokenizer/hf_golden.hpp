#pragma once
// Checks a Hugging Face tokenizer directory against its golden.jsonl (lines of text, ids,
// ids_with_special, decoded, decoded_skip_special written by the `tokenizers` library): encode
// with and without special tokens, decode with and without skipping them, and streaming
// detokenization equal to the full decode.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "runtime/tokenizer/tokenizer.hpp"
#include "tests/runtime/tokenizer/jsonl.hpp"

namespace troupe::runtime {

inline std::string streamed(const std::shared_ptr<const tokenizer>& tok,
                            const std::vector<int32_t>& ids, bool skip_special) {
  incremental_detokenizer stream(tok, skip_special);
  std::string text;
  for (const int32_t id : ids)
    text += stream.push(id);
  return text + stream.finish();
}

// `golden_dir`/golden.jsonl against `tok`.
inline void check_hf_goldens(const std::shared_ptr<const tokenizer>& loaded,
                             const std::string& golden_dir, const std::string& dir) {
  const std::shared_ptr<const tokenizer>* tok = &loaded;  // the checks below read (*tok)->
  const std::string& root = golden_dir;
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

// The tokenizer of directory `root` against its own golden.jsonl.
inline void check_hf_goldens(const std::string& root, const std::string& dir) {
  const auto start = std::chrono::steady_clock::now();
  auto tok = load_hf_tokenizer(root);
  ASSERT_TRUE(tok.ok()) << tok.message();
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[ %s ] loaded in %.3f s, vocab %d\n", dir.c_str(), load_s, (*tok)->vocab_size());
  check_hf_goldens(*tok, root, dir);
}

// Streaming equals the full decode on random id sequences: ids anywhere in the vocabulary and,
// half of the time, among the first `num_low_ids` (byte-fallback tokens, specials, partial UTF-8).
inline void check_random_streaming(const std::shared_ptr<const tokenizer>& tok,
                                   int32_t num_low_ids) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> any(-2, tok->vocab_size() + 1);
  std::uniform_int_distribution<int32_t> low(0, num_low_ids - 1);
  std::uniform_int_distribution<int> length(0, 40);
  for (int round = 0; round < 300; ++round) {
    std::vector<int32_t> ids(length(rng));
    for (auto& id : ids)
      id = rng() % 2 ? low(rng) : any(rng);
    for (const bool skip : {false, true})
      ASSERT_EQ(streamed(tok, ids, skip), tok->decode(ids, skip)) << "round " << round;
  }
}

}  // namespace troupe::runtime
