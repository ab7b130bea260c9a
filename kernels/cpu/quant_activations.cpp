// Activation quantization to q8_0 / q8_1 / q8_K (formulas: quant_gemm.hpp). The same on every
// code path of the product, so every path's results stay identical: the scalar reference, and
// for the 32-blocks AVX-512 and AVX2 twins that give the same bits (max and division are exact,
// x * id is the same product, and round-half-away is trunc plus a step where |fraction| >= 0.5,
// exact because the fraction of a float below 2^23 is). It matters: at M = 512 the scalar one (a
// libm roundf per value) took longer than the packed product itself, and at M = 1 (decoding) it
// was a third of a small projection's time.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/quant_blocks.hpp"

// GCC 12's AVX-512 intrinsics pass an undefined vector as their (unused) merge source, which
// -Wuninitialized reports inside target("avx512f") functions.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

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

#if defined(__x86_64__)
#define TROUPE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,f16c")))

// f16_to_f32(f32_to_f16(v)) by F16C: the same rounding (to nearest even) for every non-NaN value;
// a NaN takes the portable pair, whose NaN bits F16C does not promise.
TROUPE_AVX512 inline float round_to_f16(float v) {
  if (v != v) return f16_to_f32(f32_to_f16(v));
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtps_ph(_mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT)));
}

TROUPE_AVX512 inline __m512i round_half_away(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512i sign = _mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(INT32_MIN));
  const __m512 step = _mm512_castsi512_ps(  // +-1 with v's sign
      _mm512_or_si512(_mm512_castps_si512(_mm512_set1_ps(1.0f)), sign));
  return _mm512_cvtps_epi32(_mm512_mask_add_ps(t, up, t, step));
}

// quantize_block_32 over a row's nb blocks, bit for bit (std::max skips NaN like VMAXPS with the
// running max second), sixteen blocks at a time: the per-block maxima, the two divisions and the
// f16 roundings run once per sixteen blocks in vector lanes (the same operations on the same
// values), and the blocks' independent chains overlap instead of waiting on each other's
// divisions.
TROUPE_AVX512 void quantize_row_32_avx512(const float* x, int64_t nb, int8_t* q, float* d_out,
                                          float* s_out, int32_t* sums, bool with_s) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += 16) {
    const int n = static_cast<int>(std::min<int64_t>(16, nb - b0));
    const __mmask16 lanes = static_cast<__mmask16>((1u << n) - 1u);
    alignas(64) float amax[16] = {};
    for (int i = 0; i < n; ++i) {
      const float* xb = x + (b0 + i) * qk;
      const __m512 a = _mm512_loadu_ps(xb), b = _mm512_loadu_ps(xb + 16);
      amax[i] = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(_mm512_abs_ps(a), zero),
                                                   _mm512_max_ps(_mm512_abs_ps(b), zero)));
    }
    const __m512 d = _mm512_div_ps(_mm512_load_ps(amax), _mm512_set1_ps(127.0f));
    const __mmask16 nonzero = _mm512_cmp_ps_mask(d, zero, _CMP_NEQ_UQ);
    alignas(64) float id[16];
    _mm512_store_ps(id, _mm512_maskz_div_ps(nonzero, _mm512_set1_ps(1.0f), d));
    alignas(64) int32_t sum[16] = {};
    for (int i = 0; i < n; ++i) {
      const float* xb = x + (b0 + i) * qk;
      int8_t* qb = q + (b0 + i) * qk;
      const __m512 vid = _mm512_set1_ps(id[i]);
      const __m512i qa = round_half_away(_mm512_mul_ps(_mm512_loadu_ps(xb), vid));
      const __m512i qc = round_half_away(_mm512_mul_ps(_mm512_loadu_ps(xb + 16), vid));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb), _mm512_cvtepi32_epi8(qa));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(qb + 16), _mm512_cvtepi32_epi8(qc));
      sum[i] = _mm512_reduce_add_epi32(_mm512_add_epi32(qa, qc));
    }
    const __m512i vsum = _mm512_load_si512(sum);
    _mm512_mask_storeu_epi32(sums + b0, lanes, vsum);
    alignas(64) float rd[16], rs[16];
    _mm512_store_ps(rd, _mm512_cvtph_ps(_mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT)));
    const __m512 sd = _mm512_mul_ps(_mm512_cvtepi32_ps(vsum), d);
    _mm512_store_ps(rs, _mm512_cvtph_ps(_mm512_cvtps_ph(sd, _MM_FROUND_TO_NEAREST_INT)));
    alignas(64) float dv[16], sv[16];
    _mm512_store_ps(dv, d);
    _mm512_store_ps(sv, sd);
    for (int i = 0; i < n; ++i) {
      // A NaN takes round_to_f16's portable path (F16C does not promise its bits).
      d_out[b0 + i] = dv[i] != dv[i] ? round_to_f16(dv[i]) : rd[i];
      s_out[b0 + i] = !with_s ? 0.0f : sv[i] != sv[i] ? round_to_f16(sv[i]) : rs[i];
    }
  }
}

#define TROUPE_AVX2 __attribute__((target("avx2,fma,f16c")))

TROUPE_AVX2 inline __m256i round_half_away(__m256 v) {
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX));
  const __m256 frac = _mm256_and_ps(_mm256_sub_ps(v, t), abs_mask);
  const __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step =  // +-1 with v's sign
      _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(abs_mask, v));
  return _mm256_cvtps_epi32(_mm256_add_ps(t, _mm256_and_ps(up, step)));
}

// quantize_block_32 over a row's nb blocks, bit for bit, a block at a time in 8 lanes: the
// maximum as the AVX-512 twin takes it, the division and the f16 roundings as the scalar one.
TROUPE_AVX2 void quantize_row_32_avx2(const float* x, int64_t nb, int8_t* q, float* d_out,
                                      float* s_out, int32_t* sums, bool with_s) {
  const __m256 zero = _mm256_setzero_ps();
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MAX));
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t b = 0; b < nb; ++b) {
    const float* xb = x + b * qk;
    __m256 v[4], m = zero;
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(xb + 8 * j);
      m = _mm256_max_ps(m, _mm256_max_ps(_mm256_and_ps(v[j], abs_mask), zero));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    float amax = 0.0f;
    for (float l : lanes)
      amax = std::max(amax, l);
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i r[4];
    for (int j = 0; j < 4; ++j)
      r[j] = round_half_away(_mm256_mul_ps(v[j], vid));
    // |quant| <= 127: the saturating packs are exact; the permutation undoes their lane order.
    const __m256i bytes = _mm256_permutevar8x32_epi32(
        _mm256_packs_epi16(_mm256_packs_epi32(r[0], r[1]), _mm256_packs_epi32(r[2], r[3])), order);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + b * qk), bytes);
    const __m256i total =
        _mm256_add_epi32(_mm256_add_epi32(r[0], r[1]), _mm256_add_epi32(r[2], r[3]));
    alignas(32) int32_t part[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(part), total);
    int32_t sum = 0;
    for (int32_t p : part)
      sum += p;
    sums[b] = sum;
    d_out[b] = f16_to_f32(f32_to_f16(d));
    s_out[b] = with_s ? f16_to_f32(f32_to_f16(static_cast<float>(sum) * d)) : 0.0f;
  }
}
#endif

}  // namespace

quantizer best_quantizer() {
#if defined(__x86_64__)
  static const quantizer best = [] {
    const cpu_features& c = detect_cpu_features();
    if (c.avx512f && c.avx512bw && c.avx512vl) return quantizer::avx512;
    if (c.avx2 && c.f16c) return quantizer::avx2;
    return quantizer::scalar;
  }();
  return best;
#else
  return quantizer::scalar;
#endif
}

namespace {

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
  quantize_rows_on(best_quantizer(), f, x, m_begin, m_end, out);
}

void quantize_rows_on(quantizer version, block_format f, const float* x, int64_t m_begin,
                      int64_t m_end, quantized_rows& out) {
  const int64_t K = out.K, nb = out.num_blocks;
  for (int64_t m = m_begin; m < m_end; ++m) {
    const float* xr = x + m * K;
    int8_t* q = out.q.data() + m * K;
    float* d = out.d.data() + m * nb;
    float* s = out.s.data() + m * nb;
    int32_t* sums = out.sums.data() + m * out.num_sums;
#if defined(__x86_64__)
    if (version == quantizer::avx512 && !is_k_quant(f)) {
      quantize_row_32_avx512(xr, nb, q, d, s, sums, has_min(f));
      continue;
    }
    if (version == quantizer::avx2 && !is_k_quant(f)) {
      quantize_row_32_avx2(xr, nb, q, d, s, sums, has_min(f));
      continue;
    }
#endif
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
