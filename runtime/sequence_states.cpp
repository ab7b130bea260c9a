#include "runtime/sequence_states.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>

namespace troupe::runtime {

namespace {

error bad(uint64_t seq_id, const std::string& what) {
  return error{"step delta: sequence " + std::to_string(seq_id) + " " + what};
}

// Where a chunk starts and how long its prompt is, from its admission or the state held.
struct chunk_origin {
  int32_t start = 0;
  int32_t num_prompt_tokens = 0;
};

}  // namespace

result<step_batch> sequence_states::apply(const step_delta& delta) {
  // The release comes first and unconditionally: a delta that fails its check must not leave
  // behind the sequences it was to forget.
  release(delta.released);
  if (auto st = check(delta); !st) return st.err();
  std::vector<std::shared_ptr<grammar::grammar_masks>> grammars;
  for (const auto& a : delta.admitted) {
    if (a.sampling.grammar.empty()) continue;
    auto masks = grammar_for(a.sampling.grammar);
    if (!masks) return bad(a.seq_id, "admitted with a grammar that fails: " + masks.message());
    grammars.push_back(std::move(*masks));
  }
  auto next_grammar = grammars.begin();
  for (const auto& a : delta.admitted) {
    state s{a.sampling,
            a.num_prompt_tokens,
            a.num_computed_tokens,
            {},
            a.cached_token_ids,
            a.prompt_token_ids,
            -1,
            0,
            nullptr};
    if (!a.sampling.grammar.empty())
      s.grammar = std::make_unique<grammar::token_matcher>(*next_grammar++, vocabulary_);
    states_.emplace(a.seq_id, std::move(s));
  }
  step_batch batch;
  batch.token_ids = delta.token_ids;
  batch.seqs.reserve(delta.seqs.size());
  const std::span<int32_t> tokens = batch.token_ids;
  size_t offset = 0;
  for (const auto& chunk : delta.seqs) {
    const auto n = static_cast<size_t>(chunk.num_tokens);
    batch.seqs.push_back(advance(states_.at(chunk.seq_id), chunk, tokens.subspan(offset, n)));
    offset += n;
  }
  return batch;
}

void sequence_states::record_sampled(std::span<const sampled_token> tokens) {
  previous_step_failed_ = false;
  for (size_t i = 0; i < tokens.size();) {
    const auto& t = tokens[i];
    if (t.prompt_position >= 0) {
      ++i;
      continue;
    }
    size_t n = 1;  // a sequence's sampled tokens are consecutive
    while (i + n < tokens.size() && tokens[i + n].seq_id == t.seq_id &&
           tokens[i + n].prompt_position < 0)
      ++n;
    if (auto it = states_.find(t.seq_id); it != states_.end()) {
      state& s = it->second;
      s.last_sampled = tokens[i + n - 1].token_id;
      const int32_t rejected = std::max(0, s.last_num_drafts - static_cast<int32_t>(n - 1));
      s.num_computed_tokens -= rejected;
      if (s.sampling.needs_token_history())
        s.token_history.resize(s.token_history.size() - static_cast<size_t>(rejected));
      s.last_num_drafts = 0;
    }
    i += n;
  }
}

void sequence_states::release(std::span<const uint64_t> seq_ids) {
  for (uint64_t id : seq_ids)
    states_.erase(id);
}

const sequence_states::state* sequence_states::find(uint64_t seq_id) const {
  auto it = states_.find(seq_id);
  return it == states_.end() ? nullptr : &it->second;
}

status sequence_states::check(const step_delta& delta) const {
  std::unordered_map<uint64_t, chunk_origin> origins;
  for (const auto& a : delta.admitted) {
    if (states_.count(a.seq_id) != 0 ||
        !origins.emplace(a.seq_id, chunk_origin{a.num_computed_tokens, a.num_prompt_tokens}).second)
      return bad(a.seq_id, "admitted while it runs");
    const int64_t num_cached = a.sampling.needs_token_history() ? a.num_computed_tokens : 0;
    if (a.num_computed_tokens < 0 || static_cast<int64_t>(a.cached_token_ids.size()) != num_cached)
      return bad(a.seq_id, "admitted with cached tokens that do not match num_computed_tokens");
    const auto num_prompt = static_cast<int64_t>(a.prompt_token_ids.size());
    if (num_prompt != 0 &&
        (a.sampling.num_prompt_logprobs < 0 || num_prompt != a.num_prompt_tokens))
      return bad(a.seq_id, "admitted with prompt tokens that do not match its prompt");
  }
  std::unordered_set<uint64_t> scheduled;
  int64_t num_tokens = 0;
  for (const auto& chunk : delta.seqs) {
    chunk_origin origin;
    int32_t rejectable = 0;  // the drafts of its last step this rank may still hold
    if (auto it = origins.find(chunk.seq_id); it != origins.end()) {
      origin = it->second;
    } else if (const state* s = find(chunk.seq_id)) {
      origin = {s->num_computed_tokens, s->num_prompt_tokens};
      rejectable = s->last_num_drafts;
    } else {
      return bad(chunk.seq_id, "scheduled but not running");
    }
    if (chunk.start >= 0) {
      if (chunk.start > origin.start || origin.start - chunk.start > rejectable)
        return bad(chunk.seq_id, "starts where its tokens do not end");
      origin.start = chunk.start;
    }
    if (!scheduled.insert(chunk.seq_id).second) return bad(chunk.seq_id, "scheduled twice");
    if (chunk.num_tokens < 1) return bad(chunk.seq_id, "scheduled with no tokens");
    if (chunk.sample && int64_t{origin.start} + chunk.num_tokens < origin.num_prompt_tokens)
      return bad(chunk.seq_id, "samples inside its prompt");
    if (chunk.num_draft_tokens < 0 ||
        (chunk.num_draft_tokens > 0 &&
         (!chunk.sample || chunk.num_draft_tokens >= chunk.num_tokens ||
          int64_t{origin.start} + chunk.num_tokens - chunk.num_draft_tokens <
              origin.num_prompt_tokens)))
      return bad(chunk.seq_id, "has drafts outside a decoding chunk that samples");
    if (auto st = check_placeholders(chunk, num_tokens, delta.token_ids); !st) return st;
    num_tokens += chunk.num_tokens;
  }
  for (const auto& a : delta.admitted)
    if (scheduled.count(a.seq_id) == 0) return bad(a.seq_id, "admitted but not scheduled");
  if (num_tokens != static_cast<int64_t>(delta.token_ids.size())) {
    return error{"step delta: token_ids holds " + std::to_string(delta.token_ids.size()) +
                 " tokens, the chunks " + std::to_string(num_tokens)};
  }
  return ok_status();
}

// A placeholder is a decode token: a held sequence's only one, after a step that sampled for it.
status sequence_states::check_placeholders(const seq_chunk& chunk, int64_t offset,
                                           std::span<const int32_t> token_ids) const {
  const auto end = std::min(token_ids.size(), static_cast<size_t>(offset + chunk.num_tokens));
  for (auto i = static_cast<size_t>(offset); i < end; ++i) {
    if (token_ids[i] != placeholder_token) continue;
    if (chunk.num_tokens != 1) return bad(chunk.seq_id, "has a placeholder in a chunk of several");
    const state* s = find(chunk.seq_id);
    if (s == nullptr) return bad(chunk.seq_id, "has a placeholder but is not running");
    if (s->last_sampled < 0 && !previous_step_failed_)
      return bad(chunk.seq_id, "has a placeholder but no token sampled in its previous step");
  }
  return ok_status();
}

seq_step sequence_states::advance(state& s, const seq_chunk& chunk, std::span<int32_t> tokens) {
  if (chunk.start >= 0 && chunk.start < s.num_computed_tokens) {
    // Drafts that the last pipeline stage rejected (check() bounds them by the last step's).
    const int32_t rejected = s.num_computed_tokens - chunk.start;
    s.num_computed_tokens = chunk.start;
    if (s.sampling.needs_token_history())
      s.token_history.resize(s.token_history.size() - static_cast<size_t>(rejected));
  }
  if (tokens.size() == 1 && tokens[0] == placeholder_token) tokens[0] = std::max(0, s.last_sampled);
  s.last_sampled = -1;
  s.block_table.insert(s.block_table.end(), chunk.new_block_ids.begin(), chunk.new_block_ids.end());
  seq_step seq;
  seq.seq_id = chunk.seq_id;
  seq.num_tokens = chunk.num_tokens;
  seq.start_pos = s.num_computed_tokens;
  seq.block_table = s.block_table;
  seq.sample = chunk.sample;
  seq.sampling = s.sampling;
  // Rows at positions p < num_prompt_tokens - 1 predict prompt token p + 1.
  if (!s.prompt_token_ids.empty() && seq.start_pos + 1 < s.num_prompt_tokens) {
    const int32_t end = std::min(seq.start_pos + chunk.num_tokens, s.num_prompt_tokens - 1);
    seq.prompt_logprob_targets = std::span<const int32_t>(s.prompt_token_ids)
                                     .subspan(static_cast<size_t>(seq.start_pos) + 1,
                                              static_cast<size_t>(end - seq.start_pos));
  }
  s.num_computed_tokens += chunk.num_tokens;
  s.last_num_drafts = chunk.num_draft_tokens;
  seq.num_draft_tokens = chunk.num_draft_tokens;
  seq.output_index =
      std::max(0, s.num_computed_tokens - chunk.num_draft_tokens - s.num_prompt_tokens);
  if (s.sampling.needs_token_history()) {
    s.token_history.insert(s.token_history.end(), tokens.begin(), tokens.end());
    if (chunk.sample) seq.token_history = s.token_history;
  }
  if (s.grammar && chunk.sample) {
    // The outputs are the history's last output_index tokens before the drafts; the matcher has
    // seen a prefix of them.
    const auto known = seq.token_history.first(seq.token_history.size() -
                                               static_cast<size_t>(chunk.num_draft_tokens));
    const auto outputs = known.last(std::min(known.size(), static_cast<size_t>(seq.output_index)));
    if (const auto first = grammar_first_output(s, outputs); first >= 0) {
      for (auto i = static_cast<size_t>(first + s.grammar->num_accepted()); i < outputs.size(); ++i)
        s.grammar->accept(outputs[i]);
      seq.grammar = s.grammar.get();
    }
  }
  return seq;
}

int32_t sequence_states::grammar_first_output(state& s, std::span<const int32_t> outputs) {
  if (s.sampling.grammar_after_token < 0) return 0;
  while (s.grammar_first_output < 0 &&
         static_cast<size_t>(s.grammar_outputs_searched) < outputs.size()) {
    if (outputs[static_cast<size_t>(s.grammar_outputs_searched++)] ==
        s.sampling.grammar_after_token)
      s.grammar_first_output = s.grammar_outputs_searched;
  }
  return s.grammar_first_output;
}

result<std::shared_ptr<grammar::grammar_masks>> sequence_states::grammar_for(
    const std::string& text) {
  if (!vocabulary_) return error{"no vocabulary to match grammars against"};
  if (auto it = grammars_.find(text); it != grammars_.end()) return it->second;
  auto compiled = grammar::compile_grammar(text);
  if (!compiled) return compiled.err();
  if (grammars_.size() >= max_idle_grammars) {
    // Forget the grammars no sequence uses (their masks go with them).
    for (auto it = grammars_.begin(); it != grammars_.end();)
      it = it->second.use_count() == 1 ? grammars_.erase(it) : std::next(it);
  }
  auto masks = std::make_shared<grammar::grammar_masks>(std::move(*compiled));
  grammars_.emplace(text, masks);
  return masks;
}

}  // namespace troupe::runtime
