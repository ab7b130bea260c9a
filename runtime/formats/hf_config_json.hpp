#pragma once
// The pieces of the config.json reader (hf_config.cpp, contract in hf_model.hpp) that its files
// share: typed member access, the RoPE section (both layouts) and the checks of fields that
// change the math. Internal to runtime/formats.
#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "runtime/model_config.hpp"

namespace troupe::runtime::hf_json {

using json = rapidjson::Value;

// The member `key` of object `obj`; nullptr when absent or JSON null (transformers' None).
const json* member(const json& obj, const char* key);

// An integer in (0, 2^30]; absent: `fallback`, or an error naming the key when fallback < 0.
status read_int(const json& obj, const char* key, int32_t& out, int64_t fallback = -1);

// A number; absent: `fallback`.
status read_float(const json& obj, const char* key, float& out, float fallback);

// A boolean; absent: nullopt. Another type is an error naming the key.
result<std::optional<bool>> read_bool(const json& obj, const char* key);

// A string; absent: "". Another type is an error naming the key.
result<std::string> read_string(const json& obj, const char* key);

// rope_theta and the RoPE scaling of either layout into hp.rope_theta / hp.rope_scale:
//   transformers >= 5:  "rope_parameters": {"rope_type", "rope_theta", scaling fields}
//   transformers 4:     "rope_theta": N, "rope_scaling": {"rope_type" | "type", fields} | null
// Where both layouts (or a top-level and a nested rope_theta) are present they must agree.
// Errors: an unknown rope_type, a key the rope_type does not define or that troupe does not
// implement (partial_rotary_factor != 1, mrope_section, truncate false, ...), a missing required
// key, rope_parameters nested per attention type.
status read_rope(const json& doc, llama_hparams& hp);

// Errors for config fields that change the computation and that troupe does not implement
// (hidden_act, biases, quantization_config, per-layer attention types, ...). `hp` holds the
// family and sizes already read.
status check_unsupported(const json& doc, const llama_hparams& hp);

}  // namespace troupe::runtime::hf_json
