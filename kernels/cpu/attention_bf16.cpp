// The bf16 products of paged attention (attention.hpp, attention_products::bf16), compiled for
// AVX512-BF16 whatever the build flags; attention.cpp calls them only where
// bf16_products_supported().
//
// Scores: a block of eight keys is transposed once into kt[p] = (dword p of key 0, ..., dword p
// of key 7): dword p holds the pair (2p, 2p + 1) of a head, so one ymm VDPBF16PS adds a query
// pair's products to the eight keys' sums, one key a lane. Every row reads the same kt and no
// sum is ever reduced across lanes: a row's score for key i is lane i of its four chains (pairs
// p = m mod 4, ascending), added as ((c0 + c2) + (c1 + c3)).
// Values: two keys' values interleaved word by word are one zmm operand, a row's two weights one
// broadcast dword, so each output element is one chain over the key pairs.
// The same instructions run for every row and key whatever the batch: batch invariant.
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstring>

#include "kernels/cpu/attention_rows.hpp"
#include "kernels/cpu/cpu_features.hpp"

namespace troupe::kernels::cpu::attention_rows {

bool bf16_products_runnable() {
  return detect_cpu_features().avx512_bf16 && detect_cpu_features().avx512vl;
}

#if defined(__x86_64__)
namespace {

#define TROUPE_BF16_PRODUCTS __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

constexpr int max_pairs = 64;  // head_dim 128

// r[j] <- dword j of every r[i] (an 8 x 8 dword transpose).
TROUPE_BF16_PRODUCTS inline void transpose8(__m256i (&r)[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_epi32(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm256_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm256_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm256_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2x128_si256(u[i], u[i + 4], 0x31);
  }
}

// R rows' scores against the transposed block: out[r * 8 + i].
template <int R>
TROUPE_BF16_PRODUCTS void score_group(const uint16_t* const* qs, const __m256i* kt, int pairs,
                                      float* out) {
  __m256 acc[R][4];
  for (int r = 0; r < R; ++r)
    for (int m = 0; m < 4; ++m)
      acc[r][m] = _mm256_setzero_ps();
  for (int p = 0; p < pairs; p += 4) {
#pragma GCC unroll 4
    for (int m = 0; m < 4; ++m) {
      const auto k = (__m256bh)_mm256_load_si256(kt + p + m);
#pragma GCC unroll 6
      for (int r = 0; r < R; ++r) {
        uint32_t pair;
        std::memcpy(&pair, qs[r] + 2 * (p + m), sizeof(pair));
        acc[r][m] = _mm256_dpbf16_ps(acc[r][m], k, (__m256bh)_mm256_set1_epi32(int(pair)));
      }
    }
  }
  for (int r = 0; r < R; ++r)
    _mm256_storeu_ps(out + r * key_block, _mm256_add_ps(_mm256_add_ps(acc[r][0], acc[r][2]),
                                                        _mm256_add_ps(acc[r][1], acc[r][3])));
}

// accumulate_rows_fixed's sums for R rows of d = 32 * S elements with bf16 products: values j, j +
// 1 interleaved word by word (VPUNPCKL/HWD within 128-bit lanes) are one VDPBF16PS operand, the two
// weights rounded to bf16 one broadcast dword. Output lane 4L + i of sum 2s holds element
// 32s + 8L + i, of sum 2s + 1 element 32s + 8L + 4 + i (bf16_values_to_order puts them back).
template <int R, int S>
TROUPE_BF16_PRODUCTS void value_group(const uint16_t* const* values, const float* const* es,
                                      int count, float* const* outs, float* sums) {
  alignas(64) static const uint16_t zeros[128] = {};
  alignas(64) uint32_t weights[R][16];
  __m512 acc[R][2 * S], sum[R];
  for (int r = 0; r < R; ++r) {
    const auto lo = static_cast<__mmask16>((1u << std::min(count, 16)) - 1u);
    const auto hi = static_cast<__mmask16>((1u << std::max(count - 16, 0)) - 1u);
    const __m512bh w = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(hi, es[r] + 16),
                                           _mm512_maskz_loadu_ps(lo, es[r]));
    _mm512_store_si512(weights[r], reinterpret_cast<const __m512i&>(w));
    sum[r] = _mm512_set1_ps(sums[r]);
    for (int v = 0; v < 2 * S; ++v)
      acc[r][v] = _mm512_loadu_ps(outs[r] + 16 * v);
  }
  for (int j = 0; j < count; j += 2) {
    const uint16_t* a = values[j];
    const uint16_t* b = j + 1 < count ? values[j + 1] : zeros;
    __m512i pairs[2 * S];
    for (int s = 0; s < S; ++s) {
      const __m512i va = _mm512_loadu_si512(a + 32 * s), vb = _mm512_loadu_si512(b + 32 * s);
      pairs[2 * s] = _mm512_unpacklo_epi16(va, vb);
      pairs[2 * s + 1] = _mm512_unpackhi_epi16(va, vb);
    }
    for (int r = 0; r < R; ++r) {
      sum[r] = _mm512_add_ps(sum[r], _mm512_set1_ps(es[r][j]));
      if (j + 1 < count) sum[r] = _mm512_add_ps(sum[r], _mm512_set1_ps(es[r][j + 1]));
      const auto w = (__m512bh)_mm512_set1_epi32(static_cast<int>(weights[r][j / 2]));
      for (int v = 0; v < 2 * S; ++v)
        acc[r][v] = _mm512_dpbf16_ps(acc[r][v], (__m512bh)pairs[v], w);
    }
  }
  for (int r = 0; r < R; ++r) {
    sums[r] = _mm512_cvtss_f32(sum[r]);
    for (int v = 0; v < 2 * S; ++v)
      _mm512_storeu_ps(outs[r] + 16 * v, acc[r][v]);
  }
}

}  // namespace

TROUPE_BF16_PRODUCTS void bf16_accumulate_values(const uint16_t* const* values,
                                                 const float* const* es, int rows, int count,
                                                 int32_t d, float* const* outs, float* sums) {
  if (d == 64) {
    // 4 rows: 16 sums, 4 value pairs, 4 weight sums.
    return in_runs<4>(rows, [&](auto h, int first) {
      value_group<decltype(h)::value, 2>(values, es + first, count, outs + first, sums + first);
    });
  }
  in_runs<2>(rows, [&](auto h, int first) {
    value_group<decltype(h)::value, 4>(values, es + first, count, outs + first, sums + first);
  });
}

TROUPE_BF16_PRODUCTS void bf16_values_to_order(float* out, int32_t d) {
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second =
      _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int32_t i = 0; i < d; i += 32) {
    const __m512 lo = _mm512_loadu_ps(out + i), hi = _mm512_loadu_ps(out + i + 16);
    _mm512_storeu_ps(out + i, _mm512_permutex2var_ps(lo, first, hi));
    _mm512_storeu_ps(out + i + 16, _mm512_permutex2var_ps(lo, second, hi));
  }
}

TROUPE_BF16_PRODUCTS void round_query_bf16(const float* q, int32_t d, uint16_t* out) {
  for (int32_t i = 0; i < d; i += 16) {
    const __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(q + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), reinterpret_cast<const __m256i&>(h));
  }
}

TROUPE_BF16_PRODUCTS void bf16_score_rows(const uint16_t* const* qs, int rows,
                                          const uint16_t* const keys[key_block], int32_t d,
                                          float* out) {
  const int pairs = d / 2;
  __m256i kt[max_pairs];
  for (int p0 = 0; p0 < pairs; p0 += 8) {
    __m256i r[8];
    for (int i = 0; i < 8; ++i)
      r[i] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(keys[i] + 2 * p0));
    transpose8(r);
    for (int j = 0; j < 8; ++j)
      kt[p0 + j] = r[j];
  }
  // 6 rows: 24 sums, a key vector and a query pair in the 32 registers.
  in_runs<6>(rows, [&](auto h, int first) {
    score_group<decltype(h)::value>(qs + first, kt, pairs, out + first * key_block);
  });
}

#else

void round_query_bf16(const float*, int32_t, uint16_t*) {}
void bf16_accumulate_values(const uint16_t* const*, const float* const*, int, int, int32_t,
                            float* const*, float*) {}
void bf16_values_to_order(float*, int32_t) {}
void bf16_score_rows(const uint16_t* const*, int, const uint16_t* const[key_block], int32_t,
                     float*) {}

#endif

}  // namespace troupe::kernels::cpu::attention_rows
