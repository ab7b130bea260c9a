#include "runtime/backend/cuda/cuda_backend.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>
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
#include "runtime/backend/cpu_weight_formats.hpp"
#include "runtime/backend/cuda/nccl_communicator.hpp"

namespace troupe::backend {

namespace cu = kernels::cuda;

namespace {

void check(const status& st) {
  if (!st.ok()) throw cuda_backend_error(st.message());
}

#define CUDA_OR_THROW(expr) check(CUDA_CHECK(expr))

// Device memory, freed with cudaFree (which waits for the device) when dropped.
struct device_free {
  void operator()(void* p) const { cudaFree(p); }
};
using device_ptr = std::unique_ptr<void, device_free>;

device_ptr device_alloc(int64_t bytes) {
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

 private:
  void* ptr_ = nullptr;
  int64_t capacity_ = 0;
};

cu::dense_type dense_type_of(weight_format f) {
  switch (f) {
    case weight_format::bf16:
      return cu::dense_type::bf16;
    case weight_format::f16:
      return cu::dense_type::f16;
    default:
      return cu::dense_type::f32;
  }
}

cu::kv_type kv_type_of(kv_cache_dtype d) {
  switch (d) {
    case kv_cache_dtype::fp8_e4m3:
      return cu::kv_type::fp8_e4m3;
    case kv_cache_dtype::fp8_e5m2:
      return cu::kv_type::fp8_e5m2;
    default:
      return cu::kv_type::f32;
  }
}

kernels::cpu::rope_table make_table(const rope_spec& spec) {
  if (spec.inv_freq.empty()) return {spec.head_dim, spec.theta};
  return {spec.inv_freq, spec.magnitude};
}

float scale_of(const std::vector<float>& scales, int32_t layer) {
  return scales.empty() ? 1.0f : scales[static_cast<size_t>(layer)];
}

}  // namespace

struct cuda_backend::impl {
  // A weight on the device: dense values (f32 / bf16 / f16; GGUF blocks decoded to f32) or W8A8
  // int8 rows with their f32 scales and int32 row sums.
  struct weight {
    weight_desc desc;
    weight_format stored = weight_format::f32;
    device_ptr data, scales, row_sums;
    int64_t bytes = 0;
    const float* f32() const { return static_cast<const float*>(data.get()); }
  };
  struct buffer {
    device_ptr data;
    int64_t capacity = 0;  // elements
  };
  struct kv_cache {
    kv_cache_shape shape;
    device_ptr storage;  // per layer: keys then values, each num_blocks * block stride elements
    int64_t layer_bytes() const {
      return int64_t{shape.num_blocks} * shape.block_size * shape.num_kv_heads * shape.head_dim *
             kv_cache_element_bytes(shape.dtype);
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
  // The step's metadata in one device array (offsets in int32 elements).
  struct step_arrays {
    int64_t token_ids = 0, positions = 0, token_seqs = 0, block_tables = 0, table_offsets = 0,
            sample_rows = 0, query_tiles = 0, total = 0;
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
  device_ptr step_data;
  int64_t step_capacity = 0;  // int32 elements
  pinned_buffer staging, host_out;
  device_ptr gathered;  // all_gather_columns' [world][rows][cols]
  int64_t gathered_capacity = 0;

  ~impl() {
    cudaSetDevice(device);
    if (stream != nullptr) cudaStreamSynchronize(stream);
    gemm.reset();
    if (staged != nullptr) cudaEventDestroy(staged);
    // Device memory goes with the members (cudaFree); the stream last.
    weights.clear();
    buffers.clear();
    caches.clear();
    ropes.clear();
    step_data.reset();
    gathered.reset();
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
  const int32_t* step_array(int64_t offset) const {
    return static_cast<const int32_t*>(step_data.get()) + offset;
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
};

// -- memory --

result<std::unique_ptr<cuda_backend>> cuda_backend::create(int32_t device, communicator* comm) {
  const int count = cu::cuda_device_count();
  if (device < 0 || device >= count) {
    return error{"CUDA device " + std::to_string(device) + " is not available (" +
                 std::to_string(count) + " device(s) found)"};
  }
  auto p = std::make_unique<impl>();
  p->device = device;
  p->comm = comm;
  if (auto st = CUDA_CHECK(cudaSetDevice(device)); !st) return st.err();
  if (auto st = CUDA_CHECK(cudaStreamCreateWithFlags(&p->stream, cudaStreamNonBlocking)); !st)
    return st.err();
  if (auto st = CUDA_CHECK(cudaEventCreateWithFlags(&p->staged, cudaEventDisableTiming)); !st)
    return st.err();
  auto gemm = cu::gemm_engine::create(p->stream);
  if (!gemm) return gemm.err();
  p->gemm = std::move(*gemm);
  if (auto* nccl = dynamic_cast<nccl_communicator*>(comm)) nccl->bind_stream(p->stream);
  return std::unique_ptr<cuda_backend>(new cuda_backend(std::move(p)));
}

cuda_backend::cuda_backend(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
cuda_backend::~cuda_backend() = default;

int32_t cuda_backend::device() const {
  return impl_->device;
}

device_memory cuda_backend::memory() const {
  impl_->make_current();
  CUDA_OR_THROW(cudaStreamSynchronize(impl_->stream));
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_OR_THROW(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
}

int64_t cuda_backend::weight_bytes() const {
  return impl_->weight_bytes;
}

cuda_backend::impl::weight cuda_backend::impl::upload_weight(const weight_desc& desc,
                                                             weight_data data) {
  weight w;
  w.desc = desc;
  w.stored = desc.format;
  const int64_t n = desc.num_elements();
  if (data.random) {
    random_weight(w, *data.random);
    return w;
  }
  if (const auto block = cpu_block_format(desc.format)) {
    // No block kernels on the GPU: decode once on the host into f32 rows, as exact as the blocks.
    std::vector<float> values(static_cast<size_t>(n));
    const int64_t row_bytes = weight_row_bytes(desc.format, desc.cols);
    for (int64_t r = 0; r < desc.rows; ++r) {
      kernels::cpu::dequantize_row(*block, data.bytes.data() + r * row_bytes, desc.cols,
                                   values.data() + r * desc.cols);
    }
    data = weight_data(std::move(values));
    w.stored = weight_format::f32;
  }
  if (is_w8a8_format(w.stored)) {
    w.bytes = n + desc.rows * int64_t{sizeof(float) + sizeof(int32_t)};
    w.data = device_alloc(n);
    w.scales = device_alloc(desc.rows * int64_t{sizeof(float)});
    w.row_sums = device_alloc(desc.rows * int64_t{sizeof(int32_t)});
    upload(w.data.get(), data.bytes.data(), n);
    upload(w.scales.get(), data.scales.data(), desc.rows * int64_t{sizeof(float)});
    check(gemm->w8a8_row_sums(static_cast<const int8_t*>(w.data.get()), desc.rows, desc.cols,
                              static_cast<int32_t*>(w.row_sums.get())));
  } else {
    w.bytes = n * cu::dense_type_bytes(dense_type_of(w.stored));
    w.data = device_alloc(w.bytes);
    upload(w.data.get(), data.dense_values(), w.bytes);
  }
  // The host copy may go as soon as the copies have read it.
  CUDA_OR_THROW(cudaStreamSynchronize(stream));
  return w;
}

void cuda_backend::impl::random_weight(weight& w, const random_fill& fill) {
  const auto& desc = w.desc;
  const int64_t n = desc.num_elements();
  if (is_w8a8_format(desc.format)) {
    w.bytes = n + desc.rows * int64_t{sizeof(float) + sizeof(int32_t)};
    w.data = device_alloc(n);
    w.scales = device_alloc(desc.rows * int64_t{sizeof(float)});
    w.row_sums = device_alloc(desc.rows * int64_t{sizeof(int32_t)});
    check(cu::fill_random_int8(static_cast<int8_t*>(w.data.get()), n, fill.seed, stream));
    const std::vector<float> scales(static_cast<size_t>(desc.rows), fill.bound / 127.0f);
    upload(w.scales.get(), scales.data(), desc.rows * int64_t{sizeof(float)});
    check(gemm->w8a8_row_sums(static_cast<const int8_t*>(w.data.get()), desc.rows, desc.cols,
                              static_cast<int32_t*>(w.row_sums.get())));
    CUDA_OR_THROW(cudaStreamSynchronize(stream));  // `scales` is read before it goes
    return;
  }
  if (!is_dense_format(desc.format)) {
    throw cuda_backend_error(std::string("dummy weights cannot be generated in format ") +
                             weight_format_name(desc.format));
  }
  const auto type = dense_type_of(desc.format);
  w.bytes = n * cu::dense_type_bytes(type);
  w.data = device_alloc(w.bytes);
  check(cu::fill_random(w.data.get(), type, n, fill.seed, fill.bound, stream));
}

weight_handle cuda_backend::upload_weight(const weight_desc& desc, weight_data data) {
  assert(desc.format == data.format);
  impl_->make_current();
  auto w = impl_->upload_weight(desc, std::move(data));
  impl_->weight_bytes += w.bytes;
  impl_->weights.push_back(std::move(w));
  return {static_cast<int32_t>(impl_->weights.size()) - 1};
}

kv_cache_handle cuda_backend::allocate_kv_cache(const kv_cache_shape& shape) {
  assert(shape.num_blocks >= 0 && shape.block_size >= 1);
  impl_->caches.push_back({shape, nullptr});
  const kv_cache_handle handle{static_cast<int32_t>(impl_->caches.size()) - 1};
  resize_kv_cache(handle, shape.num_blocks);
  return handle;
}

void cuda_backend::resize_kv_cache(kv_cache_handle cache, int32_t num_blocks) {
  impl_->make_current();
  auto& c = impl_->get(cache);
  c.storage.reset();  // first, so the old and new caches never need room together
  c.shape.num_blocks = num_blocks;
  const int64_t bytes = 2 * int64_t{c.shape.num_layers} * c.layer_bytes();
  c.storage = device_alloc(bytes);
  if (bytes > 0) CUDA_OR_THROW(cudaMemsetAsync(c.storage.get(), 0, bytes, impl_->stream));
}

void cuda_backend::impl::upload_rope_table(rope_state& r, int32_t num_positions) {
  r.table.ensure(num_positions);
  const int64_t bytes = int64_t{num_positions} * r.table.num_pairs() * int64_t{sizeof(float)};
  r.cos = device_alloc(bytes);
  r.sin = device_alloc(bytes);
  upload(r.cos.get(), r.table.cos(0), bytes);
  upload(r.sin.get(), r.table.sin(0), bytes);
  CUDA_OR_THROW(cudaStreamSynchronize(stream));  // the table's vectors may grow later
  r.uploaded = num_positions;
}

rope_handle cuda_backend::create_rope(const rope_spec& spec) {
  impl_->make_current();
  const auto layout = spec.style == runtime::rope_style::neox ? cu::rope_layout::neox
                                                              : cu::rope_layout::interleaved;
  impl_->ropes.push_back({make_table(spec), layout, nullptr, nullptr, 0});
  impl_->upload_rope_table(impl_->ropes.back(), std::max(spec.num_positions, 1));
  return {static_cast<int32_t>(impl_->ropes.size()) - 1};
}

buffer_handle cuda_backend::allocate_buffer() {
  impl_->buffers.emplace_back();
  return {static_cast<int32_t>(impl_->buffers.size()) - 1};
}

void cuda_backend::reserve(buffer_handle buffer, int64_t num_elements) {
  auto& b = impl_->buffers[static_cast<size_t>(buffer.id)];
  if (b.capacity >= num_elements) return;
  impl_->make_current();
  b.data.reset();  // cudaFree waits for the work that still reads it
  b.data = device_alloc(num_elements * int64_t{sizeof(float)});
  b.capacity = num_elements;
}

void cuda_backend::upload_buffer(buffer_handle buffer, std::span<const float> data) {
  const auto n = static_cast<int64_t>(data.size());
  reserve(buffer, n);
  impl_->upload(impl_->get(buffer, n), data.data(), n * int64_t{sizeof(float)});
  CUDA_OR_THROW(cudaStreamSynchronize(impl_->stream));  // `data` may go when this returns
}

std::span<const float> cuda_backend::download(buffer_handle buffer, int64_t n) {
  const auto bytes = n * int64_t{sizeof(float)};
  void* host = impl_->host_out.reserve(bytes);
  if (bytes > 0) {
    CUDA_OR_THROW(cudaMemcpyAsync(host, impl_->get(buffer, n), static_cast<size_t>(bytes),
                                  cudaMemcpyDeviceToHost, impl_->stream));
  }
  CUDA_OR_THROW(cudaStreamSynchronize(impl_->stream));
  return {static_cast<const float*>(host), static_cast<size_t>(n)};
}

// -- one step --

void cuda_backend::begin_step(const step_metadata& step) {
  auto& s = *impl_;
  s.make_current();
  s.step = step;
  const auto tiles = cu::plan_query_tiles(step.token_seqs.data(), step.num_tokens());
  s.num_tiles = static_cast<int32_t>(tiles.size() / 2);
  s.max_position = 0;
  for (int32_t p : step.positions)
    s.max_position = std::max(s.max_position, p);

  // One host -> device copy of every array, through pinned memory.
  auto& o = s.offsets;
  int64_t at = 0;
  auto place = [&at](int64_t& offset, size_t n) {
    offset = at;
    at += static_cast<int64_t>(n);
  };
  place(o.token_ids, step.token_ids.size());
  place(o.positions, step.positions.size());
  place(o.token_seqs, step.token_seqs.size());
  place(o.block_tables, step.block_tables.size());
  place(o.table_offsets, step.table_offsets.size());
  place(o.sample_rows, step.sample_rows.size());
  place(o.query_tiles, tiles.size());
  o.total = at;
  if (o.total > s.step_capacity) {
    s.step_data.reset();
    s.step_data = device_alloc(o.total * int64_t{sizeof(int32_t)});
    s.step_capacity = o.total;
  }
  // The previous step's copy must have left the staging buffer before it is rewritten.
  CUDA_OR_THROW(cudaEventSynchronize(s.staged));
  auto* host = static_cast<int32_t*>(s.staging.reserve(o.total * int64_t{sizeof(int32_t)}));
  auto put = [host](int64_t offset, const std::vector<int32_t>& v) {
    std::copy(v.begin(), v.end(), host + offset);
  };
  put(o.token_ids, step.token_ids);
  put(o.positions, step.positions);
  put(o.token_seqs, step.token_seqs);
  put(o.block_tables, step.block_tables);
  put(o.table_offsets, step.table_offsets);
  put(o.sample_rows, step.sample_rows);
  put(o.query_tiles, tiles);
  s.upload(s.step_data.get(), host, o.total * int64_t{sizeof(int32_t)});
  CUDA_OR_THROW(cudaEventRecord(s.staged, s.stream));

  // RoPE tables cover every position of the step (grown by doubling).
  for (auto& r : s.ropes) {
    if (step.num_positions > r.uploaded)
      s.upload_rope_table(r, std::max(step.num_positions, 2 * r.uploaded));
  }
}

// -- ops --

void cuda_backend::embedding(weight_handle table, int64_t first_token, buffer_handle out) {
  auto& s = *impl_;
  const auto& w = s.get(table);
  if (is_w8a8_format(w.stored)) {
    throw cuda_backend_error("an int8 (W8A8) embedding table is not supported on the GPU");
  }
  const int64_t T = s.step.num_tokens();
  check(cu::embedding(w.data.get(), dense_type_of(w.stored), w.desc.rows, w.desc.cols, first_token,
                      s.step_array(s.offsets.token_ids), T, s.get(out, T * w.desc.cols), s.stream));
}

void cuda_backend::rmsnorm(buffer_handle x, weight_handle weight, int64_t rows, float eps,
                           buffer_handle y) {
  auto& s = *impl_;
  const auto& w = s.get(weight);
  const int64_t n = rows * w.desc.cols;
  check(cu::rmsnorm(s.get(x, n), w.f32(), rows, w.desc.cols, eps, s.get(y, n), s.stream));
}

void cuda_backend::add_rmsnorm(buffer_handle residual, buffer_handle x, weight_handle weight,
                               int64_t rows, float eps, buffer_handle y) {
  auto& s = *impl_;
  const auto& w = s.get(weight);
  const int64_t n = rows * w.desc.cols;
  check(cu::add_rmsnorm(s.get(residual, n), s.get(x, n), w.f32(), rows, w.desc.cols, eps,
                        s.get(y, n), s.stream));
}

void cuda_backend::matmul(buffer_handle x, int64_t rows, weight_handle w, buffer_handle y) {
  auto& s = *impl_;
  const auto& wt = s.get(w);
  assert(x.id != y.id);
  const int64_t in = wt.desc.cols, out = wt.desc.rows;
  const float* xs = s.get(x, rows * in);
  float* ys = s.get(y, rows * out);
  if (is_w8a8_format(wt.stored)) {
    check(s.gemm->w8a8(xs, rows, in, static_cast<const int8_t*>(wt.data.get()),
                       static_cast<const float*>(wt.scales.get()),
                       static_cast<const int32_t*>(wt.row_sums.get()), out,
                       wt.stored == weight_format::w8a8_azp, ys));
  } else {
    check(s.gemm->dense(xs, rows, in, wt.data.get(), dense_type_of(wt.stored), out, ys));
  }
}

void cuda_backend::add_bias(buffer_handle y, weight_handle bias, int64_t rows) {
  auto& s = *impl_;
  const auto& b = s.get(bias);
  check(cu::add_bias(s.get(y, rows * b.desc.cols), b.f32(), rows, b.desc.cols, s.stream));
}

void cuda_backend::rope(rope_handle rope, buffer_handle x, int32_t num_heads) {
  auto& s = *impl_;
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
  const auto& c = s.get(cache);
  const int64_t n = s.step.num_tokens() * c.shape.num_kv_heads * c.shape.head_dim;
  check(cu::store_kv(c.layout(), s.attention_rows(), s.get(k, n), s.get(v, n), c.layer(layer),
                     s.stream));
}

void cuda_backend::paged_attention(kv_cache_handle cache, int32_t layer,
                                   const attention_params& params, buffer_handle q,
                                   buffer_handle out) {
  auto& s = *impl_;
  const auto& c = s.get(cache);
  const int64_t n = s.step.num_tokens() * params.num_heads * c.shape.head_dim;
  check(cu::paged_attention(c.layout(), s.attention_rows(), params.num_heads, params.scale,
                            params.sliding_window, s.get(q, n), c.layer(layer), s.get(out, n),
                            s.stream));
}

void cuda_backend::silu_mul(buffer_handle gate, buffer_handle up, int64_t n, buffer_handle out) {
  auto& s = *impl_;
  check(cu::silu_mul(s.get(gate, n), s.get(up, n), n, s.get(out, n), s.stream));
}

void cuda_backend::add(buffer_handle y, buffer_handle x, int64_t n) {
  auto& s = *impl_;
  check(cu::add(s.get(y, n), s.get(x, n), n, s.stream));
}

void cuda_backend::gather_sampled_rows(buffer_handle x, int64_t row_size, buffer_handle out) {
  auto& s = *impl_;
  const int64_t S = s.step.num_sampled();
  check(cu::gather_rows(s.get(x, s.step.num_tokens() * row_size), row_size,
                        s.step_array(s.offsets.sample_rows), S, s.get(out, S * row_size),
                        s.stream));
}

void cuda_backend::all_reduce(buffer_handle x, int64_t n) {
  auto& s = *impl_;
  if (s.comm == nullptr || s.comm->world_size() == 1) return;
  s.comm->all_reduce_sum(s.get(x, n), n);
}

void cuda_backend::all_gather_columns(buffer_handle x, int64_t rows, int64_t cols, int64_t out_cols,
                                      buffer_handle out) {
  auto& s = *impl_;
  const int32_t world = s.comm == nullptr ? 1 : s.comm->world_size();
  assert(out_cols <= world * cols);
  const float* src = s.get(x, rows * cols);
  float* dst = s.get(out, rows * out_cols);
  if (world > 1) {
    const int64_t n = world * rows * cols;
    if (n > s.gathered_capacity) {
      s.gathered.reset();
      s.gathered = device_alloc(n * int64_t{sizeof(float)});
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
