// paged_attention at the default model's shape (SmolLM2-135M: 9 query heads, 3 KV heads,
// head_dim 64, blocks of 16 tokens), 2 threads, one layer:
//   prefill: one 128-token prompt from position 0 (causal);
//   decode:  16 sequences of one token at context 160 (and, bf16 over 24 layers, at 1024), one
//            at context 192;
//   mixed:   both in one call, as bm_mixed of model_bench runs them;
//   long prompt: 512 tokens from position 0;
// each over an f32 cache (bf16:0) and a bf16 one (`--dtype bfloat16`'s, read in place; bf16:1
// multiplies in f32, bf16:2 in bf16 where the CPU has AVX512-BF16); with layers:30,
// each call reads the next of 30 layers' caches, as a model step does (the cache then comes from
// memory, not from L2).
// GFLOP/s counts 2 * d multiply-adds for each (query head, key) score and each value; GB/s the
// keys' and values' bytes read.
//   ./attention_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <vector>

#include "benchmarks/bench_support.hpp"
#include "kernels/cpu/attention.hpp"

namespace {

using namespace troupe::kernels::cpu;
using namespace troupe::bench;

constexpr int32_t heads = 9, kv_heads = 3, head_dim = 64, block_size = 16;

struct batch {
  std::vector<std::vector<int32_t>> tables;
  std::vector<token_location> tokens;
  int64_t pairs = 0;  // (query token, key) pairs
};

// Appends `count` tokens at positions first..first + count - 1 of a new sequence that owns
// blocks from `next_block` on.
void add_sequence(batch& b, int32_t first, int32_t count, int32_t& next_block) {
  const int32_t blocks = (first + count + block_size - 1) / block_size;
  std::vector<int32_t> table(blocks);
  for (auto& t : table)
    t = next_block++;
  b.tables.push_back(std::move(table));
  for (int32_t p = first; p < first + count; ++p) {
    b.tokens.push_back({p, nullptr});
    b.pairs += p + 1;
  }
}

// args: prompt tokens, decoding sequences, bf16 cache (0 or 1), layers, the decoders' context
void bm_attention(benchmark::State& state) {
  const int32_t prompt = static_cast<int32_t>(state.range(0));
  const int32_t decoders = static_cast<int32_t>(state.range(1));
  const int64_t layers = state.range(3);
  const int32_t context = static_cast<int32_t>(state.range(4));
  batch b;
  b.tables.reserve(decoders + 1);
  int32_t next_block = 0;
  for (int32_t s = 0; s < decoders; ++s)
    add_sequence(b, context - 1, 1, next_block);
  if (prompt > 0) add_sequence(b, 0, prompt, next_block);
  size_t at = 0;  // point each token at its sequence's table
  for (const auto& table : b.tables) {
    const size_t count = &table == &b.tables.back() && prompt > 0 ? prompt : 1;
    for (size_t i = 0; i < count; ++i)
      b.tokens[at++].block_table = table.data();
  }
  const paged_kv_layout layout{block_size, kv_heads, head_dim};
  // Every layer's cache in one allocation, a layer apart.
  const int64_t layer_size = next_block * layout.block_stride();
  const auto k_cache = random_floats(layers * layer_size, 1);
  const auto v_cache = random_floats(layers * layer_size, 2);
  const int64_t n = static_cast<int64_t>(b.tokens.size());
  const auto q = random_floats(n * heads * head_dim, 3);
  std::vector<float> out(q.size());
  const bool bf16 = state.range(2) != 0;
  const auto products = state.range(2) == 2 ? attention_products::bf16 : attention_products::f32;
  if (products == attention_products::bf16 && !bf16_products_supported(head_dim))
    return state.SkipWithError("no bf16 attention products on this CPU");
  int64_t layer = 0;
  if (!bf16) {
    for (auto _ : state) {
      const int64_t at = layer++ % layers * layer_size;
      paged_attention(pool(), layout, b.tokens.data(), n, heads, 0.125f, q.data(),
                      k_cache.data() + at, v_cache.data() + at, out.data());
      benchmark::DoNotOptimize(out.data());
    }
  } else {
    std::vector<uint16_t> k_words(k_cache.size()), v_words(v_cache.size());
    round_to_half(k_cache.data(), static_cast<int64_t>(k_cache.size()), half_format::bf16,
                  k_words.data());
    round_to_half(v_cache.data(), static_cast<int64_t>(v_cache.size()), half_format::bf16,
                  v_words.data());
    for (auto _ : state) {
      const int64_t at = layer++ % layers * layer_size;
      paged_attention(pool(), layout, b.tokens.data(), n, heads, 0.125f, q.data(),
                      half_format::bf16, k_words.data() + at, v_words.data() + at, out.data(), 0,
                      products);
      benchmark::DoNotOptimize(out.data());
    }
  }
  state.counters["GFLOP/s"] = benchmark::Counter(4.0 * b.pairs * heads * head_dim,
                                                 benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
  // Each (token, key) pair of a query's kv group reads a key and a value head once per tile
  // (decode: once per token).
  const double bytes_a_call = 2.0 * b.pairs * kv_heads * head_dim * (bf16 ? 2 : 4);
  state.counters["GB/s"] = benchmark::Counter(
      bytes_a_call, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

BENCHMARK(bm_attention)
    ->ArgNames({"prompt", "decoders", "bf16", "layers", "context"})
    ->ArgsProduct({{128}, {0}, {0, 1, 2}, {1, 30}, {160}})
    ->ArgsProduct({{0}, {16}, {0, 1, 2}, {1, 30}, {160}})
    // One stream decoding (a c=1 server's step) at context 192.
    ->ArgsProduct({{0}, {1}, {0, 1}, {1, 30}, {192}})
    // One stream decoding (a c=1 server's step) at context 192.
    ->ArgsProduct({{0}, {1}, {0, 1}, {1, 30}, {192}})
    ->ArgsProduct({{128}, {15}, {0, 1, 2}, {1, 30}, {160}})
    ->ArgsProduct({{512}, {0}, {1, 2}, {1}, {160}})
    // A long-context server's step: 16 decodes at context 1024 over 24 layers' bf16 caches
    // (300 MB in all, so the cache comes from DRAM; about 1 GB of memory while it runs).
    ->Args({0, 16, 1, 24, 1024})
    ->Args({0, 16, 2, 24, 1024})
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
