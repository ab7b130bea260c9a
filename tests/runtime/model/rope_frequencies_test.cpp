// RoPE scaling: each type's frequencies against its defining formula at chosen points.
#include "runtime/model/rope_frequencies.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace troupe::runtime {
namespace {

llama_hparams base_hparams(rope_scaling_type type, float factor) {
  llama_hparams hp;
  hp.head_dim = 64;
  hp.rope_theta = 500000.0f;
  hp.max_position_embeddings = 8192;
  hp.rope_scale.type = type;
  hp.rope_scale.factor = factor;
  return hp;
}

double plain(int i, double base = 500000.0) {
  return 1.0 / std::pow(base, 2.0 * i / 64);
}

TEST(rope_frequencies, plain_and_linear) {
  auto none = rope_inv_frequencies(base_hparams(rope_scaling_type::none, 1.0f));
  auto linear = rope_inv_frequencies(base_hparams(rope_scaling_type::linear, 4.0f));
  ASSERT_EQ(none.size(), 32u);
  for (int i = 0; i < 32; ++i) {
    EXPECT_FLOAT_EQ(none[i], static_cast<float>(plain(i)));
    EXPECT_FLOAT_EQ(linear[i], static_cast<float>(plain(i) / 4.0));
  }
  EXPECT_EQ(rope_attention_factor(base_hparams(rope_scaling_type::linear, 4.0f)), 1.0f);
}

TEST(rope_frequencies, llama3_keeps_high_frequencies_and_scales_low_ones) {
  auto hp = base_hparams(rope_scaling_type::llama3, 8.0f);
  hp.rope_scale.original_max_position_embeddings = 8192;
  hp.rope_scale.low_freq_factor = 1.0f;
  hp.rope_scale.high_freq_factor = 4.0f;
  auto f = rope_inv_frequencies(hp);
  int kept = 0, scaled = 0, smoothed = 0;
  for (int i = 0; i < 32; ++i) {
    const double wavelen = 2 * std::numbers::pi / plain(i);
    if (wavelen < 8192.0 / 4) {
      EXPECT_FLOAT_EQ(f[i], static_cast<float>(plain(i)));
      ++kept;
    } else if (wavelen > 8192.0) {
      EXPECT_FLOAT_EQ(f[i], static_cast<float>(plain(i) / 8));
      ++scaled;
    } else {
      const double s = (8192.0 / wavelen - 1.0) / 3.0;
      EXPECT_NEAR(f[i], (1 - s) * plain(i) / 8 + s * plain(i), 1e-6 * plain(i));
      ++smoothed;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_GT(scaled, 0);
  EXPECT_GT(smoothed, 0);
}

TEST(rope_frequencies, dynamic_uses_the_stretched_base) {
  auto f = rope_inv_frequencies(base_hparams(rope_scaling_type::dynamic, 2.0f));
  const double base = 500000.0 * std::pow(2.0 * 2.0 - 1.0, 64.0 / 62.0);
  for (int i = 0; i < 32; ++i)
    EXPECT_FLOAT_EQ(f[i], static_cast<float>(plain(i, base)));
}

TEST(rope_frequencies, yarn_interpolates_between_the_correction_dims) {
  auto hp = base_hparams(rope_scaling_type::yarn, 4.0f);
  hp.rope_theta = 10000.0f;
  hp.rope_scale.original_max_position_embeddings = 2048;
  auto f = rope_inv_frequencies(hp);
  auto dim = [](double rot) {
    return 64 * std::log(2048 / (rot * 2 * std::numbers::pi)) / (2 * std::log(10000.0));
  };
  const double lo = std::floor(dim(32)), hi = std::ceil(dim(1));
  for (int i = 0; i < 32; ++i) {
    const double r = std::clamp((i - lo) / (hi - lo), 0.0, 1.0);
    const double p = plain(i, 10000.0);
    EXPECT_NEAR(f[i], p / 4 * r + p * (1 - r), 1e-6 * p) << i;
  }
  EXPECT_FLOAT_EQ(f[0], 1.0f);                                         // extrapolated
  EXPECT_FLOAT_EQ(f[31], static_cast<float>(plain(31, 10000.0) / 4));  // interpolated
  EXPECT_FLOAT_EQ(rope_attention_factor(hp), static_cast<float>(0.1 * std::log(4.0) + 1.0));
  hp.rope_scale.attention_factor = 1.25f;
  EXPECT_EQ(rope_attention_factor(hp), 1.25f);
}

}  // namespace
}  // namespace troupe::runtime
