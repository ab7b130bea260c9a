// A model of random matrices (--load-format dummy) through the runner: check_llama_weights takes
// random matrices in formats that can be generated and names the others; a random model computes
// bitwise as the same model holding the generated values (one rank); tensor-parallel ranks hold
// random slices with seeds of their own (a replicated KV head the same), agree bitwise and repeat.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/backend/random_weight.hpp"
#include "runtime/formats/weight_matrix.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/llama_checks.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"
#include "tests/runtime/model/tensor_parallel_driver.hpp"
#include "tests/runtime/model/tensor_parallel_scripts.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using backend::weight_format;
using testing::scripted_step;

constexpr int32_t num_blocks = 32;
constexpr int32_t num_steps = 6;

// tiny_llama's norms with random matrices in a mix of formats, each with its own seed; bound 0.2
// so that the logits spread.
llama_weights random_model() {
  llama_weights w = testing::tiny_llama(testing::tiny_hparams(), 5);
  const weight_format formats[] = {weight_format::bf16, weight_format::w8a8, weight_format::f16,
                                   weight_format::f32, weight_format::w8a8_azp};
  uint64_t seed = 100;
  for_each_matrix(w, [&](weight_matrix& m, int64_t, int64_t, const std::string&) {
    m = random_matrix(formats[seed % 5], {seed, 0.2f});
    ++seed;
  });
  return w;
}

// The same model with every random matrix's values generated into it.
llama_weights materialized(llama_weights w) {
  for_each_matrix(w, [](weight_matrix& m, int64_t rows, int64_t cols, const std::string&) {
    m = backend::generate_random_weight({rows, cols, m.format}, *m.random);
  });
  return w;
}

std::vector<scripted_step> one_rank(const llama_weights& w) {
  auto runner = cpu_llama_runner::create(w, num_blocks, testing::script_block_size, 2);
  EXPECT_TRUE(runner.ok()) << runner.message();
  if (!runner) return {};
  return testing::run_script(testing::busy_script(w.hparams.vocab_size), w.hparams.vocab_size,
                             num_steps,
                             [&](const step_batch& b) { return (*runner)->forward_logits(b); });
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// The script at `n` ranks; every rank's logits bitwise the same.
std::vector<scripted_step> ranks(const llama_weights& w, int32_t n) {
  auto made = make_tensor_parallel_runners(w, n, 1, num_blocks, testing::script_block_size);
  EXPECT_TRUE(made.ok()) << made.message();
  if (!made) return {};
  testing::rank_threads group(std::move(made).value());
  return testing::run_script(testing::busy_script(w.hparams.vocab_size), w.hparams.vocab_size,
                             num_steps, [&](const step_batch& b) {
                               auto answers = group.forward_logits(b);
                               for (size_t r = 1; r < answers.size(); ++r)
                                 EXPECT_TRUE(same_bits(*answers[r], *answers[0])) << "rank " << r;
                               return *answers[0];
                             });
}

void expect_same(const std::vector<scripted_step>& a, const std::vector<scripted_step>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t s = 0; s < a.size(); ++s) {
    EXPECT_EQ(a[s].ids, b[s].ids) << "step " << s;
    EXPECT_TRUE(same_bits(a[s].logits, b[s].logits)) << "step " << s;
  }
}

TEST(dummy_model, checks_accept_random_matrices_and_name_the_others) {
  llama_weights w = random_model();
  EXPECT_TRUE(check_llama_weights(w)) << check_llama_weights(w).message();
  w.layers[1].wv = random_matrix(weight_format::q4_0, {1, 0.2f});
  const auto refused = check_llama_weights(w);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.message().rfind("weight 'layer 1.wv' is random q4_0: ", 0), 0u)
      << refused.message();
}

TEST(dummy_model, computes_as_its_generated_values) {
  const llama_weights w = random_model();
  const auto random = one_rank(w);
  const auto held = one_rank(materialized(w));
  ASSERT_EQ(random.size(), static_cast<size_t>(num_steps));
  expect_same(random, held);
  for (const auto& step : random) {
    for (float v : step.logits)
      ASSERT_TRUE(std::isfinite(v));
  }
}

// At 4 ranks over 2 KV heads each KV head is replicated on two ranks: those hold the same k/v
// slice; every rank's q slice is its own.
TEST(dummy_model, tensor_parallel_slices_are_random_with_their_own_seeds) {
  const llama_weights w = random_model();
  std::vector<llama_weights> slices;
  for (int32_t r = 0; r < 4; ++r)
    slices.push_back(slice_llama_weights(w, make_llama_shard(w.hparams, r, 4)));
  for (int32_t r = 0; r < 4; ++r) {
    const auto shard = make_llama_shard(w.hparams, r, 4);
    const auto& l = slices[r].layers[0];
    EXPECT_TRUE(l.wq.random && l.wk.random && l.wo.random && l.w_down.random);
    EXPECT_EQ(l.wq.format, w.layers[0].wq.format);
    EXPECT_TRUE(l.wq.bytes.empty() && l.wq.values.empty());
    for (int32_t other = 0; other < r; ++other) {
      const auto other_shard = make_llama_shard(w.hparams, other, 4);
      const auto& o = slices[other].layers[0];
      EXPECT_NE(l.wq.random->seed, o.wq.random->seed);
      EXPECT_NE(l.w_up.random->seed, o.w_up.random->seed);
      EXPECT_EQ(l.wk.random->seed == o.wk.random->seed,
                shard.first_kv_head == other_shard.first_kv_head)
          << r << " vs " << other;
    }
  }
}

TEST(dummy_model, tensor_parallel_ranks_agree_and_repeat) {
  const llama_weights w = random_model();
  for (int32_t n : {2, 4}) {
    const auto first = ranks(w, n);
    ASSERT_EQ(first.size(), static_cast<size_t>(num_steps)) << n;
    expect_same(first, ranks(w, n));
  }
}

}  // namespace
}  // namespace troupe::runtime
