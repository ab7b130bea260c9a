#pragma once
// `--dtype` as vLLM means it, for troupe's backends: the dtype of the dense weights (and, on a GPU,
// of the activations). Applied once at load (apply_weight_dtype):
//   auto              the checkpoint's dtype: a Hugging Face directory's config.json dtype
//                     (transformers 5; torch_dtype before); a GGUF's weights stay as stored
//   float32 / float   every matrix in f32, quantized ones dequantized: the reference path (the
//                     CPU's f32 kernels, what the fidelity tests compare with llama.cpp/HF)
//   bfloat16          dense matrices stored in bf16 (rounded to nearest even, as a cast does),
//                     norms and biases rounded to bf16 values; quantized matrices (GGUF blocks,
//                     W8A8) stay quantized
//   float16 / half    likewise in f16 (beyond +-65504 becomes +-inf, as a cast does)
// The CPU backend computes in f32 whatever the storage: bf16/f16 weights are widened exactly as
// they are read, quantized ones multiply int8-quantized activations (kernels/cpu).
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "runtime/model/llama_weights.hpp"

namespace troupe::runtime {

enum class weight_dtype { as_stored, float32, bfloat16, float16 };

// Parses a --dtype value (auto, float32, float, bfloat16, float16, half); anything else is an
// error naming the accepted values.
result<weight_dtype> parse_weight_dtype(std::string_view name);

// What `auto` means for the model at `path`: config.json's "dtype" (transformers 5) or
// "torch_dtype" (transformers 4) of a Hugging Face directory — bfloat16, float16 or float32 —
// else as_stored (GGUF files, directories without one, other values).
weight_dtype checkpoint_dtype(const std::string& path);

// "bfloat16" / "float16" / "float32" / "auto".
const char* weight_dtype_name(weight_dtype dtype);

// True when loading with `dtype` changes weight values (bfloat16, float16).
bool rounds_weights(weight_dtype dtype);

// Rounds every value to `dtype` and back to f32 in place (nothing for as_stored / float32).
// thread: pure on its argument; disjoint spans may be rounded concurrently.
void round_to_dtype(std::span<float> values, weight_dtype dtype);

// Stores every matrix of `weights` as `dtype` says (above): dense ones converted, quantized ones
// kept unless float32 and `dequantize` (an explicit --dtype float32; `auto` resolving to a
// checkpoint's float32 keeps them); norms and biases rounded for bfloat16 / float16. Nothing for
// as_stored. A random matrix (--load-format dummy) only changes its format: it is generated in
// the new one.
void apply_weight_dtype(llama_weights& weights, weight_dtype dtype, bool dequantize = true);

}  // namespace troupe::runtime
