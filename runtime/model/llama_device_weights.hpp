#pragma once
// A Llama-family model's weights once they live on a compute backend: handles in place of the
// host vectors of llama_weights (same names, same [out][in] layout), for the whole model or for
// one rank's shard of it (tensor_parallel_shard.hpp).
#include <vector>

#include "runtime/backend/compute_backend.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

// Shapes with the shard's sizes: q heads, KV heads, MLP columns and vocab rows of `shard`.
struct llama_layer_handles {
  backend::weight_handle attn_norm, wq, wk, wv, wo;
  backend::weight_handle bq, bk, bv;  // invalid unless hparams.attention_bias
  backend::weight_handle ffn_norm, w_gate, w_up, w_down;
};

struct llama_device_weights {
  llama_hparams hparams;  // the whole model's
  llama_shard shard;      // what this backend holds of it (make_llama_shard(hparams, 0, 1): all)
  backend::weight_handle token_embedding;  // [vocab rows][hidden]
  std::vector<llama_layer_handles> layers;
  backend::weight_handle output_norm;  // [1][hidden]
  backend::weight_handle lm_head;      // [vocab rows][hidden]; token_embedding when tied
};

// Moves every tensor of `weights` onto `backend` (one host -> device copy each; none on the CPU).
// requires: check_llama_weights(weights) passed.
llama_device_weights upload_llama_weights(backend::compute_backend& backend, llama_weights weights);

// Moves a shard's tensors onto `backend`, as upload_llama_weights does.
// requires: `weights` = slice_llama_weights(w, shard) for weights w that passed
// check_llama_weights.
llama_device_weights upload_llama_weights(backend::compute_backend& backend, llama_weights weights,
                                          const llama_shard& shard);

}  // namespace troupe::runtime
