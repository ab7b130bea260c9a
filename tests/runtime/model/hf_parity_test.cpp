// Hugging Face models from make-model's writer against the independent numpy reference
// (tools/hf_reference_logits.py -> tests/data/hf_models/reference_logprobs.json): Llama with
// llama3 RoPE scaling, Mistral with explicit head_dim + sliding window + YaRN, Qwen2 with qkv
// bias + dynamic NTK + tied embeddings in bf16, plain Llama in f16; prompts of 1 to 600 tokens.
// Each prompt is prefilled in chunks that end at the reference's checked positions; every
// reference top-5 log-prob must match within 1e-3 and the greedy continuation exactly. The same
// check runs on a checkpoint saved by transformers 5 against transformers' own forward.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;
constexpr int32_t block_size = 16, num_blocks = 48;  // 768 positions: 600 + greedy tokens
constexpr double tolerance = 1e-3;

result<tiny_model_spec> spec_from_json(const rapidjson::Value& m) {
  tiny_model_spec s;
  s.family = m["family"].GetString();
  s.seed = m["seed"].GetUint64();
  s.hidden_size = m["hidden"].GetInt();
  s.num_layers = m["layers"].GetInt();
  s.num_heads = m["heads"].GetInt();
  s.num_kv_heads = m["kv_heads"].GetInt();
  s.head_dim = m["head_dim"].GetInt();
  s.vocab_size = m["vocab"].GetInt();
  s.intermediate_size = m["ffn"].GetInt();
  s.sliding_window = m["sliding_window"].GetInt();
  s.rope_theta = static_cast<float>(m["rope_theta"].GetDouble());
  s.tie_word_embeddings = m["tie_word_embeddings"].GetBool();
  const std::string dtype = m["dtype"].GetString();
  s.dtype = dtype == "bfloat16"  ? safetensors_dtype::bf16
            : dtype == "float16" ? safetensors_dtype::f16
                                 : safetensors_dtype::f32;
  auto scaling = parse_rope_scaling_spec(m["rope_scaling"].GetString());
  if (!scaling) return scaling.err();
  s.rope_scale = *scaling;
  return s;
}

std::vector<double> log_softmax(const float* logits, int32_t n) {
  const double mx = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int32_t i = 0; i < n; ++i)
    sum += std::exp(logits[i] - mx);
  std::vector<double> out(logits, logits + n);
  for (double& x : out)
    x = x - mx - std::log(sum);
  return out;
}

// Runs tokens [start, end) of `ids` as one chunk and returns the last token's log-probs.
std::vector<double> step(cpu_llama_runner& runner, const std::vector<int32_t>& ids, int32_t start,
                         int32_t end, int32_t vocab) {
  step_batch batch;
  batch.token_ids.assign(ids.begin() + start, ids.begin() + end);
  seq_step seq;
  seq.num_tokens = end - start;
  seq.start_pos = start;
  seq.block_table.resize(num_blocks);
  std::iota(seq.block_table.rbegin(), seq.block_table.rend(), 0);  // scattered blocks
  seq.sample = true;
  batch.seqs.push_back(seq);
  auto logits = runner.forward_logits(batch);
  return log_softmax(logits.data(), vocab);
}

void check_prompt(cpu_llama_runner& runner, const rapidjson::Value& p, int32_t vocab,
                  const std::string& what) {
  std::vector<int32_t> ids;
  for (const auto& id : p["ids"].GetArray())
    ids.push_back(id.GetInt());
  int32_t done = 0;
  std::vector<double> lp;
  const auto& positions = p["positions"];
  for (rapidjson::SizeType c = 0; c < positions.Size(); ++c) {
    const int32_t pos = positions[c].GetInt();
    lp = step(runner, ids, done, pos + 1, vocab);
    done = pos + 1;
    for (const auto& entry : p["top"][c].GetArray()) {
      const int32_t id = entry[0].GetInt();
      EXPECT_NEAR(lp[id], entry[1].GetDouble(), tolerance)
          << what << " position " << pos << " token " << id;
    }
  }
  // Greedy continuation: argmax, appended, one decode step, argmax, ...
  std::vector<int32_t> greedy, expected;
  for (const auto& id : p["greedy"].GetArray()) {
    expected.push_back(id.GetInt());
    if (!greedy.empty()) {
      ids.push_back(greedy.back());
      lp = step(runner, ids, done, done + 1, vocab);
      done += 1;
    }
    greedy.push_back(static_cast<int32_t>(std::max_element(lp.begin(), lp.end()) - lp.begin()));
  }
  EXPECT_EQ(greedy, expected) << what;
}

TEST(hf_parity, make_model_models_match_the_numpy_reference) {
  std::ifstream in(troupe::testing::repo_testdata("hf_models/reference_logprobs.json"));
  ASSERT_TRUE(in) << "tests/data/hf_models/reference_logprobs.json is missing";
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  ASSERT_FALSE(doc.HasParseError());
  const fs::path tmp = fs::temp_directory_path() / ("troupe_hf_parity_" + std::to_string(getpid()));
  int num_models = 0;
  for (const auto& model : doc["models"].GetArray()) {
    const std::string name = model["spec"]["name"].GetString();
    auto spec = spec_from_json(model["spec"]);
    ASSERT_TRUE(spec) << spec.message();
    ASSERT_TRUE(write_tiny_model(*spec, (tmp / name).string()));
    auto weights = load_hf_model((tmp / name).string());
    ASSERT_TRUE(weights) << weights.message();
    const int32_t vocab = weights->hparams.vocab_size;
    for (const auto& p : model["prompts"].GetArray()) {
      auto runner = cpu_llama_runner::create(*weights, num_blocks, block_size, 2);
      ASSERT_TRUE(runner) << runner.message();
      check_prompt(**runner, p, vocab, name + " (" + std::to_string(p["ids"].Size()) + " tokens)");
    }
    ++num_models;
  }
  fs::remove_all(tmp);
  EXPECT_EQ(num_models, 4);
}

// A checkpoint saved by transformers 5 (tools/make_transformers5_checkpoint.py): rope_theta and
// llama3 scaling only inside rope_parameters, "dtype", bf16 weights, tied embeddings; the
// reference is transformers' own LlamaForCausalLM forward in float64. Read with the default
// rope_theta and no scaling, every position after the first is off.
TEST(hf_parity, transformers5_checkpoint_matches_transformers_forward) {
  std::ifstream in(troupe::testing::repo_testdata("hf_models/tf5_llama3_rope.reference.json"));
  ASSERT_TRUE(in) << "tests/data/hf_models/tf5_llama3_rope.reference.json is missing";
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  ASSERT_FALSE(doc.HasParseError());
  const auto& model = doc["models"][0];
  auto weights = load_hf_model(troupe::testing::repo_testdata(model["spec"]["dir"].GetString()));
  ASSERT_TRUE(weights) << weights.message();
  const llama_hparams& hp = weights->hparams;
  EXPECT_EQ(hp.rope_theta, 100000.0f);
  EXPECT_EQ(hp.rope_scale.type, rope_scaling_type::llama3);
  EXPECT_EQ(hp.rope_scale.original_max_position_embeddings, 32);
  EXPECT_TRUE(hp.tie_word_embeddings);
  int num_prompts = 0;
  for (const auto& p : model["prompts"].GetArray()) {
    auto runner = cpu_llama_runner::create(*weights, num_blocks, block_size, 2);
    ASSERT_TRUE(runner) << runner.message();
    check_prompt(**runner, p, hp.vocab_size,
                 "tf5_llama3_rope (" + std::to_string(p["ids"].Size()) + " tokens)");
    ++num_prompts;
  }
  EXPECT_EQ(num_prompts, 5);
}

}  // namespace
}  // namespace troupe::runtime
