// The scalar reference of quant_gemm: every output element on its own, in the accumulation order
// quant_gemm.hpp fixes. The SIMD paths are tested bitwise against it.
#include <cmath>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu::quant {
namespace {

// The quants of a 32-block with their zero point removed (q8_0's bytes are signed already).
void signed_quants(block_format f, const uint8_t* block, int32_t zero, int32_t out[qk]) {
  uint8_t q[qk];
  block_quants(f, block, q);
  if (f == block_format::q8_0) {
    for (int i = 0; i < qk; ++i)
      out[i] = static_cast<int8_t>(q[i]);
  } else {
    for (int i = 0; i < qk; ++i)
      out[i] = q[i] - zero;
  }
}

// One output of a 32-block format.
float dot_32(block_format f, const uint8_t* w, const quantized_rows& xq, int64_t m) {
  const int64_t bytes = block_bytes(f);
  const int32_t zero = zero_point(f);
  const int8_t* xq_row = xq.row_q(m);
  const float* dx = xq.row_d(m);
  const float* sx = xq.row_s(m);
  float sum = 0.0f;
  for (int64_t b = 0; b < xq.num_blocks; ++b, w += bytes) {
    int32_t qw[qk];
    signed_quants(f, w, zero, qw);
    const int8_t* xb = xq_row + b * qk;
    int32_t isum = 0;
    for (int i = 0; i < qk; ++i)
      isum += qw[i] * xb[i];
    sum = std::fma(load_f16(w) * dx[b], static_cast<float>(isum), sum);
    if (has_min(f)) sum = std::fma(load_f16(w + min_offset), sx[b], sum);
  }
  return sum;
}

// Quant i (0..255) of a q4_k / q5_k super-block, 0..31.
int32_t quant_q45_k(bool five, const uint8_t* block, int i) {
  const int j = i / 32, l = i % 32, pair = j / 2;
  const uint8_t byte = block[(five ? 48 : 16) + 32 * pair + l];
  int32_t q = j % 2 ? byte >> 4 : byte & 0x0f;
  if (five && (block[16 + l] >> j & 1)) q += 16;
  return q;
}

// Quant i (0..255) of a q6_k super-block, -32..31; its scale is scales[i / 16].
int32_t quant_q6_k(const uint8_t* block, int i) {
  const int half = i / 128, k = (i % 128) / 32, l = i % 32;
  const uint8_t* ql = block + 64 * half;
  const uint8_t* qh = block + 128 + 32 * half;
  const int32_t low = k < 2 ? ql[l + 32 * k] & 0x0f : ql[l + 32 * (k - 2)] >> 4;
  return (low | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
}

float dot_q45_k(bool five, const uint8_t* w, const quantized_rows& xq, int64_t m) {
  const int8_t* xq_row = xq.row_q(m);
  const float* dx = xq.row_d(m);
  const int32_t* bsums = xq.row_sums(m);
  float sum = 0.0f;
  for (int64_t b = 0; b < xq.num_blocks; ++b, w += five ? 176 : 144) {
    const int8_t* xb = xq_row + b * qk_k;
    int32_t isum = 0, msum = 0;
    for (int j = 0; j < 8; ++j) {
      int32_t sc, mn, sub = 0;
      scale_min_k4(j, w + 4, sc, mn);
      for (int l = 0; l < 32; ++l)
        sub += quant_q45_k(five, w, 32 * j + l) * xb[32 * j + l];
      isum += sc * sub;
      msum += mn * (bsums[b * 16 + 2 * j] + bsums[b * 16 + 2 * j + 1]);
    }
    const float t = (load_f16(w) * dx[b]) * static_cast<float>(isum) -
                    (load_f16(w + 2) * dx[b]) * static_cast<float>(msum);
    sum = sum + t;
  }
  return sum;
}

float dot_q6_k(const uint8_t* w, const quantized_rows& xq, int64_t m) {
  const int8_t* xq_row = xq.row_q(m);
  const float* dx = xq.row_d(m);
  float sum = 0.0f;
  for (int64_t b = 0; b < xq.num_blocks; ++b, w += 210) {
    const int8_t* xb = xq_row + b * qk_k;
    int32_t isum = 0;
    for (int s = 0; s < 16; ++s) {
      int32_t sub = 0;
      for (int l = 0; l < 16; ++l)
        sub += quant_q6_k(w, 16 * s + l) * xb[16 * s + l];
      isum += static_cast<int8_t>(w[192 + s]) * sub;
    }
    sum = sum + (load_f16(w + 208) * dx[b]) * static_cast<float>(isum);
  }
  return sum;
}

float dot(block_format f, const uint8_t* w, const quantized_rows& xq, int64_t m) {
  switch (f) {
    case block_format::q4_k:
    case block_format::q5_k:
      return dot_q45_k(f == block_format::q5_k, w, xq, m);
    case block_format::q6_k:
      return dot_q6_k(w, xq, m);
    default:
      return dot_32(f, w, xq, m);
  }
}

}  // namespace

void scalar_columns(block_format f, const quantized_rows& xq, int64_t M, const uint8_t* w,
                    int64_t N, int64_t n_begin, int64_t n_end, float* y) {
  const int64_t stride = row_bytes(f, xq.K);
  for (int64_t n = n_begin; n < n_end; ++n)
    for (int64_t m = 0; m < M; ++m)
      y[m * N + n] = dot(f, w + n * stride, xq, m);
}

}  // namespace troupe::kernels::cpu::quant
