#pragma once
// Loading a Llama-family model (architecture "llama", or "mistral" with the same keys) from a
// GGUF file into llama_weights (matrices as stored, runtime/formats/weight_matrix).
//
// GGUF keys read (arch = general.architecture):
//   <arch>.block_count, .embedding_length, .feed_forward_length, .attention.head_count,
//   .context_length                                  required
//   <arch>.attention.head_count_kv                   default head_count
//   <arch>.attention.key_length                      default embedding_length / head_count
//   <arch>.rope.freq_base                            default 10000
//   <arch>.attention.layer_norm_rms_epsilon          default 1e-5
//   <arch>.vocab_size                                default token_embd.weight's row count
// Tensors (GGUF shape [ne0 = in, ne1 = out] is llama_weights' row-major [out][in]):
//   token_embd.weight [hidden, vocab]      output_norm.weight [hidden]
//   output.weight [hidden, vocab]          absent = tied embeddings
//   blk.N.attn_norm / ffn_norm [hidden]    blk.N.attn_q [hidden, heads*head_dim]
//   blk.N.attn_k / attn_v [hidden, kv_heads*head_dim]  blk.N.attn_output [heads*head_dim, hidden]
//   blk.N.ffn_gate / ffn_up [hidden, ffn]  blk.N.ffn_down [ffn, hidden]
// The llama.cpp converter permutes q/k rows for interleaved-pair RoPE, hence
// rope_style::interleaved.
#include "base/result.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/model/llama_weights.hpp"

namespace troupe::runtime {

// Hyper-parameters only (no tensor data is touched beyond token_embd's shape).
// Errors: another architecture, a missing or out-of-range key, inconsistent head counts, RoPE
// scaling that llama_hparams cannot express.
result<llama_hparams> llama_hparams_from_gguf(const gguf_file& file);

// Every weight, each tensor's shape checked against the hparams. Matrices stay in their GGUF type
// when a backend computes with it (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
// Q6_K: the bytes are copied); norms, and matrices of other types, are dequantized to f32.
// `num_threads` dequantize in parallel (0 = one per core). Errors name the missing or mis-shaped
// tensor, or the unsupported tensor type.
// thread: may be called from any thread; it starts and joins its own workers.
result<llama_weights> load_llama_gguf(const gguf_file& file, unsigned num_threads = 0);

}  // namespace troupe::runtime
