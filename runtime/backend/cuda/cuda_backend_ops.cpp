// cuda_backend's ops: each one kernels/cuda or gemm_engine call on the backend's stream, with the
// sizes taken from the weights, the KV cache and the current step.
#include <algorithm>
#include <cassert>
#include <string>
#include <vector>

#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/backend/cuda/cuda_backend_impl.hpp"

namespace troupe::backend {

// -- ops --

void cuda_backend::embedding(weight_handle table, int64_t first_token, buffer_handle out) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("embedding"); });
  const auto& w = s.get(table);
  if (is_w8a8_format(w.stored)) {
    throw cuda_backend_error("an int8 (W8A8) embedding table is not supported on the GPU");
  }
  const int64_t T = s.step.num_tokens();
  if (const auto block = w.block()) {
    check(cu::quant_embedding(*block, w.packed(), w.desc.rows, w.desc.cols, first_token,
                              s.step_array(s.offsets.token_ids), T, s.get(out, T * w.desc.cols),
                              s.stream));
    return;
  }
  check(cu::embedding(w.data.get(), dense_type_of(w.stored), w.desc.rows, w.desc.cols, first_token,
                      s.step_array(s.offsets.token_ids), T, s.get(out, T * w.desc.cols), s.stream));
}

void cuda_backend::rmsnorm(buffer_handle x, weight_handle weight, int64_t rows, float eps,
                           buffer_handle y) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("rmsnorm"); });
  const auto& w = s.get(weight);
  const int64_t n = rows * w.desc.cols;
  check(cu::rmsnorm(s.get(x, n), w.f32(), rows, w.desc.cols, eps, s.get(y, n), s.stream));
}

void cuda_backend::add_rmsnorm(buffer_handle residual, buffer_handle x, weight_handle weight,
                               int64_t rows, float eps, buffer_handle y) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("add_rmsnorm"); });
  const auto& w = s.get(weight);
  const int64_t n = rows * w.desc.cols;
  check(cu::add_rmsnorm(s.get(residual, n), s.get(x, n), w.f32(), rows, w.desc.cols, eps,
                        s.get(y, n), s.stream));
}

void cuda_backend::matmul(buffer_handle x, int64_t rows, weight_handle w, buffer_handle y) {
  auto& s = *impl_;
  const auto& wt = s.get(w);
  const auto timed = s.timed([&] {
    const int64_t out_rows[] = {wt.desc.rows};
    return matmul_op_name("matmul", wt.stored, out_rows, wt.desc.cols);
  });
  assert(x.id != y.id);
  const int64_t in = wt.desc.cols, out = wt.desc.rows;
  const float* xs = s.get(x, rows * in);
  float* ys = s.get(y, rows * out);
  if (const auto block = wt.block()) {
    const cu::quant_target target{wt.packed(), out, ys};
    check(s.gemm->quant(xs, rows, in, *block, &target, 1));
  } else if (is_w8a8_format(wt.stored)) {
    check(s.gemm->w8a8(xs, rows, in, static_cast<const int8_t*>(wt.data.get()),
                       static_cast<const float*>(wt.scales.get()),
                       static_cast<const int32_t*>(wt.row_sums.get()), out,
                       wt.stored == weight_format::w8a8_azp, ys));
  } else {
    check(s.gemm->dense(xs, rows, in, wt.data.get(), dense_type_of(wt.stored), out, ys));
  }
}

void cuda_backend::matmuls(buffer_handle x, int64_t rows, std::span<const matmul_target> targets) {
  auto& s = *impl_;
  if (targets.empty()) return;
  const auto& first = s.get(targets.front().w);
  const bool shared = std::all_of(targets.begin(), targets.end(), [&](const matmul_target& t) {
    const auto& w = s.get(t.w);
    return w.stored == first.stored && w.desc.cols == first.desc.cols && t.y.id != x.id;
  });
  if (!shared || targets.size() == 1) {
    compute_backend::matmuls(x, rows, targets);
    return;
  }
  const auto timed = s.timed([&] {
    std::vector<int64_t> out_rows;
    for (const auto& t : targets)
      out_rows.push_back(s.get(t.w).desc.rows);
    return matmul_op_name("matmuls", first.stored, out_rows, first.desc.cols);
  });
  const int64_t in = first.desc.cols;
  const float* xs = s.get(x, rows * in);
  if (const auto block = first.block()) {
    std::vector<cu::quant_target> blocks;
    for (const auto& t : targets) {
      const auto& w = s.get(t.w);
      blocks.push_back({w.packed(), w.desc.rows, s.get(t.y, rows * w.desc.rows)});
    }
    check(s.gemm->quant(xs, rows, in, *block, blocks.data(), static_cast<int64_t>(blocks.size())));
  } else if (is_w8a8_format(first.stored)) {
    std::vector<cu::w8a8_target> w8;
    for (const auto& t : targets) {
      const auto& w = s.get(t.w);
      w8.push_back({static_cast<const int8_t*>(w.data.get()),
                    static_cast<const float*>(w.scales.get()),
                    static_cast<const int32_t*>(w.row_sums.get()), w.desc.rows,
                    s.get(t.y, rows * w.desc.rows)});
    }
    check(s.gemm->w8a8(xs, rows, in, first.stored == weight_format::w8a8_azp, w8.data(),
                       static_cast<int64_t>(w8.size())));
  } else {
    std::vector<cu::dense_target> dense;
    for (const auto& t : targets) {
      const auto& w = s.get(t.w);
      dense.push_back({w.data.get(), w.desc.rows, s.get(t.y, rows * w.desc.rows)});
    }
    check(s.gemm->dense(xs, rows, in, dense_type_of(first.stored), dense.data(),
                        static_cast<int64_t>(dense.size())));
  }
}

void cuda_backend::add_bias(buffer_handle y, weight_handle bias, int64_t rows) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("add_bias"); });
  const auto& b = s.get(bias);
  check(cu::add_bias(s.get(y, rows * b.desc.cols), b.f32(), rows, b.desc.cols, s.stream));
}

void cuda_backend::rope(rope_handle rope, buffer_handle x, int32_t num_heads) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("rope"); });
  const auto& r = s.ropes[static_cast<size_t>(rope.id)];
  const int32_t head_dim = 2 * r.table.num_pairs();
  const int64_t T = s.step.num_tokens();
  check(cu::rope(static_cast<const float*>(r.cos.get()), static_cast<const float*>(r.sin.get()),
                 r.layout, s.step_array(s.offsets.positions), T, num_heads, head_dim,
                 s.get(x, T * num_heads * head_dim), s.stream));
}

void cuda_backend::store_kv(kv_cache_handle cache, int32_t layer, buffer_handle k,
                            buffer_handle v) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("store_kv"); });
  const auto& c = s.get(cache);
  const int64_t n = s.step.num_tokens() * c.shape.num_kv_heads * c.shape.head_dim;
  check(cu::store_kv(c.layout(), s.attention_rows(), s.get(k, n), s.get(v, n), c.layer(layer),
                     s.stream));
}

void cuda_backend::paged_attention(kv_cache_handle cache, int32_t layer,
                                   const attention_params& params, buffer_handle q,
                                   buffer_handle out) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("paged_attention"); });
  const auto& c = s.get(cache);
  const int64_t n = s.step.num_tokens() * params.num_heads * c.shape.head_dim;
  auto rows = s.attention_rows();
  if (s.graph_step()) {
    // A captured launch cannot take its workspace from the pool: graph steps bring their own.
    s.reserve_split_workspace(
        cu::attention_split_workspace_bytes(c.layout(), rows, params.num_heads));
    rows.split_workspace = s.split_workspace.get();
    rows.split_workspace_bytes = s.split_workspace_bytes;
  }
  check(cu::paged_attention(c.layout(), rows, params.num_heads, params.scale, params.sliding_window,
                            s.get(q, n), c.layer(layer), s.get(out, n), s.stream));
}

void cuda_backend::silu_mul(buffer_handle gate, buffer_handle up, int64_t n, buffer_handle out) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("silu_mul"); });
  check(cu::silu_mul(s.get(gate, n), s.get(up, n), n, s.get(out, n), s.stream));
}

void cuda_backend::add(buffer_handle y, buffer_handle x, int64_t n) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("add"); });
  check(cu::add(s.get(y, n), s.get(x, n), n, s.stream));
}

void cuda_backend::gather_sampled_rows(buffer_handle x, int64_t row_size, buffer_handle out) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("gather_sampled_rows"); });
  const int64_t S = s.step.num_sampled();
  check(cu::gather_rows(s.get(x, s.step.num_tokens() * row_size), row_size,
                        s.step_array(s.offsets.sample_rows), S, s.get(out, S * row_size),
                        s.stream));
}

void cuda_backend::argmax_rows(buffer_handle x, int64_t rows, int64_t cols, buffer_handle out) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("argmax_rows"); });
  check(cu::argmax_rows(s.get(x, rows * cols), rows, cols, s.get(out, rows), s.stream));
}

void cuda_backend::sample_rows(buffer_handle logits, int64_t rows, int64_t cols,
                               buffer_handle greedy, buffer_handle out) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("sample_rows"); });
  assert(rows == s.step.num_sampled());
  const auto* params =
      reinterpret_cast<const kernels::cpu::sampling_row*>(s.step_array(s.offsets.sampling));
  const float* x = s.get(logits, rows * cols);
  float* processed = nullptr;
  if (const auto n = static_cast<int64_t>(s.step.edits.size()); n > 0) {
    // Never captured (sample_rows runs after run_step), so it may allocate.
    if (rows * cols > s.processed_capacity) {
      s.processed_capacity = std::max(rows * cols, 2 * s.processed_capacity);
      s.processed.reset();
      s.processed = device_alloc(s.processed_capacity * int64_t{sizeof(float)});
    }
    processed = static_cast<float*>(s.processed.get());
    check(cu::apply_logit_edits(x, rows, cols, params,
                                static_cast<const kernels::cpu::logit_edit*>(s.edits_data.get()), n,
                                processed, s.stream));
  }
  const int32_t top = s.step.max_top_logprobs;
  check(cu::sample_rows(x, processed, rows, cols, params, top, s.get(greedy, rows),
                        s.get(out, 2 * rows * (1 + int64_t{top})), s.stream));
}

void cuda_backend::all_reduce(buffer_handle x, int64_t n) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("all_reduce"); });
  if (s.comm == nullptr || s.comm->world_size() == 1) return;
  s.comm->all_reduce_sum(s.get(x, n), n);
}

void cuda_backend::all_gather_columns(buffer_handle x, int64_t rows, int64_t cols, int64_t out_cols,
                                      buffer_handle out) {
  auto& s = *impl_;
  const auto timed = s.timed([] { return std::string("all_gather_columns"); });
  const int32_t world = s.comm == nullptr ? 1 : s.comm->world_size();
  assert(out_cols <= world * cols);
  const float* src = s.get(x, rows * cols);
  float* dst = s.get(out, rows * out_cols);
  if (world > 1) {
    const int64_t n = world * rows * cols;
    if (n > s.gathered_capacity) {
      s.gathered.reset();
      s.gathered = s.op_alloc(n * int64_t{sizeof(float)});
      s.gathered_capacity = n;
    }
    s.comm->all_gather(src, rows * cols, static_cast<float*>(s.gathered.get()));
  }
  // gathered [world][rows][cols] -> out [rows][out_cols], one strided copy per rank.
  for (int32_t k = 0; k < world; ++k) {
    const float* block =
        world > 1 ? static_cast<const float*>(s.gathered.get()) + k * rows * cols : src;
    const int64_t width = std::min(cols, out_cols - k * cols);
    if (width <= 0 || rows == 0) continue;
    CUDA_OR_THROW(cudaMemcpy2DAsync(dst + k * cols, out_cols * sizeof(float), block,
                                    cols * sizeof(float), width * sizeof(float), rows,
                                    cudaMemcpyDeviceToDevice, s.stream));
  }
}

}  // namespace troupe::backend
