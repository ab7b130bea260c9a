// The JSON result, key for key as benchmark_serving writes it (see report.hpp).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

#include "loadgen/report.hpp"

namespace troupe::loadgen {
namespace {

// Python's json.dump writes inf/nan as Infinity/NaN; so does this writer.
using json_writer = rapidjson::Writer<rapidjson::StringBuffer, rapidjson::UTF8<>, rapidjson::UTF8<>,
                                      rapidjson::CrtAllocator, rapidjson::kWriteNanAndInfFlag>;

void key(json_writer& w, const std::string& k) {
  w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
}
void str(json_writer& w, const std::string& v) {
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

template <class T, class F>
void array_of(json_writer& w, const std::string& k, const std::vector<T>& items, F write_one) {
  key(w, k);
  w.StartArray();
  for (const auto& item : items)
    write_one(item);
  w.EndArray();
}

void setup_keys(json_writer& w, const run_description& run, const std::string& date) {
  key(w, "date"), str(w, date);
  key(w, "endpoint_type"), str(w, run.backend);
  key(w, "backend"), str(w, run.backend);
  key(w, "label");
  run.label.empty() ? (void)w.Null() : str(w, run.label);
  key(w, "model_id"), str(w, run.model_id);
  key(w, "tokenizer_id"), str(w, run.tokenizer_id);
  key(w, "num_prompts"), w.Int64(run.num_prompts);
  for (const auto& [k, v] : run.metadata)
    key(w, k), str(w, v);
  key(w, "request_rate");
  std::isinf(run.request_rate) ? (void)str(w, "inf") : (void)w.Double(run.request_rate);
  key(w, "burstiness"), w.Double(run.burstiness);
  key(w, "max_concurrency");
  run.max_concurrency ? (void)w.Int(*run.max_concurrency) : (void)w.Null();
  if (!run.ramp_up_strategy.empty()) {
    key(w, "ramp_up_strategy"), str(w, run.ramp_up_strategy);
    key(w, "ramp_up_start_rps"), w.Double(run.ramp_up_start_rps.value_or(0));
    key(w, "ramp_up_end_rps"), w.Double(run.ramp_up_end_rps.value_or(0));
  }
}

void totals_keys(json_writer& w, const run_description& run, const benchmark_metrics& m) {
  key(w, "duration"), w.Double(run.duration_s);
  key(w, "completed"), w.Int64(m.completed);
  key(w, "failed"), w.Int64(m.failed);
  key(w, "total_input_tokens"), w.Int64(m.total_input);
  key(w, "total_output_tokens"), w.Int64(m.total_output);
  key(w, "request_throughput"), w.Double(m.request_throughput);
  // The standalone benchmarks/benchmark_serving.py (vLLM, early 2025) spells this key with a
  // colon, "request_goodput:"; `vllm bench serve` fixed it. Both are written so a script
  // written against either reads our file (tests/data/loadgen/benchmark_serving_result.json).
  for (const char* goodput_key : {"request_goodput", "request_goodput:"}) {
    key(w, goodput_key);
    run.has_goodput ? (void)w.Double(m.request_goodput) : (void)w.Null();
  }
  key(w, "output_throughput"), w.Double(m.output_throughput);
  key(w, "total_token_throughput"), w.Double(m.total_token_throughput);
}

void per_request_keys(json_writer& w, const benchmark_metrics& m,
                      const std::vector<request_record>& records, bool detailed) {
  auto dbl = [&](double x) { w.Double(x); };
  std::vector<double> latencies, starts, queues, ttfts;
  for (const auto& r : records) {
    latencies.push_back(r.latency), starts.push_back(r.start_time);
    queues.push_back(r.client_queue_time), ttfts.push_back(r.ttft);
  }
  if (detailed) {
    array_of(w, "input_lens", records, [&](const request_record& r) { w.Int(r.prompt_len); });
    array_of(w, "output_lens", m.output_lens, [&](int32_t n) { w.Int(n); });
    array_of(w, "ttfts", ttfts, dbl);
    array_of(w, "itls", records, [&](const request_record& r) {
      w.StartArray();
      for (double x : r.itl)
        w.Double(x);
      w.EndArray();
    });
  }
  array_of(w, "latencies", latencies, dbl);
  if (detailed) array_of(w, "start_times", starts, dbl);
  array_of(w, "queue_times", queues, dbl);
  if (detailed) {
    array_of(w, "generated_texts", records,
             [&](const request_record& r) { str(w, r.generated_text); });
    array_of(w, "errors", records, [&](const request_record& r) { str(w, r.error); });
  }
  key(w, "max_output_tokens_per_s"), w.Double(m.max_output_tokens_per_s);
  key(w, "max_concurrent_requests"), w.Int64(m.max_concurrent_requests);
  key(w, "rtfx"), w.Double(0.0);
}

void summary_keys(json_writer& w, const std::string& name, const summary& s) {
  key(w, "mean_" + name + "_ms"), w.Double(s.mean);
  key(w, "median_" + name + "_ms"), w.Double(s.median);
  key(w, "std_" + name + "_ms"), w.Double(s.std);
  for (const auto& [p, v] : s.percentiles) {
    std::string k = "p";  // appended piecewise: GCC 12 flags `"p" + ...` (-Wrestrict)
    k.append(percentile_word(p)).append("_").append(name).append("_ms");
    key(w, k), w.Double(v);
  }
}

void metric_keys(json_writer& w, const run_description& run, const benchmark_metrics& m) {
  for (const auto& k : run.percentile_metrics) {
    if (k == "ttft") summary_keys(w, k, m.ttft_ms);
    if (k == "tpot") summary_keys(w, k, m.tpot_ms);
    if (k == "itl") summary_keys(w, k, m.itl_ms);
    if (k == "e2el") summary_keys(w, k, m.e2el_ms);
  }
  if (run.max_concurrency) summary_keys(w, "client_queue_time", m.client_queue_time_ms);
  key(w, "troupe_achieved_send_rate"), w.Double(m.achieved_send_rate);
  const auto& late = m.send_lateness_ms.percentiles;
  key(w, "troupe_p50_send_lateness_ms"), w.Double(late[0].second);
  key(w, "troupe_p99_send_lateness_ms"), w.Double(late[1].second);
  key(w, "troupe_max_send_lateness_ms"), w.Double(late[2].second);
  key(w, "troupe_num_connections"), w.Int64(m.num_connections);
  key(w, "troupe_client_cpu_s"), w.Double(m.client_cpu_s);
  key(w, "troupe_client_cpu_us_per_token"), w.Double(m.client_cpu_us_per_token);
  std::string bottleneck;  // the reasons joined by "; "; "" when the client kept up
  for (const auto& reason : m.client_bottleneck)
    bottleneck += (bottleneck.empty() ? "" : "; ") + reason;
  key(w, "troupe_client_bottleneck"), str(w, bottleneck);
}

// --telemetry: {"duration_s", "kinds": [{"kind", "actors", "messages", ...}, ...]}
void telemetry_keys(json_writer& w, const client_telemetry& t) {
  key(w, "troupe_telemetry");
  w.StartObject();
  key(w, "duration_s"), w.Double(t.duration_s);
  array_of(w, "kinds", t.kinds, [&](const actor_kind_figures& k) {
    w.StartObject();
    key(w, "kind"), str(w, k.kind);
    key(w, "actors"), w.Int64(k.num_actors);
    key(w, "messages"), w.Int64(k.messages);
    key(w, "mailbox_depth_peak"), w.Int64(k.mailbox_depth_peak);
    key(w, "mean_mailbox_wait_ms"), w.Double(k.mean_wait_ms);
    key(w, "p99_mailbox_wait_ms"), w.Double(k.p99_wait_ms);
    key(w, "busy_s"), w.Double(k.busy_s);
    key(w, "busy_fraction"), w.Double(k.busy_fraction);
    key(w, "busy_is_cpu_time"), w.Bool(k.cpu_timed);
    w.EndObject();
  });
  w.EndObject();
}

}  // namespace

std::string result_json(const run_description& run, const benchmark_metrics& m,
                        const std::vector<request_record>& records, const std::string& date,
                        bool detailed) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  setup_keys(w, run, date);
  totals_keys(w, run, m);
  per_request_keys(w, m, records, detailed);
  metric_keys(w, run, m);
  if (m.telemetry) telemetry_keys(w, *m.telemetry);
  w.EndObject();
  return buffer.GetString();
}

}  // namespace troupe::loadgen
