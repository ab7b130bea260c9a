#include "runtime/formats/generation_config.hpp"

#include <rapidjson/document.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <tuple>

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

// A number field; null or absent is nullopt; a value equal to transformers' default is dropped.
// Errors begin with `source` (the file, or the flag).
result<std::optional<double>> number(const rapidjson::Value& doc, const char* key,
                                     std::optional<double> hf_default, const char* source) {
  if (!doc.HasMember(key) || doc[key].IsNull()) return std::optional<double>{};
  if (!doc[key].IsNumber()) return error{std::string(source) + ": " + key + " must be a number"};
  const double v = doc[key].GetDouble();
  if (hf_default && v == *hf_default) return std::optional<double>{};
  return std::optional<double>{v};
}

result<std::optional<int32_t>> integer(const rapidjson::Value& doc, const char* key,
                                       std::optional<int64_t> hf_default, const char* source) {
  if (!doc.HasMember(key) || doc[key].IsNull()) return std::optional<int32_t>{};
  if (!doc[key].IsInt()) return error{std::string(source) + ": " + key + " must be an integer"};
  const int32_t v = doc[key].GetInt();
  if (hf_default && v == *hf_default) return std::optional<int32_t>{};
  return std::optional<int32_t>{v};
}

status read_eos(const rapidjson::Value& doc, sampling_defaults& d) {
  if (!doc.HasMember("eos_token_id") || doc["eos_token_id"].IsNull()) return ok_status();
  const auto& v = doc["eos_token_id"];
  if (v.IsInt()) {
    d.eos_token_ids.push_back(v.GetInt());
    return ok_status();
  }
  if (!v.IsArray())
    return error{"generation_config.json: eos_token_id must be an integer or a list"};
  for (const auto& x : v.GetArray()) {
    if (!x.IsInt()) return error{"generation_config.json: eos_token_id must list integers"};
    d.eos_token_ids.push_back(x.GetInt());
  }
  return ok_status();
}

// The sampling fields of a generation config; `overrides` (--override-generation-config): only
// the keys present (null clears one), each taken as given, not dropped at transformers' default.
status read_sampling(const rapidjson::Value& doc, sampling_defaults& d, bool overrides = false) {
  const char* source = overrides ? "--override-generation-config" : "generation_config.json";
  const auto to_float = [](std::optional<double> v) {
    return v ? std::optional<float>(static_cast<float>(*v)) : std::nullopt;
  };
  const auto skip = [&](const char* key) { return overrides && !doc.HasMember(key); };
  for (auto [key, field, hf_default] :
       {std::tuple{"temperature", &d.temperature, std::optional<double>(1.0)},
        std::tuple{"top_p", &d.top_p, std::optional<double>(1.0)},
        std::tuple{"min_p", &d.min_p, std::optional<double>()},
        std::tuple{"repetition_penalty", &d.repetition_penalty, std::optional<double>(1.0)}}) {
    if (skip(key)) continue;
    auto v = number(doc, key, overrides ? std::nullopt : hf_default, source);
    if (!v) return v.err();
    *field = to_float(*v);
  }
  if (!skip("top_k")) {
    auto top_k =
        integer(doc, "top_k", overrides ? std::nullopt : std::optional<int64_t>(50), source);
    if (!top_k) return top_k.err();
    d.top_k = *top_k;
  }
  if (!skip("max_new_tokens")) {
    auto max_new_tokens = integer(doc, "max_new_tokens", std::nullopt, source);
    if (!max_new_tokens) return max_new_tokens.err();
    d.max_tokens = *max_new_tokens;
  }
  return ok_status();
}

result<std::string> read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot read " + path.string()};
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

result<sampling_defaults> load_file(const fs::path& path, bool sampling) {
  auto text = read_text(path);
  if (!text) return text.err();
  auto parsed = parse_generation_config(*text, sampling);
  if (!parsed) return error{path.string() + ": " + parsed.message()};
  return parsed;
}

std::string format_number(double v) {
  std::ostringstream out;
  out << v;
  std::string s = out.str();
  if (s.find_first_of(".e") == std::string::npos) s += ".0";  // Python prints floats with a dot
  return s;
}

}  // namespace

result<sampling_defaults> parse_generation_config(std::string_view json, bool sampling) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return error{"generation_config.json is not a JSON object"};
  sampling_defaults d;
  if (sampling) {
    if (auto ok = read_sampling(doc, d); !ok) return ok.err();
  }
  if (auto ok = read_eos(doc, d); !ok) return ok.err();
  return d;
}

result<sampling_defaults> load_generation_config(const std::string& mode,
                                                 const std::string& model) {
  std::error_code ec;
  if (mode != "auto" && mode != "vllm") {
    if (!fs::is_directory(mode, ec))
      return error{"--generation-config " + mode + ": not a directory"};
    const fs::path path = fs::path(mode) / "generation_config.json";
    if (!fs::exists(path, ec)) return sampling_defaults{};
    return load_file(path, true);
  }
  const fs::path path = fs::path(model) / "generation_config.json";
  if (!fs::is_directory(model, ec) || !fs::exists(path, ec)) return sampling_defaults{};
  return load_file(path, mode == "auto");
}

result<sampling_defaults> apply_generation_overrides(sampling_defaults defaults,
                                                     std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject())
    return error{
        "--override-generation-config: expected a JSON object, e.g. '{\"temperature\": 0.5}'"};
  if (auto ok = read_sampling(doc, defaults, /*overrides=*/true); !ok) return ok.err();
  return defaults;
}

std::string describe_sampling_defaults(const sampling_defaults& d) {
  std::vector<std::string> items;
  // vLLM's order: repetition_penalty, temperature, top_k, top_p, min_p, max_tokens.
  if (d.repetition_penalty)
    items.push_back("'repetition_penalty': " + format_number(*d.repetition_penalty));
  if (d.temperature) items.push_back("'temperature': " + format_number(*d.temperature));
  if (d.top_k) items.push_back("'top_k': " + std::to_string(*d.top_k));
  if (d.top_p) items.push_back("'top_p': " + format_number(*d.top_p));
  if (d.min_p) items.push_back("'min_p': " + format_number(*d.min_p));
  if (d.max_tokens) items.push_back("'max_tokens': " + std::to_string(*d.max_tokens));
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + items[i];
  return out + "}";
}

}  // namespace troupe::runtime
