#include "runtime/formats/dequant_kquants.hpp"

#include <cstring>

#include "runtime/formats/half.hpp"

// The arithmetic follows ggml's reference dequantizers operation by operation (float products in
// the same order), so the results are bitwise those of llama.cpp and gguf-py.
namespace troupe::runtime::detail {
namespace {

constexpr size_t qk = 32;

float load_f16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return f16_to_f32(v);
}

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// The 5th bits of weight j (from bit j of qh) and weight j + 16 (from bit j + 16).
void q5_values(const uint8_t* qh_bytes, const uint8_t* qs, int (&q)[qk]) {
  const uint32_t qh = load_u32(qh_bytes);
  for (size_t j = 0; j < qk / 2; ++j) {
    q[j] = static_cast<int>((qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10));
    q[j + qk / 2] = static_cast<int>((qs[j] >> 4) | ((qh >> (j + 12)) & 0x10));
  }
}

// Scale and min of sub-block j (0..7) from the 12 packed bytes: sub-blocks 0..3 keep their 6 bits
// in bytes 0..7; 4..7 keep 4 low bits in bytes 8..11 and 2 high bits on top of bytes 0..7.
void scale_min_k4(size_t j, const uint8_t* q, float& scale, float& min) {
  if (j < 4) {
    scale = static_cast<float>(q[j] & 63);
    min = static_cast<float>(q[j + 4] & 63);
  } else {
    scale = static_cast<float>((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    min = static_cast<float>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

}  // namespace

void dequant_q5_0(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 22, out += qk) {
    const float d = load_f16(in);
    int q[qk];
    q5_values(in + 2, in + 6, q);
    for (size_t i = 0; i < qk; ++i)
      out[i] = static_cast<float>(q[i] - 16) * d;
  }
}

void dequant_q5_1(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 24, out += qk) {
    const float d = load_f16(in);
    const float m = load_f16(in + 2);
    int q[qk];
    q5_values(in + 4, in + 8, q);
    for (size_t i = 0; i < qk; ++i)
      out[i] = static_cast<float>(q[i]) * d + m;
  }
}

// Each 64 weights: 32 bytes of qs, low nibbles for sub-block 2k, high nibbles for 2k + 1.
void dequant_q4_k(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 144) {
    const float d = load_f16(in);
    const float dmin = load_f16(in + 2);
    const uint8_t* scales = in + 4;
    const uint8_t* qs = in + 16;
    for (size_t j = 0; j < qk_k / 64; ++j, qs += 32) {
      float sc1, m1, sc2, m2;
      scale_min_k4(2 * j, scales, sc1, m1);
      scale_min_k4(2 * j + 1, scales, sc2, m2);
      const float d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2;
      for (size_t l = 0; l < 32; ++l)
        *out++ = d1 * static_cast<float>(qs[l] & 0x0f) - min1;
      for (size_t l = 0; l < 32; ++l)
        *out++ = d2 * static_cast<float>(qs[l] >> 4) - min2;
    }
  }
}

// As Q4_K, plus a fifth bit per weight: bit 2k (low nibbles) and 2k + 1 (high) of qh[l].
void dequant_q5_k(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 176) {
    const float d = load_f16(in);
    const float dmin = load_f16(in + 2);
    const uint8_t* scales = in + 4;
    const uint8_t* qh = in + 16;
    const uint8_t* ql = in + 48;
    for (size_t j = 0; j < qk_k / 64; ++j, ql += 32) {
      float sc1, m1, sc2, m2;
      scale_min_k4(2 * j, scales, sc1, m1);
      scale_min_k4(2 * j + 1, scales, sc2, m2);
      const float d1 = d * sc1, min1 = dmin * m1, d2 = d * sc2, min2 = dmin * m2;
      const uint8_t u1 = static_cast<uint8_t>(1u << (2 * j));
      const uint8_t u2 = static_cast<uint8_t>(2u << (2 * j));
      for (size_t l = 0; l < 32; ++l)
        *out++ = d1 * static_cast<float>((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - min1;
      for (size_t l = 0; l < 32; ++l)
        *out++ = d2 * static_cast<float>((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - min2;
    }
  }
}

// Each half (128 weights) uses 64 bytes of ql, 32 of qh and 8 scales; weight l + 32 * k takes
// nibble (k / 2) of ql[l + 32 * (k % 2)] and bits 2k..2k+1 of qh[l].
void dequant_q6_k(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 210) {
    const uint8_t* ql = in;
    const uint8_t* qh = in + 128;
    const auto* sc = reinterpret_cast<const int8_t*>(in + 192);
    const float d = load_f16(in + 208);
    for (size_t half = 0; half < 2; ++half, ql += 64, qh += 32, sc += 8, out += 128) {
      for (size_t l = 0; l < 32; ++l) {
        const size_t is = l / 16;
        const int q1 = ((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = d * static_cast<float>(sc[is]) * static_cast<float>(q1);
        out[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        out[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        out[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
    }
  }
}

}  // namespace troupe::runtime::detail
