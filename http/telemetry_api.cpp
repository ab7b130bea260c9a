#include "http/telemetry_api.hpp"

#include <chrono>

#include <rapidjson/document.h>

#include "http/json_write.hpp"

namespace troupe::http {
namespace {

void write_model(json_writer& w, const actors::model_info& info) {
  w.StartObject();
  write_key(w, "name");
  write_string(w, info.served_model_name);
  write_key(w, "max_model_len");
  w.Int(info.max_model_len);
  write_key(w, "created");
  w.Int64(info.created);
  w.EndObject();
}

void write_engine(json_writer& w, const actors::engine_stats& s) {
  w.StartObject();
  write_key(w, "num_running");
  w.Int(s.num_running);
  write_key(w, "num_waiting");
  w.Int(s.num_waiting);
  write_key(w, "num_live_requests");
  w.Int(s.num_live_requests);
  write_key(w, "num_kv_blocks_total");
  w.Int(s.num_kv_blocks_total);
  write_key(w, "num_kv_blocks_used");
  w.Int(s.num_kv_blocks_used);
  write_key(w, "num_kv_blocks_free");
  w.Int(s.num_kv_blocks_free);
  write_key(w, "num_kv_blocks_cached");
  w.Int(s.num_kv_blocks_cached);
  write_key(w, "num_preemptions");
  w.Int64(s.num_preemptions);
  write_key(w, "num_steps");
  w.Int64(s.num_steps);
  write_key(w, "prefix_caching");
  w.Bool(s.prefix_caching);
  write_key(w, "num_prefix_cache_queries");
  w.Int64(s.num_prefix_cache_queries);
  write_key(w, "num_prefix_cache_hits");
  w.Int64(s.num_prefix_cache_hits);
  w.EndObject();
}

// The registry's families, re-emitted through the writer so the body is one valid document
// whatever the snapshot's spelling.
void write_families(json_writer& w, const telemetry::registry& registry) {
  rapidjson::Document snapshot;
  const std::string text = registry.json_snapshot();
  snapshot.Parse(text.data(), text.size());
  if (snapshot.HasParseError() || !snapshot.IsObject() || !snapshot.HasMember("metrics") ||
      !snapshot["metrics"].IsArray()) {
    w.StartArray();  // a registry bug; the other fields are still useful
    w.EndArray();
    return;
  }
  snapshot["metrics"].Accept(w);
}

}  // namespace

std::string metrics_text(const actors::engine& engine) {
  return engine.metrics().prometheus_text();
}

std::string telemetry_json(const actors::engine& engine, double timestamp) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "object");
  w.String("telemetry");
  write_key(w, "version");
  w.Int(1);
  write_key(w, "timestamp");
  w.Double(timestamp);
  write_key(w, "model");
  write_model(w, engine.info());
  write_key(w, "engine");
  write_engine(w, engine.stats());
  write_key(w, "metrics");
  write_families(w, engine.metrics());
  w.EndObject();
  return out.GetString();
}

double unix_time_now() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace troupe::http
