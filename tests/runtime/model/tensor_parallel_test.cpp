// Tensor parallelism against one rank on tiny models of every family (Llama; Mistral with an
// explicit head_dim and a sliding window; Qwen2 with qkv biases and tied embeddings), at 2 and 4
// ranks (KV heads split, and replicated when fewer than the ranks), with a vocab that no rank
// count divides: every rank receives bitwise the same logits, log-probabilities are within 1e-4
// of one rank's and greedy tokens are identical over prompt chunks and decodes. Seeded sampling
// draws the same tokens at every rank.
#include "runtime/model/tensor_parallel.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu/affinity.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/runtime/model/tensor_parallel_driver.hpp"
#include "tests/runtime/model/tensor_parallel_scripts.hpp"

namespace troupe::runtime {
namespace {

using testing::rank_threads;
using testing::scripted_step;

constexpr int32_t num_blocks = 32;
constexpr int32_t num_steps = 8;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

using backend::cpu_activations;

std::vector<scripted_step> one_rank(const llama_weights& w,
                                    cpu_activations activations = cpu_activations::f32) {
  auto runner = cpu_llama_runner::create(w, num_blocks, testing::script_block_size, 2,
                                         backend::kv_cache_dtype::f32, activations);
  EXPECT_TRUE(runner.ok()) << runner.message();
  return testing::run_script(testing::busy_script(w.hparams.vocab_size), w.hparams.vocab_size,
                             num_steps,
                             [&](const step_batch& b) { return (*runner)->forward_logits(b); });
}

// The script on a group's ranks; checks that every rank got bitwise the same logits.
std::vector<scripted_step> run_group(std::vector<std::unique_ptr<tensor_parallel_runner>> ranks,
                                     const llama_weights& w) {
  rank_threads group(std::move(ranks));
  return testing::run_script(testing::busy_script(w.hparams.vocab_size), w.hparams.vocab_size,
                             num_steps, [&](const step_batch& b) {
                               auto answers = group.forward_logits(b);
                               for (auto& a : answers)
                                 EXPECT_TRUE(a.ok()) << a.message();
                               for (size_t r = 1; r < answers.size(); ++r)
                                 EXPECT_TRUE(same_bits(*answers[r], *answers[0])) << "rank " << r;
                               return *answers[0];
                             });
}

// The script at `n` ranks.
std::vector<scripted_step> ranks(const llama_weights& w, int32_t n,
                                 cpu_activations activations = cpu_activations::f32) {
  auto made = make_tensor_parallel_runners(w, n, 1, num_blocks, testing::script_block_size, {},
                                           backend::kv_cache_dtype::f32, activations);
  EXPECT_TRUE(made.ok()) << made.message();
  return run_group(std::move(made).value(), w);
}

void expect_close_to_one_rank(const llama_weights& w, int32_t n,
                              cpu_activations activations = cpu_activations::f32,
                              double tolerance = 1e-4) {
  const int32_t vocab = w.hparams.vocab_size;
  const auto expected = one_rank(w, activations), got = ranks(w, n, activations);
  ASSERT_EQ(got.size(), expected.size());
  int32_t rows = 0;
  for (size_t step = 0; step < got.size(); ++step) {
    ASSERT_EQ(got[step].ids, expected[step].ids) << "step " << step;
    for (size_t k = 0; k < got[step].ids.size(); ++k, ++rows) {
      const float* a = got[step].logits.data() + k * vocab;
      const float* b = expected[step].logits.data() + k * vocab;
      EXPECT_EQ(std::max_element(a, a + vocab) - a, std::max_element(b, b + vocab) - b)
          << "greedy token, step " << step << " row " << k;
      const auto la = testing::log_softmax(a, vocab), lb = testing::log_softmax(b, vocab);
      for (int32_t i = 0; i < vocab; ++i)
        ASSERT_NEAR(la[i], lb[i], tolerance) << "step " << step << " row " << k << " token " << i;
    }
  }
  EXPECT_GE(rows, 12);  // prompt ends and decodes of all three sequences
}

class families : public ::testing::TestWithParam<std::tuple<int32_t, int32_t>> {};

TEST_P(families, close_to_one_rank_with_identical_greedy_tokens) {
  const auto family = testing::tiny_families()[std::get<0>(GetParam())];
  SCOPED_TRACE(family.name);
  expect_close_to_one_rank(testing::tiny_model(family.hparams, 77), std::get<1>(GetParam()));
}

INSTANTIATE_TEST_SUITE_P(tensor_parallel, families,
                         ::testing::Combine(::testing::Values(0, 1, 2), ::testing::Values(2, 4)));

// Another data-parallel engine's group over the same weights (one copy in memory, shared by the
// ranks' backends): bitwise the logits of the group whose weights it reads, on caches of its own.
TEST(tensor_parallel, a_group_sharing_another_groups_weights_computes_the_same_bits) {
  const auto w = testing::tiny_model(testing::tiny_families()[1].hparams, 77);
  auto first = make_tensor_parallel_runners(w, 2, 1, num_blocks, testing::script_block_size);
  ASSERT_TRUE(first.ok()) << first.message();
  std::vector<const tensor_parallel_runner*> source;
  for (const auto& rank : *first)
    source.push_back(rank.get());
  EXPECT_FALSE(make_tensor_parallel_runners_sharing(source, 0).ok());
  EXPECT_FALSE(make_tensor_parallel_runners_sharing(source, 1, {{0}}).ok());
  auto second = make_tensor_parallel_runners_sharing(source, 1);
  ASSERT_TRUE(second.ok()) << second.message();
  for (auto& rank : *second) {
    EXPECT_TRUE(static_cast<backend::cpu_backend&>(rank->compute()).shares_weights());
    EXPECT_EQ(rank->num_kv_blocks(), num_blocks);
  }
  const auto a = run_group(std::move(*first), w);
  const auto b = run_group(std::move(*second), w);
  ASSERT_EQ(a.size(), b.size());
  for (size_t step = 0; step < a.size(); ++step) {
    EXPECT_EQ(a[step].ids, b[step].ids) << "step " << step;
    EXPECT_TRUE(same_bits(a[step].logits, b[step].logits)) << "step " << step;
  }
}

// --dtype bfloat16 (bf16 weights times activations rounded to bf16, AMX tiles where the CPU has
// them) at 2 ranks: each rank rounds the same activations, only the row-parallel sums split.
TEST(tensor_parallel, bf16_activations_close_to_one_rank) {
  auto w = testing::tiny_model(testing::tiny_families()[0].hparams, 77);
  apply_weight_dtype(w, weight_dtype::bfloat16);
  expect_close_to_one_rank(w, 2, cpu_activations::bf16, 1e-5);
  const auto rounded = one_rank(w, cpu_activations::bf16), exact = one_rank(w);
  ASSERT_EQ(rounded.size(), exact.size());
  EXPECT_FALSE(same_bits(rounded.back().logits, exact.back().logits)) << "x was not rounded";
}

TEST(tensor_parallel, ranks_holding_unequal_kv_groups_match_one_rank) {
  expect_close_to_one_rank(testing::tiny_model(testing::uneven_heads_hparams(), 5), 2);
}

// Rank r's threads get the next threads_per_rank CPUs of the process's mask, or nobody is pinned.
TEST(tensor_parallel, rank_cpus_are_consecutive_allowed_cpus_or_none) {
  const std::vector<int> allowed = kernels::cpu::allowed_cpus();
  if (allowed.empty()) GTEST_SKIP() << "no CPU affinity on this platform";
  const auto one = plan_rank_cpus(1, 1);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], std::vector<int>{allowed[0]});
  if (allowed.size() >= 2) {
    EXPECT_EQ(plan_rank_cpus(2, 1), (std::vector<std::vector<int>>{{allowed[0]}, {allowed[1]}}));
  }
  EXPECT_TRUE(plan_rank_cpus(static_cast<int32_t>(allowed.size()) + 1, 1).empty());
  EXPECT_TRUE(plan_rank_cpus(2, static_cast<int32_t>(allowed.size())).empty());
  // The runners take a plan; one that names too few CPUs for the threads is refused.
  const auto w = testing::tiny_model(testing::tiny_hparams(), 5);
  auto pinned = make_tensor_parallel_runners(w, 1, 1, 8, 16, one);
  ASSERT_TRUE(pinned.ok()) << pinned.message();
  EXPECT_FALSE(make_tensor_parallel_runners(w, 1, 2, 8, 16, one).ok());  // one CPU for 2 threads
}

TEST(tensor_parallel, head_counts_that_do_not_split_are_an_error) {
  auto made = make_tensor_parallel_runners(testing::tiny_model(testing::uneven_heads_hparams(), 5),
                                           4, 1, num_blocks, testing::script_block_size);
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.message().find("tensor parallel size 4, 6 attention heads, 3 KV heads"),
            std::string::npos)
      << made.message();
}

TEST(tensor_parallel, every_rank_samples_the_same_tokens_with_the_same_seeds) {
  const auto w = testing::tiny_model(testing::tiny_families()[2].hparams, 9);
  auto made = make_tensor_parallel_runners(w, 2, 1, num_blocks, 4);
  ASSERT_TRUE(made.ok()) << made.message();
  rank_threads group(std::move(made).value());
  std::vector<int32_t> a = testing::random_tokens(9, w.hparams.vocab_size, 4), b = {3};
  for (int32_t step = 0; step < 8; ++step) {
    step_batch batch;
    const auto a_start = step == 0 ? 0 : static_cast<int32_t>(a.size()) - 1;
    batch.token_ids.assign(a.begin() + a_start, a.end());
    batch.seqs.push_back(testing::seq_entry(1, a_start, int32_t(a.size()) - a_start, {0, 1, 2, 3}));
    batch.token_ids.push_back(b.back());
    batch.seqs.push_back(testing::seq_entry(2, int32_t(b.size()) - 1, 1, {4, 5}));
    for (auto& s : batch.seqs) {
      s.sampling = {};
      s.sampling.temperature = 0.9f;
      s.sampling.top_k = 30;
      s.sampling.seed = s.seq_id * 1000;
      s.sampling.num_top_logprobs = 3;
      s.output_index = step;
    }
    const auto answers = group.execute(batch);
    ASSERT_TRUE(answers[0].ok()) << answers[0].message();
    ASSERT_TRUE(answers[1].ok()) << answers[1].message();
    ASSERT_EQ(answers[0]->size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
      const auto &x = (*answers[0])[i], &y = (*answers[1])[i];
      EXPECT_EQ(x.token_id, y.token_id);
      EXPECT_EQ(std::memcmp(&x.logprob, &y.logprob, sizeof(float)), 0);
      EXPECT_EQ(x.top_logprobs, y.top_logprobs);
    }
    a.push_back((*answers[0])[0].token_id);
    b.push_back((*answers[0])[1].token_id);
  }
}

// Prompt logprobs at two ranks: every rank scores the prompt alike, bit for bit, and as one rank
// does (logprobs within 1e-4, the same ranks and top tokens).
TEST(tensor_parallel, ranks_score_prompt_tokens_as_one_rank) {
  const auto w = testing::tiny_model(testing::tiny_families()[0].hparams, 9);
  const std::vector<int32_t> prompt = testing::random_tokens(11, w.hparams.vocab_size, 6);
  step_batch batch;
  batch.token_ids = prompt;
  batch.seqs.push_back(testing::seq_entry(1, 0, 11, {0, 1, 2}));
  batch.seqs[0].sampling.num_prompt_logprobs = 2;
  batch.seqs[0].prompt_logprob_targets = std::span<const int32_t>(prompt).subspan(1);
  auto single = cpu_llama_runner::create(w, num_blocks, 4, 2);
  ASSERT_TRUE(single.ok()) << single.message();
  const auto want = (*single)->execute(batch);
  auto made = make_tensor_parallel_runners(w, 2, 1, num_blocks, 4);
  ASSERT_TRUE(made.ok()) << made.message();
  rank_threads group(std::move(made).value());
  const auto answers = group.execute(batch);
  ASSERT_TRUE(answers[0].ok() && answers[1].ok());
  ASSERT_EQ(want.size(), 11u);  // the token, then positions 1 .. 10
  ASSERT_EQ(answers[0]->size(), want.size());
  for (size_t i = 1; i < want.size(); ++i) {
    const auto &x = (*answers[0])[i], &y = (*answers[1])[i];
    EXPECT_EQ(x.prompt_position, static_cast<int32_t>(i));
    EXPECT_EQ(std::memcmp(&x.logprob, &y.logprob, sizeof(float)), 0) << i;
    EXPECT_EQ(x.rank, y.rank) << i;
    EXPECT_EQ(x.token_id, want[i].token_id) << i;
    EXPECT_NEAR(x.logprob, want[i].logprob, 1e-4) << i;
    EXPECT_EQ(x.rank, want[i].rank) << i;
    ASSERT_EQ(x.top_logprobs.size(), 2u) << i;
    EXPECT_EQ(x.top_logprobs[0].first, want[i].top_logprobs[0].first) << i;
  }
}

}  // namespace
}  // namespace troupe::runtime
