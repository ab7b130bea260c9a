// The choices of an n > 1 request share their prompt's full blocks (scheduler + kv_allocator):
// computed once, held by all, never written twice, all free at the end.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "runtime/sched/scheduler.hpp"

namespace troupe::runtime {
namespace {

constexpr int32_t block_size = 4;

// A fake model over a simulated KV cache: every scheduled token is written into its slot, and
// before that every earlier position a sequence attends to must hold that sequence's own token
// (so a wrong share, or a shared block overwritten, shows). Output i of request r is
// 1000 * r + i: choices differ from their first output on.
struct harness {
  harness(int32_t num_blocks, int32_t max_num_seqs = 16, int32_t budget = 64, bool chunked = true)
      : sched(scheduler_config{max_num_seqs, budget, chunked, 1024, block_size}),
        alloc(num_blocks, block_size),
        kv(static_cast<size_t>(num_blocks * block_size), -1) {}

  void add_group(uint64_t first_id, int32_t n, int32_t num_prompt, int32_t max_tokens) {
    for (int32_t i = 0; i < n; ++i) {
      request_spec spec;
      spec.id = first_id + static_cast<uint64_t>(i);
      for (int32_t t = 0; t < num_prompt; ++t)
        spec.prompt_token_ids.push_back(t + 1);
      spec.max_tokens = max_tokens;
      spec.group_id = n > 1 ? first_id : 0;
      ASSERT_TRUE(sched.add_request(std::move(spec)).ok());
      live.insert(first_id + static_cast<uint64_t>(i));
    }
  }

  int32_t& slot(const std::vector<int32_t>& table, int32_t pos) {
    return kv[static_cast<size_t>(table[static_cast<size_t>(pos / block_size)] * block_size +
                                  pos % block_size)];
  }

  // Blocks that some live request other than `id` holds.
  std::set<int32_t> blocks_of_others(uint64_t id) const {
    std::set<int32_t> blocks;
    for (uint64_t other : live) {
      if (other == id) continue;
      if (const auto* table = alloc.cache().block_table(other))
        blocks.insert(table->begin(), table->end());
    }
    return blocks;
  }

  void check_and_write(const seq_step& seq) {
    const auto& tokens = sched.find(seq.seq_id)->token_ids;
    for (int32_t p = 0; p < seq.start_pos; ++p)
      ASSERT_EQ(slot(seq.block_table, p), tokens[static_cast<size_t>(p)]) << "position " << p;
    const auto others = blocks_of_others(seq.seq_id);
    for (int32_t p = seq.start_pos; p < seq.start_pos + seq.num_tokens; ++p) {
      const int32_t block = seq.block_table[static_cast<size_t>(p / block_size)];
      ASSERT_EQ(others.count(block), 0u) << "block " << block << " is shared and written";
      slot(seq.block_table, p) = tokens[static_cast<size_t>(p)];
    }
  }

  std::map<uint64_t, seq_step> step() {
    const step_plan plan = sched.schedule(alloc);
    std::map<uint64_t, seq_step> seqs;
    std::vector<sampled_token> sampled;
    for (const auto& seq : plan.batch.seqs) {
      check_and_write(seq);
      // A start past the request's previous end (0 at first) is a start on shared blocks.
      if (seq.start_pos != last_end[seq.seq_id]) ++num_shared_starts;
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
      live.erase(out.request_id);
    }
    alloc.release(finished);
    peak_used = std::max(peak_used, alloc.cache().num_used_blocks());
    return seqs;
  }

  void abort(uint64_t id) {
    if (!sched.abort(id)) return;
    const std::vector<uint64_t> ids{id};
    alloc.release(ids);
    live.erase(id);
  }

  void run_to_completion() {
    for (int32_t i = 0; i < 1000 && sched.has_work(); ++i) {
      step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    EXPECT_FALSE(sched.has_work());
    EXPECT_EQ(alloc.cache().num_free_blocks(), alloc.cache().num_blocks());
    EXPECT_EQ(alloc.cache().num_requests(), 0);
  }

  scheduler sched;
  kv_allocator alloc;
  std::vector<int32_t> kv;
  std::set<uint64_t> live;
  std::map<uint64_t, int32_t> outputs;  // finished request -> output tokens
  int32_t peak_used = 0;
  std::map<uint64_t, int32_t> last_end;  // request -> end of its last scheduled tokens
  int32_t num_shared_starts = 0;
};

TEST(ChoiceSharing, ChoicesWaitForThePromptAndShareItsFullBlocks) {
  harness h(64);
  h.add_group(1, 4, 11, 3);  // 11 tokens: blocks [0..3][4..7] shared, [8..10] each its own
  auto first = h.step();
  ASSERT_EQ(first.size(), 1u);  // the siblings wait for the first choice's prompt
  EXPECT_EQ(first[1].num_tokens, 11);
  auto second = h.step();
  ASSERT_EQ(second.size(), 4u);
  const auto& donor = second[1].block_table;
  for (uint64_t id = 2; id <= 4; ++id) {
    const auto& seq = second[id];
    EXPECT_EQ(seq.start_pos, 8);
    EXPECT_EQ(seq.num_tokens, 3);  // the tail, last prompt token included
    EXPECT_TRUE(seq.sample);
    EXPECT_EQ(seq.block_table[0], donor[0]);
    EXPECT_EQ(seq.block_table[1], donor[1]);
    EXPECT_NE(seq.block_table[2], donor[2]);
  }
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 6);  // 4 separate requests: 12
  h.run_to_completion();
  EXPECT_EQ(h.outputs, (std::map<uint64_t, int32_t>{{1, 3}, {2, 3}, {3, 3}, {4, 3}}));
}

TEST(ChoiceSharing, ShortPromptsHaveNothingToShare) {
  harness h(64);
  h.add_group(1, 3, 4, 2);  // one block, and each choice needs the last token's logits
  EXPECT_EQ(h.step().size(), 3u);
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 3);
  h.run_to_completion();
}

TEST(ChoiceSharing, RequestsBehindAWaitingChoiceWaitToo) {
  harness h(64);
  h.add_group(1, 2, 9, 2);
  h.add_group(10, 1, 3, 2);
  EXPECT_EQ(h.step().size(), 1u);  // FCFS: 10 is behind choice 2
  auto second = h.step();
  EXPECT_EQ(second.size(), 3u);
  h.run_to_completion();
}

TEST(ChoiceSharing, AbortedFirstChoiceLeavesTheOthersToComputeAlone) {
  harness h(64, 16, 6);  // a budget of 6 chunks the 13-token prompt
  h.add_group(1, 3, 13, 2);
  auto first = h.step();
  ASSERT_EQ(first.size(), 1u);
  h.abort(1);  // before its prompt was complete
  auto second = h.step();
  ASSERT_EQ(second.size(), 1u);  // choice 2 alone, choice 3 waits for it
  EXPECT_EQ(second[2].start_pos, 0);
  h.run_to_completion();
  EXPECT_EQ(h.outputs.size(), 2u);
}

TEST(ChoiceSharing, AbortedChoiceReleasesOnlyItsOwnBlocks) {
  harness h(64);
  h.add_group(1, 3, 11, 6);
  h.step();
  h.step();  // all three running: 3 blocks of choice 1 (2 shared) + 1 own block each
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 5);
  h.abort(2);
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 4);
  h.abort(1);  // the shared blocks stay with choice 3
  EXPECT_EQ(h.alloc.cache().num_used_blocks(), 3);
  h.run_to_completion();
  EXPECT_EQ(h.outputs, (std::map<uint64_t, int32_t>{{3, 6}}));
}

TEST(ChoiceSharing, PreemptedChoicesReshareFromASibling) {
  // 7 blocks: choice 1 takes 3 (prompt 11 + outputs), each sibling 1 more, then growth preempts
  // the tail; choice 2 recomputes alone once choice 1 is gone, choice 3 re-shares from it.
  harness h(7);
  h.add_group(1, 3, 11, 8);
  h.run_to_completion();
  EXPECT_EQ(h.sched.num_preemptions(), 2);
  EXPECT_EQ(h.num_shared_starts, 3);
  EXPECT_EQ(h.outputs, (std::map<uint64_t, int32_t>{{1, 8}, {2, 8}, {3, 8}}));
  EXPECT_LE(h.peak_used, 7);
}

// Random groups, tight KV, chunked or whole prompts and aborts: no shared block is ever written,
// every attended position holds the sequence's own token, and every block is free at the end.
TEST(ChoiceSharing, RandomLoadKeepsBlocksConsistent) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 60; ++trial) {
    const bool chunked = trial % 2 == 0;  // without chunking a prompt (<= 20) fits one step
    harness h(12 + static_cast<int32_t>(rng() % 12), 6,
              (chunked ? 8 : 20) + static_cast<int32_t>(rng() % 16), chunked);
    uint64_t next_id = 1;
    for (int g = 0; g < 5; ++g) {
      const int32_t n = 1 + static_cast<int32_t>(rng() % 4);
      h.add_group(next_id, n, 1 + static_cast<int32_t>(rng() % 20),
                  1 + static_cast<int32_t>(rng() % 10));
      next_id += static_cast<uint64_t>(n);
    }
    for (int s = 0; s < 1000 && h.sched.has_work(); ++s) {
      h.step();
      ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "trial " << trial;
      if (rng() % 10 == 0) h.abort(1 + rng() % (next_id - 1));
    }
    h.run_to_completion();
    ASSERT_FALSE(::testing::Test::HasFailure()) << "trial " << trial;
  }
}

}  // namespace
}  // namespace troupe::runtime
