#include "http/request_metrics.hpp"

#include <cassert>
#include <cmath>
#include <string_view>

#include "http/json_write.hpp"

namespace troupe::http {
namespace {

void write_field(json_writer& w, std::string_view key, const std::optional<double>& value,
                 bool omit_nulls) {
  // A non-finite value is never expected; as null it keeps the document valid.
  const bool known = value && std::isfinite(*value);
  if (!known && omit_nulls) return;
  write_key(w, key);
  if (known) {
    w.Double(*value);
  } else {
    w.Null();
  }
}

// `object` with `"metrics": value` as its last member.
std::string append_metrics(std::string object, std::string_view value) {
  assert(!object.empty() && object.back() == '}');
  object.pop_back();
  if (object.size() > 1) object += ',';  // "{" alone: the object had no member
  object += "\"metrics\":";
  object += value;
  object += '}';
  return object;
}

}  // namespace

request_metrics make_request_metrics(const std::optional<actors::request_timing>& timing,
                                     int32_t num_generation_tokens) {
  request_metrics m;
  if (!timing) return m;
  // request_timing holds vLLM's intervals in seconds: prefill = scheduled -> first token,
  // decode = first -> last token, inference = scheduled -> last token.
  m.time_to_first_token_ms = timing->prefill * 1000;
  m.generation_time_ms = timing->decode * 1000;
  m.queue_time_ms = timing->queue * 1000;
  if (num_generation_tokens > 1) {
    m.mean_itl_ms = timing->decode / (num_generation_tokens - 1) * 1000;
  }
  const double inference_ms = timing->inference * 1000;
  if (inference_ms > 0) m.tokens_per_second = num_generation_tokens / inference_ms * 1000;
  return m;
}

std::string request_metrics_json(const request_metrics& metrics, bool omit_nulls) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_field(w, "time_to_first_token_ms", metrics.time_to_first_token_ms, omit_nulls);
  write_field(w, "generation_time_ms", metrics.generation_time_ms, omit_nulls);
  write_field(w, "queue_time_ms", metrics.queue_time_ms, omit_nulls);
  write_field(w, "mean_itl_ms", metrics.mean_itl_ms, omit_nulls);
  write_field(w, "tokens_per_second", metrics.tokens_per_second, omit_nulls);
  w.EndObject();
  return out.GetString();
}

std::string with_body_metrics(std::string body, const response_timing& response) {
  if (!response.enabled) return append_metrics(std::move(body), "null");
  // With n > 1 the engine's timing is one choice's: vLLM reports none rather than a wrong one.
  if (response.num_choices != 1) return append_metrics(std::move(body), "null");
  const auto metrics = make_request_metrics(response.timing, response.num_generation_tokens);
  return append_metrics(std::move(body), request_metrics_json(metrics, /*omit_nulls=*/false));
}

std::string with_usage_chunk_metrics(std::string chunk, const response_timing& response) {
  if (!response.enabled || response.num_choices != 1) return chunk;
  const auto metrics = make_request_metrics(response.timing, response.num_generation_tokens);
  return append_metrics(std::move(chunk), request_metrics_json(metrics, /*omit_nulls=*/true));
}

}  // namespace troupe::http
