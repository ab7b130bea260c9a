#include "runtime/grammar/recognizer.hpp"

#include <algorithm>

namespace troupe::runtime::grammar {

namespace {

uint64_t key_of(int32_t pos, int32_t parent) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(pos)) << 32) | static_cast<uint32_t>(parent);
}

size_t slot_of(uint64_t key, size_t mask) {
  return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

void sort_unique(recognizer::stacks& s) {
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
}

}  // namespace

recognizer::recognizer(std::shared_ptr<const grammar> g)
    : grammar_(std::move(g)), table_(1024, -1) {}

int32_t recognizer::find(uint64_t key) const {
  const size_t mask = table_.size() - 1;
  for (size_t slot = slot_of(key, mask);; slot = (slot + 1) & mask) {
    const int32_t id = table_[slot];
    if (id < 0) return -1;
    const node& n = nodes_[static_cast<size_t>(id)];
    if (key_of(n.pos, n.parent) == key) return id;
  }
}

int32_t recognizer::intern(int32_t pos, int32_t parent) {
  const uint64_t key = key_of(pos, parent);
  if (const int32_t id = find(key); id >= 0) return id;
  if ((nodes_.size() + 1) * 2 > table_.size()) {  // grow: keep the load under a half
    std::vector<int32_t> bigger(table_.size() * 2, -1);
    for (size_t id = 0; id < nodes_.size(); ++id) {
      size_t slot = slot_of(key_of(nodes_[id].pos, nodes_[id].parent), bigger.size() - 1);
      while (bigger[slot] >= 0)
        slot = (slot + 1) & (bigger.size() - 1);
      bigger[slot] = static_cast<int32_t>(id);
    }
    table_ = std::move(bigger);
  }
  const auto id = static_cast<int32_t>(nodes_.size());
  nodes_.push_back({pos, parent});
  size_t slot = slot_of(key, table_.size() - 1);
  while (table_[slot] >= 0)
    slot = (slot + 1) & (table_.size() - 1);
  table_[slot] = id;
  return id;
}

void recognizer::rollback(size_t mark) {
  // Nodes go in insertion order, so removing the newest first leaves every probe chain of the
  // older ones intact except for holes, which the backward-shift below closes.
  const size_t mask = table_.size() - 1;
  while (nodes_.size() > mark) {
    const node n = nodes_.back();
    size_t slot = slot_of(key_of(n.pos, n.parent), mask);
    while (table_[slot] != static_cast<int32_t>(nodes_.size() - 1))
      slot = (slot + 1) & mask;
    nodes_.pop_back();
    // Backward-shift deletion (linear probing): move later entries of the cluster into the hole
    // when their home slot does not lie cyclically in (hole, their slot].
    size_t hole = slot;
    for (size_t next = (hole + 1) & mask; table_[next] >= 0; next = (next + 1) & mask) {
      const node& m = nodes_[static_cast<size_t>(table_[next])];
      const size_t home = slot_of(key_of(m.pos, m.parent), mask);
      const bool stays =
          hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
      if (stays) continue;
      table_[hole] = table_[next];
      hole = next;
    }
    table_[hole] = -1;
  }
}

void recognizer::expand(int32_t pos, int32_t parent, stacks& out) {
  const grammar& g = *grammar_;
  for (;;) {
    const element& e = g.at(pos);
    if (e.type == element::kind::chars) {
      out.push_back(intern(pos, parent));
      return;
    }
    if (e.type == element::kind::end) {
      if (parent == complete) {
        out.push_back(complete);
        return;
      }
      const node n = nodes_[static_cast<size_t>(parent)];
      pos = n.pos;
      parent = n.parent;
      continue;
    }
    // A rule reference: its alternatives, each continuing with what follows the reference (not
    // pushed when nothing does).
    const int32_t next =
        g.at(pos + 1).type == element::kind::end ? parent : intern(pos + 1, parent);
    const auto& alternatives = g.alternatives(e.value);
    for (size_t a = 0; a + 1 < alternatives.size(); ++a)
      expand(alternatives[a], next, out);
    pos = alternatives.back();
    parent = next;
  }
}

void recognizer::initial(stacks& out) {
  out.clear();
  for (int32_t alt : grammar_->alternatives(grammar_->root()))
    expand(alt, complete, out);
  sort_unique(out);
}

void recognizer::advance(const stacks& in, uint32_t cp, stacks& out) {
  out.clear();
  for (int32_t id : in) {
    if (id == complete) continue;
    const node n = nodes_[static_cast<size_t>(id)];
    if (grammar_->set(grammar_->at(n.pos).value).contains(cp)) expand(n.pos + 1, n.parent, out);
  }
  sort_unique(out);
}

bool recognizer::accepts_any(const stacks& in, uint32_t lo, uint32_t hi) const {
  for (int32_t id : in) {
    if (id == complete) continue;
    const node& n = nodes_[static_cast<size_t>(id)];
    if (grammar_->set(grammar_->at(n.pos).value).intersects(lo, hi)) return true;
  }
  return false;
}

void recognizer::describe(const stacks& s, std::vector<int32_t>& out) const {
  // Hash-consing makes node ids canonical within one arena only; positions are canonical in any.
  std::vector<std::vector<int32_t>> chains;
  chains.reserve(s.size());
  for (int32_t id : s) {
    auto& chain = chains.emplace_back();
    for (int32_t n = id; n != complete; n = nodes_[static_cast<size_t>(n)].parent)
      chain.push_back(nodes_[static_cast<size_t>(n)].pos);
  }
  std::sort(chains.begin(), chains.end());
  for (const auto& chain : chains) {
    out.insert(out.end(), chain.begin(), chain.end());
    out.push_back(complete);
  }
}

}  // namespace troupe::runtime::grammar

namespace troupe::runtime::grammar {

namespace {

// The text through the recognizer: whether it ends complete (or, for a prefix, alive).
result<bool> run(std::string_view grammar_text, std::string_view text, bool prefix) {
  auto g = compile_grammar(grammar_text);
  if (!g) return g.err();
  recognizer r(*g);
  recognizer::stacks state;
  recognizer::stacks next;
  r.initial(state);
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t extra = lead < 0x80    ? 0
                         : lead >= 0xF0 ? 3
                         : lead >= 0xE0 ? 2
                         : lead >= 0xC0 ? 1
                                        : 4;
    if (extra == 4 || i + extra >= text.size()) return error{"text is not valid UTF-8"};
    uint32_t cp = extra == 0 ? lead : lead & (0x3Fu >> extra);
    for (size_t k = 1; k <= extra; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xC0) != 0x80) return error{"text is not valid UTF-8"};
      cp = (cp << 6) | (b & 0x3F);
    }
    i += extra + 1;
    r.advance(state, cp, next);
    if (next.empty()) return false;
    std::swap(state, next);
  }
  return prefix ? !state.empty() : recognizer::can_end(state);
}

}  // namespace

result<bool> accepts(std::string_view grammar_text, std::string_view text) {
  return run(grammar_text, text, false);
}

result<bool> accepts_prefix(std::string_view grammar_text, std::string_view text) {
  return run(grammar_text, text, true);
}

}  // namespace troupe::runtime::grammar
