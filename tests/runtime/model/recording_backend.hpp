#pragma once
// A compute_backend that forwards every call to a cpu_backend and records the op's name (and its
// layer, for the KV ops), to test what a forward asks of its backend and in which order.
#include <memory>
#include <string>
#include <vector>

#include "runtime/backend/cpu_backend.hpp"

namespace troupe::testing {

class recording_backend final : public backend::compute_backend {
 public:
  explicit recording_backend(int32_t num_threads) : inner_(num_threads) {}

  // Ops since the last clear(), e.g. "begin_step", "store_kv 0", "paged_attention 0".
  std::vector<std::string> ops;
  std::vector<int64_t> downloaded;  // each download's value count

  std::string_view name() const override { return "recording"; }
  backend::weight_handle upload_weight(const backend::weight_desc& d,
                                       backend::weight_data data) override {
    return inner_.upload_weight(d, std::move(data));
  }
  backend::kv_cache_handle allocate_kv_cache(const backend::kv_cache_shape& s) override {
    return inner_.allocate_kv_cache(s);
  }
  void resize_kv_cache(backend::kv_cache_handle c, int32_t num_blocks) override {
    inner_.resize_kv_cache(c, num_blocks);
  }
  backend::rope_handle create_rope(const backend::rope_spec& s) override {
    return inner_.create_rope(s);
  }
  backend::buffer_handle allocate_buffer() override { return inner_.allocate_buffer(); }
  void reserve(backend::buffer_handle b, int64_t n) override { inner_.reserve(b, n); }
  void upload_buffer(backend::buffer_handle b, std::span<const float> d) override {
    inner_.upload_buffer(b, d);
  }
  std::span<const float> download(backend::buffer_handle b, int64_t n) override {
    ops.push_back("download");
    downloaded.push_back(n);
    return inner_.download(b, n);
  }
  void begin_step(const backend::step_metadata& s) override {
    ops.push_back("begin_step");
    inner_.begin_step(s);
  }
  void embedding(backend::weight_handle t, int64_t first, backend::buffer_handle o) override {
    ops.push_back("embedding");
    inner_.embedding(t, first, o);
  }
  void rmsnorm(backend::buffer_handle x, backend::weight_handle w, int64_t rows, float eps,
               backend::buffer_handle y) override {
    ops.push_back("rmsnorm");
    inner_.rmsnorm(x, w, rows, eps, y);
  }
  void add_rmsnorm(backend::buffer_handle r, backend::buffer_handle x, backend::weight_handle w,
                   int64_t rows, float eps, backend::buffer_handle y) override {
    ops.push_back("add_rmsnorm");
    inner_.add_rmsnorm(r, x, w, rows, eps, y);
  }
  void matmul(backend::buffer_handle x, int64_t rows, backend::weight_handle w,
              backend::buffer_handle y) override {
    ops.push_back("matmul");
    inner_.matmul(x, rows, w, y);
  }
  void add_bias(backend::buffer_handle y, backend::weight_handle b, int64_t rows) override {
    ops.push_back("add_bias");
    inner_.add_bias(y, b, rows);
  }
  void rope(backend::rope_handle r, backend::buffer_handle x, int32_t heads) override {
    ops.push_back("rope");
    inner_.rope(r, x, heads);
  }
  void store_kv(backend::kv_cache_handle c, int32_t layer, backend::buffer_handle k,
                backend::buffer_handle v) override {
    ops.push_back("store_kv " + std::to_string(layer));
    inner_.store_kv(c, layer, k, v);
  }
  void paged_attention(backend::kv_cache_handle c, int32_t layer,
                       const backend::attention_params& p, backend::buffer_handle q,
                       backend::buffer_handle out) override {
    ops.push_back("paged_attention " + std::to_string(layer));
    inner_.paged_attention(c, layer, p, q, out);
  }
  void silu_mul(backend::buffer_handle g, backend::buffer_handle u, int64_t n,
                backend::buffer_handle o) override {
    ops.push_back("silu_mul");
    inner_.silu_mul(g, u, n, o);
  }
  void add(backend::buffer_handle y, backend::buffer_handle x, int64_t n) override {
    ops.push_back("add");
    inner_.add(y, x, n);
  }
  void gather_sampled_rows(backend::buffer_handle x, int64_t row_size,
                           backend::buffer_handle out) override {
    ops.push_back("gather_sampled_rows");
    inner_.gather_sampled_rows(x, row_size, out);
  }
  void argmax_rows(backend::buffer_handle x, int64_t rows, int64_t cols,
                   backend::buffer_handle out) override {
    ops.push_back("argmax_rows");
    inner_.argmax_rows(x, rows, cols, out);
  }
  void sample_rows(backend::buffer_handle logits, int64_t rows, int64_t cols,
                   backend::buffer_handle greedy, backend::buffer_handle out) override {
    ops.push_back("sample_rows");
    inner_.sample_rows(logits, rows, cols, greedy, out);
  }
  void all_reduce(backend::buffer_handle x, int64_t n) override {
    ops.push_back("all_reduce");
    inner_.all_reduce(x, n);
  }
  void all_gather_columns(backend::buffer_handle x, int64_t rows, int64_t cols, int64_t out_cols,
                          backend::buffer_handle out) override {
    ops.push_back("all_gather_columns");
    inner_.all_gather_columns(x, rows, cols, out_cols, out);
  }

 private:
  backend::cpu_backend inner_;
};

}  // namespace troupe::testing
