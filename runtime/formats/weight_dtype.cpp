#include "runtime/formats/weight_dtype.hpp"

#include <rapidjson/document.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "runtime/formats/half.hpp"
#include "runtime/formats/weight_matrix.hpp"

namespace troupe::runtime {

result<weight_dtype> parse_weight_dtype(std::string_view name) {
  if (name == "auto") return weight_dtype::as_stored;
  if (name == "float32" || name == "float") return weight_dtype::float32;
  if (name == "bfloat16") return weight_dtype::bfloat16;
  if (name == "float16" || name == "half") return weight_dtype::float16;
  return error{"unknown dtype '" + std::string(name) +
               "' (expected auto, float32, float, bfloat16, float16 or half)"};
}

weight_dtype checkpoint_dtype(const std::string& path) {
  std::ifstream in(std::filesystem::path(path) / "config.json", std::ios::binary);
  if (!in) return weight_dtype::as_stored;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return weight_dtype::as_stored;
  for (const char* key : {"dtype", "torch_dtype"}) {  // transformers 5 prefers dtype
    if (!doc.HasMember(key) || !doc[key].IsString()) continue;
    auto parsed = parse_weight_dtype(doc[key].GetString());
    if (parsed) return *parsed;
  }
  return weight_dtype::as_stored;
}

const char* weight_dtype_name(weight_dtype dtype) {
  switch (dtype) {
    case weight_dtype::float32:
      return "float32";
    case weight_dtype::bfloat16:
      return "bfloat16";
    case weight_dtype::float16:
      return "float16";
    default:
      return "auto";
  }
}

bool rounds_weights(weight_dtype dtype) {
  return dtype == weight_dtype::bfloat16 || dtype == weight_dtype::float16;
}

void round_to_dtype(std::span<float> values, weight_dtype dtype) {
  if (dtype == weight_dtype::bfloat16) {
    for (float& v : values)
      v = bf16_to_f32(f32_to_bf16(v));
  } else if (dtype == weight_dtype::float16) {
    for (float& v : values)
      v = f16_to_f32(f32_to_f16(v));
  }
}

void apply_weight_dtype(llama_weights& weights, weight_dtype dtype, bool dequantize) {
  if (dtype == weight_dtype::as_stored) return;
  using backend::weight_format;
  const weight_format target = dtype == weight_dtype::bfloat16  ? weight_format::bf16
                               : dtype == weight_dtype::float16 ? weight_format::f16
                                                                : weight_format::f32;
  for_each_matrix(weights, [&](weight_matrix& m, int64_t rows, int64_t cols, const std::string&) {
    if (m.empty() || m.format == target) return;
    if (!backend::is_dense_format(m.format) && !(target == weight_format::f32 && dequantize))
      return;
    if (m.random) {
      m.format = target;  // generated in the new format; nothing to convert
    } else {
      m = dense_matrix(matrix_to_f32(m, rows, cols), target);
    }
  });
  if (!rounds_weights(dtype)) return;
  round_to_dtype(weights.output_norm, dtype);
  for (llama_layer_weights& layer : weights.layers) {
    for (std::vector<float>* tensor :
         {&layer.attn_norm, &layer.bq, &layer.bk, &layer.bv, &layer.ffn_norm})
      round_to_dtype(*tensor, dtype);
  }
}

}  // namespace troupe::runtime
