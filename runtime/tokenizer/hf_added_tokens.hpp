#pragma once
// Added tokens of a Hugging Face tokenizer.json, found in text the way the library's
// AddedVocabulary does: leftmost-longest matches (its Aho-Corasick MatchKind::LeftmostLongest),
// honouring single_word, lstrip and rstrip. Internal to troupe_tokenizer.
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace troupe::runtime {

struct hf_added_token {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
};

// A piece of input: an added token (id >= 0) or text for the model (id -1).
struct hf_split {
  int32_t id = -1;
  size_t begin = 0, end = 0;
};

class hf_added_matcher {
 public:
  // `patterns`: the texts to look for (already normalized for the normalized set), with the
  // token each stands for.
  void add(std::string_view pattern, const hf_added_token& token);
  bool empty() const { return tokens_.empty(); }

  // The library's find_matches: `text` cut into added tokens and the text between them.
  // Thread: any thread, concurrently.
  std::vector<hf_split> split(std::string_view text) const;

 private:
  // Longest pattern starting at `pos`: its length and token index, or {0, -1}.
  std::pair<size_t, int> longest_at(std::string_view text, size_t pos) const;

  std::vector<std::unordered_map<uint8_t, int>> children_{1};  // trie over bytes; node 0 = root
  std::vector<int> terminal_{-1};                              // node -> token index
  std::vector<hf_added_token> tokens_;
  bool first_byte_[256] = {};
};

}  // namespace troupe::runtime
