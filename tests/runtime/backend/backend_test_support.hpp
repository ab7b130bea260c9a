#pragma once
// Shared by the CPU backend conformance tests: a fixture with a cpu_backend and a bare kernel
// thread pool, one three-sequence step, and buffer helpers.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "runtime/backend/cpu_backend.hpp"

namespace troupe::backend::testing {

namespace cpu = kernels::cpu;

inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Three sequences over a cache of 6 blocks of 4 tokens:
//   rows 0..4: s0 prompt chunk, positions 0..4, blocks {3, 1}
//   row  5:    s1 decode at position 9, blocks {0, 4, 2}
//   rows 6..8: s2 chunk, positions 1..3, blocks {5}
inline step_metadata three_sequences() {
  step_metadata m;
  m.token_ids = {5, 1, 7, 7, 0, 3, 9, 2, 6};
  m.positions = {0, 1, 2, 3, 4, 9, 1, 2, 3};
  m.token_seqs = {0, 0, 0, 0, 0, 1, 2, 2, 2};
  m.block_tables = {3, 1, 0, 4, 2, 5};
  m.table_offsets = {0, 2, 5, 6};
  m.sample_rows = {4, 5, 8};
  m.num_positions = 10;
  return m;
}

// The kernels' view of the same step.
inline std::vector<cpu::token_location> locations(const step_metadata& m) {
  std::vector<cpu::token_location> out;
  for (size_t t = 0; t < m.positions.size(); ++t)
    out.push_back({m.positions[t], m.block_tables.data() + m.table_offsets[m.token_seqs[t]]});
  return out;
}

class cpu_backend_ops : public ::testing::Test {
 protected:
  explicit cpu_backend_ops(cpu_activations activations = cpu_activations::f32)
      : be_(2, nullptr, {}, activations) {}
  void SetUp() override { be_.begin_step(step_); }

  std::vector<float> random(int64_t n, float lo = -1.0f, float hi = 1.0f) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v)
      x = dist(rng_);
    return v;
  }
  buffer_handle buffer_with(const std::vector<float>& v) {
    auto b = be_.allocate_buffer();
    be_.upload_buffer(b, v);
    return b;
  }
  buffer_handle output(int64_t n) {
    auto b = be_.allocate_buffer();
    be_.reserve(b, n);
    return b;
  }
  std::vector<float> read(buffer_handle b, int64_t n) {
    auto s = be_.download(b, n);
    return {s.begin(), s.end()};
  }
  weight_handle weight(int64_t rows, int64_t cols, const std::vector<float>& v) {
    return be_.upload_weight({rows, cols, weight_format::f32}, v);
  }

  static constexpr int64_t T = 9;
  cpu_backend be_;
  cpu::thread_pool pool_{2};
  std::mt19937 rng_{42};
  step_metadata step_ = three_sequences();
};

// The same with bf16 activations (`--dtype bfloat16`).
class cpu_backend_bf16_ops : public cpu_backend_ops {
 protected:
  cpu_backend_bf16_ops() : cpu_backend_ops(cpu_activations::bf16) {}
};

}  // namespace troupe::backend::testing
