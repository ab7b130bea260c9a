// The forward over an fp8 KV cache (--kv-cache-dtype fp8 | fp8_e4m3 | fp8_e5m2) and over a 16-bit
// one (bfloat16 | float16) on make-model's tiny Llama, Mistral (sliding window, head_dim 24) and
// Qwen2 (qkv bias, tied embeddings): log-probs close to the f32 cache's, the same greedy tokens,
// batch invariance kept bitwise.
//
// Measured on these models (24-token prompt, then 8 decode steps fed the f32 greedy tokens, every
// vocabulary entry at every step), the largest |log-prob(fp8) - log-prob(f32)|:
//              llama   mistral  qwen2
//   fp8_e4m3   0.041   0.076    0.102
//   fp8_e5m2   0.121   0.185    0.175
// The tolerances leave about 1.5x. make-model's logits spread over only ~2-3 nats, so near-ties
// are common: fp8 flipped two greedy choices whose f32 top-two margin was 0.006 (mistral, e4m3,
// step 2) and 0.027 (llama, e5m2, step 3); every step with a margin of at least `near_tie` keeps
// its token (the smallest such margin here is 0.035). Qwen2 with tied embeddings repeats one
// token by a margin of ~20 nats, so its greedy check is easy.
//
// The 16-bit caches, the same measure (the tolerances again about 1.5x):
//              llama   mistral  qwen2
//   bf16       0.0032  0.0051   0.0053
//   f16        0.0003  0.0008   0.0007
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/kv_cache.hpp"
#include "tests/runtime/model/forced_decode.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using backend::kv_cache_dtype;
using testing::random_tokens;
using testing::seq_entry;

constexpr int32_t block_size = 8, num_blocks = 32;
constexpr double e4m3_tolerance = 0.15, e5m2_tolerance = 0.3;  // nats, see the top
constexpr double bf16_tolerance = 0.008, f16_tolerance = 0.0013;
constexpr double near_tie = 0.03;  // f32 top-two margin, nats

llama_weights family_model(const std::string& family) {
  return testing::load_tiny_family(family, "fp8_kv");
}

std::unique_ptr<cpu_llama_runner> make_runner(llama_weights w, kv_cache_dtype dtype) {
  auto r = cpu_llama_runner::create(std::move(w), num_blocks, block_size, 2, dtype);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return std::move(r).value();
}

double tolerance(kv_cache_dtype dtype) {
  switch (dtype) {
    case kv_cache_dtype::fp8_e4m3:
      return e4m3_tolerance;
    case kv_cache_dtype::fp8_e5m2:
      return e5m2_tolerance;
    case kv_cache_dtype::bf16:
      return bf16_tolerance;
    default:
      return f16_tolerance;
  }
}

struct fp8_case {
  const char* family;
  kv_cache_dtype dtype;
};

class fp8_forward : public ::testing::TestWithParam<fp8_case> {};

// Both caches see the same tokens (the f32 greedy continuation); every step's log-probs are
// compared over the whole vocabulary, and the smaller cache's greedy choice must be the f32 one
// unless the f32 top two are a near-tie.
TEST_P(fp8_forward, logprobs_close_to_the_f32_cache_and_greedy_tokens_equal) {
  const auto [family, dtype] = GetParam();
  const auto weights = family_model(family);
  auto f32 = make_runner(weights, kv_cache_dtype::f32);
  auto small = make_runner(weights, dtype);
  const double max_diff =
      testing::max_logprob_diff(*f32, *small, weights.hparams.vocab_size, near_tie);
  std::printf("%s %s: max |logprob - f32's| = %.5f\n", family,
              std::string(kv_cache_dtype_name(dtype)).c_str(), max_diff);
  EXPECT_LT(max_diff, tolerance(dtype));
  EXPECT_GT(max_diff, 0.0);  // the cache really is smaller than f32
}

INSTANTIATE_TEST_SUITE_P(
    families, fp8_forward,
    ::testing::Values(
        fp8_case{"llama", kv_cache_dtype::fp8_e4m3}, fp8_case{"mistral", kv_cache_dtype::fp8_e4m3},
        fp8_case{"qwen2", kv_cache_dtype::fp8_e4m3}, fp8_case{"llama", kv_cache_dtype::fp8_e5m2},
        fp8_case{"mistral", kv_cache_dtype::fp8_e5m2}, fp8_case{"qwen2", kv_cache_dtype::fp8_e5m2},
        fp8_case{"llama", kv_cache_dtype::bf16}, fp8_case{"mistral", kv_cache_dtype::bf16},
        fp8_case{"qwen2", kv_cache_dtype::bf16}, fp8_case{"llama", kv_cache_dtype::f16},
        fp8_case{"mistral", kv_cache_dtype::f16}, fp8_case{"qwen2", kv_cache_dtype::f16}));

// As llama_forward_test's f32 check: a prompt alone, and in one step with a decode, another
// prompt and a continued chunk, on a runner whose thread count differs.
class small_kv_cache : public ::testing::TestWithParam<kv_cache_dtype> {};

TEST_P(small_kv_cache, sequence_logits_are_bitwise_equal_alone_or_in_a_busy_batch) {
  const kv_cache_dtype dtype = GetParam();
  const auto weights = family_model("llama");
  testing::expect_alone_equals_busy_batch(weights.hparams.vocab_size, [&](int32_t threads) {
    auto r = cpu_llama_runner::create(weights, num_blocks, block_size, threads, dtype);
    EXPECT_TRUE(r.ok());
    return std::move(r).value();
  });
}

INSTANTIATE_TEST_SUITE_P(dtypes, small_kv_cache,
                         ::testing::Values(kv_cache_dtype::fp8_e4m3, kv_cache_dtype::bf16,
                                           kv_cache_dtype::f16),
                         [](const auto& info) {
                           return std::string(kv_cache_dtype_name(info.param));
                         });

// The checkpoint's k/v scales reach the cache: different scales change the logits (the codes
// differ), and the result stays close to f32 (store divides by the scale, read multiplies).
TEST(fp8_kv_cache, checkpoint_scales_are_applied) {
  auto weights = family_model("llama");
  const auto prompt = random_tokens(20, weights.hparams.vocab_size, 4);
  auto run = [&](const llama_weights& w, kv_cache_dtype dtype) {
    step_batch b;
    b.token_ids = prompt;
    b.seqs = {seq_entry(1, 0, 20, {0, 1, 2})};
    return make_runner(w, dtype)->forward_logits(b);
  };
  const auto f32 = run(weights, kv_cache_dtype::f32);
  const auto unit = run(weights, kv_cache_dtype::fp8_e4m3);
  for (auto& layer : weights.layers) {
    layer.k_scale = 0.37f;
    layer.v_scale = 0.011f;
  }
  const auto scaled = run(weights, kv_cache_dtype::fp8_e4m3);
  EXPECT_EQ(run(weights, kv_cache_dtype::f32), f32);  // an f32 cache ignores the scales
  const auto bf16 = run(weights, kv_cache_dtype::bf16);
  for (auto& layer : weights.layers)
    layer.k_scale = layer.v_scale = 1.0f;
  EXPECT_EQ(run(weights, kv_cache_dtype::bf16), bf16);  // and so does a 16-bit one
  EXPECT_NE(scaled, unit);
  const auto want = testing::log_softmax(f32), got = testing::log_softmax(scaled);
  for (size_t v = 0; v < want.size(); ++v)
    EXPECT_NEAR(got[v], want[v], e4m3_tolerance) << v;
}

}  // namespace
}  // namespace troupe::runtime
