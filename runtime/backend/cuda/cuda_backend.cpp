#include "runtime/backend/cuda/cuda_backend.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <utility>
#include <vector>

#include "runtime/backend/cuda/cuda_backend_impl.hpp"
#include "runtime/backend/cuda/nccl_communicator.hpp"

namespace troupe::backend {

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
cuda_backend::~cuda_backend() {
  // What the graphs did, for the server's log at shutdown.
  const auto& c = impl_->graph_counters;
  if (c.captures > 0 || c.disabled) {
    spdlog::info("CUDA device {}: {} decode steps replayed CUDA graphs ({} captures{})",
                 impl_->device, c.replays, c.captures, c.disabled ? "; a capture failed" : "");
  }
}

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
  std::vector<uint32_t> packed;  // read by the copy until the synchronization below
  if (const auto block = cpu_block_format(desc.format)) {
    // GGUF blocks stay blocks, repacked for the device's loads (kernels/cuda/quant_gemm.hpp).
    packed = cu::quant_pack(*block, data.bytes.data(), desc.rows, desc.cols);
    w.bytes = static_cast<int64_t>(packed.size() * sizeof(uint32_t));
    w.data = device_alloc(w.bytes);
    upload(w.data.get(), packed.data(), w.bytes);
  } else if (is_w8a8_format(w.stored)) {
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
  c.storage = impl_->op_alloc(bytes);
  if (bytes > 0) CUDA_OR_THROW(cudaMemsetAsync(c.storage.get(), 0, bytes, impl_->stream));
}

void cuda_backend::impl::upload_rope_table(rope_state& r, int32_t num_positions) {
  r.table.ensure(num_positions);
  const int64_t bytes = int64_t{num_positions} * r.table.num_pairs() * int64_t{sizeof(float)};
  r.cos = op_alloc(bytes);
  r.sin = op_alloc(bytes);
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
  b.data = impl_->op_alloc(num_elements * int64_t{sizeof(float)});
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
  impl_->timing.harvest(impl_->device);
  return {static_cast<const float*>(host), static_cast<size_t>(n)};
}

// -- one step --

void cuda_backend::begin_step(const step_metadata& step) {
  auto& s = *impl_;
  s.make_current();
  s.step = step;
  s.timing.count_step();
  if (s.graph_step()) {
    s.stage_graph_step();
  } else {
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
    place(o.sampling, step.sample_rows.size() * impl::sampling_words);
    place(o.query_tiles, tiles.size());
    o.total = at;
    if (o.total > s.step_capacity) {
      s.step_data.reset();
      s.step_data = device_alloc(o.total * int64_t{sizeof(int32_t)});
      s.step_capacity = o.total;
    }
    int32_t* host = s.staging_area(o.total);
    auto put = [host](int64_t offset, const std::vector<int32_t>& v) {
      std::copy(v.begin(), v.end(), host + offset);
    };
    put(o.token_ids, step.token_ids);
    put(o.positions, step.positions);
    put(o.token_seqs, step.token_seqs);
    put(o.block_tables, step.block_tables);
    put(o.table_offsets, step.table_offsets);
    put(o.sample_rows, step.sample_rows);
    s.put_sampling(host, o.sampling);
    put(o.query_tiles, tiles);
    s.upload_staged(s.step_data.get(), o.total);
    s.meta = static_cast<const int32_t*>(s.step_data.get());
  }

  s.stage_edits();

  // RoPE tables cover every position of the step (grown by doubling).
  for (auto& r : s.ropes) {
    if (step.num_positions > r.uploaded)
      s.upload_rope_table(r, std::max(step.num_positions, 2 * r.uploaded));
  }
}

void cuda_backend::impl::put_sampling(int32_t* host, int64_t offset) const {
  const auto rows = static_cast<size_t>(step.num_sampled());
  assert(step.sampling.empty() || step.sampling.size() == rows);
  for (size_t r = 0; r < rows; ++r) {
    const auto row = step.sampling.empty() ? kernels::cpu::sampling_row{} : step.sampling[r];
    std::memcpy(host + offset + static_cast<int64_t>(r) * sampling_words, &row, sizeof row);
  }
}

void cuda_backend::impl::stage_edits() {
  const auto n = static_cast<int64_t>(step.edits.size());
  if (n == 0) return;
  if (n > edits_capacity) {
    edits_capacity = std::max(n, 2 * edits_capacity);
    edits_data.reset();
    edits_data = device_alloc(edits_capacity * int64_t{sizeof(kernels::cpu::logit_edit)});
  }
  constexpr int64_t words = sizeof(kernels::cpu::logit_edit) / sizeof(int32_t);
  // Waits for the metadata's copy out of the staging buffer before reusing it.
  int32_t* host = staging_area(n * words);
  std::memcpy(host, step.edits.data(), static_cast<size_t>(n) * sizeof(kernels::cpu::logit_edit));
  upload_staged(edits_data.get(), n * words);
}

int32_t* cuda_backend::impl::staging_area(int64_t total) {
  // The previous step's copy must have left the staging buffer before it is rewritten.
  CUDA_OR_THROW(cudaEventSynchronize(staged));
  return static_cast<int32_t*>(staging.reserve(total * int64_t{sizeof(int32_t)}));
}

void cuda_backend::impl::upload_staged(void* device, int64_t total) {
  upload(device, staging.get(), total * int64_t{sizeof(int32_t)});
  CUDA_OR_THROW(cudaEventRecord(staged, stream));
}

}  // namespace troupe::backend
