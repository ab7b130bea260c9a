// One request's timeline: vLLM's intervals from the batcher's stamps, TTFT and e2e from the
// request actor's clock, and the per-request metrics they feed.
#include "actors/request_stats.hpp"

#include <gtest/gtest.h>

namespace troupe::actors {
namespace {

constexpr int64_t ms = 1000000;  // nanoseconds

struct fixture {
  telemetry::registry registry;
  vllm_metrics metrics = vllm_metrics::create(registry, {.model_name = "m", .max_model_len = 100});
  const telemetry::labels labels = {{"model_name", "m"}, {"engine", "0"}};

  double value(const char* name, telemetry::labels l) { return *registry.value(name, l); }
  double value(const char* name) { return value(name, labels); }
  telemetry::histogram_snapshot histogram(const char* name) {
    return *registry.histogram_value(name, labels);
  }
};

TEST(RequestStats, IntervalsFollowVllmsDefinitions) {
  fixture f;
  // Arrival at 1000 ms, queued at 1002, first scheduled at 1010; tokens received at 1031, 1046
  // and 1051 (a preemption in between does not move "scheduled").
  request_stats stats(1000 * ms, f.metrics);
  const request_times stamps{1002 * ms, 1010 * ms};
  EXPECT_TRUE(stats.on_delta(stamps, 1, 7, 1031 * ms));
  EXPECT_FALSE(stats.on_delta(stamps, 1, 7, 1046 * ms));
  EXPECT_FALSE(stats.on_delta(stamps, 2, 7, 1051 * ms));
  const auto t = stats.on_finish(runtime::finish_reason::length, 7, 4, 4, 1052 * ms);
  ASSERT_TRUE(t);
  EXPECT_NEAR(t->queue, 0.008, 1e-12);
  EXPECT_NEAR(t->prefill, 0.021, 1e-12);
  EXPECT_NEAR(t->decode, 0.020, 1e-12);
  EXPECT_NEAR(t->inference, 0.041, 1e-12);
  EXPECT_NEAR(t->ttft, 0.031, 1e-12);
  EXPECT_NEAR(t->e2e, 0.052, 1e-12);

  EXPECT_EQ(f.value("vllm:prompt_tokens_total"), 7.0);  // once, at the first token
  EXPECT_EQ(f.value("vllm:generation_tokens_total"), 4.0);
  const auto ttft = f.histogram("vllm:time_to_first_token_seconds");
  EXPECT_EQ(ttft.count, 1u);
  EXPECT_NEAR(ttft.sum, 0.031, 1e-12);
  const auto itl = f.histogram("vllm:inter_token_latency_seconds");
  EXPECT_EQ(itl.count, 2u);  // one per delta after the first
  EXPECT_NEAR(itl.sum, 0.020, 1e-12);
  EXPECT_NEAR(f.histogram("vllm:request_queue_time_seconds").sum, 0.008, 1e-12);
  EXPECT_NEAR(f.histogram("vllm:request_inference_time_seconds").sum, 0.041, 1e-12);
  EXPECT_NEAR(f.histogram("vllm:e2e_request_latency_seconds").sum, 0.052, 1e-12);
  EXPECT_EQ(f.histogram("vllm:request_prompt_tokens").sum, 7.0);
  EXPECT_EQ(f.histogram("vllm:request_generation_tokens").sum, 4.0);
  EXPECT_EQ(f.histogram("vllm:request_params_max_tokens").sum, 4.0);
  auto success = [&](const char* reason) {
    return f.value("vllm:request_success_total",
                   {{"model_name", "m"}, {"engine", "0"}, {"finished_reason", reason}});
  };
  EXPECT_EQ(success("length"), 1.0);
  EXPECT_EQ(success("stop"), 0.0);
  EXPECT_EQ(success("abort"), 0.0);
}

TEST(RequestStats, AnAbortBeforeAnyOutputCountsButHasNoTiming) {
  fixture f;
  request_stats stats(0, f.metrics);
  EXPECT_FALSE(stats.on_delta({5 * ms, 0}, 0, 9, 6 * ms));  // the abort's empty delta
  EXPECT_FALSE(stats.on_finish(runtime::finish_reason::abort, 9, 0, 0, 7 * ms));
  EXPECT_EQ(f.value("vllm:request_success_total",
                    {{"model_name", "m"}, {"engine", "0"}, {"finished_reason", "abort"}}),
            1.0);
  EXPECT_EQ(f.value("vllm:prompt_tokens_total"), 0.0);  // vLLM counts prompts at first token
  EXPECT_EQ(f.histogram("vllm:e2e_request_latency_seconds").count, 1u);
  EXPECT_EQ(f.histogram("vllm:request_queue_time_seconds").count, 0u);
  EXPECT_EQ(f.histogram("vllm:request_params_max_tokens").count, 0u);  // no max_tokens given
}

TEST(RequestStats, WithoutMetricsOnlyTheTiming) {
  request_stats stats(0, std::nullopt);
  EXPECT_TRUE(stats.on_delta({1 * ms, 2 * ms}, 1, 3, 5 * ms));
  const auto t = stats.on_finish(runtime::finish_reason::stop, 3, 1, 0, 6 * ms);
  ASSERT_TRUE(t);
  EXPECT_NEAR(t->ttft, 0.005, 1e-12);
  EXPECT_EQ(t->decode, 0.0);
}

}  // namespace
}  // namespace troupe::actors
