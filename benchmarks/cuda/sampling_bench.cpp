// The sampling step on the GPU for 64 rows of Llama-3's 128256 logits: argmax_rows then
// sample_rows (kernels/cuda/sampling.hpp), as a decode step runs them, for greedy rows,
// temperature 0.7 with top_p 0.9, temperature 1 with top_k 50, and temperature 1 without a cut;
// and with every row edited (apply_logit_edits before sample_rows: the repetition, frequency and
// presence penalties over a 2000-token history per row, 128000 edits), greedy and top_p 0.9; and
// greedy rows each asking for 20 top logprobs (vLLM's max_logprobs: the select and collect of the
// tops over every row).
// Reports "GB/s" of the logits (the bytes the step must read at least once, over the event-timed
// launches, L2 flushed before; the same bytes for the edited cases, so that the copy, the edits
// and the pass over the edited rows show as a lower rate) and "pct_of_peak" against the device's
// DRAM bandwidth: how close the step comes to a single pass over the logits. Without a device
// every benchmark is skipped.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "benchmarks/cuda/cuda_bench_support.hpp"
#include "kernels/cpu/sampling.hpp"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/elementwise.hpp"
#include "kernels/cuda/random.hpp"
#include "kernels/cuda/sampling.hpp"

namespace troupe::bench {
namespace {

namespace kc = kernels::cuda;
using cuda::device_buffer;
using kernels::cpu::logit_edit;
using kernels::cpu::sampling_row;

constexpr int64_t rows = 64;
constexpr int64_t vocab = 128256;
// Logits uniform in [-bound, bound): at temperature 0.7 the top-p 0.9 nucleus holds some
// thousands of ids, and every row has distinct maxima (no all-equal shortcut).
constexpr float logit_bound = 8.0f;

// `history` > 0: every row edited, with that many distinct random ids penalized. `tops` > 0:
// every row asks for that many top logprobs (max_top = tops).
void bm_sample_rows(benchmark::State& state, float temperature, int32_t top_k, float top_p,
                    int64_t history, int32_t tops) {
  if (!cuda::require_device(state)) return;
  const int64_t n = rows * vocab;
  std::mt19937_64 bits(7);
  std::vector<sampling_row> params(rows);
  for (auto& p : params) {
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    const uint64_t random = bits();
    p.set_random(random);
    p.edited = history > 0 ? 1 : 0;
    p.num_top_logprobs = tops;
  }
  // The edits in row order, as the runtime builds them; each row's ids in random order.
  std::vector<logit_edit> edits;
  std::vector<int32_t> ids(vocab);
  std::iota(ids.begin(), ids.end(), 0);
  for (int32_t r = 0; r < rows && history > 0; ++r) {
    std::shuffle(ids.begin(), ids.end(), bits);
    for (int64_t i = 0; i < history; ++i) {
      logit_edit e;
      e.row = r;
      e.id = ids[i];
      e.flags = kernels::cpu::edit_repetition | kernels::cpu::edit_subtract;
      e.repetition_penalty = 1.3f;
      e.subtract = kernels::cpu::penalty_subtrahend(0.5f, static_cast<int32_t>(i % 7 + 1), 0.3f);
      edits.push_back(e);
    }
  }
  const auto num_edits = static_cast<int64_t>(edits.size());
  device_buffer logits(n * 4), dparams(rows * sizeof(sampling_row)), greedy(rows * 4),
      out(2 * rows * (1 + tops) * 4), processed(history > 0 ? n * 4 : 0),
      dedits(std::max<int64_t>(num_edits, 1) * sizeof(logit_edit));
  if (!logits.get() || !dparams.get() || !greedy.get() || !out.get() || !dedits.get() ||
      (history > 0 && !processed.get())) {
    state.SkipWithError("cudaMalloc failed");
    return;
  }
  for (auto st :
       {kc::fill_random(logits.get(), kc::dense_type::f32, n, 1, logit_bound, nullptr),
        CUDA_CHECK(cudaMemcpy(dparams.get(), params.data(), rows * sizeof(sampling_row),
                              cudaMemcpyDefault)),
        num_edits > 0 ? CUDA_CHECK(cudaMemcpy(dedits.get(), edits.data(),
                                              num_edits * sizeof(logit_edit), cudaMemcpyDefault))
                      : ok_status()})
    if (!st.ok()) {
      state.SkipWithError(st.message().c_str());
      return;
    }
  cuda::run_timed(state, n * 4.0, [&](cudaStream_t s) {
    if (auto st = kc::argmax_rows(logits.get<float>(), rows, vocab, greedy.get<float>(), s);
        !st.ok())
      return st;
    if (auto st =
            kc::apply_logit_edits(logits.get<float>(), rows, vocab, dparams.get<sampling_row>(),
                                  dedits.get<logit_edit>(), num_edits, processed.get<float>(), s);
        !st.ok())
      return st;
    return kc::sample_rows(logits.get<float>(), processed.get<float>(), rows, vocab,
                           dparams.get<sampling_row>(), tops, greedy.get<float>(), out.get<float>(),
                           s);
  });
}

void setup(benchmark::internal::Benchmark* b) {
  b->UseManualTime()->MinTime(0.05)->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(bm_sample_rows, greedy, 0.0f, 0, 1.0f, 0, 0)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, t0_7_top_p_0_9, 0.7f, 0, 0.9f, 0, 0)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, t1_top_k_50, 1.0f, 50, 1.0f, 0, 0)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, t1_no_cut, 1.0f, 0, 1.0f, 0, 0)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, edited_greedy, 0.0f, 0, 1.0f, 2000, 0)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, edited_t0_7_top_p_0_9, 0.7f, 0, 0.9f, 2000, 0)->Apply(setup);
BENCHMARK_CAPTURE(bm_sample_rows, greedy_top_logprobs_20, 0.0f, 0, 1.0f, 0, 20)->Apply(setup);

}  // namespace
}  // namespace troupe::bench

BENCHMARK_MAIN();
