#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "runtime/tokenizer/sentencepiece.hpp"
#include "runtime/tokenizer/sentencepiece_config.hpp"
#include "runtime/tokenizer/sentencepiece_split.hpp"

// The structure follows transformers' slow LlamaTokenizer step by step (tokenize, _tokenize,
// convert_tokens_to_string, _decode), on pieces as strings, because its results depend on piece
// texts (e.g. "is the first piece '▁'") rather than on ids.
namespace troupe::runtime {
namespace {

constexpr std::string_view underline = "\xe2\x96\x81";  // U+2581, SentencePiece's space

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  for (size_t pos = 0;;) {
    const size_t hit = s.find(from, pos);
    out.append(s.substr(pos, hit == std::string_view::npos ? std::string_view::npos : hit - pos));
    if (hit == std::string_view::npos) return out;
    out.append(to);
    pos = hit + from.size();
  }
}

// transformers' clean_up_tokenization.
std::string clean_up_spaces(std::string text) {
  for (auto [from, to] : {std::pair{" .", "."},
                          {" ?", "?"},
                          {" !", "!"},
                          {" ,", ","},
                          {" ' ", "'"},
                          {" n't", "n't"},
                          {" 'm", "'m"},
                          {" 's", "'s"},
                          {" 've", "'ve"},
                          {" 're", "'re"}}) {
    text = replace_all(text, from, to);
  }
  return text;
}

class sentencepiece_tokenizer final : public tokenizer {
 public:
  sentencepiece_tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp,
                          sentencepiece_config config)
      : sp_(std::move(sp)), c_(std::move(config)), sp_size_(sp_->GetPieceSize()) {
    index_added_tokens();
    unk_length_ = c_.unk ? sp_encode(*c_.unk).size() : 0;
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special && c_.add_bos && bos_id_ >= 0) ids.push_back(bos_id_);
    for (const std::string& piece : tokenize(text))
      ids.push_back(piece_id(piece));
    if (add_special && c_.add_eos && eos_id_ >= 0) ids.push_back(eos_id_);
    return ids;
  }

  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::vector<std::string> sub_texts, current;
    for (int32_t id : ids) {
      if (id < 0 || id >= vocab_size_) continue;
      if (skip_special && special_ids_.count(id)) continue;
      auto added = added_by_id_.find(id);
      std::string token = added != added_by_id_.end() ? added->second : sp_->IdToPiece(id);
      if (skip_special && special_texts_.count(token)) continue;
      if (legacy_added_.count(token)) {
        if (!current.empty()) {
          std::string s = tokens_to_string(std::move(current));
          if (!s.empty()) sub_texts.push_back(std::move(s));
          current.clear();
        }
        sub_texts.push_back(std::move(token));
      } else {
        current.push_back(std::move(token));
      }
    }
    if (!current.empty()) sub_texts.push_back(tokens_to_string(std::move(current)));
    std::string text;
    for (size_t i = 0; i < sub_texts.size(); ++i)
      text += (i ? " " : "") + sub_texts[i];  // spaces_between_special_tokens
    return c_.clean_up_spaces ? clean_up_spaces(std::move(text)) : text;
  }

  std::string token_bytes(int32_t id) const override { return token_bytes_at(id, 1); }

  std::string token_bytes_at(int32_t id, size_t index) const override {
    if (id < 0 || id >= vocab_size_) return "";
    if (auto added = added_by_id_.find(id); added != added_by_id_.end()) return added->second;
    if (id >= sp_size_) return "";
    if (int byte = fallback_byte(id); byte >= 0) return std::string(1, static_cast<char>(byte));
    if (sp_->IsControl(id)) return "";
    if (sp_->IsUnknown(id)) return " \xe2\x81\x87 ";  // SentencePiece's unknown surface " ⁇ "
    std::string piece = sp_->IdToPiece(id);
    if (index > 0) return replace_all(piece, underline, " ");
    // The first piece: transformers strips its "▁" (add_prefix_space) and decodes the rest,
    // where a legacy model strips one more (add_dummy_prefix) and an unknown rest stays verbatim.
    if (c_.add_prefix_space && starts_with(piece, underline)) piece.erase(0, underline.size());
    return sp_decode({piece});
  }

  int fallback_byte(int32_t id) const override {
    if (id < 0 || id >= sp_size_ || added_by_id_.count(id) || !sp_->IsByte(id)) return -1;
    const std::string& piece = sp_->IdToPiece(id);  // "<0xAB>"
    return static_cast<int>(std::stoul(piece.substr(3, 2), nullptr, 16));
  }

  int32_t vocab_size() const override { return vocab_size_; }
  int32_t bos_id() const override { return bos_id_; }
  int32_t eos_id() const override { return eos_id_; }
  bool is_special(int32_t id) const override { return special_ids_.count(id) > 0; }
  bool is_eog(int32_t id) const override { return id >= 0 && id == eos_id_; }

 private:
  // Ids of added tokens, and the special tokens transformers adds when the config did not:
  // a special whose text is a piece keeps that piece's id, others get the next free id.
  void index_added_tokens() {
    vocab_size_ = sp_size_;
    for (const sp_added_token& t : c_.added) {
      added_by_id_[t.id] = t.content;
      added_by_text_[t.content] = t.id;
      vocab_size_ = std::max(vocab_size_, t.id + 1);
    }
    std::vector<std::string> specials;
    for (const auto* named : {&c_.bos, &c_.eos, &c_.unk, &c_.pad})
      if (*named) specials.push_back(**named);
    specials.insert(specials.end(), c_.additional_special.begin(), c_.additional_special.end());
    for (const std::string& s : specials) {
      special_texts_.insert(s);
      if (!added_by_text_.count(s)) add_special(s);
      special_ids_.insert(added_by_text_.at(s));
    }
    for (const auto& [text, id] : added_by_text_) {
      if (!special_texts_.count(text)) legacy_added_.insert(text);
    }
    for (const std::string& s : c_.additional_special) {
      if (added_by_text_.at(s) >= sp_size_) legacy_added_.insert(s);
    }
    bos_id_ = c_.bos ? added_by_text_.at(*c_.bos) : -1;
    eos_id_ = c_.eos ? added_by_text_.at(*c_.eos) : -1;
  }

  void add_special(const std::string& text) {
    const int id = sp_->PieceToId(text);
    const int32_t new_id = sp_->IdToPiece(id) == text ? id : vocab_size_++;
    added_by_id_[new_id] = text;
    added_by_text_[text] = new_id;
    c_.added.push_back({new_id, text, false, false, false, true});
  }

  std::vector<std::string> sp_encode(std::string_view text) const {
    std::vector<std::string> pieces;
    (void)sp_->Encode(text, &pieces);  // fails only on an unloaded model
    return pieces;
  }

  int32_t piece_id(const std::string& piece) const {
    auto added = added_by_text_.find(piece);
    return added != added_by_text_.end() ? added->second : sp_->PieceToId(piece);
  }

  // LlamaTokenizer.tokenize: the non-legacy form marks the start with "▁" itself.
  std::vector<std::string> tokenize(std::string_view text) const {
    if (c_.legacy || text.empty()) return base_tokenize(text);
    std::string marked = replace_all(text, underline, " ");
    if (c_.add_prefix_space) marked.insert(0, underline);
    std::vector<std::string> pieces = base_tokenize(marked);
    if (pieces.size() > 1 && pieces[0] == underline && special_texts_.count(pieces[1])) {
      pieces.erase(pieces.begin());
    }
    return pieces;
  }

  std::vector<std::string> base_tokenize(std::string_view text) const {
    std::vector<std::string> out;
    for (sp_chunk& chunk : split_added_tokens(text, c_.added)) {
      if (chunk.added) {
        out.push_back(std::move(chunk.text));
        continue;
      }
      std::vector<std::string> pieces = piece_tokenize(chunk.text);
      out.insert(out.end(), std::make_move_iterator(pieces.begin()),
                 std::make_move_iterator(pieces.end()));
    }
    return out;
  }

  // LlamaTokenizer._tokenize: without the dummy prefix, a leading space is kept by encoding
  // after the unknown token's text and dropping that token's pieces.
  std::vector<std::string> piece_tokenize(const std::string& text) const {
    if (c_.legacy || !(starts_with(text, underline) || starts_with(text, " ")) || !c_.unk) {
      return sp_encode(text);
    }
    std::vector<std::string> pieces = sp_encode(*c_.unk + text);
    if (pieces.size() >= unk_length_) pieces.erase(pieces.begin(), pieces.begin() + unk_length_);
    return pieces;
  }

  std::string sp_decode(const std::vector<std::string>& pieces) const {
    std::string text;
    (void)sp_->Decode(pieces, &text);
    return text;
  }

  // LlamaTokenizer.convert_tokens_to_string.
  std::string tokens_to_string(std::vector<std::string> tokens) const {
    if (c_.add_prefix_space && starts_with(tokens[0], underline)) {
      tokens[0].erase(0, underline.size());
    }
    std::string out;
    std::vector<std::string> current;
    bool prev_special = false;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (special_texts_.count(tokens[i])) {
        if (!prev_special && i != 0 && c_.legacy) out += ' ';
        out += sp_decode(current) + tokens[i];
        prev_special = true;
        current.clear();
      } else {
        if (prev_special && i == 1 && c_.add_prefix_space && !starts_with(tokens[i], underline)) {
          out += ' ';
        }
        current.push_back(std::move(tokens[i]));
        prev_special = false;
      }
    }
    return out + sp_decode(current);
  }

  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  sentencepiece_config c_;
  int32_t sp_size_ = 0, vocab_size_ = 0, bos_id_ = -1, eos_id_ = -1;
  size_t unk_length_ = 0;
  std::map<int32_t, std::string> added_by_id_;
  std::map<std::string, int32_t> added_by_text_;
  std::set<std::string> special_texts_, legacy_added_;
  std::set<int32_t> special_ids_;
};

result<std::string> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot read " + path.string()};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

result<std::shared_ptr<const tokenizer>> load_sentencepiece_tokenizer(const std::string& dir) {
  auto config = read_sentencepiece_config(dir);
  if (!config) return config.err();
  const std::filesystem::path path = std::filesystem::path(dir) / "tokenizer.model";
  auto bytes = read_file(path);
  if (!bytes) return bytes.err();
  // Non-legacy LlamaTokenizer loads the model with normalizer_spec.add_dummy_prefix = false
  // (protobuf MergeFrom). A second occurrence of the normalizer_spec field (3) is merged into the
  // first by every protobuf parser, so appending {add_dummy_prefix (3): false} does the same.
  if (!config->legacy) bytes->append("\x1a\x02\x18\x00", 4);
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  if (auto s = sp->LoadFromSerializedProto(*bytes); !s.ok()) {
    return error{path.string() + ": not a SentencePiece model (" + s.ToString() + ")"};
  }
  for (const sp_added_token& t : config->added) {
    if (t.content.empty()) return error{dir + ": an added token has empty content"};
  }
  return std::shared_ptr<const tokenizer>(
      std::make_shared<sentencepiece_tokenizer>(std::move(sp), std::move(*config)));
}

result<std::shared_ptr<const tokenizer>> load_tokenizer_dir(const std::string& dir) {
  const std::filesystem::path d(dir);
  if (std::filesystem::exists(d / "tokenizer.json")) return load_hf_tokenizer(dir);
  if (std::filesystem::exists(d / "tokenizer.model")) return load_sentencepiece_tokenizer(dir);
  return error{dir + ": no tokenizer.json or tokenizer.model"};
}

}  // namespace troupe::runtime
