// propose_ngram_drafts (runtime/sched/speculative.hpp): hand cases, a randomized comparison
// with a brute-force reference, and outputs of vLLM's own proposer.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "runtime/sched/speculative.hpp"

namespace troupe::runtime {
namespace {

using ids = std::vector<int32_t>;

ids propose(const ids& tokens, int32_t min_n, int32_t max_n, int32_t k,
            int32_t max_model_len = 1000) {
  return propose_ngram_drafts(tokens, min_n, max_n, k, max_model_len);
}

// The definition, checked the slow way: for n from the longest allowed down to min_n, the first
// start s at which the last n tokens occur and end before the last token.
ids brute_force(const ids& tokens, int32_t min_n, int32_t max_n, int32_t k, int32_t max_model_len) {
  const int64_t size = static_cast<int64_t>(tokens.size());
  const int64_t budget = std::min<int64_t>(k, int64_t{max_model_len} - size);
  if (budget <= 0) return {};
  for (int64_t n = std::min<int64_t>(max_n, size - 1); n >= min_n; --n) {
    for (int64_t s = 0; s + n <= size - 1; ++s) {
      if (std::equal(tokens.begin() + s, tokens.begin() + s + n, tokens.end() - n)) {
        const int64_t count = std::min(budget, size - (s + n));
        return {tokens.begin() + s + n, tokens.begin() + s + n + count};
      }
    }
  }
  return {};
}

TEST(NgramProposer, NoMatchProposesNothing) {
  EXPECT_EQ(propose({1, 2, 3, 4, 5}, 1, 3, 4), ids{});
  EXPECT_EQ(propose({}, 1, 3, 4), ids{});
  EXPECT_EQ(propose({7}, 1, 3, 4), ids{});  // one token: nothing before the last one
}

TEST(NgramProposer, FewerTokensThanMinNProposeNothing) {
  EXPECT_EQ(propose({1, 1}, 3, 3, 4), ids{});
  // Long enough, but the only repeat is shorter than min_n.
  EXPECT_EQ(propose({1, 2, 9, 2}, 2, 3, 4), ids{});
  EXPECT_EQ(propose({1, 2, 9, 2}, 1, 3, 4), (ids{9, 2}));
}

TEST(NgramProposer, OccurrenceMayOverlapTheSuffix) {
  // "1 1 1" (max_n = 3) occurs first at 0, overlapping the last three; the drafts follow it.
  EXPECT_EQ(propose({1, 1, 1, 1}, 1, 3, 5), (ids{1}));
  EXPECT_EQ(propose({1, 1, 1, 1, 1, 1}, 2, 2, 5), (ids{1, 1, 1, 1}));
  EXPECT_EQ(propose({1, 2, 1, 2, 1}, 1, 5, 5), (ids{2, 1}));  // "1 2 1" at 0
}

TEST(NgramProposer, EarliestOccurrenceWins) {
  // "5 6" occurs at 0 (followed by 7) and at 3 (followed by 8): the earliest is used.
  EXPECT_EQ(propose({5, 6, 7, 5, 6, 8, 5, 6}, 2, 2, 1), (ids{7}));
  EXPECT_EQ(propose({5, 6, 7, 5, 6, 8, 5, 6}, 2, 2, 3), (ids{7, 5, 6}));
}

TEST(NgramProposer, LongestNWinsOverEarlierShorterOnes) {
  // "2" alone occurs at 1 (then 3); "9 2" only at 4 (then 4): the longer match is preferred.
  EXPECT_EQ(propose({1, 2, 3, 9, 2, 4, 9, 2}, 1, 2, 1), (ids{4}));
  EXPECT_EQ(propose({1, 2, 3, 9, 2, 4, 9, 2}, 1, 1, 1), (ids{3}));
}

TEST(NgramProposer, MaxNCapsTheMatchedLength) {
  // "8 2 3" recurs at 3 (then 7 8), and its tail "2 3" already at 1 (then 8 2): with max_n = 2
  // only "2 3" is matched, so its earlier occurrence is used.
  const ids tokens{4, 2, 3, 8, 2, 3, 7, 8, 2, 3};
  EXPECT_EQ(propose(tokens, 1, 3, 2), (ids{7, 8}));
  EXPECT_EQ(propose(tokens, 1, 2, 2), (ids{8, 2}));
  // max_n larger than the sequence is fine.
  EXPECT_EQ(propose(tokens, 1, 100, 2), (ids{7, 8}));
}

TEST(NgramProposer, DraftsCappedByTheTokensAfterTheMatch) {
  // "1 2" at 0 and then only "1 2" after it: at most size - start drafts.
  EXPECT_EQ(propose({1, 2, 1, 2}, 2, 2, 10), (ids{1, 2}));
  EXPECT_EQ(propose({3, 4, 5, 3, 4}, 2, 2, 10), (ids{5, 3, 4}));
}

TEST(NgramProposer, DraftsCappedByMaxModelLen) {
  const ids tokens{3, 4, 5, 6, 7, 3, 4};
  EXPECT_EQ(propose(tokens, 2, 2, 4, 100), (ids{5, 6, 7, 3}));
  EXPECT_EQ(propose(tokens, 2, 2, 4, 9), (ids{5, 6}));  // two positions left
  EXPECT_EQ(propose(tokens, 2, 2, 4, 8), (ids{5}));
  EXPECT_EQ(propose(tokens, 2, 2, 4, 7), ids{});  // full
  EXPECT_EQ(propose(tokens, 2, 2, 4, 5), ids{});  // past it
  EXPECT_EQ(propose(tokens, 2, 2, 0, 100), ids{});
}

TEST(NgramProposer, MatchesBruteForceOnRandomSequences) {
  std::mt19937 rng(1234);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < 20000; ++trial) {
    const int alphabet = uniform(1, 4);
    ids tokens(static_cast<size_t>(uniform(0, 40)));
    for (auto& t : tokens)
      t = uniform(0, alphabet - 1);
    const int32_t min_n = uniform(1, 4);
    const int32_t max_n = uniform(min_n, 8);
    const int32_t k = uniform(0, 7);
    const int32_t max_model_len = static_cast<int32_t>(tokens.size()) + uniform(-2, 8);
    ASSERT_EQ(propose_ngram_drafts(tokens, min_n, max_n, k, max_model_len),
              brute_force(tokens, min_n, max_n, k, max_model_len))
        << "trial " << trial << ", min_n " << min_n << ", max_n " << max_n << ", k " << k
        << ", max_model_len " << max_model_len << ", " << tokens.size() << " tokens";
  }
}

struct golden_case {
  ids tokens;
  int32_t min_n, max_n, k, max_model_len;
  ids drafts;
};

// Produced by vLLM 0.32's ngram proposer
// (vllm.v1.spec_decode.ngram_proposer._find_longest_matched_ngram_and_propose_tokens).
TEST(NgramProposer, MatchesVllmOutputs) {
  const std::vector<golden_case> cases = {
      {{1, 2, 3, 4, 1, 2, 3}, 2, 3, 4, 100, {4, 1, 2, 3}},
      {{1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3}, 1, 5, 3, 100, {4, 5, 1}},
      {{7, 7, 7, 7, 7}, 1, 3, 5, 100, {7, 7}},
      {{1, 2, 1, 2, 1, 2, 1, 2}, 2, 4, 8, 100, {1, 2, 1, 2}},
      {{5, 6, 7, 5, 6, 8, 5, 6}, 2, 2, 3, 100, {7, 5, 6}},
      {{5, 6, 7, 5, 6, 8, 5, 6}, 2, 2, 3, 9, {7}},
      {{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}, 3, 6, 10, 13, {1}},
      {{9, 8, 7, 6}, 1, 2, 3, 100, {}},
      {{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3,
        8, 3, 2, 7, 9, 5, 0, 2, 8, 8, 4, 1, 9, 7, 1, 6, 9, 3, 9, 9, 3, 7, 5, 1, 0, 5,
        8, 2, 0, 9, 7, 4, 9, 4, 4, 5, 9, 2, 3, 0, 7, 8, 1, 6, 4, 0, 6, 2, 8, 6, 2, 0,
        8, 9, 9, 8, 6, 2, 8, 0, 3, 4, 8, 2, 5, 3, 4, 2, 1, 1, 7, 0, 6, 7, 9},
       1,
       3,
       5,
       200,
       {3, 2, 3, 8, 4}},
      {{1, 2, 2, 2, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 2, 2, 1, 1, 2, 0, 1, 2, 0}, 2, 3, 3, 24, {1}},
      {{2, 1, 3, 2, 2, 0, 0, 3, 1, 3, 0, 2, 1, 1, 0, 1, 1, 0, 3, 1, 0, 1},
       3,
       3,
       4,
       27,
       {1, 0, 3, 1}},
      {{1, 0, 0, 0, 1, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1}, 2, 3, 3, 19, {}},
      {{0, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 1}, 3, 3, 1, 18, {0}},
      {{0, 3, 3, 3, 3, 3, 1, 0, 2, 1, 2, 2, 1, 1, 0, 2, 0, 3, 1, 0, 3, 2, 1}, 3, 5, 6, 29, {}},
      {{0, 2, 0, 3, 3, 3}, 1, 2, 4, 9, {3}},
      {{0, 1, 1, 0, 2, 0, 2, 0, 2, 3, 1, 1, 1, 0, 3, 2, 3, 1, 0, 1}, 2, 4, 3, 22, {1, 0}},
      {{1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0}, 1, 2, 2, 24, {0, 1}},
      {{2, 0, 0, 0, 2, 0, 0, 0, 2, 2, 0, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2}, 2, 3, 6, 25, {2, 2}},
      {{1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0}, 2, 5, 2, 17, {0, 0}},
      {{1, 1, 1, 1, 0, 2, 2, 0, 2, 2, 1, 0, 0, 1, 0, 1, 0, 0, 2, 2}, 3, 5, 2, 21, {0}},
      {{1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 0}, 1, 1, 4, 17, {1, 0, 1, 0}},
      {{2, 2, 1, 0, 1, 1, 1}, 1, 1, 2, 13, {0, 1}},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    EXPECT_EQ(propose_ngram_drafts(c.tokens, c.min_n, c.max_n, c.k, c.max_model_len), c.drafts)
        << "case " << i;
  }
}

}  // namespace
}  // namespace troupe::runtime
