#include "loadgen/sweep_run.hpp"

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>

namespace troupe::loadgen {
namespace {

status write_point_json(const point_setup& setup, const std::vector<request_record>& records,
                        point_result& point) {
  const std::string date = local_date_stamp();
  std::filesystem::path file = result_file_name(point.run, date);
  if (!setup.result_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(setup.result_dir, ec);
    file = std::filesystem::path(setup.result_dir) / file;
  }
  std::ofstream out(file, std::ios::trunc);
  out << result_json(point.run, point.metrics, records, date, setup.save_detailed);
  if (!out) return error{"cannot write " + file.string()};
  point.result_file = file.string();
  return ok_status();
}

}  // namespace

std::string local_date_stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &local);
  return buf;
}

result<point_result> run_point(const point_setup& setup, double rate) {
  arrival_config arrivals = setup.arrivals;
  arrivals.request_rate = rate;
  if (auto ok = validate(arrivals); !ok) return ok.err();
  bench_plan plan;
  plan.requests = setup.requests;
  plan.schedule = arrival_schedule(arrivals, static_cast<int64_t>(plan.requests.size()));
  plan.max_concurrency = setup.max_concurrency;
  plan.body = setup.body;
  plan.endpoint = setup.endpoint;
  plan.on_progress = setup.on_progress;
  plan.telemetry = setup.telemetry;
  auto out = run_benchmark(plan);
  if (!out) return out.err();
  point_result point;
  point.configured_rate = rate;
  point.run = setup.run;
  point.run.request_rate = rate;
  point.run.duration_s = out->duration_s;
  point.metrics = calculate_metrics(out->records, std::max(out->duration_s, 1e-9),
                                    setup.metric_percentiles, setup.goodput, setup.count_tokens);
  set_client_cpu(point.metrics, out->client_cpu_s);
  point.metrics.num_connections = out->num_connections;
  set_client_telemetry(point.metrics, std::move(out->telemetry));
  point.samples = collect_samples(out->records, point.metrics.output_lens);
  if (auto ok = write_point_json(setup, out->records, point); !ok) return ok.err();
  return point;
}

result<std::vector<point_result>> run_sweep(const point_setup& setup,
                                            const std::vector<double>& rates,
                                            const point_callback& on_point) {
  std::vector<point_result> points;
  for (double rate : rates) {
    auto point = run_point(setup, rate);
    if (!point) return point.err();
    if (on_point) on_point(*point);
    points.push_back(std::move(*point));
  }
  return points;
}

result<slo_search_result> run_slo_search(const point_setup& setup, const slo_spec& slo,
                                         const search_options& options,
                                         const point_callback& on_point) {
  slo_search_result out;
  auto probe = [&](double rate) -> result<bool> {
    auto point = run_point(setup, rate);
    if (!point) return point.err();
    point->slo = check_slo(slo, point->samples, point->metrics.completed, point->metrics.failed);
    const bool met = point->slo->met;
    if (on_point) on_point(*point);
    out.probes.push_back(std::move(*point));
    return met;
  };
  auto search = search_max_rate(options, probe);
  if (!search) return search.err();
  out.search = std::move(*search);
  return out;
}

}  // namespace troupe::loadgen
