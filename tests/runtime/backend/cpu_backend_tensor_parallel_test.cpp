// The CPU backend's tensor-parallel ops: the embedding of a vocab shard, all_gather_columns (at
// one rank, and between rank threads over the shared-memory communicator) and all_reduce.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "kernels/cpu/embedding.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/backend/shared_memory_communicator.hpp"
#include "tests/runtime/backend/backend_test_support.hpp"

namespace troupe::backend {
namespace {

using testing::bitwise_equal;
using testing::cpu_backend_ops;
using testing::three_sequences;
namespace cpu = kernels::cpu;

TEST_F(cpu_backend_ops, embedding_of_a_vocab_shard_is_zero_for_other_shards_tokens) {
  // Tokens {5, 1, 7, 7, 0, 3, 9, 2, 6}; the shard holds tokens [5, 9).
  const int64_t dim = 8, first = 5, rows = 4;
  const auto table = random(rows * dim);
  auto out = output(T * dim);
  be_.embedding(weight(rows, dim, table), first, out);
  const auto got = read(out, T * dim);
  for (int64_t t = 0; t < T; ++t) {
    const int32_t id = step_.token_ids[t];
    std::vector<float> expected(dim, 0.0f);
    if (id >= first && id < first + rows) {
      const int32_t row = static_cast<int32_t>(id - first);
      cpu::embedding(table.data(), dim, &row, 1, expected.data());
    }
    EXPECT_TRUE(bitwise_equal({got.begin() + t * dim, got.begin() + (t + 1) * dim}, expected))
        << "row " << t;
  }
}

TEST_F(cpu_backend_ops, embedding_of_the_first_shard_with_tokens_past_it) {
  const int64_t dim = 8, rows = 4;  // tokens [0, 4): 1, 0, 3 and 2 are inside
  const auto table = random(rows * dim);
  auto out = output(T * dim);
  be_.embedding(weight(rows, dim, table), 0, out);
  const auto got = read(out, T * dim);
  EXPECT_EQ(got[0], 0.0f);          // token 5
  EXPECT_EQ(got[dim], table[dim]);  // token 1
}

TEST_F(cpu_backend_ops, all_gather_columns_at_one_rank_keeps_the_first_columns) {
  const int64_t rows = 3, cols = 7, out_cols = 5;
  const auto x = random(rows * cols);
  auto out = output(rows * out_cols);
  be_.all_gather_columns(buffer_with(x), rows, cols, out_cols, out);
  const auto got = read(out, rows * out_cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < out_cols; ++j)
      EXPECT_EQ(got[i * out_cols + j], x[i * cols + j]);
}

// Rank k's x[i][j] = 1000 k + 10 i + j.
std::vector<float> rank_block(int32_t k, int64_t rows, int64_t cols) {
  std::vector<float> x(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      x[i * cols + j] = static_cast<float>(1000 * k + 10 * i + j);
  return x;
}

TEST(cpu_backend_collectives, all_gather_columns_joins_the_ranks_blocks_without_padding) {
  const int32_t n = 3;
  const int64_t rows = 4, cols = 5, out_cols = 13;  // the last rank's last 2 columns are padding
  shared_memory_group group(n);
  std::vector<std::vector<float>> results(n);
  std::vector<std::thread> threads;
  for (int32_t r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      cpu_backend be(1, &group.rank(r));
      be.begin_step(three_sequences());
      group.rank(r).begin_step();
      auto x = be.allocate_buffer(), out = be.allocate_buffer();
      be.upload_buffer(x, rank_block(r, rows, cols));
      be.reserve(out, rows * out_cols);
      be.all_gather_columns(x, rows, cols, out_cols, out);
      auto s = be.download(out, rows * out_cols);
      results[r].assign(s.begin(), s.end());
    });
  }
  for (auto& t : threads)
    t.join();
  for (int32_t r = 0; r < n; ++r) {
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t c = 0; c < out_cols; ++c) {
        const auto k = c / cols, j = c % cols;
        EXPECT_EQ(results[r][i * out_cols + c], static_cast<float>(1000 * k + 10 * i + j));
      }
    }
  }
}

TEST(cpu_backend_collectives, all_reduce_adds_the_ranks_in_rank_order) {
  const int32_t n = 2;
  shared_memory_group group(n);
  std::vector<std::vector<float>> results(n);
  const std::vector<float> a = {1e8f, -3.5f, 0.25f}, b = {1.0f, 1e-8f, -0.25f};
  std::vector<std::thread> threads;
  for (int32_t r = 0; r < n; ++r) {
    threads.emplace_back([&, r] {
      cpu_backend be(1, &group.rank(r));
      group.rank(r).begin_step();
      auto x = be.allocate_buffer();
      be.upload_buffer(x, r == 0 ? a : b);
      be.all_reduce(x, 3);
      auto s = be.download(x, 3);
      results[r].assign(s.begin(), s.end());
    });
  }
  for (auto& t : threads)
    t.join();
  const std::vector<float> expected = {a[0] + b[0], a[1] + b[1], a[2] + b[2]};
  EXPECT_TRUE(bitwise_equal(results[0], expected));
  EXPECT_TRUE(bitwise_equal(results[1], expected));
}

}  // namespace
}  // namespace troupe::backend
