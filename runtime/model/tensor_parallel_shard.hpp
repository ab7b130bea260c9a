#pragma once
// What one rank of a tensor-parallel group holds of a Llama-family model (Megatron-style, with
// vLLM's rules), and the host slices of its weights.
//
//   column-parallel (rows of W [out][in]):
//     wq, bq           rows of the rank's q heads    [first_head, + num_heads) * head_dim
//     wk, wv, bk, bv   rows of its KV heads          [first_kv_head, + num_kv_heads) * head_dim
//     w_gate, w_up     rows of its MLP slice         [first_intermediate, + intermediate_size)
//   row-parallel (columns of W; the ranks' partial outputs are all-reduced):
//     wo               columns of its q heads
//     w_down           columns of its MLP slice
//   vocab-parallel (rows; the embedding is all-reduced, the logits gathered):
//     token_embedding, output   rows [first_token, + vocab_rows)
//   replicated: attn_norm, ffn_norm, output_norm
//
// Heads: a rank holds the KV heads its q heads read and no other, so its attention is ordinary
// GQA over its own heads and its KV cache holds only its KV heads.
//   num_kv_heads % N == 0: KV heads split evenly (vLLM).
//   N % num_kv_heads == 0 and num_heads % N == 0: each rank holds one KV head, replicated on
//     N / num_kv_heads consecutive ranks, and num_heads / N of its q heads (vLLM).
//   otherwise, num_kv_heads > N (troupe only; vLLM refuses): rank r holds KV heads
//     [r * num_kv_heads / N, (r + 1) * num_kv_heads / N), so ranks differ by one KV group; the
//     MLP columns are then divided so that every rank holds about as many weights, on 32-column
//     boundaries (whole GGUF blocks). (SmolLM2-135M, the default model, has 3 KV heads of 3 q
//     heads each: at N = 2, rank 0 holds 1 group and 864 of the 1536 MLP columns, rank 1 2 groups
//     and 672 columns.)
// Vocab: vocab_rows = ceil(vocab / N) per rank; the last shard's rows past the vocab are zeros
// (their logits are dropped when the ranks' logits are joined).
// Random matrices (--load-format dummy) stay random: a slice is a random matrix of the slice's
// shape whose seed is derived from the matrix's and the slice's offset (random_slice_fill), so
// every rank's slices differ and ranks that replicate a KV head hold the same one.
#include <cstdint>

#include "base/result.hpp"
#include "runtime/backend/backend_types.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

struct llama_shard {
  int32_t rank = 0;
  int32_t world_size = 1;
  int32_t first_head = 0;
  int32_t num_heads = 0;  // q heads
  int32_t first_kv_head = 0;
  int32_t num_kv_heads = 0;  // in this rank's KV cache
  int32_t first_intermediate = 0;
  int32_t intermediate_size = 0;
  int32_t first_token = 0;
  int32_t vocab_rows = 0;  // embedding / LM head rows, padding included
  // Pipeline parallelism (pipeline_parallel.hpp): the decoder layers [first_layer, end_layer) of
  // this rank's stage. The first stage (first_layer 0) embeds the tokens; the last
  // (end_layer == hparams.num_layers) holds the final norm and the LM head and samples. One
  // stage: every layer.
  int32_t first_layer = 0;
  int32_t end_layer = 0;

  int32_t num_layers() const { return end_layer - first_layer; }
  bool first_stage() const { return first_layer == 0; }
  bool last_stage(const llama_hparams& hparams) const { return end_layer == hparams.num_layers; }
};

// Whether `hparams` can be split over world_size ranks (the rules above), with a message naming
// the sizes when not.
status check_tensor_parallel(const llama_hparams& hparams, int32_t world_size);

// Rank `rank`'s share. requires: check_tensor_parallel(hparams, world_size) passed,
// 0 <= rank < world_size. At world_size 1: the whole model.
llama_shard make_llama_shard(const llama_hparams& hparams, int32_t rank, int32_t world_size);

// The host weights rank `shard` holds, copied out of `weights` (hparams stay the whole model's;
// the tensors have the shard's shapes above).
// requires: check_llama_weights(weights) passed; shard made for weights.hparams.
llama_weights slice_llama_weights(const llama_weights& weights, const llama_shard& shard);

// The KV cache of one rank: num_blocks blocks of the shard's KV heads and layers.
backend::kv_cache_shape kv_cache_shape_for(
    const llama_hparams& hparams, const llama_shard& shard, int32_t num_blocks, int32_t block_size,
    backend::kv_cache_dtype dtype = backend::kv_cache_dtype::f32);

}  // namespace troupe::runtime
