#pragma once
// Grammar-constrained decoding at the token level: which tokens of a vocabulary may come next
// under a grammar (vLLM's structured outputs), and the state after each sampled token.
//
// A token is allowed when its bytes, fed one by one from the current state, keep some parse
// alive; a token that ends inside a multi-byte UTF-8 character is allowed when some stack can
// take a code point starting with those bytes. The end-of-generation tokens are allowed exactly
// when the grammar can end here (nothing else is then needed), or when nothing else is allowed.
//
// The mask walk visits the vocabulary in byte order (token_vocabulary sorts it once), reusing
// the state of the prefix shared with the previous token and skipping every token that extends
// a rejected prefix, as outlines and xgrammar do. Masks are cached per grammar by the parse
// state's canonical description, so the steps inside a JSON string, where the state repeats,
// cost a lookup (grammar_masks).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/grammar/recognizer.hpp"

namespace troupe::runtime::grammar {

// The bytes of every token of a model's vocabulary, sorted for the mask walk. Built once per
// engine; shared read-only by every matcher.
class token_vocabulary {
 public:
  // token_bytes[id]: what the token decodes to (raw bytes). Excluded ids (special tokens) and
  // tokens of no bytes are never allowed by a grammar; eog_ids end generation.
  token_vocabulary(std::vector<std::string> token_bytes, const std::vector<char>& excluded,
                   std::vector<int32_t> eog_ids);

  int32_t size() const { return static_cast<int32_t>(bytes_.size()); }
  const std::vector<int32_t>& eog_ids() const { return eog_ids_; }
  const std::string& bytes(int32_t id) const { return bytes_[static_cast<size_t>(id)]; }
  bool is_eog(int32_t id) const;

 private:
  friend class token_matcher;
  std::vector<std::string> bytes_;
  std::vector<int32_t> order_;  // the ids a grammar may allow, by their bytes
  std::vector<int32_t> lcp_;    // bytes order_[i] shares with order_[i - 1] (0 for the first)
  std::vector<int32_t> eog_ids_;
};

// A bit per vocabulary entry (bit id % 64 of word id / 64).
using token_bitmask = std::vector<uint64_t>;

inline bool test_bit(const token_bitmask& m, int32_t id) {
  return ((m[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1) != 0;
}

// A compiled grammar and the masks computed for it, shared by the matchers of one owner (an
// executor) that run the same grammar. Not thread-safe.
class grammar_masks {
 public:
  explicit grammar_masks(std::shared_ptr<const grammar> g) : grammar_(std::move(g)) {}
  const std::shared_ptr<const grammar>& rules() const { return grammar_; }

  const token_bitmask* find(const std::vector<int32_t>& state) const;
  // Keeps at most max_cached masks (a mask is a bit per token: 6 KB for 49152 tokens, 16 KB
  // for 128k): a full cache is emptied, since states rarely repeat across phases of an output.
  const token_bitmask& insert(const std::vector<int32_t>& state, token_bitmask mask);
  static constexpr size_t max_cached = 256;

 private:
  struct hash {
    size_t operator()(const std::vector<int32_t>& v) const;
  };
  std::shared_ptr<const grammar> grammar_;
  std::unordered_map<std::vector<int32_t>, token_bitmask, hash> cache_;
};

// One sequence's place in its grammar.
class token_matcher {
 public:
  token_matcher(std::shared_ptr<grammar_masks> masks,
                std::shared_ptr<const token_vocabulary> vocabulary);

  // Feeds a sampled token. An end-of-generation token where the grammar can end changes nothing;
  // a token the grammar rejects (or an id outside the vocabulary) ends the parse: from then on
  // only end-of-generation tokens are allowed. Returns whether the token was accepted.
  bool accept(int32_t token);
  // Tokens fed so far (accepted or not).
  int32_t num_accepted() const { return num_accepted_; }

  // The tokens allowed next; valid until the next allowed() of any matcher sharing this one's
  // grammar_masks.
  const token_bitmask& allowed();
  // Whether the output so far is a complete sentence of the grammar.
  bool can_end() const;

 private:
  // A parse state between bytes: the stacks and a partial UTF-8 sequence (its bits so far, how
  // many continuation bytes it still needs, and the least code point of its length: shorter
  // ones would be overlong).
  struct state {
    recognizer::stacks stacks;
    uint32_t partial = 0;
    int32_t remaining = 0;
    uint32_t least = 0;
  };
  bool step(const state& in, unsigned char byte, state& out);
  void compute(token_bitmask& mask);
  void allow_eog(token_bitmask& mask) const;

  std::shared_ptr<grammar_masks> masks_;
  std::shared_ptr<const token_vocabulary> vocabulary_;
  recognizer recognizer_;
  state current_;
  std::vector<state> levels_;  // the mask walk's state after each byte of the current token
  std::vector<int32_t> key_;
  token_bitmask scratch_;
  int32_t num_accepted_ = 0;
};

}  // namespace troupe::runtime::grammar
