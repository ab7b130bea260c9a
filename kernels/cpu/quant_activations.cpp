// Activation quantization to q8_0 / q8_1 / q8_K (formulas: quant_gemm.hpp). Scalar on every code
// path: it is O(M * K) against the product's O(M * N * K), and one implementation keeps the
// quantized activations, and so every path's results, identical.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu::quant {
namespace {

// q8_0 / q8_1 for one 32-value block; returns the sum of the quants.
int32_t quantize_block_32(const float* x, int8_t* q, float& d_out, float& s_out, bool with_s) {
  float amax = 0.0f;
  for (int i = 0; i < qk; ++i)
    amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  int32_t sum = 0;
  for (int i = 0; i < qk; ++i) {
    q[i] = static_cast<int8_t>(std::roundf(x[i] * id));
    sum += q[i];
  }
  d_out = f16_to_f32(f32_to_f16(d));
  s_out = with_s ? f16_to_f32(f32_to_f16(static_cast<float>(sum) * d)) : 0.0f;
  return sum;
}

// q8_K for one 256-value block; writes the 16 sums of 16 quants.
void quantize_block_k(const float* x, int8_t* q, float& d_out, int32_t* sums) {
  float amax = 0.0f, max = 0.0f;
  for (int i = 0; i < qk_k; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax == 0.0f) {
    std::fill(q, q + qk_k, int8_t{0});
    std::fill(sums, sums + qk_k / 16, 0);
    d_out = 0.0f;
    return;
  }
  const float iscale = -127.0f / max;
  for (int i = 0; i < qk_k; ++i) {
    // Round half to even (ggml's nearest_int), in the default rounding mode.
    const int v = static_cast<int>(std::nearbyint(iscale * x[i]));
    q[i] = static_cast<int8_t>(std::min(127, v));
  }
  for (int j = 0; j < qk_k / 16; ++j) {
    int32_t sum = 0;
    for (int i = 0; i < 16; ++i)
      sum += q[16 * j + i];
    sums[j] = sum;
  }
  d_out = 1.0f / iscale;
}

}  // namespace

void resize(quantized_rows& out, block_format f, int64_t M, int64_t K) {
  out.K = K;
  out.num_blocks = K / block_elements(f);
  out.num_sums = is_k_quant(f) ? K / 16 : out.num_blocks;
  out.q.resize(M * K);
  out.d.resize(M * out.num_blocks);
  out.s.resize(M * out.num_blocks);
  out.sums.resize(M * out.num_sums);
}

void quantize_rows(block_format f, const float* x, int64_t m_begin, int64_t m_end,
                   quantized_rows& out) {
  const int64_t K = out.K, nb = out.num_blocks;
  for (int64_t m = m_begin; m < m_end; ++m) {
    const float* xr = x + m * K;
    int8_t* q = out.q.data() + m * K;
    float* d = out.d.data() + m * nb;
    float* s = out.s.data() + m * nb;
    int32_t* sums = out.sums.data() + m * out.num_sums;
    for (int64_t b = 0; b < nb; ++b) {
      if (is_k_quant(f)) {
        s[b] = 0.0f;
        quantize_block_k(xr + b * qk_k, q + b * qk_k, d[b], sums + b * (qk_k / 16));
      } else {
        sums[b] = quantize_block_32(xr + b * qk, q + b * qk, d[b], s[b], has_min(f));
      }
    }
  }
}

}  // namespace troupe::kernels::cpu::quant
