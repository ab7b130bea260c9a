// paged attention: q [tokens][heads][head_dim], K/V cache [blocks][block_size][kv_heads][head_dim]
// -> out [tokens][heads][head_dim] (contract and block layout: attention.hpp).
#include "kernels/cpu/attention.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/cpu/dot.hpp"
#include "kernels/cpu/exp.hpp"

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

// accumulate_heads over nh heads, up to three at a time.
void accumulate_values(const float* const* values, const float* e, int64_t e_stride, int count,
                       int32_t d, int32_t nh, float* out) {
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
    for (int32_t h = 0; h < nh; ++h) {
      float s[key_block];
      dot8(q + int64_t{h} * d, keys, d, s);
      float* row = scores + int64_t{h} * n + j0;
      for (int i = 0; i < count; ++i) {
        row[i] = s[i] * scale;
        max_score[h] = std::max(max_score[h], row[i]);
      }
    }
  }
  float sum[max_heads_per_call];
  for (int32_t h = 0; h < nh; ++h) {
    float* row = scores + int64_t{h} * n;
    for (int32_t j = 0; j < n; ++j)
      row[j] -= max_score[h];
    exp_values(row, n, row);
    sum[h] = 0.0f;
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
    accumulate_values(values, scores + j0, n, count, d, nh, out);
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
