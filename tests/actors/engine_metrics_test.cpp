// The engine's metrics end to end through the fake runner: vLLM's names, types, labels, HELP
// texts and buckets; counters and histograms that match exactly what was sent; the step figures;
// --disable-log-stats.
#include "actors/engine.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "tests/actors/fakes.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;
using testing::collecting_sink;
using testing::fake_runner_options;

const telemetry::labels vllm_labels = {{"model_name", "fake"}, {"engine", "0"}};

struct metrics_fixture {
  explicit metrics_fixture(runtime::engine_config config = default_config(),
                           fake_runner_options options = {}) {
    probe = std::make_shared<testing::fake_runner_probe>();
    auto started = start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                                std::make_unique<testing::fake_runner>(options, probe), 256);
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.message());
    if (started.ok()) eng = std::move(started.value());
  }

  static runtime::engine_config default_config() {
    runtime::engine_config config;
    config.served_model_name = "fake";
    return config;
  }

  std::shared_ptr<collecting_sink> submit(std::string prompt, int32_t max_tokens,
                                          uint64_t* id = nullptr) {
    generation_request request;
    request.prompt = std::move(prompt);
    request.max_tokens = max_tokens;
    auto sink = std::make_shared<collecting_sink>();
    const uint64_t assigned = eng->submit(std::move(request), sink);
    if (id) *id = assigned;
    return sink;
  }

  // The actors publish after their last message: poll until the engine is idle.
  bool wait_idle() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto s = eng->stats();
      if (s.num_kv_blocks_used == 0 && s.num_running == 0 && s.num_waiting == 0 &&
          s.num_live_requests == 0 && value("vllm:num_requests_running") == 0.0) {
        return true;
      }
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

  double value(const std::string& name, const telemetry::labels& l = vllm_labels) const {
    auto v = eng->metrics().value(name, l);
    EXPECT_TRUE(v) << name;
    return v ? *v : -1.0;
  }
  double success(const char* reason) const {
    auto l = vllm_labels;
    l.emplace_back("finished_reason", reason);
    return value("vllm:request_success_total", l);
  }
  telemetry::histogram_snapshot histogram(const std::string& name,
                                          const telemetry::labels& l = vllm_labels) const {
    auto h = eng->metrics().histogram_value(name, l);
    EXPECT_TRUE(h) << name;
    return h ? *h : telemetry::histogram_snapshot{};
  }

  std::shared_ptr<testing::fake_runner_probe> probe;
  std::unique_ptr<engine> eng;
};

bool has_line(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

TEST(EngineMetrics, VllmNamesTypesLabelsHelpAndBuckets) {
  metrics_fixture f;
  ASSERT_TRUE(f.eng);
  const std::string text = f.eng->metrics().prometheus_text();
  const std::pair<const char*, const char*> families[] = {
      {"vllm:num_requests_running", "gauge"},
      {"vllm:num_requests_waiting", "gauge"},
      {"vllm:kv_cache_usage_perc", "gauge"},
      {"vllm:prefix_cache_queries_total", "counter"},
      {"vllm:prefix_cache_hits_total", "counter"},
      {"vllm:num_preemptions_total", "counter"},
      {"vllm:prompt_tokens_total", "counter"},
      {"vllm:generation_tokens_total", "counter"},
      {"vllm:request_success_total", "counter"},
      {"vllm:time_to_first_token_seconds", "histogram"},
      {"vllm:inter_token_latency_seconds", "histogram"},
      {"vllm:e2e_request_latency_seconds", "histogram"},
      {"vllm:request_queue_time_seconds", "histogram"},
      {"vllm:request_prefill_time_seconds", "histogram"},
      {"vllm:request_decode_time_seconds", "histogram"},
      {"vllm:request_inference_time_seconds", "histogram"},
      {"vllm:iteration_tokens_total", "histogram"},
      {"vllm:request_prompt_tokens", "histogram"},
      {"vllm:request_generation_tokens", "histogram"},
      {"vllm:request_params_max_tokens", "histogram"},
      {"vllm:request_params_n", "histogram"},
      {"vllm:cache_config_info", "gauge"},
      {"troupe_steps_total", "counter"},
      {"troupe_step_seconds", "histogram"},
      {"troupe_step_tokens", "histogram"},
      {"troupe_step_batch_size", "histogram"},
      {"troupe_actor_system_scheduler_threads", "gauge"},
      {"troupe_actor_system_running_actors", "gauge"},
  };
  for (const auto& [name, type] : families)
    EXPECT_TRUE(has_line(text, std::string("# TYPE ") + name + " " + type)) << name;
  // vLLM's HELP texts, labels and buckets, as its PrometheusStatLogger writes them.
  EXPECT_TRUE(has_line(text,
                       "# HELP vllm:num_requests_running Number of requests in model "
                       "execution batches."));
  EXPECT_TRUE(has_line(text,
                       "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 "
                       "percent usage."));
  EXPECT_TRUE(has_line(text, "vllm:num_requests_running{model_name=\"fake\",engine=\"0\"} 0"));
  EXPECT_TRUE(has_line(text,
                       "vllm:request_success_total{model_name=\"fake\",engine=\"0\","
                       "finished_reason=\"length\"} 0"));
  EXPECT_EQ(f.histogram("vllm:time_to_first_token_seconds").bounds.size(), 22u);
  EXPECT_EQ(f.histogram("vllm:time_to_first_token_seconds").bounds.back(), 2560.0);
  EXPECT_EQ(f.histogram("vllm:inter_token_latency_seconds").bounds.size(), 19u);
  EXPECT_EQ(f.histogram("vllm:e2e_request_latency_seconds").bounds.size(), 21u);
  EXPECT_EQ(f.histogram("vllm:e2e_request_latency_seconds").bounds.back(), 7680.0);
  EXPECT_EQ(f.histogram("vllm:iteration_tokens_total").bounds.back(), 16384.0);
  // build_1_2_5_buckets(max_model_len = 256)
  EXPECT_EQ(f.histogram("vllm:request_prompt_tokens").bounds,
            (std::vector<double>{1, 2, 5, 10, 20, 50, 100, 200}));
  EXPECT_TRUE(has_line(text,
                       "vllm:cache_config_info{block_size=\"4\",cache_dtype=\"auto\","
                       "enable_prefix_caching=\"True\",gpu_memory_utilization=\"0.9\","
                       "num_gpu_blocks=\"256\",num_gpu_blocks_override=\"None\","
                       "prefix_caching_hash_algo=\"sha256\",engine=\"0\"} 1"));
  EXPECT_TRUE(has_line(text, "troupe_actor_mailbox_depth{kind=\"executor\",rank=\"0\"} 0"));
  for (const char* kind : {"request", "batcher", "kv_allocator", "stats_logger"}) {
    EXPECT_TRUE(has_line(text, std::string("troupe_actors_running{kind=\"") + kind + "\"} " +
                                   (std::string(kind) == "request" ? "0" : "1")))
        << kind;
  }
  EXPECT_EQ(f.value("troupe_actor_system_scheduler_threads", {}), 1.0);
  EXPECT_GE(f.value("troupe_actor_system_running_actors", {}), 4.0);
}

std::string prompt_of(int i) {
  return "request number " + std::to_string(i) + std::string(size_t(i % 5), '!');
}

TEST(EngineMetrics, CountersAndHistogramsMatchWhatWasSent) {
  auto config = metrics_fixture::default_config();
  config.num_actor_threads = 2;
  metrics_fixture f(config);
  ASSERT_TRUE(f.eng);
  constexpr int n = 12;
  std::vector<std::shared_ptr<collecting_sink>> sinks;
  double num_prompt = 0, num_output = 0;
  for (int i = 0; i < n; ++i) {
    sinks.push_back(f.submit(prompt_of(i), 3 + i));
    num_prompt += static_cast<double>(prompt_of(i).size());
    num_output += 3 + i;
  }
  for (auto& sink : sinks) {
    ASSERT_TRUE(sink->wait_finished());
    const auto last = sink->last();
    ASSERT_TRUE(last.timing);
    EXPECT_GE(last.timing->e2e, last.timing->ttft + last.timing->decode - 1e-9);
    EXPECT_NEAR(last.timing->inference, last.timing->prefill + last.timing->decode, 1e-9);
    EXPECT_GT(last.timing->decode, 0.0);
  }
  ASSERT_TRUE(f.wait_idle());
  EXPECT_EQ(f.eng->stats().num_preemptions, 0);  // so every token was computed once

  EXPECT_EQ(f.success("length"), n);
  EXPECT_EQ(f.success("stop"), 0);
  EXPECT_EQ(f.success("abort"), 0);
  EXPECT_EQ(f.value("vllm:prompt_tokens_total"), num_prompt);
  EXPECT_EQ(f.value("vllm:generation_tokens_total"), num_output);
  for (const char* name :
       {"vllm:time_to_first_token_seconds", "vllm:e2e_request_latency_seconds",
        "vllm:request_queue_time_seconds", "vllm:request_prefill_time_seconds",
        "vllm:request_decode_time_seconds", "vllm:request_inference_time_seconds",
        "vllm:request_prompt_tokens", "vllm:request_generation_tokens",
        "vllm:request_params_max_tokens", "vllm:request_params_n"}) {
    EXPECT_EQ(f.histogram(name).count, uint64_t{n}) << name;
  }
  EXPECT_EQ(f.histogram("vllm:request_prompt_tokens").sum, num_prompt);
  EXPECT_EQ(f.histogram("vllm:request_generation_tokens").sum, num_output);
  EXPECT_EQ(f.histogram("vllm:request_params_max_tokens").sum, num_output);
  EXPECT_EQ(f.histogram("vllm:request_params_n").sum, n);
  EXPECT_EQ(f.histogram("vllm:inter_token_latency_seconds").count, num_output - n);

  // Every prompt token is computed once unless found in the prefix cache, every output but the
  // last is fed back once: the iteration histogram's sum is every token computed.
  const double hits = f.value("vllm:prefix_cache_hits_total");
  EXPECT_EQ(hits, static_cast<double>(f.eng->stats().num_prefix_cache_hits));
  EXPECT_EQ(f.value("vllm:prefix_cache_queries_total"), num_prompt);  // each admitted once
  const auto iteration = f.histogram("vllm:iteration_tokens_total");
  EXPECT_EQ(iteration.sum, num_prompt - hits + num_output - n);
  EXPECT_EQ(iteration.count, static_cast<uint64_t>(f.probe->num_steps.load()));

  // The step figures agree: steps, tokens by kind, one observation per step and phase.
  const auto steps = static_cast<double>(f.probe->num_steps.load());
  EXPECT_EQ(f.value("troupe_steps_total", {}), steps);
  const auto prefill = f.histogram("troupe_step_tokens", {{"kind", "prefill"}});
  const auto decode = f.histogram("troupe_step_tokens", {{"kind", "decode"}});
  EXPECT_EQ(prefill.sum, num_prompt - hits);
  EXPECT_EQ(decode.sum, num_output - n);
  EXPECT_EQ(decode.count, iteration.count);
  EXPECT_EQ(f.histogram("troupe_step_batch_size", {}).count, iteration.count);
  EXPECT_GE(f.histogram("troupe_step_batch_size", {}).sum, num_output);  // a sequence per token
  for (const char* phase : {"schedule", "allocate", "execute", "postprocess"}) {
    EXPECT_EQ(f.histogram("troupe_step_seconds", {{"phase", phase}}).count, iteration.count)
        << phase;
  }
  // The executor handled one message per step, and a release_sequences each time the batcher
  // went idle after one; the gauges are back at rest.
  const double executor_messages =
      f.value("troupe_actor_messages_total", {{"kind", "executor"}, {"rank", "0"}});
  EXPECT_GE(executor_messages, steps);
  EXPECT_LE(executor_messages, 2 * steps);
  EXPECT_EQ(f.value("vllm:num_requests_waiting"), 0.0);
  EXPECT_EQ(f.value("vllm:kv_cache_usage_perc"), 0.0);
  // A request actor leaves the running gauge when it is destroyed, a moment after the engine
  // stopped counting it live (wait_idle).
  const telemetry::labels request_kind = {{"kind", "request"}};
  for (int i = 0; i < 2000 && f.value("troupe_actors_running", request_kind) != 0.0; ++i)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(f.value("troupe_actors_running", request_kind), 0.0);
}

TEST(EngineMetrics, FinishReasonsAndPreemptions) {
  auto config = metrics_fixture::default_config();
  config.max_num_seqs = 6;
  config.max_num_batched_tokens = 16;
  fake_runner_options options;
  options.num_kv_blocks = 16;  // too few for everyone: preemption
  options.eos_at = 20;
  options.step_sleep = 200us;
  metrics_fixture f(config, options);
  ASSERT_TRUE(f.eng);
  std::vector<std::shared_ptr<collecting_sink>> sinks;
  for (int i = 0; i < 10; ++i)
    sinks.push_back(f.submit(prompt_of(i), i < 5 ? 10 : 30));  // 5 "length", 5 "stop" (EOS)
  uint64_t id = 0;
  auto aborted = f.submit("abort me", 0, &id);
  ASSERT_TRUE(aborted->wait_events(2));
  f.eng->abort(id);
  for (auto& sink : sinks)
    ASSERT_TRUE(sink->wait_finished());
  ASSERT_TRUE(aborted->wait_finished());
  EXPECT_TRUE(aborted->last().timing);  // it produced output before the abort
  ASSERT_TRUE(f.wait_idle());
  EXPECT_EQ(f.success("length"), 5);
  EXPECT_EQ(f.success("stop"), 5);
  EXPECT_EQ(f.success("abort"), 1);
  const auto preemptions = f.eng->stats().num_preemptions;
  EXPECT_GT(preemptions, 0);
  EXPECT_EQ(f.value("vllm:num_preemptions_total"), static_cast<double>(preemptions));
  // Recomputation after preemption is prefill; the kinds still add up to every token computed.
  const auto iteration = f.histogram("vllm:iteration_tokens_total");
  const auto prefill = f.histogram("troupe_step_tokens", {{"kind", "prefill"}});
  const auto decode = f.histogram("troupe_step_tokens", {{"kind", "decode"}});
  EXPECT_EQ(prefill.sum + decode.sum, iteration.sum);
}

TEST(EngineMetrics, DisableLogStatsLeavesOnlyTroupesFigures) {
  auto config = metrics_fixture::default_config();
  config.disable_log_stats = true;
  metrics_fixture f(config);
  ASSERT_TRUE(f.eng);
  auto sink = f.submit("hello", 4);
  ASSERT_TRUE(sink->wait_finished());
  EXPECT_TRUE(sink->last().timing);  // per-request timing does not depend on it
  const std::string text = f.eng->metrics().prometheus_text();
  EXPECT_EQ(text.find("vllm:"), std::string::npos);
  EXPECT_EQ(text.find("kind=\"stats_logger\""), std::string::npos);  // no periodic line
  EXPECT_NE(text.find("troupe_steps_total"), std::string::npos);
  EXPECT_NE(text.find("troupe_actor_messages_total{kind=\"batcher\"}"), std::string::npos);
}

}  // namespace
}  // namespace troupe::actors
