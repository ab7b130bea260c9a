#include "runtime/sched/speculative.hpp"

#include <algorithm>
#include <cassert>

namespace troupe::runtime {

// The search runs over the tokens read backwards, r[j] = tokens[size - 1 - j], so the n-gram
// that must recur (the last n tokens) is the prefix r[0, n) and an earlier occurrence of it is
// a stretch of r[1..]:
//
//   tokens:  a b c x b c y b c    size = 9; the last 2 tokens "b c" occur at 1 and 4 too
//              ^^^   ^^^   ===
//   r:       c b y c b x c b a    r[0, 2) = "c b" recurs ending at r[4] and r[7]
//            ===   ^^^   ^^^
//
// One KMP pass over r[1..] with the pattern r[0, max_n) finds, for every end e, the longest
// prefix of r (up to max_n) that ends at e. A stretch of length len ending at r[e] is the
// occurrence tokens[size - 1 - e, size - 1 - e + len), so the last end is the earliest
// occurrence, and the drafts start right after it (above: 9 - 1 - 7 + 2 = 3, "x b c ...").
// The pattern is a prefix of the text, so the same pass fills in its failure function before
// it is read.
std::vector<int32_t> propose_ngram_drafts(std::span<const int32_t> tokens, int32_t min_n,
                                          int32_t max_n, int32_t k, int32_t max_model_len) {
  assert(min_n >= 1 && min_n <= max_n && k >= 0);
  const int64_t size = static_cast<int64_t>(tokens.size());
  if (size < min_n) return {};
  const int64_t budget = std::min<int64_t>(k, int64_t{max_model_len} - size);
  if (budget <= 0) return {};

  auto r = [&](int64_t j) { return tokens[static_cast<size_t>(size - 1 - j)]; };
  const int64_t pattern_len = std::min<int64_t>(max_n, size);
  // border[i]: the longest proper border of r[0, i] (KMP's failure function).
  std::vector<int64_t> border(static_cast<size_t>(pattern_len), 0);
  int64_t matched = 0;   // the longest prefix of r (<= max_n) ending at the scanned end
  int64_t best_len = 0;  // the longest such prefix so far ...
  int64_t best_end = 0;  // ... and the last end that has it: the earliest occurrence in tokens
  for (int64_t end = 1; end < size;) {
    if (r(matched) == r(end)) {
      ++matched;
      if (matched >= best_len) {
        best_len = matched;
        best_end = end;
      }
      if (end < pattern_len) border[static_cast<size_t>(end)] = matched;
      // A full pattern match: continue from its border, so no match grows past max_n.
      if (matched == pattern_len) matched = border[static_cast<size_t>(pattern_len - 1)];
      ++end;
    } else if (matched > 0) {
      matched = border[static_cast<size_t>(matched - 1)];
    } else {
      ++end;
    }
  }
  if (best_len < min_n) return {};

  const int64_t first = size - 1 - best_end + best_len;  // >= best_len >= 1, < size
  const int64_t count = std::min(budget, size - first);
  return {tokens.begin() + first, tokens.begin() + first + count};
}

int32_t speculative_config::drafts_for_batch_size(int32_t batch_size) const {
  int32_t k = num_speculative_tokens;
  for (const auto& range : per_batch_size) {
    if (range.first_batch_size > batch_size) break;
    k = std::min(num_speculative_tokens, range.num_speculative_tokens);
  }
  return k;
}

}  // namespace troupe::runtime
