#pragma once
// The vector kernels of kernels/cpu/attention.cpp, internal to it: a tile's query rows against
// eight keys (scores) or a block of values (weighted sums), over an f32 cache or a 16-bit one read
// in place. Each keeps attention.hpp's contract: dot()'s lanes and reduction for a score, one FMA
// chain per output over ascending keys for the values, whichever rows share a call.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <type_traits>
#include <utility>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "kernels/cpu/dot.hpp"

// GCC 12's AVX-512 intrinsics (shuffles, unpacks, permutes, broadcasts) pass an undefined vector
// as their unused merge source, which -W(maybe-)uninitialized reports.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace troupe::kernels::cpu::attention_rows {

// Keys scored per call (dot8's eight).
constexpr int key_block = 8;

// For rows r in [0, H): outs[r][i] = fma(es[r][j], values[j][i], outs[r][i]) for j in [0, count)
// in ascending order, i in [0, d): one FMA chain per output, whatever the code path. The H rows
// share each value read; up to 64 (AVX-512) or 32 (AVX2) outputs of each stay in registers across
// the keys. And sums[r] = sums[r] + es[r][j] in ascending j (the softmax's denominator, in the
// first pass: its adds overlap the FMAs instead of waiting on each other in a loop of their own).
template <int H>
void accumulate_rows(const float* const* values, const float* const* es, int count, int32_t d,
                     float* const* outs, float* sums) {
#if defined(__AVX512F__)
  constexpr int lanes = 16;
  auto mask = [](int32_t w) { return static_cast<__mmask16>((1u << w) - 1u); };
  auto load = [](__mmask16 m, const float* p) { return _mm512_maskz_loadu_ps(m, p); };
  auto store = [](__mmask16 m, float* p, __m512 v) { _mm512_mask_storeu_ps(p, m, v); };
  auto fma = [](__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); };
  auto broadcast = [](float v) { return _mm512_set1_ps(v); };
  auto loadu = [](const float* p) { return _mm512_loadu_ps(p); };
  auto storeu = [](float* p, __m512 v) { _mm512_storeu_ps(p, v); };
  using vec = __m512;
  using vmask = __mmask16;
#elif defined(TROUPE_KERNELS_AVX2)
  constexpr int lanes = 8;
  auto mask = [](int32_t w) { return detail::tail_mask(w); };
  auto load = [](__m256i m, const float* p) { return _mm256_maskload_ps(p, m); };
  auto store = [](__m256i m, float* p, __m256 v) { _mm256_maskstore_ps(p, m, v); };
  auto fma = [](__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); };
  auto broadcast = [](float v) { return _mm256_set1_ps(v); };
  auto loadu = [](const float* p) { return _mm256_loadu_ps(p); };
  auto storeu = [](float* p, __m256 v) { _mm256_storeu_ps(p, v); };
  using vec = __m256;
  using vmask = __m256i;
#endif
#if defined(__AVX512F__) || defined(TROUPE_KERNELS_AVX2)
  constexpr int per_pass = 4;  // vectors of each row kept in registers
  // A pass of per_pass whole vectors loads and stores them plainly (AVX2's masked moves are
  // slow on AMD's cores, its masked stores microcoded); a narrower last pass takes the masks.
  // The same FMAs either way.
  auto pass = [&](int32_t i0, int nv, const vmask* masks, auto full) {
    auto ld = [&](int r, const float* p) {
      if constexpr (decltype(full)::value) return loadu(p);
      return load(masks[r], p);
    };
    vec acc[H][per_pass];
    for (int h = 0; h < H; ++h)
      for (int r = 0; r < nv; ++r)
        acc[h][r] = ld(r, outs[h] + i0 + r * lanes);
    float sum[H];
    for (int h = 0; h < H; ++h)
      sum[h] = sums[h];
    for (int j = 0; j < count; ++j) {
      vec v[per_pass];
      for (int r = 0; r < nv; ++r)
        v[r] = ld(r, values[j] + i0 + r * lanes);
      for (int h = 0; h < H; ++h) {
        const vec eh = broadcast(es[h][j]);
        for (int r = 0; r < nv; ++r)
          acc[h][r] = fma(eh, v[r], acc[h][r]);
        if (i0 == 0) sum[h] = sum[h] + es[h][j];
      }
    }
    for (int h = 0; h < H; ++h)
      sums[h] = sum[h];
    for (int h = 0; h < H; ++h)
      for (int r = 0; r < nv; ++r) {
        if constexpr (decltype(full)::value) {
          storeu(outs[h] + i0 + r * lanes, acc[h][r]);
        } else {
          store(masks[r], outs[h] + i0 + r * lanes, acc[h][r]);
        }
      }
  };
  for (int32_t i0 = 0; i0 < d; i0 += per_pass * lanes) {
    const int32_t w = std::min(per_pass * lanes, d - i0);
    if (w == per_pass * lanes) {
      pass(i0, per_pass, nullptr, std::true_type{});
      continue;
    }
    const int nv = (w + lanes - 1) / lanes;
    vmask masks[per_pass];
    for (int r = 0; r < nv; ++r)
      masks[r] = mask(std::min(lanes, w - r * lanes));
    pass(i0, nv, masks, std::false_type{});
  }
#else
  for (int j = 0; j < count; ++j)
    for (int h = 0; h < H; ++h) {
      for (int32_t i = 0; i < d; ++i)
        outs[h][i] = std::fma(es[h][j], values[j][i], outs[h][i]);
      sums[h] = sums[h] + es[h][j];
    }
#endif
}

// Calls f(integral_constant<int, H>, first) over [0, n) in runs of at most Max (a template's
// register budget), so one switch picks each run's instantiation.
template <int Max, class F>
void in_runs(int n, F&& f) {
  for (int first = 0; first < n;) {
    const int h = std::min(Max, n - first);
    [&]<int... I>(std::integer_sequence<int, I...>) {
      ((h == I + 1 ? f(std::integral_constant<int, I + 1>{}, first) : void()), ...);
    }
    (std::make_integer_sequence<int, Max>{});
    first += h;
  }
}
// How the kernels below read cache elements: `type` is what the cache stores; load16 gives 16 of
// them as f32 lanes and load_pair 8 of a and 8 of b ([a | b]), exactly (a 16-bit value widens to
// the f32 it denotes, the bits widen_half writes), so the arithmetic after a load is the f32
// cache's whatever the format.
struct f32_lanes {
  using type = float;
#if defined(__AVX512F__)
  static __m512 load16(const float* p) {
    return _mm512_loadu_ps(p);
  }
  static __m512 load_pair(const float* a, const float* b) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(a)), _mm256_loadu_ps(b), 1);
  }
#endif
};

#if defined(__AVX512F__)
// Sixteen 16-bit words: 16 consecutive ones, or 8 of a and 8 of b (widened together).
inline __m256i words16(const uint16_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}
inline __m256i words_pair(const uint16_t* a, const uint16_t* b) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
      _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1);
}

// bf16 is the top half of an f32: zero-extend each word and shift it up.
struct bf16_lanes {
  using type = uint16_t;
  static __m512 widen(__m256i words) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(words), 16));
  }
  static __m512 load16(const uint16_t* p) { return widen(words16(p)); }
  static __m512 load_pair(const uint16_t* a, const uint16_t* b) { return widen(words_pair(a, b)); }
};

// VCVTPH2PS is exact for every f16 (widen_half uses it too).
struct f16_lanes {
  using type = uint16_t;
  static __m512 load16(const uint16_t* p) { return _mm512_cvtph_ps(words16(p)); }
  static __m512 load_pair(const uint16_t* a, const uint16_t* b) {
    return _mm512_cvtph_ps(words_pair(a, b));
  }
};

// A bf16 cache with bf16 products (attention.hpp's attention_products::bf16): scores by
// bf16_score_rows on queries rounded by round_query_bf16, values by bf16_accumulate_values.
struct bf16_dot_lanes : bf16_lanes {};

// accumulate_rows for head_dim == 16 * NV exactly: the same FMA chains, every accumulator in a
// register (no masks, no loop over passes); and sums[r] = sums[r] + es[r][j] in the same pass
// (the softmax's denominator: one add per key in ascending order, in every lane).
template <int H, int NV, class Lanes>
void accumulate_rows_fixed(const typename Lanes::type* const* values, const float* const* es,
                           int count, float* const* outs, float* sums) {
  __m512 acc[H][NV], sum[H];
  for (int h = 0; h < H; ++h) {
    sum[h] = _mm512_set1_ps(sums[h]);
    for (int r = 0; r < NV; ++r)
      acc[h][r] = _mm512_loadu_ps(outs[h] + 16 * r);
  }
  for (int j = 0; j < count; ++j) {
    __m512 v[NV];
    for (int r = 0; r < NV; ++r)
      v[r] = Lanes::load16(values[j] + 16 * r);
    for (int h = 0; h < H; ++h) {
      const __m512 eh = _mm512_set1_ps(es[h][j]);
      sum[h] = _mm512_add_ps(sum[h], eh);
      for (int r = 0; r < NV; ++r)
        acc[h][r] = _mm512_fmadd_ps(eh, v[r], acc[h][r]);
    }
  }
  for (int h = 0; h < H; ++h) {
    sums[h] = _mm512_cvtss_f32(sum[h]);
    for (int r = 0; r < NV; ++r)
      _mm512_storeu_ps(outs[h] + 16 * r, acc[h][r]);
  }
}

// out[r * 8 + i] = dot(qs[r], keys[i], d) for H query rows and eight keys, bitwise (d % 8 == 0).
// dot()'s eight lanes of two keys share a zmm register ([key a | key b], the query's eight lanes
// broadcast to both halves), so every FMA is 16 lanes wide and each key is loaded once for all H
// rows; then one transposed reduction per row adds each key's lanes the way reduce_lanes does:
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
template <int H, class Lanes>
void dot8_rows(const float* const* qs, const typename Lanes::type* const keys[key_block], int32_t d,
               float* out) {
  __m512 acc[H][4];
  for (int h = 0; h < H; ++h)
    for (int p = 0; p < 4; ++p)
      acc[h][p] = _mm512_setzero_ps();
  for (int32_t c = 0; c < d; c += 8) {
    __m512 k[4];  // pair p: keys 2p and 2p + 1
    for (int p = 0; p < 4; ++p)
      k[p] = Lanes::load_pair(keys[2 * p] + c, keys[2 * p + 1] + c);
    for (int h = 0; h < H; ++h) {
      const __m512 qh = _mm512_broadcast_f32x8(_mm256_loadu_ps(qs[h] + c));
      for (int p = 0; p < 4; ++p)
        acc[h][p] = _mm512_fmadd_ps(qh, k[p], acc[h][p]);
    }
  }
  // Lanes of pair p: [a0..a7 | b0..b7]. u = [k0 | k1 | k2 | k3] of (l0 + l4, l1 + l5, l2 + l6,
  // l3 + l7); the unpacks pair keys g and g + 4 in 128-bit group g: [w_g, w_g+4, x_g, x_g+4] with
  // w = (l0 + l4) + (l2 + l6), x = (l1 + l5) + (l3 + l7); then w + x.
  const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 0, 0, 0, 0, 0, 0, 0, 0);
  for (int h = 0; h < H; ++h) {
    const __m512 u0 = _mm512_add_ps(_mm512_shuffle_f32x4(acc[h][0], acc[h][1], 0x88),
                                    _mm512_shuffle_f32x4(acc[h][0], acc[h][1], 0xdd));
    const __m512 u1 = _mm512_add_ps(_mm512_shuffle_f32x4(acc[h][2], acc[h][3], 0x88),
                                    _mm512_shuffle_f32x4(acc[h][2], acc[h][3], 0xdd));
    const __m512 wx = _mm512_add_ps(_mm512_unpacklo_ps(u0, u1), _mm512_unpackhi_ps(u0, u1));
    const __m512 r = _mm512_add_ps(wx, _mm512_permute_ps(wx, 0x4e));
    _mm256_storeu_ps(out + h * key_block, _mm512_castps512_ps256(_mm512_permutexvar_ps(order, r)));
  }
}

#endif

// Whether a reader's lanes take attention_bf16.cpp's bf16 products (AVX-512 builds only).
template <class Lanes>
inline constexpr bool bf16_dot_products =
#if defined(__AVX512F__)
    std::is_same_v<Lanes, bf16_dot_lanes>;
#else
    false;
#endif

// out[r * key_block + i] = dot(qs[r], keys[i], d) for rows r < rows. Keys of a type other than
// f32 need fixed_shape(d).
template <class Lanes>
void score_rows(const float* const* qs, int rows, const typename Lanes::type* const keys[key_block],
                int32_t d, float* out) {
#if defined(__AVX512F__)
  if (d % 8 == 0) {
    // 6 rows: 24 accumulators + 4 key pairs + a query in the 32 registers.
    in_runs<6>(rows, [&](auto h, int first) {
      dot8_rows<decltype(h)::value, Lanes>(qs + first, keys, d, out + first * key_block);
    });
    return;
  }
#endif
  if constexpr (std::is_same_v<Lanes, f32_lanes>) {
    for (int r = 0; r < rows; ++r)
      dot8(qs[r], keys, d, out + r * key_block);
  } else {
    assert(!"score_rows: a widened key type needs fixed_shape(head_dim)");
  }
}

// -- bf16 products (attention_bf16.cpp, compiled for AVX512-BF16) --

// Whether this CPU runs the functions below (AVX512-BF16 and AVX512-VL).
bool bf16_products_runnable();
// out[i] = q[i] rounded to bf16 (VCVTNEPS2BF16: nearest even), d a multiple of 16.
void round_query_bf16(const float* q, int32_t d, uint16_t* out);
// out[r * key_block + i] = bf16 score of query row qs[r] (rounded) and keys[i] for r < rows, d a
// multiple of 16 up to 128: ((c0 + c2) + (c1 + c3)), c_m one VDPBF16PS chain over the pairs
// p = m mod 4 in ascending order (c <- (c + q[2p+1] k[2p+1]) + q[2p] k[2p], each add rounded to
// nearest even, denormals flushed), from 0.
void bf16_score_rows(const uint16_t* const* qs, int rows, const uint16_t* const keys[key_block],
                     int32_t d, float* out);
// accumulate_values with bf16 products, d 64 or 128: for rows r < rows, outs[r] += the values
// [0, count) weighted by es[r][j] rounded to bf16, a pair of values at a time (j, j + 1; a lone
// last one with a zero), one VDPBF16PS chain per output (c <- (c + e[j+1] v[j+1]) + e[j] v[j]);
// sums[r] += es[r][j] in f32 in ascending order. outs hold their elements in the kernel's order
// until bf16_values_to_order(out, d) restores it.
void bf16_accumulate_values(const uint16_t* const* values, const float* const* es, int rows,
                            int count, int32_t d, float* const* outs, float* sums);
void bf16_values_to_order(float* out, int32_t d);

// Whether the vector kernels serve head_dim d whole: scores by dot8_rows and values by
// accumulate_rows_fixed, which also sums each row's weights.
inline bool fixed_shape(int32_t d) {
#if defined(__AVX512F__)
  return d == 64 || d == 128;
#else
  (void)d;
  return false;
#endif
}

// accumulate_rows over `rows` rows, sums[r] += the weights too (each one add per key in ascending
// order, whichever kernel). Values of a type other than f32 need fixed_shape(d).
template <class Lanes>
void accumulate_values(const typename Lanes::type* const* values, const float* const* es, int rows,
                       int count, int32_t d, float* const* outs, float* sums) {
#if defined(__AVX512F__)
  if (d == 64) {
    // 4 rows: 16 accumulators + 4 sums + 4 values.
    return in_runs<4>(rows, [&](auto h, int first) {
      accumulate_rows_fixed<decltype(h)::value, 4, Lanes>(values, es + first, count, outs + first,
                                                          sums + first);
    });
  }
  if (d == 128) {
    return in_runs<2>(rows, [&](auto h, int first) {
      accumulate_rows_fixed<decltype(h)::value, 8, Lanes>(values, es + first, count, outs + first,
                                                          sums + first);
    });
  }
#endif
  if constexpr (std::is_same_v<Lanes, f32_lanes>) {
    for (int r = 0; r < rows;) {
      const int h = std::min(3, rows - r);
      if (h == 3) accumulate_rows<3>(values, es + r, count, d, outs + r, sums + r);
      if (h == 2) accumulate_rows<2>(values, es + r, count, d, outs + r, sums + r);
      if (h == 1) accumulate_rows<1>(values, es + r, count, d, outs + r, sums + r);
      r += h;
    }
  } else {
    assert(!"accumulate_values: a widened value type needs fixed_shape(head_dim)");
  }
}

}  // namespace troupe::kernels::cpu::attention_rows
