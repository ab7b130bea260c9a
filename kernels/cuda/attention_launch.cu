// paged_attention's host side (attention_launch.cuh): the launch plan, the argument checks and
// the split workspace's pool.
#include <algorithm>
#include <climits>
#include <map>
#include <mutex>
#include <string>

#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_launch.cuh"
#include "kernels/cuda/device.hpp"

namespace troupe::kernels::cuda {

namespace detail {

namespace {

bool aligned(const void* ptr, uintptr_t bytes) {
  return reinterpret_cast<uintptr_t>(ptr) % bytes == 0;
}

// Key splits for `blocks` blocks per split: enough for two blocks per SM, each split at least
// min_split_keys keys.
int32_t choose_splits(int64_t blocks, int32_t max_position) {
  int device = 0, num_sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&num_sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    cudaGetLastError();
    return 1;
  }
  const int64_t keys = int64_t{max_position} + 1;
  const int64_t target = 2 * int64_t{num_sms};
  if (blocks >= target || keys < 2 * min_split_keys) return 1;
  return static_cast<int32_t>(
      std::min<int64_t>({(target + blocks - 1) / blocks, keys / min_split_keys, max_splits}));
}

}  // namespace

// A per-device pool that keeps its memory (release threshold: all), so the split workspace is a
// stream-ordered sub-allocation rather than a driver call each step. nullptr: no pool (attention
// then runs without splits).
cudaMemPool_t workspace_pool() {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) {
    cudaGetLastError();
    return nullptr;
  }
  static std::mutex mutex;
  static std::map<int, cudaMemPool_t> pools;
  std::lock_guard<std::mutex> lock(mutex);
  auto found = pools.find(device);
  if (found != pools.end()) return found->second;
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  cudaMemPool_t pool = nullptr;
  if (cudaMemPoolCreate(&pool, &props) != cudaSuccess) {
    cudaGetLastError();
    pool = nullptr;
  } else {
    uint64_t keep = UINT64_MAX;
    cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
  }
  pools.emplace(device, pool);
  return pool;
}

status check_attention_args(const paged_kv_layout& layout, const attention_rows& rows,
                            int32_t num_heads, const float* q, const kv_cache_layer& cache,
                            const float* out) {
  if (auto st = check_layout(layout, cache, "paged_attention"); !st) return st;
  const int32_t d = layout.head_dim;
  if (d > 256 || d % 8 != 0)
    return error{"paged_attention: head_dim must be a multiple of 8, at most 256"};
  if (num_heads <= 0 || num_heads % layout.num_kv_heads != 0)
    return error{"paged_attention: num_heads must be a positive multiple of num_kv_heads"};
  const uintptr_t cache_align = is_fp8(cache.type) ? 8 : 16;
  if (!aligned(q, 16) || !aligned(out, 16) || !aligned(cache.k, cache_align) ||
      !aligned(cache.v, cache_align))
    return error{"paged_attention: q, out and the caches must be 16-byte aligned (fp8: 8)"};
  if (rows.num_tiles > rows.num_tokens || rows.num_tokens > INT_MAX)
    return error{"paged_attention: bad tile or row count"};
  return ok_status();
}

status check_shared_bytes(size_t bytes) {
  int device = 0, max_shared = 0;
  if (auto st = CUDA_CHECK(cudaGetDevice(&device)); !st) return st;
  if (auto st = CUDA_CHECK(
          cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
      !st)
    return st;
  if (bytes > static_cast<size_t>(max_shared))
    return error{"paged_attention: shape needs more shared memory than the device has"};
  return ok_status();
}

launch_plan plan_launch(const paged_kv_layout& layout, const attention_rows& rows,
                        int32_t num_heads) {
  launch_plan plan;
  const int32_t group = num_heads / layout.num_kv_heads;
  plan.padded_dim = layout.head_dim <= 64 ? 64 : layout.head_dim <= 128 ? 128 : 256;
  // No tile has more rows than the other tiles leave: a pure decode step has tiles of one row.
  plan.rows_cap = static_cast<int32_t>(
      std::min<int64_t>(attention_tile_rows, rows.num_tokens - rows.num_tiles + 1));
  plan.heads_per_block = std::min(group, std::max(1, max_queries(plan.padded_dim) / plan.rows_cap));
  plan.head_chunks = (group + plan.heads_per_block - 1) / plan.heads_per_block;
  plan.grid_y = int64_t{layout.num_kv_heads} * plan.head_chunks;
  // Positions [0, max_position] cut into about `splits` runs of whole key tiles.
  const int32_t splits = choose_splits(int64_t{rows.num_tiles} * plan.grid_y, rows.max_position);
  if (splits > 1) {
    const int64_t keys = int64_t{rows.max_position} + 1;
    const int64_t run = ((keys + splits - 1) / splits + key_tile - 1) / key_tile * key_tile;
    plan.num_splits = static_cast<int32_t>((keys + run - 1) / run);
    plan.split_keys = static_cast<int32_t>(run);
  }
  return plan;
}

// Everything but the block shape (rows_cap, heads_per_block, head_chunks) and the splits.
attention_params make_params(const paged_kv_layout& layout, const attention_rows& rows,
                             int32_t num_heads, float scale, int32_t sliding_window, const float* q,
                             const kv_cache_layer& cache, float* out) {
  attention_params p{};
  p.q = q;
  p.out = out;
  p.k_cache = cache.k;
  p.v_cache = cache.v;
  p.k_scale = cache.k_scale;
  p.v_scale = cache.v_scale;
  p.positions = rows.positions;
  p.token_seqs = rows.token_seqs;
  p.block_tables = rows.block_tables;
  p.table_offsets = rows.table_offsets;
  p.query_tiles = rows.query_tiles;
  p.num_tokens = rows.num_tokens;
  p.num_tiles = rows.num_tiles;
  p.block_size = layout.block_size;
  p.head_dim = layout.head_dim;
  p.block_stride = layout.block_stride();
  p.slot_stride = int64_t{layout.num_kv_heads} * layout.head_dim;
  p.num_heads = num_heads;
  p.group = num_heads / layout.num_kv_heads;
  p.scale = scale;
  p.sliding_window = sliding_window;
  p.num_splits = 1;
  p.split_keys = INT_MAX;
  return p;
}

// The splits' workspace: the caller's (rows.split_workspace), or allocated on `stream` from the
// pool (*owned set: the caller frees it after the launches). Without either, p keeps one split.
status split_workspace(attention_params& p, const launch_plan& plan, const attention_rows& rows,
                       cudaStream_t stream, void** owned) {
  *owned = nullptr;
  const int64_t bytes = plan.workspace_bytes(rows, p.num_heads, p.head_dim);
  if (bytes == 0) return ok_status();
  void* workspace = rows.split_workspace;
  if (workspace != nullptr) {
    if (rows.split_workspace_bytes < bytes)
      return error{"paged_attention: the split workspace holds " +
                   std::to_string(rows.split_workspace_bytes) + " bytes, the launch needs " +
                   std::to_string(bytes)};
  } else {
    cudaMemPool_t pool = workspace_pool();
    if (pool == nullptr || cudaMallocFromPoolAsync(&workspace, static_cast<size_t>(bytes), pool,
                                                   stream) != cudaSuccess) {
      cudaGetLastError();
      return ok_status();
    }
    *owned = workspace;
  }
  const int64_t rows_total = p.num_tokens * p.num_heads;
  p.num_splits = plan.num_splits;
  p.split_keys = plan.split_keys;
  p.part_acc = static_cast<float*>(workspace);
  p.part_ml = p.part_acc + plan.num_splits * rows_total * p.head_dim;
  return ok_status();
}

}  // namespace detail

int64_t attention_split_workspace_bytes(const paged_kv_layout& layout, const attention_rows& rows,
                                        int32_t num_heads) {
  if (rows.num_tokens <= 0 || rows.num_tiles <= 0 || layout.num_kv_heads <= 0 ||
      num_heads % layout.num_kv_heads != 0)
    return 0;
  return detail::plan_launch(layout, rows, num_heads)
      .workspace_bytes(rows, num_heads, layout.head_dim);
}

}  // namespace troupe::kernels::cuda
