// RoPE frequency scaling (formulas and sources: rope_frequencies.hpp).
#include "runtime/model/rope_frequencies.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace troupe::runtime {
namespace {

std::vector<double> plain(int32_t d, double base) {
  std::vector<double> f(d / 2);
  for (int32_t i = 0; i < d / 2; ++i)
    f[i] = 1.0 / std::pow(base, 2.0 * i / d);
  return f;
}

double original_context(const llama_hparams& hp) {
  const int32_t orig = hp.rope_scale.original_max_position_embeddings;
  return orig > 0 ? orig : hp.max_position_embeddings;
}

void llama3(const llama_hparams& hp, std::vector<double>& f) {
  const auto& s = hp.rope_scale;
  const double orig = original_context(hp);
  const double low_wavelen = orig / s.low_freq_factor, high_wavelen = orig / s.high_freq_factor;
  for (double& x : f) {
    const double wavelen = 2.0 * std::numbers::pi / x;
    if (wavelen > low_wavelen) {
      x /= s.factor;
    } else if (!(wavelen < high_wavelen)) {
      const double smooth =
          (orig / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
      x = (1.0 - smooth) * x / s.factor + smooth * x;
    }
  }
}

// The dimension at which a frequency completes `rotations` turns over `positions` positions.
double correction_dim(double rotations, int32_t d, double base, double positions) {
  return d * std::log(positions / (rotations * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
}

void yarn(const llama_hparams& hp, std::vector<double>& f) {
  const auto& s = hp.rope_scale;
  const int32_t d = hp.head_dim;
  const double orig = original_context(hp);
  double lo = std::floor(correction_dim(s.beta_fast, d, hp.rope_theta, orig));
  double hi = std::ceil(correction_dim(s.beta_slow, d, hp.rope_theta, orig));
  lo = std::max(lo, 0.0);
  hi = std::min(hi, d - 1.0);
  if (lo == hi) hi += 0.001;  // no division by zero
  for (size_t i = 0; i < f.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - lo) / (hi - lo), 0.0, 1.0);
    const double extrapolation = 1.0 - ramp;
    f[i] = f[i] / s.factor * (1.0 - extrapolation) + f[i] * extrapolation;
  }
}

double yarn_mscale(double scale, double mscale) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

std::vector<float> rope_inv_frequencies(const llama_hparams& hp) {
  const auto& s = hp.rope_scale;
  const int32_t d = hp.head_dim;
  double base = hp.rope_theta;
  if (s.type == rope_scaling_type::dynamic) {
    base *= std::pow(double{s.factor} * s.factor - (s.factor - 1.0), d / (d - 2.0));
  }
  std::vector<double> f = plain(d, base);
  if (s.type == rope_scaling_type::linear) {
    for (double& x : f)
      x /= s.factor;
  } else if (s.type == rope_scaling_type::llama3) {
    llama3(hp, f);
  } else if (s.type == rope_scaling_type::yarn) {
    yarn(hp, f);
  }
  return {f.begin(), f.end()};
}

float rope_attention_factor(const llama_hparams& hp) {
  const auto& s = hp.rope_scale;
  if (s.type != rope_scaling_type::yarn) return 1.0f;
  if (s.attention_factor > 0.0f) return s.attention_factor;
  if (s.mscale > 0.0f && s.mscale_all_dim > 0.0f) {
    return static_cast<float>(yarn_mscale(s.factor, s.mscale) /
                              yarn_mscale(s.factor, s.mscale_all_dim));
  }
  return static_cast<float>(yarn_mscale(s.factor, 1.0));
}

}  // namespace troupe::runtime
