// paged_attention on the GPU at Llama-3-8B's shape (32 query heads, 8 KV heads, head_dim 128,
// blocks of 16 tokens), f32, fp8 (e4m3) and bf16 caches:
//   bm_decode   batch sequences of one row each at a context of `context` keys; "GB/s" counts the
//               KV bytes read (batch * context * 8 heads * 128 * bytes per element * 2, K and V)
//               and "pct_of_peak" compares them with the device's DRAM bandwidth;
//   bm_prefill  one 512-row prompt from position 0 (causal), reported as "TFLOP/s":
//               4 * tokens * context / 2 * heads * head_dim, context = 512.
// Times are event-timed launches with L2 flushed before each (cuda_bench_support.hpp); without a
// device every benchmark is skipped ("no CUDA device").
//   ./cuda_attention_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "benchmarks/cuda/cuda_bench_support.hpp"
#include "kernels/cuda/attention.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/random.hpp"

namespace troupe::bench {
namespace {

namespace kc = kernels::cuda;
using cuda::device_buffer;

constexpr int32_t num_heads = 32, num_kv_heads = 8, head_dim = 128, block_size = 16;
constexpr int32_t prefill_tokens = 512;

// A step's metadata on the device: sequence s owns blocks [s * blocks_per_seq, ...) and has
// rows at positions first[s] .. last[s].
struct device_step {
  device_buffer positions, token_seqs, block_tables, table_offsets, tiles;
  kc::attention_rows rows;
  int32_t num_blocks = 0;

  device_step(int32_t num_seqs, int32_t first, int32_t last)
      : positions(4 * int64_t{num_seqs} * (last - first + 1)),
        token_seqs(4 * int64_t{num_seqs} * (last - first + 1)),
        block_tables(4 * int64_t{num_seqs} * (last / block_size + 1)),
        table_offsets(4 * (int64_t{num_seqs} + 1)),
        tiles(8 * int64_t{num_seqs} * (last - first + 1)) {
    const int32_t blocks_per_seq = last / block_size + 1;
    num_blocks = num_seqs * blocks_per_seq;
    std::vector<int32_t> pos, seqs, tables(num_blocks), offsets;
    for (int32_t b = 0; b < num_blocks; ++b)
      tables[b] = b;
    for (int32_t s = 0; s < num_seqs; ++s) {
      offsets.push_back(s * blocks_per_seq);
      for (int32_t p = first; p <= last; ++p) {
        pos.push_back(p);
        seqs.push_back(s);
      }
    }
    offsets.push_back(num_blocks);
    const std::vector<int32_t> planned =
        kc::plan_query_tiles(seqs.data(), static_cast<int64_t>(seqs.size()));
    upload(positions, pos);
    upload(token_seqs, seqs);
    upload(block_tables, tables);
    upload(table_offsets, offsets);
    upload(tiles, planned);
    rows = {positions.get<int32_t>(),
            token_seqs.get<int32_t>(),
            block_tables.get<int32_t>(),
            table_offsets.get<int32_t>(),
            tiles.get<int32_t>(),
            static_cast<int64_t>(pos.size()),
            static_cast<int32_t>(planned.size() / 2),
            last};
  }

  static void upload(const device_buffer& to, const std::vector<int32_t>& from) {
    if (to.get()) cudaMemcpy(to.get(), from.data(), from.size() * 4, cudaMemcpyHostToDevice);
  }
  bool ok() const {
    return positions.get() && token_seqs.get() && block_tables.get() && table_offsets.get() &&
           tiles.get();
  }
};

// A K and V cache of `blocks` blocks, filled (f32, bf16: random values; fp8: every code 0x38, as
// the values do not change the time), and q / out for `tokens` rows.
struct buffers {
  kc::kv_type type;
  int64_t cache_elements;
  device_buffer k, v, q, out;

  buffers(kc::kv_type t, int32_t blocks, int64_t tokens)
      : type(t),
        cache_elements(int64_t{blocks} * block_size * num_kv_heads * head_dim),
        k(cache_elements * kc::kv_type_bytes(t)),
        v(cache_elements * kc::kv_type_bytes(t)),
        q(tokens * num_heads * head_dim * 4),
        out(tokens * num_heads * head_dim * 4) {}

  status fill(int64_t tokens) {
    if (!k.get() || !v.get() || !q.get() || !out.get()) return error{"cudaMalloc failed"};
    if (auto st = kc::fill_random(q.get(), kc::dense_type::f32, tokens * num_heads * head_dim, 3,
                                  1.0f, nullptr);
        !st)
      return st;
    if (type == kc::kv_type::f32 || type == kc::kv_type::bf16) {
      const auto dense = type == kc::kv_type::f32 ? kc::dense_type::f32 : kc::dense_type::bf16;
      if (auto st = kc::fill_random(k.get(), dense, cache_elements, 1, 1.0f, nullptr); !st)
        return st;
      return kc::fill_random(v.get(), dense, cache_elements, 2, 1.0f, nullptr);
    }
    if (auto st = CUDA_CHECK(cudaMemset(k.get(), 0x38, cache_elements)); !st) return st;
    return CUDA_CHECK(cudaMemset(v.get(), 0x38, cache_elements));
  }
  kc::kv_cache_layer layer() const { return {k.get(), v.get(), type, 0.05f, 0.05f}; }
};

// kv: 0 f32, 1 fp8_e4m3, 2 bf16.
kc::kv_type type_arg(int64_t kv) {
  return kv == 1 ? kc::kv_type::fp8_e4m3 : kv == 2 ? kc::kv_type::bf16 : kc::kv_type::f32;
}

// args: batch, context, kv
void bm_decode(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  const auto batch = static_cast<int32_t>(state.range(0));
  const auto context = static_cast<int32_t>(state.range(1));
  device_step step(batch, context - 1, context - 1);
  buffers b(type_arg(state.range(2)), step.num_blocks, batch);
  if (!step.ok()) return state.SkipWithError("cudaMalloc failed");
  if (auto st = b.fill(batch); !st) return state.SkipWithError(st.message().c_str());
  const kc::paged_kv_layout layout{block_size, num_kv_heads, head_dim};
  const double kv_bytes = 2.0 * batch * context * num_kv_heads * head_dim * kv_type_bytes(b.type);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  cuda::run_timed(state, kv_bytes, [&](cudaStream_t s) {
    return kc::paged_attention(layout, step.rows, num_heads, scale, 0, b.q.get<float>(), b.layer(),
                               b.out.get<float>(), s);
  });
}

// args: kv. "GB/s" here counts the prompt's own K and V once; TFLOP/s is the figure to read.
void bm_prefill(benchmark::State& state) {
  if (!cuda::require_device(state)) return;
  device_step step(1, 0, prefill_tokens - 1);
  buffers b(type_arg(state.range(0)), step.num_blocks, prefill_tokens);
  if (!step.ok()) return state.SkipWithError("cudaMalloc failed");
  if (auto st = b.fill(prefill_tokens); !st) return state.SkipWithError(st.message().c_str());
  const kc::paged_kv_layout layout{block_size, num_kv_heads, head_dim};
  const double kv_bytes = 2.0 * prefill_tokens * num_kv_heads * head_dim * kv_type_bytes(b.type);
  const float scale = 1.0f / std::sqrt(static_cast<float>(head_dim));
  cuda::run_timed(state, kv_bytes, [&](cudaStream_t s) {
    return kc::paged_attention(layout, step.rows, num_heads, scale, 0, b.q.get<float>(), b.layer(),
                               b.out.get<float>(), s);
  });
  // run_timed reports GB/s = kv_bytes / seconds per launch; the same seconds give TFLOP/s.
  const double flops = 4.0 * prefill_tokens * (prefill_tokens / 2.0) * num_heads * head_dim;
  if (!state.error_occurred() && state.counters.count("GB/s") && state.counters["GB/s"] > 0.0) {
    const double seconds = kv_bytes / (state.counters["GB/s"] * 1e9);
    state.counters["TFLOP/s"] = flops / seconds / 1e12;
  }
}

BENCHMARK(bm_decode)
    ->ArgNames({"batch", "context", "kv"})
    ->ArgsProduct({{1, 64}, {640, 4096}, {0, 1, 2}})
    ->UseManualTime()
    ->MinTime(0.05)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(bm_prefill)
    ->ArgName("kv")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime()
    ->MinTime(0.05)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace troupe::bench

BENCHMARK_MAIN();
