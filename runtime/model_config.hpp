#pragma once
// Hyper-parameters of a Llama-family decoder (Llama 2/3, Mistral, SmolLM2, Qwen2 shape).
#include <cstdint>
#include <string>

namespace troupe::runtime {

// How RoPE pairs the dimensions of a head.
//  interleaved: pairs (2i, 2i+1)        - GGUF llama files (the converter permuted q/k for it)
//  neox:        pairs (i, i + head_dim/2) - Hugging Face checkpoints (rotate_half)
enum class rope_style { interleaved, neox };

// RoPE frequency scaling, as Hugging Face's config.json "rope_scaling" describes it (the
// formulas: runtime/model/rope_frequencies.hpp). none = plain theta^(-2i/head_dim).
enum class rope_scaling_type { none, linear, dynamic, llama3, yarn };

struct rope_scaling {
  rope_scaling_type type = rope_scaling_type::none;
  float factor = 1.0f;
  int32_t original_max_position_embeddings = 0;  // llama3, yarn (0: max_position_embeddings)
  float low_freq_factor = 1.0f;                  // llama3
  float high_freq_factor = 4.0f;                 // llama3
  float beta_fast = 32.0f;                       // yarn
  float beta_slow = 1.0f;                        // yarn
  float mscale = 0.0f;                           // yarn (0: unset)
  float mscale_all_dim = 0.0f;                   // yarn (0: unset)
  float attention_factor = 0.0f;                 // yarn (0: derived from factor and mscale)
};

struct llama_hparams {
  std::string architecture = "llama";
  int32_t num_layers = 0;
  int32_t hidden_size = 0;        // d_model
  int32_t intermediate_size = 0;  // SwiGLU inner width
  int32_t num_heads = 0;          // query heads
  int32_t num_kv_heads = 0;       // key/value heads (GQA when < num_heads)
  int32_t head_dim = 0;           // usually hidden_size / num_heads
  int32_t vocab_size = 0;
  int32_t max_position_embeddings = 0;  // context length the model was trained for
  float rope_theta = 10000.0f;
  float rms_norm_eps = 1e-5f;
  rope_style rope = rope_style::interleaved;
  bool tie_word_embeddings = false;
  rope_scaling rope_scale;      // type none for GGUF files
  int32_t sliding_window = 0;   // > 0: a query at position p sees keys in (p - window, p]
  bool attention_bias = false;  // q/k/v projections carry a bias (Qwen2)
};

}  // namespace troupe::runtime
