// load_hf_tokenizer: the Hugging Face `tokenizers` pipeline from tokenizer.json: added tokens
// matched in the raw text, then per remaining piece normalizer -> pre-tokenizer -> BPE, then the
// post-processor's special tokens; decode through the decoder chain.
#include <algorithm>
#include <utility>

#include "runtime/tokenizer/hf_added_tokens.hpp"
#include "runtime/tokenizer/hf_bpe.hpp"
#include "runtime/tokenizer/hf_decoder.hpp"
#include "runtime/tokenizer/hf_json.hpp"
#include "runtime/tokenizer/hf_normalizer.hpp"
#include "runtime/tokenizer/hf_pre_tokenizer.hpp"
#include "runtime/tokenizer/special_tokens.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::runtime {
namespace {

class hf_tokenizer final : public tokenizer {
 public:
  explicit hf_tokenizer(hf_parts parts) : p_(std::move(parts)) {
    for (const auto& t : p_.added) {
      if (t.normalized && p_.normalizer) {
        std::string pattern = t.content;
        p_.normalizer->apply(pattern);
        normalized_matcher_.add(pattern, t);
      } else {
        raw_matcher_.add(t.content, t);
      }
      num_ids_ = std::max(num_ids_, t.id + 1);
    }
    num_ids_ = std::max(num_ids_, p_.model.num_ids());
    added_index_.assign(num_ids_, -1);
    for (size_t i = 0; i < p_.added.size(); ++i)
      if (added_index_[p_.added[i].id] < 0) added_index_[p_.added[i].id] = static_cast<int>(i);
    eog_ids_ = end_of_generation();
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special) ids = p_.prefix;
    for (const auto& s : raw_matcher_.split(text)) {
      if (s.id >= 0)
        ids.push_back(s.id);
      else
        encode_piece(text.substr(s.begin, s.end - s.begin), s.begin == 0, ids);
    }
    if (add_special) ids.insert(ids.end(), p_.suffix.begin(), p_.suffix.end());
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const int32_t id : ids)
      if (const std::string* t = text_of(id, skip_special)) tokens.push_back(*t);
    return p_.decoder->decode(std::move(tokens));
  }

  std::string token_bytes(int32_t id) const override { return token_bytes_at(id, 1); }
  std::string token_bytes_at(int32_t id, size_t index) const override {
    const std::string* t = text_of(id, false);
    return t ? p_.decoder->token_bytes(*t, index) : std::string();
  }
  leading_strip_rule leading_strip() const override {
    return {p_.decoder->leading_strip_content(), p_.decoder->leading_strip_count()};
  }

  int fallback_byte(int32_t id) const override {
    const std::string* t = text_of(id, false);
    return t ? p_.decoder->fallback_byte(*t) : -1;
  }

  int32_t vocab_size() const override { return num_ids_; }
  int32_t bos_id() const override { return p_.bos_id; }
  int32_t eos_id() const override { return p_.eos_id; }
  bool is_special(int32_t id) const override {
    const hf_added_token* t = added(id);
    return t != nullptr && t->special;
  }
  bool is_eog(int32_t id) const override {
    return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
  }

 private:
  const hf_added_token* added(int32_t id) const {
    if (id < 0 || id >= num_ids_ || added_index_[id] < 0) return nullptr;
    return &p_.added[added_index_[id]];
  }

  // The library's decode: added tokens by content (dropped when special and skipping), then the
  // model's vocabulary; unknown ids are dropped.
  const std::string* text_of(int32_t id, bool skip_special) const {
    if (const hf_added_token* t = added(id))
      return skip_special && t->special ? nullptr : &t->content;
    return p_.model.token_text(id);
  }

  // Text between raw-matched added tokens: normalize, match the normalized added tokens,
  // pre-tokenize, run BPE per word.
  void encode_piece(std::string_view raw, bool at_origin, std::vector<int32_t>& ids) const {
    std::string text(raw);
    if (p_.normalizer) p_.normalizer->apply(text);
    if (normalized_matcher_.empty()) {
      encode_words({{std::move(text), at_origin}}, ids);
      return;
    }
    for (const auto& s : normalized_matcher_.split(text)) {
      if (s.id >= 0)
        ids.push_back(s.id);
      else
        encode_words({{text.substr(s.begin, s.end - s.begin), at_origin && s.begin == 0}}, ids);
    }
  }

  void encode_words(std::vector<hf_piece> pieces, std::vector<int32_t>& ids) const {
    if (p_.pre_tokenizer) p_.pre_tokenizer->apply(pieces);
    for (const auto& piece : pieces)
      p_.model.encode_word(piece.text, ids);
  }

  // eos plus the added tokens whose text marks end of turn / generation (as llama.cpp lists).
  std::vector<int32_t> end_of_generation() const {
    vocab_spec spec;
    spec.tokens.resize(num_ids_);
    for (const auto& t : p_.added)
      spec.tokens[t.id] = t.content;
    spec.eos_id = p_.eos_id;
    return end_of_generation_ids(spec);
  }

  hf_parts p_;
  hf_added_matcher raw_matcher_;
  hf_added_matcher normalized_matcher_;
  int32_t num_ids_ = 0;
  std::vector<int> added_index_;
  std::vector<int32_t> eog_ids_;
};

}  // namespace

result<std::shared_ptr<const tokenizer>> load_hf_tokenizer(const std::string& dir_or_file) {
  auto parts = read_hf_parts(dir_or_file);
  if (!parts) return error{"tokenizer.json: " + parts.message()};
  return std::shared_ptr<const tokenizer>(std::make_shared<hf_tokenizer>(std::move(parts).value()));
}

}  // namespace troupe::runtime
