#include "runtime/backend/cpu_backend.hpp"

#include <algorithm>
#include <cassert>
#include <optional>
#include <stdexcept>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/gemm_w8a8.hpp"
#include "kernels/cpu/quant_gemm.hpp"
#include "runtime/backend/cpu_weight_formats.hpp"
#include "runtime/backend/random_weight.hpp"

namespace troupe::backend {

namespace cpu = kernels::cpu;

namespace {

// A random weight's values (runtime/backend/random_weight.hpp), its rows split among
// `num_threads` threads of its own: the pool's run() would pin the uploading thread to the pool's
// first CPU (thread_pool.hpp), and that is the executor's. Each row's bits are the same whichever
// thread writes them.
weight_data generate_random(int num_threads, const weight_desc& desc, const random_fill& fill) {
  weight_data out = random_weight_storage(desc);
  // A thread for every 2^20 elements at most: small weights are not worth a thread.
  const int64_t n = std::clamp<int64_t>(desc.num_elements() >> 20, 1, std::max(1, num_threads));
  auto fill_part = [&](int64_t part) {
    fill_random_rows(desc, fill, desc.rows * part / n, desc.rows * (part + 1) / n, out);
  };
  {
    std::vector<std::jthread> workers;  // joined at the end of this scope, before `out` moves
    for (int64_t part = 1; part < n; ++part)
      workers.emplace_back(fill_part, part);
    fill_part(0);
  }
  return out;
}

cpu::rope_table make_table(const rope_spec& spec) {
  if (spec.inv_freq.empty()) return {spec.head_dim, spec.theta};
  return {spec.inv_freq, spec.magnitude};
}

}  // namespace

cpu_backend::cpu_backend(int32_t num_threads, communicator* comm, std::vector<int> cpus,
                         cpu_activations activations)
    : pool_(num_threads, std::move(cpus)), comm_(comm), activations_(activations) {}

bool cpu_backend::attention_in_bf16(const kv_cache_shape& shape) const {
  return activations_ == cpu_activations::bf16 && shape.dtype == kv_cache_dtype::bf16 &&
         cpu::bf16_products_preferred(shape.head_dim);
}

bool cpu_backend::uses_bf16_tiles() const {
  return activations_ == cpu_activations::bf16 && cpu::bf16_tiles_supported();
}

// -- memory --

weight_handle cpu_backend::upload_weight(const weight_desc& desc, weight_data data) {
  assert(desc.format == data.format);
  // Another backend reads the vector without a lock: it must not grow under it.
  if (shares_weights()) throw std::logic_error("cpu_backend: no upload once weights are shared");
  // Dummy weights are generated here, then handled as loaded ones.
  if (data.random) data = generate_random(pool_.num_threads(), desc, *data.random);
  assert(desc.format != weight_format::f32 ||
         static_cast<int64_t>(data.values.size()) == desc.num_elements());
  weight w{desc, std::move(data), {}, {}, {}, {}, {}};
  if (is_k_quant_format(desc.format) && cpu::best_quant_path() == cpu::quant_path::scalar) {
    // Without AVX2 the K-quants have only the portable int8 kernel, 10-200x slower than f32
    // panels (docs/performance.md), so there they are decoded once into f32 panels, as exact as
    // the blocks.
    std::vector<float> values(static_cast<size_t>(desc.num_elements()));
    const int64_t row_bytes = weight_row_bytes(desc.format, desc.cols);
    for (int64_t r = 0; r < desc.rows; ++r) {
      cpu::dequantize_row(*cpu_block_format(desc.format), w.data.bytes.data() + r * row_bytes,
                          desc.cols, values.data() + r * desc.cols);
    }
    w.panels = cpu::pack_panels(cpu::dense_type::f32, values.data(), desc.rows, desc.cols);
    std::vector<uint8_t>().swap(w.data.bytes);
  } else if (const auto block = cpu_block_format(desc.format)) {
    // Packed once for quant_gemm_packed (the K-quants too, on AVX2 or VNNI); the packed copy
    // replaces the stored bytes.
    w.packed = cpu::pack_quant_weight(*block, w.data.bytes.data(), desc.rows, desc.cols);
    std::vector<uint8_t>().swap(w.data.bytes);
  }
  if (desc.format == weight_format::bf16 && desc.rows > 1 && uses_bf16_tiles()) {
    // amx_gemm's tiles for bf16 activations; they replace the stored values.
    w.tiles = cpu::pack_amx_weight(reinterpret_cast<const uint16_t*>(w.data.dense_values()),
                                   desc.rows, desc.cols);
    std::vector<uint8_t>().swap(w.data.bytes);
  } else if (const auto dense = cpu_dense_type(desc.format); dense && desc.rows > 1) {
    // Column panels for panel_gemm; they replace the stored values.
    w.panels = cpu::pack_panels(*dense, w.data.dense_values(), desc.rows, desc.cols);
    std::vector<float>().swap(w.data.values);
    std::vector<uint8_t>().swap(w.data.bytes);
  }
  if (is_w8a8_format(desc.format)) {
    const auto* rows = reinterpret_cast<const int8_t*>(w.data.bytes.data());
    w.row_sums = cpu::w8a8_row_sums(rows, desc.rows, desc.cols);
    if (cpu::w8a8_tiles_supported()) {
      // AMX tiles, regrouped once (every call then runs on them); they replace the stored rows.
      w.w8a8_tiles =
          std::make_shared<const cpu::w8a8_tiles>(cpu::pack_w8a8_tiles(rows, desc.rows, desc.cols));
      std::vector<uint8_t>().swap(w.data.bytes);
    }
  }
  weights_->push_back(std::move(w));
  return {static_cast<int32_t>(weights_->size()) - 1};
}

status cpu_backend::share_weights_of(const cpu_backend& source) {
  if (&source == this) return error{"a backend cannot share its own weights"};
  if (!weights_->empty()) return error{"a backend that holds weights cannot share another's"};
  if (source.activations_ != activations_) {
    return error{
        "backends with different activations cannot share weights (their packing differs)"};
  }
  weights_ = source.weights_;
  return ok_status();
}

kv_cache_handle cpu_backend::allocate_kv_cache(const kv_cache_shape& shape) {
  if (attention_in_bf16(shape))
    spdlog::info(
        "CPU: attention over the bf16 KV cache multiplies in bf16 on VDPBF16PS (queries and "
        "softmax weights rounded to bf16, sums in f32)");
  kv_caches_.emplace_back(shape);
  kv_shapes_.push_back(shape);
  return {static_cast<int32_t>(kv_caches_.size()) - 1};
}

void cpu_backend::resize_kv_cache(kv_cache_handle cache, int32_t num_blocks) {
  auto& shape = kv_shapes_[static_cast<size_t>(cache.id)];
  shape.num_blocks = num_blocks;
  get(cache) = cpu_kv_cache(shape);
}

rope_handle cpu_backend::create_rope(const rope_spec& spec) {
  const auto layout = spec.style == runtime::rope_style::neox ? cpu::rope_layout::neox
                                                              : cpu::rope_layout::interleaved;
  ropes_.push_back({make_table(spec), layout});
  ropes_.back().table.ensure(spec.num_positions);
  return {static_cast<int32_t>(ropes_.size()) - 1};
}

buffer_handle cpu_backend::allocate_buffer() {
  buffers_.emplace_back();
  return {static_cast<int32_t>(buffers_.size()) - 1};
}

void cpu_backend::reserve(buffer_handle buffer, int64_t num_elements) {
  auto& b = buffers_[buffer.id];
  if (static_cast<int64_t>(b.size()) < num_elements) b.resize(static_cast<size_t>(num_elements));
}

void cpu_backend::upload_buffer(buffer_handle buffer, std::span<const float> data) {
  reserve(buffer, static_cast<int64_t>(data.size()));
  std::copy(data.begin(), data.end(), buffers_[buffer.id].begin());
}

std::span<const float> cpu_backend::download(buffer_handle buffer, int64_t n) {
  return {get(buffer, n), static_cast<size_t>(n)};
}

const cpu_backend::weight& cpu_backend::get(weight_handle w) const {
  assert(w.valid() && w.id < static_cast<int32_t>(weights_->size()));
  return (*weights_)[static_cast<size_t>(w.id)];
}

float* cpu_backend::get(buffer_handle b, int64_t min_size) {
  assert(b.valid() && b.id < static_cast<int32_t>(buffers_.size()));
  assert(static_cast<int64_t>(buffers_[b.id].size()) >= min_size);
  (void)min_size;
  return buffers_[b.id].data();
}

cpu_kv_cache& cpu_backend::get(kv_cache_handle c) {
  assert(c.valid() && c.id < static_cast<int32_t>(kv_caches_.size()));
  return kv_caches_[c.id];
}

// -- one step --

void cpu_backend::enable_op_timing(int32_t report_every, std::string who) {
  timing_.enable(report_every);
  timing_who_ = std::move(who);
}

void cpu_backend::begin_step(const step_metadata& step) {
  timing_.report_if_due(timing_who_);
  timing_.count_step();
  step_ = step;
  const int64_t T = step_.num_tokens();
  locations_.resize(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    const int32_t* table = step_.block_tables.data() + step_.table_offsets[step_.token_seqs[t]];
    locations_[t] = {step_.positions[t], table};
  }
  // Entries are computed per position, so extending a table never changes earlier values.
  for (auto& r : ropes_)
    r.table.ensure(step_.num_positions);
}

}  // namespace troupe::backend
