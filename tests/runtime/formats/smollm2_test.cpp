// Integration: the default model (SmolLM2-135M-Instruct, Q4_1 + Q8_0 + F32) loads with the
// expected hparams, and dequantized values agree with llama.cpp's Python `gguf` package
// (tests/data/formats/smollm2_values.json, made by tools/gguf_reference_values.py).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include "runtime/formats/llama_gguf.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

class smollm2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = troupe::testing::default_model_gguf();
    if (path.empty()) return;
    result<std::shared_ptr<const gguf_file>> opened = gguf_file::open(path);
    ASSERT_TRUE(opened.ok()) << opened.message();
    file_ = *opened;
    const auto start = std::chrono::steady_clock::now();
    result<llama_weights> loaded = load_llama_gguf(*file_);
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ASSERT_TRUE(loaded.ok()) << loaded.message();
    for_each_matrix(*loaded, [](const weight_matrix& m, int64_t, int64_t, const std::string& n) {
      formats_[n] = backend::weight_format_name(m.format);
    });
    // The values below are compared as f32: dequantize what the loader kept as stored.
    apply_weight_dtype(*loaded, weight_dtype::float32);
    weights_ = new llama_weights(std::move(loaded.value()));
  }
  static void TearDownTestSuite() {
    delete weights_;
    weights_ = nullptr;
    file_.reset();
  }
  void SetUp() override {
    if (weights_ == nullptr) GTEST_SKIP() << "default model not fetched (run tools/setup.sh)";
  }

  static const std::vector<float>* weights_of(const std::string& name) {
    static const std::map<std::string, const std::vector<float>*> known = {
        {"token_embd.weight", &weights_->token_embedding.values},
        {"output_norm.weight", &weights_->output_norm},
        {"blk.0.attn_q.weight", &weights_->layers[0].wq.values},
        {"blk.0.attn_k.weight", &weights_->layers[0].wk.values},
        {"blk.0.attn_norm.weight", &weights_->layers[0].attn_norm},
        {"blk.0.ffn_down.weight", &weights_->layers[0].w_down.values},
        {"blk.29.ffn_up.weight", &weights_->layers[29].w_up.values},
    };
    auto it = known.find(name);
    return it == known.end() ? nullptr : it->second;
  }

  static inline std::shared_ptr<const gguf_file> file_;
  static inline llama_weights* weights_ = nullptr;
  static inline double load_seconds_ = 0;
  static inline std::map<std::string, std::string> formats_;  // as loaded, by matrix name
};

TEST_F(smollm2, hparams_match_the_model_card) {
  const llama_hparams& hp = weights_->hparams;
  EXPECT_EQ(hp.architecture, "llama");
  EXPECT_EQ(hp.num_layers, 30);
  EXPECT_EQ(hp.hidden_size, 576);
  EXPECT_EQ(hp.num_heads, 9);
  EXPECT_EQ(hp.num_kv_heads, 3);
  EXPECT_EQ(hp.head_dim, 64);
  EXPECT_EQ(hp.intermediate_size, 1536);
  EXPECT_EQ(hp.vocab_size, 49152);
  EXPECT_EQ(hp.max_position_embeddings, 8192);
  EXPECT_EQ(hp.rope_theta, 100000.0f);
  EXPECT_EQ(hp.rms_norm_eps, 1e-5f);
  EXPECT_EQ(hp.rope, rope_style::interleaved);
  EXPECT_TRUE(hp.tie_word_embeddings);
  EXPECT_TRUE(weights_->output.empty());
  EXPECT_EQ(weights_->layers.size(), 30u);
  EXPECT_EQ(weights_->token_embedding.values.size(), 49152u * 576);
  EXPECT_EQ(weights_->layers[29].w_down.values.size(), 576u * 1536);
  // The loader keeps the file's types: Q8_0 embedding, Q4_1 projections.
  EXPECT_EQ(formats_["token_embedding"], "q8_0");
  EXPECT_EQ(formats_["layer 0.wq"], "q4_1");
  EXPECT_EQ(formats_["layer 29.w_down"], "q4_1");
  std::cout << "load_llama_gguf took " << load_seconds_ << " s\n";
  EXPECT_LT(load_seconds_, 30.0);  // a couple of seconds normally; generous for busy machines
}

TEST_F(smollm2, values_agree_with_python_gguf) {
  std::ifstream in(troupe::testing::repo_testdata("formats/smollm2_values.json"));
  ASSERT_TRUE(in) << "missing tests/data/formats/smollm2_values.json";
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rapidjson::Document doc;
  ASSERT_FALSE(doc.Parse(text.c_str()).HasParseError());
  EXPECT_EQ(file_->tensors().size(), doc["num_tensors"].GetUint64());
  int num_checked = 0;
  for (const auto& tensor : doc["tensors"].GetArray()) {
    const std::string name = tensor["name"].GetString();
    const std::vector<float>* w = weights_of(name);
    ASSERT_NE(w, nullptr) << name;
    const gguf_tensor_info* info = file_->find_tensor(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(ggml_type_name(info->type), tensor["type"].GetString()) << name;
    ASSERT_EQ(w->size(), info->num_elements()) << name;
    for (const auto& v : tensor["values"].GetArray()) {
      const size_t index = v["index"].GetUint64();
      const float want = static_cast<float>(v["value"].GetDouble());
      ASSERT_LT(index, w->size()) << name;
      EXPECT_NEAR((*w)[index], want, 1e-6f * std::fabs(want) + 1e-7f)
          << name << "[" << index << "]";
      ++num_checked;
    }
    double sum = 0, abs_sum = 0;
    for (float x : *w)
      sum += x, abs_sum += std::fabs(x);
    EXPECT_NEAR(sum, tensor["sum"].GetDouble(), 1e-6 * tensor["abs_sum"].GetDouble()) << name;
    EXPECT_NEAR(abs_sum, tensor["abs_sum"].GetDouble(), 1e-6 * tensor["abs_sum"].GetDouble())
        << name;
  }
  EXPECT_GT(num_checked, 50);
}

}  // namespace
}  // namespace troupe::runtime
