#include "runtime/grammar/token_matcher.hpp"

#include <algorithm>
#include <numeric>

namespace troupe::runtime::grammar {

token_vocabulary::token_vocabulary(std::vector<std::string> token_bytes,
                                   const std::vector<char>& excluded, std::vector<int32_t> eog_ids)
    : bytes_(std::move(token_bytes)), eog_ids_(std::move(eog_ids)) {
  std::sort(eog_ids_.begin(), eog_ids_.end());
  eog_ids_.erase(std::unique(eog_ids_.begin(), eog_ids_.end()), eog_ids_.end());
  for (size_t id = 0; id < bytes_.size(); ++id) {
    const bool skip = (id < excluded.size() && excluded[id] != 0) || bytes_[id].empty() ||
                      is_eog(static_cast<int32_t>(id));
    if (!skip) order_.push_back(static_cast<int32_t>(id));
  }
  std::sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) {
    return bytes_[static_cast<size_t>(a)] < bytes_[static_cast<size_t>(b)];
  });
  lcp_.assign(order_.size(), 0);
  for (size_t i = 1; i < order_.size(); ++i) {
    const std::string& a = bytes_[static_cast<size_t>(order_[i - 1])];
    const std::string& b = bytes_[static_cast<size_t>(order_[i])];
    const auto end = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    lcp_[i] = static_cast<int32_t>(end.first - a.begin());
  }
}

bool token_vocabulary::is_eog(int32_t id) const {
  return std::binary_search(eog_ids_.begin(), eog_ids_.end(), id);
}

size_t grammar_masks::hash::operator()(const std::vector<int32_t>& v) const {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int32_t x : v)
    h = (h ^ static_cast<uint32_t>(x)) * 0x100000001b3ull;
  return static_cast<size_t>(h);
}

const token_bitmask* grammar_masks::find(const std::vector<int32_t>& state) const {
  auto it = cache_.find(state);
  return it == cache_.end() ? nullptr : &it->second;
}

const token_bitmask& grammar_masks::insert(const std::vector<int32_t>& state, token_bitmask mask) {
  if (cache_.size() >= max_cached) cache_.clear();
  return cache_.insert_or_assign(state, std::move(mask)).first->second;
}

token_matcher::token_matcher(std::shared_ptr<grammar_masks> masks,
                             std::shared_ptr<const token_vocabulary> vocabulary)
    : masks_(std::move(masks)), vocabulary_(std::move(vocabulary)), recognizer_(masks_->rules()) {
  recognizer_.initial(current_.stacks);
}

bool token_matcher::can_end() const {
  return current_.remaining == 0 && recognizer::can_end(current_.stacks);
}

// Decodes UTF-8 byte by byte. A lead byte opens a partial sequence; while it is incomplete, some
// stack must accept a code point of that length that starts with its bits. Overlong forms are
// refused: a lead byte E0 alone (bits 0) must not pass for a prefix of "a".
bool token_matcher::step(const state& in, unsigned char byte, state& out) {
  uint32_t cp = 0;
  if (in.remaining == 0) {
    if (byte < 0x80) {
      cp = byte;
    } else {
      const int32_t extra = byte >= 0xF8   ? -1
                            : byte >= 0xF0 ? 3
                            : byte >= 0xE0 ? 2
                            : byte >= 0xC0 ? 1
                                           : -1;
      if (extra < 0) return false;
      constexpr uint32_t least[] = {0, 0x80, 0x800, 0x10000};
      out.partial = byte & (0x3Fu >> extra);
      out.remaining = extra;
      out.least = least[extra];
    }
  } else {
    if ((byte & 0xC0) != 0x80) return false;
    out.partial = (in.partial << 6) | (byte & 0x3Fu);
    out.remaining = in.remaining - 1;
    out.least = in.least;
    if (out.remaining == 0) cp = out.partial;
  }
  if (byte < 0x80 || out.remaining == 0) {
    if (cp < out.least && byte >= 0x80) return false;
    out.partial = 0;
    out.remaining = 0;
    out.least = 0;
    recognizer_.advance(in.stacks, cp, out.stacks);
    return !out.stacks.empty();
  }
  const auto shift = static_cast<uint32_t>(6 * out.remaining);
  const uint32_t lo = std::max(out.partial << shift, out.least);
  const uint32_t hi = (out.partial << shift) | ((1u << shift) - 1);
  if (lo > std::min(hi, 0x10FFFFu) || !recognizer_.accepts_any(in.stacks, lo, hi)) return false;
  out.stacks = in.stacks;
  return true;
}

bool token_matcher::accept(int32_t token) {
  const token_vocabulary& vocab = *vocabulary_;
  ++num_accepted_;
  if (token >= 0 && token < vocab.size() && vocab.is_eog(token) && can_end()) return true;
  bool ok =
      token >= 0 && token < vocab.size() && !vocab.bytes(token).empty() && !vocab.is_eog(token);
  state next = current_;
  for (size_t i = 0; ok && i < vocab.bytes(token).size(); ++i) {
    state after;
    ok = step(next, static_cast<unsigned char>(vocab.bytes(token)[i]), after);
    next = std::move(after);
  }
  if (!ok) next = state{};  // a rejected token: no parse is left
  current_ = std::move(next);
  return ok;
}

void token_matcher::allow_eog(token_bitmask& mask) const {
  for (int32_t id : vocabulary_->eog_ids())
    if (id >= 0 && id < vocabulary_->size())
      mask[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
}

const token_bitmask& token_matcher::allowed() {
  key_.assign({current_.remaining, static_cast<int32_t>(current_.partial),
               static_cast<int32_t>(current_.least)});
  recognizer_.describe(current_.stacks, key_);
  if (const token_bitmask* cached = masks_->find(key_)) return *cached;
  token_bitmask mask(static_cast<size_t>(vocabulary_->size() + 63) / 64, 0);
  compute(mask);
  if (can_end() || std::all_of(mask.begin(), mask.end(), [](uint64_t w) { return w == 0; }))
    allow_eog(mask);
  return masks_->insert(key_, std::move(mask));
}

// The walk over the byte-sorted vocabulary: levels_[d] is the state after the first d bytes of
// the current token; `valid` levels are those of the prefix shared with the previous token that
// were reached; `dead` is the length of a rejected prefix of the previous token (0 = none).
void token_matcher::compute(token_bitmask& mask) {
  const token_vocabulary& vocab = *vocabulary_;
  if (current_.stacks.empty()) return;
  const size_t base = recognizer_.mark();
  std::vector<size_t> marks(1, base);
  if (levels_.empty()) levels_.resize(1);
  levels_[0] = current_;
  size_t valid = 0;
  size_t dead = 0;
  for (size_t i = 0; i < vocab.order_.size(); ++i) {
    const auto shared = static_cast<size_t>(vocab.lcp_[i]);
    if (dead != 0 && shared >= dead) continue;  // extends the rejected prefix
    const int32_t id = vocab.order_[i];
    const std::string& bytes = vocab.bytes(id);
    size_t d = std::min(shared, valid);
    recognizer_.rollback(marks[d]);
    marks.resize(d + 1);
    dead = 0;
    for (; d < bytes.size(); ++d) {
      if (levels_.size() < d + 2) levels_.resize(d + 2);
      if (!step(levels_[d], static_cast<unsigned char>(bytes[d]), levels_[d + 1])) {
        dead = d + 1;
        break;
      }
      marks.push_back(recognizer_.mark());
    }
    valid = d;
    if (dead == 0) mask[static_cast<size_t>(id) >> 6] |= 1ull << (id & 63);
  }
  recognizer_.rollback(base);
}

}  // namespace troupe::runtime::grammar
