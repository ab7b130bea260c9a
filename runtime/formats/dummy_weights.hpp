#pragma once
// --load-format dummy (vLLM's): the weights of a Hugging Face model directory's architecture made
// from its config.json alone, for benchmarking. No weight file is read, even where one exists,
// and nothing of a matrix's size is allocated here: every matrix is a random weight_matrix that
// the backend generates at upload (runtime/backend/random_weight.hpp).
//
//   hparams       read_hf_config (hf_model.hpp: every architecture and key the loader accepts)
//   matrices      random, bound 1e-3 (vLLM's uniform(-1e-3, 1e-3)), in the format the checkpoint
//                 would store them: config.json's dtype / torch_dtype (bfloat16 -> bf16, float16
//                 -> f16, else f32; --dtype then converts as for a loaded model), and w8a8
//                 (w8a8_azp with asymmetric activations) for the Linear modules a
//                 compressed-tensors W8A8 quantization_config quantizes (compressed_tensors.hpp)
//   seeds         each matrix its own: dummy_weight_seed of its Hugging Face tensor name
//                 ("model.layers.0.self_attn.q_proj.weight"), so two matrices differ and two
//                 loads agree
//   norms         1.0, where vLLM draws them uniform in [-1e-3, 1e-3] too: with norms that small
//                 every activation after a norm is ~1e-3 of its size, and the numerics leave any
//                 realistic range
//   biases        (Qwen2's q/k/v) random_uniform(seed of the name, i, 1e-3), on the host (small)
//   k/v scales    1.0
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "runtime/model/llama_weights.hpp"

namespace troupe::runtime {

// The seed of the random tensor `name`: 64-bit FNV-1a of the name.
uint64_t dummy_weight_seed(std::string_view name);

// The dummy weights of the Hugging Face directory `dir` (above). Errors: those of reading
// config.json (hf_model.hpp) and its quantization_config, each naming `dir`.
result<llama_weights> load_dummy_weights(const std::string& dir);

}  // namespace troupe::runtime
