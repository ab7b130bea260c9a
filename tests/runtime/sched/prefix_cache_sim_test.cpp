// Randomized simulation of prefix caching: thousands of steps with random arrivals from a few
// shared prefixes (system prompts, chat histories, n > 1 groups), random salts, aborts and a tiny
// pool that forces preemption and eviction, chunked and whole prompts. Every step the harness
// checks the pool's invariants and the content of every attended position; at the end every
// block is free and the cache holds no request. Half the trials run the priority policy with
// random priorities, whose preemption can take back a grant made earlier in the same step.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/runtime/sched/sim_harness.hpp"

namespace troupe::runtime {
namespace {

using testing::sim_harness;

std::vector<int32_t> random_prompt(std::mt19937& rng,
                                   const std::vector<std::vector<int32_t>>& prefixes) {
  std::vector<int32_t> prompt = prefixes[rng() % prefixes.size()];
  prompt.resize(rng() % (prompt.size() + 1));  // a prefix of the prefix, maybe all of it
  const int32_t tail = static_cast<int32_t>(rng() % 8);
  for (int32_t i = 0; i < tail; ++i)
    prompt.push_back(static_cast<int32_t>(rng() % 50));
  if (prompt.empty()) prompt.push_back(1);
  return prompt;
}

TEST(PrefixCacheSimulation, RandomLoadKeepsTheCacheConsistent) {
  std::mt19937 rng(2026);
  int64_t total_steps = 0;
  int64_t total_hits = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const bool chunked = trial % 2 == 0;  // without chunking a prompt (<= 28) fits one step
    const bool by_priority = trial % 4 >= 2;
    sim_harness h({.num_blocks = 10 + static_cast<int32_t>(rng() % 14),
                   .max_num_seqs = 2 + static_cast<int32_t>(rng() % 6),
                   .budget = (chunked ? 6 : 28) + static_cast<int32_t>(rng() % 16),
                   .chunked = chunked,
                   .policy = by_priority ? scheduling_policy::priority : scheduling_policy::fcfs});
    std::vector<std::vector<int32_t>> prefixes;
    for (int p = 0; p < 3; ++p) {
      std::vector<int32_t> prefix;
      for (int i = 0; i < 20; ++i)
        prefix.push_back(static_cast<int32_t>(rng() % 50));
      prefixes.push_back(prefix);
    }
    uint64_t next_id = 1;
    for (int s = 0; s < 300; ++s) {
      if (rng() % 3 == 0) {
        const auto prompt = random_prompt(rng, prefixes);
        const int32_t n = rng() % 5 == 0 ? 3 : 1;  // n > 1: the same prompt several times
        const std::string salt = rng() % 6 == 0 ? "tenant" : "";
        const int64_t priority = by_priority ? static_cast<int64_t>(rng() % 5) - 2 : 0;
        for (int32_t i = 0; i < n; ++i) {
          h.add(next_id++, prompt, 1 + static_cast<int32_t>(rng() % 10), rng() % 8 != 0, salt,
                priority);
        }
      }
      if (h.sched.has_work()) h.step();
      ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "trial " << trial << " step " << s;
      if (rng() % 12 == 0 && next_id > 1) h.abort(1 + rng() % (next_id - 1));
      ++total_steps;
    }
    h.run_to_completion();
    ASSERT_FALSE(::testing::Test::HasFailure()) << "trial " << trial;
    total_hits += h.alloc.stats().num_hits;
  }
  EXPECT_GT(total_steps, 10000);
  EXPECT_GT(total_hits, 0);  // the load did exercise the cache
}

}  // namespace
}  // namespace troupe::runtime
