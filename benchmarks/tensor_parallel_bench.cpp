// The cost of tensor parallelism on the default model (SmolLM2-135M, f32 weights): one step at
// N ranks of T compute threads each, every rank on its own thread as the executors run them
// (tests/runtime/model/tensor_parallel_driver.hpp), against N = 1 with the same total threads:
// a decode step of 16 sequences (64-token contexts) and a 128-token prefill step. Skips when the
// model has not been fetched (tools/setup.sh).
//   ./tensor_parallel_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <tuple>
#include <utility>
#include <vector>

#include "runtime/default_model.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "tests/runtime/model/tensor_parallel_driver.hpp"

namespace {

using namespace troupe::runtime;
using troupe::testing::rank_threads;

constexpr int32_t block_size = 16;
constexpr int32_t context = 64;

// One group per (ranks, threads per rank, pinned), loaded on first use; nullptr without the
// model. Pinned: each rank's threads on their own CPUs, as `troupe serve` runs them
// (plan_rank_cpus; unpinned when the machine has too few).
rank_threads<>* group(int32_t world_size, int32_t threads_per_rank, bool pinned) {
  static std::map<std::tuple<int32_t, int32_t, bool>, std::unique_ptr<rank_threads<>>> groups;
  auto& g = groups[{world_size, threads_per_rank, pinned}];
  if (g == nullptr) {
    auto file = gguf_file::open(default_model_path());
    if (!file) return nullptr;
    auto weights = load_llama_gguf(**file);
    if (!weights) return nullptr;
    auto made = make_tensor_parallel_runners(
        std::move(*weights), world_size, threads_per_rank, 512, block_size,
        pinned ? plan_rank_cpus(world_size, threads_per_rank) : std::vector<std::vector<int>>{});
    if (made) g = std::make_unique<rank_threads<>>(std::move(made).value());
  }
  return g.get();
}

// Sequence s owns blocks [s * 16, s * 16 + 16): room for 256 tokens.
seq_step sequence(int32_t s, int32_t start_pos, int32_t num_tokens) {
  seq_step seq;
  seq.seq_id = static_cast<uint64_t>(s);
  seq.start_pos = start_pos;
  seq.num_tokens = num_tokens;
  for (int32_t b = 0; b < 16; ++b)
    seq.block_table.push_back(s * 16 + b);
  seq.sample = true;
  seq.sampling.temperature = 0.0f;
  return seq;
}

void run(benchmark::State& state, rank_threads<>& g, const step_batch& step, int64_t tokens) {
  for (auto _ : state) {
    auto answers = g.execute(step);
    if (!answers[0]) return state.SkipWithError(answers[0].message().c_str());
  }
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(tokens),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

rank_threads<>* group_of(const benchmark::State& state) {
  return group(static_cast<int32_t>(state.range(0)), static_cast<int32_t>(state.range(1)),
               state.range(2) != 0);
}

// The configurations compared: 1 rank of 2 threads, 2 ranks of 1 (pinned or not), 1 rank of 1.
void configurations(benchmark::internal::Benchmark* b) {
  b->ArgNames({"ranks", "threads", "pinned"});
  for (const auto& args :
       std::vector<std::vector<int64_t>>{{1, 2, 0}, {2, 1, 1}, {2, 1, 0}, {1, 1, 0}})
    b->Args(args);
  b->UseRealTime()->Unit(benchmark::kMillisecond);
}

// args: ranks, compute threads per rank, pinned
void bm_decode16(benchmark::State& state) {
  auto* g = group_of(state);
  if (g == nullptr) return state.SkipWithError("default model not found");
  const int32_t num_seqs = 16;
  step_batch prefill, decode;
  for (int32_t s = 0; s < num_seqs; ++s) {
    prefill.seqs.push_back(sequence(s, 0, context));
    for (int32_t i = 0; i < context; ++i)
      prefill.token_ids.push_back(100 + (s * 7 + i) % 4000);
    decode.seqs.push_back(sequence(s, context, 1));
    decode.token_ids.push_back(42 + s);
  }
  (void)g->execute(prefill);
  run(state, *g, decode, num_seqs);
}
BENCHMARK(bm_decode16)->Apply(configurations);

// args: ranks, compute threads per rank, pinned
void bm_prefill128(benchmark::State& state) {
  auto* g = group_of(state);
  if (g == nullptr) return state.SkipWithError("default model not found");
  step_batch prefill;
  prefill.seqs.push_back(sequence(0, 0, 128));
  for (int32_t i = 0; i < 128; ++i)
    prefill.token_ids.push_back(100 + i);
  run(state, *g, prefill, 128);
}
BENCHMARK(bm_prefill128)->Apply(configurations);

}  // namespace

BENCHMARK_MAIN();
