// paged attention: q [tokens][heads][head_dim], K/V cache [blocks][block_size][kv_heads][head_dim]
// -> out [tokens][heads][head_dim] (contract and block layout: attention.hpp).
#include "kernels/cpu/attention.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/cpu/dot.hpp"
#include "kernels/cpu/exp.hpp"

// GCC 12's AVX-512 intrinsics (shuffles, unpacks, permutes, broadcasts) pass an undefined vector
// as their unused merge source, which -W(maybe-)uninitialized reports.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace troupe::kernels::cpu {

namespace {

int64_t slot_offset(const paged_kv_layout& layout, const token_location& tok, int32_t pos) {
  const int32_t block = tok.block_table[pos / layout.block_size];
  const int32_t slot = pos % layout.block_size;
  return block * layout.block_stride() + int64_t{slot} * layout.num_kv_heads * layout.head_dim;
}

// Walks a sequence's cache slots in ascending position without a division per key.
class slot_cursor {
 public:
  slot_cursor(const paged_kv_layout& layout, const token_location& tok, int32_t pos)
      : layout_(&layout),
        table_(tok.block_table + pos / layout.block_size),
        slot_(pos % layout.block_size),
        slot_stride_(int64_t{layout.num_kv_heads} * layout.head_dim) {}
  int64_t offset() const { return *table_ * layout_->block_stride() + slot_ * slot_stride_; }
  void next() {
    if (++slot_ == layout_->block_size) {
      slot_ = 0;
      ++table_;
    }
  }

 private:
  const paged_kv_layout* layout_;
  const int32_t* table_;
  int32_t slot_;
  int64_t slot_stride_;
};

// Keys are scored eight at a time (dot8); values are summed value_block at a time.
constexpr int key_block = 8;
// attend_heads takes at most this many query heads (its per-head maxima and sums live on the
// stack).
constexpr int max_heads_per_call = 8;
constexpr int value_block = 32;

// For heads h in [0, H): out[h * d + i] = fma(e[h * e_stride + j], values[j][i], out[h * d + i])
// for j in [0, count) in ascending order, i in [0, d): one FMA chain per output, whatever the
// code path. The H heads share each value read; up to 64 (AVX-512) or 32 (AVX2) outputs of each
// stay in registers across the keys.
template <int H>
void accumulate_heads(const float* const* values, const float* e, int64_t e_stride, int count,
                      int32_t d, float* out) {
#if defined(__AVX512F__)
  constexpr int lanes = 16;
  auto mask = [](int32_t w) { return static_cast<__mmask16>((1u << w) - 1u); };
  auto load = [](__mmask16 m, const float* p) { return _mm512_maskz_loadu_ps(m, p); };
  auto store = [](__mmask16 m, float* p, __m512 v) { _mm512_mask_storeu_ps(p, m, v); };
  auto fma = [](__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); };
  auto broadcast = [](float v) { return _mm512_set1_ps(v); };
  using vec = __m512;
  using vmask = __mmask16;
#elif defined(TROUPE_KERNELS_AVX2)
  constexpr int lanes = 8;
  auto mask = [](int32_t w) { return detail::tail_mask(w); };
  auto load = [](__m256i m, const float* p) { return _mm256_maskload_ps(p, m); };
  auto store = [](__m256i m, float* p, __m256 v) { _mm256_maskstore_ps(p, m, v); };
  auto fma = [](__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); };
  auto broadcast = [](float v) { return _mm256_set1_ps(v); };
  using vec = __m256;
  using vmask = __m256i;
#endif
#if defined(__AVX512F__) || defined(TROUPE_KERNELS_AVX2)
  constexpr int per_pass = 4;  // vectors of each head kept in registers
  for (int32_t i0 = 0; i0 < d; i0 += per_pass * lanes) {
    const int32_t w = std::min(per_pass * lanes, d - i0);
    const int nv = (w + lanes - 1) / lanes;
    vmask masks[per_pass];
    for (int r = 0; r < nv; ++r)
      masks[r] = mask(std::min(lanes, w - r * lanes));
    vec acc[H][per_pass];
    for (int h = 0; h < H; ++h)
      for (int r = 0; r < nv; ++r)
        acc[h][r] = load(masks[r], out + h * d + i0 + r * lanes);
    for (int j = 0; j < count; ++j) {
      vec v[per_pass];
      for (int r = 0; r < nv; ++r)
        v[r] = load(masks[r], values[j] + i0 + r * lanes);
      for (int h = 0; h < H; ++h) {
        const vec eh = broadcast(e[h * e_stride + j]);
        for (int r = 0; r < nv; ++r)
          acc[h][r] = fma(eh, v[r], acc[h][r]);
      }
    }
    for (int h = 0; h < H; ++h)
      for (int r = 0; r < nv; ++r)
        store(masks[r], out + h * d + i0 + r * lanes, acc[h][r]);
  }
#else
  for (int j = 0; j < count; ++j)
    for (int h = 0; h < H; ++h)
      for (int32_t i = 0; i < d; ++i)
        out[h * d + i] = std::fma(e[h * e_stride + j], values[j][i], out[h * d + i]);
#endif
}

#if defined(__AVX512F__)
// accumulate_heads for head_dim == 16 * NV exactly: the same FMA chains, every accumulator in a
// register (no masks, no loop over passes); and sums[h] = sums[h] + e[h * e_stride + j] in the
// same pass (the softmax's denominator: one add per key in ascending order, in every lane).
template <int H, int NV>
void accumulate_heads_fixed(const float* const* values, const float* e, int64_t e_stride, int count,
                            float* out, float* sums) {
  __m512 acc[H][NV], sum[H];
  for (int h = 0; h < H; ++h) {
    sum[h] = _mm512_set1_ps(sums[h]);
    for (int r = 0; r < NV; ++r)
      acc[h][r] = _mm512_loadu_ps(out + h * 16 * NV + 16 * r);
  }
  for (int j = 0; j < count; ++j) {
    __m512 v[NV];
    for (int r = 0; r < NV; ++r)
      v[r] = _mm512_loadu_ps(values[j] + 16 * r);
    for (int h = 0; h < H; ++h) {
      const __m512 eh = _mm512_set1_ps(e[h * e_stride + j]);
      sum[h] = _mm512_add_ps(sum[h], eh);
      for (int r = 0; r < NV; ++r)
        acc[h][r] = _mm512_fmadd_ps(eh, v[r], acc[h][r]);
    }
  }
  for (int h = 0; h < H; ++h) {
    sums[h] = _mm512_cvtss_f32(sum[h]);
    for (int r = 0; r < NV; ++r)
      _mm512_storeu_ps(out + h * 16 * NV + 16 * r, acc[h][r]);
  }
}

// out[h * 8 + i] = dot(q + h * d, keys[i], d) for H heads and eight keys, bitwise (d % 8 == 0).
// dot()'s eight lanes of two keys share a zmm register ([key a | key b], the query's eight lanes
// broadcast to both halves), so every FMA is 16 lanes wide and each key is loaded once for all H
// heads; then one transposed reduction per head adds each key's lanes the way reduce_lanes does:
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
template <int H>
void dot8_heads(const float* q, const float* const keys[key_block], int32_t d, float* out) {
  __m512 acc[H][4];
  for (int h = 0; h < H; ++h)
    for (int p = 0; p < 4; ++p)
      acc[h][p] = _mm512_setzero_ps();
  for (int32_t c = 0; c < d; c += 8) {
    __m512 k[4];  // pair p: keys 2p and 2p + 1
    for (int p = 0; p < 4; ++p)
      k[p] = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(keys[2 * p] + c)),
                                _mm256_loadu_ps(keys[2 * p + 1] + c), 1);
    for (int h = 0; h < H; ++h) {
      const __m512 qh = _mm512_broadcast_f32x8(_mm256_loadu_ps(q + int64_t{h} * d + c));
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

// out[h * key_block + i] = dot(q + h * d, keys[i], d) for heads h < nh (q rows d apart).
void score_keys(const float* q, int32_t nh, const float* const keys[key_block], int32_t d,
                float* out) {
#if defined(__AVX512F__)
  if (d % 8 == 0) {
    for (int32_t h = 0; h < nh;) {
      const float* qh = q + int64_t{h} * d;
      float* oh = out + h * key_block;
      switch (std::min(4, nh - h)) {
        case 4:
          dot8_heads<4>(qh, keys, d, oh);
          h += 4;
          break;
        case 3:
          dot8_heads<3>(qh, keys, d, oh);
          h += 3;
          break;
        case 2:
          dot8_heads<2>(qh, keys, d, oh);
          h += 2;
          break;
        default:
          dot8_heads<1>(qh, keys, d, oh);
          h += 1;
          break;
      }
    }
    return;
  }
#endif
  for (int32_t h = 0; h < nh; ++h)
    dot8(q + int64_t{h} * d, keys, d, out + h * key_block);
}

// Whether accumulate_values also sums each head's weights (accumulate_heads_fixed's shapes).
bool values_sum_weights(int32_t d) {
#if defined(__AVX512F__)
  return d == 64 || d == 128;
#else
  (void)d;
  return false;
#endif
}

// accumulate_heads over nh heads, up to three at a time; where values_sum_weights(d), sums[h] +=
// the weights too (else sums is untouched).
void accumulate_values(const float* const* values, const float* e, int64_t e_stride, int count,
                       int32_t d, int32_t nh, float* out, float* sums) {
#if defined(__AVX512F__)
  if (values_sum_weights(d)) {
    for (int32_t h = 0; h < nh;) {
      const float* eh = e + h * e_stride;
      float* oh = out + int64_t{h} * d;
      const int n = std::min(3, nh - h);
      if (d == 64) {
        if (n == 3) accumulate_heads_fixed<3, 4>(values, eh, e_stride, count, oh, sums + h);
        if (n == 2) accumulate_heads_fixed<2, 4>(values, eh, e_stride, count, oh, sums + h);
        if (n == 1) accumulate_heads_fixed<1, 4>(values, eh, e_stride, count, oh, sums + h);
      } else {
        if (n == 3) accumulate_heads_fixed<3, 8>(values, eh, e_stride, count, oh, sums + h);
        if (n == 2) accumulate_heads_fixed<2, 8>(values, eh, e_stride, count, oh, sums + h);
        if (n == 1) accumulate_heads_fixed<1, 8>(values, eh, e_stride, count, oh, sums + h);
      }
      h += n;
    }
    return;
  }
#endif
  (void)sums;
  for (int32_t h = 0; h < nh;) {
    const float* eh = e + h * e_stride;
    float* oh = out + int64_t{h} * d;
    switch (std::min(3, nh - h)) {
      case 3:
        accumulate_heads<3>(values, eh, e_stride, count, d, oh);
        h += 3;
        break;
      case 2:
        accumulate_heads<2>(values, eh, e_stride, count, d, oh);
        h += 2;
        break;
      default:
        accumulate_heads<1>(values, eh, e_stride, count, d, oh);
        h += 1;
        break;
    }
  }
}

// A reader hands attend_heads key or value heads of head_dim f32 values at a cache offset; `i`
// names one of key_block keys (or value_block values) that must stay readable together. The f32
// cache is read in place.
struct f32_reader {
  const float* k_cache;
  const float* v_cache;
  const float* key(int64_t offset, int32_t, int) { return k_cache + offset; }
  const float* value(int64_t offset, int32_t, int) { return v_cache + offset; }
};

// An fp8 cache is dequantized a head at a time into the reader's own buffers.
struct fp8_reader {
  const fp8_kv& fp8;
  const uint8_t* k_cache;
  const uint8_t* v_cache;
  float* k_buf;  // [key_block][head_dim]
  float* v_buf;  // [value_block][head_dim]
  const float* key(int64_t offset, int32_t d, int i) {
    float* buf = k_buf + int64_t{i} * d;
    dequantize_fp8(k_cache + offset, d, fp8.k_scale, fp8.format, buf);
    return buf;
  }
  const float* value(int64_t offset, int32_t d, int i) {
    float* buf = v_buf + int64_t{i} * d;
    dequantize_fp8(v_cache + offset, d, fp8.v_scale, fp8.format, buf);
    return buf;
  }
};

// Query heads [0, nh) at q (head_dim apart), all of kv head g, against keys/values first..p of
// one token's sequence; writes out (same layout as q). `scores` has room for nh * (p - first + 1)
// floats. Each head's result is attention.hpp's formula computed in one fixed order: scores by
// dot() (eight keys at once through dot8, the same bits), weights by exp_value (in SIMD lanes, the
// same bits), the softmax's sum and the weighted sum of values (one FMA chain per output) over
// ascending keys; which heads share the call never changes a bit.
template <class Reader>
void attend_heads(const paged_kv_layout& layout, const token_location& tok, int32_t first,
                  int32_t g, int32_t nh, float scale, const float* q, Reader& cache, float* scores,
                  float* out) {
  const int32_t d = layout.head_dim;
  const int64_t head_offset = int64_t{g} * d;
  const int32_t n = tok.position - first + 1;
  float max_score[max_heads_per_call];
  std::fill_n(max_score, nh, -INFINITY);
  slot_cursor cursor(layout, tok, first);
  for (int32_t j0 = 0; j0 < n; j0 += key_block) {
    const int count = std::min(key_block, n - j0);
    const float* keys[key_block];
    for (int i = 0; i < count; ++i, cursor.next())
      keys[i] = cache.key(cursor.offset() + head_offset, d, i);
    std::fill(keys + count, keys + key_block, keys[0]);  // scored, then dropped
    float s[max_heads_per_call * key_block];
    score_keys(q, nh, keys, d, s);
    for (int32_t h = 0; h < nh; ++h) {
      float* row = scores + int64_t{h} * n + j0;
      for (int i = 0; i < count; ++i) {
        row[i] = s[h * key_block + i] * scale;
        max_score[h] = std::max(max_score[h], row[i]);
      }
    }
  }
  const bool summed_with_values = values_sum_weights(d);
  float sum[max_heads_per_call];
  for (int32_t h = 0; h < nh; ++h) {
    float* row = scores + int64_t{h} * n;
    for (int32_t j = 0; j < n; ++j)
      row[j] -= max_score[h];
    exp_values(row, n, row);
    sum[h] = 0.0f;
    if (!summed_with_values)
      for (int32_t j = 0; j < n; ++j)
        sum[h] += row[j];
  }
  std::fill_n(out, int64_t{nh} * d, 0.0f);
  cursor = slot_cursor(layout, tok, first);
  for (int32_t j0 = 0; j0 < n; j0 += value_block) {
    const int count = std::min(value_block, n - j0);
    const float* values[value_block];
    for (int i = 0; i < count; ++i, cursor.next())
      values[i] = cache.value(cursor.offset() + head_offset, d, i);
    accumulate_values(values, scores + j0, n, count, d, nh, out, sum);
  }
  for (int32_t h = 0; h < nh; ++h) {
    const float inv_sum = 1.0f / sum[h];
    float* o = out + int64_t{h} * d;
    for (int32_t i = 0; i < d; ++i)
      o[i] *= inv_sum;
  }
}

// make_reader(buffers) gives each task its Reader; `buffers` is that thread's scratch of
// (key_block + value_block) * head_dim floats.
template <class MakeReader>
void run_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                   int64_t num_tokens, int32_t num_heads, float scale, const float* q, float* out,
                   int32_t sliding_window, MakeReader make_reader) {
  assert(num_heads % layout.num_kv_heads == 0);
  const int32_t group = num_heads / layout.num_kv_heads;
  const int32_t d = layout.head_dim;
  // One task per (token, kv head) lets a group's query heads share each key read (and its fp8
  // dequantization); a small decode step splits further, one task per query head, so every
  // thread has work. The group is done max_heads_per_call heads at a time.
  const bool split_heads = num_tokens * layout.num_kv_heads < 2 * int64_t{pool.num_threads()};
  const int32_t heads_per_task = split_heads ? 1 : group;
  const int32_t tasks_per_token = num_heads / heads_per_task;
  pool.run(static_cast<int>(num_tokens * tasks_per_token), [&](int task) {
    const int64_t t = task / tasks_per_token;
    const int32_t first_head = (task % tasks_per_token) * heads_per_task;
    const int32_t first_key =
        sliding_window > 0 ? std::max(0, tokens[t].position - sliding_window + 1) : 0;
    const int32_t n = tokens[t].position - first_key + 1;
    const int32_t chunk = std::min(heads_per_task, max_heads_per_call);
    thread_local std::vector<float> scores, buffers;
    if (scores.size() < static_cast<size_t>(n) * chunk)
      scores.resize(static_cast<size_t>(n) * chunk);
    const size_t buffer_size = static_cast<size_t>(key_block + value_block) * d;
    if (buffers.size() < buffer_size) buffers.resize(buffer_size);
    auto reader = make_reader(buffers.data());
    for (int32_t h = first_head; h < first_head + heads_per_task; h += chunk) {
      const int32_t nh = std::min(chunk, first_head + heads_per_task - h);
      const int64_t offset = (t * num_heads + h) * d;
      attend_heads(layout, tokens[t], first_key, h / group, nh, scale, q + offset, reader,
                   scores.data(), out + offset);
    }
  });
}

}  // namespace

void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, float* k_cache, float* v_cache) {
  const int64_t row = int64_t{layout.num_kv_heads} * layout.head_dim;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t offset = slot_offset(layout, tokens[t], tokens[t].position);
    std::copy_n(k + t * row, row, k_cache + offset);
    std::copy_n(v + t * row, row, v_cache + offset);
  }
}

void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, const fp8_kv& fp8, uint8_t* k_cache,
              uint8_t* v_cache) {
  const int64_t row = int64_t{layout.num_kv_heads} * layout.head_dim;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t offset = slot_offset(layout, tokens[t], tokens[t].position);
    quantize_fp8(k + t * row, row, fp8.k_scale, fp8.format, k_cache + offset);
    quantize_fp8(v + t * row, row, fp8.v_scale, fp8.format, v_cache + offset);
  }
}

void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     const float* k_cache, const float* v_cache, float* out,
                     int32_t sliding_window) {
  run_attention(pool, layout, tokens, num_tokens, num_heads, scale, q, out, sliding_window,
                [&](float*) {
                  return f32_reader{k_cache, v_cache};
                });
}

void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     const fp8_kv& fp8, const uint8_t* k_cache, const uint8_t* v_cache, float* out,
                     int32_t sliding_window) {
  const int32_t d = layout.head_dim;
  run_attention(pool, layout, tokens, num_tokens, num_heads, scale, q, out, sliding_window,
                [&](float* buffers) {
                  return fp8_reader{fp8, k_cache, v_cache, buffers, buffers + key_block * d};
                });
}

}  // namespace troupe::kernels::cpu
