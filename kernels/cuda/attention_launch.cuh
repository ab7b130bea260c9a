#pragma once
// paged_attention's host side, shared by attention.cu (the kernels and their launch) and
// attention_launch.cu (internal to kernels/cuda): the tile constants both sides size things by,
// the launch plan (block shape and key splits from the step's sizes alone), the argument checks
// and the split workspace's pool.
#include <cuda_runtime_api.h>

#include <climits>
#include <cstddef>
#include <cstdint>

#include "base/result.hpp"
#include "kernels/cuda/attention.hpp"

namespace troupe::kernels::cuda::detail {

// The attention kernel's argument (attention.cu reads every field).
struct attention_params {
  const float* q;
  float* out;
  const void* k_cache;
  const void* v_cache;
  float k_scale, v_scale;
  const int32_t* positions;
  const int32_t* token_seqs;
  const int32_t* block_tables;
  const int32_t* table_offsets;
  const int32_t* query_tiles;
  int64_t num_tokens;
  int32_t num_tiles;
  int32_t block_size, head_dim;
  int64_t block_stride, slot_stride;  // elements
  int32_t num_heads, group, heads_per_block, head_chunks, rows_cap;
  float scale;
  int32_t sliding_window;
  int32_t num_splits, split_keys;
  float* part_acc;  // [num_splits][num_tokens][num_heads][head_dim], num_splits > 1 only
  float* part_ml;   // [num_splits][num_tokens][num_heads][2]: running max, sum
};

constexpr int key_tile = 32;  // keys per shared-memory tile: one per lane when scoring
constexpr int32_t min_split_keys = 4 * key_tile;
constexpr int32_t max_splits = 64;

// Query vectors per block for a padded head_dim (each thread keeps 32 f32 accumulators).
__host__ __device__ constexpr int max_queries(int padded_dim) {
  return padded_dim == 256 ? 32 : 64;
}

// The block shape and key splits of a launch: a host-side plan from the step's sizes alone.
struct launch_plan {
  int32_t padded_dim = 0;
  int32_t rows_cap = 0, heads_per_block = 0, head_chunks = 0;
  int64_t grid_y = 0;
  int32_t num_splits = 1, split_keys = INT_MAX;

  // Bytes of the splits' partial results (0 without splits).
  int64_t workspace_bytes(const attention_rows& rows, int32_t num_heads, int32_t head_dim) const {
    if (num_splits == 1) return 0;
    return int64_t{num_splits} * rows.num_tokens * num_heads * (head_dim + 2) * 4;
  }
};

launch_plan plan_launch(const paged_kv_layout& layout, const attention_rows& rows,
                        int32_t num_heads);

// Everything but the block shape (rows_cap, heads_per_block, head_chunks) and the splits.
attention_params make_params(const paged_kv_layout& layout, const attention_rows& rows,
                             int32_t num_heads, float scale, int32_t sliding_window, const float* q,
                             const kv_cache_layer& cache, float* out);
// The splits' workspace: the caller's (rows.split_workspace), or allocated on `stream` from the
// pool (*owned set: the caller frees it after the launches). Without either, p keeps one split.
status split_workspace(attention_params& p, const launch_plan& plan, const attention_rows& rows,
                       cudaStream_t stream, void** owned);

// A per-device stream-ordered pool for the split workspace; nullptr when there is none.
cudaMemPool_t workspace_pool();

// paged_attention's argument checks, and whether `bytes` of shared memory fit one block.
status check_attention_args(const paged_kv_layout& layout, const attention_rows& rows,
                            int32_t num_heads, const float* q, const kv_cache_layer& cache,
                            const float* out);
status check_shared_bytes(size_t bytes);

}  // namespace troupe::kernels::cuda::detail
