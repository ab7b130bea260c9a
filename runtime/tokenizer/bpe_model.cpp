#include "runtime/tokenizer/bpe_model.hpp"

#include <queue>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime {
namespace {

// A span of the word; merging grows the left symbol and empties the right one.
struct symbol {
  uint32_t start;
  uint32_t length;  // 0: merged away
  int32_t prev;
  int32_t next;
};

struct bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  uint32_t length;  // left.length + right.length when queued
};

// Lowest rank first, then leftmost (llama.cpp's llm_bigram_bpe::comparator).
struct bigram_after {
  bool operator()(const bigram& a, const bigram& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

std::vector<symbol> initial_symbols(std::string_view word) {
  std::vector<symbol> symbols;
  symbols.reserve(word.size());
  for (size_t pos = 0; pos < word.size();) {
    const size_t n = std::max<size_t>(1, utf8::valid_sequence_length(word, pos));
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(n), index - 1,
                       pos + n < word.size() ? index + 1 : -1});
    pos += n;
  }
  return symbols;
}

}  // namespace

bpe_model::bpe_model(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
                     bool ignore_merges)
    : ignore_merges_(ignore_merges) {
  token_ids_.reserve(tokens.size());
  for (size_t id = 0; id < tokens.size(); ++id)
    token_ids_.insert_or_assign(tokens[id], static_cast<int32_t>(id));
  merge_ranks_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    // Searching from index 1 lets a merge whose left part is a space itself still split right.
    const auto& m = merges[rank];
    const size_t space = m.find(' ', 1);
    if (space == std::string::npos || space + 1 >= m.size()) continue;
    merge_ranks_.try_emplace(m, static_cast<int32_t>(rank));
  }
}

int32_t bpe_model::find_token(std::string_view text) const {
  const auto it = token_ids_.find(text);
  return it == token_ids_.end() ? -1 : it->second;
}

int32_t bpe_model::find_rank(std::string_view left, std::string_view right,
                             std::string& key) const {
  key.assign(left);
  key += ' ';
  key.append(right);
  const auto it = merge_ranks_.find(key);
  return it == merge_ranks_.end() ? -1 : it->second;
}

void bpe_model::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const int32_t id = find_token(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<symbol> symbols = initial_symbols(word);
  std::priority_queue<bigram, std::vector<bigram>, bigram_after> queue;
  std::string key;
  const auto text_of = [&](const symbol& s) { return word.substr(s.start, s.length); };
  const auto add_bigram = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const symbol& l = symbols[left];
    const symbol& r = symbols[right];
    const int32_t rank = find_rank(text_of(l), text_of(r), key);
    if (rank >= 0) queue.push({rank, left, right, l.length + r.length});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i)
    add_bigram(i - 1, i);

  while (!queue.empty()) {
    const bigram b = queue.top();
    queue.pop();
    symbol& left = symbols[b.left];
    symbol& right = symbols[b.right];
    // Stale when either side was merged since it was queued: symbols only grow by absorbing
    // their right neighbour, so unchanged non-zero lengths mean the pair is still adjacent.
    if (left.length == 0 || right.length == 0 || left.length + right.length != b.length) continue;
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = b.left;
    add_bigram(left.prev, b.left);
    add_bigram(b.left, left.next);
  }

  for (const symbol& s : symbols) {
    if (s.length == 0) continue;
    const std::string_view text = text_of(s);
    if (const int32_t id = find_token(text); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (size_t i = 0; i < text.size(); ++i) {
      if (const int32_t id = find_token(text.substr(i, 1)); id >= 0) out.push_back(id);
    }
  }
}

}  // namespace troupe::runtime
