// How a model splits over ranks: the head rules (even, replicated, unequal KV groups, refused),
// every rank's local GQA agreeing with the model's, contiguous MLP and vocab slices, weights
// balanced when KV groups are unequal, and slices that reassemble into the weights.
#include "runtime/model/tensor_parallel_shard.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

llama_hparams heads(int32_t num_heads, int32_t num_kv_heads, int32_t intermediate = 128) {
  auto hp = testing::tiny_hparams();
  hp.num_heads = num_heads;
  hp.num_kv_heads = num_kv_heads;
  hp.intermediate_size = intermediate;
  return hp;
}

TEST(tensor_parallel_shard, which_head_counts_split) {
  EXPECT_TRUE(check_tensor_parallel(heads(4, 2), 1));
  EXPECT_TRUE(check_tensor_parallel(heads(4, 2), 2));  // even
  EXPECT_TRUE(check_tensor_parallel(heads(4, 2), 4));  // KV heads replicated twice
  EXPECT_TRUE(check_tensor_parallel(heads(6, 3), 2));  // 1 and 2 KV groups
  EXPECT_TRUE(check_tensor_parallel(heads(9, 3), 2));  // SmolLM2-135M
  EXPECT_TRUE(check_tensor_parallel(heads(12, 3), 6));
  const auto refused = check_tensor_parallel(heads(4, 2), 3);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.message(),
            "cannot split tensor parallel size 3, 4 attention heads, 2 KV heads: with fewer KV "
            "heads than ranks, the tensor parallel size must be a multiple of the KV heads (each "
            "KV head is replicated on size / KV heads ranks)");
  EXPECT_FALSE(check_tensor_parallel(heads(9, 3), 6));  // 9 heads over 6 ranks
  EXPECT_FALSE(check_tensor_parallel(heads(4, 2), 0));
  EXPECT_FALSE(check_tensor_parallel(heads(4, 2, 3), 4));  // fewer MLP columns than ranks
}

TEST(tensor_parallel_shard, every_rank_runs_plain_gqa_over_its_own_heads) {
  for (auto [h, kv] : {std::pair{4, 2}, {4, 1}, {8, 8}, {6, 3}, {9, 3}, {12, 4}, {16, 2}}) {
    for (int32_t n = 1; n <= 8; ++n) {
      const auto hp = heads(h, kv, 100);
      if (!check_tensor_parallel(hp, n)) continue;
      SCOPED_TRACE(std::to_string(h) + "/" + std::to_string(kv) + " heads over " +
                   std::to_string(n));
      const int32_t group = h / kv;
      int32_t next_head = 0, next_column = 0;
      for (int32_t r = 0; r < n; ++r) {
        const auto s = make_llama_shard(hp, r, n);
        EXPECT_EQ(s.first_head, next_head);
        next_head += s.num_heads;
        ASSERT_GE(s.num_kv_heads, 1);
        ASSERT_EQ(s.num_heads % s.num_kv_heads, 0);
        for (int32_t i = 0; i < s.num_heads; ++i)  // the kernel's GQA map = the model's
          EXPECT_EQ(s.first_kv_head + i / (s.num_heads / s.num_kv_heads),
                    (s.first_head + i) / group);
        EXPECT_EQ(s.first_intermediate, next_column);
        EXPECT_GE(s.intermediate_size, 1);
        next_column += s.intermediate_size;
        EXPECT_EQ(s.first_token, r * s.vocab_rows);
        EXPECT_GE(s.vocab_rows * n, hp.vocab_size);
      }
      EXPECT_EQ(next_head, h);
      EXPECT_EQ(next_column, 100);
    }
  }
}

TEST(tensor_parallel_shard, unequal_kv_groups_are_balanced_with_mlp_columns) {
  llama_hparams hp = heads(9, 3, 1536);  // SmolLM2-135M
  hp.hidden_size = 576;
  hp.head_dim = 64;
  auto weights_of = [&](const llama_shard& s) {
    return 2 * int64_t{s.num_heads + s.num_kv_heads} * hp.head_dim * hp.hidden_size +
           3 * int64_t{s.intermediate_size} * hp.hidden_size;
  };
  const auto r0 = make_llama_shard(hp, 0, 2), r1 = make_llama_shard(hp, 1, 2);
  EXPECT_EQ(r0.num_kv_heads, 1);
  EXPECT_EQ(r1.num_kv_heads, 2);
  EXPECT_EQ(r0.intermediate_size + r1.intermediate_size, 1536);
  // Balanced to within half a 32-column step (the bounds fall on GGUF block boundaries).
  EXPECT_EQ(r0.intermediate_size % 32, 0);
  EXPECT_LE(std::abs(weights_of(r0) - weights_of(r1)), 3 * 32 * hp.hidden_size);
}

TEST(tensor_parallel_shard, slices_reassemble_into_the_weights) {
  auto hp = testing::tiny_hparams();  // 4 heads of 16, 2 KV heads, vocab 97
  const auto w = testing::tiny_llama(hp, 8);
  const int64_t hidden = hp.hidden_size, hd = hp.head_dim;
  for (int32_t n : {2, 4}) {
    std::vector<float> wq, embedding;
    for (int32_t r = 0; r < n; ++r) {
      const auto s = make_llama_shard(hp, r, n);
      const auto slice = slice_llama_weights(w, s);
      const auto& l = slice.layers[1];
      wq.insert(wq.end(), l.wq.values.begin(), l.wq.values.end());
      embedding.insert(embedding.end(), slice.token_embedding.values.begin(),
                       slice.token_embedding.values.end());
      // k: rows of the rank's KV head(s); o and down: the columns of its heads and MLP slice.
      const auto& full = w.layers[1];
      ASSERT_EQ(l.wk.values.size(), size_t(s.num_kv_heads * hd * hidden));
      EXPECT_TRUE(std::equal(l.wk.values.begin(), l.wk.values.end(),
                             full.wk.values.begin() + s.first_kv_head * hd * hidden));
      ASSERT_EQ(l.wo.values.size(), size_t(hidden * s.num_heads * hd));
      for (int64_t row = 0; row < hidden; ++row)
        EXPECT_EQ(l.wo.values[row * s.num_heads * hd],
                  full.wo.values[row * hp.num_heads * hd + s.first_head * hd]);
      EXPECT_EQ(l.w_down.values[s.intermediate_size],  // row 1, first column
                full.w_down.values[hp.intermediate_size + s.first_intermediate]);
      EXPECT_TRUE(slice.output.values.size() == size_t(s.vocab_rows * hidden));
    }
    EXPECT_EQ(wq, w.layers[1].wq.values);
    // Padding rows after the vocab are zeros.
    ASSERT_EQ(embedding.size(), size_t((96 / n + 1) * n * hidden));
    EXPECT_TRUE(std::equal(w.token_embedding.values.begin(), w.token_embedding.values.end(),
                           embedding.begin()));
    EXPECT_TRUE(std::all_of(embedding.begin() + w.token_embedding.values.size(), embedding.end(),
                            [](float x) { return x == 0.0f; }));
  }
}

}  // namespace
}  // namespace troupe::runtime
