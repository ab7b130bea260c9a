// W8A8 int8 checkpoints (compressed-tensors, as llm-compressor writes them; make-model's
// --quantization w8a8 | w8a8-asym) on make-model's tiny Llama, Mistral and Qwen2: they load as
// int8 projections with per-row scales, and the forward (kernels/cpu/gemm_w8a8, vLLM's numerics)
// stays close to the same seed's f32 model, batch invariant bitwise. Bad checkpoints are errors.
//
// Measured (24-token prompt, 8 decode steps fed the f32 greedy tokens, every vocabulary entry at
// every step), the largest |log-prob(W8A8) - log-prob(f32)|:
//              llama   mistral  qwen2
//   symmetric  0.037   0.041    0.068
//   asymmetric 0.029   0.039    0.063
// The tolerance leaves about 1.5x; greedy choices must agree unless the f32 top two are a
// near-tie (make-model's logits spread over only ~2-3 nats).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/weight_matrix.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/runtime/model/forced_decode.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;
using backend::weight_format;
using testing::random_tokens;
using testing::seq_entry;

constexpr int32_t block_size = 8, num_blocks = 32;
constexpr double tolerance = 0.1;  // nats, see the top
constexpr double near_tie = 0.03;  // f32 top-two margin, nats

fs::path temp_dir(const std::string& what) {
  return fs::temp_directory_path() / ("troupe_w8a8_" + std::to_string(::getpid()) + "_" + what);
}

result<llama_weights> load_spec(const tiny_model_spec& spec, const std::string& what) {
  const fs::path dir = temp_dir(what);
  EXPECT_TRUE(write_tiny_model(spec, dir.string()));
  auto w = load_hf_model(dir.string(), 1);
  fs::remove_all(dir);
  return w;
}

std::unique_ptr<cpu_llama_runner> make_runner(llama_weights w) {
  auto r = cpu_llama_runner::create(std::move(w), num_blocks, block_size, 2);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return std::move(r).value();
}

struct w8a8_case {
  const char* family;
  bool asymmetric;
};

class w8a8_forward : public ::testing::TestWithParam<w8a8_case> {};

TEST_P(w8a8_forward, loads_int8_projections_and_stays_close_to_f32) {
  const auto [family, asymmetric] = GetParam();
  auto spec = testing::tiny_family_spec(family);
  auto f32_weights = load_spec(spec, std::string(family) + "_f32");
  ASSERT_TRUE(f32_weights) << f32_weights.message();
  spec.w8a8 = true;
  spec.w8a8_asymmetric = asymmetric;
  auto int8_weights = load_spec(spec, std::string(family) + "_int8");
  ASSERT_TRUE(int8_weights) << int8_weights.message();

  const auto expected = asymmetric ? weight_format::w8a8_azp : weight_format::w8a8;
  for_each_matrix(
      *int8_weights, [&](const weight_matrix& m, int64_t rows, int64_t, const std::string& name) {
        const bool projection = name.find("layer") == 0;  // embeddings and lm_head stay f32
        EXPECT_EQ(m.format, projection ? expected : weight_format::f32) << name;
        if (projection) {
          EXPECT_EQ(m.scales.size(), static_cast<size_t>(rows)) << name;
        }
      });

  auto f32 = make_runner(*f32_weights);
  auto int8 = make_runner(*int8_weights);
  const double max_diff = testing::max_logprob_diff(*f32, *int8, spec.vocab_size, near_tie);
  std::printf("%s %s: max |logprob w8a8 - f32| = %.5f\n", family,
              asymmetric ? "asymmetric" : "symmetric", max_diff);
  EXPECT_LT(max_diff, tolerance);
  EXPECT_GT(max_diff, 0.0);  // the weights really are int8
}

INSTANTIATE_TEST_SUITE_P(families, w8a8_forward,
                         ::testing::Values(w8a8_case{"llama", false}, w8a8_case{"mistral", false},
                                           w8a8_case{"qwen2", false}, w8a8_case{"llama", true},
                                           w8a8_case{"mistral", true}, w8a8_case{"qwen2", true}));

// A prompt alone, and in one step with a decode, another prompt and a continued chunk.
TEST(w8a8_model, sequence_logits_are_bitwise_equal_alone_or_in_a_busy_batch) {
  auto spec = testing::tiny_family_spec("llama");
  spec.w8a8 = true;
  auto weights = load_spec(spec, "busy");
  ASSERT_TRUE(weights) << weights.message();
  const int32_t vocab = spec.vocab_size;
  const auto a = random_tokens(19, vocab, 10), b = random_tokens(30, vocab, 11);
  step_batch alone;
  alone.token_ids = a;
  alone.seqs = {seq_entry(0, 0, 19, {20, 21, 22})};
  const auto alone_logits = make_runner(*weights)->forward_logits(alone);

  auto runner = make_runner(*weights);
  step_batch warmup;
  warmup.token_ids.assign(b.begin(), b.begin() + 29);
  warmup.seqs = {seq_entry(1, 0, 29, {0, 1, 2, 3})};
  runner->forward_logits(warmup);
  step_batch mixed;
  mixed.token_ids = {b[29]};
  mixed.token_ids.insert(mixed.token_ids.end(), a.begin(), a.end());
  mixed.seqs = {seq_entry(1, 29, 1, {0, 1, 2, 3}), seq_entry(0, 0, 19, {12, 7, 9})};
  const auto logits = runner->forward_logits(mixed);
  const auto v = static_cast<size_t>(vocab);
  ASSERT_EQ(logits.size(), 2 * v);
  EXPECT_EQ(alone_logits, std::vector<float>(logits.begin() + v, logits.end()));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// config.json rewritten by `edit`, then loaded: the error.
std::string load_error(const std::function<std::string(std::string)>& edit) {
  auto spec = testing::tiny_family_spec("llama");
  spec.w8a8 = true;
  const fs::path dir = temp_dir("bad");
  EXPECT_TRUE(write_tiny_model(spec, dir.string()));
  const std::string config = edit(read_file(dir / "config.json"));
  std::ofstream(dir / "config.json") << config;
  auto w = load_hf_model(dir.string(), 1);
  fs::remove_all(dir);
  return w ? std::string("loaded") : w.message();
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(w8a8_model, int8_weights_without_a_quantization_config_are_an_error) {
  const auto message = load_error([](std::string config) {
    return replaced(config, "\"quantization_config\"", "\"unused_config\"");
  });
  EXPECT_NE(message.find("is I8, but no quantization_config quantizes it"), std::string::npos)
      << message;
}

TEST(w8a8_model, an_unsupported_quantization_config_names_its_field) {
  const auto message = load_error([](std::string config) {
    return replaced(config, "\"strategy\": \"channel\"", "\"strategy\": \"group\"");
  });
  EXPECT_NE(message.find("weights.strategy"), std::string::npos) << message;
}

TEST(w8a8_model, a_module_the_config_ignores_must_not_be_int8) {
  // With q_proj ignored the loader reads its I8 weight as a float tensor: refused.
  const auto message = load_error([](std::string config) {
    return replaced(config, "\"ignore\": [", "\"ignore\": [\"re:.*q_proj\", ");
  });
  EXPECT_NE(message.find("q_proj.weight' is I8"), std::string::npos) << message;
}

}  // namespace
}  // namespace troupe::runtime
