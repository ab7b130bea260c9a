#include <gtest/gtest.h>

#include <random>

#include "runtime/tokenizer/tokenizer.hpp"
#include "tests/runtime/tokenizer/tiny_vocab.hpp"

namespace troupe::runtime {
namespace {

std::shared_ptr<const tokenizer> tiny() {
  return make_bpe_tokenizer(testing::tiny_vocab()).value();
}

TEST(IncrementalDetokenizer, HoldsBackIncompleteCharacters) {
  incremental_detokenizer d(tiny(), false);
  EXPECT_EQ(d.push('a'), "a");
  EXPECT_EQ(d.push(0xF0), "");  // 🚀 = F0 9F 9A 80, one byte token at a time
  EXPECT_EQ(d.push(0x9F), "");
  EXPECT_EQ(d.push(0x9A), "");
  EXPECT_EQ(d.push(0x80), "🚀");
  EXPECT_EQ(d.push(0xC3), "");
  EXPECT_EQ(d.push(259), "\xEF\xBF\xBDhello");  // C3 then 'h': broken, flushed as U+FFFD
  EXPECT_EQ(d.push(0xE6), "");
  EXPECT_EQ(d.finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(d.finish(), "");
}

TEST(IncrementalDetokenizer, SpecialTokensAndInvalidIds) {
  incremental_detokenizer keep(tiny(), false);
  EXPECT_EQ(keep.push(263), "<|end|>");
  EXPECT_EQ(keep.push(-3), "");
  EXPECT_EQ(keep.push(268), "");
  incremental_detokenizer skip(tiny(), true);
  EXPECT_EQ(skip.push(263), "");
  EXPECT_EQ(skip.push(264), "<user>");
}

// Random id streams (byte tokens, which split characters anywhere, merged and special tokens):
// the pushes always concatenate to decode() and each push is valid UTF-8 on its own.
TEST(IncrementalDetokenizer, MatchesDecodeOnRandomStreams) {
  const auto tok = tiny();
  std::mt19937 rng(1234);
  const std::vector<int32_t> pool{0xC3, 0xA9, 0xE6, 0x97, 0xA5, 0xF0, 0x9F, 0x9A, 0x80, 'a',
                                  ' ',  259,  262,  263,  264,  -1,   0xFF, 0xBF, 0xED, 0xA0};
  for (int round = 0; round < 500; ++round) {
    std::vector<int32_t> ids(rng() % 12);
    for (auto& id : ids)
      id = pool[rng() % pool.size()];
    for (const bool skip : {false, true}) {
      incremental_detokenizer d(tok, skip);
      std::string streamed;
      for (const int32_t id : ids) {
        const std::string piece = d.push(id);
        std::string repaired;
        (void)utf8::append_repaired(piece, /*final=*/true, repaired);
        EXPECT_EQ(repaired, piece);
        streamed += piece;
      }
      streamed += d.finish();
      EXPECT_EQ(streamed, tok->decode(ids, skip)) << "round " << round;
    }
  }
}

}  // namespace
}  // namespace troupe::runtime
