#pragma once
// A scheduler + kv_allocator driven step by step over a simulated KV cache, for the prefix-cache
// and sharing tests. The "model" writes every scheduled token id into its slot; before that it
// checks that every earlier position the sequence attends to holds the sequence's own token (so
// a wrong cache hit or a block overwritten under another holder shows), that no block cached in
// an earlier step is written, and that no slot is written twice in one step. Output i of request
// r is 1000 * r + i. The step reaches the "model" as the executor builds it: the plan's delta
// applied to a sequence_states, so every table the model reads was rebuilt from deltas.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/sched/scheduler.hpp"
#include "runtime/sequence_states.hpp"

namespace troupe::runtime::testing {

inline constexpr int32_t sim_block_size = 4;

struct sim_options {
  int32_t num_blocks = 64;
  int32_t max_num_seqs = 16;
  int32_t budget = 64;
  bool chunked = true;
  scheduling_policy policy = scheduling_policy::fcfs;
};

class sim_harness {
 public:
  explicit sim_harness(sim_options o)
      : sched(scheduler_config{o.max_num_seqs, o.budget, o.chunked, 1024, sim_block_size,
                               block_hash_algo::sha256, o.policy}),
        alloc(o.num_blocks, sim_block_size),
        kv_(static_cast<size_t>(o.num_blocks * sim_block_size), -1),
        cached_step_(static_cast<size_t>(o.num_blocks), -1) {}

  void add(uint64_t id, std::vector<int32_t> prompt, int32_t max_tokens, bool cache = true,
           std::string salt = {}, int64_t priority = 0) {
    request_spec spec;
    spec.priority = priority;
    spec.id = id;
    spec.prompt_token_ids = std::move(prompt);
    spec.max_tokens = max_tokens;
    spec.cache_prefix = cache;
    spec.cache_salt = std::move(salt);
    ASSERT_TRUE(sched.add_request(std::move(spec)).ok());
    live.insert(id);
  }

  // n requests with ids first.. first+n-1 and the prompt 1, 2, ..., num_prompt.
  void add_group(uint64_t first, int32_t n, int32_t num_prompt, int32_t max_tokens) {
    std::vector<int32_t> prompt;
    for (int32_t t = 0; t < num_prompt; ++t)
      prompt.push_back(t + 1);
    for (int32_t i = 0; i < n; ++i)
      add(first + static_cast<uint64_t>(i), prompt, max_tokens);
  }

  std::map<uint64_t, seq_step> step() {
    const step_proposal proposal = sched.propose();
    const step_grant grant = alloc.reserve(proposal);
    ++step_;
    note_cached_blocks(grant);
    const step_plan plan = sched.finalize(proposal, grant);
    EXPECT_LE(plan.num_scheduled_tokens(), sched.config().max_num_batched_tokens);
    EXPECT_LE(sched.num_running(), sched.config().max_num_seqs);
    std::map<uint64_t, seq_step> seqs;
    auto batch = states.apply(plan.delta);
    EXPECT_TRUE(batch.ok()) << batch.message();
    if (!batch) return seqs;
    // An empty plan (under priority: the first running request preempted for itself) carries
    // no releases; the next one does.
    if (!plan.empty()) {
      EXPECT_EQ(states.num_sequences(), sched.num_running());
    }
    std::vector<sampled_token> sampled;
    std::set<size_t> written;
    for (auto& seq : batch->seqs) {
      seq.token_history = {};  // views `states`; the copy in `seqs` outlives it
      execute(seq, written);
      if (::testing::Test::HasFatalFailure()) return seqs;
      if (seq.start_pos > last_end[seq.seq_id]) ++num_cache_starts;
      last_end[seq.seq_id] = seq.start_pos + seq.num_tokens;
      seqs[seq.seq_id] = seq;
      if (seq.sample) {
        sampled.push_back(
            {seq.seq_id, static_cast<int32_t>(1000 * seq.seq_id) + seq.output_index, 0.f});
      }
    }
    for (uint64_t id : plan.preempted)
      last_end[id] = 0;
    std::vector<uint64_t> finished;
    for (const auto& out : sched.update(plan, sampled)) {
      if (out.finish == finish_reason::none) continue;
      finished.push_back(out.request_id);
      outputs[out.request_id] = out.num_output_tokens;
      cached_tokens[out.request_id] = out.num_cached_tokens;
      live.erase(out.request_id);
    }
    alloc.release(finished);
    peak_used = std::max(peak_used, alloc.cache().num_used_blocks());
    check_invariants();
    return seqs;
  }

  void abort(uint64_t id) {
    if (!sched.abort(id)) return;
    const std::vector<uint64_t> ids{id};
    alloc.release(ids);
    live.erase(id);
  }

  void run_to_completion() {
    for (int32_t i = 0; i < 5000 && sched.has_work(); ++i) {
      step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    EXPECT_FALSE(sched.has_work());
    EXPECT_EQ(alloc.cache().num_free_blocks(), alloc.cache().num_blocks());
    EXPECT_EQ(alloc.cache().num_requests(), 0);
    states.release(sched.take_released());  // idle: what no step carried
    EXPECT_EQ(states.num_sequences(), 0);
  }

  // Pool and tables agree: each block's holders are the live tables holding it, the free queue
  // holds exactly the blocks nobody holds, and every cached block is the one its hash finds.
  void check_invariants() const {
    const auto& cache = alloc.cache();
    const auto& pool = cache.pool();
    std::vector<int32_t> holders(static_cast<size_t>(pool.num_blocks()), 0);
    int32_t num_tables = 0;
    for (uint64_t id : live) {
      const auto* table = cache.block_table(id);
      if (!table) continue;
      ++num_tables;
      for (int32_t b : *table)
        ++holders[static_cast<size_t>(b)];
    }
    ASSERT_EQ(num_tables, cache.num_requests());
    const auto queue = pool.free_queue();
    ASSERT_EQ(static_cast<int32_t>(queue.size()), pool.num_free());
    const std::set<int32_t> free_set(queue.begin(), queue.end());
    ASSERT_EQ(free_set.size(), queue.size()) << "a block is twice in the free queue";
    for (int32_t b = 0; b < pool.num_blocks(); ++b) {
      ASSERT_EQ(pool.ref_count(b), holders[static_cast<size_t>(b)]) << "block " << b;
      ASSERT_EQ(free_set.count(b) == 1, pool.ref_count(b) == 0)
          << "block " << b << " is both held and free, or neither";
      if (const auto& h = pool.cached_hash(b)) {
        ASSERT_EQ(pool.find_cached(*h), b);
      }
    }
  }

  scheduler sched;
  kv_allocator alloc;
  sequence_states states;  // the executor's side
  std::set<uint64_t> live;
  std::map<uint64_t, int32_t> outputs;        // finished request -> output tokens
  std::map<uint64_t, int32_t> cached_tokens;  // finished request -> num_cached_tokens
  std::map<uint64_t, int32_t> last_end;       // request -> end of its last scheduled tokens
  int32_t peak_used = 0;
  int32_t num_cache_starts = 0;  // sequences that started past their previous end: cache hits

 private:
  size_t slot(const std::vector<int32_t>& table, int32_t pos) const {
    return static_cast<size_t>(table[static_cast<size_t>(pos / sim_block_size)] * sim_block_size +
                               pos % sim_block_size);
  }

  // A block cached since an earlier step must never be written again. Fresh blocks (new to a
  // running table, or an admitted table's blocks after its hits) start a new life.
  void note_cached_blocks(const step_grant& grant) {
    for (const auto& g : grant.running) {
      for (int32_t b : g.new_block_ids)
        cached_step_[static_cast<size_t>(b)] = -1;
    }
    for (const auto& g : grant.admitted) {
      for (size_t i = static_cast<size_t>(g.num_computed_tokens / sim_block_size);
           i < g.block_ids.size(); ++i)
        cached_step_[static_cast<size_t>(g.block_ids[i])] = -1;
    }
    const auto& pool = alloc.cache().pool();
    for (int32_t b = 0; b < pool.num_blocks(); ++b) {
      auto& since = cached_step_[static_cast<size_t>(b)];
      if (!pool.is_cached(b)) {
        since = -1;
      } else if (since < 0) {
        since = step_;
      }
    }
  }

  void execute(const seq_step& seq, std::set<size_t>& written) {
    const auto& tokens = sched.find(seq.seq_id)->token_ids;
    for (int32_t p = 0; p < seq.start_pos; ++p)
      ASSERT_EQ(kv_[slot(seq.block_table, p)], tokens[static_cast<size_t>(p)]) << "position " << p;
    for (int32_t p = seq.start_pos; p < seq.start_pos + seq.num_tokens; ++p) {
      const int32_t block = seq.block_table[static_cast<size_t>(p / sim_block_size)];
      const int32_t since = cached_step_[static_cast<size_t>(block)];
      ASSERT_TRUE(since < 0 || since == step_) << "block " << block << " cached and written";
      ASSERT_TRUE(written.insert(slot(seq.block_table, p)).second) << "slot written twice";
      kv_[slot(seq.block_table, p)] = tokens[static_cast<size_t>(p)];
    }
  }

  std::vector<int32_t> kv_;
  std::vector<int32_t> cached_step_;  // block -> step it became cached (-1: not cached)
  int32_t step_ = 0;
};

}  // namespace troupe::runtime::testing
