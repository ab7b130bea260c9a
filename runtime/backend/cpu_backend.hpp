#pragma once
// The CPU compute backend: kernels/cpu behind compute_backend. Every op runs at once on the
// calling thread and the backend's thread_pool, so download() never waits; weights are adopted
// from the host vectors they arrive in, and download() returns the buffer itself.
//
// The kernels are batch invariant (kernels/cpu/dot.hpp), so a row's results do not depend on the
// step around it, on the thread count, or on the op having gone through this backend: each op
// calls exactly one kernel with the arguments the forward passes (tests/runtime/backend checks
// every op against the bare kernel bitwise).
//
// Thread: one thread at a time (the executor's), which also runs a share of each parallel kernel.
// Not final: tests derive from it to fail an op on purpose.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "kernels/cpu/amx_gemm.hpp"
#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/gemm_w8a8.hpp"
#include "kernels/cpu/panel_gemm.hpp"
#include "kernels/cpu/quant_gemm.hpp"
#include "kernels/cpu/rope.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "runtime/backend/communicator.hpp"
#include "runtime/backend/compute_backend.hpp"
#include "runtime/backend/cpu_kv_cache.hpp"
#include "runtime/backend/op_times.hpp"

namespace troupe::backend {

class cpu_backend : public compute_backend {
 public:
  // requires: num_threads >= 1 (the caller's thread counts as one). comm (borrowed, outlives
  // the backend) is the tensor-parallel group all_reduce() and all_gather_columns() span;
  // nullptr means one rank. `cpus`, when given (one per thread), pins the threads
  // (kernels::cpu::thread_pool): the calling thread to cpus[0].
  explicit cpu_backend(int32_t num_threads, communicator* comm = nullptr,
                       std::vector<int> cpus = {},
                       cpu_activations activations = cpu_activations::f32);

  int32_t num_threads() const { return pool_.num_threads(); }
  cpu_activations activations() const { return activations_; }
  // Whether bf16 weights multiply by amx_gemm here (bf16 activations on a CPU with AMX-BF16 or a
  // full-rate AVX512-BF16: kernels/cpu/amx_gemm.hpp).
  bool uses_bf16_tiles() const;
  // Whether attention over a cache of this shape multiplies in bf16 (kernels/cpu/attention.hpp's
  // attention_products::bf16): bf16 activations over a bf16 cache where bf16_products_preferred.
  bool attention_in_bf16(const kv_cache_shape& shape) const;
  const std::vector<int>& cpus() const { return pool_.cpus(); }
  // Makes `source`'s weights this backend's too, the same memory, read by both (data-parallel
  // engines on one machine hold one copy of the model): handle h here is source's h. Neither
  // backend may upload a weight afterwards. requires: this backend has no weight yet, and the
  // same activations as `source` (its packed forms follow them). Errors: either broken.
  status share_weights_of(const cpu_backend& source);
  // Whether another backend reads these weights too (share_weights_of).
  bool shares_weights() const { return weights_.use_count() > 1; }
  // The storage behind a KV-cache handle (tests, inspection).
  const cpu_kv_cache& kv_cache(kv_cache_handle cache) const { return kv_caches_[cache.id]; }

  // Times every op (wall clock on the calling thread, the pool's work included) and logs the
  // totals per op every report_every steps, as `who` (0: off; op_times.hpp). For finding where
  // a step's time goes, not for serving.
  void enable_op_timing(int32_t report_every, std::string who = "CPU");
  // The totals since the last report, largest first.
  std::vector<op_time> op_times() const { return timing_.totals(); }

  std::string_view name() const override { return "cpu"; }
  weight_handle upload_weight(const weight_desc& desc, weight_data data) override;
  kv_cache_handle allocate_kv_cache(const kv_cache_shape& shape) override;
  void resize_kv_cache(kv_cache_handle cache, int32_t num_blocks) override;
  rope_handle create_rope(const rope_spec& spec) override;
  buffer_handle allocate_buffer() override;
  void reserve(buffer_handle buffer, int64_t num_elements) override;
  void upload_buffer(buffer_handle buffer, std::span<const float> data) override;
  std::span<const float> download(buffer_handle buffer, int64_t n) override;
  void begin_step(const step_metadata& step) override;

  void embedding(weight_handle table, int64_t first_token, buffer_handle out) override;
  void rmsnorm(buffer_handle x, weight_handle weight, int64_t rows, float eps,
               buffer_handle y) override;
  void add_rmsnorm(buffer_handle residual, buffer_handle x, weight_handle weight, int64_t rows,
                   float eps, buffer_handle y) override;
  void matmul(buffer_handle x, int64_t rows, weight_handle w, buffer_handle y) override;
  void matmuls(buffer_handle x, int64_t rows, std::span<const matmul_target> targets) override;
  void add_bias(buffer_handle y, weight_handle bias, int64_t rows) override;
  void rope(rope_handle rope, buffer_handle x, int32_t num_heads) override;
  void store_kv(kv_cache_handle cache, int32_t layer, buffer_handle k, buffer_handle v) override;
  void paged_attention(kv_cache_handle cache, int32_t layer, const attention_params& params,
                       buffer_handle q, buffer_handle out) override;
  void silu_mul(buffer_handle gate, buffer_handle up, int64_t n, buffer_handle out) override;
  void silu_mul_matmul(buffer_handle gate, buffer_handle up, int64_t rows, int64_t in,
                       weight_handle w, buffer_handle y) override;
  void add(buffer_handle y, buffer_handle x, int64_t n) override;
  void gather_sampled_rows(buffer_handle x, int64_t row_size, buffer_handle out) override;
  void argmax_rows(buffer_handle x, int64_t rows, int64_t cols, buffer_handle out) override;
  void sample_rows(buffer_handle logits, int64_t rows, int64_t cols, buffer_handle greedy,
                   buffer_handle out) override;
  void all_reduce(buffer_handle x, int64_t n) override;
  void all_gather_columns(buffer_handle x, int64_t rows, int64_t cols, int64_t out_cols,
                          buffer_handle out) override;

 private:
  struct weight {
    weight_desc desc;
    weight_data data;
    std::vector<int32_t> row_sums;  // w8a8 formats: kernels/cpu/gemm_w8a8's per-row sums
    // w8a8 formats on an AMX CPU: the rows regrouped once into AMX tiles (data.bytes is then
    // empty; data.scales stays).
    std::shared_ptr<const kernels::cpu::w8a8_tiles> w8a8_tiles;
    // Block formats (q8_0 ... q6_k): the rows packed once (data.bytes is then empty).
    std::shared_ptr<const kernels::cpu::quant_packed_weight> packed;
    // Dense matrices (f32 / bf16 / f16, more than one row): column panels for panel_gemm
    // (data.values / data.bytes are then empty). Norms and biases stay in data.values.
    std::shared_ptr<const kernels::cpu::panel_weight> panels;
    // bf16 matrices under bf16 activations on an AMX CPU: AMX tiles instead of panels.
    std::shared_ptr<const kernels::cpu::amx_weight> tiles;
    // An f32 weight's values (norms, biases, f32 matrices).
    const float* f32() const { return data.values.data(); }
  };
  struct rope_state {
    kernels::cpu::rope_table table;
    kernels::cpu::rope_layout layout;
  };

  const weight& get(weight_handle w) const;
  float* get(buffer_handle b, int64_t min_size);
  cpu_kv_cache& get(kv_cache_handle c);

  // Brackets an op for op timing; name() runs only when timing is on.
  template <class Name>
  op_time_totals::wall_clock timed(Name name) {
    return timing_.time(name);
  }

  // Whether w multiplies x rounded to bf16 (a bf16 weight under bf16 activations).
  bool rounds_activations(const weight& w) const;
  // x ([n] values) as w multiplies it on panels: xs itself, or xs rounded to bf16 in rounded_x_.
  const float* activations_for(const weight& w, const float* xs, int64_t n);

  kernels::cpu::thread_pool pool_;
  communicator* comm_;
  cpu_activations activations_;
  std::vector<float> rounded_x_;
  // Shared with the backends that share_weights_of this one (or the one this one shares).
  std::shared_ptr<std::vector<weight>> weights_ = std::make_shared<std::vector<weight>>();
  std::vector<std::vector<float>> buffers_;
  std::vector<cpu_kv_cache> kv_caches_;
  std::vector<kv_cache_shape> kv_shapes_;  // what each cache was allocated with
  std::vector<rope_state> ropes_;
  std::vector<float> gathered_;  // all_gather_columns' [world][rows][cols] before reordering
  op_time_totals timing_;
  std::string timing_who_;

  // The current step, as the kernels read it: the uploaded metadata, and each row's location
  // (position + a pointer to its sequence's table in block_tables_).
  step_metadata step_;
  std::vector<kernels::cpu::token_location> locations_;
};

}  // namespace troupe::backend
