// Shared inputs of the paged-attention tests over a 16-bit or fp8 cache: one sequence of `len`
// tokens in scattered blocks (positions 0-3 in block 6, 4-7 in block 1, ...), 6 query heads over 2
// kv heads, and seeded uniform random vectors.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace troupe::kernels::cpu::test {

constexpr int32_t block_size = 4, num_kv_heads = 2, num_heads = 6;
constexpr int32_t num_blocks = 8, len = 13;
inline const std::vector<int32_t> blocks = {6, 1, 4, 0};

// n floats uniform in [-range, range), the same for the same seed.
inline std::vector<float> random_vector(size_t n, uint32_t seed, float range) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

}  // namespace troupe::kernels::cpu::test
