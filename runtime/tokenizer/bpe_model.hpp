#pragma once
// The BPE core: token text <-> id and merge ranks, and the merge loop that turns one
// pre-tokenized, byte-level-encoded word into token ids. Internal to troupe_tokenizer.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace troupe::runtime {

// unordered_map<std::string, V> that can be searched with a string_view.
struct string_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <class V>
using string_map = std::unordered_map<std::string, V, string_hash, std::equal_to<>>;

class bpe_model {
 public:
  // `tokens`: byte-level token texts by id (a text that occurs twice maps to the later id, as in
  // llama.cpp). `merges`: "left right" pairs, rank = index. Merges without exactly one separating
  // space are ignored.
  bpe_model(const std::vector<std::string>& tokens, const std::vector<std::string>& merges,
            bool ignore_merges);

  // The id of a token text, or -1.
  int32_t find_token(std::string_view text) const;

  // Appends the ids of one byte-level word (as llama.cpp's llm_tokenizer_bpe_session does):
  // start from its characters, repeatedly merge the adjacent pair of lowest rank (leftmost on a
  // tie), then look every symbol up; a symbol that is not a token falls back to its single bytes
  // that are tokens. Thread: any thread, concurrently.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

 private:
  int32_t find_rank(std::string_view left, std::string_view right, std::string& key) const;

  string_map<int32_t> token_ids_;
  string_map<int32_t> merge_ranks_;  // key "left right"
  bool ignore_merges_;
};

}  // namespace troupe::runtime
