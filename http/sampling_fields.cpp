#include "http/sampling_fields.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <string_view>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "http/python_json.hpp"
#include "http/structured_outputs.hpp"

namespace troupe::http {
namespace {

parse_error read_stop(const Value& body, actors::generation_request& out) {
  const Value* v = member(body, "stop");
  if (v == nullptr) return std::nullopt;
  if (v->IsString()) {
    if (v->GetStringLength() == 0) return bad_request("stop cannot contain an empty string.");
    out.stop = {std::string(v->GetString(), v->GetStringLength())};
    return std::nullopt;
  }
  if (!v->IsArray()) return type_error("stop", "a string or a list of strings");
  for (const Value& s : v->GetArray()) {
    if (!s.IsString()) return type_error("stop", "a string or a list of strings");
    out.stop.emplace_back(s.GetString(), s.GetStringLength());
  }
  if (std::any_of(out.stop.begin(), out.stop.end(), [](const auto& s) { return s.empty(); }))
    return bad_request("stop cannot contain an empty string.");
  return std::nullopt;
}

parse_error read_stop_token_ids(const Value& body, actors::generation_request& out) {
  const Value* v = member(body, "stop_token_ids");
  if (v == nullptr) return std::nullopt;
  if (!v->IsArray()) return type_error("stop_token_ids", "a list of integers");
  for (const Value& id : v->GetArray()) {
    auto value = as_integer(id);
    if (!value) return type_error("stop_token_ids", "a list of integers");
    // An id outside int32 can never be generated: it can never match either.
    if (*value >= 0 && *value <= std::numeric_limits<int32_t>::max())
      out.stop_token_ids.push_back(static_cast<int32_t>(*value));
  }
  return std::nullopt;
}

// Reads a number member; `valid` says whether the value is in range.
parse_error read_number(const Value& body, const char* key, float& out, bool (*valid)(double),
                        const char* range_message) {
  const Value* v = member(body, key);
  if (v == nullptr) return std::nullopt;
  if (!v->IsNumber()) return type_error(key, "a number");
  const double value = v->GetDouble();
  if (!valid(value))
    return bad_request(fmt::format("{} {}, got {}.", key, range_message, py_float(value)));
  out = static_cast<float>(value);
  return std::nullopt;
}

parse_error read_penalties_min_p(const Value& body, runtime::sampling_params& out) {
  auto within_two = [](double v) { return v >= -2.0 && v <= 2.0; };
  auto positive = [](double v) { return v > 0.0; };
  auto unit = [](double v) { return v >= 0.0 && v <= 1.0; };
  parse_error e =
      read_number(body, "presence_penalty", out.presence_penalty, within_two, "must be in [-2, 2]");
  if (!e) {
    e = read_number(body, "frequency_penalty", out.frequency_penalty, within_two,
                    "must be in [-2, 2]");
  }
  if (!e) {
    e = read_number(body, "repetition_penalty", out.repetition_penalty, positive,
                    "must be greater than zero");
  }
  if (!e) e = read_number(body, "min_p", out.min_p, unit, "must be in [0, 1]");
  return e;
}

// "123" (surrounding whitespace allowed) -> 123; nullopt for anything else (vLLM does int(key)).
std::optional<int64_t> token_id_key(std::string_view key) {
  const auto first = key.find_first_not_of(" \t\n");
  if (first == std::string_view::npos) return std::nullopt;
  const std::string digits(key.substr(first, key.find_last_not_of(" \t\n") + 1 - first));
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(digits.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || std::isspace(static_cast<unsigned char>(digits[0])))
    return std::nullopt;
  return value;
}

// Python's repr of a list of strings, for vLLM's bad_words message.
std::string py_string_list(const std::vector<std::string>& words) {
  std::string out = "[";
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += ", ";
    out += '\'';
    for (char c : words[i]) {
      if (c == '\\' || c == '\'') out += '\\';
      out += c;
    }
    out += '\'';
  }
  return out + "]";
}

parse_error read_logit_bias(const Value& body, const completion_limits& limits,
                            runtime::sampling_params& out) {
  const Value* v = member(body, "logit_bias");
  if (v == nullptr || (v->IsObject() && v->MemberCount() == 0)) return std::nullopt;
  if (!v->IsObject()) return type_error("logit_bias", "an object of token ids to numbers");
  std::map<int32_t, float> bias;
  std::vector<int64_t> out_of_vocab;
  std::vector<std::string> not_ids;
  for (const auto& entry : v->GetObject()) {
    std::string_view key(entry.name.GetString(), entry.name.GetStringLength());
    auto id = token_id_key(key);
    if (!id) {
      not_ids.emplace_back(key);
      continue;
    }
    if (!entry.value.IsNumber())
      return type_error("logit_bias", "an object of token ids to numbers");
    const int64_t vocab = limits.vocab_size > 0 ? limits.vocab_size : int64_t{1} << 31;
    if (*id < 0 || *id >= vocab) {
      out_of_vocab.push_back(*id);
      continue;
    }
    bias[static_cast<int32_t>(*id)] =
        std::clamp(static_cast<float>(entry.value.GetDouble()), -100.0f, 100.0f);
  }
  if (!not_ids.empty()) {
    const std::string keys = py_string_list(not_ids);
    return validation_error(fmt::format("logit_bias contains key(s) that cannot be converted to "
                                        "integer token IDs: {}",
                                        keys),
                            "logit_bias", keys);
  }
  if (!out_of_vocab.empty()) {
    const std::string ids = fmt::format("[{}]", fmt::join(out_of_vocab, ", "));
    return validation_error(fmt::format("token_id(s) {} in logit_bias contain out-of-vocab token "
                                        "ids. Vocabulary size: {}",
                                        ids, limits.vocab_size),
                            "logit_bias", ids);
  }
  out.logit_bias.assign(bias.begin(), bias.end());
  return std::nullopt;
}

parse_error read_min_tokens(const Value& body, const completion_request& request,
                            runtime::sampling_params& out) {
  const Value* v = member(body, "min_tokens");
  if (v == nullptr) return std::nullopt;
  auto value = as_integer(*v);
  if (!value) return type_error("min_tokens", "an integer");
  if (*value < 0) {
    return bad_request(
        fmt::format("min_tokens must be greater than or equal to 0, got {}.", *value));
  }
  const int32_t max_tokens = request.generation.max_tokens;
  if ((max_tokens > 0 || request.zero_max_tokens) && *value > max_tokens) {
    return bad_request(fmt::format(
        "min_tokens must be less than or equal to max_tokens={}, got {}.", max_tokens, *value));
  }
  out.min_tokens =
      static_cast<int32_t>(std::min<int64_t>(*value, std::numeric_limits<int32_t>::max()));
  return std::nullopt;
}

// vLLM's allowed_token_ids: a non-empty list of in-vocabulary ids (kept sorted, each once).
parse_error read_allowed_token_ids(const Value& body, const completion_limits& limits,
                                   runtime::sampling_params& out) {
  const Value* v = member(body, "allowed_token_ids");
  if (v == nullptr) return std::nullopt;
  if (!v->IsArray()) return type_error("allowed_token_ids", "a list of integers");
  if (v->Empty()) {
    return bad_request("allowed_token_ids is not None and empty!", "allowed_token_ids");
  }
  const int64_t vocab = limits.vocab_size > 0 ? limits.vocab_size : int64_t{1} << 31;
  auto& ids = out.allowed_token_ids;
  for (const Value& id : v->GetArray()) {
    auto value = as_integer(id);
    if (!value) return type_error("allowed_token_ids", "a list of integers");
    if (*value < 0 || *value >= vocab) {
      return bad_request("allowed_token_ids contains out-of-vocab token id!", "allowed_token_ids");
    }
    ids.push_back(static_cast<int32_t>(*value));
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return std::nullopt;
}

// vLLM's bad_words: a list of non-empty strings, each kept once (tokenized by the caller:
// tokenize_bad_words).
parse_error read_bad_words(const Value& body, completion_request& out) {
  const Value* v = member(body, "bad_words");
  if (v == nullptr) return std::nullopt;
  if (!v->IsArray()) return type_error("bad_words", "a list of strings");
  std::vector<std::string> words;
  for (const Value& w : v->GetArray()) {
    if (!w.IsString()) return type_error("bad_words", "a list of strings");
    words.emplace_back(w.GetString(), w.GetStringLength());
  }
  if (std::any_of(words.begin(), words.end(), [](const auto& w) { return w.empty(); })) {
    return bad_request(fmt::format("bad_words cannot contain an empty string. Got bad_words={}",
                                   py_string_list(words)));
  }
  for (auto& w : words)
    if (std::find(out.bad_words.begin(), out.bad_words.end(), w) == out.bad_words.end())
      out.bad_words.push_back(std::move(w));
  return std::nullopt;
}

// vLLM's default sampling params from generation_config.json: used where the request is silent.
void apply_defaults(const Value& body, const runtime::sampling_defaults& d,
                    completion_request& out) {
  auto& s = out.generation.sampling;
  auto unset = [&](const char* key) { return member(body, key) == nullptr; };
  if (d.temperature && unset("temperature")) s.temperature = *d.temperature;
  if (d.top_p && unset("top_p")) s.top_p = *d.top_p;
  if (d.top_k && unset("top_k")) s.top_k = *d.top_k;
  if (d.min_p && unset("min_p")) s.min_p = *d.min_p;
  if (d.repetition_penalty && unset("repetition_penalty"))
    s.repetition_penalty = *d.repetition_penalty;
  // max_new_tokens caps max_tokens (vLLM takes the smallest of the limits).
  if (d.max_tokens && *d.max_tokens > 0 && !out.zero_max_tokens) {
    auto& max_tokens = out.generation.max_tokens;
    max_tokens = max_tokens > 0 ? std::min(max_tokens, *d.max_tokens) : *d.max_tokens;
  }
  if (!out.generation.ignore_eos) {
    auto& stops = out.generation.stop_token_ids;
    for (int32_t id : d.eos_token_ids)
      if (std::find(stops.begin(), stops.end(), id) == stops.end()) stops.push_back(id);
  }
}

}  // namespace

std::variant<std::vector<std::vector<int32_t>>, api_error> tokenize_bad_words(
    const std::vector<std::string>& words, const runtime::tokenizer& tokenizer) {
  std::vector<std::vector<int32_t>> ids;
  for (const auto& word : words) {
    const std::string stripped(
        word.begin() + static_cast<std::ptrdiff_t>(
                           std::min(word.find_first_not_of(" \t\n\r\f\v"), word.size())),
        word.end());
    // The word at the start of a text, then after a space: kept when that is a new first token
    // of as many tokens (vLLM's update_from_tokenizer).
    for (const bool space : {false, true}) {
      auto tokens = tokenizer.encode(space ? " " + stripped : stripped, false);
      if (tokens.empty()) {
        if (space) continue;
        return api_error{400, "bad_words entries must tokenize to at least one token.",
                         "bad_words"};
      }
      if (space && (tokens[0] == ids.back()[0] || tokens.size() != ids.back().size())) continue;
      ids.push_back(std::move(tokens));
      if (ids.size() > max_bad_words) {
        return api_error{400,
                         fmt::format("Too many bad words after tokenization: {}. The max number "
                                     "is {}.",
                                     ids.size(), max_bad_words),
                         "bad_words"};
      }
    }
  }
  return ids;
}

std::string py_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  return python_float_repr(value);
}

parse_error read_sampling_fields(const Value& body, const completion_limits& limits,
                                 completion_request& out) {
  auto& generation = out.generation;
  parse_error e = read_stop(body, generation);
  if (!e) e = read_stop_token_ids(body, generation);
  if (!e) e = read_bool(body, "include_stop_str_in_output", generation.include_stop_str_in_output);
  if (!e) e = read_bool(body, "skip_special_tokens", generation.skip_special_tokens);
  if (!e) e = read_penalties_min_p(body, generation.sampling);
  if (!e) e = read_logit_bias(body, limits, generation.sampling);
  if (!e) e = read_allowed_token_ids(body, limits, generation.sampling);
  if (!e) e = read_bad_words(body, out);
  if (!e) e = read_min_tokens(body, out, generation.sampling);
  if (!e) e = read_structured_outputs(body, limits.structured_outputs, generation.sampling);
  if (!e) apply_defaults(body, limits.defaults, out);
  return e;
}

}  // namespace troupe::http
