#pragma once
// A Llama-family model's weights once they live on a compute backend: handles in place of the
// host vectors of llama_weights (same names, same [out][in] layout).
#include <vector>

#include "runtime/backend/compute_backend.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime {

struct llama_layer_handles {
  backend::weight_handle attn_norm, wq, wk, wv, wo;
  backend::weight_handle bq, bk, bv;  // invalid unless hparams.attention_bias
  backend::weight_handle ffn_norm, w_gate, w_up, w_down;
};

struct llama_device_weights {
  llama_hparams hparams;
  backend::weight_handle token_embedding;  // [vocab][hidden]
  std::vector<llama_layer_handles> layers;
  backend::weight_handle output_norm;  // [1][hidden]
  backend::weight_handle lm_head;      // [vocab][hidden]; token_embedding when tied
};

// Moves every tensor of `weights` onto `backend` (one host -> device copy each; none on the CPU).
// requires: check_llama_weights(weights) passed.
llama_device_weights upload_llama_weights(backend::compute_backend& backend, llama_weights weights);

}  // namespace troupe::runtime
