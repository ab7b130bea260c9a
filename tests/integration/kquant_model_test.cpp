// The default model requantized to Q4_K_M by llama.cpp (Q4_K, Q5_0, Q6_K, Q8_0 and F32 tensors)
// loads through the CLI's model loading; as f32 its greedy tokens equal llama.cpp's on the same
// file dequantized to F32, as stored they follow llama.cpp's own Q4_K_M run
// (tests/data/reference/smollm2_q4_k_m_greedy.json, tools/kquant_model_reference.py). Skips when
// that script (or llama.cpp's llama-quantize, docs/performance.md) has not made the model file.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "actors/engine.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/support/testdata.hpp"

namespace troupe {
namespace {

std::vector<int32_t> int_array(const rapidjson::Value& v) {
  std::vector<int32_t> out;
  for (const auto& x : v.GetArray())
    out.push_back(x.GetInt());
  return out;
}

std::string q4_k_m_model() {
  const std::string default_model = testing::default_model_gguf();
  if (default_model.empty()) return "";
  const auto path =
      std::filesystem::path(default_model).parent_path() / "SmolLM2-135M-Instruct.Q4_K_M.gguf";
  return std::filesystem::exists(path) ? path.string() : "";
}

struct reference_prompt {
  std::string name, prompt;
  std::vector<int32_t> prompt_ids, greedy_ids, greedy_ids_q4_k_m;
};

std::vector<reference_prompt> load_reference(int32_t& num_tokens) {
  std::ifstream in(testing::repo_testdata("reference/smollm2_q4_k_m_greedy.json"));
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  std::vector<reference_prompt> out;
  if (doc.HasParseError()) return out;
  num_tokens = doc["num_tokens"].GetInt();
  for (const auto& p : doc["prompts"].GetArray())
    out.push_back({p["name"].GetString(), p["prompt"].GetString(), int_array(p["prompt_ids"]),
                   int_array(p["greedy_ids"]), int_array(p["greedy_ids_q4_k_m"])});
  return out;
}

// Greedy tokens of every reference prompt through an engine on the Q4_K_M file with `dtype`.
std::vector<std::vector<int32_t>> greedy_tokens(const std::string& path, const std::string& dtype,
                                                const std::vector<reference_prompt>& refs,
                                                int32_t num_tokens) {
  runtime::engine_config config;
  config.model = path;
  config.dtype = dtype;
  config.num_gpu_blocks_override = 64;
  config.disable_log_requests = true;
  auto built = runtime::build_engine(config);
  EXPECT_TRUE(built) << built.message();
  if (!built) return {};
  auto started = actors::start_engine(std::move(*built));
  EXPECT_TRUE(started) << started.message();
  if (!started) return {};
  std::unique_ptr<actors::engine> engine = std::move(*started);
  std::vector<std::vector<int32_t>> out;
  for (const auto& ref : refs) {
    EXPECT_EQ(engine->tokenizer().encode(ref.prompt, true), ref.prompt_ids) << ref.name;
    actors::generation_request request;
    request.prompt = ref.prompt;
    request.max_tokens = num_tokens;
    request.ignore_eos = true;
    request.sampling.temperature = 0.0f;
    auto sink = std::make_shared<testing::collecting_sink>();
    engine->submit(request, sink);
    EXPECT_TRUE(sink->wait_finished(std::chrono::seconds(300))) << ref.name;
    EXPECT_FALSE(sink->last().error) << ref.name;
    out.push_back(sink->token_ids());
  }
  return out;
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n])
    ++n;
  return n;
}

// The reference path (--dtype float32: every tensor dequantized, f32 arithmetic) equals
// llama.cpp on the same file dequantized to F32, token for token.
TEST(kquant_model, q4_k_m_as_f32_equals_llama_cpp_f32) {
  const std::string path = q4_k_m_model();
  if (path.empty()) GTEST_SKIP() << "no Q4_K_M model (run tools/kquant_model_reference.py)";
  int32_t num_tokens = 0;
  const auto refs = load_reference(num_tokens);
  ASSERT_FALSE(refs.empty());
  const auto got = greedy_tokens(path, "float32", refs, num_tokens);
  ASSERT_EQ(got.size(), refs.size());
  for (size_t i = 0; i < refs.size(); ++i)
    EXPECT_EQ(got[i], refs[i].greedy_ids) << refs[i].name;
}

// Served as stored (the default: Q4_K/Q6_K/Q5_0/Q8_0 blocks against q8_K / q8_0 activations,
// as llama.cpp computes them), the greedy tokens follow llama.cpp's own run on the Q4_K_M file
// about as far as the F32 reference's do. Quantized activations move near-ties either way and 4
// prompts of 16 tokens are few: measured 42 tokens followed against the F32 reference's 43 (45
// when the K-quants still ran in f32), so the bound allows two; position-wise agreement is
// reported, not asserted.
TEST(kquant_model, q4_k_m_as_stored_follows_llama_cpp_q4_k_m) {
  const std::string path = q4_k_m_model();
  if (path.empty()) GTEST_SKIP() << "no Q4_K_M model (run tools/kquant_model_reference.py)";
  int32_t num_tokens = 0;
  const auto refs = load_reference(num_tokens);
  ASSERT_FALSE(refs.empty());
  const auto got = greedy_tokens(path, "auto", refs, num_tokens);
  ASSERT_EQ(got.size(), refs.size());
  size_t prefix = 0, prefix_f32 = 0, same_position = 0, total = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const auto& q = refs[i].greedy_ids_q4_k_m;
    prefix += common_prefix(got[i], q);
    prefix_f32 += common_prefix(refs[i].greedy_ids, q);
    for (size_t t = 0; t < q.size() && t < got[i].size(); ++t, ++total)
      same_position += q[t] == got[i][t];
  }
  std::printf(
      "llama.cpp's Q4_K_M tokens followed for %zu tokens in all (the F32 reference's: %zu); %zu / "
      "%zu equal at the same position\n",
      prefix, prefix_f32, same_position, total);
  EXPECT_GE(prefix + 2, prefix_f32);
}

}  // namespace
}  // namespace troupe
