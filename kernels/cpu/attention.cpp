// paged attention: q [tokens][heads][head_dim], K/V cache [blocks][block_size][kv_heads][head_dim]
// -> out [tokens][heads][head_dim] (contract and block layout: attention.hpp).
#include "kernels/cpu/attention.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <vector>

#include "kernels/cpu/dot.hpp"

namespace troupe::kernels::cpu {

namespace {

int64_t slot_offset(const paged_kv_layout& layout, const token_location& tok, int32_t pos) {
  const int32_t block = tok.block_table[pos / layout.block_size];
  const int32_t slot = pos % layout.block_size;
  return block * layout.block_stride() + int64_t{slot} * layout.num_kv_heads * layout.head_dim;
}

// A reader hands attend_head one key or value head of head_dim f32 values at a cache offset.
// The f32 cache is read in place.
struct f32_reader {
  const float* k_cache;
  const float* v_cache;
  const float* key(int64_t offset, int32_t) { return k_cache + offset; }
  const float* value(int64_t offset, int32_t) { return v_cache + offset; }
};

// An fp8 cache is dequantized a head at a time into the reader's own buffers.
struct fp8_reader {
  const fp8_kv& fp8;
  const uint8_t* k_cache;
  const uint8_t* v_cache;
  float* k_buf;  // [head_dim]
  float* v_buf;  // [head_dim]
  const float* key(int64_t offset, int32_t d) {
    dequantize_fp8(k_cache + offset, d, fp8.k_scale, fp8.format, k_buf);
    return k_buf;
  }
  const float* value(int64_t offset, int32_t d) {
    dequantize_fp8(v_cache + offset, d, fp8.v_scale, fp8.format, v_buf);
    return v_buf;
  }
};

// One query head against keys/values first..p of kv head g. `scores` has room for p + 1 floats.
template <class Reader>
void attend_head(const paged_kv_layout& layout, const token_location& tok, int32_t first, int32_t g,
                 float scale, const float* q, Reader& cache, float* scores, float* out) {
  const int32_t d = layout.head_dim;
  const int64_t head_offset = int64_t{g} * d;
  float max_score = -INFINITY;
  for (int32_t j = first; j <= tok.position; ++j) {
    scores[j] = dot(q, cache.key(slot_offset(layout, tok, j) + head_offset, d), d) * scale;
    max_score = std::max(max_score, scores[j]);
  }
  float sum = 0.0f;
  for (int32_t j = first; j <= tok.position; ++j) {
    scores[j] = std::exp(scores[j] - max_score);
    sum += scores[j];
  }
  std::fill_n(out, d, 0.0f);
  for (int32_t j = first; j <= tok.position; ++j) {
    const float* v = cache.value(slot_offset(layout, tok, j) + head_offset, d);
    const float e = scores[j];
    for (int32_t i = 0; i < d; ++i)
      out[i] += e * v[i];
  }
  const float inv_sum = 1.0f / sum;
  for (int32_t i = 0; i < d; ++i)
    out[i] *= inv_sum;
}

// make_reader(buffers) gives each task its Reader; `buffers` is that thread's scratch of
// 2 * head_dim floats.
template <class MakeReader>
void run_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                   int64_t num_tokens, int32_t num_heads, float scale, const float* q, float* out,
                   int32_t sliding_window, MakeReader make_reader) {
  assert(num_heads % layout.num_kv_heads == 0);
  const int32_t group = num_heads / layout.num_kv_heads;
  const int32_t d = layout.head_dim;
  // One task per (token, kv head) lets a group's query heads share the keys in cache; a small
  // decode step splits further, one task per query head, so every thread has work.
  const bool split_heads = num_tokens * layout.num_kv_heads < 2 * int64_t{pool.num_threads()};
  const int32_t heads_per_task = split_heads ? 1 : group;
  const int32_t tasks_per_token = num_heads / heads_per_task;
  pool.run(static_cast<int>(num_tokens * tasks_per_token), [&](int task) {
    const int64_t t = task / tasks_per_token;
    const int32_t first_head = (task % tasks_per_token) * heads_per_task;
    thread_local std::vector<float> scores, buffers;
    if (scores.size() < static_cast<size_t>(tokens[t].position) + 1)
      scores.resize(static_cast<size_t>(tokens[t].position) + 1);
    if (buffers.size() < 2 * static_cast<size_t>(d)) buffers.resize(2 * static_cast<size_t>(d));
    auto reader = make_reader(buffers.data());
    const int32_t first_key =
        sliding_window > 0 ? std::max(0, tokens[t].position - sliding_window + 1) : 0;
    for (int32_t h = first_head; h < first_head + heads_per_task; ++h) {
      const int64_t offset = (t * num_heads + h) * d;
      attend_head(layout, tokens[t], first_key, h / group, scale, q + offset, reader, scores.data(),
                  out + offset);
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
                  return fp8_reader{fp8, k_cache, v_cache, buffers, buffers + d};
                });
}

}  // namespace troupe::kernels::cpu
