#pragma once
// The CUDA compute backend: kernels/cuda and cuBLAS behind compute_backend, on one device and
// one stream. Every op is enqueued on the stream and returns at once; download() waits for the
// stream. Weights are copied to the device as they are stored (dense f32/bf16/f16, W8A8 int8
// with its scales) or generated there (dummy weights); GGUF blocks are repacked on the host for
// the device's loads and stay blocks (kernels/cuda/quant_gemm.hpp). The KV cache is one device
// allocation.
//
//   host (executor thread)                      device (one stream)
//   begin_step: metadata -> pinned -> async copy  embedding, rmsnorm, GEMMs, rope, store_kv,
//   each op: one kernel / cuBLAS call enqueued    paged_attention, ... in call order
//   download: async copy -> pinned, wait          logits of the sampled rows
//
// Numerics against the CPU reference (cpu_backend): rope, store_kv's fp8/bf16/f16 codes, embedding,
// gather, W8A8 and GGUF block GEMMs of up to 32 rows give the same bits; rmsnorm, attention, silu
// and the dense GEMMs the same math summed in another order (f32 within rounding; bf16/f16 weights
// multiply x rounded to 16 bits, vLLM's numerics, where the CPU widens the weights and keeps x in
// f32).
//
// Errors: a CUDA or cuBLAS failure inside an op throws cuda_backend_error (the executor turns it
// into a failed step); create() returns errors as values.
//
// CUDA graphs (enable_graphs): a decode-only step, padded by the forward to one of
// graph_sizes(), replays the kernels captured at the first step of its size; its metadata goes
// to fixed places (block tables padded to a fixed stride, pad rows pointed at a scratch block
// past the cache's blocks) and attention is launched for the longest table that stride allows.
//
// Thread: one thread at a time (the executor's). The header names no CUDA type.
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "runtime/backend/communicator.hpp"
#include "runtime/backend/compute_backend.hpp"
#include "runtime/backend/op_times.hpp"

namespace troupe::backend {

class cuda_backend_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What the backend's CUDA graphs did (cuda_backend::graph_counters).
struct cuda_graph_counters {
  int64_t captures = 0;   // graphs captured (a row count's first step, or after memory moved)
  int64_t replays = 0;    // steps that replayed a graph
  bool disabled = false;  // a capture failed: every step runs eagerly from then on (logged; steps
                          // are still padded to the graph sizes)
};

// One op's device time (cuda_backend::op_times): ops of the same name (matmuls by weight shape)
// summed.
using cuda_op_time = op_time;

// Device memory as cudaMemGetInfo reports it.
struct device_memory {
  int64_t free_bytes = 0;
  int64_t total_bytes = 0;
};

class cuda_backend final : public compute_backend {
 public:
  // A backend on CUDA device `device` (its own stream and cuBLAS handles). comm (borrowed,
  // outlives the backend) is the tensor-parallel group; nullptr means one rank. An error when
  // the device cannot be used.
  static result<std::unique_ptr<cuda_backend>> create(int32_t device, communicator* comm = nullptr);
  ~cuda_backend() override;

  int32_t device() const;
  // The device's memory now (waits for the stream first).
  device_memory memory() const;
  // Bytes this backend holds in weights (device copies, scales and sums included).
  int64_t weight_bytes() const;

  // Replays decode-only steps of up to max_rows rows from CUDA graphs (vLLM's capture sizes:
  // 1, 2, 4, then multiples of 8 up to 256 and of 16 beyond, the last one >= max_rows); 0: every
  // step eager (--enforce-eager). A size is captured at its first step, after that step ran
  // eagerly (which sizes every buffer and workspace, so the capture allocates nothing), and
  // again whenever memory it names has moved.
  void enable_graphs(int32_t max_rows);
  cuda_graph_counters graph_counters() const;

  // Times every op on the device (events around it, read after each download) and logs the
  // totals per op every report_every steps (0: off). Steps run eagerly while it is on (no CUDA
  // graphs: a graph is one launch). For finding where a step's time goes, not for serving.
  void enable_op_timing(int32_t report_every);
  // The totals since the last report, largest first.
  std::vector<cuda_op_time> op_times() const;

  std::string_view name() const override { return "cuda"; }
  weight_handle upload_weight(const weight_desc& desc, weight_data data) override;
  kv_cache_handle allocate_kv_cache(const kv_cache_shape& shape) override;
  void resize_kv_cache(kv_cache_handle cache, int32_t num_blocks) override;
  rope_handle create_rope(const rope_spec& spec) override;
  buffer_handle allocate_buffer() override;
  void reserve(buffer_handle buffer, int64_t num_elements) override;
  void upload_buffer(buffer_handle buffer, std::span<const float> data) override;
  std::span<const float> download(buffer_handle buffer, int64_t n) override;
  void begin_step(const step_metadata& step) override;
  std::span<const int32_t> graph_sizes() const override;
  void run_step(const std::function<void()>& ops) override;

  void embedding(weight_handle table, int64_t first_token, buffer_handle out) override;
  void rmsnorm(buffer_handle x, weight_handle weight, int64_t rows, float eps,
               buffer_handle y) override;
  void add_rmsnorm(buffer_handle residual, buffer_handle x, weight_handle weight, int64_t rows,
                   float eps, buffer_handle y) override;
  void matmul(buffer_handle x, int64_t rows, weight_handle w, buffer_handle y) override;
  // Targets of one stored format share x's rounding (or W8A8 quantization): one kernel for all.
  void matmuls(buffer_handle x, int64_t rows, std::span<const matmul_target> targets) override;
  void add_bias(buffer_handle y, weight_handle bias, int64_t rows) override;
  void rope(rope_handle rope, buffer_handle x, int32_t num_heads) override;
  void store_kv(kv_cache_handle cache, int32_t layer, buffer_handle k, buffer_handle v) override;
  void paged_attention(kv_cache_handle cache, int32_t layer, const attention_params& params,
                       buffer_handle q, buffer_handle out) override;
  void silu_mul(buffer_handle gate, buffer_handle up, int64_t n, buffer_handle out) override;
  void add(buffer_handle y, buffer_handle x, int64_t n) override;
  void gather_sampled_rows(buffer_handle x, int64_t row_size, buffer_handle out) override;
  void argmax_rows(buffer_handle x, int64_t rows, int64_t cols, buffer_handle out) override;
  void sample_rows(buffer_handle logits, int64_t rows, int64_t cols, buffer_handle greedy,
                   buffer_handle out) override;
  void all_reduce(buffer_handle x, int64_t n) override;
  void all_gather_columns(buffer_handle x, int64_t rows, int64_t cols, int64_t out_cols,
                          buffer_handle out) override;

 private:
  struct impl;
  explicit cuda_backend(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

}  // namespace troupe::backend
