#pragma once
// The Hugging Face `tokenizers` BPE model: vocabulary, id-pair merges, and the merge loop of its
// Word::merge_all (lowest rank first, leftmost on a tie), with byte_fallback, unk_token,
// fuse_unk, ignore_merges, continuing_subword_prefix and end_of_word_suffix. Internal to
// troupe_tokenizer.
#include <rapidjson/fwd.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.hpp"
#include "runtime/tokenizer/bpe_model.hpp"

namespace troupe::runtime {

class hf_bpe {
 public:
  // `json`: the tokenizer.json "model" object (type BPE, dropout null). Error on a malformed
  // vocabulary or merge list; merges whose result is not in the vocabulary are ignored.
  static result<hf_bpe> from_json(const rapidjson::Value& json);

  // Appends the ids of one pre-tokenized word. Thread: any thread, concurrently.
  void encode_word(std::string_view word, std::vector<int32_t>& out) const;

  int32_t find_token(std::string_view text) const;
  // The vocabulary text of `id`, or nullptr for an id the model does not have.
  const std::string* token_text(int32_t id) const;
  int32_t num_ids() const { return static_cast<int32_t>(tokens_.size()); }

 private:
  struct merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  const merge* find_merge(int32_t a, int32_t b) const;
  void initial_symbols(std::string_view word, std::vector<int32_t>& ids) const;
  void merge_symbols(std::vector<int32_t>& ids) const;

  std::vector<std::string> tokens_;  // by id; "" for ids missing from the vocabulary
  std::vector<bool> present_;
  string_map<int32_t> ids_;
  std::unordered_map<uint64_t, merge> merges_;
  std::vector<int32_t> byte_ids_;  // <0xXX> token per byte, -1 when absent
  int32_t unk_id_ = -1;
  bool byte_fallback_ = false;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;
  std::string prefix_;  // continuing_subword_prefix
  std::string suffix_;  // end_of_word_suffix
};

}  // namespace troupe::runtime
