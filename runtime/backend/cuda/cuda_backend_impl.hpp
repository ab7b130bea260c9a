#pragma once
// cuda_backend's state and the helpers its two source files share (cuda_backend.cpp: memory and
// the step's metadata; cuda_backend_ops.cpp: the ops). Internal to runtime/backend/cuda.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cassert>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kernels/cpu/quant_gemm.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cuda/attention.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/gemm.hpp"
#include "kernels/cuda/random.hpp"
#include "kernels/cuda/rmsnorm.hpp"
#include "kernels/cuda/rope.hpp"
#include "kernels/cuda/sampling.hpp"
#include "runtime/backend/cpu_weight_formats.hpp"
#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/backend/cuda/cuda_op_timing.hpp"

namespace troupe::backend {

namespace cu = kernels::cuda;

namespace cuda_detail {

inline void check(const status& st) {
  if (!st.ok()) throw cuda_backend_error(st.message());
}

#define CUDA_OR_THROW(expr) check(CUDA_CHECK(expr))

// Device memory, freed with cudaFree (which waits for the device) when dropped.
struct device_free {
  void operator()(void* p) const { cudaFree(p); }
};
using device_ptr = std::unique_ptr<void, device_free>;

inline device_ptr device_alloc(int64_t bytes) {
  void* p = nullptr;
  if (bytes > 0) CUDA_OR_THROW(cudaMalloc(&p, static_cast<size_t>(bytes)));
  return device_ptr(p);
}

// Page-locked host memory (async copies to and from it), grown on demand.
class pinned_buffer {
 public:
  pinned_buffer() = default;
  pinned_buffer(const pinned_buffer&) = delete;
  pinned_buffer& operator=(const pinned_buffer&) = delete;
  ~pinned_buffer() { cudaFreeHost(ptr_); }
  void* reserve(int64_t bytes) {
    if (bytes > capacity_) {
      cudaFreeHost(ptr_);
      ptr_ = nullptr;
      capacity_ = 0;
      CUDA_OR_THROW(cudaMallocHost(&ptr_, static_cast<size_t>(bytes)));
      capacity_ = bytes;
    }
    return ptr_;
  }
  void* get() const { return ptr_; }

 private:
  void* ptr_ = nullptr;
  int64_t capacity_ = 0;
};

inline cu::dense_type dense_type_of(weight_format f) {
  switch (f) {
    case weight_format::bf16:
      return cu::dense_type::bf16;
    case weight_format::f16:
      return cu::dense_type::f16;
    default:
      return cu::dense_type::f32;
  }
}

inline cu::kv_type kv_type_of(kv_cache_dtype d) {
  switch (d) {
    case kv_cache_dtype::fp8_e4m3:
      return cu::kv_type::fp8_e4m3;
    case kv_cache_dtype::fp8_e5m2:
      return cu::kv_type::fp8_e5m2;
    case kv_cache_dtype::bf16:
      return cu::kv_type::bf16;
    case kv_cache_dtype::f16:
      return cu::kv_type::f16;
    default:
      return cu::kv_type::f32;
  }
}

inline kernels::cpu::rope_table make_table(const rope_spec& spec) {
  if (spec.inv_freq.empty()) return {spec.head_dim, spec.theta};
  return {spec.inv_freq, spec.magnitude};
}

inline float scale_of(const std::vector<float>& scales, int32_t layer) {
  return scales.empty() ? 1.0f : scales[static_cast<size_t>(layer)];
}

}  // namespace cuda_detail

// cuda_backend.cpp, cuda_backend_ops.cpp and the state below use the helpers unqualified.
using cuda_detail::check;
using cuda_detail::dense_type_of;
using cuda_detail::device_alloc;
using cuda_detail::device_ptr;
using cuda_detail::kv_type_of;
using cuda_detail::make_table;
using cuda_detail::pinned_buffer;
using cuda_detail::scale_of;

struct cuda_backend::impl {
  // A weight on the device: dense values (f32 / bf16 / f16), GGUF blocks in kernels/cuda's
  // packed layout (quant_gemm.hpp), or W8A8 int8 rows with their f32 scales and int32 row sums.
  struct weight {
    weight_desc desc;
    weight_format stored = weight_format::f32;
    device_ptr data, scales, row_sums;
    int64_t bytes = 0;
    const float* f32() const { return static_cast<const float*>(data.get()); }
    // GGUF blocks: their format (the data is packed, quant_gemm.hpp); nullopt otherwise.
    std::optional<kernels::cpu::block_format> block() const { return cpu_block_format(stored); }
    const uint32_t* packed() const { return static_cast<const uint32_t*>(data.get()); }
  };
  struct buffer {
    device_ptr data;
    int64_t capacity = 0;  // elements
  };
  // shape.num_blocks blocks for the block tables, then one more (pad_block) that pad rows of a
  // padded decode step write and read.
  struct kv_cache {
    kv_cache_shape shape;
    device_ptr storage;  // per layer: keys then values, each (num_blocks + 1) * block stride
    int32_t pad_block() const { return shape.num_blocks; }
    int64_t layer_bytes() const {
      return (int64_t{shape.num_blocks} + 1) * shape.block_size * shape.num_kv_heads *
             shape.head_dim * kv_cache_element_bytes(shape.dtype);
    }
    cu::kv_cache_layer layer(int32_t l) const {
      auto* base = static_cast<char*>(storage.get());
      const int64_t bytes = layer_bytes();
      return {base + 2 * l * bytes, base + (2 * l + 1) * bytes, kv_type_of(shape.dtype),
              scale_of(shape.k_scales, l), scale_of(shape.v_scales, l)};
    }
    cu::paged_kv_layout layout() const {
      return {shape.block_size, shape.num_kv_heads, shape.head_dim};
    }
  };
  struct rope_state {
    kernels::cpu::rope_table table;
    cu::rope_layout layout;
    device_ptr cos, sin;
    int32_t uploaded = 0;  // positions on the device
  };
  // The step's metadata in one device array (offsets in int32 elements; `sampling` holds
  // sampling_words per sampled row, every row greedy where the step has none).
  struct step_arrays {
    int64_t token_ids = 0, positions = 0, token_seqs = 0, block_tables = 0, table_offsets = 0,
            sample_rows = 0, sampling = 0, query_tiles = 0, total = 0;
  };
  static constexpr int64_t sampling_words = sizeof(kernels::cpu::sampling_row) / sizeof(int32_t);
  // Writes the step's sampling rows (defaults where it has none) at host + offset.
  void put_sampling(int32_t* host, int64_t offset) const;
  // A captured decode step of some row count, valid while the memory it names stays put.
  struct graph {
    cudaGraphExec_t exec = nullptr;
    uint64_t generation = 0;
  };

  int32_t device = 0;
  communicator* comm = nullptr;
  cudaStream_t stream = nullptr;
  cudaEvent_t staged = nullptr;  // the last metadata copy out of `staging` has finished
  std::unique_ptr<cu::gemm_engine> gemm;

  std::vector<weight> weights;
  std::vector<buffer> buffers;
  std::vector<kv_cache> caches;
  std::vector<rope_state> ropes;
  int64_t weight_bytes = 0;

  step_metadata step;
  step_arrays offsets;
  int32_t num_tiles = 0;
  int32_t max_position = 0;
  const int32_t* meta = nullptr;  // the step's arrays: step_data, or graph_data (graph steps)
  device_ptr step_data;
  int64_t step_capacity = 0;  // int32 elements
  pinned_buffer staging, host_out;
  // The step's logit edits (sample_rows runs after a replayed step, so they need no fixed place)
  // and the edited rows' logits.
  device_ptr edits_data, processed;
  int64_t edits_capacity = 0, processed_capacity = 0;  // edits, floats
  device_ptr gathered;                                 // all_gather_columns' [world][rows][cols]
  int64_t gathered_capacity = 0;

  // CUDA graphs of decode steps (cuda_backend_graphs.cpp). Graph steps lay their metadata out
  // at fixed places in graph_data (block tables table_stride entries per sequence) and pass
  // attention a fixed max_position and their own split workspace, so one capture per row count
  // serves every later step of that count. `moves` counts every reallocation of memory an op
  // names (buffers, KV cache, RoPE tables, workspaces): a graph captured before one is stale.
  std::vector<int32_t> graph_sizes;  // ascending; empty: every step eager
  std::map<int32_t, graph> graphs;   // by row count
  uint64_t moves = 0;
  int32_t table_stride = 0;
  device_ptr graph_data;
  int64_t graph_capacity = 0;  // int32 elements
  device_ptr split_workspace;
  int64_t split_workspace_bytes = 0;
  cuda_graph_counters graph_counters;
  cuda_detail::op_timing timing;

  // Brackets an op for op timing; name() runs only when timing is on.
  template <class Name>
  cuda_detail::op_timing::scope timed(Name name) {
    return timing.time(name, stream);
  }

  ~impl() {
    cudaSetDevice(device);
    if (stream != nullptr) cudaStreamSynchronize(stream);
    for (auto& entry : graphs)
      if (entry.second.exec != nullptr) cudaGraphExecDestroy(entry.second.exec);
    gemm.reset();
    if (staged != nullptr) cudaEventDestroy(staged);
    // Device memory goes with the members (cudaFree); the stream last.
    weights.clear();
    buffers.clear();
    caches.clear();
    ropes.clear();
    step_data.reset();
    gathered.reset();
    graph_data.reset();
    split_workspace.reset();
    if (stream != nullptr) cudaStreamDestroy(stream);
  }

  void make_current() const { CUDA_OR_THROW(cudaSetDevice(device)); }

  const weight& get(weight_handle w) const {
    assert(w.valid() && w.id < static_cast<int32_t>(weights.size()));
    return weights[static_cast<size_t>(w.id)];
  }
  float* get(buffer_handle b, int64_t min_size) {
    assert(b.valid() && b.id < static_cast<int32_t>(buffers.size()));
    assert(buffers[static_cast<size_t>(b.id)].capacity >= min_size);
    (void)min_size;
    return static_cast<float*>(buffers[static_cast<size_t>(b.id)].data.get());
  }
  kv_cache& get(kv_cache_handle c) {
    assert(c.valid() && c.id < static_cast<int32_t>(caches.size()));
    return caches[static_cast<size_t>(c.id)];
  }
  const int32_t* step_array(int64_t offset) const { return meta + offset; }
  bool graph_step() const { return step.graph_rows > 0 && !graph_sizes.empty(); }
  // Changes whenever memory a captured step may name moves.
  uint64_t generation() const { return moves + gemm->generation(); }
  // device_alloc for memory the ops name (counted in `moves`).
  device_ptr op_alloc(int64_t bytes) {
    ++moves;
    return device_alloc(bytes);
  }
  cu::attention_rows attention_rows() const {
    cu::attention_rows rows;
    rows.positions = step_array(offsets.positions);
    rows.token_seqs = step_array(offsets.token_seqs);
    rows.block_tables = step_array(offsets.block_tables);
    rows.table_offsets = step_array(offsets.table_offsets);
    rows.query_tiles = step_array(offsets.query_tiles);
    rows.num_tokens = step.num_tokens();
    rows.num_tiles = num_tiles;
    rows.max_position = max_position;
    return rows;
  }

  void upload(void* dst, const void* src, int64_t bytes) {
    if (bytes > 0) {
      CUDA_OR_THROW(
          cudaMemcpyAsync(dst, src, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, stream));
    }
  }

  weight upload_weight(const weight_desc& desc, weight_data data);
  void random_weight(weight& w, const random_fill& fill);
  void upload_rope_table(rope_state& r, int32_t num_positions);
  // Puts a graph step's metadata at its fixed places in graph_data (cuda_backend_graphs.cpp).
  void stage_graph_step();
  // Copies the `total` int32s staged at `host` to `device` (the pinned staging buffer is reused
  // once the previous step's copy has left it).
  int32_t* staging_area(int64_t total);
  // Uploads step.edits to edits_data (grown by doubling).
  void stage_edits();
  void upload_staged(void* device, int64_t total);
  // Grows the split workspace of graph steps' attention to `bytes`.
  void reserve_split_workspace(int64_t bytes);
  // Captures ops() as the graph of `rows`-row steps; on a failure, turns captures off (logged).
  void capture(int32_t rows, const std::function<void()>& ops);
  void disable_graphs(const std::string& why);
};

}  // namespace troupe::backend
