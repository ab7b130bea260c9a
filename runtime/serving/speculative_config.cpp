#include "runtime/serving/speculative_config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace troupe::runtime {
namespace {

using json_value = rapidjson::Value;
// The object's keys, '-' spelled '_' as vLLM's create_speculative_config does; a repeated key
// keeps its last value, as Python's json.loads does.
using members = std::map<std::string, const json_value*>;

constexpr const char* only_ngram =
    "troupe supports only the ngram method (prompt lookup decoding), no draft model";

error fail(std::string_view message) {
  return error{"--speculative-config: " + std::string(message)};
}

// A value as a message quotes it: its JSON text.
std::string show(const json_value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// "12", "+12", "-1_000", "3.0": a sign, digits ('_' between two of them), an optional fraction
// of zeros. Too large saturates (every use has a bound far below).
std::optional<int64_t> parse_int_text(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (const auto dot = s.find('.'); dot != std::string_view::npos) {
    const std::string_view fraction = s.substr(dot + 1);
    if (fraction.empty() || fraction.find_first_not_of('0') != std::string_view::npos)
      return std::nullopt;
    s = s.substr(0, dot);
  }
  if (s.empty() || s.front() == '_' || s.back() == '_' || s.find("__") != std::string_view::npos)
    return std::nullopt;
  int64_t value = 0;
  for (char c : s) {
    if (c == '_') continue;
    if (c < '0' || c > '9') return std::nullopt;
    value = value > (std::numeric_limits<int64_t>::max() - 9) / 10
                ? std::numeric_limits<int64_t>::max()
                : value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

// pydantic's lax int: an integer, a number with no fraction, a boolean or an integer's text.
std::optional<int64_t> lax_int(const json_value& v) {
  if (v.IsBool()) return v.GetBool() ? 1 : 0;
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsUint64()) return std::numeric_limits<int64_t>::max();
  if (v.IsDouble()) {
    const double d = v.GetDouble();
    if (std::trunc(d) != d || std::abs(d) >= 0x1p63) return std::nullopt;
    return static_cast<int64_t>(d);
  }
  if (v.IsString()) return parse_int_text(trim({v.GetString(), v.GetStringLength()}));
  return std::nullopt;
}

// pydantic's lax bool: a boolean, 0 or 1, or one of its words for them.
std::optional<bool> lax_bool(const json_value& v) {
  if (v.IsBool()) return v.GetBool();
  if (v.IsNumber() && (v.GetDouble() == 0 || v.GetDouble() == 1)) return v.GetDouble() == 1;
  if (!v.IsString()) return std::nullopt;
  std::string word(v.GetString(), v.GetStringLength());
  std::transform(word.begin(), word.end(), word.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* yes : {"1", "on", "t", "true", "y", "yes"})
    if (word == yes) return true;
  for (const char* no : {"0", "off", "f", "false", "n", "no"})
    if (word == no) return false;
  return std::nullopt;
}

// pydantic's lax float: a number, a boolean or a number's text.
bool is_lax_real(const json_value& v) {
  if (v.IsNumber() || v.IsBool()) return true;
  if (!v.IsString()) return false;
  const std::string text(trim({v.GetString(), v.GetStringLength()}));
  char* end = nullptr;
  std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size();
}

enum class rule {
  core,     // method, model, num_speculative_tokens, prompt_lookup_*: read after the checks
  ignored,  // any value: set by the engine, and overwritten for ngram
  // No effect on ngram: checked for pydantic's type, then ignored.
  ignored_bool,
  ignored_bool_or_null,
  ignored_int,
  ignored_positive_or_null,
  ignored_real,
  ignored_string_or_null,
  ignored_object_or_null,
  draft_sample_method,      // "greedy" or "probabilistic": ngram has no draft probabilities
  rejection_sample_method,  // "standard"; "synthetic" and "block" are refused
  must_be_false,            // a boolean; true is refused with the rule's reason
  must_be_null,             // null or absent; anything else is refused with the reason
  must_be_empty,            // null or []; anything else is refused with the reason
};

struct key_rule {
  const char* key;
  rule kind;
  const char* reason = nullptr;  // for must_be_*: the whole message
};

// Every field of vLLM 0.32's SpeculativeConfig; any other key is an error, as pydantic's
// extra="forbid" makes it.
constexpr key_rule key_rules[] = {
    {"method", rule::core},
    {"model", rule::core},
    {"num_speculative_tokens", rule::core},
    {"prompt_lookup_min", rule::core},
    {"prompt_lookup_max", rule::core},
    {"target_model_config", rule::ignored},
    {"target_parallel_config", rule::ignored},
    {"draft_model_config", rule::ignored},
    {"draft_parallel_config", rule::ignored},
    {"enforce_eager", rule::ignored_bool_or_null},
    {"disable_padded_drafter_batch", rule::ignored_bool},
    {"disable_eagle_block_drop", rule::ignored_bool},
    {"use_local_argmax_reduction", rule::ignored_bool},
    {"draft_tensor_parallel_size", rule::ignored_positive_or_null},
    {"max_model_len", rule::ignored_positive_or_null},
    {"dspark_draft_topk", rule::ignored_positive_or_null},
    {"suffix_decoding_max_tree_depth", rule::ignored_int},
    {"suffix_decoding_max_cached_requests", rule::ignored_int},
    {"suffix_decoding_max_spec_factor", rule::ignored_real},
    {"suffix_decoding_min_token_prob", rule::ignored_real},
    {"quantization", rule::ignored_string_or_null},
    {"moe_backend", rule::ignored_string_or_null},
    {"attention_backend", rule::ignored_string_or_null},
    {"kv_cache_dtype", rule::ignored_string_or_null},
    {"revision", rule::ignored_string_or_null},
    {"code_revision", rule::ignored_string_or_null},
    {"draft_load_config", rule::ignored_object_or_null},
    {"draft_sample_method", rule::draft_sample_method},
    {"rejection_sample_method", rule::rejection_sample_method},
    {"tensor_parallel_size", rule::must_be_null,
     "'tensor_parallel_size' is not a valid argument in the speculative_config. Please pass "
     "'draft_tensor_parallel_size' instead."},
    {"index_share_for_mtp_iteration", rule::must_be_null,
     "index_share_for_mtp_iteration is only supported with method='mtp'"},
    {"use_heterogeneous_vocab", rule::must_be_false,
     "use_heterogeneous_vocab only works with method='draft_model'"},
    {"parallel_drafting", rule::must_be_false,
     "parallel_drafting is not supported: it needs a draft model trained for it"},
    {"enable_adaptive_verification", rule::must_be_false,
     "enable_adaptive_verification is not supported (vLLM implements it for method 'dspark' "
     "only)"},
    {"synthetic_acceptance_rates", rule::must_be_null,
     "synthetic_acceptance_rates is not supported: troupe has no synthetic rejection sampling"},
    {"synthetic_acceptance_length", rule::must_be_null,
     "synthetic_acceptance_length is not supported: troupe has no synthetic rejection sampling"},
    {"num_speculative_tokens_per_batch_size", rule::core, ""},
};

error wrong_type(std::string_view key, std::string_view expected, const json_value& v) {
  return fail(fmt::format("{} must be {}, got {}", key, expected, show(v)));
}

// The value of a key that is not `core`: refused, or checked for its type and ignored.
status check_key(const key_rule& r, std::string_view key, const json_value& v) {
  switch (r.kind) {
    case rule::core:
    case rule::ignored:
      return ok_status();
    case rule::ignored_bool:
      if (!lax_bool(v)) return wrong_type(key, "a boolean", v);
      return ok_status();
    case rule::ignored_bool_or_null:
      if (!v.IsNull() && !lax_bool(v)) return wrong_type(key, "a boolean or null", v);
      return ok_status();
    case rule::ignored_int:
      if (!lax_int(v)) return wrong_type(key, "an integer", v);
      return ok_status();
    case rule::ignored_positive_or_null:
      if (v.IsNull()) return ok_status();
      if (auto n = lax_int(v); !n || *n < 1) return wrong_type(key, "an integer >= 1 or null", v);
      return ok_status();
    case rule::ignored_real:
      if (!is_lax_real(v)) return wrong_type(key, "a number", v);
      return ok_status();
    case rule::ignored_string_or_null:
      if (!v.IsNull() && !v.IsString()) return wrong_type(key, "a string or null", v);
      return ok_status();
    case rule::ignored_object_or_null:
      if (!v.IsNull() && !v.IsObject()) return wrong_type(key, "an object or null", v);
      return ok_status();
    case rule::draft_sample_method:
      if (!v.IsString() || (v.GetString() != std::string_view("greedy") &&
                            v.GetString() != std::string_view("probabilistic")))
        return wrong_type(key, "\"greedy\" or \"probabilistic\"", v);
      return ok_status();
    case rule::rejection_sample_method: {
      const std::string_view method = v.IsString() ? v.GetString() : "";
      if (method == "standard") return ok_status();
      if (method == "synthetic" || method == "block")
        return fail(fmt::format(
            "rejection_sample_method '{}' is not supported: troupe verifies drafts with "
            "standard rejection sampling only",
            method));
      return wrong_type(key, "one of \"standard\", \"synthetic\", \"block\"", v);
    }
    case rule::must_be_false: {
      const auto b = lax_bool(v);
      if (!b) return wrong_type(key, "a boolean", v);
      if (*b) return fail(r.reason);
      return ok_status();
    }
    case rule::must_be_null:
      if (!v.IsNull()) return fail(r.reason);
      return ok_status();
    case rule::must_be_empty:
      if (!v.IsNull() && !(v.IsArray() && v.Empty())) return fail(r.reason);
      return ok_status();
  }
  return ok_status();
}

// The key's value, unless it is absent or null (which mean the same to vLLM's optional keys).
const json_value* find_set(const members& keys, const std::string& key) {
  const auto it = keys.find(key);
  return it == keys.end() || it->second->IsNull() ? nullptr : it->second;
}

// vLLM's method inference: an explicit method, else the model's name.
status check_method(const members& keys) {
  const json_value* method = find_set(keys, "method");
  const json_value* model = find_set(keys, "model");
  if (model && !model->IsString()) return wrong_type("model", "a string", *model);
  if (method) {
    if (!method->IsString()) return wrong_type("method", "a string", *method);
    const std::string_view name = method->GetString();
    if (name == "ngram") return ok_status();
    if (name == "[ngram]")
      return fail(
          "method '[ngram]' is not valid (vLLM takes \"[ngram]\" only as the model); "
          "use \"method\": \"ngram\"");
    return fail(fmt::format("method '{}' is not supported: {}", name, only_ngram));
  }
  if (!model)
    return fail(fmt::format("no method given: {}; use \"method\": \"ngram\"", only_ngram));
  const std::string_view name = model->GetString();
  if (name == "ngram" || name == "[ngram]") return ok_status();
  return fail(fmt::format("model '{}' is not supported: {}", name, only_ngram));
}

// An integer key's value in [min, max].
result<int32_t> read_int(std::string_view key, const json_value& v, int64_t min, int64_t max,
                         std::string_view why_max = "") {
  const auto n = lax_int(v);
  if (!n) return wrong_type(key, "an integer", v);
  if (*n < min) return fail(fmt::format("{} must be >= {}, got {}", key, min, *n));
  if (*n > max) return fail(fmt::format("{} must be at most {}{}, got {}", key, max, why_max, *n));
  return static_cast<int32_t>(*n);
}

status read_prompt_lookup(const members& keys, speculative_config& config) {
  constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
  std::optional<int32_t> min, max;
  if (const json_value* v = find_set(keys, "prompt_lookup_min")) {
    auto n = read_int("prompt_lookup_min", *v, 1, int32_max);
    if (!n) return n.err();
    min = *n;
  }
  if (const json_value* v = find_set(keys, "prompt_lookup_max")) {
    auto n = read_int("prompt_lookup_max", *v, 1, int32_max);
    if (!n) return n.err();
    max = *n;
  }
  config.prompt_lookup_min = min.value_or(max.value_or(default_prompt_lookup));
  config.prompt_lookup_max = max.value_or(config.prompt_lookup_min);
  if (config.prompt_lookup_min > config.prompt_lookup_max) {
    return fail(fmt::format("prompt_lookup_min={} must be <= prompt_lookup_max={}",
                            config.prompt_lookup_min, config.prompt_lookup_max));
  }
  return ok_status();
}

// vLLM's validate_and_normalize_dynamic_sd_schedule: [[first, last, k], ...] ranges of batch
// sizes, sorted here, disjoint, the first starting at 1, k >= 0; null or [] = none.
status read_per_batch_size(const members& keys, speculative_config& config) {
  constexpr std::string_view key = "num_speculative_tokens_per_batch_size";
  const json_value* v = find_set(keys, std::string(key));
  if (!v || (v->IsArray() && v->Empty())) return ok_status();
  if (!v->IsArray()) return wrong_type(key, "a list of [first, last, num_speculative_tokens]", *v);
  constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
  auto& ranges = config.per_batch_size;
  for (const auto& entry : v->GetArray()) {
    if (!entry.IsArray() || entry.Size() != 3)
      return fail(fmt::format(
          "each {} entry must be [range_start, range_end, num_speculative_tokens], got {}", key,
          show(entry)));
    auto first = read_int("a batch-size range's start", entry[0], 1, int32_max);
    auto last = read_int("a batch-size range's end", entry[1], 1, int32_max);
    auto k = read_int("a batch-size range's num_speculative_tokens", entry[2], 0, int32_max);
    if (!first) return first.err();
    if (!last) return last.err();
    if (!k) return k.err();
    if (*first > *last)
      return fail(
          fmt::format("batch-size range start must be <= end for ({}, {}, {})", *first, *last, *k));
    ranges.push_back({*first, *last, *k});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const auto& a, const auto& b) { return a.first_batch_size < b.first_batch_size; });
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first_batch_size <= ranges[i - 1].last_batch_size)
      return fail("batch-size ranges must be non-overlapping");
  if (ranges.front().first_batch_size != 1)
    return fail(
        "the first batch-size range must start at 1 so every batch size has a defined "
        "schedule");
  return ok_status();
}

}  // namespace

result<speculative_config> parse_speculative_config(std::string_view json) {
  // vLLM's optional_type(json.loads): "" and "None" leave the flag unset.
  if (json.empty() || json == "None") return speculative_config{};
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return fail(fmt::format("not valid JSON: {} (at offset {})",
                            rapidjson::GetParseError_En(doc.GetParseError()),
                            doc.GetErrorOffset()));
  }
  if (doc.IsNull()) return speculative_config{};
  if (!doc.IsObject()) {
    return fail(
        "expected a JSON object, e.g. '{\"method\": \"ngram\", "
        "\"num_speculative_tokens\": 3}'");
  }
  members keys;
  for (const auto& m : doc.GetObject()) {
    std::string key(m.name.GetString(), m.name.GetStringLength());
    std::replace(key.begin(), key.end(), '-', '_');
    keys[key] = &m.value;
  }
  for (const auto& [key, value] : keys) {
    const auto* r = std::find_if(std::begin(key_rules), std::end(key_rules),
                                 [&](const key_rule& kr) { return key == kr.key; });
    if (r == std::end(key_rules)) return fail(fmt::format("unknown key '{}'", key));
    if (auto s = check_key(*r, key, *value); !s) return s.err();
  }
  if (auto s = check_method(keys); !s) return s.err();

  speculative_config config;
  const json_value* num = find_set(keys, "num_speculative_tokens");
  if (!num) return fail("num_speculative_tokens is required (the drafts proposed per step)");
  auto n = read_int("num_speculative_tokens", *num, 1, max_num_speculative_tokens,
                    " (vLLM's MAX_SPEC_LEN: the most drafts a step verifies per request)");
  if (!n) return n.err();
  config.num_speculative_tokens = *n;
  if (auto s = read_prompt_lookup(keys, config); !s) return s.err();
  if (auto s = read_per_batch_size(keys, config); !s) return s.err();
  return config;
}

}  // namespace troupe::runtime
