// BPE on a hand-built vocabulary (tiny_vocab.hpp); every expected id list is derived by hand from
// the merge ranks.
#include <gtest/gtest.h>

#include <random>
#include <thread>

#include "runtime/tokenizer/tokenizer.hpp"
#include "runtime/tokenizer/utf8.hpp"
#include "tests/runtime/tokenizer/tiny_vocab.hpp"

namespace troupe::runtime {
namespace {

using ids = std::vector<int32_t>;

std::shared_ptr<const tokenizer> make(vocab_spec spec) {
  auto tok = make_bpe_tokenizer(std::move(spec));
  EXPECT_TRUE(tok.ok()) << (tok.ok() ? "" : tok.message());
  return tok.ok() ? *tok : nullptr;
}

TEST(Bpe, MergesInRankOrder) {
  const auto tok = make(testing::tiny_vocab());
  // h e l l o: "h e"(0) -> "l l"(1) -> "he ll"(2) -> "hell o"(3); "l o"(6) goes stale.
  EXPECT_EQ(tok->encode("hello", false), (ids{259}));
  // Ġ h e l l o: "h e"(0) wins over "Ġ h"(4), after which "Ġ he" is no merge at all.
  EXPECT_EQ(tok->encode(" hello", false), (ids{32, 259}));
  EXPECT_EQ(tok->encode("hel", false), (ids{256, 108}));
  EXPECT_EQ(tok->encode("lol", false), (ids{262, 108}));
  // Equal ranks: the leftmost pair merges first.
  EXPECT_EQ(tok->encode("lll", false), (ids{257, 108}));
  // The gpt2 regex splits "hello hello" into "hello" and " hello".
  EXPECT_EQ(tok->encode("hello hello", false), (ids{259, 32, 259}));
  EXPECT_EQ(tok->encode("", false), ids{});
}

TEST(Bpe, MergeResultMissingFallsBackToBytes) {
  const auto tok = make(testing::tiny_vocab());
  EXPECT_EQ(tok->encode("xy", false), (ids{'x', 'y'}));
}

TEST(Bpe, IgnoreMergesTakesWholeWordTokens) {
  auto spec = testing::tiny_vocab();
  EXPECT_EQ(make(spec)->encode(" he", false), (ids{32, 256}));
  spec.ignore_merges = true;
  EXPECT_EQ(make(spec)->encode(" he", false), (ids{261}));
}

TEST(Bpe, SpecialTokensMatchedLiterally) {
  const auto tok = make(testing::tiny_vocab());
  EXPECT_EQ(tok->encode("hello<|end|> hello", false), (ids{259, 263, 32, 259}));
  EXPECT_EQ(tok->encode("<user><|end|><user>", false), (ids{264, 263, 264}));
  // Longest token first, not leftmost: "a><b>" is split out before "<a>" is looked for.
  EXPECT_EQ(tok->encode("<a><b>", false), (ids{'<', 266}));
  EXPECT_EQ(tok->encode("<|end", false), (ids{'<', '|', 'e', 'n', 'd'}));
}

TEST(Bpe, AddSpecialFollowsVocab) {
  auto spec = testing::tiny_vocab();
  EXPECT_EQ(make(spec)->encode("hello", true), (ids{259}));
  spec.add_bos = true;
  spec.add_eos = true;
  EXPECT_EQ(make(spec)->encode("hello", true), (ids{265, 259, 263}));
  EXPECT_EQ(make(spec)->encode("hello", false), (ids{259}));
  EXPECT_EQ(make(spec)->encode("", true), (ids{265, 263}));
}

TEST(Bpe, DecodeSkipsSpecialOnRequestAndInvalidIds) {
  const auto tok = make(testing::tiny_vocab());
  const ids in{259, 263, 32, 259, 264, -1, 99999, 267};
  EXPECT_EQ(tok->decode(in, false), "hello<|end|> hello<user><|im_end|>");
  EXPECT_EQ(tok->decode(in, true), "hello hello<user>");
  EXPECT_EQ(tok->token_bytes(-5), "");
  EXPECT_EQ(tok->token_bytes(1 << 30), "");
  EXPECT_EQ(tok->token_bytes(32), " ");
  EXPECT_EQ(tok->token_bytes(263), "<|end|>");
}

TEST(Bpe, DecodeRepairsBrokenUtf8) {
  const auto tok = make(testing::tiny_vocab());
  EXPECT_EQ(tok->decode(ids{0xC3, 0xA9}, false), "\xC3\xA9");  // é from two byte tokens
  EXPECT_EQ(tok->decode(ids{0xC3}, false), "\xEF\xBF\xBD");
  EXPECT_EQ(tok->decode(ids{0xA9, 'a'}, false),
            "\xEF\xBF\xBD"
            "a");
}

TEST(Bpe, SpecialAndEndOfGeneration) {
  const auto tok = make(testing::tiny_vocab());
  EXPECT_EQ(tok->vocab_size(), 268);
  EXPECT_EQ(tok->bos_id(), 265);
  EXPECT_EQ(tok->eos_id(), 263);
  EXPECT_TRUE(tok->is_special(263));
  EXPECT_FALSE(tok->is_special(264));  // user-defined tokens are text
  EXPECT_TRUE(tok->is_special(267));   // "<|im_end|>" is forced to control, as in llama.cpp
  EXPECT_FALSE(tok->is_special(259));
  EXPECT_FALSE(tok->is_special(-1));
  EXPECT_TRUE(tok->is_eog(263));  // eos
  EXPECT_TRUE(tok->is_eog(267));
  EXPECT_FALSE(tok->is_eog(265));
  EXPECT_FALSE(tok->is_eog(100000));
}

TEST(Bpe, InvalidUtf8InputIsReplaced) {
  const auto tok = make(testing::tiny_vocab());
  // Each bad byte becomes U+FFFD (EF BF BD), which the byte tokens spell out.
  EXPECT_EQ(tok->encode("\xFF", false), (ids{0xEF, 0xBF, 0xBD}));
  EXPECT_EQ(tok->decode(tok->encode("a\xC3", false), false), "a\xEF\xBF\xBD");
}

TEST(Bpe, RejectsBadSpecs) {
  auto spec = testing::tiny_vocab();
  spec.model = "llama";
  EXPECT_FALSE(make_bpe_tokenizer(spec).ok());
  spec = testing::tiny_vocab("no-such-pre");
  EXPECT_FALSE(make_bpe_tokenizer(spec).ok());
  spec = testing::tiny_vocab();
  spec.types.pop_back();
  EXPECT_FALSE(make_bpe_tokenizer(spec).ok());
  spec = testing::tiny_vocab();
  spec.eos_id = 268;
  EXPECT_FALSE(make_bpe_tokenizer(spec).ok());
  spec = testing::tiny_vocab();
  spec.bos_id = -1;
  spec.add_bos = true;
  EXPECT_FALSE(make_bpe_tokenizer(spec).ok());
  spec = testing::tiny_vocab();
  spec.tokens.clear();
  spec.types.clear();
  EXPECT_FALSE(make_bpe_tokenizer(spec).ok());
}

TEST(Bpe, EveryPreTokenizerRoundTrips) {
  const std::string text = "It's 2024: hello   world\n\n\t<|end|> 日本語 ½ 🚀 x=1+2!";
  for (const char* pre : {"gpt2", "smollm", "llama3", "llama-bpe", "qwen2", "default", ""}) {
    const auto tok = make(testing::tiny_vocab(pre));
    EXPECT_EQ(tok->decode(tok->encode(text, false), false), text) << pre;
  }
}

// Arbitrary bytes never crash, and decode(encode(x)) is x with each invalid byte as U+FFFD.
TEST(Bpe, RandomBytesRoundTripAfterRepair) {
  std::mt19937 rng(42);
  const std::string alphabet = "hel o<|end|>\n\t 1\xC3\xA9\xE6\x97\xA5\xF0\x9F\x9A\x80\xFF\x80";
  for (const char* pre : {"gpt2", "smollm", "llama3", "qwen2", "default"}) {
    const auto tok = make(testing::tiny_vocab(pre));
    for (int round = 0; round < 300; ++round) {
      std::string text(rng() % 24, ' ');
      for (char& c : text)
        c = alphabet[rng() % alphabet.size()];
      EXPECT_EQ(tok->decode(tok->encode(text, false), false), utf8::repair_bytewise(text)) << pre;
    }
  }
}

TEST(Bpe, ConcurrentEncodeAgrees) {
  const auto tok = make(testing::tiny_vocab("smollm"));
  const std::string text = "hello<|end|> hello 123 lol 日本 🚀";
  const auto expected = tok->encode(text, false);
  std::vector<std::thread> threads;
  std::vector<int> num_mismatches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i)
        num_mismatches[t] += tok->encode(text, false) != expected;
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(num_mismatches, std::vector<int>(4, 0));
}

}  // namespace
}  // namespace troupe::runtime
