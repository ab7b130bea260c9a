#pragma once
// A top-down recognizer for a compiled grammar (runtime/grammar/grammar.hpp), one code point at
// a time: the parse state is a set of stacks, each the chain of grammar positions still to be
// matched, its top always a code-point set (rule references are expanded on push).
//
//   stack (top first):  [chars "," @12] -> [rule-ref continuation @30] -> [@7] -> (bottom)
//
// Stacks live in an arena of nodes {position, parent}, hash-consed so that equal stacks are the
// same node: a state is a sorted vector of node ids, deduplicated by id. The empty stack (the
// grammar has matched completely) is `complete`. A continuation that is the last element of its
// alternative is not pushed (tail calls), so right recursion (x* -> R ::= x R | "") keeps stacks
// shallow.
//
// Nodes are only added; mark()/rollback() drop the ones added since a mark (the token mask walk
// explores and abandons many states). Thread: one owner.
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/grammar/grammar.hpp"

namespace troupe::runtime::grammar {

class recognizer {
 public:
  using stacks = std::vector<int32_t>;  // node ids, sorted, unique
  static constexpr int32_t complete = -1;

  explicit recognizer(std::shared_ptr<const grammar> g);

  // The state before any code point: root's alternatives expanded.
  void initial(stacks& out);
  // Every stack of `in` that accepts `cp`, advanced past it, into `out` (cleared first).
  void advance(const stacks& in, uint32_t cp, stacks& out);
  // Whether a stack of `in` accepts some code point in [lo, hi] next (a partial UTF-8 sequence).
  bool accepts_any(const stacks& in, uint32_t lo, uint32_t hi) const;
  static bool can_end(const stacks& s) { return !s.empty() && s.front() == complete; }

  size_t mark() const { return nodes_.size(); }
  void rollback(size_t mark);

  // Appends a canonical description of `s` (each stack's positions, top first, stacks in sorted
  // order) to `out`: equal for equal states in any recognizer of the same grammar.
  void describe(const stacks& s, std::vector<int32_t>& out) const;

  const grammar& rules() const { return *grammar_; }

 private:
  struct node {
    int32_t pos = 0;
    int32_t parent = complete;
  };
  int32_t intern(int32_t pos, int32_t parent);
  void expand(int32_t pos, int32_t parent, stacks& out);
  int32_t find(uint64_t key) const;

  std::shared_ptr<const grammar> grammar_;
  std::vector<node> nodes_;
  // Open addressing over (pos, parent) -> node id; power-of-two size, -1 = empty slot.
  std::vector<int32_t> table_;
};

}  // namespace troupe::runtime::grammar
