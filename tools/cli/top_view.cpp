#include "tools/cli/top_view.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>
#include <rapidjson/document.h>

namespace troupe::cli::top {
namespace {

using json = rapidjson::Value;

double number(const json& v) {
  return v.IsNumber() ? v.GetDouble() : 0.0;
}

// The sum of a counter's or gauge's samples.
double sample_sum(const json& family) {
  double sum = 0;
  for (const auto& s : family["samples"].GetArray()) {
    if (s.IsObject() && s.HasMember("value")) sum += number(s["value"]);
  }
  return sum;
}

// The mean of the samples' values: a fraction each data-parallel engine reports for itself (its
// KV cache usage, every engine's cache the same size).
double sample_mean(const json& family) {
  double sum = 0;
  int n = 0;
  for (const auto& s : family["samples"].GetArray()) {
    if (s.IsObject() && s.HasMember("value")) sum += number(s["value"]), ++n;
  }
  return n > 0 ? sum / n : 0.0;
}

std::string kind_of(const json& sample) {
  if (!sample.HasMember("labels") || !sample["labels"].IsObject()) return "";
  const json& labels = sample["labels"];
  return labels.HasMember("kind") && labels["kind"].IsString() ? labels["kind"].GetString() : "";
}

bool is_actor_family(std::string_view name) {
  for (std::string_view n :
       {"troupe_actors_running", "troupe_actor_mailbox_depth", "troupe_actor_mailbox_depth_peak",
        "troupe_actor_messages_total", "troupe_actor_busy_seconds_total",
        "troupe_actor_handle_seconds", "troupe_actor_mailbox_wait_seconds"}) {
    if (name == n) return true;
  }
  return false;
}

// Adds one per-kind troupe_actor* family to the per-kind totals.
void add_actor_family(std::string_view name, const json& family,
                      std::map<std::string, actor_kind_totals>& kinds) {
  for (const auto& s : family["samples"].GetArray()) {
    if (!s.IsObject()) continue;
    actor_kind_totals& k = kinds[kind_of(s)];
    const double value = s.HasMember("value") ? number(s["value"]) : 0.0;
    const double sum = s.HasMember("sum") ? number(s["sum"]) : 0.0;
    const double count = s.HasMember("count") ? number(s["count"]) : 0.0;
    if (name == "troupe_actors_running") k.running += value;
    if (name == "troupe_actor_mailbox_depth") k.depth += value;
    if (name == "troupe_actor_mailbox_depth_peak") k.depth_peak += value;
    if (name == "troupe_actor_messages_total") k.messages += value;
    if (name == "troupe_actor_busy_seconds_total") k.busy_seconds += value;
    if (name == "troupe_actor_handle_seconds") k.handle_sum += sum, k.handle_count += count;
    if (name == "troupe_actor_mailbox_wait_seconds") k.wait_sum += sum, k.wait_count += count;
  }
}

void add_family(const json& family, telemetry_sample& out) {
  if (!family.IsObject() || !family.HasMember("name") || !family["name"].IsString() ||
      !family.HasMember("samples") || !family["samples"].IsArray()) {
    return;
  }
  const std::string_view name = family["name"].GetString();
  if (is_actor_family(name)) return add_actor_family(name, family, out.kinds);
  const std::pair<std::string_view, std::optional<double> telemetry_sample::*> figures[] = {
      {"vllm:num_requests_running", &telemetry_sample::running},
      {"vllm:num_requests_waiting", &telemetry_sample::waiting},
      {"vllm:prefix_cache_queries_total", &telemetry_sample::prefix_queries},
      {"vllm:prefix_cache_hits_total", &telemetry_sample::prefix_hits},
      {"vllm:prompt_tokens_total", &telemetry_sample::prompt_tokens},
      {"vllm:generation_tokens_total", &telemetry_sample::generation_tokens},
      {"troupe_actor_system_running_actors", &telemetry_sample::running_actors},
      {"troupe_actor_system_scheduler_threads", &telemetry_sample::scheduler_threads},
  };
  for (const auto& [metric, field] : figures) {
    if (name == metric) out.*field = sample_sum(family);
  }
  if (name == "vllm:kv_cache_usage_perc") out.kv_usage = sample_mean(family);
}

// The engine block's counts, for the figures whose vllm: metric is absent.
void fill_from_engine(const json& engine, telemetry_sample& out) {
  auto get = [&](const char* key) -> std::optional<double> {
    if (!engine.HasMember(key) || !engine[key].IsNumber()) return std::nullopt;
    return engine[key].GetDouble();
  };
  if (!out.running) out.running = get("num_running");
  if (!out.waiting) out.waiting = get("num_waiting");
  if (!out.prefix_queries) out.prefix_queries = get("num_prefix_cache_queries");
  if (!out.prefix_hits) out.prefix_hits = get("num_prefix_cache_hits");
  const auto used = get("num_kv_blocks_used"), total = get("num_kv_blocks_total");
  if (!out.kv_usage && used && total && *total > 0) out.kv_usage = *used / *total;
}

}  // namespace

result<telemetry_sample> parse_telemetry(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return error{"the telemetry is not a JSON object"};
  if (!doc.HasMember("metrics") || !doc["metrics"].IsArray()) {
    return error{"the telemetry has no \"metrics\" array (is this troupe's /v1/telemetry?)"};
  }
  telemetry_sample out;
  if (doc.HasMember("timestamp")) out.timestamp = number(doc["timestamp"]);
  if (doc.HasMember("model") && doc["model"].IsObject() && doc["model"].HasMember("name") &&
      doc["model"]["name"].IsString()) {
    out.model = doc["model"]["name"].GetString();
  }
  for (const auto& family : doc["metrics"].GetArray())
    add_family(family, out);
  if (doc.HasMember("engine") && doc["engine"].IsObject()) fill_from_engine(doc["engine"], out);
  return out;
}

namespace {

// (a - b) / dt for a counter; nullopt when unknown, reset, or no time passed.
std::optional<double> rate(std::optional<double> a, std::optional<double> b, double dt) {
  if (!a || !b || dt <= 0 || *a < *b) return std::nullopt;
  return (*a - *b) / dt;
}

std::optional<double> mean(double dsum, double dcount) {
  if (dcount <= 0) return std::nullopt;
  return dsum / dcount;
}

actor_row make_row(const std::string& kind, const actor_kind_totals& cur,
                   const actor_kind_totals* prev, double dt) {
  actor_row row{kind, cur.running, cur.depth, cur.depth_peak};
  if (prev == nullptr || dt <= 0) return row;
  row.messages_per_s = rate(cur.messages, prev->messages, dt);
  const auto busy = rate(cur.busy_seconds, prev->busy_seconds, dt);
  if (busy) row.busy_percent = *busy * 100;
  row.mean_handle_s =
      mean(cur.handle_sum - prev->handle_sum, cur.handle_count - prev->handle_count);
  row.mean_wait_s = mean(cur.wait_sum - prev->wait_sum, cur.wait_count - prev->wait_count);
  return row;
}

void sort_rows(std::vector<actor_row>& rows, sort_key sort) {
  std::sort(rows.begin(), rows.end(), [sort](const actor_row& a, const actor_row& b) {
    const double busy_a = a.busy_percent.value_or(-1), busy_b = b.busy_percent.value_or(-1);
    if (sort == sort_key::depth) {
      return std::tie(b.depth, busy_b, a.kind) < std::tie(a.depth, busy_a, b.kind);
    }
    return std::tie(busy_b, b.depth, a.kind) < std::tie(busy_a, a.depth, b.kind);
  });
}

}  // namespace

top_view make_view(const telemetry_sample& cur, const telemetry_sample* prev, sort_key sort) {
  top_view v;
  v.model = cur.model;
  v.timestamp = cur.timestamp;
  v.running = cur.running;
  v.waiting = cur.waiting;
  v.running_actors = cur.running_actors;
  v.scheduler_threads = cur.scheduler_threads;
  if (cur.kv_usage) v.kv_percent = *cur.kv_usage * 100;
  const double dt = prev != nullptr ? cur.timestamp - prev->timestamp : 0.0;
  static const telemetry_sample none;
  const telemetry_sample& before = prev != nullptr ? *prev : none;
  v.prompt_tokens_per_s = rate(cur.prompt_tokens, before.prompt_tokens, dt);
  v.generation_tokens_per_s = rate(cur.generation_tokens, before.generation_tokens, dt);
  const auto hits = rate(cur.prefix_hits, before.prefix_hits, dt);
  const auto queries = rate(cur.prefix_queries, before.prefix_queries, dt);
  if (hits && queries && *queries > 0) v.prefix_hit_percent = *hits / *queries * 100;
  for (const auto& [kind, totals] : cur.kinds) {
    const actor_kind_totals* p = nullptr;
    actor_kind_totals zero;
    if (prev != nullptr) {
      auto it = prev->kinds.find(kind);
      p = it != prev->kinds.end() ? &it->second : &zero;  // a kind new since: from 0
    }
    v.actors.push_back(make_row(kind, totals, p, dt));
  }
  sort_rows(v.actors, sort);
  return v;
}

}  // namespace troupe::cli::top
