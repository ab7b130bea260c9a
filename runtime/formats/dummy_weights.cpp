// Dummy weights from a config.json (contract: dummy_weights.hpp).
#include "runtime/formats/dummy_weights.hpp"

#include <optional>
#include <vector>

#include "kernels/cpu/random_weights.hpp"
#include "runtime/formats/compressed_tensors.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/formats/weight_matrix.hpp"

namespace troupe::runtime {
namespace {

using backend::weight_format;

constexpr float dummy_bound = 1e-3f;  // vLLM's initialize_dummy_weights range

// Makes the tensors of one model, named as in a Hugging Face checkpoint.
class dummy_maker {
 public:
  dummy_maker(weight_format dense, std::optional<w8a8_config> w8a8)
      : dense_(dense), w8a8_(std::move(w8a8)) {}

  // A matrix stored in the model dtype (the embedding).
  weight_matrix dense(const std::string& name) const {
    return random_matrix(dense_, {dummy_weight_seed(name), dummy_bound});
  }

  // The weight of Linear module `module`: int8 when the quantization_config quantizes it.
  weight_matrix linear(const std::string& module) const {
    const std::string name = module + ".weight";
    if (!w8a8_ || !w8a8_is_quantized(*w8a8_, module)) return dense(name);
    const auto format =
        w8a8_->asymmetric_activations ? weight_format::w8a8_azp : weight_format::w8a8;
    return random_matrix(format, {dummy_weight_seed(name), dummy_bound});
  }

  static std::vector<float> bias(const std::string& name, int64_t size) {
    std::vector<float> out(static_cast<size_t>(size));
    const uint64_t seed = dummy_weight_seed(name);
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = kernels::cpu::random_uniform(seed, i, dummy_bound);
    return out;
  }

  llama_layer_weights layer(const llama_hparams& hp, int index) const {
    const int64_t hidden = hp.hidden_size;
    const int64_t q_dim = int64_t{hp.num_heads} * hp.head_dim;
    const int64_t kv_dim = int64_t{hp.num_kv_heads} * hp.head_dim;
    const std::string p = "model.layers." + std::to_string(index) + ".";
    llama_layer_weights w;
    w.attn_norm.assign(static_cast<size_t>(hidden), 1.0f);
    w.wq = linear(p + "self_attn.q_proj");
    w.wk = linear(p + "self_attn.k_proj");
    w.wv = linear(p + "self_attn.v_proj");
    w.wo = linear(p + "self_attn.o_proj");
    if (hp.attention_bias) {
      w.bq = bias(p + "self_attn.q_proj.bias", q_dim);
      w.bk = bias(p + "self_attn.k_proj.bias", kv_dim);
      w.bv = bias(p + "self_attn.v_proj.bias", kv_dim);
    }
    w.ffn_norm.assign(static_cast<size_t>(hidden), 1.0f);
    w.w_gate = linear(p + "mlp.gate_proj");
    w.w_up = linear(p + "mlp.up_proj");
    w.w_down = linear(p + "mlp.down_proj");
    return w;  // k_scale = v_scale = 1
  }

 private:
  weight_format dense_;
  std::optional<w8a8_config> w8a8_;
};

// The format the checkpoint's config.json says its dense matrices are stored in.
weight_format checkpoint_format(const std::string& dir) {
  switch (checkpoint_dtype(dir)) {
    case weight_dtype::bfloat16:
      return weight_format::bf16;
    case weight_dtype::float16:
      return weight_format::f16;
    default:
      return weight_format::f32;
  }
}

}  // namespace

uint64_t dummy_weight_seed(std::string_view name) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : name) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

result<llama_weights> load_dummy_weights(const std::string& dir) {
  auto hp = read_hf_config(dir);
  if (!hp) return hp.err();
  auto config_text = read_hf_config_text(dir);
  if (!config_text) return config_text.err();
  auto w8a8 = read_w8a8_config(*config_text);
  if (!w8a8) return error{dir + ": " + w8a8.message()};
  const dummy_maker make(checkpoint_format(dir), *w8a8);
  llama_weights w;
  w.hparams = *hp;
  w.token_embedding = make.dense("model.embed_tokens.weight");
  for (int layer = 0; layer < hp->num_layers; ++layer)
    w.layers.push_back(make.layer(*hp, layer));
  w.output_norm.assign(static_cast<size_t>(hp->hidden_size), 1.0f);
  if (!hp->tie_word_embeddings) w.output = make.linear("lm_head");
  return w;
}

}  // namespace troupe::runtime
