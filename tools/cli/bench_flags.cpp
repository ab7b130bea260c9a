// `troupe bench` flags: vLLM's benchmarks/benchmark_serving.py names, defaults and value rules,
// so an existing benchmark command line runs unchanged. Only parsing lives here; the load
// generator (loadgen/) gives the values their meaning.
#include <cmath>
#include <limits>
#include <string>

#include "loadgen/sweep.hpp"
#include "tools/cli/flag_spec.hpp"

namespace troupe::cli::detail {
namespace {

#define FIELD(path)               \
  [](command_line & c) -> auto& { \
    return c.path;                \
  }

constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
constexpr double no_max = std::numeric_limits<double>::max();

// "KEY=VALUE" (--header, --metadata) or "KEY:VALUE" (--goodput).
result<std::pair<std::string, std::string>> split_pair(std::string_view text, char separator) {
  size_t at = text.find(separator);
  if (at == 0 || at == std::string_view::npos) {
    return error{std::string("expected KEY") + separator + "VALUE, got '" + std::string(text) +
                 "'"};
  }
  return std::pair{std::string(text.substr(0, at)), std::string(text.substr(at + 1))};
}

template <class Access>
flag_spec pair_list_flag(std::string name, std::string help, Access field) {
  flag_spec f{std::move(name), {}, flag_arity::list, false, "KEY=VALUE", std::move(help), {}, {}};
  f.set = [field](command_line& c, std::string_view v) -> status {
    auto kv = split_pair(v, '=');
    if (!kv) return kv.err();
    field(c).push_back(std::move(*kv));
    return ok_status();
  };
  f.show = [](command_line&) { return std::string("none"); };
  return f;
}

flag_spec goodput_flag() {
  flag_spec f{"goodput",
              {},
              flag_arity::list,
              false,
              "METRIC:MS",
              "service-level objectives for goodput, e.g. ttft:500 tpot:50 (ttft, tpot, e2el; ms)",
              {},
              [](command_line&) { return std::string("none"); }};
  f.set = [](command_line& c, std::string_view v) -> status {
    auto kv = split_pair(v, ':');
    if (!kv) return kv.err();
    auto metric = parse_choice(kv->first, {"ttft", "tpot", "e2el"});
    if (!metric) return error{"goodput metric: " + metric.message()};
    auto ms = parse_real(kv->second, 0.0, no_max, false);
    if (!ms) return error{"goodput " + kv->first + ": " + ms.message()};
    c.bench.goodput.emplace_back(*metric, *ms);
    return ok_status();
  };
  return f;
}

flag_spec percentile_metrics_flag() {
  flag_spec f{"percentile-metrics",
              {},
              flag_arity::value,
              false,
              "LIST",
              "comma-separated metrics to report percentiles of (ttft, tpot, itl, e2el)",
              {},
              {}};
  f.set = [](command_line& c, std::string_view v) -> status {
    std::vector<std::string> metrics;
    for (size_t pos = 0; pos <= v.size();) {
      size_t end = std::min(v.find(',', pos), v.size());
      auto metric = parse_choice(v.substr(pos, end - pos), {"ttft", "tpot", "itl", "e2el"});
      if (!metric) return metric.err();
      metrics.push_back(*metric);
      pos = end + 1;
    }
    c.bench.percentile_metrics = std::move(metrics);
    return ok_status();
  };
  f.show = [](command_line& c) {
    std::string text;
    for (const auto& m : c.bench.percentile_metrics)
      append_joined(text, m, ",");
    return text;
  };
  return f;
}

flag_spec metric_percentiles_flag() {
  flag_spec f{"metric-percentiles",
              {},
              flag_arity::value,
              false,
              "LIST",
              "comma-separated percentiles to report, each in (0, 100], e.g. 50,90,99",
              {},
              {}};
  f.set = [](command_line& c, std::string_view v) -> status {
    std::vector<double> percentiles;
    for (size_t pos = 0; pos <= v.size();) {
      size_t end = std::min(v.find(',', pos), v.size());
      auto p = parse_real(v.substr(pos, end - pos), 0.0, 100.0, true);
      if (!p) return p.err();
      percentiles.push_back(*p);
      pos = end + 1;
    }
    c.bench.metric_percentiles = std::move(percentiles);
    return ok_status();
  };
  f.show = [](command_line& c) {
    std::string text;
    for (double p : c.bench.metric_percentiles)
      append_joined(text, format_real(p), ",");
    return text;
  };
  return f;
}

std::vector<flag_spec> target_flags() {
  return {
      choice_flag("backend", "API flavour of the server", FIELD(bench.backend),
                  {"vllm", "openai", "openai-chat", "openai-audio", "sglang", "lmdeploy", "tgi",
                   "tensorrt-llm", "scalellm", "deepspeed-mii", "llama.cpp"}),
      string_flag("base-url", "URL", "server URL; overrides --host and --port",
                  FIELD(bench.base_url)),
      string_flag("host", "ADDRESS", "server host", FIELD(bench.host)),
      int_flag("port", "N", "server port", FIELD(bench.port), 1, 65535),
      string_flag("endpoint", "PATH", "API path", FIELD(bench.endpoint)),
      string_flag("model", "NAME", "model to request (and tokenizer source)", FIELD(bench.model)),
      string_flag("served-model-name", "NAME", "model name sent in requests; none = --model",
                  FIELD(bench.served_model_name)),
      string_flag("tokenizer", "PATH", "tokenizer for counting tokens; none = --model",
                  FIELD(bench.tokenizer)),
      bool_flag("trust-remote-code", "accepted for compatibility; has no effect",
                FIELD(bench.trust_remote_code)),
  };
}

std::vector<flag_spec> dataset_flags() {
  return {
      choice_flag(
          "dataset-name", "where prompts come from", FIELD(bench.dataset_name),
          {"sharegpt", "burstgpt", "sonnet", "random", "hf", "custom", "prefix_repetition"}),
      string_flag("dataset-path", "PATH", "dataset file (or Hugging Face id for hf)",
                  FIELD(bench.dataset_path)),
      int_flag("num-prompts", "N", "requests to send", FIELD(bench.num_prompts), 1, int32_max),
      int_flag("seed", "N", "seed of prompt sampling and arrival times", FIELD(bench.seed),
               std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()),
      int_flag("random-input-len", "N", "random dataset: input tokens",
               FIELD(bench.random_input_len), 1, int32_max),
      int_flag("random-output-len", "N", "random dataset: output tokens",
               FIELD(bench.random_output_len), 1, int32_max),
      parsed_flag("random-range-ratio", "R",
                  "random dataset: lengths vary by this ratio, in [0, 1)",
                  FIELD(bench.random_range_ratio),
                  [](std::string_view v) -> result<double> {
                    auto r = parse_real(v, 0.0, 1.0, false);
                    if (r && *r == 1.0) return error{"expected a number in [0, 1), got '1'"};
                    return r;
                  }),
      int_flag("random-prefix-len", "N", "random dataset: shared prefix tokens",
               FIELD(bench.random_prefix_len), 0, int32_max),
      int_flag("prefix-repetition-prefix-len", "N", "prefix_repetition: tokens of each prefix",
               FIELD(bench.prefix_repetition_prefix_len), 1, int32_max),
      int_flag("prefix-repetition-suffix-len", "N", "prefix_repetition: random tokens after it",
               FIELD(bench.prefix_repetition_suffix_len), 0, int32_max),
      int_flag("prefix-repetition-num-prefixes", "N", "prefix_repetition: distinct prefixes",
               FIELD(bench.prefix_repetition_num_prefixes), 1, int32_max),
      int_flag("prefix-repetition-output-len", "N", "prefix_repetition: output tokens",
               FIELD(bench.prefix_repetition_output_len), 1, int32_max),
      int_flag("sharegpt-output-len", "N", "sharegpt: output length; none = the dataset's",
               FIELD(bench.sharegpt_output_len), 1, int32_max),
      int_flag("custom-output-len", "N", "custom dataset: output length; -1 = the dataset's",
               FIELD(bench.custom_output_len), -1, int32_max),
      bool_flag("skip-chat-template", "custom dataset: send prompts without the chat template",
                FIELD(bench.skip_chat_template)),
  };
}

std::vector<flag_spec> traffic_flags() {
  return {
      real_flag("request-rate", "RPS", "mean arrival rate, requests/s; inf = all at once",
                FIELD(bench.request_rate), 0.0, std::numeric_limits<double>::infinity(), true),
      real_flag("burstiness", "B", "gamma shape of inter-arrival times; 1 = Poisson",
                FIELD(bench.burstiness), 0.0, no_max, true),
      int_flag("max-concurrency", "N", "most requests in flight; none = unbounded",
               FIELD(bench.max_concurrency), 1, int32_max),
      choice_flag("ramp-up-strategy", "ramp the request rate up over the run",
                  FIELD(bench.ramp_up_strategy), {"linear", "exponential"}),
      real_flag("ramp-up-start-rps", "RPS", "ramp-up: starting rate",
                FIELD(bench.ramp_up_start_rps), 0.0, no_max),
      real_flag("ramp-up-end-rps", "RPS", "ramp-up: final rate", FIELD(bench.ramp_up_end_rps), 0.0,
                no_max),
      int_flag("num-warmups", "N", "warm-up requests before measuring", FIELD(bench.num_warmups), 0,
               int32_max),
  };
}

std::vector<flag_spec> request_flags() {
  return {
      bool_flag("ignore-eos", "ask the server to ignore EOS (vllm backend)",
                FIELD(bench.ignore_eos)),
      real_flag("temperature", "T", "sampling temperature sent; none = 0 (greedy)",
                FIELD(bench.temperature), 0.0, no_max),
      real_flag("top-p", "P", "nucleus sampling mass, in (0, 1]", FIELD(bench.top_p), 0.0, 1.0,
                true),
      int_flag("top-k", "K", "top-k sampling; -1 = off", FIELD(bench.top_k), -1, int32_max),
      string_flag("extra-body", "JSON", "JSON object merged into every request body",
                  FIELD(bench.extra_body)),
      pair_list_flag("header", "extra HTTP header(s) on every request", FIELD(bench.headers)),
  };
}

std::vector<flag_spec> report_flags() {
  return {
      percentile_metrics_flag(),
      metric_percentiles_flag(),
      goodput_flag(),
      bool_flag("save-result", "write the result JSON", FIELD(bench.save_result)),
      bool_flag("save-detailed", "include per-request data in the JSON",
                FIELD(bench.save_detailed)),
      bool_flag("append-result", "append to the result file instead of overwriting",
                FIELD(bench.append_result)),
      string_flag("result-dir", "DIR", "directory of the result JSON; none = current",
                  FIELD(bench.result_dir)),
      string_flag("result-filename", "FILE", "result file name; none = generated",
                  FIELD(bench.result_filename)),
      pair_list_flag("metadata", "KEY=VALUE pairs recorded in the result JSON",
                     FIELD(bench.metadata)),
      string_flag("label", "TEXT", "label prefix of the result file name", FIELD(bench.label)),
      bool_flag("disable-tqdm", "no progress bar", FIELD(bench.disable_tqdm)),
      bool_flag("telemetry",
                "report the load generator's own actors and whether the client was the bottleneck",
                FIELD(bench.telemetry)),
      real_flag("telemetry-interval", "S",
                "with --telemetry: a line on stderr every S seconds; 0 = at the end only",
                FIELD(bench.telemetry_interval), 0.0, no_max),
  };
}

// A value flag whose text `parse` turns into a list field; --help shows its default as "none".
template <class Access, class Parse>
flag_spec list_value_flag(std::string name, std::string metavar, std::string help, Access field,
                          Parse parse) {
  flag_spec f{std::move(name),
              {},
              flag_arity::value,
              false,
              std::move(metavar),
              std::move(help),
              {},
              [](command_line&) { return std::string("none"); }};
  f.set = [field, parse](command_line& c, std::string_view v) -> status {
    auto x = parse(v);
    if (!x) return x.err();
    field(c) = std::move(*x);
    return ok_status();
  };
  return f;
}

// `troupe bench sweep`: the rates, and the SLO that turns the sweep into a search.
std::vector<flag_spec> sweep_flags() {
  auto rates = list_value_flag("request-rates", "LIST",
                               "sweep: rates to run, e.g. 1,2,4,inf, 1:16:x2 (geometric) or 1:8:1",
                               FIELD(bench.request_rates),
                               [](std::string_view v) { return loadgen::parse_request_rates(v); });
  auto slo = list_value_flag(
      "slo", "METRIC:MS,...", "sweep: search the highest rate meeting e.g. ttft:500,tpot:50 (ms)",
      FIELD(bench.slo), [](std::string_view v) { return loadgen::parse_slo_limits(v); });
  return {
      std::move(rates),
      std::move(slo),
      real_flag("slo-percentile", "P", "sweep: the percentile the SLO limits apply to",
                FIELD(bench.slo_percentile), 0.0, 100.0, true),
      real_flag("slo-tolerance", "R", "sweep: stop bisecting when high / low - 1 <= R",
                FIELD(bench.slo_tolerance), 0.0, no_max, true),
      int_flag("slo-max-probes", "N", "sweep: most benchmark runs the SLO search makes",
               FIELD(bench.slo_max_probes), 1, 1000),
  };
}

#undef FIELD

}  // namespace

std::vector<flag_spec> bench_flag_specs() {
  std::vector<flag_spec> flags;
  for (auto group : {target_flags(), dataset_flags(), traffic_flags(), request_flags(),
                     report_flags(), sweep_flags()}) {
    for (auto& flag : group)
      flags.push_back(std::move(flag));
  }
  return flags;
}

namespace {

// `troupe bench sweep` runs each rate as a whole benchmark, each with its own result file.
status check_sweep(const command_line& c) {
  const bench_options& b = c.bench;
  if (!b.sweep) {
    for (const char* flag :
         {"request-rates", "slo", "slo-percentile", "slo-tolerance", "slo-max-probes"}) {
      if (c.was_given(flag)) {
        return error{std::string("'troupe bench': --") + flag + " needs 'troupe bench sweep'"};
      }
    }
    return ok_status();
  }
  if (b.request_rates.empty()) {
    return error{"'troupe bench sweep' needs --request-rates (e.g. 1,2,4,inf or 1:16:x2)"};
  }
  for (const char* flag :
       {"request-rate", "ramp-up-strategy", "result-filename", "append-result"}) {
    if (c.was_given(flag)) {
      return error{std::string("'troupe bench sweep' does not take --") + flag +
                   " (each rate of --request-rates is one run with its own result file)"};
    }
  }
  if (!b.slo.empty() && std::isinf(b.request_rates.front())) {
    return error{"'troupe bench sweep --slo' starts at the first of --request-rates: not inf"};
  }
  return ok_status();
}

}  // namespace

// Cross-flag rules of benchmark_serving's ramp-up, of the sweep and of --telemetry.
status check_bench(command_line& c) {
  if (auto ok = check_sweep(c); !ok) return ok;
  const bench_options& b = c.bench;
  if (c.was_given("telemetry-interval") && !b.telemetry) {
    return error{"'troupe bench': --telemetry-interval needs --telemetry"};
  }
  bool has_start = b.ramp_up_start_rps.has_value(), has_end = b.ramp_up_end_rps.has_value();
  if (b.ramp_up_strategy.empty()) {
    if (has_start || has_end) {
      return error{"'troupe bench': --ramp-up-start-rps/--ramp-up-end-rps need --ramp-up-strategy"};
    }
    return ok_status();
  }
  if (!has_start || !has_end) {
    return error{
        "'troupe bench': --ramp-up-strategy needs --ramp-up-start-rps and "
        "--ramp-up-end-rps"};
  }
  if (c.was_given("request-rate")) {
    return error{
        "'troupe bench': with --ramp-up-strategy the ramp sets the rate; drop "
        "--request-rate"};
  }
  if (b.ramp_up_strategy == "exponential" && *b.ramp_up_start_rps <= 0) {
    return error{"'troupe bench': exponential ramp-up needs --ramp-up-start-rps > 0"};
  }
  return ok_status();
}

}  // namespace troupe::cli::detail
