// troupe top's pure part (tools/cli/top_view.hpp): reading /v1/telemetry JSON, rates and means
// over the interval between two snapshots, sorting, and both renderings.
#include "tools/cli/top_view.hpp"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace troupe::cli::top {
namespace {

using ::testing::HasSubstr;

// A /v1/telemetry body at `t` with the given cumulative figures.
std::string snapshot(double t, double prompt, double generation, double batcher_messages,
                     double batcher_busy, double executor_depth) {
  const std::string l = R"("labels": {"model_name": "m", "engine": "0"})";
  auto value = [](const std::string& labels, double v) {
    return "{\"labels\": " + labels + ", \"value\": " + std::to_string(v) + "}";
  };
  auto family = [](const std::string& name, const std::string& type, const std::string& samples) {
    return "{\"name\": \"" + name + "\", \"type\": \"" + type +
           "\", \"help\": \"\", \"samples\": [" + samples + "]}";
  };
  const std::string batcher = R"({"kind": "batcher"})", executor = R"({"kind": "executor",
                                                                         "rank": "0"})";
  std::string metrics = family("vllm:num_requests_running", "gauge", "{" + l + ", \"value\": 3}");
  metrics += "," + family("vllm:kv_cache_usage_perc", "gauge", "{" + l + ", \"value\": 0.25}");
  metrics += "," + family("vllm:prompt_tokens_total", "counter",
                          "{" + l + ", \"value\": " + std::to_string(prompt) + "}");
  metrics += "," + family("vllm:generation_tokens_total", "counter",
                          "{" + l + ", \"value\": " + std::to_string(generation) + "}");
  // Actor-system figures: no kind label, not an actor kind.
  metrics +=
      "," + family("troupe_actor_system_running_actors", "gauge", R"({"labels": {}, "value": 9})");
  metrics += "," + family("troupe_actor_system_scheduler_threads", "gauge",
                          R"({"labels": {}, "value": 2})");
  metrics +=
      "," + family("troupe_actors_running", "gauge", value(batcher, 1) + "," + value(executor, 1));
  metrics += "," + family("troupe_actor_mailbox_depth", "gauge",
                          value(batcher, 0) + "," + value(executor, executor_depth));
  metrics += "," + family("troupe_actor_mailbox_depth_peak", "gauge",
                          value(batcher, 4) + "," + value(executor, 2));
  metrics += "," + family("troupe_actor_messages_total", "counter",
                          value(batcher, batcher_messages) + "," + value(executor, 10));
  metrics += "," + family("troupe_actor_busy_seconds_total", "counter",
                          value(batcher, batcher_busy) + "," + value(executor, 0.5));
  metrics += "," + family("troupe_actor_handle_seconds", "histogram",
                          R"({"labels": {"kind": "batcher"}, "buckets": [[1, 1], ["+Inf", 1]],
                              "sum": )" +
                              std::to_string(batcher_busy) + R"(, "count": )" +
                              std::to_string(batcher_messages) + "}");
  return R"({"object": "telemetry", "version": 1, "timestamp": )" + std::to_string(t) +
         R"(, "model": {"name": "smol"}, "engine": {"num_running": 9, "num_waiting": 2,
            "num_kv_blocks_used": 1, "num_kv_blocks_total": 4, "num_prefix_cache_queries": 100,
            "num_prefix_cache_hits": 25}, "metrics": [)" +
         metrics + "]}";
}

TEST(top_view, parses_a_snapshot) {
  auto s = parse_telemetry(snapshot(1000.5, 100, 20, 50, 0.25, 3));
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->timestamp, 1000.5);
  EXPECT_EQ(s->model, "smol");
  EXPECT_EQ(s->running, 3.0);  // the vllm: gauge wins over the engine block
  EXPECT_EQ(s->waiting, 2.0);  // no vllm: gauge: the engine block's
  EXPECT_EQ(s->kv_usage, 0.25);
  EXPECT_EQ(s->prompt_tokens, 100.0);
  EXPECT_EQ(s->prefix_queries, 100.0);
  ASSERT_EQ(s->kinds.size(), 2u);
  EXPECT_EQ(s->kinds.at("executor").depth, 3.0);
  EXPECT_EQ(s->kinds.at("batcher").depth_peak, 4.0);
  EXPECT_EQ(s->kinds.at("batcher").handle_count, 50.0);
  EXPECT_EQ(s->running_actors, 9.0);
  EXPECT_EQ(s->scheduler_threads, 2.0);
}

// With data parallelism each engine reports its own figures: counts add up, the KV cache usage
// (a fraction of each engine's equal cache) is their mean.
TEST(top_view, adds_the_engines_counts_and_averages_their_kv_usage) {
  const std::string e0 = R"("labels": {"model_name": "m", "engine": "0"})";
  const std::string e1 = R"("labels": {"model_name": "m", "engine": "1"})";
  auto family = [](const std::string& name, const std::string& a, const std::string& b) {
    return "{\"name\": \"" + name + "\", \"type\": \"gauge\", \"help\": \"\", \"samples\": [" + a +
           ", " + b + "]}";
  };
  const std::string metrics = family("vllm:num_requests_running", "{" + e0 + ", \"value\": 3}",
                                     "{" + e1 + ", \"value\": 4}") +
                              "," +
                              family("vllm:kv_cache_usage_perc", "{" + e0 + ", \"value\": 0.25}",
                                     "{" + e1 + ", \"value\": 0.75}");
  auto s =
      parse_telemetry(R"({"object": "telemetry", "timestamp": 1, "metrics": [)" + metrics + "]}");
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(s->running, 7.0);
  EXPECT_EQ(s->kv_usage, 0.5);
}

TEST(top_view, rejects_what_is_not_telemetry) {
  EXPECT_FALSE(parse_telemetry("not json").ok());
  EXPECT_FALSE(parse_telemetry("[]").ok());
  EXPECT_FALSE(parse_telemetry(R"({"object": "list"})").ok());
  // An empty registry is fine: the engine block still fills the engine line.
  auto s = parse_telemetry(R"({"timestamp": 1, "engine": {"num_running": 1}, "metrics": []})");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->running, 1.0);
  EXPECT_FALSE(s->prompt_tokens.has_value());
  EXPECT_TRUE(s->kinds.empty());
}

TEST(top_view, rates_and_means_over_the_interval) {
  auto a = *parse_telemetry(snapshot(100, 100, 20, 50, 0.25, 0));
  auto b = *parse_telemetry(snapshot(102, 300, 60, 250, 0.75, 5));
  top_view first = make_view(a, nullptr, sort_key::depth);
  EXPECT_FALSE(first.prompt_tokens_per_s.has_value());
  EXPECT_FALSE(first.actors[0].messages_per_s.has_value());
  EXPECT_EQ(first.kv_percent, 25.0);

  top_view v = make_view(b, &a, sort_key::depth);
  EXPECT_EQ(v.prompt_tokens_per_s, 100.0);
  EXPECT_EQ(v.generation_tokens_per_s, 20.0);
  ASSERT_EQ(v.actors.size(), 2u);
  EXPECT_EQ(v.actors[0].kind, "executor");  // deepest mailbox first
  EXPECT_EQ(v.actors[0].depth, 5.0);
  const actor_row& batcher = v.actors[1];
  EXPECT_EQ(batcher.messages_per_s, 100.0);
  EXPECT_EQ(batcher.busy_percent, 25.0);  // 0.5 s busy in 2 s
  ASSERT_TRUE(batcher.mean_handle_s.has_value());
  EXPECT_DOUBLE_EQ(*batcher.mean_handle_s, 0.5 / 200);
  EXPECT_FALSE(batcher.mean_wait_s.has_value());  // no wait histogram in the snapshot
  EXPECT_EQ(v.actors[0].busy_percent, 0.0);       // executor: 0.5 s busy before and after

  top_view by_busy = make_view(b, &a, sort_key::busy);
  EXPECT_EQ(by_busy.actors[0].kind, "batcher");
  // A counter that went down (a restarted server) has no rate.
  EXPECT_FALSE(make_view(a, &b, sort_key::depth).prompt_tokens_per_s.has_value());
}

TEST(top_view, renders_the_screen_and_plain_lines) {
  auto a = *parse_telemetry(snapshot(100, 100, 20, 50, 0.25, 0));
  auto b = *parse_telemetry(snapshot(102, 300, 60, 250, 0.75, 5));
  top_view v = make_view(b, &a, sort_key::depth);
  auto screen = render_screen(v, "http://h:1", sort_key::depth, 200);
  ASSERT_EQ(screen.size(), 7u);
  EXPECT_THAT(screen[0], HasSubstr("http://h:1"));
  EXPECT_THAT(screen[0], HasSubstr("smol  by depth"));
  EXPECT_EQ(screen[1], "requests running 3  waiting 2   KV 25.0%   prefix hit -");
  EXPECT_EQ(screen[2], "tokens/s prompt 100.0  generation 20.0   actors 9 on 2 threads");
  EXPECT_EQ(screen[3], "");
  EXPECT_THAT(screen[4], HasSubstr("KIND"));
  EXPECT_THAT(screen[4], HasSubstr("BUSY%"));
  EXPECT_THAT(screen[5], HasSubstr("executor"));
  EXPECT_THAT(screen[6], HasSubstr("batcher"));
  EXPECT_THAT(screen[6], HasSubstr("100.0"));   // messages/s
  EXPECT_THAT(screen[6], HasSubstr("2.50ms"));  // mean handling time
  EXPECT_THAT(render_screen(v, "u", sort_key::busy, 200)[0], HasSubstr("by busy"));
  for (const auto& line : render_screen(v, "http://h:1", sort_key::busy, 30))
    EXPECT_LE(line.size(), 30u);

  auto plain = render_plain(v);
  ASSERT_EQ(plain.size(), 3u);
  EXPECT_EQ(plain[0],
            "engine running=3 waiting=2 kv=25.0% prefix_hit=- prompt_tok_s=100.0 "
            "generation_tok_s=20.0 actors=9 threads=2");
  EXPECT_EQ(plain[2],
            "actor kind=batcher actors=1 depth=0 peak=4 msg_s=100.0 busy=25.0% handle=2.50ms "
            "wait=-");
}

}  // namespace
}  // namespace troupe::cli::top
