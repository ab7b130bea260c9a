// cuda_backend's CUDA graphs: decode-only steps padded to a few sizes replay the kernels captured
// at the first step of their size.
//
//   step of T decode rows ─ forward pads to B >= T (graph_sizes) ─ begin_step: metadata to
//   graph_data's fixed places ─ run_step: graph of B valid? replay : run eagerly, then capture
//
// What a capture bakes in, and how it stays true:
//   pointers (buffers, weights, KV cache, RoPE tables, gemm scratch, split workspace, graph_data)
//       every reallocation counts in generation(); a graph of another generation is recaptured
//   sizes (rows, tiles, sampled rows)            fixed by the padding: B rows, B one-row tiles
//   attention's key splits (from max_position)   max_position = the longest sequence the block
//       tables' stride holds; a longer table doubles the stride (a new generation)
//   block tables                                 table_stride entries per row, the unused ones
//       and the pad rows' pointing at the cache's pad block, so every read is of a real block
#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>

#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/backend/cuda/cuda_backend_impl.hpp"

namespace troupe::backend {

namespace {

// vLLM's CUDA graph capture sizes: 1, 2, 4, multiples of 8 below 256, then of 16; the last one
// the first >= max_rows.
std::vector<int32_t> capture_sizes(int32_t max_rows) {
  std::vector<int32_t> sizes;
  for (int32_t size = 1; max_rows > 0;) {
    sizes.push_back(size);
    if (size >= max_rows) break;
    size = size < 8 ? size * 2 : size < 256 ? size + 8 : size + 16;
  }
  return sizes;
}

// Block-table entries per sequence of a graph step: a power of two, at least 16.
constexpr int32_t min_table_stride = 16;

}  // namespace

void cuda_backend::enable_graphs(int32_t max_rows) {
  impl_->graph_sizes = impl_->timing.enabled() ? std::vector<int32_t>{} : capture_sizes(max_rows);
}

std::span<const int32_t> cuda_backend::graph_sizes() const {
  return impl_->graph_sizes;
}

cuda_graph_counters cuda_backend::graph_counters() const {
  return impl_->graph_counters;
}

void cuda_backend::impl::stage_graph_step() {
  assert(caches.size() == 1 && "graph steps read the forward's one KV cache");
  assert(step.num_tokens() == step.graph_rows && step.num_sampled() == step.graph_rows);
  const auto& cache = caches.front();
  const int64_t B = step.graph_rows;
  int32_t longest = 0;
  for (int64_t r = 0; r < B; ++r)
    longest = std::max(longest, step.table_offsets[r + 1] - step.table_offsets[r]);
  if (longest > table_stride || table_stride == 0) {
    // Captured attention launches were sized for the old stride.
    table_stride = std::bit_ceil(static_cast<uint32_t>(std::max(longest, min_table_stride)));
    ++moves;
  }
  num_tiles = static_cast<int32_t>(B);
  max_position = table_stride * cache.shape.block_size - 1;

  auto& o = offsets;
  o.token_ids = 0;
  o.positions = B;
  o.token_seqs = 2 * B;
  o.sample_rows = 3 * B;
  o.query_tiles = 4 * B;
  o.table_offsets = 6 * B;
  o.sampling = 7 * B + 1;
  o.block_tables = o.sampling + sampling_words * B;
  o.total = o.block_tables + B * table_stride;
  if (o.total > graph_capacity) {
    graph_data.reset();
    graph_data = op_alloc(o.total * int64_t{sizeof(int32_t)});
    graph_capacity = o.total;
  }
  int32_t* host = staging_area(o.total);
  std::copy(step.token_ids.begin(), step.token_ids.end(), host + o.token_ids);
  std::copy(step.positions.begin(), step.positions.end(), host + o.positions);
  std::copy(step.token_seqs.begin(), step.token_seqs.end(), host + o.token_seqs);
  std::copy(step.sample_rows.begin(), step.sample_rows.end(), host + o.sample_rows);
  put_sampling(host, o.sampling);
  for (int64_t r = 0; r < B; ++r) {
    host[o.query_tiles + 2 * r] = static_cast<int32_t>(r);
    host[o.query_tiles + 2 * r + 1] = 1;
    host[o.table_offsets + r] = static_cast<int32_t>(r) * table_stride;
    int32_t* table = host + o.block_tables + r * table_stride;
    const auto first = step.block_tables.begin() + step.table_offsets[r];
    const auto last = step.block_tables.begin() + step.table_offsets[r + 1];
    std::fill(std::copy(first, last, table), table + table_stride, cache.pad_block());
  }
  host[o.table_offsets + B] = static_cast<int32_t>(B) * table_stride;
  upload_staged(graph_data.get(), o.total);
  meta = static_cast<const int32_t*>(graph_data.get());
}

void cuda_backend::impl::reserve_split_workspace(int64_t bytes) {
  if (bytes <= split_workspace_bytes) return;
  split_workspace.reset();
  split_workspace_bytes = 0;
  split_workspace = op_alloc(bytes);
  split_workspace_bytes = bytes;
}

void cuda_backend::run_step(const std::function<void()>& ops) {
  auto& s = *impl_;
  if (!s.graph_step()) {
    ops();
    return;
  }
  const int32_t rows = s.step.graph_rows;
  if (s.graph_counters.disabled) {
    ops();  // still padded (the forward's choice, the same at every rank), only not captured
    return;
  }
  const auto found = s.graphs.find(rows);
  if (found != s.graphs.end() && found->second.generation == s.generation()) {
    CUDA_OR_THROW(cudaGraphLaunch(found->second.exec, s.stream));
    ++s.graph_counters.replays;
    return;
  }
  // The first step of this size since memory last moved runs eagerly (growing whatever it
  // needs), then the same ops are captured for the next ones: the capture only records.
  ops();
  s.capture(rows, ops);
}

void cuda_backend::impl::capture(int32_t rows, const std::function<void()>& ops) {
  if (auto found = graphs.find(rows); found != graphs.end()) {
    CUDA_OR_THROW(cudaGraphExecDestroy(found->second.exec));
    graphs.erase(found);
  }
  const uint64_t before = generation();
  CUDA_OR_THROW(cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed));
  std::string failure;
  try {
    ops();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  cudaGraph_t recorded = nullptr;
  const cudaError_t ended = cudaStreamEndCapture(stream, &recorded);
  if (failure.empty() && ended != cudaSuccess) failure = cudaGetErrorString(ended);
  if (failure.empty() && generation() != before)
    failure = "memory the ops name moved while they were captured";
  cudaGraphExec_t exec = nullptr;
  if (failure.empty()) {
    if (const cudaError_t made = cudaGraphInstantiate(&exec, recorded, 0); made != cudaSuccess)
      failure = cudaGetErrorString(made);
  }
  if (recorded != nullptr) cudaGraphDestroy(recorded);
  if (!failure.empty()) {
    cudaGetLastError();  // the failed capture's error is not a later op's
    disable_graphs("capturing the decode step of " + std::to_string(rows) +
                   " rows failed: " + failure);
    return;
  }
  graphs[rows] = {exec, before};
  ++graph_counters.captures;
  spdlog::debug("CUDA device {}: captured the decode step of {} rows", device, rows);
}

void cuda_backend::impl::disable_graphs(const std::string& why) {
  spdlog::warn("CUDA device {}: {}; every step runs eagerly from now on", device, why);
  for (auto& entry : graphs)
    cudaGraphExecDestroy(entry.second.exec);
  graphs.clear();
  // graph_sizes stay: decode steps are still padded to them, so that every rank of a
  // tensor-parallel group keeps running the same shapes whichever rank's capture failed.
  graph_counters.disabled = true;
}

}  // namespace troupe::backend
