// make_bpe_tokenizer: GPT-2 style byte-level BPE with llama.cpp's exact encoding rules
// (special-token partition, per-pre-tokenizer regex split, rank-ordered merges).
#include <algorithm>
#include <optional>
#include <utility>

#include "runtime/tokenizer/bpe_model.hpp"
#include "runtime/tokenizer/byte_level.hpp"
#include "runtime/tokenizer/pre_tokenizer.hpp"
#include "runtime/tokenizer/special_tokens.hpp"
#include "runtime/tokenizer/tokenizer.hpp"
#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime {
namespace {

class bpe_tokenizer final : public tokenizer {
 public:
  bpe_tokenizer(vocab_spec spec, pre_tokenizer pre)
      : spec_(std::move(spec)),
        pre_(std::move(pre)),
        model_(spec_.tokens, spec_.merges, spec_.ignore_merges),
        types_(effective_types(spec_)),
        literal_order_(literal_match_order(spec_.tokens, types_)),
        eog_ids_(end_of_generation_ids(spec_)) {
    spec_.merges = {};  // the model holds its own index of them
    token_bytes_.reserve(spec_.tokens.size());
    for (size_t id = 0; id < spec_.tokens.size(); ++id)
      token_bytes_.push_back(bytes_of(spec_.tokens[id], types_[id]));
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special && spec_.add_bos && spec_.bos_id >= 0) ids.push_back(spec_.bos_id);
    for (const auto& fragment : partition_special(text, literal_order_, spec_.tokens)) {
      if (fragment.token >= 0) {
        ids.push_back(fragment.token);
      } else {
        encode_raw(fragment.text, ids);
      }
    }
    if (add_special && spec_.add_eos && spec_.eos_id >= 0) ids.push_back(spec_.eos_id);
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::string bytes;
    for (const int32_t id : ids) {
      if (!valid(id) || (skip_special && is_special(id))) continue;
      bytes += token_bytes_[id];
    }
    std::string text;
    text.reserve(bytes.size());
    (void)utf8::append_repaired(bytes, /*final=*/true, text);
    return text;
  }

  std::string token_bytes(int32_t id) const override { return valid(id) ? token_bytes_[id] : ""; }
  int32_t vocab_size() const override { return static_cast<int32_t>(spec_.tokens.size()); }
  int32_t bos_id() const override { return spec_.bos_id; }
  int32_t eos_id() const override { return spec_.eos_id; }

  bool is_special(int32_t id) const override {
    return valid(id) && (types_[id] == token_type::control || types_[id] == token_type::unknown);
  }

  bool is_eog(int32_t id) const override {
    return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
  }

 private:
  bool valid(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < spec_.tokens.size(); }

  // What llama.cpp's token_to_piece gives for a BPE vocab: special and user-defined tokens
  // as written, normal tokens byte-decoded, byte/unused/undefined tokens nothing.
  static std::string bytes_of(const std::string& text, token_type type) {
    switch (type) {
      case token_type::control:
      case token_type::unknown:
      case token_type::user_defined:
        return text;
      case token_type::normal:
        return byte_level::decode(text);
      default:
        return {};
    }
  }

  // Raw text between special tokens: invalid UTF-8 bytes become U+FFFD (as llama.cpp's codepoint
  // decoder does), then regex split, byte-level encoding and BPE per word.
  void encode_raw(std::string_view raw, std::vector<int32_t>& ids) const {
    const std::string text = utf8::repair_bytewise(raw);
    for (const auto word : pre_.split(text))
      model_.encode_word(byte_level::encode(word), ids);
  }

  vocab_spec spec_;
  pre_tokenizer pre_;
  bpe_model model_;
  std::vector<token_type> types_;
  std::vector<int32_t> literal_order_;
  std::vector<int32_t> eog_ids_;
  std::vector<std::string> token_bytes_;
};

std::optional<std::string> validate(const vocab_spec& spec) {
  if (spec.model != "gpt2")
    return "unsupported tokenizer model '" + spec.model + "' (only byte-level BPE \"gpt2\")";
  if (spec.tokens.empty()) return std::string("the vocabulary has no tokens");
  if (!spec.types.empty() && spec.types.size() != spec.tokens.size())
    return "token types (" + std::to_string(spec.types.size()) + ") do not match tokens (" +
           std::to_string(spec.tokens.size()) + ")";
  const auto num_tokens = static_cast<int64_t>(spec.tokens.size());
  for (const auto& [name, id] :
       {std::pair{"bos", spec.bos_id}, std::pair{"eos", spec.eos_id},
        std::pair{"unknown", spec.unk_id}, std::pair{"pad", spec.pad_id}}) {
    if (id < -1 || id >= num_tokens)
      return std::string(name) + " token id " + std::to_string(id) + " is outside the vocabulary";
  }
  if (spec.add_bos && spec.bos_id < 0) return std::string("add_bos is set but there is no bos");
  if (spec.add_eos && spec.eos_id < 0) return std::string("add_eos is set but there is no eos");
  return std::nullopt;
}

}  // namespace

result<std::shared_ptr<const tokenizer>> make_bpe_tokenizer(vocab_spec spec) {
  if (auto problem = validate(spec)) return error{"tokenizer: " + *problem};
  auto pre = pre_tokenizer::make(spec.pre);
  if (!pre) return error{"tokenizer: " + pre.message()};
  return std::shared_ptr<const tokenizer>(
      std::make_shared<bpe_tokenizer>(std::move(spec), std::move(pre).value()));
}

}  // namespace troupe::runtime
