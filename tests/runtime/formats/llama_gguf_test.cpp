#include "runtime/formats/llama_gguf.hpp"
#include "runtime/formats/weight_matrix.hpp"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "runtime/formats/gguf_writer.hpp"
#include "tests/runtime/formats/gguf_test_util.hpp"

namespace troupe::runtime {
namespace {

using testing::temp_file;

// Builds a tiny Llama GGUF with random weights and remembers the f32 values it wrote.
struct tiny_llama {
  std::string arch = "llama";
  int hidden = 16, layers = 2, heads = 4, kv_heads = 2, ffn = 32, vocab = 40;
  std::optional<int> key_length;  // written as <arch>.attention.key_length when set
  ggml_type matrix_type = ggml_type::f32;
  ggml_type embd_type = ggml_type::f16;
  bool tied = true;
  std::set<std::string> skip;              // tensors left out
  std::map<std::string, gguf_meta> extra;  // extra or overriding metadata
  std::map<std::string, std::vector<float>> values;

  int head_dim() const { return key_length.value_or(hidden / heads); }

  void tensor(gguf_writer& w, const std::string& name, uint64_t ne0, uint64_t ne1, ggml_type t) {
    if (skip.count(name) != 0) return;
    std::mt19937 rng(static_cast<uint32_t>(values.size()) + 1);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    std::vector<float> v(ne0 * ne1);
    for (float& x : v)
      x = dist(rng);
    std::vector<uint64_t> shape = ne1 == 1 ? std::vector<uint64_t>{ne0} : std::vector{ne0, ne1};
    EXPECT_TRUE(w.add_tensor(name, shape, t, v).ok()) << name;
    values[name] = std::move(v);
  }

  gguf_writer build() {
    gguf_writer w;
    w.set("general.architecture", gguf_meta::string(arch));
    w.set(arch + ".block_count", gguf_meta::u32(static_cast<uint32_t>(layers)));
    w.set(arch + ".embedding_length", gguf_meta::u32(static_cast<uint32_t>(hidden)));
    w.set(arch + ".feed_forward_length", gguf_meta::u32(static_cast<uint32_t>(ffn)));
    w.set(arch + ".attention.head_count", gguf_meta::u32(static_cast<uint32_t>(heads)));
    w.set(arch + ".attention.head_count_kv", gguf_meta::u32(static_cast<uint32_t>(kv_heads)));
    w.set(arch + ".context_length", gguf_meta::u32(256));
    w.set(arch + ".rope.freq_base", gguf_meta::f32(50000.0f));
    w.set(arch + ".attention.layer_norm_rms_epsilon", gguf_meta::f32(1e-6f));
    if (key_length) w.set(arch + ".attention.key_length", gguf_meta::u32(*key_length));
    for (auto& [key, value] : extra)
      w.set(key, value);
    const uint64_t h = hidden, q = heads * head_dim(), kv = kv_heads * head_dim(), f = ffn;
    tensor(w, "token_embd.weight", h, vocab, embd_type);
    for (int l = 0; l < layers; ++l) {
      const std::string p = "blk." + std::to_string(l) + ".";
      tensor(w, p + "attn_norm.weight", h, 1, ggml_type::f32);
      tensor(w, p + "attn_q.weight", h, q, matrix_type);
      tensor(w, p + "attn_k.weight", h, kv, matrix_type);
      tensor(w, p + "attn_v.weight", h, kv, matrix_type);
      tensor(w, p + "attn_output.weight", q, h, matrix_type);
      tensor(w, p + "ffn_norm.weight", h, 1, ggml_type::f32);
      tensor(w, p + "ffn_gate.weight", h, f, matrix_type);
      tensor(w, p + "ffn_up.weight", h, f, matrix_type);
      tensor(w, p + "ffn_down.weight", f, h, matrix_type);
    }
    tensor(w, "output_norm.weight", h, 1, ggml_type::f32);
    if (!tied) tensor(w, "output.weight", h, vocab, matrix_type);
    return w;
  }
};

struct loaded {
  std::shared_ptr<const gguf_file> file;
  result<llama_weights> weights = error{"not loaded"};
};

loaded load(tiny_llama& model, unsigned num_threads = 2) {
  temp_file f("llama.gguf");
  f.write(model.build().to_bytes());
  result<std::shared_ptr<const gguf_file>> file = gguf_file::open(f.path());
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.message());
  if (!file.ok()) return {};
  return {*file, load_llama_gguf(**file, num_threads)};
}

TEST(llama_gguf, tiny_model_round_trips) {
  tiny_llama model;
  loaded l = load(model);
  ASSERT_TRUE(l.weights.ok()) << l.weights.message();
  const llama_weights& w = *l.weights;
  const llama_hparams& hp = w.hparams;
  EXPECT_EQ(hp.architecture, "llama");
  EXPECT_EQ(hp.num_layers, 2);
  EXPECT_EQ(hp.hidden_size, 16);
  EXPECT_EQ(hp.intermediate_size, 32);
  EXPECT_EQ(hp.num_heads, 4);
  EXPECT_EQ(hp.num_kv_heads, 2);
  EXPECT_EQ(hp.head_dim, 4);
  EXPECT_EQ(hp.vocab_size, 40);
  EXPECT_EQ(hp.max_position_embeddings, 256);
  EXPECT_EQ(hp.rope_theta, 50000.0f);
  EXPECT_EQ(hp.rms_norm_eps, 1e-6f);
  EXPECT_EQ(hp.rope, rope_style::interleaved);
  EXPECT_TRUE(hp.tie_word_embeddings);
  EXPECT_TRUE(w.output.empty());
  ASSERT_EQ(w.layers.size(), 2u);
  const llama_layer_weights& l1 = w.layers[1];
  EXPECT_EQ(l1.wq.values, model.values["blk.1.attn_q.weight"]);
  EXPECT_EQ(l1.wk.values, model.values["blk.1.attn_k.weight"]);
  EXPECT_EQ(l1.wv.values, model.values["blk.1.attn_v.weight"]);
  EXPECT_EQ(l1.wo.values, model.values["blk.1.attn_output.weight"]);
  EXPECT_EQ(l1.w_gate.values, model.values["blk.1.ffn_gate.weight"]);
  EXPECT_EQ(l1.w_up.values, model.values["blk.1.ffn_up.weight"]);
  EXPECT_EQ(l1.w_down.values, model.values["blk.1.ffn_down.weight"]);
  EXPECT_EQ(l1.attn_norm, model.values["blk.1.attn_norm.weight"]);
  EXPECT_EQ(l1.ffn_norm, model.values["blk.1.ffn_norm.weight"]);
  EXPECT_EQ(w.layers[0].wq.values, model.values["blk.0.attn_q.weight"]);
  EXPECT_EQ(w.output_norm, model.values["output_norm.weight"]);
  EXPECT_EQ(l1.wk.values.size(), 2u * 4 * 16);   // [kv_heads * head_dim][hidden]
  EXPECT_EQ(l1.w_down.values.size(), 16u * 32);  // [hidden][ffn]
  // F16 embedding: kept in f16, exact to f16 precision.
  ASSERT_EQ(w.token_embedding.format, backend::weight_format::f16);
  const auto embedding = matrix_to_f32(w.token_embedding, 40, 16);
  for (size_t i = 0; i < embedding.size(); ++i) {
    ASSERT_NEAR(embedding[i], model.values["token_embd.weight"][i], 1.0f / 2048) << i;
  }
}

TEST(llama_gguf, untied_output_and_quantized_matrices) {
  tiny_llama model;
  model.hidden = 32, model.heads = 4, model.kv_heads = 1, model.ffn = 64;
  model.matrix_type = ggml_type::q4_1;
  model.embd_type = ggml_type::q8_0;
  model.tied = false;
  loaded l = load(model, 3);
  ASSERT_TRUE(l.weights.ok()) << l.weights.message();
  EXPECT_FALSE(l.weights->hparams.tie_word_embeddings);
  EXPECT_EQ(l.weights->hparams.head_dim, 8);
  // The loader keeps the file's blocks: their values are exactly the file's dequantized tensors.
  auto expect_tensor = [&](const std::string& name, const weight_matrix& m,
                           backend::weight_format format, int64_t rows, int64_t cols) {
    EXPECT_EQ(m.format, format) << name;
    const auto* t = l.file->find_tensor(name);
    const auto data = l.file->tensor_data(*t);
    EXPECT_EQ(m.bytes, std::vector<uint8_t>(data.begin(), data.end())) << name;
    const std::vector<float> got = matrix_to_f32(m, rows, cols);
    result<std::vector<float>> want = l.file->dequantize(*t);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(got, *want) << name;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_NEAR(got[i], model.values[name][i], 0.1f) << name << "[" << i << "]";
    }
  };
  using backend::weight_format;
  const int64_t vocab = l.weights->hparams.vocab_size;
  expect_tensor("output.weight", l.weights->output, weight_format::q4_1, vocab, 32);
  expect_tensor("token_embd.weight", l.weights->token_embedding, weight_format::q8_0, vocab, 32);
  expect_tensor("blk.1.ffn_down.weight", l.weights->layers[1].w_down, weight_format::q4_1, 32, 64);
  expect_tensor("blk.0.attn_k.weight", l.weights->layers[0].wk, weight_format::q4_1, 8, 32);
}

TEST(llama_gguf, explicit_key_length_sets_head_dim) {
  tiny_llama model;
  model.key_length = 8;  // 4 heads * 8 = 32 != hidden 16
  loaded l = load(model);
  ASSERT_TRUE(l.weights.ok()) << l.weights.message();
  EXPECT_EQ(l.weights->hparams.head_dim, 8);
  EXPECT_EQ(l.weights->layers[0].wq.values.size(), 32u * 16);
  EXPECT_EQ(l.weights->layers[0].wo.values.size(), 16u * 32);
}

TEST(llama_gguf, mistral_architecture_is_accepted) {
  tiny_llama model;
  model.arch = "mistral";
  loaded l = load(model);
  ASSERT_TRUE(l.weights.ok()) << l.weights.message();
  EXPECT_EQ(l.weights->hparams.architecture, "mistral");
}

void expect_error(tiny_llama& model, const std::string& text) {
  loaded l = load(model);
  ASSERT_FALSE(l.weights.ok()) << "expected an error containing: " << text;
  EXPECT_NE(l.weights.message().find(text), std::string::npos) << l.weights.message();
}

TEST(llama_gguf, missing_tensor_is_named) {
  tiny_llama model;
  model.skip = {"blk.1.attn_k.weight"};
  expect_error(model, "missing tensor 'blk.1.attn_k.weight'");
  tiny_llama no_norm;
  no_norm.skip = {"output_norm.weight"};
  expect_error(no_norm, "missing tensor 'output_norm.weight'");
  tiny_llama no_embd;
  no_embd.skip = {"token_embd.weight"};
  expect_error(no_embd, "missing tensor 'token_embd.weight'");
}

TEST(llama_gguf, mis_shaped_tensor_is_named) {
  tiny_llama model;
  model.extra[model.arch + ".feed_forward_length"] = gguf_meta::u32(48);
  expect_error(model, "tensor 'blk.0.ffn_gate.weight' has shape [16, 32], expected [16, 48]");
  tiny_llama vocab;
  vocab.extra["llama.vocab_size"] = gguf_meta::u32(41);
  expect_error(vocab, "tensor 'token_embd.weight' has shape [16, 40], expected [16, 41]");
}

TEST(llama_gguf, bad_hparams) {
  tiny_llama gpt2;
  gpt2.extra["general.architecture"] = gguf_meta::string("gpt2");
  expect_error(gpt2, "architecture 'gpt2' is not supported");
  tiny_llama zero;
  zero.extra["llama.block_count"] = gguf_meta::u32(0);
  expect_error(zero, "llama.block_count = 0 is out of range");
  tiny_llama heads;
  heads.extra["llama.attention.head_count_kv"] = gguf_meta::u32(3);
  expect_error(heads, "not a multiple of head_count_kv");
  tiny_llama typed;
  typed.extra["llama.context_length"] = gguf_meta::string("256");
  expect_error(typed, "llama.context_length is not an integer");
  tiny_llama scaled;
  scaled.extra["llama.rope.scaling.type"] = gguf_meta::string("linear");
  expect_error(scaled, "RoPE scaling 'linear' is not supported");
}

TEST(llama_gguf, hparams_defaults_and_missing_keys) {
  tiny_llama model;
  gguf_writer w = model.build();
  w.set("llama.attention.head_count_kv", gguf_meta::u32(4));
  temp_file f("hparams.gguf");
  f.write(w.to_bytes());
  result<std::shared_ptr<const gguf_file>> file = gguf_file::open(f.path());
  ASSERT_TRUE(file.ok());
  result<llama_hparams> hp = llama_hparams_from_gguf(**file);
  ASSERT_TRUE(hp.ok()) << hp.message();
  EXPECT_EQ(hp->num_kv_heads, 4);
  EXPECT_EQ(hp->vocab_size, 40);  // from token_embd.weight

  gguf_writer missing;
  missing.set("general.architecture", gguf_meta::string("llama"));
  missing.set("llama.block_count", gguf_meta::u32(1));
  f.write(missing.to_bytes());
  file = gguf_file::open(f.path());
  ASSERT_TRUE(file.ok());
  hp = llama_hparams_from_gguf(**file);
  ASSERT_FALSE(hp.ok());
  EXPECT_NE(hp.message().find("missing metadata llama.embedding_length"), std::string::npos)
      << hp.message();
}

TEST(llama_gguf, unsupported_tensor_type_is_named) {
  tiny_llama model;
  model.hidden = 32;
  model.skip = {"blk.0.attn_q.weight"};
  gguf_writer w = model.build();
  // Q8_1 (an activation type troupe does not load): 32 weights in 36 bytes; [32, 32] is 32 blocks.
  ASSERT_TRUE(
      w.add_raw_tensor("blk.0.attn_q.weight", {32, 32}, 9, std::vector<uint8_t>(1152)).ok());
  temp_file f("q8_1.gguf");
  f.write(w.to_bytes());
  result<std::shared_ptr<const gguf_file>> file = gguf_file::open(f.path());
  ASSERT_TRUE(file.ok()) << file.message();
  result<llama_weights> weights = load_llama_gguf(**file);
  ASSERT_FALSE(weights.ok());
  EXPECT_NE(weights.message().find("unsupported tensor type Q8_1 (9) for 'blk.0.attn_q.weight'"),
            std::string::npos)
      << weights.message();
}

}  // namespace
}  // namespace troupe::runtime
