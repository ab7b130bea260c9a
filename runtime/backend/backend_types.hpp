#pragma once
// The values that cross the compute-backend seam (runtime/backend/compute_backend.hpp): opaque
// handles to backend memory, the descriptions of what a backend allocates, and one step's
// metadata. Plain host values; no CPU, CUDA or CAF type appears here.
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "kernels/cpu/sampling.hpp"
#include "runtime/model_config.hpp"

namespace troupe::backend {

// An opaque reference to something a backend allocated: an index into that backend's tables,
// meaningless to any other backend. The tag keeps a weight from being passed where a buffer goes.
template <class Tag>
struct handle {
  int32_t id = -1;
  bool valid() const { return id >= 0; }
};
using weight_handle = handle<struct weight_tag>;      // read-only parameters
using buffer_handle = handle<struct buffer_tag>;      // activations, resized per step
using kv_cache_handle = handle<struct kv_cache_tag>;  // the paged K/V of every layer
using rope_handle = handle<struct rope_tag>;          // a RoPE cos/sin table

// One product of compute_backend::matmuls: y = x w^T.
struct matmul_target {
  weight_handle w;
  buffer_handle y;
};

// How a weight's values are stored on the backend, each a format matmul computes with directly
// (issue 11: weights stay in their storage type):
//   f32, bf16, f16   dense rows; bf16/f16 are widened to f32 exactly as they are read
//   q8_0 ... q6_k    GGUF's block formats, rows of blocks with ggml's byte layouts
//                    (runtime/formats/dequant.hpp), multiplied with int8-quantized activations
//   w8a8, w8a8_azp   int8 [rows][cols] with an f32 scale per row (compressed-tensors' per-channel
//                    int8 weights); activations quantized per token, symmetric or with vLLM's
//                    dynamic zero point (azp)
enum class weight_format : uint8_t {
  f32,
  bf16,
  f16,
  q8_0,
  q4_0,
  q4_1,
  q5_0,
  q5_1,
  q4_k,
  q5_k,
  q6_k,
  w8a8,
  w8a8_azp,
};

namespace detail {
struct weight_format_traits {
  const char* name;
  int64_t block_elements;
  int64_t block_bytes;
};
// Indexed by weight_format; block sizes as ggml's (runtime/formats/ggml_types.cpp).
inline constexpr weight_format_traits weight_formats[] = {
    {"f32", 1, 4},      {"bf16", 1, 2},     {"f16", 1, 2},      {"q8_0", 32, 34},
    {"q4_0", 32, 18},   {"q4_1", 32, 20},   {"q5_0", 32, 22},   {"q5_1", 32, 24},
    {"q4_k", 256, 144}, {"q5_k", 256, 176}, {"q6_k", 256, 210}, {"w8a8", 1, 1},
    {"w8a8_azp", 1, 1},
};
static_assert(std::size(weight_formats) == static_cast<size_t>(weight_format::w8a8_azp) + 1);
}  // namespace detail

// "f32", "bf16", "q4_1", ... (lower case, as the startup log prints them).
inline const char* weight_format_name(weight_format format) {
  return detail::weight_formats[static_cast<size_t>(format)].name;
}

// Weights per block: 32 or 256 for the block formats, 1 for the others.
inline int64_t weight_block_elements(weight_format format) {
  return detail::weight_formats[static_cast<size_t>(format)].block_elements;
}

// Bytes of one row of `cols` weights. requires: cols % weight_block_elements(format) == 0.
inline int64_t weight_row_bytes(weight_format format, int64_t cols) {
  const auto& t = detail::weight_formats[static_cast<size_t>(format)];
  return cols / t.block_elements * t.block_bytes;
}

// The format families.
inline bool is_dense_format(weight_format f) {
  return f == weight_format::f32 || f == weight_format::bf16 || f == weight_format::f16;
}
inline bool is_w8a8_format(weight_format f) {
  return f == weight_format::w8a8 || f == weight_format::w8a8_azp;
}
inline bool is_k_quant_format(weight_format f) {
  return f == weight_format::q4_k || f == weight_format::q5_k || f == weight_format::q6_k;
}

// A weight matrix [rows][cols] = [out_features][in_features] (vectors: rows = 1).
struct weight_desc {
  int64_t rows = 0;
  int64_t cols = 0;
  weight_format format = weight_format::f32;
  int64_t num_elements() const { return rows * cols; }
};

// Dummy weights (--load-format dummy): a weight whose values a backend generates itself from
// (seed, element index) with kernels/cpu/random_weights.hpp, on the device for a GPU backend.
// Dense formats: random_uniform(seed, i, bound) per element, stored in the format; w8a8:
// random_int8(seed, i) per element and every row scale bound / 127 (so values stay in
// [-bound, bound]). Block formats cannot be generated.
struct random_fill {
  uint64_t seed = 0;
  float bound = 1e-3f;  // vLLM's dummy range: uniform in [-1e-3, 1e-3]
};

// A weight's values on the host in their storage format, what upload_weight takes. The shape is
// the model's business (weight_desc); this holds only the data, or (random) how to generate it.
struct weight_data {
  weight_format format = weight_format::f32;
  std::vector<float> values;   // f32: rows * cols values
  std::vector<uint8_t> bytes;  // any other format: rows * weight_row_bytes(format, cols) bytes
  std::vector<float> scales;   // w8a8 formats: one scale per row
  // Set: no values are held; the backend generates them (values, bytes and scales are empty).
  std::optional<random_fill> random;

  weight_data() = default;
  // f32 values (implicit: an f32 vector is a weight as it is).
  weight_data(std::vector<float> f32_values) : values(std::move(f32_values)) {}  // NOLINT
  weight_data(weight_format f, std::vector<uint8_t> data, std::vector<float> row_scales = {})
      : format(f), bytes(std::move(data)), scales(std::move(row_scales)) {}

  bool empty() const { return values.empty() && bytes.empty() && !random; }
  // A dense weight's elements as stored: the f32 values, or the 16-bit words.
  const void* dense_values() const {
    return format == weight_format::f32 ? static_cast<const void*>(values.data())
                                        : static_cast<const void*>(bytes.data());
  }
  // Host bytes held (values, bytes and scales).
  int64_t size_bytes() const {
    return static_cast<int64_t>(values.size() * sizeof(float) + bytes.size() +
                                scales.size() * sizeof(float));
  }
};

// What a bf16 weight multiplies on the CPU backend (`--dtype bfloat16` asks for bf16, vLLM's
// activations):
//   f32   x as it is: panel_gemm's exact sequential chain on the f32 values (the default);
//   bf16  x rounded to bf16 first (nearest even), as vLLM and troupe's GPU path do. On a CPU
//         with AMX-BF16 the products run on AMX tiles (kernels/cpu/amx_gemm.hpp: the tile unit's
//         own summation order, several times panel_gemm's speed); elsewhere panel_gemm
//         multiplies the rounded x (the same inputs, its sequential order).
// Both keep a row's bits independent of the batch and the threads. Other weight formats are
// unaffected (f32 / f16 matrices multiply f32 x; blocks and int8 quantize x themselves).
enum class cpu_activations : uint8_t { f32, bf16 };

// Element type of the paged KV cache: f32; one byte of OCP FP8 (kernels/cpu/fp8.hpp) times a
// per-layer scale (vLLM's --kv-cache-dtype fp8 = fp8_e4m3, and fp8_e5m2); or a 16-bit float,
// bf16 or IEEE f16 (kernels/cpu/half.hpp: stored rounded to nearest even, read back exactly; no
// scale; vLLM's bfloat16 and float16, and what its auto gives a 16-bit model).
enum class kv_cache_dtype : uint8_t { f32, fp8_e4m3, fp8_e5m2, bf16, f16 };

inline int64_t kv_cache_element_bytes(kv_cache_dtype dtype) {
  switch (dtype) {
    case kv_cache_dtype::f32:
      return 4;
    case kv_cache_dtype::bf16:
    case kv_cache_dtype::f16:
      return 2;
    case kv_cache_dtype::fp8_e4m3:
    case kv_cache_dtype::fp8_e5m2:
      return 1;
  }
  return 4;
}

// The dtypes with per-layer k/v scales.
inline bool is_fp8_kv_cache(kv_cache_dtype dtype) {
  return dtype == kv_cache_dtype::fp8_e4m3 || dtype == kv_cache_dtype::fp8_e5m2;
}

// A paged KV cache for every layer of a model (kernels/cpu/attention.hpp draws the layout):
//   per layer, K and V each: [num_blocks][block_size][num_kv_heads][head_dim]
struct kv_cache_shape {
  int32_t num_layers = 0;
  int32_t num_blocks = 0;
  int32_t block_size = 0;
  int32_t num_kv_heads = 0;
  int32_t head_dim = 0;
  kv_cache_dtype dtype = kv_cache_dtype::f32;
  // fp8 only: a stored code c of layer l means fp8_to_float(c) * k_scales[l] (keys) or
  // * v_scales[l] (values). [num_layers] each, or empty: every scale 1.0.
  std::vector<float> k_scales, v_scales;

  // Bytes one block takes across all layers, keys and values.
  int64_t bytes_per_block() const {
    return int64_t{2} * num_layers * block_size * num_kv_heads * head_dim *
           kv_cache_element_bytes(dtype);
  }
};

// RoPE frequencies of a model (runtime/model/rope_frequencies.hpp computes them from hparams):
// either ggml's table from (head_dim, theta), or explicit per-pair inverse frequencies with a
// cos/sin magnitude (scaled RoPE, Hugging Face checkpoints). Pairing as runtime::rope_style.
struct rope_spec {
  runtime::rope_style style = runtime::rope_style::interleaved;
  int32_t head_dim = 0;
  float theta = 10000.0f;       // used when inv_freq is empty
  std::vector<float> inv_freq;  // [head_dim / 2], or empty
  float magnitude = 1.0f;       // with inv_freq only (YaRN's attention factor)
  int32_t num_positions = 0;    // positions to precompute; begin_step extends on demand
};

// Per-query attention parameters (kernels/cpu/attention.hpp defines the math).
struct attention_params {
  int32_t num_heads = 0;       // query heads; a multiple of the cache's num_kv_heads (GQA)
  float scale = 1.0f;          // usually 1 / sqrt(head_dim)
  int32_t sliding_window = 0;  // > 0: a query at position p sees keys in (p - window, p]
};

// One step's inputs besides the weights, built on the host and uploaded once (begin_step).
// T = token rows of the step, S = sequences.
//
//   token_ids      [T]      row t's token
//   positions      [T]      row t's position in its sequence
//   token_seqs     [T]      row t's sequence index s
//   block_tables   [sum of table sizes]  sequence s's table is
//                            block_tables[table_offsets[s], table_offsets[s + 1])
//   table_offsets  [S + 1]
//   sample_rows    [num sampled]   the rows whose hidden states become logits, in order
//   num_positions  1 + the largest position (RoPE tables must cover it)
//
//   rows:       | s0: 0 1 2 3 4 (positions 0..4) | s1: 5 (position 17) | s2: 6 (position 3) |
//   sample_rows: [4, 5, 6] when all three sample
//
//   sampling       [num sampled] or empty   each sampled row's parameters for sample_rows
//                  (kernels/cpu/sampling.hpp); a default row (and every row when empty) is greedy
//                  without a logprob
//   edits          the logits processors of the rows with `edited` set (kernels/cpu/sampling.hpp:
//                  at most one per row and token), grouped by row in row order
//   max_top_logprobs  the largest num_top_logprobs of `sampling` (sample_rows' output width)
//   graph_rows     0, or a decode-only step padded to one of the backend's graph_sizes()
//                  (compute_backend::run_step may replay it): every sequence one sampled row,
//                  the pad rows token 0 at position 0 with an empty block table (the backend
//                  points them at a block of its own)
struct step_metadata {
  std::vector<int32_t> token_ids;
  std::vector<int32_t> positions;
  std::vector<int32_t> token_seqs;
  std::vector<int32_t> block_tables;
  std::vector<int32_t> table_offsets;
  std::vector<int32_t> sample_rows;
  std::vector<kernels::cpu::sampling_row> sampling;
  std::vector<kernels::cpu::logit_edit> edits;
  int32_t max_top_logprobs = 0;
  int32_t num_positions = 0;
  int32_t graph_rows = 0;

  int64_t num_tokens() const { return static_cast<int64_t>(token_ids.size()); }
  int64_t num_sampled() const { return static_cast<int64_t>(sample_rows.size()); }
};

}  // namespace troupe::backend
