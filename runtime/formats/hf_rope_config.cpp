// config.json's RoPE settings in transformers 4's and 5's layouts (contract: hf_config_json.hpp;
// the frequencies they stand for: runtime/model/rope_frequencies.hpp). The keys each rope_type
// defines, and which are required, follow transformers' modeling_rope_utils.py validation.
#include <array>
#include <string_view>
#include <tuple>
#include <utility>

#include "runtime/formats/hf_config_json.hpp"

namespace troupe::runtime::hf_json {
namespace {

// One RoPE object as written: its rope_theta (when it has one) and its scaling.
struct rope_object {
  std::optional<double> theta;
  rope_scaling scale;
};

struct rope_type_keys {
  const char* name;
  rope_scaling_type type;
  std::array<const char*, 8> keys;  // beyond rope_type, type, rope_theta, partial_rotary_factor
};

constexpr rope_type_keys rope_types[] = {
    {"default", rope_scaling_type::none, {}},
    {"linear", rope_scaling_type::linear, {"factor"}},
    {"dynamic", rope_scaling_type::dynamic, {"factor"}},
    {"llama3",
     rope_scaling_type::llama3,
     {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}},
    {"yarn",
     rope_scaling_type::yarn,
     {"factor", "original_max_position_embeddings", "beta_fast", "beta_slow", "mscale",
      "mscale_all_dim", "attention_factor", "truncate"}},
};

bool defines(const rope_type_keys& t, std::string_view key) {
  if (key == "rope_type" || key == "type" || key == "rope_theta" ||
      key == "partial_rotary_factor") {
    return true;
  }
  for (const char* k : t.keys) {
    if (k != nullptr && key == k) return true;
  }
  return false;
}

result<const rope_type_keys*> find_type(const json& obj, const std::string& where) {
  auto rope_type = read_string(obj, "rope_type");
  if (!rope_type) return rope_type.err();
  auto legacy = read_string(obj, "type");
  if (!legacy) return legacy.err();
  if (!rope_type->empty() && !legacy->empty() && *rope_type != *legacy) {
    return error{where + ": \"rope_type\" '" + *rope_type + "' and \"type\" '" + *legacy +
                 "' disagree"};
  }
  const std::string name = !rope_type->empty() ? *rope_type
                           : !legacy->empty()  ? *legacy
                                               : "default";
  for (const auto& t : rope_types) {
    if (name == t.name) return &t;
  }
  return error{where + ": rope_type '" + name +
               "' is not supported (default, linear, dynamic, llama3, yarn)"};
}

// RoPE over a fraction of each head (Phi, StableLM, GLM) is not implemented; 1 is plain RoPE.
status check_partial_rotary(const json& obj, const std::string& where) {
  const json* v = member(obj, "partial_rotary_factor");
  if (v == nullptr) return ok_status();
  if (!v->IsNumber() || v->GetDouble() != 1.0) {
    return error{where +
                 ": partial_rotary_factor other than 1 (RoPE on part of each head) is not "
                 "supported"};
  }
  return ok_status();
}

// A number > 0 (>= 0 with `zero_ok`); absent: `fallback`, or an error when there is none.
status read_scale_field(const json& obj, const char* key, float& out, std::optional<float> fallback,
                        const std::string& where, bool zero_ok = false) {
  const json* v = member(obj, key);
  if (v == nullptr) {
    if (!fallback) return error{where + ": rope_type needs \"" + key + "\""};
    out = *fallback;
    return ok_status();
  }
  if (!v->IsNumber() || v->GetDouble() < 0.0 || (!zero_ok && v->GetDouble() == 0.0)) {
    return error{where + ": \"" + key + "\" must be a positive number"};
  }
  out = static_cast<float>(v->GetDouble());
  return ok_status();
}

status read_llama3(const json& obj, rope_scaling& s, const std::string& where) {
  for (auto [key, field] : {std::pair{"low_freq_factor", &s.low_freq_factor},
                            {"high_freq_factor", &s.high_freq_factor}}) {
    if (auto ok = read_scale_field(obj, key, *field, std::nullopt, where); !ok) return ok;
  }
  if (!(s.high_freq_factor > s.low_freq_factor)) {
    return error{where + ": llama3 needs high_freq_factor > low_freq_factor"};
  }
  return ok_status();
}

status read_yarn(const json& obj, rope_scaling& s, const std::string& where) {
  for (auto [key, field, fallback, zero_ok] :
       {std::tuple{"beta_fast", &s.beta_fast, 32.0f, false},
        {"beta_slow", &s.beta_slow, 1.0f, false},
        {"mscale", &s.mscale, 0.0f, true},
        {"mscale_all_dim", &s.mscale_all_dim, 0.0f, true},
        {"attention_factor", &s.attention_factor, 0.0f, false}}) {
    if (auto ok = read_scale_field(obj, key, *field, fallback, where, zero_ok); !ok) return ok;
  }
  auto truncate = read_bool(obj, "truncate");
  if (!truncate) return truncate.err();
  if (*truncate == false) {
    return error{where +
                 ": yarn with \"truncate\": false (an unrounded correction range) is not "
                 "supported"};
  }
  return ok_status();
}

result<rope_object> read_rope_object(const json& obj, const std::string& where) {
  auto type = find_type(obj, where);
  if (!type) return type.err();
  for (const auto& m : obj.GetObject()) {
    const std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsNull() && !defines(**type, key)) {
      return error{where + ": \"" + std::string(key) + "\" is not supported with rope_type '" +
                   (*type)->name + "'"};
    }
  }
  if (auto ok = check_partial_rotary(obj, where); !ok) return ok.err();
  rope_object out;
  if (const json* theta = member(obj, "rope_theta")) {
    if (!theta->IsNumber() || !(theta->GetDouble() > 0.0)) {
      return error{where + ": \"rope_theta\" must be a positive number"};
    }
    out.theta = theta->GetDouble();
  }
  rope_scaling& s = out.scale;
  s.type = (*type)->type;
  if (s.type == rope_scaling_type::none) return out;
  if (auto ok = read_scale_field(obj, "factor", s.factor, std::nullopt, where); !ok)
    return ok.err();
  if (auto ok =
          read_int(obj, "original_max_position_embeddings", s.original_max_position_embeddings, 0);
      !ok) {
    return error{where + ": \"original_max_position_embeddings\" must be a positive integer"};
  }
  status extra = s.type == rope_scaling_type::llama3 ? read_llama3(obj, s, where)
                 : s.type == rope_scaling_type::yarn ? read_yarn(obj, s, where)
                                                     : ok_status();
  if (!extra) return extra.err();
  return out;
}

// `key` of the document as a RoPE object: nullopt when absent or null.
result<std::optional<rope_object>> read_section(const json& doc, const char* key) {
  const json* v = member(doc, key);
  if (v == nullptr) return std::optional<rope_object>{};
  const std::string where = std::string("config.json: ") + key;
  if (!v->IsObject()) return error{where + " must be an object or null"};
  for (const auto& m : v->GetObject()) {
    if (m.value.IsObject()) {
      return error{where + " has a \"" + m.name.GetString() +
                   "\" object: RoPE settings per attention type are not supported"};
    }
  }
  auto r = read_rope_object(*v, where);
  if (!r) return r.err();
  return std::optional<rope_object>(std::move(*r));
}

// The same scaling, an unset original context standing for max_position_embeddings.
bool same_scaling(rope_scaling a, rope_scaling b, int32_t max_positions) {
  for (rope_scaling* s : {&a, &b}) {
    if (s->original_max_position_embeddings == 0)
      s->original_max_position_embeddings = max_positions;
  }
  return a.type == b.type && a.factor == b.factor &&
         a.original_max_position_embeddings == b.original_max_position_embeddings &&
         a.low_freq_factor == b.low_freq_factor && a.high_freq_factor == b.high_freq_factor &&
         a.beta_fast == b.beta_fast && a.beta_slow == b.beta_slow && a.mscale == b.mscale &&
         a.mscale_all_dim == b.mscale_all_dim && a.attention_factor == b.attention_factor;
}

// rope_theta from wherever it is written; every place that names one must agree.
result<double> read_theta(const json& doc, const std::optional<rope_object>& nested,
                          const std::optional<rope_object>& legacy) {
  std::optional<double> top;
  if (const json* v = member(doc, "rope_theta")) {
    if (!v->IsNumber() || !(v->GetDouble() > 0.0)) {
      return error{"config.json: \"rope_theta\" must be a positive number"};
    }
    top = v->GetDouble();
  }
  std::optional<double> theta;
  std::string theta_from;
  for (auto [from, value] : {std::pair{"rope_theta", top},
                             {"rope_parameters.rope_theta", nested ? nested->theta : std::nullopt},
                             {"rope_scaling.rope_theta", legacy ? legacy->theta : std::nullopt}}) {
    if (!value) continue;
    if (theta && *theta != *value) {
      return error{"config.json: " + theta_from + " (" + std::to_string(*theta) + ") and " + from +
                   " (" + std::to_string(*value) + ") disagree"};
    }
    theta = value;
    theta_from = from;
  }
  return theta.value_or(10000.0);  // transformers' default_theta
}

// A top-level original_max_position_embeddings (Phi-3's spelling) is the pretraining context of
// llama3 and yarn scaling in transformers, ahead of the one in the RoPE object.
status read_top_level_original(const json& doc, rope_scaling& s) {
  if (s.type != rope_scaling_type::llama3 && s.type != rope_scaling_type::yarn) return ok_status();
  int32_t top = 0;
  if (auto ok = read_int(doc, "original_max_position_embeddings", top, 0); !ok) return ok;
  if (top == 0) return ok_status();
  if (s.original_max_position_embeddings != 0 && s.original_max_position_embeddings != top) {
    return error{
        "config.json: original_max_position_embeddings at the top level and in the RoPE "
        "settings disagree"};
  }
  s.original_max_position_embeddings = top;
  return ok_status();
}

}  // namespace

status read_rope(const json& doc, llama_hparams& hp) {
  auto nested = read_section(doc, "rope_parameters");
  if (!nested) return nested.err();
  auto legacy = read_section(doc, "rope_scaling");
  if (!legacy) return legacy.err();
  if (*nested && *legacy &&
      !same_scaling((*nested)->scale, (*legacy)->scale, hp.max_position_embeddings)) {
    return error{"config.json: rope_parameters and rope_scaling disagree; keep one of them"};
  }
  auto theta = read_theta(doc, *nested, *legacy);
  if (!theta) return theta.err();
  if (auto ok = check_partial_rotary(doc, "config.json"); !ok) return ok;
  hp.rope_theta = static_cast<float>(*theta);
  hp.rope_scale = *nested ? (*nested)->scale : *legacy ? (*legacy)->scale : rope_scaling{};
  return read_top_level_original(doc, hp.rope_scale);
}

}  // namespace troupe::runtime::hf_json
