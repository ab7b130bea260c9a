// cpu_backend's ops: each one kernels/cpu call, with the sizes taken from the weights, the KV
// cache and the current step.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/embedding.hpp"
#include "kernels/cpu/gemm_w8a8.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/quant_gemm.hpp"
#include "kernels/cpu/rmsnorm.hpp"
#include "kernels/cpu/sampling.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/backend/cpu_weight_formats.hpp"

namespace troupe::backend {

namespace cpu = kernels::cpu;

namespace {

// The elementwise and per-row ops share a step among the pool's threads once each thread gets
// this many values (a few microseconds of work; less costs more in the hand-off than it saves).
constexpr int64_t min_elements_per_task = 16384;

int64_t min_rows_per_task(int64_t row_size) {
  return std::max<int64_t>(1, min_elements_per_task / std::max<int64_t>(1, row_size));
}

}  // namespace

void cpu_backend::embedding(weight_handle table, int64_t first_token, buffer_handle out) {
  const auto timing = timed([] { return std::string("embedding"); });
  const auto& w = get(table);
  const int64_t T = step_.num_tokens(), dim = w.desc.cols;
  float* y = get(out, T * dim);
  std::vector<int8_t> unpacked;  // a W8A8 row read back from its AMX tiles
  // Row `row` of the table into `dst`: copied, decoded from blocks, or q * scale.
  auto row_into = [&](int32_t row, float* dst) {
    const auto fmt = w.desc.format;
    if (w.panels) return cpu::panel_row(*w.panels, row, dst);
    if (w.tiles) return cpu::amx_weight_row(*w.tiles, row, dst);
    if (fmt == weight_format::f32) return cpu::embedding(w.f32(), dim, &row, 1, dst);
    const auto* bits = reinterpret_cast<const uint16_t*>(w.data.bytes.data()) + row * dim;
    if (fmt == weight_format::bf16) {
      for (int64_t c = 0; c < dim; ++c)
        dst[c] = cpu::bf16_to_float(bits[c]);
      return;
    }
    if (fmt == weight_format::f16) {
      for (int64_t c = 0; c < dim; ++c)
        dst[c] = cpu::f16_to_float(bits[c]);
      return;
    }
    if (w.packed) return cpu::quant_packed_row(*w.packed, row, dst);
    const auto* q = reinterpret_cast<const int8_t*>(w.data.bytes.data()) + row * dim;
    if (w.w8a8_tiles) {
      unpacked.resize(static_cast<size_t>(dim));
      cpu::w8a8_tiles_row(*w.w8a8_tiles, row, unpacked.data());
      q = unpacked.data();
    }
    for (int64_t c = 0; c < dim; ++c)
      dst[c] = static_cast<float>(q[c]) * w.data.scales[row];
  };
  // Rows of other shards' tokens are zeros (the all-reduce adds the owner's).
  for (int64_t t = 0; t < T; ++t) {
    const int32_t row = static_cast<int32_t>(step_.token_ids[t] - first_token);
    if (row >= 0 && row < w.desc.rows)
      row_into(row, y + t * dim);
    else
      std::fill(y + t * dim, y + (t + 1) * dim, 0.0f);
  }
}

void cpu_backend::rmsnorm(buffer_handle x, weight_handle weight, int64_t rows, float eps,
                          buffer_handle y) {
  const auto timing = timed([] { return std::string("rmsnorm"); });
  const auto& w = get(weight);
  const int64_t dim = w.desc.cols, n = rows * dim;
  const float* xs = get(x, n);
  float* ys = get(y, n);
  cpu::run_range_tasks(pool_, rows, min_rows_per_task(dim), [&](int64_t r0, int64_t r1) {
    cpu::rmsnorm(xs + r0 * dim, w.f32(), r1 - r0, dim, eps, ys + r0 * dim);
  });
}

void cpu_backend::add_rmsnorm(buffer_handle residual, buffer_handle x, weight_handle weight,
                              int64_t rows, float eps, buffer_handle y) {
  const auto timing = timed([] { return std::string("add_rmsnorm"); });
  const auto& w = get(weight);
  const int64_t dim = w.desc.cols, n = rows * dim;
  float* rs = get(residual, n);
  const float* xs = get(x, n);
  float* ys = get(y, n);
  // One job: each task adds its rows and norms them while they are in cache (the bits of add()
  // then rmsnorm(): the same operations on every element).
  cpu::run_range_tasks(pool_, rows, min_rows_per_task(dim), [&](int64_t r0, int64_t r1) {
    cpu::add_inplace(rs + r0 * dim, xs + r0 * dim, (r1 - r0) * dim);
    cpu::rmsnorm(rs + r0 * dim, w.f32(), r1 - r0, dim, eps, ys + r0 * dim);
  });
}

void cpu_backend::matmul(buffer_handle x, int64_t rows, weight_handle w, buffer_handle y) {
  const auto& wt = get(w);
  const auto timing = timed([&] {
    const int64_t out_rows[] = {wt.desc.rows};
    return matmul_op_name("matmul", wt.desc.format, out_rows, wt.desc.cols);
  });
  assert(x.id != y.id);
  const int64_t in = wt.desc.cols, out = wt.desc.rows;
  const float* xs = get(x, rows * in);
  float* ys = get(y, rows * out);
  const auto fmt = wt.desc.format;
  if (wt.tiles) return cpu::amx_gemm(pool_, *wt.tiles, xs, rows, ys);
  xs = activations_for(wt, xs, rows * in);
  if (wt.panels) return cpu::panel_gemm(pool_, *wt.panels, xs, rows, ys);
  if (const auto dense = cpu_dense_type(fmt)) {  // a one-row weight (matrices have panels)
    return cpu::dense_gemm(pool_, *dense, xs, rows, in, wt.data.dense_values(), out, ys);
  }
  if (wt.w8a8_tiles) {
    return cpu::gemm_w8a8_tiles(pool_, xs, rows, *wt.w8a8_tiles, wt.data.scales.data(),
                                wt.row_sums.data(), fmt == weight_format::w8a8_azp, ys);
  }
  if (is_w8a8_format(fmt)) {
    return cpu::gemm_w8a8(
        pool_, xs, rows, in, reinterpret_cast<const int8_t*>(wt.data.bytes.data()),
        wt.data.scales.data(), wt.row_sums.data(), out, fmt == weight_format::w8a8_azp, ys);
  }
  assert(wt.packed);
  cpu::quant_gemm_packed(pool_, *wt.packed, xs, rows, ys);
}

bool cpu_backend::rounds_activations(const weight& w) const {
  return activations_ == cpu_activations::bf16 && w.desc.format == weight_format::bf16;
}

const float* cpu_backend::activations_for(const weight& w, const float* xs, int64_t n) {
  if (!rounds_activations(w)) return xs;
  if (static_cast<int64_t>(rounded_x_.size()) < n) rounded_x_.resize(static_cast<size_t>(n));
  cpu::round_through_bf16(xs, n, rounded_x_.data());
  return rounded_x_.data();
}

void cpu_backend::matmuls(buffer_handle x, int64_t rows, std::span<const matmul_target> targets) {
  // Products of one kind (all dense panels taking the same activations, all AMX tiles, all W8A8
  // tiles of one format, or all packed blocks of one format) share the work on x; any other mix
  // runs one by one.
  if (targets.empty()) return;
  std::vector<const cpu::panel_weight*> panels;
  std::vector<const cpu::amx_weight*> tiles;
  std::vector<const cpu::quant_packed_weight*> packed;
  std::vector<cpu::w8a8_tiles_product> w8a8;
  std::vector<float*> ys;
  const int64_t in = get(targets[0].w).desc.cols;
  const float* xs = get(x, rows * in);
  const bool rounded = rounds_activations(get(targets[0].w));
  for (const matmul_target& t : targets) {
    const auto& wt = get(t.w);
    assert(t.y.id != x.id && wt.desc.cols == in);
    if (wt.panels && rounds_activations(wt) == rounded) panels.push_back(wt.panels.get());
    if (wt.tiles) tiles.push_back(wt.tiles.get());
    if (wt.packed) packed.push_back(wt.packed.get());
    ys.push_back(get(t.y, rows * wt.desc.rows));
    if (wt.w8a8_tiles && wt.desc.format == get(targets[0].w).desc.format) {
      w8a8.push_back({wt.w8a8_tiles.get(), wt.data.scales.data(), wt.row_sums.data(), ys.back()});
    }
  }
  const bool one_format =
      packed.size() == targets.size() &&
      std::all_of(packed.begin(), packed.end(), [&](const cpu::quant_packed_weight* w) {
        return w->format() == packed[0]->format();
      });
  if (panels.size() != targets.size() && tiles.size() != targets.size() && !one_format &&
      w8a8.size() != targets.size()) {
    for (const matmul_target& t : targets)
      matmul(x, rows, t.w, t.y);
    return;
  }
  const auto timing = timed([&] {
    std::vector<int64_t> out_rows;
    for (const matmul_target& t : targets)
      out_rows.push_back(get(t.w).desc.rows);
    return matmul_op_name("matmuls", get(targets[0].w).desc.format, out_rows, in);
  });
  if (panels.size() == targets.size()) {
    return cpu::panel_gemm_many(pool_, panels, activations_for(get(targets[0].w), xs, rows * in),
                                rows, ys);
  }
  if (tiles.size() == targets.size()) return cpu::amx_gemm_many(pool_, tiles, xs, rows, ys);
  if (w8a8.size() == targets.size()) {
    return cpu::gemm_w8a8_tiles_many(pool_, xs, rows, w8a8,
                                     get(targets[0].w).desc.format == weight_format::w8a8_azp);
  }
  cpu::quant_gemm_packed_many(pool_, packed, xs, rows, ys);
}

void cpu_backend::add_bias(buffer_handle y, weight_handle bias, int64_t rows) {
  const auto timing = timed([] { return std::string("add_bias"); });
  const auto& b = get(bias);
  cpu::add_bias(get(y, rows * b.desc.cols), b.f32(), rows, b.desc.cols);
}

void cpu_backend::rope(rope_handle rope, buffer_handle x, int32_t num_heads) {
  const auto timing = timed([] { return std::string("rope"); });
  const auto& r = ropes_[rope.id];
  const int32_t head_dim = 2 * r.table.num_pairs();
  const int64_t T = step_.num_tokens(), row = int64_t{num_heads} * head_dim;
  float* xs = get(x, T * row);
  cpu::run_range_tasks(pool_, T, min_rows_per_task(row), [&](int64_t t0, int64_t t1) {
    cpu::rope(r.table, r.layout, step_.positions.data() + t0, t1 - t0, num_heads, head_dim,
              xs + t0 * row);
  });
}

void cpu_backend::store_kv(kv_cache_handle cache, int32_t layer, buffer_handle k, buffer_handle v) {
  const auto timing = timed([] { return std::string("store_kv"); });
  auto& c = get(cache);
  const int64_t T = step_.num_tokens();
  const int64_t row = int64_t{c.layout().num_kv_heads} * c.layout().head_dim, n = T * row;
  const float* ks = get(k, n);
  const float* vs = get(v, n);
  // A prompt's tokens are split among the threads: the copies write cache lines that are not in
  // cache yet, and one core alone reads them in at a fraction of the memory's bandwidth.
  constexpr int64_t min_tokens_per_task = 32;
  cpu::run_range_tasks(pool_, T, min_tokens_per_task, [&](int64_t t0, int64_t t1) {
    const cpu::token_location* at = locations_.data() + t0;
    const float* kt = ks + t0 * row;
    const float* vt = vs + t0 * row;
    if (c.is_fp8()) {
      cpu::store_kv(c.layout(), at, t1 - t0, kt, vt, c.fp8(layer), c.key_codes(layer),
                    c.value_codes(layer));
    } else if (c.is_half()) {
      cpu::store_kv(c.layout(), at, t1 - t0, kt, vt, c.half_format(), c.key_words(layer),
                    c.value_words(layer));
    } else {
      cpu::store_kv(c.layout(), at, t1 - t0, kt, vt, c.keys(layer), c.values(layer));
    }
  });
}

void cpu_backend::paged_attention(kv_cache_handle cache, int32_t layer,
                                  const attention_params& params, buffer_handle q,
                                  buffer_handle out) {
  const auto timing = timed([] { return std::string("paged_attention"); });
  auto& c = get(cache);
  const int64_t T = step_.num_tokens();
  const int64_t n = T * params.num_heads * c.layout().head_dim;
  if (c.is_fp8()) {
    cpu::paged_attention(pool_, c.layout(), locations_.data(), T, params.num_heads, params.scale,
                         get(q, n), c.fp8(layer), c.key_codes(layer), c.value_codes(layer),
                         get(out, n), params.sliding_window);
  } else if (c.is_half()) {
    const auto products = attention_in_bf16(kv_shapes_[static_cast<size_t>(cache.id)])
                              ? cpu::attention_products::bf16
                              : cpu::attention_products::f32;
    cpu::paged_attention(pool_, c.layout(), locations_.data(), T, params.num_heads, params.scale,
                         get(q, n), c.half_format(), c.key_words(layer), c.value_words(layer),
                         get(out, n), params.sliding_window, products);
  } else {
    cpu::paged_attention(pool_, c.layout(), locations_.data(), T, params.num_heads, params.scale,
                         get(q, n), c.keys(layer), c.values(layer), get(out, n),
                         params.sliding_window);
  }
}

void cpu_backend::silu_mul(buffer_handle gate, buffer_handle up, int64_t n, buffer_handle out) {
  const auto timing = timed([] { return std::string("silu_mul"); });
  const float *g = get(gate, n), *u = get(up, n);
  float* o = get(out, n);
  cpu::run_range_tasks(pool_, n, min_elements_per_task, [&](int64_t i0, int64_t i1) {
    cpu::silu_mul(g + i0, u + i0, i1 - i0, o + i0);
  });
}

void cpu_backend::silu_mul_matmul(buffer_handle gate, buffer_handle up, int64_t rows, int64_t in,
                                  weight_handle w, buffer_handle y) {
  const auto& wt = get(w);
  if (!wt.tiles && !wt.w8a8_tiles)
    return compute_backend::silu_mul_matmul(gate, up, rows, in, w, y);
  // AMX products prepare their input a row at a time (bf16 or int8): each row's SiLU is computed
  // there, in cache, and never stored in f32.
  const auto timing = timed([&] {
    const int64_t out_rows[] = {wt.desc.rows};
    return matmul_op_name("silu_mul+matmul", wt.desc.format, out_rows, wt.desc.cols);
  });
  assert(wt.desc.cols == in && y.id != gate.id && y.id != up.id);
  const float *g = get(gate, rows * in), *u = get(up, rows * in);
  float* ys = get(y, rows * wt.desc.rows);
  if (wt.tiles) return cpu::amx_gemm_silu(pool_, *wt.tiles, g, u, rows, ys);
  cpu::gemm_w8a8_tiles_silu(pool_, g, u, rows, *wt.w8a8_tiles, wt.data.scales.data(),
                            wt.row_sums.data(), wt.desc.format == weight_format::w8a8_azp, ys);
}

void cpu_backend::add(buffer_handle y, buffer_handle x, int64_t n) {
  const auto timing = timed([] { return std::string("add"); });
  float* ys = get(y, n);
  const float* xs = get(x, n);
  cpu::run_range_tasks(pool_, n, min_elements_per_task, [&](int64_t i0, int64_t i1) {
    cpu::add_inplace(ys + i0, xs + i0, i1 - i0);
  });
}

void cpu_backend::gather_sampled_rows(buffer_handle x, int64_t row_size, buffer_handle out) {
  const auto timing = timed([] { return std::string("gather_sampled_rows"); });
  const float* src = get(x, step_.num_tokens() * row_size);
  float* dst = get(out, step_.num_sampled() * row_size);
  for (int32_t row : step_.sample_rows) {
    std::memcpy(dst, src + row * row_size, static_cast<size_t>(row_size) * sizeof(float));
    dst += row_size;
  }
}

void cpu_backend::argmax_rows(buffer_handle x, int64_t rows, int64_t cols, buffer_handle out) {
  const auto timing = timed([] { return std::string("argmax_rows"); });
  const float* src = get(x, rows * cols);
  float* dst = get(out, rows);
  // Rows among the threads: each reads a vocabulary's logits from memory (0.2 MB at 49k).
  cpu::run_range_tasks(pool_, rows, 4, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      dst[r] = static_cast<float>(kernels::cpu::argmax(src + r * cols, cols));
  });
}

void cpu_backend::sample_rows(buffer_handle logits, int64_t rows, int64_t cols,
                              buffer_handle greedy, buffer_handle out) {
  const auto timing = timed([] { return std::string("sample_rows"); });
  assert(rows == step_.num_sampled());
  assert(step_.sampling.empty() || step_.sampling.size() == static_cast<size_t>(rows));
  const float* x = get(logits, rows * cols);
  const float* best = get(greedy, rows);
  const int64_t top = step_.max_top_logprobs;
  float* dst = get(out, 2 * rows * (1 + top));
  float* top_ids = dst + 2 * rows;
  float* top_values = top_ids + rows * top;
  // Row r's edits are edits[first_edit[r], first_edit[r + 1]) (they come in row order).
  std::vector<size_t> first_edit(static_cast<size_t>(rows) + 1, step_.edits.size());
  for (size_t i = step_.edits.size(); i-- > 0;)
    first_edit[static_cast<size_t>(step_.edits[i].row)] = i;
  for (int64_t r = rows; r-- > 0;)
    first_edit[r] = std::min(first_edit[r], first_edit[r + 1]);
  auto sample_one = [&](int64_t r) {
    thread_local std::vector<float> edited;
    thread_local std::vector<int32_t> ids;
    const float* row = x + r * cols;
    const kernels::cpu::sampling_row p =
        step_.sampling.empty() ? kernels::cpu::sampling_row{} : step_.sampling[r];
    const float* drawn_from = row;
    if (p.edited) {
      // An allowed-only row keeps nothing but its edited tokens (one edit a token).
      if (p.allowed_only) {
        edited.assign(static_cast<size_t>(cols), -INFINITY);
      } else {
        edited.assign(row, row + cols);
      }
      for (size_t i = first_edit[r]; i < first_edit[r + 1]; ++i) {
        const auto& e = step_.edits[i];
        edited[e.id] = kernels::cpu::apply_edit(row[e.id], e);
      }
      drawn_from = edited.data();
    }
    // The raw row's log-sum-exp, computed once for the logprob, the rank and the tops.
    double lse = 0.0;
    bool have_lse = false;
    auto row_lse = [&] {
      if (!have_lse) lse = kernels::cpu::log_sum_exp(row, cols);
      have_lse = true;
      return lse;
    };
    if (p.score_token >= 0) {
      // A scored row (a prompt logprob): its token's rank and logprob, nothing drawn.
      // Rank 0 means a NaN in the row, whose logprobs are NaN (log_softmax_at).
      const int32_t rank = kernels::cpu::logprob_rank(row, cols, p.score_token, row_lse());
      dst[r] = static_cast<float>(rank);
      dst[rows + r] = rank > 0 ? static_cast<float>(row[p.score_token] - lse) : NAN;
    } else {
      int32_t token = -1;
      if (p.temperature >= kernels::cpu::greedy_temperature)
        token = kernels::cpu::sample_row(drawn_from, cols, p);
      if (token < 0) {
        token = p.edited ? static_cast<int32_t>(kernels::cpu::argmax(drawn_from, cols))
                         : static_cast<int32_t>(best[r]);
      }
      dst[r] = static_cast<float>(token);
      dst[rows + r] =
          p.want_logprob ? kernels::cpu::log_softmax_at(row, cols, token, row_lse()) : 0.0f;
    }
    ids.resize(static_cast<size_t>(top));
    float* values = top_values + r * top;
    const int32_t count = p.num_top_logprobs > 0
                              ? kernels::cpu::top_logprobs(row, cols, p.num_top_logprobs, row_lse(),
                                                           ids.data(), values)
                              : 0;
    for (int32_t j = 0; j < top; ++j) {
      top_ids[r * top + j] = j < count ? static_cast<float>(ids[j]) : -1.0f;
      if (j >= count) values[j] = 0.0f;
    }
  };
  // Rows draw independently; a 128k vocabulary takes about a millisecond a row with top-p. A
  // step of plain greedy rows (the argmax is the answer) wakes no thread.
  const bool plain = std::all_of(step_.sampling.begin(), step_.sampling.end(), [](const auto& p) {
    return !(p.temperature >= kernels::cpu::greedy_temperature) && !p.edited && !p.want_logprob &&
           p.num_top_logprobs == 0 && p.score_token < 0;
  });
  if (plain) {
    for (int64_t r = 0; r < rows; ++r)
      sample_one(r);
    return;
  }
  cpu::run_range_tasks(pool_, rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      sample_one(r);
  });
}

void cpu_backend::all_reduce(buffer_handle x, int64_t n) {
  if (comm_ == nullptr || comm_->world_size() == 1) return;
  const auto timing = timed([] { return std::string("all_reduce"); });
  comm_->all_reduce_sum(get(x, n), n);
}

void cpu_backend::all_gather_columns(buffer_handle x, int64_t rows, int64_t cols, int64_t out_cols,
                                     buffer_handle out) {
  const auto timing = timed([] { return std::string("all_gather_columns"); });
  const int32_t world = comm_ == nullptr ? 1 : comm_->world_size();
  assert(out_cols <= world * cols);
  const float* src = get(x, rows * cols);
  float* dst = get(out, rows * out_cols);
  if (world > 1) {
    gathered_.resize(static_cast<size_t>(world * rows * cols));
    comm_->all_gather(src, rows * cols, gathered_.data());
  }
  // gathered [world][rows][cols] -> out [rows][out_cols]
  for (int32_t k = 0; k < world; ++k) {
    const float* block = world > 1 ? gathered_.data() + k * rows * cols : src;
    const int64_t width = std::min(cols, out_cols - k * cols);
    for (int64_t i = 0; width > 0 && i < rows; ++i)
      std::memcpy(dst + i * out_cols + k * cols, block + i * cols,
                  static_cast<size_t>(width) * sizeof(float));
  }
}

}  // namespace troupe::backend
