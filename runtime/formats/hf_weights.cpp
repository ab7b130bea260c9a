// Weights of a Hugging Face Llama-family checkpoint -> f32 llama_weights (contract and tensor
// names: hf_model.hpp).
#include <algorithm>
#include <atomic>
#include <cmath>
#include <optional>
#include <thread>

#include "runtime/formats/compressed_tensors.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/safetensors.hpp"
#include "runtime/formats/weight_matrix.hpp"

namespace troupe::runtime {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

struct widen_job {
  const safetensors_tensor* tensor;
  std::vector<float>* out;
};

// Collects the tensors to widen, stopping at the first missing or mis-shaped one. Matrices stored
// as BF16 or F16 are copied as they are (runtime/formats/weight_matrix), F32 ones widened.
class job_list {
 public:
  // `w8a8`: the checkpoint's compressed-tensors config, when it has one.
  job_list(const safetensors_checkpoint& ckpt, std::optional<w8a8_config> w8a8)
      : ckpt_(ckpt), w8a8_(std::move(w8a8)) {}

  void add(const std::string& name, std::vector<int64_t> expected, std::vector<float>& out) {
    if (const safetensors_tensor* t = find(name, std::move(expected))) jobs_.push_back({t, &out});
  }

  // The weight of Linear module `module` ("model.layers.0.mlp.down_proj"): int8 with its scales
  // when the quantization_config quantizes it, else as stored.
  void add_linear(const std::string& module, std::vector<int64_t> expected, weight_matrix& out) {
    if (w8a8_ && w8a8_is_quantized(*w8a8_, module)) return add_int8(module, expected, out);
    add(module + ".weight", std::move(expected), out);
  }

  void add(const std::string& name, std::vector<int64_t> expected, weight_matrix& out) {
    const safetensors_tensor* t = find(name, std::move(expected));
    if (t == nullptr) return;
    if (t->dtype == safetensors_dtype::i8) {
      problem_ = "tensor '" + name + "' is I8, but no quantization_config quantizes it";
      return;
    }
    if (t->dtype == safetensors_dtype::f32) {
      jobs_.push_back({t, &out.values});
      return;
    }
    const auto format = t->dtype == safetensors_dtype::bf16 ? backend::weight_format::bf16
                                                            : backend::weight_format::f16;
    out = weight_matrix(format, std::vector<uint8_t>(t->data.begin(), t->data.end()));
  }

  status done() const { return problem_.empty() ? ok_status() : status(error{problem_}); }

  // Largest tensors first over an atomic cursor: a few workers balance well enough.
  void run(unsigned num_threads) {
    std::sort(jobs_.begin(), jobs_.end(), [](const widen_job& a, const widen_job& b) {
      return a.tensor->data.size() > b.tensor->data.size();
    });
    if (num_threads == 0) num_threads = std::max(1u, std::thread::hardware_concurrency());
    num_threads = std::min<unsigned>(
        {num_threads, 8u, static_cast<unsigned>(std::max<size_t>(1, jobs_.size()))});
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i = next++; i < jobs_.size(); i = next++)
        *jobs_[i].out = jobs_[i].tensor->to_f32();
    };
    std::vector<std::jthread> workers;
    for (unsigned t = 1; t < num_threads; ++t)
      workers.emplace_back(work);
    work();
  }

 private:
  // compressed-tensors' int8 module: <module>.weight I8 [out, in], <module>.weight_scale
  // [out, 1] in the model dtype, an optional all-zero <module>.weight_zero_point.
  void add_int8(const std::string& module, const std::vector<int64_t>& expected,
                weight_matrix& out) {
    const safetensors_tensor* w = find(module + ".weight", expected);
    const safetensors_tensor* scale = find(module + ".weight_scale", {expected[0], 1});
    if (w == nullptr || scale == nullptr) return;
    if (w->dtype != safetensors_dtype::i8) {
      problem_ = "tensor '" + module + ".weight' is " + safetensors_dtype_name(w->dtype) +
                 ", but the quantization_config quantizes " + module + " to int8 (I8)";
      return;
    }
    std::vector<float> scales = scale->to_f32();
    for (float s : scales) {
      if (!std::isfinite(s) || s < 0.0f) {
        problem_ = "tensor '" + module + ".weight_scale' holds " + std::to_string(s) +
                   ": scales must be finite and not negative";
        return;
      }
    }
    if (const safetensors_tensor* zp = ckpt_.find(module + ".weight_zero_point")) {
      const auto zeros = zp->to_f32();
      if (std::any_of(zeros.begin(), zeros.end(), [](float z) { return z != 0.0f; })) {
        problem_ = "tensor '" + module +
                   ".weight_zero_point' is not zero: asymmetric int8 weights are not supported";
        return;
      }
    }
    const auto format = w8a8_->asymmetric_activations ? backend::weight_format::w8a8_azp
                                                      : backend::weight_format::w8a8;
    out = weight_matrix(format, std::vector<uint8_t>(w->data.begin(), w->data.end()),
                        std::move(scales));
  }

  const safetensors_tensor* find(const std::string& name, std::vector<int64_t> expected) {
    if (!problem_.empty()) return nullptr;
    const safetensors_tensor* t = ckpt_.find(name);
    if (t == nullptr) {
      problem_ = "missing tensor '" + name + "'";
    } else if (t->shape != expected) {
      problem_ = "tensor '" + name + "' has shape " + shape_text(t->shape) + ", expected " +
                 shape_text(expected);
    } else {
      return t;
    }
    return nullptr;
  }

  const safetensors_checkpoint& ckpt_;
  std::optional<w8a8_config> w8a8_;
  std::vector<widen_job> jobs_;
  std::string problem_;
};

void add_layer_jobs(job_list& jobs, const llama_hparams& hp, int layer, llama_layer_weights& w) {
  const int64_t hidden = hp.hidden_size, ffn = hp.intermediate_size;
  const int64_t q_dim = int64_t{hp.num_heads} * hp.head_dim;
  const int64_t kv_dim = int64_t{hp.num_kv_heads} * hp.head_dim;
  const std::string p = "model.layers." + std::to_string(layer) + ".";
  jobs.add(p + "input_layernorm.weight", {hidden}, w.attn_norm);
  jobs.add_linear(p + "self_attn.q_proj", {q_dim, hidden}, w.wq);
  jobs.add_linear(p + "self_attn.k_proj", {kv_dim, hidden}, w.wk);
  jobs.add_linear(p + "self_attn.v_proj", {kv_dim, hidden}, w.wv);
  jobs.add_linear(p + "self_attn.o_proj", {hidden, q_dim}, w.wo);
  if (hp.attention_bias) {
    jobs.add(p + "self_attn.q_proj.bias", {q_dim}, w.bq);
    jobs.add(p + "self_attn.k_proj.bias", {kv_dim}, w.bk);
    jobs.add(p + "self_attn.v_proj.bias", {kv_dim}, w.bv);
  }
  jobs.add(p + "post_attention_layernorm.weight", {hidden}, w.ffn_norm);
  jobs.add_linear(p + "mlp.gate_proj", {ffn, hidden}, w.w_gate);
  jobs.add_linear(p + "mlp.up_proj", {ffn, hidden}, w.w_up);
  jobs.add_linear(p + "mlp.down_proj", {hidden, ffn}, w.w_down);
}

// One optional scalar scale: 1.0 when absent; positive and finite when present.
status read_scale(const safetensors_checkpoint& ckpt, const std::string& name, float& out) {
  const safetensors_tensor* t = ckpt.find(name);
  if (t == nullptr) return ok_status();
  if (t->num_elements() != 1) {
    return error{"tensor '" + name + "' has shape " + shape_text(t->shape) +
                 ", expected one per-tensor scale ([] or [1])"};
  }
  const float scale = t->to_f32()[0];
  if (!(std::isfinite(scale) && scale > 0.0f)) {
    return error{"tensor '" + name + "' is " + std::to_string(scale) +
                 ": a KV-cache scale must be finite and positive"};
  }
  out = scale;
  return ok_status();
}

// vLLM's per-layer KV-cache scales (fp8 --kv-cache-dtype stores k / k_scale, v / v_scale).
status read_kv_scales(const safetensors_checkpoint& ckpt, int layer, llama_layer_weights& w) {
  const std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
  for (const char* other : {"kv_scale", "k_proj.output_scale", "v_proj.output_scale"}) {
    if (ckpt.find(p + other) != nullptr) {
      return error{"tensor '" + p + other +
                   "' is a KV-cache scale spelling troupe does not read: name it " + p +
                   "k_scale and " + p + "v_scale"};
    }
  }
  if (auto st = read_scale(ckpt, p + "k_scale", w.k_scale); !st) return st;
  return read_scale(ckpt, p + "v_scale", w.v_scale);
}

}  // namespace

result<llama_weights> load_hf_model(const std::string& dir, unsigned num_threads) {
  auto hp = read_hf_config(dir);
  if (!hp) return hp.err();
  auto ckpt = safetensors_checkpoint::open_dir(dir);
  if (!ckpt) return ckpt.err();
  llama_weights w;
  w.hparams = *hp;
  w.layers.resize(static_cast<size_t>(hp->num_layers));
  const int64_t hidden = hp->hidden_size, vocab = hp->vocab_size;
  auto config_text = read_hf_config_text(dir);
  if (!config_text) return config_text.err();
  auto w8a8 = read_w8a8_config(*config_text);
  if (!w8a8) return error{dir + ": " + w8a8.message()};
  job_list jobs(*ckpt, *w8a8);
  jobs.add("model.embed_tokens.weight", {vocab, hidden}, w.token_embedding);
  for (int layer = 0; layer < hp->num_layers; ++layer)
    add_layer_jobs(jobs, *hp, layer, w.layers[static_cast<size_t>(layer)]);
  jobs.add("model.norm.weight", {hidden}, w.output_norm);
  if (!hp->tie_word_embeddings) jobs.add_linear("lm_head", {vocab, hidden}, w.output);
  if (auto ok = jobs.done(); !ok) return error{dir + ": " + ok.message()};
  for (int layer = 0; layer < hp->num_layers; ++layer) {
    if (auto ok = read_kv_scales(*ckpt, layer, w.layers[static_cast<size_t>(layer)]); !ok)
      return error{dir + ": " + ok.message()};
  }
  jobs.run(num_threads);
  return w;
}

}  // namespace troupe::runtime
