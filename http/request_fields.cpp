#include "http/request_fields.hpp"

#include "http/python_json.hpp"
#include "http/sampling_fields.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace troupe::http {

const Value* member(const Value& object, const char* key) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string_view view(const Value& s) {
  return std::string_view(s.GetString(), s.GetStringLength());
}

std::string to_json(const Value& v) {
  rapidjson::StringBuffer out;
  rapidjson::Writer<rapidjson::StringBuffer> w(out);
  v.Accept(w);
  return std::string(out.GetString(), out.GetSize());
}

Value string_value(std::string_view s, rapidjson::Document::AllocatorType& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}

std::optional<int64_t> as_integer(const Value& v) {
  if (v.IsInt64()) return v.GetInt64();
  if (v.IsDouble()) {
    double d = v.GetDouble();
    if (std::trunc(d) == d && std::abs(d) < 9.0e18) return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

api_error type_error(const char* key, const char* expected) {
  return bad_request(fmt::format("`{}` must be {}.", key, expected), key);
}

parse_error read_bool(const Value& body, const char* key, bool& out) {
  const Value* v = member(body, key);
  if (v == nullptr) return std::nullopt;
  if (!v->IsBool()) return type_error(key, "a boolean");
  out = v->GetBool();
  return std::nullopt;
}

parse_error check_json_depth(std::string_view body, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return bad_request(fmt::format("The JSON body nests deeper than {} levels.", max_depth));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::nullopt;
}

parse_error parse_json_object(std::string_view body, rapidjson::Document& doc) {
  if (auto e = check_json_depth(body)) return e;
  doc.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseIterativeFlag>(body.data(),
                                                                                    body.size());
  if (doc.HasParseError()) {
    return bad_request(fmt::format("Invalid JSON body at offset {}: {}", doc.GetErrorOffset(),
                                   rapidjson::GetParseError_En(doc.GetParseError())));
  }
  if (!doc.IsObject()) return bad_request("The request body must be a JSON object.");
  return std::nullopt;
}

namespace {

constexpr int64_t max_choices = 128;  // `n` at most

// -- parameters troupe does not implement: accepted only at their neutral value --

bool never_neutral(const Value&) {
  return false;
}
bool is_falsy(const Value& v) {
  return (v.IsBool() && !v.GetBool()) || (v.IsString() && v.GetStringLength() == 0) ||
         (v.IsArray() && v.Empty()) || (v.IsObject() && v.MemberCount() == 0);
}
struct unsupported_param {
  const char* key;
  bool (*neutral)(const Value&);
};

constexpr unsupported_param unsupported_params[] = {
    {"suffix", is_falsy},
    {"prompt_embeds", never_neutral},
};

parse_error check_unsupported(const Value& body) {
  for (const auto& param : unsupported_params) {
    const Value* v = member(body, param.key);
    if (v != nullptr && !v->IsNull() && !param.neutral(*v)) {  // null: the default
      return bad_request(
          fmt::format("`{}` is not supported by troupe yet; leave it unset or at its default.",
                      param.key),
          param.key);
    }
  }
  return std::nullopt;
}

// vLLM's thinking_token_budget (/v1/messages' thinking {"type": "enabled"} sets it): a
// non-negative integer, or -1 for none; vLLM needs a reasoning parser for it, and troupe does not
// force the end of the reasoning yet.
parse_error check_thinking_budget(const Value& body, const completion_limits& limits) {
  const Value* v = member(body, "thinking_token_budget");
  if (v == nullptr) return std::nullopt;
  if (!v->IsInt64() || v->GetInt64() < -1) {
    std::string value = v->IsBool()     ? (v->GetBool() ? "True" : "False")
                        : v->IsInt64()  ? std::to_string(v->GetInt64())
                        : v->IsNumber() ? python_float_repr(v->GetDouble())
                                        : std::string();
    return validation_error(
        "`thinking_token_budget` must be a non-negative integer or -1 for unlimited.",
        "thinking_token_budget", value);
  }
  if (v->GetInt64() == -1) return std::nullopt;
  if (!limits.reasoning_parser) {
    return bad_request(
        "thinking_token_budget is set but reasoning_config is not configured. Please set "
        "--reasoning-parser and/or --reasoning-config to use thinking_token_budget.");
  }
  return bad_request(
      "`thinking_token_budget` is not supported by troupe yet; leave it unset or at -1.",
      "thinking_token_budget");
}

// -- supported parameters --

parse_error read_model(const Value& body, const completion_limits& limits) {
  const Value* model = member(body, "model");
  if (model == nullptr) return std::nullopt;  // the served model
  if (!model->IsString()) return type_error("model", "a string");
  std::string_view name(model->GetString(), model->GetStringLength());
  if (name == limits.served_model_name) return std::nullopt;
  return api_error{404,
                   fmt::format("The model `{}` does not exist. Valid aliases: {}.", name,
                               limits.served_model_name),
                   "model"};
}

parse_error read_max_tokens(const Value& body, completion_request& out) {
  auto it = body.FindMember("max_tokens");
  if (it == body.MemberEnd()) return std::nullopt;  // default 16
  if (it->value.IsNull()) {
    out.generation.max_tokens = 0;  // up to the model's length
    return std::nullopt;
  }
  std::optional<int64_t> value = as_integer(it->value);
  if (!value) return type_error("max_tokens", "an integer or null");
  // 0: only an echo may ask for it (parse_completion_request), vLLM's SamplingParams refuses it.
  if (*value < 0) return max_tokens_error(*value);
  out.zero_max_tokens = *value == 0;
  out.generation.max_tokens =
      static_cast<int32_t>(std::min<int64_t>(*value, std::numeric_limits<int32_t>::max()));
  return std::nullopt;
}

parse_error read_temperature_top_p(const Value& body, runtime::sampling_params& out) {
  if (const Value* v = member(body, "temperature")) {
    if (!v->IsNumber()) return type_error("temperature", "a number");
    const double t = v->GetDouble();
    if (t < 0 || t > 2) {
      const std::string value = python_float_repr(t);
      return validation_error(fmt::format("temperature must be {}, got {}.",
                                          t < 0 ? "non-negative" : "in [0, 2]", value),
                              "temperature", value);
    }
    out.temperature = static_cast<float>(v->GetDouble());
  }
  if (const Value* v = member(body, "top_p")) {
    if (!v->IsNumber()) return type_error("top_p", "a number");
    double top_p = v->GetDouble();
    if (!(top_p > 0 && top_p <= 1)) {
      const std::string value = python_float_repr(top_p);
      return validation_error(fmt::format("top_p must be in (0, 1], got {}.", value), "top_p",
                              value);
    }
    out.top_p = static_cast<float>(top_p);
  }
  return std::nullopt;
}

parse_error read_top_k_seed(const Value& body, runtime::sampling_params& out,
                            uint64_t default_seed) {
  if (const Value* v = member(body, "top_k")) {
    std::optional<int64_t> top_k = as_integer(*v);
    if (!top_k) return type_error("top_k", "an integer");
    // vLLM before 0.8 disables with -1, later versions with 0: both mean "all tokens".
    if (*top_k < -1 || *top_k > std::numeric_limits<int32_t>::max()) {
      return bad_request(fmt::format("top_k must be 0 (disable), or at least 1, got {}.", *top_k));
    }
    out.top_k = static_cast<int32_t>(*top_k);
  }
  out.seed = default_seed;
  if (const Value* v = member(body, "seed")) {
    if (v->IsUint64()) {
      out.seed = v->GetUint64();
    } else if (v->IsInt64()) {
      out.seed = static_cast<uint64_t>(v->GetInt64());
    } else {
      return type_error("seed", "an integer");
    }
  }
  return std::nullopt;
}

parse_error read_stream(const Value& body, completion_request& out) {
  if (auto e = read_bool(body, "stream", out.stream)) return e;
  const Value* options = member(body, "stream_options");
  if (options == nullptr) return std::nullopt;
  if (!options->IsObject()) return type_error("stream_options", "an object");
  if (!out.stream) {
    return validation_error("Stream options can only be defined when `stream=True`.",
                            "stream_options");
  }
  if (auto e = read_bool(*options, "continuous_usage_stats", out.continuous_usage)) return e;
  if (auto e = read_bool(*options, "include_usage", out.include_usage)) return e;
  out.continuous_usage = out.continuous_usage && out.include_usage;  // vLLM: only with usage
  return std::nullopt;
}

parse_error read_n_and_flags(const Value& body, completion_request& out) {
  if (const Value* v = member(body, "n")) {
    std::optional<int64_t> n = as_integer(*v);
    if (!n) return type_error("n", "an integer");
    if (*n < 1) return bad_request(fmt::format("n must be at least 1, got {}.", *n));
    // vLLM bounds n by nothing but memory; troupe runs each choice as a request, so a cap keeps
    // one request from flooding the waiting queue.
    if (*n > max_choices) {
      return bad_request(fmt::format("n must be at most {}, got {}.", max_choices, *n), "n");
    }
    out.generation.n = static_cast<int32_t>(*n);
  }
  if (auto e = read_bool(body, "ignore_eos", out.generation.ignore_eos)) return e;
  return read_bool(body, "add_special_tokens", out.generation.add_special_tokens);
}

// vLLM: null is "no salt"; anything else must be a non-empty string.
parse_error read_cache_salt(const Value& body, actors::generation_request& out) {
  const Value* v = member(body, "cache_salt");
  if (v == nullptr) return std::nullopt;
  if (!v->IsString() || v->GetStringLength() == 0) {
    return validation_error("Parameter 'cache_salt' must be a non-empty string if provided.",
                            "cache_salt");
  }
  out.cache_salt.assign(v->GetString(), v->GetStringLength());
  return std::nullopt;
}

// vLLM's priority: any 64-bit integer (lower is served first under --scheduling-policy
// priority; other policies ignore it).
parse_error read_priority(const Value& body, actors::generation_request& out) {
  const Value* v = member(body, "priority");
  if (v == nullptr) return std::nullopt;
  if (v->IsUint64() && !v->IsInt64()) {
    return validation_error(
        fmt::format("priority must be at most {}.", std::numeric_limits<int64_t>::max()),
        "priority");
  }
  std::optional<int64_t> priority = as_integer(*v);
  if (!priority) return type_error("priority", "an integer");
  out.priority = *priority;
  return std::nullopt;
}

}  // namespace

std::optional<int64_t> parse_int_header(std::string_view value) {
  auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!value.empty() && is_space(value.front()))
    value.remove_prefix(1);
  while (!value.empty() && is_space(value.back()))
    value.remove_suffix(1);
  bool negative = false;
  if (!value.empty() && (value.front() == '+' || value.front() == '-')) {
    negative = value.front() == '-';
    value.remove_prefix(1);
  }
  if (value.empty() || value.front() == '_' || value.back() == '_') return std::nullopt;
  // Accumulated negatively, so that INT64_MIN fits.
  int64_t magnitude = 0;
  char previous = 0;
  for (char c : value) {
    if (c == '_') {
      if (previous == '_') return std::nullopt;
    } else if (c >= '0' && c <= '9') {
      if (magnitude < (std::numeric_limits<int64_t>::min() + (c - '0')) / 10) return std::nullopt;
      magnitude = magnitude * 10 - (c - '0');
    } else {
      return std::nullopt;
    }
    previous = c;
  }
  if (negative) return magnitude;
  if (magnitude == std::numeric_limits<int64_t>::min()) return std::nullopt;
  return -magnitude;
}

namespace {

// vLLM's truncate_prompt_tokens (>= -1; null: none) and truncation_side ("left", "right" or
// null: vLLM's default for generative models, left).
parse_error read_truncation(const Value& body, actors::generation_request& out) {
  if (const Value* v = member(body, "truncate_prompt_tokens")) {
    std::optional<int64_t> value = as_integer(*v);
    if (!value) return type_error("truncate_prompt_tokens", "an integer");
    if (*value < -1) {
      return bad_request(fmt::format("truncate_prompt_tokens must be at least -1, got {}.", *value),
                         "truncate_prompt_tokens");
    }
    out.truncate_prompt_tokens =
        static_cast<int32_t>(std::min<int64_t>(*value, std::numeric_limits<int32_t>::max()));
  }
  if (const Value* v = member(body, "truncation_side")) {
    const std::string_view side =
        v->IsString() ? std::string_view(v->GetString(), v->GetStringLength()) : "";
    if (side != "left" && side != "right") {
      return validation_error("`truncation_side` must be either 'left' or 'right'.",
                              "truncation_side", std::string(side));
    }
    out.truncate_left = side == "left";
  }
  return std::nullopt;
}

// vLLM's prompt_logprobs: -1 asks for the whole vocabulary, which its default max_logprobs (20)
// refuses like any count above it. Streams cannot carry them.
parse_error read_prompt_logprobs(const Value& body, const completion_limits& limits,
                                 completion_request& out) {
  const Value* v = member(body, "prompt_logprobs");
  if (v == nullptr) return std::nullopt;
  std::optional<int64_t> value = as_integer(*v);
  if (!value) return bad_request("`prompt_logprobs` must be an integer.", "prompt_logprobs");
  if (out.stream && (*value > 0 || *value == -1)) {
    return validation_error("`prompt_logprobs` are not available when `stream=True`.",
                            "prompt_logprobs");
  }
  if (*value < -1) {
    return validation_error("`prompt_logprobs` must be a positive value or -1.", "prompt_logprobs",
                            std::to_string(*value));
  }
  const int64_t n = *value >= 0 ? *value
                                : (limits.vocab_size > 0 ? limits.vocab_size
                                                         : std::numeric_limits<int32_t>::max());
  if (n > limits.max_logprobs) {
    return validation_error(fmt::format("Requested prompt logprobs of {}, which is greater than "
                                        "max allowed: {}",
                                        n, limits.max_logprobs),
                            "prompt_logprobs", std::to_string(n));
  }
  out.generation.sampling.num_prompt_logprobs = static_cast<int32_t>(n);
  return std::nullopt;
}

}  // namespace

api_error max_tokens_error(int64_t value) {
  return validation_error(fmt::format("max_tokens must be at least 1, got {}.", value),
                          "max_tokens", std::to_string(value));
}

parse_error check_model_length(const completion_request& request, const completion_limits& limits,
                               std::string_view max_tokens_key) {
  if (limits.max_model_len <= 0) return std::nullopt;
  const int32_t max_tokens = request.generation.max_tokens;
  if (max_tokens > limits.max_model_len) {
    return validation_error(fmt::format("{}={} cannot be greater than max_model_len={}. Please "
                                        "request fewer output tokens.",
                                        max_tokens_key, max_tokens, limits.max_model_len),
                            std::string(max_tokens_key), std::to_string(max_tokens));
  }
  const auto& truncate = request.generation.truncate_prompt_tokens;
  if (truncate && *truncate > limits.max_model_len) {
    return validation_error(fmt::format("truncate_prompt_tokens={} cannot be greater than "
                                        "max_model_len = {}. Please request a smaller "
                                        "truncation size.",
                                        *truncate, limits.max_model_len),
                            "truncate_prompt_tokens", std::to_string(*truncate));
  }
  return std::nullopt;
}

namespace {

// vLLM's use_beam_search and length_penalty (a number, read with or without beam search). A beam
// search computes no prompt logprobs: vLLM's BeamSearchParams have none, so they are dropped.
parse_error read_beam_search(const Value& body, completion_request& out) {
  bool beam = false;
  if (auto e = read_bool(body, "use_beam_search", beam)) return e;
  double length_penalty = 1.0;
  if (const Value* v = member(body, "length_penalty")) {
    if (!v->IsNumber()) return type_error("length_penalty", "a number");
    length_penalty = v->GetDouble();
  }
  if (!beam) return std::nullopt;
  actors::generation_request& g = out.generation;
  out.beam_search = actors::beam_search_params{g.n, length_penalty, g.sampling.temperature,
                                               g.include_stop_str_in_output};
  g.sampling.num_prompt_logprobs = -1;
  return std::nullopt;
}

}  // namespace

parse_error check_beam_search(completion_request& request, bool completions) {
  if (!request.beam_search) return std::nullopt;
  if (completions && request.stream)
    return bad_request("Streaming is not currently supported with beam search");
  if (completions && request.echo && request.generation.logprobs >= 0) {
    return validation_error(
        "`echo` with `logprobs` is not supported with beam search because beam search does not "
        "compute prompt logprobs.",
        "echo");
  }
  request.generation.sampling.num_prompt_logprobs = -1;  // an echo's: none with beam search
  return std::nullopt;
}

parse_error read_generation_fields(const Value& body, const completion_limits& limits,
                                   uint64_t default_seed, completion_request& out) {
  parse_error error = read_model(body, limits);
  if (!error) error = check_unsupported(body);
  if (!error) error = check_thinking_budget(body, limits);
  if (!error) error = read_max_tokens(body, out);
  if (!error) error = read_temperature_top_p(body, out.generation.sampling);
  if (!error) error = read_top_k_seed(body, out.generation.sampling, default_seed);
  if (!error) error = read_stream(body, out);
  if (!error) error = read_prompt_logprobs(body, limits, out);
  if (!error) error = read_n_and_flags(body, out);
  if (!error && member(body, "return_tokens_as_token_ids") != nullptr) {
    bool as_ids = false;
    error = read_bool(body, "return_tokens_as_token_ids", as_ids);
    out.return_tokens_as_token_ids = as_ids;
  }
  if (!error) error = read_bool(body, "return_token_ids", out.return_token_ids);
  out.generation.return_prompt_token_ids = out.return_token_ids;
  if (!error) error = read_cache_salt(body, out.generation);
  if (!error) error = read_priority(body, out.generation);
  if (const Value* id = member(body, "request_id"); !error && id != nullptr) {
    if (!id->IsString()) {
      error = type_error("request_id", "a string");
    } else {
      out.request_id.assign(id->GetString(), id->GetStringLength());
    }
  }
  if (!error) error = read_truncation(body, out.generation);
  if (!error) error = read_sampling_fields(body, limits, out);
  if (!error) error = read_beam_search(body, out);
  // vLLM's SamplingParams (after the defaults): greedy choices would all be the same answer.
  // A beam search's n is its width.
  if (!error && out.generation.n > 1 && out.generation.sampling.temperature < 1e-5f &&
      !out.beam_search) {
    error = bad_request(
        fmt::format("n must be 1 when using greedy sampling, got {}.", out.generation.n));
  }
  return error;
}

}  // namespace troupe::http
