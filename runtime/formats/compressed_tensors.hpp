#pragma once
// compressed-tensors quantization configs (llm-compressor's checkpoints, config.json's
// "quantization_config"), restricted to what kernels/cpu/gemm_w8a8 computes: W8A8 int8 with
// per-channel symmetric static weights and per-token dynamic activations
// ("W8A8-Dynamic-Per-Token", e.g. RedHatAI/...-quantized.w8a8):
//
//   "quantization_config": {
//     "quant_method": "compressed-tensors",
//     "format": "int-quantized",            (older checkpoints: "naive-quantized")
//     "config_groups": {"group_0": {
//       "targets": ["Linear"],
//       "weights": {"num_bits": 8, "type": "int", "symmetric": true, "strategy": "channel",
//                   "dynamic": false, ...},
//       "input_activations": {"num_bits": 8, "type": "int", "symmetric": true | false,
//                             "strategy": "token", "dynamic": true, ...},
//       "output_activations": null}},
//     "ignore": ["lm_head"], "kv_cache_scheme": null, "quantization_status": "compressed", ...}
//
// Anything else is an error naming the field (path from quantization_config): another
// quant_method or format (pack-quantized, float-quantized, marlin-24, sparse formats, ...),
// num_bits != 8, float types, weight strategies other than channel (tensor, group, block, ...),
// asymmetric weights, dynamic weights, activation strategies other than token, static
// activation scales, weight-only configs (input_activations null), output_activations,
// kv_cache_scheme, a sparsity_config with a format other than "dense", transform_config,
// targets naming a module class other than Linear (or matching the embedding or a norm), regexes
// std::regex cannot compile, and unknown keys. Several config_groups are accepted when they all
// pass and agree on activation symmetry.
//
// Which modules are quantized (compressed-tensors' match_name / is_match): a Linear module is
// quantized when some target matches it and no ignore entry does. A target or ignore entry is
// "Linear" (every Linear module; targets only), an exact module name ("lm_head",
// "model.layers.0.mlp.down_proj"), or "re:PATTERN", matched like Python's re.match (anchored at
// the start of the name, not at its end; ECMAScript syntax, which covers the patterns
// llm-compressor writes).
//
// Tensors of a quantized module <name> (the integrator loads these):
//   <name>.weight        I8 [out, in]
//   <name>.weight_scale  model dtype (BF16/F16/F32) [out, 1]
//   <name>.weight_zero_point  optional; all zero (symmetric weights)
// Modules not quantized keep <name>.weight in the model dtype.
#include <rapidjson/document.h>

#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

struct w8a8_config {
  // input_activations.symmetric false: dynamic per-token zero points (vLLM's azp path).
  bool asymmetric_activations = false;
  // The union of every config group's targets, and the ignore list, as written.
  std::vector<std::string> targets;
  std::vector<std::string> ignore;
  std::string format;  // "int-quantized" | "naive-quantized"
};

// The quantization_config object. Errors name the field, e.g.
// "quantization_config.config_groups.group_0.weights.strategy: 'group' is not supported ...".
result<w8a8_config> parse_w8a8_config(const rapidjson::Value& quantization_config);

// The text of a config.json: nullopt when it has no quantization_config (nor the older
// spelling compression_config); both present is an error.
result<std::optional<w8a8_config>> read_w8a8_config(const std::string& config_json_text);

// Whether the Linear module `module` ("model.layers.0.self_attn.q_proj", "lm_head") holds int8
// weights under `config` (rule above).
bool w8a8_is_quantized(const w8a8_config& config, const std::string& module);

}  // namespace troupe::runtime
