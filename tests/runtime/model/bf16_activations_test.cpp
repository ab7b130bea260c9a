// `--dtype bfloat16` on the CPU (backend::cpu_activations::bf16): bf16 matrices multiply the
// activations rounded to bf16, on AMX tiles where the CPU has them (kernels/cpu/amx_gemm.hpp),
// by panel_gemm on the rounded values elsewhere. On make-model's tiny Llama, Mistral (sliding
// window, head_dim 24) and Qwen2 (qkv bias, tied embeddings), with every matrix in bf16:
// log-probs close to the f32 activations' on the same bf16 weights, the same greedy tokens away
// from near-ties, and batch invariance kept bitwise.
//
// Measured (24-token prompt and 8 decode steps, every vocabulary entry at every step), the
// largest |log-prob(bf16 activations) - log-prob(f32 activations)|:
//                          llama    mistral  qwen2
//   AMX tiles              0.01757  0.01878  0.04524
//   panel_gemm, rounded x  0.01757  0.01878  0.04524   (AMX switched off by hand on the same CPU)
// The two paths differ only in the summation order (the fifth digit here); the rounding of x is
// what moves the log-probs. Qwen2's tied embeddings give logits of a larger scale. The
// tolerances leave about 1.6x.
#include <gtest/gtest.h>

#include <string>

#include "kernels/cpu/amx_gemm.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/runtime/model/forced_decode.hpp"

namespace troupe::runtime {
namespace {

using backend::cpu_activations;
using backend::kv_cache_dtype;

constexpr int32_t block_size = 8, num_blocks = 32;
constexpr double near_tie = 0.03;  // f32 top-two margin, nats

double tolerance(const std::string& family) {  // nats, see the top
  return family == "qwen2" ? 0.07 : 0.03;
}

llama_weights bf16_model(const std::string& family) {
  auto w = testing::load_tiny_family(family, "bf16_activations");
  apply_weight_dtype(w, weight_dtype::bfloat16);
  return w;
}

std::unique_ptr<cpu_llama_runner> make_runner(const llama_weights& w, cpu_activations activations,
                                              int32_t threads = 2) {
  auto r = cpu_llama_runner::create(w, num_blocks, block_size, threads, kv_cache_dtype::f32,
                                    activations);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return std::move(r).value();
}

class bf16_activations : public ::testing::TestWithParam<const char*> {};

TEST_P(bf16_activations, logprobs_close_to_f32_activations_and_greedy_tokens_equal) {
  const auto weights = bf16_model(GetParam());
  auto f32 = make_runner(weights, cpu_activations::f32);
  auto bf16 = make_runner(weights, cpu_activations::bf16);
  const double max_diff =
      testing::max_logprob_diff(*f32, *bf16, weights.hparams.vocab_size, near_tie);
  std::printf("%s, bf16 activations (%s): max |logprob - f32 activations'| = %.5f\n", GetParam(),
              kernels::cpu::bf16_tiles_supported()
                  ? kernels::cpu::describe(*kernels::cpu::best_bf16_tile_engine())
                  : "panel_gemm",
              max_diff);
  EXPECT_LT(max_diff, tolerance(GetParam()));
  EXPECT_GT(max_diff, 0.0);  // the activations really are rounded
}

TEST_P(bf16_activations, sequence_logits_are_bitwise_equal_alone_or_in_a_busy_batch) {
  const auto weights = bf16_model(GetParam());
  testing::expect_alone_equals_busy_batch(weights.hparams.vocab_size, [&](int32_t threads) {
    return make_runner(weights, cpu_activations::bf16, threads);
  });
}

INSTANTIATE_TEST_SUITE_P(families, bf16_activations,
                         ::testing::Values("llama", "mistral", "qwen2"));

}  // namespace
}  // namespace troupe::runtime
