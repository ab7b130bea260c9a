#pragma once
// Paged attention over a block-table KV cache, and the store of new keys/values into it.
//
// Cache layout (per layer; K and V alike):
//   cache: [num_blocks][block_size][num_kv_heads][head_dim]
//   token at position p of a sequence -> block block_table[p / block_size], slot p % block_size
//
//   block_table = [7, 2, 5], block_size = 4:
//     positions  0..3 -> block 7 | 4..7 -> block 2 | 8..11 -> block 5
//
// paged_attention, per query token t (position p, its sequence's block table) and head h:
//   g = h / (num_heads / num_kv_heads)                         (GQA)
//   s_j = dot(q[t][h], K[j][g]) * scale  for j = lo..p         (causal, own sequence only)
//   lo = 0, or max(0, p - sliding_window + 1) when sliding_window > 0 (Mistral)
//   e_j = exp_value(s_j - max_j s_j)                           (kernels/cpu/exp.hpp)
//   out[t][h] = (sum_j e_j * V[j][g]) * (1 / sum_j e_j)        (the first sum one fma per j)
//   q, out: [num_tokens][num_heads][head_dim]
// Every reduction runs over j in ascending order with dot()'s algorithm, so the result for a
// query depends only on it and the cache contents, not on the batch around it.
//
// An fp8 cache holds one byte per element (kernels/cpu/fp8.hpp): store_kv writes
// float_to_fp8(k / k_scale) and float_to_fp8(v / v_scale); paged_attention reads each key or value
// head back as fp8_to_float(code) * scale into f32 and then runs the f32 math above unchanged, so
// the fp8 result is the f32 result over the dequantized cache (and as batch invariant).
//
// A 16-bit cache (bf16 or f16, kernels/cpu/half.hpp) holds two bytes per element and no scale:
// store_kv writes k and v rounded to nearest even (the bits of CUDA's __float2bfloat16_rn /
// __float2half_rn); paged_attention widens each key or value head exactly into f32 and runs the
// f32 math, so the result is the f32 result over the rounded cache, bit for bit.
#include <cstdint>

#include "kernels/cpu/fp8.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

struct paged_kv_layout {
  int32_t block_size = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int64_t block_stride() const { return int64_t{block_size} * num_kv_heads * head_dim; }
};

// Where one token sits in its sequence: its position and the sequence's block table, which must
// cover positions [0, position].
struct token_location {
  int32_t position = 0;
  const int32_t* block_table = nullptr;
};

// The element format of an fp8 cache and one layer's scales (vLLM's k_scale and v_scale).
struct fp8_kv {
  fp8_format format = fp8_format::e4m3;
  float k_scale = 1.0f;  // > 0
  float v_scale = 1.0f;  // > 0
};

// Writes each token's key and value heads into its cache slot.
//   k, v: [num_tokens][num_kv_heads][head_dim]
void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, float* k_cache, float* v_cache);
// The same into an fp8 cache (codes, one byte per element).
void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, const fp8_kv& fp8, uint8_t* k_cache,
              uint8_t* v_cache);
// The same into a 16-bit cache (bf16 or f16 words, one per element).
void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, half_format format, uint16_t* k_cache,
              uint16_t* v_cache);

// requires: num_heads a multiple of layout.num_kv_heads; every key/value a query attends to has
// been stored (store_kv for this step's tokens runs first).
void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     const float* k_cache, const float* v_cache, float* out,
                     int32_t sliding_window = 0);
// The same over an fp8 cache, dequantizing each key and value head as it reads it.
void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     const fp8_kv& fp8, const uint8_t* k_cache, const uint8_t* v_cache, float* out,
                     int32_t sliding_window = 0);
// How attention over a bf16 cache multiplies:
//   f32   the f32 math above: q times the widened keys, the weights times the widened values
//         (every cache format);
//   bf16  both products in bf16 with VDPBF16PS, for `--dtype bfloat16` (FlashAttention on a GPU
//         also multiplies bf16 queries, keys, weights and values, accumulating in f32):
//         s_j = ((c0 + c2) + (c1 + c3)) * scale, c_m one chain over the head's element pairs
//         p = m mod 4 in ascending order, c <- (c + q'[2p+1] k[2p+1]) + q'[2p] k[2p], from 0,
//         with q' = q rounded to bf16 (nearest even); e_j and sum_j e_j as above; each output
//         element one chain over the key pairs (j, j + 1) from `lo` in ascending order,
//         o <- (o + e'_{j+1} V[j+1]) + e'_j V[j] (a lone last key with a zero), e' = e rounded
//         to bf16; then o * (1 / sum). Each product is exact in f32, each add rounded to nearest
//         even with denormals flushed. Every query runs the same instructions whatever the
//         batch, so it is as batch invariant; needs bf16_products_supported().
enum class attention_products : uint8_t { f32, bf16 };

// Whether attention_products::bf16 runs here at this head dim: a CPU with AVX512-BF16 (and a build
// with AVX-512), head dims 64 and 128.
bool bf16_products_supported(int32_t head_dim);
// Whether it is also the faster choice: on AMD CPUs (Zen 4 runs VDPBF16PS at twice the products of
// an f32 FMA; Intel's at half, docs/kernels.md).
bool bf16_products_preferred(int32_t head_dim);

// The same over a 16-bit cache, widening each key and value head as it reads it (or, for a bf16
// cache with attention_products::bf16, multiplying the keys and values as they are).
void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     half_format format, const uint16_t* k_cache, const uint16_t* v_cache,
                     float* out, int32_t sliding_window = 0,
                     attention_products products = attention_products::f32);

}  // namespace troupe::kernels::cpu
