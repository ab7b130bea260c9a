// `troupe make-model --quantization w8a8`: the written tensors and the config (contract:
// hf_make_model.hpp and compressed_tensors.hpp).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "runtime/formats/compressed_tensors.hpp"
#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/safetensors.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

tiny_model_spec w8a8_spec(bool asymmetric) {
  tiny_model_spec s;
  s.seed = 7;
  s.dtype = safetensors_dtype::bf16;
  s.w8a8 = true;
  s.w8a8_asymmetric = asymmetric;
  return s;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* projections[] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                             "self_attn.o_proj", "mlp.gate_proj",    "mlp.up_proj",
                             "mlp.down_proj"};

TEST(hf_make_model_w8a8, writes_int8_projections_and_a_config_that_parses_back) {
  const fs::path dir = fs::temp_directory_path() / "troupe_w8a8_model_test";
  fs::remove_all(dir);
  const tiny_model_spec spec = w8a8_spec(false);
  ASSERT_TRUE(write_tiny_model(spec, dir.string()));
  auto ckpt = safetensors_checkpoint::open_dir(dir.string());
  ASSERT_TRUE(ckpt) << ckpt.message();

  auto config = read_w8a8_config(read_text(dir / "config.json"));
  ASSERT_TRUE(config) << config.message();
  ASSERT_TRUE(config->has_value());
  EXPECT_FALSE((*config)->asymmetric_activations);

  for (const char* name : {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
                           "model.layers.0.input_layernorm.weight"}) {
    const safetensors_tensor* t = ckpt->find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->dtype, safetensors_dtype::bf16) << name;
  }
  EXPECT_FALSE(w8a8_is_quantized(**config, "lm_head"));

  const auto floats = tiny_model_tensors([&] {
    tiny_model_spec plain = spec;
    plain.w8a8 = false;
    return plain;
  }());
  for (int layer = 0; layer < spec.num_layers; ++layer) {
    for (const char* proj : projections) {
      const std::string module = "model.layers." + std::to_string(layer) + "." + proj;
      EXPECT_TRUE(w8a8_is_quantized(**config, module)) << module;
      const safetensors_tensor* w = ckpt->find(module + ".weight");
      const safetensors_tensor* scale = ckpt->find(module + ".weight_scale");
      ASSERT_NE(w, nullptr) << module;
      ASSERT_NE(scale, nullptr) << module;
      EXPECT_EQ(w->dtype, safetensors_dtype::i8);
      EXPECT_EQ(scale->dtype, safetensors_dtype::bf16);
      ASSERT_EQ(w->shape.size(), 2u);
      EXPECT_EQ(scale->shape, (std::vector<int64_t>{w->shape[0], 1}));
      // q * scale reproduces the float model's weight within half a step (same value stream).
      const auto q = w->to_f32(), s = scale->to_f32();
      const safetensors_entry* original = nullptr;
      for (const auto& e : floats)
        if (e.name == module + ".weight") original = &e;
      ASSERT_NE(original, nullptr);
      const int64_t cols = w->shape[1];
      int64_t num_at_extreme = 0;
      for (int64_t i = 0; i < w->num_elements(); ++i) {
        const float step = s[i / cols];
        EXPECT_LE(std::fabs(q[i] * step - original->values[i]), 0.51f * step) << module << " " << i;
        num_at_extreme += std::fabs(q[i]) >= 126.0f;
      }
      EXPECT_GE(num_at_extreme, w->shape[0]);  // every row's absmax maps to about +-127
    }
  }
  fs::remove_all(dir);
}

TEST(hf_make_model_w8a8, asymmetric_activations_are_written_to_the_config) {
  const std::string json = tiny_model_config_json(w8a8_spec(true));
  auto config = read_w8a8_config(json);
  ASSERT_TRUE(config) << config.message();
  EXPECT_TRUE((*config)->asymmetric_activations);
}

TEST(hf_make_model_w8a8, asymmetric_without_w8a8_is_refused) {
  tiny_model_spec s;
  s.w8a8_asymmetric = true;
  EXPECT_FALSE(check_tiny_model_spec(s));
}

TEST(hf_make_model_w8a8, the_float_tensors_do_not_change) {
  tiny_model_spec plain = w8a8_spec(false);
  plain.w8a8 = false;
  const auto a = tiny_model_tensors(plain), b = tiny_model_tensors(w8a8_spec(false));
  for (const auto& e : a) {
    if (e.name.find("_proj") != std::string::npos) continue;
    bool found = false;
    for (const auto& f : b)
      if (f.name == e.name) found = f.values == e.values;
    EXPECT_TRUE(found) << e.name;
  }
}

}  // namespace
}  // namespace troupe::runtime
