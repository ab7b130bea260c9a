// `troupe bench`: benchmark_serving's command line, run by the loadgen actor system. Prints the
// same progress lines and report, writes the same JSON. See docs/bench.md.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>

#include "loadgen/arrival_process.hpp"
#include "loadgen/bench_run.hpp"
#include "loadgen/datasets.hpp"
#include "loadgen/metrics.hpp"
#include "loadgen/remote_tokenizer.hpp"
#include "loadgen/report.hpp"
#include "loadgen/sweep_report.hpp"
#include "loadgen/sweep_run.hpp"
#include "runtime/serving/model_files.hpp"
#include "tools/cli/bench_chat_template.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

using namespace troupe::loadgen;

int bench_fail(const std::string& message) {
  std::fprintf(stderr, "troupe bench: %s\n", message.c_str());
  return 1;
}

status check_options(const bench_options& o) {
  if (o.backend != "vllm" && o.backend != "openai" && o.backend != "openai-chat") {
    return error{"--backend must be vllm, openai or openai-chat, not '" + o.backend + "'"};
  }
  for (const auto& [name, ms] : o.goodput) {
    if (name != "ttft" && name != "tpot" && name != "e2el") {
      return error{"--goodput: unknown metric '" + name + "' (ttft, tpot or e2el)"};
    }
    if (ms < 0) return error{"--goodput: " + name + " must be non-negative"};
  }
  if (o.num_prompts <= 0) return error{"--num-prompts must be positive"};
  if (o.max_concurrency && *o.max_concurrency <= 0)
    return error{"--max-concurrency must be positive"};
  return ok_status();
}

// Without a local tokenizer: the server's /tokenize and /detokenize, if it answers them.
tokenizer_ptr server_tokenizer(const bench_options& o, const http_endpoint& endpoint) {
  const std::string& target = endpoint.target;
  const std::string prefix = target.ends_with(o.endpoint)
                                 ? target.substr(0, target.size() - o.endpoint.size())
                                 : std::string();
  const std::string model = o.served_model_name.empty() ? o.model : o.served_model_name;
  auto remote = remote_tokenizer::connect(endpoint, prefix, model);
  if (!remote) {
    std::fprintf(stderr,
                 "troupe bench: no tokenizer (no --tokenizer, and the server's /tokenize: %s)\n",
                 remote.message().c_str());
    return {};
  }
  std::fprintf(stderr,
               "troupe bench: no --tokenizer: tokenizing with the server's /tokenize and "
               "/detokenize (vocabulary of %d)\n",
               (*remote)->vocab_size());
  return *remote;
}

// The tokenizer from --tokenizer, else from --model when it names a local file, else the
// server's; null if none.
result<tokenizer_ptr> find_tokenizer(const bench_options& o, const http_endpoint& endpoint) {
  const std::string path = !o.tokenizer.empty() ? o.tokenizer : o.model;
  if (path.empty() || !std::filesystem::exists(path)) {
    if (!o.tokenizer.empty()) return error{"--tokenizer " + o.tokenizer + " does not exist"};
    return server_tokenizer(o, endpoint);
  }
  auto tok = runtime::load_tokenizer(path);
  if (!tok) return tok.err();
  return *tok;
}

result<std::vector<sample_request>> load_dataset(const bench_options& o, const tokenizer_ptr& tok) {
  const std::string& name = o.dataset_name;
  if (name == "random") {
    return sample_random(
        tok, {o.random_input_len, o.random_output_len, o.random_range_ratio, o.random_prefix_len},
        o.num_prompts, static_cast<uint64_t>(o.seed));
  }
  if (name == "prefix_repetition") {
    prefix_repetition_spec spec{o.prefix_repetition_prefix_len, o.prefix_repetition_suffix_len,
                                o.prefix_repetition_num_prefixes, o.prefix_repetition_output_len};
    return sample_prefix_repetition(tok, spec, o.num_prompts, static_cast<uint64_t>(o.seed));
  }
  if (name != "custom" && name != "sharegpt") {
    return error{"--dataset-name must be random, sharegpt, custom or prefix_repetition"};
  }
  if (o.dataset_path.empty()) return error{"--dataset-name " + name + " needs --dataset-path"};
  auto text = read_text_file(o.dataset_path);
  if (!text) return text.err();
  if (name == "sharegpt") {
    return sample_sharegpt(tok, o.dataset_path, *text, o.num_prompts, o.sharegpt_output_len,
                           static_cast<uint64_t>(o.seed));
  }
  prompt_transform apply_template;
  if (!o.skip_chat_template) {
    if (!tok || dynamic_cast<const remote_tokenizer*>(tok.get())) {
      std::fputs(
          "troupe bench: no local --tokenizer, so no chat template: custom prompts are sent as "
          "is (as with --skip-chat-template)\n",
          stderr);
    } else {
      auto tpl = user_prompt_template(!o.tokenizer.empty() ? o.tokenizer : o.model);
      if (!tpl) return error{tpl.message() + " (pass --skip-chat-template to send prompts as is)"};
      apply_template = std::move(*tpl);
    }
  }
  return sample_custom(tok, o.dataset_path, *text, o.num_prompts, o.custom_output_len,
                       apply_template);
}

result<http_endpoint> make_endpoint(const bench_options& o) {
  http_endpoint endpoint;
  if (!o.base_url.empty()) {
    auto parsed = parse_base_url(o.base_url, o.endpoint);
    if (!parsed) return parsed.err();
    endpoint = *parsed;
  } else {
    endpoint.host = o.host;
    endpoint.port = std::to_string(o.port);
    endpoint.target = o.endpoint;
  }
  const char* api_key = std::getenv("OPENAI_API_KEY");
  endpoint.headers = request_headers(o.headers, api_key != nullptr ? api_key : "");
  return endpoint;
}

body_options make_body(const bench_options& o) {
  body_options body;
  body.backend = o.backend;
  body.model = o.served_model_name.empty() ? o.model : o.served_model_name;
  // As vllm bench serve: random prompts run to their requested length.
  body.ignore_eos = o.ignore_eos || o.dataset_name == "random";
  body.temperature = o.temperature;
  body.top_p = o.top_p;
  body.top_k = o.top_k;
  body.extra_body = o.extra_body;
  return body;
}

std::string now_stamp() {
  const std::time_t t = std::time(nullptr);
  std::tm local{};
  localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &local);
  return buf;
}

void print_progress(int64_t done, int64_t total) {
  std::fprintf(stderr, "\r%3d%%| %lld/%lld", static_cast<int>(100 * done / total),
               static_cast<long long>(done), static_cast<long long>(total));
  if (done == total) std::fputc('\n', stderr);
}

// --telemetry: its periodic line goes to stderr, over the progress bar's line when there is one
// (the bar redraws below it).
telemetry_options telemetry_for(const bench_options& o) {
  telemetry_options t;
  t.enabled = o.telemetry;
  t.interval_s = o.telemetry_interval;
  t.on_line = [bar = !o.disable_tqdm](const std::string& line) {
    std::fprintf(stderr, "%s%s\n", bar ? "\r" : "", line.c_str());
  };
  return t;
}

status save_result(const bench_options& o, const run_description& run, const benchmark_metrics& m,
                   const std::vector<request_record>& records) {
  const std::string date = now_stamp();
  std::filesystem::path file =
      o.result_filename.empty() ? result_file_name(run, date) : o.result_filename;
  if (!o.result_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.result_dir, ec);
    file = std::filesystem::path(o.result_dir) / file;
  }
  std::ofstream out(file, o.append_result ? std::ios::app : std::ios::trunc);
  if (!out) return error{"cannot write " + file.string()};
  if (o.append_result && std::filesystem::file_size(file) != 0) out << "\n";
  out << result_json(run, m, records, date, o.save_detailed);
  return out ? ok_status() : status(error{"cannot write " + file.string()});
}

// The initial test request and the warm-ups (excluded from results); error when the test fails.
status warm_up(const bench_options& o, const std::vector<sample_request>& requests,
               const http_endpoint& endpoint, const body_options& body) {
  std::puts("Starting initial single prompt test run...");
  auto test = run_single(endpoint, body, requests.front());
  if (!test) return test.err();
  if (!test->success) {
    return error{
        "Initial test run failed - Please make sure benchmark arguments are correctly "
        "specified. Error: " +
        test->error};
  }
  std::puts("Initial test run completed.");
  if (o.num_warmups > 0) {
    std::printf("Warming up with %d requests...\n", o.num_warmups);
    bench_plan plan;
    plan.requests.assign(static_cast<size_t>(o.num_warmups), requests.front());
    plan.schedule.assign(plan.requests.size(), 0.0);
    plan.max_concurrency = o.max_concurrency;
    plan.body = body;
    plan.endpoint = endpoint;
    if (auto out = run_benchmark(plan); !out) return out.err();
    std::puts("Warmup run completed.");
  }
  std::puts("Starting main benchmark run...");
  return ok_status();
}

void print_traffic(const bench_options& o) {
  if (!o.ramp_up_strategy.empty()) {
    std::printf("Traffic ramp-up strategy: %s.\n", o.ramp_up_strategy.c_str());
    std::printf("Will increase RPS from %s to %s RPS over the duration of the benchmark.\n",
                percentile_word(o.ramp_up_start_rps.value_or(0)).c_str(),
                percentile_word(o.ramp_up_end_rps.value_or(0)).c_str());
  } else {
    std::printf("Traffic request rate: %s\n", python_float(o.request_rate).c_str());
  }
  std::printf("Burstiness factor: %s (%s)\n", python_float(o.burstiness).c_str(),
              o.burstiness == 1.0 ? "Poisson process" : "Gamma distribution");
  const std::string cap = o.max_concurrency ? std::to_string(*o.max_concurrency) : "None";
  std::printf("Maximum request concurrency: %s\n", cap.c_str());
}

run_description describe(const bench_options& o, double duration_s) {
  run_description run;
  run.backend = o.backend;
  run.label = o.label;
  run.tokenizer_id = o.tokenizer.empty() ? o.model : o.tokenizer;
  // Without --model the server picks its model; name the file after the tokenizer then.
  run.model_id = o.model.empty() ? run.tokenizer_id : o.model;
  run.num_prompts = o.num_prompts;
  run.request_rate = o.request_rate;
  run.burstiness = o.burstiness;
  run.max_concurrency = o.max_concurrency;
  run.ramp_up_strategy = o.ramp_up_strategy;
  run.ramp_up_start_rps = o.ramp_up_start_rps;
  run.ramp_up_end_rps = o.ramp_up_end_rps;
  run.percentile_metrics = o.percentile_metrics;
  run.metric_percentiles = o.metric_percentiles;
  run.has_goodput = !o.goodput.empty();
  run.metadata = o.metadata;
  run.duration_s = duration_s;
  return run;
}

void print_failures(const std::vector<request_record>& records) {
  int shown = 0;
  for (const auto& r : records) {
    if (r.success) continue;
    if (shown == 0) std::puts("Failed requests during benchmark run detected (capping to 10):");
    std::printf("Error %d: %s\n", shown, r.error.c_str());
    if (++shown == 10) break;
  }
}

int run_bench_requests(const command_line& cl, std::vector<sample_request> requests,
                       const tokenizer_ptr& tok, const http_endpoint& endpoint,
                       const body_options& body, const arrival_config& arrivals) {
  const bench_options& o = cl.bench;
  if (auto ok = warm_up(o, requests, endpoint, body); !ok) {
    std::fprintf(stderr, "troupe bench: %s\n", ok.message().c_str());
    return 1;
  }
  print_traffic(o);
  bench_plan plan;
  plan.schedule = arrival_schedule(arrivals, static_cast<int64_t>(requests.size()));
  plan.requests = std::move(requests);
  plan.max_concurrency = o.max_concurrency;
  plan.body = body;
  plan.endpoint = endpoint;
  if (!o.disable_tqdm) plan.on_progress = print_progress;
  plan.telemetry = telemetry_for(o);
  auto out = run_benchmark(plan);
  if (!out) {
    std::fprintf(stderr, "troupe bench: %s\n", out.message().c_str());
    return 1;
  }
  goodput_config goodput(o.goodput.begin(), o.goodput.end());
  token_counter count;
  if (tok) {
    count = [tok](const std::string& text) {
      return static_cast<int32_t>(tok->encode(text, false).size());
    };
  }
  auto m = calculate_metrics(out->records, std::max(out->duration_s, 1e-9), o.metric_percentiles,
                             goodput, count);
  set_client_cpu(m, out->client_cpu_s);
  m.num_connections = out->num_connections;
  set_client_telemetry(m, std::move(out->telemetry));
  print_failures(out->records);
  const auto run = describe(o, out->duration_s);
  std::fputs(format_report(run, m).c_str(), stdout);
  std::fflush(stdout);
  if (o.save_result || o.append_result) {
    if (auto ok = save_result(o, run, m, out->records); !ok) {
      std::fprintf(stderr, "troupe bench: %s\n", ok.message().c_str());
      return 1;
    }
  }
  return m.completed > 0 ? 0 : 1;
}

token_counter make_counter(const tokenizer_ptr& tok) {
  if (!tok) return {};
  return [tok](const std::string& text) {
    return static_cast<int32_t>(tok->encode(text, false).size());
  };
}

point_setup make_point_setup(const bench_options& o, std::vector<sample_request> requests,
                             const tokenizer_ptr& tok, const http_endpoint& endpoint,
                             const body_options& body, const arrival_config& arrivals) {
  point_setup setup;
  setup.requests = std::move(requests);
  setup.arrivals = arrivals;
  setup.max_concurrency = o.max_concurrency;
  setup.body = body;
  setup.endpoint = endpoint;
  setup.metric_percentiles = o.metric_percentiles;
  setup.goodput = goodput_config(o.goodput.begin(), o.goodput.end());
  setup.count_tokens = make_counter(tok);
  setup.run = describe(o, 0);
  setup.result_dir = o.result_dir;
  setup.save_detailed = o.save_detailed;
  if (!o.disable_tqdm) setup.on_progress = print_progress;
  setup.telemetry = telemetry_for(o);
  return setup;
}

void print_point(const point_result& p) {
  std::printf("Traffic request rate: %s\n", python_float(p.configured_rate).c_str());
  std::fputs(format_report(p.run, p.metrics).c_str(), stdout);
  if (p.slo) std::printf("SLO %s\n", p.slo->met ? "met" : "missed");
  std::printf("Result: %s\n\n", p.result_file.c_str());
  std::fflush(stdout);
}

// `troupe bench sweep`: the points (or the SLO search's probes), then the report files.
int run_bench_sweep(const command_line& cl, point_setup setup) {
  const bench_options& o = cl.bench;
  sweep_report report;
  const auto slash = setup.run.model_id.find_last_of('/');
  const std::string model = setup.run.model_id.substr(slash == std::string::npos ? 0 : slash + 1);
  const std::string who = o.label.empty() ? o.backend : o.label;
  report.title = "troupe bench sweep: " + who + ", " + model + ", " +
                 std::to_string(o.num_prompts) + " prompts per point";
  if (o.slo.empty()) {
    auto points = run_sweep(setup, o.request_rates, print_point);
    if (!points) return bench_fail(points.message());
    report.points = std::move(*points);
  } else {
    report.slo = slo_spec{o.slo, o.slo_percentile};
    report.options = search_options{o.request_rates.front(), o.slo_tolerance, o.slo_max_probes};
    if (auto ok = validate(*report.options); !ok) return bench_fail(ok.message());
    auto found = run_slo_search(setup, *report.slo, *report.options, print_point);
    if (!found) return bench_fail(found.message());
    report.points = std::move(found->probes);
    report.search = std::move(found->search);
  }
  auto files = write_sweep_report(report, o.result_dir,
                                  "sweep-" + who + "-" + model + "-" + local_date_stamp());
  if (!files) return bench_fail(files.message());
  std::fputs(sweep_summary_text(report).c_str(), stdout);
  std::printf("Report: %s (%zu files)\n", files->front().c_str(), files->size());
  return 0;
}

}  // namespace

int run_bench(const command_line& cl) {
  const bench_options& o = cl.bench;
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "troupe bench: %s\n", message.c_str());
    return 1;
  };
  if (auto ok = check_options(o); !ok) return fail(ok.message());
  arrival_config arrivals{o.request_rate,      o.burstiness,      o.ramp_up_strategy,
                          o.ramp_up_start_rps, o.ramp_up_end_rps, static_cast<uint64_t>(o.seed)};
  if (auto ok = validate(arrivals); !ok) return fail(ok.message());
  const body_options body = make_body(o);
  if (auto ok = validate(body); !ok) return fail(ok.message());
  auto endpoint = make_endpoint(o);
  if (!endpoint) return fail(endpoint.message());
  auto tok = find_tokenizer(o, *endpoint);
  if (!tok) return fail(tok.message());
  auto requests = load_dataset(o, *tok);
  if (!requests) return fail(requests.message());
  if (auto* remote = dynamic_cast<const remote_tokenizer*>(tok->get())) {
    if (auto failed = remote->first_error()) return fail("the server's tokenizer: " + *failed);
  }
  if (!o.sweep)
    return run_bench_requests(cl, std::move(*requests), *tok, *endpoint, body, arrivals);
  if (auto ok = warm_up(o, *requests, *endpoint, body); !ok) return fail(ok.message());
  return run_bench_sweep(
      cl, make_point_setup(o, std::move(*requests), *tok, *endpoint, body, arrivals));
}

}  // namespace troupe::cli
