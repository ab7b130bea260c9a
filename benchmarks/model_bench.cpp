// Step throughput of the CPU Llama runner on the default model (SmolLM2-135M Q4_1, weights as
// stored), or on $TROUPE_BENCH_MODEL (a GGUF file or a Hugging Face directory): decode steps at
// concurrency 1, 4 and 16, on 1 and 2 compute threads (each sequence with a 64-token context),
// 128- and 256-token prefill steps, and the step a server at 16 streams of 128 in / 64 out runs
// most (15 decodes at context 160 beside one 128-token prompt), and 16 decodes at context 1024 (a
// long-context server's step, its caches read from DRAM). Skips when the model has not been
// fetched (tools/setup.sh). TROUPE_BENCH_DTYPE=bfloat16 runs the model as `--dtype bfloat16` does:
// every dense matrix in bf16, multiplied by activations rounded to bf16 (AMX tiles where the CPU
// has them). TROUPE_BENCH_KV names the KV cache's dtype as `--kv-cache-dtype` does (default f32).
// TROUPE_CPU_OP_TIMES=N logs each runner's op times every N steps, as in `troupe serve`.
//   ./model_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string_view>

#include "runtime/default_model.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/kv_cache.hpp"

namespace {

using namespace troupe::runtime;

constexpr int32_t block_size = 16;
constexpr int32_t context = 64;
// Each of up to 16 sequences owns this many cache blocks: room for 1152 tokens.
constexpr int32_t blocks_per_sequence = 72;
constexpr int32_t max_sequences = 16;

troupe::result<llama_weights> load_weights() {
  const char* chosen = std::getenv("TROUPE_BENCH_MODEL");
  const std::string path = chosen != nullptr ? chosen : default_model_path();
  if (!path.ends_with(".gguf")) return load_hf_model(path);
  auto file = gguf_file::open(path);
  if (!file) return file.err();
  return load_llama_gguf(**file);
}

// One runner per compute thread count, loaded on first use; nullptr without the model.
cpu_llama_runner* runner(int32_t num_threads) {
  static std::map<int32_t, std::unique_ptr<cpu_llama_runner>> runners;
  auto& r = runners[num_threads];
  if (r == nullptr) {
    auto weights = load_weights();
    if (!weights) return nullptr;
    const char* dtype = std::getenv("TROUPE_BENCH_DTYPE");
    const bool bf16 = dtype != nullptr && std::string_view(dtype) == "bfloat16";
    if (bf16) apply_weight_dtype(*weights, weight_dtype::bfloat16);
    const char* kv_name = std::getenv("TROUPE_BENCH_KV");
    const auto kv = parse_kv_cache_dtype(kv_name != nullptr ? kv_name : "auto",
                                         troupe::backend::kv_cache_dtype::f32);
    if (!kv) return nullptr;
    auto created = cpu_llama_runner::create(
        std::move(*weights), max_sequences * blocks_per_sequence, block_size, num_threads, *kv,
        bf16 ? troupe::backend::cpu_activations::bf16 : troupe::backend::cpu_activations::f32);
    if (created) r = std::move(*created);
    const char* op_times = std::getenv("TROUPE_CPU_OP_TIMES");
    if (r != nullptr && op_times != nullptr && std::atoi(op_times) > 0) {
      if (auto* cpu = dynamic_cast<troupe::backend::cpu_backend*>(&r->compute()))
        cpu->enable_op_timing(std::atoi(op_times));
    }
  }
  return r.get();
}

// Sequence s owns blocks [s * blocks_per_sequence, (s + 1) * blocks_per_sequence).
seq_step sequence(int32_t s, int32_t start_pos, int32_t num_tokens) {
  seq_step seq;
  seq.seq_id = static_cast<uint64_t>(s);
  seq.start_pos = start_pos;
  seq.num_tokens = num_tokens;
  for (int32_t b = 0; b < blocks_per_sequence; ++b)
    seq.block_table.push_back(s * blocks_per_sequence + b);
  seq.sample = true;
  seq.sampling.temperature = 0.0f;
  return seq;
}

// Sequences [0, num_seqs) prefilled to `length` tokens each (in steps of at most 512 tokens, as
// chunked prefill runs them), then one decode token each from there: the batch that decodes them.
step_batch prefill_then_decode(cpu_llama_runner& r, int32_t num_seqs, int32_t length) {
  constexpr int32_t chunk = 512;
  for (int32_t s = 0; s < num_seqs; ++s) {
    for (int32_t at = 0; at < length; at += chunk) {
      step_batch prefill;
      prefill.seqs.push_back(sequence(s, at, std::min(chunk, length - at)));
      for (int32_t i = at; i < at + prefill.seqs.back().num_tokens; ++i)
        prefill.token_ids.push_back(100 + (s * 7 + i) % 4000);
      r.execute(prefill);
    }
  }
  step_batch decode;
  for (int32_t s = 0; s < num_seqs; ++s) {
    decode.seqs.push_back(sequence(s, length, 1));
    decode.token_ids.push_back(42 + s);
  }
  return decode;
}

// args: concurrent sequences, compute threads, context (tokens before the decoded one)
void bm_decode(benchmark::State& state) {
  auto* r = runner(static_cast<int32_t>(state.range(1)));
  if (r == nullptr)
    return state.SkipWithError("model not found (the default, or $TROUPE_BENCH_MODEL)");
  const auto num_seqs = static_cast<int32_t>(state.range(0));
  const step_batch decode = prefill_then_decode(*r, num_seqs, static_cast<int32_t>(state.range(2)));
  for (auto _ : state)
    benchmark::DoNotOptimize(r->execute(decode));
  state.counters["tokens/s"] =
      benchmark::Counter(num_seqs, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(bm_decode)
    ->ArgNames({"seqs", "threads", "context"})
    ->ArgsProduct({{1, 4, 16}, {1, 2}, {context}})
    ->Args({16, 2, 160})   // the 16-stream server's decode step (128 in / 64 out)
    ->Args({16, 2, 1024})  // a long-context server's: decode attention reads 16 caches from DRAM
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// args: prompt tokens, compute threads
void bm_prefill(benchmark::State& state) {
  auto* r = runner(static_cast<int32_t>(state.range(1)));
  if (r == nullptr)
    return state.SkipWithError("model not found (the default, or $TROUPE_BENCH_MODEL)");
  const auto num_tokens = static_cast<int32_t>(state.range(0));
  step_batch prefill;
  prefill.seqs.push_back(sequence(0, 0, num_tokens));
  for (int32_t i = 0; i < num_tokens; ++i)
    prefill.token_ids.push_back(100 + i);
  for (auto _ : state)
    benchmark::DoNotOptimize(r->execute(prefill));
  state.counters["tokens/s"] =
      benchmark::Counter(num_tokens, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(bm_prefill)
    ->ArgNames({"tokens", "threads"})
    ->ArgsProduct({{128, 256}, {1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// args: compute threads. The second 512-token chunk of a 1024-token prompt (its first chunk in the
// cache): the step chunked prefill runs for long prompts, its attention over up to 1024 keys.
void bm_prefill_second_chunk(benchmark::State& state) {
  auto* r = runner(static_cast<int32_t>(state.range(0)));
  if (r == nullptr)
    return state.SkipWithError("model not found (the default, or $TROUPE_BENCH_MODEL)");
  constexpr int32_t chunk = 512;
  step_batch first;
  first.seqs.push_back(sequence(0, 0, chunk));
  step_batch second;
  second.seqs.push_back(sequence(0, chunk, chunk));
  for (int32_t i = 0; i < chunk; ++i) {
    first.token_ids.push_back(100 + i);
    second.token_ids.push_back(100 + chunk + i);
  }
  r->execute(first);
  for (auto _ : state)
    benchmark::DoNotOptimize(r->execute(second));
  state.counters["tokens/s"] =
      benchmark::Counter(chunk, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(bm_prefill_second_chunk)
    ->ArgNames({"threads"})
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// args: compute threads. Sequences 0-14 decode at context 160; sequence 15 runs a 128-token prompt.
void bm_mixed(benchmark::State& state) {
  auto* r = runner(static_cast<int32_t>(state.range(0)));
  if (r == nullptr)
    return state.SkipWithError("model not found (the default, or $TROUPE_BENCH_MODEL)");
  constexpr int32_t decoders = 15, decode_context = 160, prompt = 128;
  step_batch mixed = prefill_then_decode(*r, decoders, decode_context);
  mixed.seqs.push_back(sequence(decoders, 0, prompt));
  for (int32_t i = 0; i < prompt; ++i)
    mixed.token_ids.push_back(200 + i);
  for (auto _ : state)
    benchmark::DoNotOptimize(r->execute(mixed));
  state.counters["tokens/s"] =
      benchmark::Counter(decoders + prompt, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(bm_mixed)
    ->ArgNames({"threads"})
    ->Arg(1)
    ->Arg(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
