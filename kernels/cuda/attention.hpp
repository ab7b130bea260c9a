#pragma once
// Paged attention over a block-table KV cache on the GPU, and the store of new keys/values into
// it: the same ops as kernels/cpu/attention.hpp (layout, causality, GQA, sliding window, fp8
// codes and scales, 16-bit words), computed in f32 with an online softmax (FlashAttention-style:
// key/value tiles staged in shared memory, each shared by every query row of a tile and every head
// of a GQA group). store_kv writes the CPU's bits; attention results agree with the CPU reference
// within f32 rounding (not bitwise: the sums run in another order).
//
// Cache layout per layer, K and V alike: [num_blocks][block_size][num_kv_heads][head_dim]; an
// fp8 cache holds one byte per element, code = saturating fp8(x / scale), read as
// fp8_to_float(code) * scale; a bf16 / f16 cache two bytes, x rounded to nearest even
// (__float2bfloat16_rn / __float2half_rn; NaN as kernels/cpu/half.hpp), read back exactly (half
// the f32 cache's bytes per key read; the math stays f32).
//
// A step's rows (tokens) are grouped by sequence, consecutive rows of one sequence having
// consecutive positions (runtime::fill_step_metadata builds them so). Query tiles cut each
// sequence's rows into runs of at most attention_tile_rows rows; plan_query_tiles computes them
// on the host, once per step, and the caller uploads them.
#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "base/result.hpp"
#include "kernels/cuda/types.hpp"

namespace troupe::kernels::cuda {

struct paged_kv_layout {
  int32_t block_size = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  int64_t block_stride() const { return int64_t{block_size} * num_kv_heads * head_dim; }
};

// One layer of a cache: device pointers to its keys and values, their element type and (fp8)
// the layer's scales (unused by the other types).
struct kv_cache_layer {
  void* k = nullptr;
  void* v = nullptr;
  kv_type type = kv_type::f32;
  float k_scale = 1.0f;  // > 0
  float v_scale = 1.0f;  // > 0
};

// The step's rows as the kernels read them, all device arrays (runtime::step_metadata's fields).
//   positions     [num_tokens]   row t's position in its sequence
//   token_seqs    [num_tokens]   row t's sequence s
//   block_tables  sequence s's table is block_tables[table_offsets[s], table_offsets[s + 1])
//   table_offsets [num_seqs + 1]
//   query_tiles   [num_tiles][2] (first row, number of rows), from plan_query_tiles
struct attention_rows {
  const int32_t* positions = nullptr;
  const int32_t* token_seqs = nullptr;
  const int32_t* block_tables = nullptr;
  const int32_t* table_offsets = nullptr;
  const int32_t* query_tiles = nullptr;
  int64_t num_tokens = 0;
  int32_t num_tiles = 0;
  // At least the largest position of any row: sizes the key splits (a captured launch passes
  // the largest its block tables allow, so that one launch serves every later step).
  int32_t max_position = 0;
  // Device memory for the key splits' partial results, at least
  // attention_split_workspace_bytes(); null: each launch takes it from a stream-ordered pool
  // (a captured launch must not, so a CUDA graph's caller passes its own).
  void* split_workspace = nullptr;
  int64_t split_workspace_bytes = 0;
};

// Query rows per tile: a prompt chunk's rows share each key/value tile they read.
constexpr int32_t attention_tile_rows = 16;

// Host: the query tiles of a step, flattened as (first row, rows) pairs: each sequence's rows cut
// into runs of at most attention_tile_rows, in row order.
//   token_seqs [num_tokens] (rows of one sequence consecutive)
std::vector<int32_t> plan_query_tiles(const int32_t* token_seqs, int64_t num_tokens);

// Writes every row's key and value heads into its cache slot (fp8: quantized with the layer's
// scales).   k, v [num_tokens][num_kv_heads][head_dim]
status store_kv(const paged_kv_layout& layout, const attention_rows& rows, const float* k,
                const float* v, const kv_cache_layer& cache, cudaStream_t stream);

// The bytes of split workspace paged_attention uses for these rows (0: it runs without splits).
int64_t attention_split_workspace_bytes(const paged_kv_layout& layout, const attention_rows& rows,
                                        int32_t num_heads);

// Causal attention of every row over its own sequence's cached keys at positions [lo, p]
// (lo = 0, or max(0, p - sliding_window + 1) when sliding_window > 0); head h reads KV head
// h / (num_heads / num_kv_heads).   q, out [num_tokens][num_heads][head_dim]
// requires: num_heads a multiple of layout.num_kv_heads; head_dim <= 256 and a multiple of 8;
// q, out and the caches 16-byte aligned (fp8 caches: 8); store_kv of this step's rows came first
// on the same stream.
status paged_attention(const paged_kv_layout& layout, const attention_rows& rows, int32_t num_heads,
                       float scale, int32_t sliding_window, const float* q,
                       const kv_cache_layer& cache, float* out, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
