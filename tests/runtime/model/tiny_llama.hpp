#pragma once
// Test helpers for the model tests: a tiny random Llama, a naive reference forward (contiguous
// KV, plain loops, double accumulation) and step-batch builders.
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "runtime/model/llama_weights.hpp"
#include "runtime/model_runner.hpp"

namespace troupe::testing {

inline runtime::llama_hparams tiny_hparams() {
  runtime::llama_hparams hp;
  hp.num_layers = 2;
  hp.hidden_size = 64;
  hp.intermediate_size = 128;
  hp.num_heads = 4;
  hp.num_kv_heads = 2;
  hp.head_dim = 16;
  hp.vocab_size = 97;
  hp.max_position_embeddings = 128;
  hp.rope_theta = 10000.0f;
  hp.rms_norm_eps = 1e-5f;
  return hp;
}

inline runtime::llama_weights tiny_llama(const runtime::llama_hparams& hp, uint32_t seed) {
  std::mt19937 rng(seed);
  auto random = [&](int64_t n, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v)
      x = dist(rng);
    return v;
  };
  const int64_t h = hp.hidden_size, f = hp.intermediate_size;
  const int64_t q = int64_t{hp.num_heads} * hp.head_dim,
                kv = int64_t{hp.num_kv_heads} * hp.head_dim;
  runtime::llama_weights w;
  w.hparams = hp;
  w.token_embedding = random(hp.vocab_size * h, -1.0f, 1.0f);
  for (int32_t l = 0; l < hp.num_layers; ++l) {
    runtime::llama_layer_weights lw;
    lw.attn_norm = random(h, 0.8f, 1.2f);
    lw.wq = random(q * h, -0.25f, 0.25f);
    lw.wk = random(kv * h, -0.25f, 0.25f);
    lw.wv = random(kv * h, -0.25f, 0.25f);
    lw.wo = random(h * q, -0.2f, 0.2f);
    lw.ffn_norm = random(h, 0.8f, 1.2f);
    lw.w_gate = random(f * h, -0.2f, 0.2f);
    lw.w_up = random(f * h, -0.2f, 0.2f);
    lw.w_down = random(h * f, -0.15f, 0.15f);
    w.layers.push_back(std::move(lw));
  }
  w.output_norm = random(h, 0.8f, 1.2f);
  if (!hp.tie_word_embeddings) w.output = random(hp.vocab_size * h, -0.3f, 0.3f);
  return w;
}

// y[r] = dot(W[r], x) in double.
inline std::vector<double> naive_matvec(const std::vector<float>& w, const std::vector<double>& x,
                                        int64_t rows) {
  const int64_t cols = static_cast<int64_t>(x.size());
  std::vector<double> y(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      y[r] += w[r * cols + c] * x[c];
  return y;
}

inline std::vector<double> naive_rmsnorm(const std::vector<double>& x, const std::vector<float>& w,
                                         double eps) {
  double ss = 0;
  for (double v : x)
    ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(x.size()) + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i)
    y[i] = x[i] * inv * w[i];
  return y;
}

inline void naive_rope(std::vector<double>& x, int32_t heads, int32_t d, int32_t pos, double theta,
                       runtime::rope_style style) {
  for (int32_t h = 0; h < heads; ++h) {
    for (int32_t i = 0; i < d / 2; ++i) {
      const double angle = pos * std::pow(theta, -2.0 * i / d);
      const bool neox = style == runtime::rope_style::neox;
      double& a = x[h * d + (neox ? i : 2 * i)];
      double& b = x[h * d + (neox ? i + d / 2 : 2 * i + 1)];
      const double x0 = a, x1 = b;
      a = x0 * std::cos(angle) - x1 * std::sin(angle);
      b = x0 * std::sin(angle) + x1 * std::cos(angle);
    }
  }
}

// Logits after every token of `tokens`, processed from position 0: [T][vocab].
inline std::vector<std::vector<double>> naive_forward(const runtime::llama_weights& w,
                                                      const std::vector<int32_t>& tokens) {
  const auto& hp = w.hparams;
  const int32_t H = hp.num_heads, KVH = hp.num_kv_heads, D = hp.head_dim, hidden = hp.hidden_size;
  std::vector<std::vector<std::vector<double>>> keys(hp.num_layers), values(hp.num_layers);
  std::vector<std::vector<double>> logits;
  for (int32_t pos = 0; pos < static_cast<int32_t>(tokens.size()); ++pos) {
    std::vector<double> x(w.token_embedding.values.begin() + int64_t{tokens[pos]} * hidden,
                          w.token_embedding.values.begin() + int64_t{tokens[pos] + 1} * hidden);
    for (int32_t l = 0; l < hp.num_layers; ++l) {
      const auto& lw = w.layers[l];
      auto h = naive_rmsnorm(x, lw.attn_norm, hp.rms_norm_eps);
      auto q = naive_matvec(lw.wq.values, h, H * D);
      auto k = naive_matvec(lw.wk.values, h, KVH * D);
      naive_rope(q, H, D, pos, hp.rope_theta, hp.rope);
      naive_rope(k, KVH, D, pos, hp.rope_theta, hp.rope);
      keys[l].push_back(k);
      values[l].push_back(naive_matvec(lw.wv.values, h, KVH * D));
      std::vector<double> attn(H * D, 0.0);
      for (int32_t head = 0; head < H; ++head) {
        const int32_t g = head / (H / KVH);
        std::vector<double> s(pos + 1);
        double mx = -1e300, sum = 0;
        for (int32_t j = 0; j <= pos; ++j) {
          double dot = 0;
          for (int32_t i = 0; i < D; ++i)
            dot += q[head * D + i] * keys[l][j][g * D + i];
          s[j] = dot / std::sqrt(double(D));
          mx = std::max(mx, s[j]);
        }
        for (auto& v : s)
          sum += (v = std::exp(v - mx));
        for (int32_t j = 0; j <= pos; ++j)
          for (int32_t i = 0; i < D; ++i)
            attn[head * D + i] += s[j] / sum * values[l][j][g * D + i];
      }
      auto o = naive_matvec(lw.wo.values, attn, hidden);
      for (int32_t i = 0; i < hidden; ++i)
        x[i] += o[i];
      h = naive_rmsnorm(x, lw.ffn_norm, hp.rms_norm_eps);
      auto gate = naive_matvec(lw.w_gate.values, h, hp.intermediate_size);
      auto up = naive_matvec(lw.w_up.values, h, hp.intermediate_size);
      for (size_t i = 0; i < gate.size(); ++i)
        gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      auto down = naive_matvec(lw.w_down.values, gate, hidden);
      for (int32_t i = 0; i < hidden; ++i)
        x[i] += down[i];
    }
    auto h = naive_rmsnorm(x, w.output_norm, hp.rms_norm_eps);
    logits.push_back(naive_matvec((hp.tie_word_embeddings ? w.token_embedding : w.output).values, h,
                                  hp.vocab_size));
  }
  return logits;
}

// A step entry for `num_tokens` tokens from `start_pos`, sampling the last one.
inline runtime::seq_step seq_entry(uint64_t id, int32_t start_pos, int32_t num_tokens,
                                   std::vector<int32_t> blocks, bool sample = true) {
  runtime::seq_step s;
  s.seq_id = id;
  s.start_pos = start_pos;
  s.num_tokens = num_tokens;
  s.block_table = std::move(blocks);
  s.sample = sample;
  s.sampling.temperature = 0.0f;
  return s;
}

inline std::vector<int32_t> random_tokens(int32_t n, int32_t vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t)
    x = dist(rng);
  return t;
}

}  // namespace troupe::testing
