// kernels/cuda/rope.cu against kernels/cpu/rope.cpp: from the same tables the rotation must give
// the CPU's bits, in both layouts. Needs a GPU: skips without one.
#include "kernels/cuda/rope.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "kernels/cpu/rope.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using testing::device_array;

struct rope_case {
  int64_t num_tokens;
  int32_t num_heads;
  int32_t head_dim;
};

// Small odd shapes, Llama's (32 heads of 128), and one past the grid-stride cap (2^24 pairs).
constexpr rope_case rope_cases[] = {{1, 1, 2},  {5, 3, 6},    {37, 32, 128},
                                    {7, 8, 64}, {3, 5, 1000}, {8200, 32, 128}};

// The CPU table's rows [0, num_positions) of cos or sin, as the host uploads them.
std::vector<float> table_rows(const cpu::rope_table& table, bool cos) {
  const float* first = cos ? table.cos(0) : table.sin(0);
  return {first, first + int64_t{table.num_positions()} * table.num_pairs()};
}

// Runs one case on both sides; the rotated x must be the same bits.
void expect_rope_matches(cpu::rope_table& table, const rope_case& c, uint32_t seed) {
  const int32_t num_positions = 300;
  table.ensure(num_positions);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> position(0, num_positions - 1);
  std::vector<int32_t> positions(c.num_tokens);
  for (auto& p : positions)
    p = position(rng);
  positions.front() = num_positions - 1;
  positions.back() = 0;
  const auto x = cpu::test::random_floats(c.num_tokens * c.num_heads * c.head_dim, seed);
  device_array<float> dcos(table_rows(table, true)), dsin(table_rows(table, false));
  device_array<int32_t> dpositions(positions);
  for (auto layout : {rope_layout::interleaved, rope_layout::neox}) {
    auto ref = x;
    cpu::rope(
        table,
        layout == rope_layout::interleaved ? cpu::rope_layout::interleaved : cpu::rope_layout::neox,
        positions.data(), c.num_tokens, c.num_heads, c.head_dim, ref.data());
    device_array<float> dx(x);
    ASSERT_TRUE(rope(dcos.get(), dsin.get(), layout, dpositions.get(), c.num_tokens, c.num_heads,
                     c.head_dim, dx.get(), nullptr)
                    .ok());
    EXPECT_TRUE(cpu::test::bitwise_equal(dx.to_host(), ref))
        << (layout == rope_layout::interleaved ? "interleaved" : "neox") << " tokens "
        << c.num_tokens << " heads " << c.num_heads << " head_dim " << c.head_dim;
  }
}

TEST(cuda_rope, theta_table_matches_cpu_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const auto& c : rope_cases) {
    cpu::rope_table table(c.head_dim, 500000.0f);
    expect_rope_matches(table, c, static_cast<uint32_t>(c.head_dim));
  }
}

// Scaled frequencies and a magnitude (YaRN-like): cos/sin are not unit, the rotation's
// roundings show.
TEST(cuda_rope, inv_freq_table_matches_cpu_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (const auto& c : rope_cases) {
    std::vector<float> inv_freq(c.head_dim / 2);
    for (size_t i = 0; i < inv_freq.size(); ++i)
      inv_freq[i] = 1.0f / (1.0f + 0.37f * static_cast<float>(i));
    cpu::rope_table table(std::move(inv_freq), 1.13f);
    expect_rope_matches(table, c, static_cast<uint32_t>(c.num_tokens));
  }
}

TEST(cuda_rope, no_tokens_enqueues_nothing) {
  EXPECT_TRUE(
      rope(nullptr, nullptr, rope_layout::neox, nullptr, 0, 32, 128, nullptr, nullptr).ok());
}

}  // namespace
}  // namespace troupe::kernels::cuda
