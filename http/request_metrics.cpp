#include "http/request_metrics.hpp"

#include <cassert>
#include <cmath>

#include "http/json_write.hpp"

namespace troupe::http {
namespace {

void write_seconds(json_writer& w, std::string_view key, double seconds) {
  write_key(w, key);
  if (std::isfinite(seconds)) {
    w.Double(seconds);
  } else {
    w.Null();  // never expected; keeps the document valid
  }
}

}  // namespace

std::string request_metrics_json(const actors::request_timing& timing) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_seconds(w, "queue_time", timing.queue);
  write_seconds(w, "prefill_time", timing.prefill);
  write_seconds(w, "decode_time", timing.decode);
  write_seconds(w, "inference_time", timing.inference);
  write_seconds(w, "time_to_first_token", timing.ttft);
  write_seconds(w, "e2e_latency", timing.e2e);
  w.EndObject();
  return out.GetString();
}

std::string with_request_metrics(std::string object, const actors::request_timing& timing) {
  assert(!object.empty() && object.back() == '}');
  object.pop_back();
  if (object.size() > 1) object += ',';  // "{" alone: the object had no member
  object += "\"metrics\":";
  object += request_metrics_json(timing);
  object += '}';
  return object;
}

}  // namespace troupe::http
