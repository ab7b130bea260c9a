#include "runtime/tokenizer/hf_bpe.hpp"

#include <rapidjson/document.h>

#include <cstdio>
#include <queue>

#include "runtime/tokenizer/hf_text.hpp"

namespace troupe::runtime {
namespace {

std::string_view view(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

std::string optional_string(const rapidjson::Value& json, const char* key) {
  if (!json.HasMember(key) || !json[key].IsString()) return {};
  return std::string(view(json[key]));
}

bool json_bool(const rapidjson::Value& json, const char* key) {
  return json.HasMember(key) && json[key].IsBool() && json[key].GetBool();
}

// A merge entry as its two sides: "a b" (exactly one space) or ["a", "b"].
bool merge_sides(const rapidjson::Value& m, std::string_view& a, std::string_view& b) {
  if (m.IsString()) {
    const std::string_view s = view(m);
    const size_t space = s.find(' ');
    if (space == std::string_view::npos || s.find(' ', space + 1) != std::string_view::npos)
      return false;
    a = s.substr(0, space);
    b = s.substr(space + 1);
    return true;
  }
  if (m.IsArray() && m.Size() == 2 && m[0].IsString() && m[1].IsString()) {
    a = view(m[0]);
    b = view(m[1]);
    return true;
  }
  return false;
}

}  // namespace

result<hf_bpe> hf_bpe::from_json(const rapidjson::Value& json) {
  if (!json.IsObject()) return error{"model is not an object"};
  if (optional_string(json, "type") != "BPE" && json.HasMember("type"))
    return error{"unsupported model type '" + optional_string(json, "type") + "' (only BPE)"};
  if (json.HasMember("dropout") && !json["dropout"].IsNull() &&
      !(json["dropout"].IsNumber() && json["dropout"].GetDouble() == 0.0))
    return error{"BPE dropout is not supported"};
  if (!json.HasMember("vocab") || !json["vocab"].IsObject())
    return error{"BPE model without a vocab object"};
  hf_bpe bpe;
  const auto& vocab = json["vocab"];
  bpe.ids_.reserve(vocab.MemberCount());
  for (const auto& [key, value] : vocab.GetObject()) {
    if (!value.IsInt() || value.GetInt() < 0) return error{"vocab id is not a non-negative int"};
    const int32_t id = value.GetInt();
    if (static_cast<size_t>(id) >= bpe.tokens_.size()) {
      bpe.tokens_.resize(id + 1);
      bpe.present_.resize(id + 1, false);
    }
    bpe.tokens_[id] = std::string(view(key));
    bpe.present_[id] = true;
    bpe.ids_[bpe.tokens_[id]] = id;
  }
  bpe.prefix_ = optional_string(json, "continuing_subword_prefix");
  bpe.suffix_ = optional_string(json, "end_of_word_suffix");
  bpe.byte_fallback_ = json_bool(json, "byte_fallback");
  bpe.fuse_unk_ = json_bool(json, "fuse_unk");
  bpe.ignore_merges_ = json_bool(json, "ignore_merges");
  if (json.HasMember("unk_token") && json["unk_token"].IsString())
    bpe.unk_id_ = bpe.find_token(view(json["unk_token"]));
  bpe.byte_ids_.assign(256, -1);
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    bpe.byte_ids_[b] = bpe.find_token(name);
  }
  if (json.HasMember("merges")) {
    if (!json["merges"].IsArray()) return error{"BPE merges is not an array"};
    const auto& merges = json["merges"];
    bpe.merges_.reserve(merges.Size());
    std::string joined;
    int32_t rank = 0;
    for (const auto& m : merges.GetArray()) {
      std::string_view a, b;
      if (!merge_sides(m, a, b)) return error{"malformed merge at rank " + std::to_string(rank)};
      const int32_t id_a = bpe.find_token(a);
      const int32_t id_b = bpe.find_token(b);
      if (!bpe.prefix_.empty() && b.starts_with(bpe.prefix_)) b.remove_prefix(bpe.prefix_.size());
      joined.assign(a).append(b);
      const int32_t id_new = bpe.find_token(joined);
      if (id_a >= 0 && id_b >= 0 && id_new >= 0)
        bpe.merges_.try_emplace(pair_key(id_a, id_b), merge{rank, id_new});
      ++rank;
    }
  }
  return bpe;
}

int32_t hf_bpe::find_token(std::string_view text) const {
  const auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

const std::string* hf_bpe::token_text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !present_[id]) return nullptr;
  return &tokens_[id];
}

const hf_bpe::merge* hf_bpe::find_merge(int32_t a, int32_t b) const {
  const auto it = merges_.find(pair_key(a, b));
  return it == merges_.end() ? nullptr : &it->second;
}

// The word's characters as symbols: known characters as themselves, unknown ones as their
// <0xXX> byte tokens (byte_fallback) or as unk (consecutive unks fused when fuse_unk).
void hf_bpe::initial_symbols(std::string_view word, std::vector<int32_t>& ids) const {
  std::string piece;
  bool last_was_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    const size_t length = hf_text::next_codepoint(word, pos).second;
    const bool last = pos + length == word.size();
    piece.clear();
    if (pos > 0) piece += prefix_;
    piece.append(word.substr(pos, length));
    if (last) piece += suffix_;
    pos += length;
    const int32_t id = find_token(piece);
    if (id >= 0) {
      ids.push_back(id);
      last_was_unk = false;
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (size_t i = pos - length; i < pos; ++i)
        all = all && byte_ids_[static_cast<uint8_t>(word[i])] >= 0;
      if (all) {
        for (size_t i = pos - length; i < pos; ++i)
          ids.push_back(byte_ids_[static_cast<uint8_t>(word[i])]);
        last_was_unk = false;
        continue;
      }
    }
    if (unk_id_ < 0) continue;  // no unk token: the character is dropped, as in the library
    if (!(fuse_unk_ && last_was_unk)) ids.push_back(unk_id_);
    last_was_unk = true;
  }
}

// Word::merge_all: a heap of candidate merges ordered by (rank, position); a popped candidate
// is applied when its left symbol is still alive and the pair still merges into the same id.
void hf_bpe::merge_symbols(std::vector<int32_t>& ids) const {
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct candidate {
    int32_t rank;
    int pos;
    int32_t new_id;
    bool operator>(const candidate& o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<candidate, std::vector<candidate>, std::greater<>> heap;
  for (int i = 0; i + 1 < n; ++i)
    if (const merge* m = find_merge(ids[i], ids[i + 1])) heap.push({m->rank, i, m->new_id});
  while (!heap.empty()) {
    const candidate top = heap.top();
    heap.pop();
    const int pos = top.pos;
    if (!alive[pos] || next[pos] < 0) continue;
    const int right = next[pos];
    const merge* m = find_merge(ids[pos], ids[right]);
    if (m == nullptr || m->new_id != top.new_id) continue;
    ids[pos] = top.new_id;
    alive[right] = false;
    next[pos] = next[right];
    if (next[pos] >= 0) prev[next[pos]] = pos;
    if (prev[pos] >= 0)
      if (const merge* l = find_merge(ids[prev[pos]], ids[pos]))
        heap.push({l->rank, prev[pos], l->new_id});
    if (next[pos] >= 0)
      if (const merge* r = find_merge(ids[pos], ids[next[pos]]))
        heap.push({r->rank, pos, r->new_id});
  }
  size_t kept = 0;
  for (int i = 0; i < n; ++i)
    if (alive[i]) ids[kept++] = ids[i];
  ids.resize(kept);
}

void hf_bpe::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.empty()) return;
  if (ignore_merges_) {
    if (const int32_t id = find_token(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  std::vector<int32_t> ids;
  ids.reserve(word.size());
  initial_symbols(word, ids);
  merge_symbols(ids);
  out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace troupe::runtime
