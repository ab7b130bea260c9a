#include "runtime/grammar/token_matcher.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace troupe::runtime::grammar {
namespace {

// Ids: 0 = end of generation, 1 = a special token, then text tokens, some of them halves of a
// two-byte character (é = C3 A9) and some sharing long prefixes.
std::shared_ptr<const token_vocabulary> small_vocabulary() {
  std::vector<std::string> bytes = {"</s>", "<|im_start|>", "{",        "}",    "\"",
                                    "a",    "ab",           "abc",      "b",    "1",
                                    "12",   "123",          " ",        ": ",   "\xC3",
                                    "\xA9", "\xC3\xA9",     "\"a",      "a\"",  "\":",
                                    "{\"",  "}\n",          "\n",       "x",    "\xE6\x97",
                                    "\xA5", "\xE6\x97\xA5", "true",     "tr",   "ue",
                                    "",     "\xE0",         "\xF0\x9F", "\xC0", "\xE0\x80"};
  std::vector<char> excluded(bytes.size(), 0);
  excluded[1] = 1;
  return std::make_shared<token_vocabulary>(std::move(bytes), excluded, std::vector<int32_t>{0});
}

std::shared_ptr<grammar_masks> masks_of(std::string_view text) {
  auto g = compile_grammar(text);
  EXPECT_TRUE(g.ok()) << g.message();
  return std::make_shared<grammar_masks>(*g);
}

// The mask walk against feeding each token alone to a copy of the matcher.
void expect_mask_matches_accept(token_matcher& m, const token_vocabulary& vocab,
                                const std::string& where) {
  const token_bitmask mask = m.allowed();
  bool any_text = false;
  for (int32_t id = 0; id < vocab.size(); ++id) {
    if (vocab.is_eog(id)) continue;
    token_matcher copy = m;
    const bool ok = id != 1 && copy.accept(id);
    any_text = any_text || ok;
    EXPECT_EQ(test_bit(mask, id), ok)
        << where << ": token " << id << " '" << vocab.bytes(id) << "'";
  }
  EXPECT_EQ(test_bit(mask, 0), m.can_end() || !any_text) << where << ": end of generation";
}

TEST(TokenMatcher, MaskEqualsTokenByTokenAcceptanceAlongRandomOutputs) {
  const auto vocab = small_vocabulary();
  const std::vector<const char*> grammars = {
      R"(root ::= "{" "\"" [a-c]+ "\":" " "? ("true" | [0-9]+) "}")",
      R"(root ::= [^"]* "\"")",
      R"(root ::= ("é" | "日" | "a")+)",
      R"(root ::= "ab" | "abc" "}"?)",
      R"(root ::= ([a-c] | " " | "\n")*)",
  };
  std::mt19937 rng(7);
  for (const char* text : grammars) {
    for (int run = 0; run < 8; ++run) {
      token_matcher m(masks_of(text), vocab);
      for (int step = 0; step < 12; ++step) {
        const std::string where = std::string(text) + " step " + std::to_string(step);
        expect_mask_matches_accept(m, *vocab, where);
        std::vector<int32_t> allowed;
        const token_bitmask& mask = m.allowed();
        for (int32_t id = 0; id < vocab->size(); ++id)
          if (test_bit(mask, id)) allowed.push_back(id);
        ASSERT_FALSE(allowed.empty()) << where;
        const int32_t pick = allowed[rng() % allowed.size()];
        if (vocab->is_eog(pick)) break;
        ASSERT_TRUE(m.accept(pick)) << where;
      }
    }
  }
}

TEST(TokenMatcher, EndOfGenerationOnlyWhenTheGrammarIsComplete) {
  const auto vocab = small_vocabulary();
  token_matcher m(masks_of(R"(root ::= "ab" "c"?)"), vocab);
  EXPECT_FALSE(test_bit(m.allowed(), 0));
  EXPECT_TRUE(test_bit(m.allowed(), 5));   // a
  EXPECT_TRUE(test_bit(m.allowed(), 6));   // ab
  EXPECT_TRUE(test_bit(m.allowed(), 7));   // abc
  EXPECT_FALSE(test_bit(m.allowed(), 8));  // b
  ASSERT_TRUE(m.accept(6));
  EXPECT_TRUE(m.can_end());
  EXPECT_TRUE(test_bit(m.allowed(), 0));
  EXPECT_TRUE(m.accept(0));  // the end where it may end changes nothing
  EXPECT_TRUE(m.can_end());
}

TEST(TokenMatcher, ACharacterSplitAcrossTokensIsFollowedThrough) {
  const auto vocab = small_vocabulary();
  token_matcher m(masks_of(R"(root ::= "é" "a")"), vocab);
  EXPECT_TRUE(test_bit(m.allowed(), 14));   // C3: starts é
  EXPECT_TRUE(test_bit(m.allowed(), 16));   // é
  EXPECT_FALSE(test_bit(m.allowed(), 15));  // A9 alone
  EXPECT_FALSE(test_bit(m.allowed(), 24));  // E6 97: starts 日, not é
  ASSERT_TRUE(m.accept(14));
  EXPECT_TRUE(test_bit(m.allowed(), 15));
  EXPECT_FALSE(test_bit(m.allowed(), 5));
  ASSERT_TRUE(m.accept(15));
  ASSERT_TRUE(m.accept(5));
  EXPECT_TRUE(m.can_end());
}

// A lead byte opens a character of its length: E0 alone (no bits yet) is no prefix of "a", nor
// of 日 (E6 97 A5), and overlong forms (C0, E0 80) start nothing.
TEST(TokenMatcher, ALeadByteIsAllowedOnlyBeforeACharacterOfItsLength) {
  const auto vocab = small_vocabulary();
  token_matcher m(masks_of(R"(root ::= "a" | "日" | "é")"), vocab);
  const token_bitmask& mask = m.allowed();
  EXPECT_TRUE(test_bit(mask, 5));    // a
  EXPECT_TRUE(test_bit(mask, 24));   // E6 97
  EXPECT_TRUE(test_bit(mask, 14));   // C3
  EXPECT_FALSE(test_bit(mask, 31));  // E0
  EXPECT_FALSE(test_bit(mask, 32));  // F0 9F
  EXPECT_FALSE(test_bit(mask, 33));  // C0
  EXPECT_FALSE(test_bit(mask, 34));  // E0 80
  token_matcher any(masks_of(R"(root ::= [^"]*)"), vocab);
  EXPECT_TRUE(test_bit(any.allowed(), 31));   // E0 can start U+0800..U+0FFF
  EXPECT_TRUE(test_bit(any.allowed(), 32));   // F0 9F can start an emoji
  EXPECT_FALSE(test_bit(any.allowed(), 33));  // C0 starts only overlong forms
  EXPECT_FALSE(test_bit(any.allowed(), 34));  // E0 80 too
}

TEST(TokenMatcher, ARejectedTokenLeavesOnlyTheEnd) {
  const auto vocab = small_vocabulary();
  token_matcher m(masks_of(R"(root ::= "ab")"), vocab);
  EXPECT_FALSE(m.accept(23));  // x
  const token_bitmask& mask = m.allowed();
  for (int32_t id = 1; id < vocab->size(); ++id)
    EXPECT_FALSE(test_bit(mask, id)) << id;
  EXPECT_TRUE(test_bit(mask, 0));
  EXPECT_FALSE(m.accept(1000));
}

TEST(TokenMatcher, MasksAreSharedByMatchersOfOneGrammar) {
  const auto vocab = small_vocabulary();
  auto masks = masks_of(R"(root ::= [a-c]* "}")");
  token_matcher first(masks, vocab);
  token_matcher second(masks, vocab);
  ASSERT_TRUE(first.accept(7));   // abc
  ASSERT_TRUE(second.accept(5));  // a: the same state as after abc
  EXPECT_EQ(&first.allowed(), &second.allowed());
}

}  // namespace
}  // namespace troupe::runtime::grammar
