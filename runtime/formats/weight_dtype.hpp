#pragma once
// `--dtype` as vLLM means it, for a backend that computes in float32: the weights are rounded to
// the chosen type at load (round to nearest, ties to even), so the model computes with exactly the
// weights a checkpoint cast to that type holds; activations, KV cache and accumulation stay f32.
//   auto              the checkpoint's dtype: a Hugging Face directory's config.json dtype
//                     (transformers 5; torch_dtype before)
//                     (bfloat16/float16 round the weights, which is exact for weights stored in
//                     that type, and casts weights stored as F32 as vLLM does); a GGUF's weights
//                     stay as stored (their dequantized values)
//   float32 / float   likewise (f32 holds every stored value exactly)
//   bfloat16          every weight rounded to bf16
//   float16 / half    every weight rounded to f16 (beyond +-65504 becomes +-inf, as a cast does)
#include <span>
#include <string>
#include <string_view>

#include "runtime/model/llama_weights.hpp"
#include "runtime/result.hpp"

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

// round_to_dtype on every tensor of `weights` (norms and biases too: a cast model casts them all).
void round_weights(llama_weights& weights, weight_dtype dtype);

}  // namespace troupe::runtime
