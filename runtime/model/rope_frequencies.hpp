#pragma once
// RoPE frequencies of a model, scaled as Hugging Face transformers' ROPE_INIT_FUNCTIONS (and
// vLLM's rotary embeddings) define them. With d = head_dim, base = rope_theta, pair i < d/2:
//
//   plain    inv_freq[i] = 1 / base^(2i/d)
//   linear   inv_freq[i] / factor
//   dynamic  plain frequencies with base' = base * (factor^2 - (factor - 1))^(d / (d - 2)):
//            vLLM's static NTK form (the context stretched to factor x max_position_embeddings);
//            transformers instead recomputes base per forward from the longest sequence, which
//            would make a sequence's result depend on its batch.
//   llama3   wavelen = 2 pi / inv_freq; low = orig / low_freq_factor, high = orig /
//   high_freq_factor
//            wavelen > low: inv_freq / factor;  wavelen < high: inv_freq;
//            between: (1 - s) inv_freq / factor + s inv_freq, s = (orig / wavelen - lff) / (hff -
//            lff)
//   yarn     ramp r_i = clamp((i - lo) / (hi - lo), 0, 1) with lo/hi = floor/ceil of the
//            correction dims of beta_fast/beta_slow rotations over orig positions;
//            inv_freq = interp (1 - e) + extrap e, e = 1 - r_i, interp = plain / factor;
//            cos/sin scaled by the attention factor (given, or 0.1 ln(factor) + 1, or the
//            mscale / mscale_all_dim ratio)
//   (orig = original_max_position_embeddings, or max_position_embeddings when unset)
#include <vector>

#include "runtime/model_config.hpp"

namespace troupe::runtime {

// inv_freq[head_dim / 2], computed in double and rounded to f32 once.
std::vector<float> rope_inv_frequencies(const llama_hparams& hp);

// The factor cos and sin are multiplied by: YaRN's attention factor, 1 for every other type.
float rope_attention_factor(const llama_hparams& hp);

}  // namespace troupe::runtime
