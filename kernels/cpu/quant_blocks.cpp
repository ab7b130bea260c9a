// Block sizes, decoding and dequantize_row for quant_gemm's formats (contract: quant_gemm.hpp).
// The dequantizers follow ggml's reference operation by operation (same float products in the
// same order), so they are bitwise those of gguf-py and runtime::dequantize.
#include <cassert>

#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu {

int64_t block_elements(block_format f) {
  return quant::is_k_quant(f) ? quant::qk_k : quant::qk;
}

int64_t block_bytes(block_format f) {
  switch (f) {
    case block_format::q8_0:
      return 34;
    case block_format::q4_0:
      return 18;
    case block_format::q4_1:
      return 20;
    case block_format::q5_0:
      return 22;
    case block_format::q5_1:
      return 24;
    case block_format::q4_k:
      return 144;
    case block_format::q5_k:
      return 176;
    case block_format::q6_k:
      return 210;
  }
  return 0;
}

int64_t row_bytes(block_format f, int64_t cols) {
  assert(cols % block_elements(f) == 0);
  return cols / block_elements(f) * block_bytes(f);
}

namespace quant {

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (abs >= 0x477ff000u) return sign | 0x7c00u;  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {                        // subnormal result: units of 2^-24
    if (abs < 0x33000000u) return sign;
    const uint32_t significand = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126u - (abs >> 23);
    const uint32_t units = significand >> shift;
    const uint32_t rest = significand & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    const bool up = rest > halfway || (rest == halfway && (units & 1u));
    return static_cast<uint16_t>(sign | (units + up));
  }
  const uint32_t rebased = abs - ((127u - 15u) << 23);
  const uint32_t rest = rebased & 0x1fffu;
  uint32_t h = rebased >> 13;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // a carry may reach inf: correct
  return static_cast<uint16_t>(sign | h);
}

namespace {

void nibbles(const uint8_t* qs, uint8_t out[qk]) {
  for (int j = 0; j < 16; ++j) {
    out[j] = qs[j] & 0x0f;
    out[j + 16] = qs[j] >> 4;
  }
}

// Adds the fifth bit: bit j of qh for quant j.
void fifth_bits(const uint8_t* qh_bytes, uint8_t out[qk]) {
  const uint32_t qh = load_u32(qh_bytes);
  for (int j = 0; j < qk; ++j)
    out[j] |= static_cast<uint8_t>(((qh >> j) & 1u) << 4);
}

}  // namespace

void block_quants(block_format f, const uint8_t* block, uint8_t out[qk]) {
  switch (f) {
    case block_format::q8_0:
      std::memcpy(out, block + 2, qk);
      break;
    case block_format::q4_0:
      nibbles(block + 2, out);
      break;
    case block_format::q4_1:
      nibbles(block + 4, out);
      break;
    case block_format::q5_0:
      nibbles(block + 6, out);
      fifth_bits(block + 2, out);
      break;
    case block_format::q5_1:
      nibbles(block + 8, out);
      fifth_bits(block + 4, out);
      break;
    default:
      assert(false && "block_quants: 32-block formats only");
  }
}

int32_t zero_point(block_format f) {
  return f == block_format::q4_0 ? 8 : f == block_format::q5_0 ? 16 : 0;
}

void scale_min_k4(int j, const uint8_t* q, int32_t& scale, int32_t& min) {
  if (j < 4) {
    scale = q[j] & 63;
    min = q[j + 4] & 63;
  } else {
    scale = (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4);
    min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

namespace {

void dequantize_32(block_format f, const uint8_t* in, int64_t num_blocks, float* out) {
  const int64_t bytes = block_bytes(f);
  const int32_t zero = zero_point(f);
  for (int64_t b = 0; b < num_blocks; ++b, in += bytes, out += qk) {
    uint8_t q[qk];
    block_quants(f, in, q);
    const float d = load_f16(in);
    if (f == block_format::q8_0) {
      for (int i = 0; i < qk; ++i)
        out[i] = static_cast<float>(static_cast<int8_t>(q[i])) * d;
    } else if (has_min(f)) {
      const float m = load_f16(in + min_offset);
      for (int i = 0; i < qk; ++i)
        out[i] = static_cast<float>(q[i]) * d + m;
    } else {
      for (int i = 0; i < qk; ++i)
        out[i] = static_cast<float>(q[i] - zero) * d;
    }
  }
}

// q4_k / q5_k: each 64 weights take 32 bytes of qs (low nibbles: sub-block 2j, high: 2j + 1)
// and, for q5_k, bits 2j and 2j + 1 of qh[l] as the fifth bit.
void dequantize_q45_k(bool five, const uint8_t* in, int64_t num_blocks, float* out) {
  for (int64_t b = 0; b < num_blocks; ++b, in += five ? 176 : 144) {
    const float d = load_f16(in);
    const float dmin = load_f16(in + 2);
    const uint8_t* qh = in + 16;
    const uint8_t* qs = in + (five ? 48 : 16);
    for (int j = 0; j < 4; ++j, qs += 32) {
      for (int half = 0; half < 2; ++half) {
        int32_t sc, mn;
        scale_min_k4(2 * j + half, in + 4, sc, mn);
        const float d1 = d * static_cast<float>(sc), m1 = dmin * static_cast<float>(mn);
        for (int l = 0; l < 32; ++l) {
          int q = half ? qs[l] >> 4 : qs[l] & 0x0f;
          if (five && (qh[l] >> (2 * j + half) & 1)) q += 16;
          *out++ = d1 * static_cast<float>(q) - m1;
        }
      }
    }
  }
}

void dequantize_q6_k(const uint8_t* in, int64_t num_blocks, float* out) {
  for (int64_t b = 0; b < num_blocks; ++b, in += 210) {
    const float d = load_f16(in + 208);
    for (int i = 0; i < qk_k; ++i) {
      const int half = i / 128, l = i % 32, k = (i % 128) / 32;
      const uint8_t* ql = in + 64 * half;
      const uint8_t* qh = in + 128 + 32 * half;
      const auto sc = static_cast<int8_t>(in[192 + 8 * half + l / 16 + 2 * k]);
      const int low = k < 2 ? ql[l + 32 * k] & 0x0f : ql[l + 32 * (k - 2)] >> 4;
      const int q = (low | (((qh[l] >> (2 * k)) & 3) << 4)) - 32;
      out[i] = d * static_cast<float>(sc) * static_cast<float>(q);
    }
    out += qk_k;
  }
}

}  // namespace
}  // namespace quant

void dequantize_row(block_format f, const uint8_t* row, int64_t cols, float* out) {
  assert(cols % block_elements(f) == 0);
  const int64_t num_blocks = cols / block_elements(f);
  switch (f) {
    case block_format::q4_k:
    case block_format::q5_k:
      quant::dequantize_q45_k(f == block_format::q5_k, row, num_blocks, out);
      break;
    case block_format::q6_k:
      quant::dequantize_q6_k(row, num_blocks, out);
      break;
    default:
      quant::dequantize_32(f, row, num_blocks, out);
  }
}

}  // namespace troupe::kernels::cpu
