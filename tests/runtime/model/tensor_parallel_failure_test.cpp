// Tensor parallelism under load and failure: a sequence's logits at 2 and 4 ranks are bitwise the
// same alone and inside a busy batch (fixed-order all-reduce); a rank that throws fails the step
// at every rank with an error instead of a hang, and the next step runs normally; a destroyed
// rank closes the group.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/backend/cpu_backend.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "tests/runtime/model/failing_backend.hpp"
#include "tests/runtime/model/tensor_parallel_driver.hpp"
#include "tests/runtime/model/tensor_parallel_scripts.hpp"

namespace troupe::runtime {
namespace {

using testing::failing_backend;
using testing::rank_threads;
using testing::scripted_seq;

constexpr int32_t num_blocks = 48;
constexpr int32_t block_size = testing::script_block_size;

// The logits rows of sequence `id` over a script, step by step.
std::vector<std::vector<float>> rows_of(
    std::vector<scripted_seq> seqs, uint64_t id, const llama_weights& w, int32_t n,
    backend::kv_cache_dtype kv_dtype = backend::kv_cache_dtype::f32) {
  auto made = make_tensor_parallel_runners(w, n, 1, num_blocks, block_size, {}, kv_dtype);
  EXPECT_TRUE(made.ok()) << made.message();
  rank_threads group(std::move(made).value());
  const int32_t vocab = w.hparams.vocab_size;
  const auto steps = testing::run_script(std::move(seqs), vocab, 9, [&](const step_batch& b) {
    auto answers = group.forward_logits(b);
    EXPECT_TRUE(answers[0].ok()) << answers[0].message();
    return *answers[0];
  });
  std::vector<std::vector<float>> out;
  for (const auto& step : steps)
    for (size_t k = 0; k < step.ids.size(); ++k)
      if (step.ids[k] == id)
        out.emplace_back(step.logits.begin() + k * vocab, step.logits.begin() + (k + 1) * vocab);
  return out;
}

// Sequence 7's logits rows alone and inside a busy batch (with `crowd` around it), at n ranks on
// a `dtype` cache: bitwise equal. Returns the rows alone.
std::vector<std::vector<float>> expect_alone_equals_crowded(const llama_weights& w,
                                                            const std::vector<scripted_seq>& crowd,
                                                            int32_t n,
                                                            backend::kv_cache_dtype dtype,
                                                            const std::string& what) {
  const int32_t vocab = w.hparams.vocab_size;
  const scripted_seq seq{7, 1, 3, testing::random_tokens(8, vocab, 70)};
  auto busy = testing::busy_script(vocab);
  busy.insert(busy.begin() + 1, seq);
  busy.insert(busy.end(), crowd.begin(), crowd.end());
  const auto alone = rows_of({seq}, 7, w, n, dtype), crowded = rows_of(busy, 7, w, n, dtype);
  EXPECT_EQ(alone.size(), 6u) << what;
  EXPECT_EQ(crowded.size(), alone.size()) << what;
  for (size_t i = 0; i < std::min(alone.size(), crowded.size()); ++i)
    EXPECT_EQ(std::memcmp(alone[i].data(), crowded[i].data(), vocab * sizeof(float)), 0)
        << what << ", output " << i;
  return alone;
}

TEST(tensor_parallel, a_sequence_is_bitwise_the_same_alone_and_in_a_busy_batch) {
  for (const auto& family : testing::tiny_families()) {
    const auto w = testing::tiny_model(family.hparams, 21);
    const scripted_seq late{8, 2, 5, testing::random_tokens(12, w.hparams.vocab_size, 80)};
    for (int32_t n : {2, 4})
      expect_alone_equals_crowded(w, {late}, n, backend::kv_cache_dtype::f32,
                                  family.name + " at " + std::to_string(n) + " ranks");
  }
}

// The same over an fp8 KV cache at every rank.
TEST(tensor_parallel, fp8_kv_cache_keeps_a_sequence_bitwise_the_same_alone_and_in_a_busy_batch) {
  for (const auto& family : testing::tiny_families()) {
    const auto w = testing::tiny_model(family.hparams, 21);
    const auto f32 =
        expect_alone_equals_crowded(w, {}, 2, backend::kv_cache_dtype::f32, family.name + ", f32");
    for (auto dtype : {backend::kv_cache_dtype::fp8_e4m3, backend::kv_cache_dtype::fp8_e5m2}) {
      const auto fp8 = expect_alone_equals_crowded(w, {}, 2, dtype, family.name + ", fp8");
      EXPECT_NE(fp8, f32) << family.name;  // not the f32 cache's
    }
  }
}

// n ranks over `w`; rank `failing` runs on a failing_backend, returned through `backend`.
std::unique_ptr<rank_threads<>> ranks_with_failing(const llama_weights& w, int32_t n,
                                                   int32_t failing, failing_backend*& backend) {
  auto group = std::make_shared<backend::shared_memory_group>(n);
  std::vector<std::unique_ptr<tensor_parallel_runner>> ranks;
  for (int32_t r = 0; r < n; ++r) {
    std::unique_ptr<backend::cpu_backend> be;
    if (r == failing) {
      auto f = std::make_unique<failing_backend>(1, &group->rank(r));
      backend = f.get();
      be = std::move(f);
    } else {
      be = std::make_unique<backend::cpu_backend>(1, &group->rank(r));
    }
    auto runner = llama_runner::create_shard(std::move(be), w, make_llama_shard(w.hparams, r, n),
                                             num_blocks, block_size);
    EXPECT_TRUE(runner.ok()) << runner.message();
    ranks.push_back(std::make_unique<tensor_parallel_runner>(group, r, std::move(*runner)));
  }
  return std::make_unique<rank_threads<>>(std::move(ranks));
}

using testing::prompt_step;

TEST(tensor_parallel, a_rank_that_throws_fails_the_step_everywhere_and_the_next_step_runs) {
  const auto w = testing::tiny_model(testing::tiny_hparams(), 3);
  const int32_t vocab = w.hparams.vocab_size;
  const auto after = prompt_step(3, testing::random_tokens(7, vocab, 33), 20);
  for (int32_t n : {2, 4}) {
    for (int32_t failing : {0, n - 1}) {
      for (bool in_download : {false, true}) {
        SCOPED_TRACE(std::to_string(n) + " ranks, rank " + std::to_string(failing) +
                     (in_download ? " fails in download" : " fails in a matmul"));
        failing_backend* faulty = nullptr;
        auto group = ranks_with_failing(w, n, failing, faulty);
        for (const auto& a : group->execute(prompt_step(1, testing::random_tokens(6, vocab, 1), 0)))
          EXPECT_TRUE(a.ok()) << a.message();
        if (in_download)
          faulty->fail_download = true;
        else
          faulty->fail_in = 9;  // inside layer 1
        const auto failed = group->execute(prompt_step(2, testing::random_tokens(5, vocab, 2), 10));
        for (int32_t r = 0; r < n; ++r) {
          if (r == failing) {
            ASSERT_FALSE(failed[r].ok());
            EXPECT_NE(failed[r].message().find("injected"), std::string::npos);
          } else if (!in_download) {  // after the last collective the others are done
            ASSERT_FALSE(failed[r].ok()) << "rank " << r;
            EXPECT_NE(failed[r].message().find("aborted"), std::string::npos)
                << failed[r].message();
          }
        }
        const auto next = group->forward_logits(after);
        auto fresh = make_tensor_parallel_runners(w, n, 1, num_blocks, block_size);
        ASSERT_TRUE(fresh.ok());
        rank_threads reference(std::move(fresh).value());
        const auto expected = reference.forward_logits(after);
        for (int32_t r = 0; r < n; ++r) {
          ASSERT_TRUE(next[r].ok()) << next[r].message();
          EXPECT_EQ(*next[r], *expected[0]) << "rank " << r;
        }
      }
    }
  }
}

TEST(tensor_parallel, a_destroyed_rank_closes_the_group_instead_of_leaving_the_others_waiting) {
  const auto w = testing::tiny_model(testing::tiny_hparams(), 3);
  auto made = make_tensor_parallel_runners(w, 2, 1, num_blocks, block_size);
  ASSERT_TRUE(made.ok());
  auto ranks = std::move(made).value();
  ranks[1].reset();
  EXPECT_THROW(ranks[0]->execute(prompt_step(1, {1, 2, 3}, 0)), backend::collective_aborted);
}

}  // namespace
}  // namespace troupe::runtime
