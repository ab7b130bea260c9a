// rope: x [tokens][heads][head_dim] rotated in place by position (contract: rope.hpp).
#include "kernels/cpu/rope.hpp"

#include <cassert>
#include <cmath>
#include <utility>

namespace troupe::kernels::cpu {

rope_table::rope_table(int32_t head_dim, float theta)
    : num_pairs_(head_dim / 2),
      theta_scale_(std::pow(theta, -2.0f / static_cast<float>(head_dim))) {
  assert(head_dim > 0 && head_dim % 2 == 0 && theta > 0.0f);
}

rope_table::rope_table(std::vector<float> inv_freq, float magnitude)
    : num_pairs_(static_cast<int32_t>(inv_freq.size())),
      inv_freq_(std::move(inv_freq)),
      magnitude_(magnitude) {
  assert(num_pairs_ > 0);
}

void rope_table::ensure(int32_t num_positions) {
  if (num_positions <= num_positions_) return;
  cos_.resize(static_cast<size_t>(num_positions) * num_pairs_);
  sin_.resize(cos_.size());
  if (!inv_freq_.empty()) {
    // Hugging Face's order: position and frequency in f32, their product, then cos/sin.
    for (int32_t p = num_positions_; p < num_positions; ++p) {
      for (int32_t i = 0; i < num_pairs_; ++i) {
        const float angle = static_cast<float>(p) * inv_freq_[i];
        cos_[static_cast<size_t>(p) * num_pairs_ + i] = std::cos(angle) * magnitude_;
        sin_[static_cast<size_t>(p) * num_pairs_ + i] = std::sin(angle) * magnitude_;
      }
    }
    num_positions_ = num_positions;
    return;
  }
  for (int32_t p = num_positions_; p < num_positions; ++p) {
    float angle = static_cast<float>(p);
    for (int32_t i = 0; i < num_pairs_; ++i) {
      cos_[static_cast<size_t>(p) * num_pairs_ + i] = std::cos(angle);
      sin_[static_cast<size_t>(p) * num_pairs_ + i] = std::sin(angle);
      angle *= theta_scale_;
    }
  }
  num_positions_ = num_positions;
}

void rope(const rope_table& table, rope_layout layout, const int32_t* positions, int64_t num_tokens,
          int32_t num_heads, int32_t head_dim, float* x) {
  const int32_t num_pairs = table.num_pairs();
  assert(head_dim == 2 * num_pairs);
  // Interleaved pairs sit at stride 2 (a = 2i, b = 2i+1); neox pairs half a head apart.
  const int32_t a_step = layout == rope_layout::interleaved ? 2 : 1;
  const int32_t b_offset = layout == rope_layout::interleaved ? 1 : num_pairs;
  for (int64_t t = 0; t < num_tokens; ++t) {
    assert(positions[t] >= 0 && positions[t] < table.num_positions());
    const float* c = table.cos(positions[t]);
    const float* s = table.sin(positions[t]);
    for (int32_t h = 0; h < num_heads; ++h) {
      float* head = x + (t * num_heads + h) * head_dim;
      for (int32_t i = 0; i < num_pairs; ++i) {
        float* a = head + i * a_step;
        float* b = a + b_offset;
        const float x0 = *a, x1 = *b;
        *a = x0 * c[i] - x1 * s[i];
        *b = x0 * s[i] + x1 * c[i];
      }
    }
  }
}

}  // namespace troupe::kernels::cpu
