// compressed-tensors W8A8 configs: what is accepted and why (contract: compressed_tensors.hpp).
// Field names and defaults follow compressed-tensors' QuantizationArgs / QuantizationScheme /
// QuantizationConfig; an absent field takes QuantizationArgs' default (num_bits 8, type int,
// symmetric true, dynamic false, strategy from group_size: null -> tensor, -1 -> channel).
#include "runtime/formats/compressed_tensors.hpp"

#include <initializer_list>
#include <regex>
#include <string_view>

namespace troupe::runtime {
namespace {

using json = rapidjson::Value;

const json* member(const json& obj, const char* key) {
  auto it = obj.FindMember(key);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

error field_error(const std::string& path, const std::string& what) {
  return error{path + ": " + what};
}

status only_keys(const json& obj, const std::string& path,
                 std::initializer_list<std::string_view> keys) {
  for (const auto& m : obj.GetObject()) {
    std::string_view name(m.name.GetString(), m.name.GetStringLength());
    bool known = false;
    for (auto k : keys)
      known = known || k == name;
    if (!known) return field_error(path + "." + std::string(name), "unknown field");
  }
  return ok_status();
}

// A string field; absent (or null): `fallback`.
result<std::string> string_field(const json& obj, const std::string& path, const char* key,
                                 const std::string& fallback = "") {
  const json* v = member(obj, key);
  if (v == nullptr) return fallback;
  if (!v->IsString()) return field_error(path + "." + key, "must be a string");
  return std::string(v->GetString(), v->GetStringLength());
}

result<bool> bool_field(const json& obj, const std::string& path, const char* key, bool fallback) {
  const json* v = member(obj, key);
  if (v == nullptr) return fallback;
  if (!v->IsBool()) return field_error(path + "." + key, "must be true or false");
  return v->GetBool();
}

status expect_null(const json& obj, const std::string& path, const char* key,
                   const std::string& why) {
  if (member(obj, key) != nullptr) return field_error(path + "." + key, why);
  return ok_status();
}

// num_bits 8 and type int, common to weights and activations.
status check_int8(const json& args, const std::string& path) {
  const json* bits = member(args, "num_bits");
  if (bits != nullptr && (!bits->IsInt() || bits->GetInt() != 8)) {
    return field_error(path + ".num_bits", "only 8-bit quantization is supported");
  }
  auto type = string_field(args, path, "type", "int");
  if (!type) return type.err();
  if (*type != "int") {
    return field_error(path + ".type",
                       "'" + *type + "' is not supported (int; fp8 is another scheme)");
  }
  return expect_null(args, path, "block_structure", "block quantization is not supported");
}

// strategy, or the one QuantizationArgs infers from group_size.
result<std::string> strategy_of(const json& args, const std::string& path) {
  auto strategy = string_field(args, path, "strategy");
  if (!strategy) return strategy.err();
  const json* group = member(args, "group_size");
  if (group != nullptr && !group->IsInt())
    return field_error(path + ".group_size", "must be an integer");
  const int group_size = group == nullptr ? 0 : group->GetInt();
  if (group_size > 0) return std::string("group");
  if (!strategy->empty()) return *strategy;
  return std::string(group_size == -1 ? "channel" : "tensor");
}

status check_weights(const json& w, const std::string& path) {
  if (!w.IsObject()) return field_error(path, "must be an object (int8 weights)");
  if (auto ok = only_keys(
          w, path,
          {"num_bits", "type", "symmetric", "group_size", "strategy", "block_structure", "dynamic",
           "actorder", "observer", "observer_kwargs", "scale_dtype", "zp_dtype"});
      !ok) {
    return ok;
  }
  if (auto ok = check_int8(w, path); !ok) return ok;
  auto strategy = strategy_of(w, path);
  if (!strategy) return strategy.err();
  if (*strategy != "channel") {
    return field_error(path + ".strategy", "'" + *strategy +
                                               "' is not supported (W8A8 needs per-channel "
                                               "weight scales, strategy channel)");
  }
  auto symmetric = bool_field(w, path, "symmetric", true);
  if (!symmetric) return symmetric.err();
  if (!*symmetric) return field_error(path + ".symmetric", "asymmetric weights are not supported");
  const json* dynamic = member(w, "dynamic");
  if (dynamic != nullptr && !(dynamic->IsBool() && !dynamic->GetBool())) {
    return field_error(path + ".dynamic", "dynamic weight quantization is not supported");
  }
  // actorder "weight" (alias "static") only changes GPTQ's calibration, not the format.
  const json* actorder = member(w, "actorder");
  if (actorder != nullptr && !(actorder->IsBool() && !actorder->GetBool()) &&
      !(actorder->IsString() && (std::string_view(actorder->GetString()) == "weight" ||
                                 std::string_view(actorder->GetString()) == "static"))) {
    return field_error(path + ".actorder", "group activation ordering (g_idx) is not supported");
  }
  auto scale_dtype = string_field(w, path, "scale_dtype");
  if (!scale_dtype) return scale_dtype.err();
  if (!scale_dtype->empty() && *scale_dtype != "torch.bfloat16" &&
      *scale_dtype != "torch.float16" && *scale_dtype != "torch.float32") {
    return field_error(path + ".scale_dtype", "'" + *scale_dtype + "' is not supported");
  }
  return ok_status();
}

// input_activations -> whether they are asymmetric.
result<bool> check_activations(const json* a, const std::string& path) {
  if (a == nullptr) {
    return field_error(path,
                       "null (weight-only int8, W8A16) is not supported; W8A8 needs "
                       "dynamic per-token activations");
  }
  if (!a->IsObject()) return field_error(path, "must be an object");
  if (auto ok = only_keys(
          *a, path,
          {"num_bits", "type", "symmetric", "group_size", "strategy", "block_structure", "dynamic",
           "actorder", "observer", "observer_kwargs", "scale_dtype", "zp_dtype"});
      !ok) {
    return ok.err();
  }
  if (auto ok = check_int8(*a, path); !ok) return ok.err();
  const json* dynamic = member(*a, "dynamic");
  if (dynamic == nullptr || !dynamic->IsBool() || !dynamic->GetBool()) {
    return field_error(path + ".dynamic",
                       "static activation scales are not supported (dynamic must be true)");
  }
  auto strategy = strategy_of(*a, path);
  if (!strategy) return strategy.err();
  if (*strategy != "token") {
    return field_error(path + ".strategy", "'" + *strategy +
                                               "' is not supported (per-token activations, "
                                               "strategy token)");
  }
  if (auto ok = expect_null(*a, path, "actorder", "must be null"); !ok) return ok.err();
  auto symmetric = bool_field(*a, path, "symmetric", true);
  if (!symmetric) return symmetric.err();
  return !*symmetric;
}

status check_format(const std::string& format, const std::string& path) {
  if (format == "int-quantized" || format == "naive-quantized") return ok_status();
  return field_error(path, "'" + format +
                               "' is not supported (int-quantized or naive-quantized int8 "
                               "weights)");
}

// A module name compressed-tensors would match with `pattern` ("re:..." or exact).
result<bool> name_matches(const std::string& pattern, const std::string& name) {
  if (pattern.rfind("re:", 0) != 0) return pattern == name;
  try {
    const std::regex re(pattern.substr(3), std::regex::ECMAScript);
    return std::regex_search(name, re, std::regex_constants::match_continuous);
  } catch (const std::regex_error&) {
    return error{"cannot compile the regex '" + pattern.substr(3) + "'"};
  }
}

// Modules a target must never select: the embedding and the norms stay in the model dtype.
constexpr const char* unquantizable[] = {"model.embed_tokens", "model.norm",
                                         "model.layers.0.input_layernorm",
                                         "model.layers.0.post_attention_layernorm"};

status check_names(const json& list, const std::string& path, bool is_targets) {
  if (!list.IsArray()) return field_error(path, "must be a list of strings");
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!list[i].IsString()) return field_error(item_path, "must be a string");
    const std::string name = list[i].GetString();
    if (name == "Linear" && is_targets) continue;
    const bool module_name =
        name.rfind("re:", 0) == 0 || name.find('.') != std::string::npos || name == "lm_head";
    if (!module_name) {
      if (!is_targets) continue;  // ignoring a class (e.g. an MoE gate) changes nothing here
      return field_error(item_path,
                         "'" + name + "' (a module class other than Linear) is not supported");
    }
    for (const char* module : unquantizable) {
      auto hit = name_matches(name, module);
      if (!hit) return field_error(item_path, hit.message());
      if (*hit && is_targets) {
        return field_error(item_path, "'" + name + "' matches " + module +
                                          ", which W8A8 does not quantize (Linear projections "
                                          "only)");
      }
    }
  }
  return ok_status();
}

status check_group(const json& group, const std::string& path, const std::string& top_format,
                   w8a8_config& out, std::optional<bool>& asymmetric) {
  if (!group.IsObject()) return field_error(path, "must be an object");
  if (auto ok = only_keys(
          group, path, {"targets", "weights", "input_activations", "output_activations", "format"});
      !ok) {
    return ok;
  }
  auto format = string_field(group, path, "format", top_format);
  if (!format) return format.err();
  if (auto ok = check_format(*format, path + ".format"); !ok) return ok;
  if (out.format.empty()) out.format = *format;
  const json* targets = member(group, "targets");
  if (targets == nullptr) return field_error(path + ".targets", "missing");
  if (auto ok = check_names(*targets, path + ".targets", true); !ok) return ok;
  for (const auto& t : targets->GetArray())
    out.targets.emplace_back(t.GetString());
  const json* weights = member(group, "weights");
  if (weights == nullptr) return field_error(path + ".weights", "missing (int8 weights needed)");
  if (auto ok = check_weights(*weights, path + ".weights"); !ok) return ok;
  auto asym = check_activations(member(group, "input_activations"), path + ".input_activations");
  if (!asym) return asym.err();
  if (asymmetric.has_value() && *asymmetric != *asym) {
    return field_error(path + ".input_activations.symmetric",
                       "config groups disagree on activation symmetry");
  }
  asymmetric = *asym;
  return expect_null(group, path, "output_activations", "output quantization is not supported");
}

status check_top_level(const json& qc, const std::string& path) {
  // The method first: another method's own keys are not worth naming one by one.
  auto method = string_field(qc, path, "quant_method");
  if (!method) return method.err();
  if (*method != "compressed-tensors") {
    return field_error(path + ".quant_method",
                       "'" + *method + "' is not supported (compressed-tensors)");
  }
  if (auto ok = only_keys(qc, path,
                          {"quant_method", "format", "config_groups", "ignore", "kv_cache_scheme",
                           "sparsity_config", "transform_config", "quantization_status",
                           "global_compression_ratio", "version", "provider"});
      !ok) {
    return ok;
  }
  if (auto ok =
          expect_null(qc, path, "kv_cache_scheme", "a quantized KV cache scheme is not supported");
      !ok) {
    return ok;
  }
  if (auto ok = expect_null(qc, path, "transform_config", "weight transforms are not supported");
      !ok) {
    return ok;
  }
  auto status_name = string_field(qc, path, "quantization_status", "compressed");
  if (!status_name) return status_name.err();
  if (*status_name != "compressed" && *status_name != "frozen") {
    return field_error(path + ".quantization_status",
                       "'" + *status_name + "' is not supported (compressed or frozen)");
  }
  return ok_status();
}

// sparsity_config: absent, {} or a dense format (pruned weights stored densely compute as is).
status check_sparsity(const json& qc, const std::string& path) {
  const json* sparsity = member(qc, "sparsity_config");
  if (sparsity == nullptr || (sparsity->IsObject() && sparsity->MemberCount() == 0)) {
    return ok_status();
  }
  if (!sparsity->IsObject()) return field_error(path + ".sparsity_config", "must be an object");
  auto format = string_field(*sparsity, path + ".sparsity_config", "format");
  if (!format) return format.err();
  if (*format != "dense") {
    return field_error(path + ".sparsity_config.format",
                       "'" + *format + "' (sparse weight storage) is not supported");
  }
  return ok_status();
}

}  // namespace

result<w8a8_config> parse_w8a8_config(const json& qc) {
  const std::string path = "quantization_config";
  if (!qc.IsObject()) return field_error(path, "must be an object");
  if (auto ok = check_top_level(qc, path); !ok) return ok.err();
  if (auto ok = check_sparsity(qc, path); !ok) return ok.err();
  auto format = string_field(qc, path, "format");
  if (!format) return format.err();
  // "mixed-precision" (or none) defers the format to every group.
  if (!format->empty() && *format != "mixed-precision") {
    if (auto ok = check_format(*format, path + ".format"); !ok) return ok.err();
  }
  const std::string group_default = *format == "mixed-precision" ? "" : *format;
  const json* groups = member(qc, "config_groups");
  if (groups == nullptr || !groups->IsObject() || groups->MemberCount() == 0) {
    return field_error(path + ".config_groups", "must be a non-empty object");
  }
  w8a8_config out;
  std::optional<bool> asymmetric;
  for (const auto& g : groups->GetObject()) {
    const std::string group_path = path + ".config_groups." + g.name.GetString();
    if (auto ok = check_group(g.value, group_path, group_default, out, asymmetric); !ok) {
      return ok.err();
    }
  }
  out.asymmetric_activations = asymmetric.value_or(false);
  if (const json* ignore = member(qc, "ignore"); ignore != nullptr) {
    if (auto ok = check_names(*ignore, path + ".ignore", false); !ok) return ok.err();
    for (const auto& i : ignore->GetArray())
      out.ignore.emplace_back(i.GetString());
  }
  return out;
}

result<std::optional<w8a8_config>> read_w8a8_config(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return error{"config.json: not a JSON object"};
  const json* qc = member(doc, "quantization_config");
  const json* older = member(doc, "compression_config");
  if (qc != nullptr && older != nullptr) {
    return error{"config.json: both quantization_config and compression_config are present"};
  }
  if (qc == nullptr) qc = older;
  if (qc == nullptr) return std::optional<w8a8_config>{};
  auto config = parse_w8a8_config(*qc);
  if (!config) return config.err();
  return std::optional<w8a8_config>(std::move(*config));
}

bool w8a8_is_quantized(const w8a8_config& config, const std::string& module) {
  auto matches = [&](const std::string& pattern) {
    auto hit = name_matches(pattern, module);
    return hit && *hit;  // patterns were compiled once by the parser; a failure cannot happen
  };
  bool targeted = false;
  for (const auto& t : config.targets)
    targeted = targeted || t == "Linear" || matches(t);
  if (!targeted) return false;
  for (const auto& i : config.ignore)
    if (matches(i)) return false;
  return true;
}

}  // namespace troupe::runtime
