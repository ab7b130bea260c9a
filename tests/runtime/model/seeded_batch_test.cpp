// Property: a seeded request with every sampling processor on samples the same tokens (and
// reports the same logprobs) alone and inside a busy batch of other requests that start at other
// steps, prefill in chunks and sample with other settings, through the CPU runner.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "runtime/model/cpu_runner.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using testing::random_tokens;
using testing::tiny_hparams;
using testing::tiny_llama;

constexpr int32_t block_size = 4;
constexpr int32_t blocks_per_seq = 6;  // 24 positions: prompt + outputs fit

struct generation {
  uint64_t id = 0;
  int32_t start_step = 0;  // the first step it takes part in
  int32_t chunk = 64;      // prompt tokens per step
  int32_t max_tokens = 8;
  sampling_params sampling;
  std::shared_ptr<std::vector<int32_t>> tokens;  // prompt, then outputs
  int32_t num_prompt = 0;
  int32_t num_computed = 0;
  std::vector<sampled_token> outputs;

  bool done() const { return static_cast<int32_t>(outputs.size()) >= max_tokens; }
};

// Runs every generation to max_tokens, one step at a time; generation i owns blocks
// [i * blocks_per_seq, (i + 1) * blocks_per_seq).
void run(std::vector<generation>& gens) {
  auto runner = cpu_llama_runner::create(tiny_llama(tiny_hparams(), 5),
                                         int32_t(gens.size()) * blocks_per_seq, block_size, 2);
  ASSERT_TRUE(runner.ok()) << runner.message();
  for (int32_t step = 0; step < 100; ++step) {
    step_batch batch;
    std::vector<generation*> sampling;
    for (size_t i = 0; i < gens.size(); ++i) {
      auto& g = gens[i];
      if (step < g.start_step || g.done()) continue;
      const auto total = static_cast<int32_t>(g.tokens->size());
      seq_step s;
      s.seq_id = g.id;
      s.start_pos = g.num_computed;
      s.num_tokens = std::min(g.chunk, total - g.num_computed);
      for (int32_t b = 0; b < blocks_per_seq; ++b)
        s.block_table.push_back(int32_t(i) * blocks_per_seq + b);
      s.sample = s.start_pos + s.num_tokens == total;
      s.sampling = g.sampling;
      s.output_index = static_cast<int32_t>(g.outputs.size());
      if (s.sample && g.sampling.has_penalties()) s.token_history = *g.tokens;
      batch.token_ids.insert(batch.token_ids.end(), g.tokens->begin() + s.start_pos,
                             g.tokens->begin() + s.start_pos + s.num_tokens);
      g.num_computed += s.num_tokens;
      if (s.sample) sampling.push_back(&g);
      batch.seqs.push_back(std::move(s));
    }
    if (batch.seqs.empty()) {
      if (std::all_of(gens.begin(), gens.end(), [](const generation& g) { return g.done(); }))
        return;
      continue;  // the later ones have not started yet
    }
    const auto out = (*runner)->execute(batch);
    ASSERT_EQ(out.size(), sampling.size());
    for (size_t k = 0; k < out.size(); ++k) {
      sampling[k]->outputs.push_back(out[k]);
      sampling[k]->tokens->push_back(out[k].token_id);
    }
  }
}

generation make(uint64_t id, std::vector<int32_t> prompt, sampling_params sampling) {
  generation g;
  g.id = id;
  g.num_prompt = static_cast<int32_t>(prompt.size());
  g.tokens = std::make_shared<std::vector<int32_t>>(std::move(prompt));
  g.sampling = std::move(sampling);
  return g;
}

sampling_params everything_on(uint64_t seed) {
  sampling_params p;
  p.temperature = 0.9f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.02f;
  p.repetition_penalty = 1.3f;
  p.presence_penalty = 0.4f;
  p.frequency_penalty = 0.3f;
  p.min_tokens = 3;
  p.num_top_logprobs = 4;
  p.seed = seed;
  p.logit_bias = {{5, 3.0f}, {17, -100.0f}};
  p.min_tokens_stop_ids = {2, 9};
  return p;
}

TEST(seeded_sampling, same_tokens_alone_and_in_a_busy_batch) {
  const auto prompt = random_tokens(7, 97, 11);
  std::vector<generation> alone = {make(1, prompt, everything_on(1234))};
  run(alone);
  ASSERT_EQ(alone[0].outputs.size(), 8u);

  std::mt19937 rng(3);
  for (int32_t trial = 0; trial < 3; ++trial) {
    std::vector<generation> crowd;
    for (uint64_t id = 10; id < 15; ++id) {
      auto p = everything_on(rng());
      p.temperature = 0.5f + 0.1f * float(id - 10);
      p.repetition_penalty = 1.0f + 0.2f * float(trial);
      crowd.push_back(make(id, random_tokens(3 + int32_t(id % 5), 97, rng()), p));
      crowd.back().start_step = int32_t(rng() % 4);
      crowd.back().chunk = 1 + int32_t(rng() % 3);
    }
    auto target = make(1, prompt, everything_on(1234));
    target.start_step = trial;
    target.chunk = 2 + trial;
    crowd.insert(crowd.begin() + 2, std::move(target));
    run(crowd);
    const auto& got = crowd[2].outputs;
    ASSERT_EQ(got.size(), alone[0].outputs.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].token_id, alone[0].outputs[i].token_id)
          << "trial " << trial << " token " << i;
      EXPECT_EQ(got[i].logprob, alone[0].outputs[i].logprob);
      EXPECT_EQ(got[i].top_logprobs, alone[0].outputs[i].top_logprobs);
    }
  }
}

TEST(seeded_sampling, processors_change_what_is_sampled) {
  // Guards the property test against vacuity: the processors act on this model and prompt.
  const auto prompt = random_tokens(7, 97, 11);
  auto plain = everything_on(1234);
  plain.repetition_penalty = 1.0f;
  plain.presence_penalty = plain.frequency_penalty = 0.0f;
  plain.logit_bias.clear();
  plain.min_tokens_stop_ids.clear();
  std::vector<generation> a = {make(1, prompt, everything_on(1234))};
  std::vector<generation> b = {make(1, prompt, plain)};
  run(a);
  run(b);
  std::vector<int32_t> ta, tb;
  for (const auto& s : a[0].outputs)
    ta.push_back(s.token_id);
  for (const auto& s : b[0].outputs)
    tb.push_back(s.token_id);
  EXPECT_NE(ta, tb);
  EXPECT_EQ(std::count(ta.begin(), ta.end(), 17), 0);  // biased away
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(ta[i] != 2 && ta[i] != 9) << "min_tokens masks the stop ids";
  EXPECT_EQ(a[0].outputs[0].top_logprobs.size(), 4u);
}

}  // namespace
}  // namespace troupe::runtime
