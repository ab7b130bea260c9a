#pragma once
// Hyper-parameters of a Llama-family decoder (Llama 2/3, Mistral, SmolLM2, Qwen2 shape).
#include <cstdint>
#include <string>

namespace troupe::runtime {

// How RoPE pairs the dimensions of a head.
//  interleaved: pairs (2i, 2i+1)        - GGUF llama files (the converter permuted q/k for it)
//  neox:        pairs (i, i + head_dim/2) - Hugging Face checkpoints (rotate_half)
enum class rope_style { interleaved, neox };

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
};

}  // namespace troupe::runtime
