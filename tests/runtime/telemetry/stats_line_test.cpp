// vLLM's periodic stats line: its text, throughputs over the interval, the idle rule and the
// prefix-cache hit-rate window.
#include "runtime/telemetry/stats_line.hpp"

#include <gtest/gtest.h>

namespace troupe::telemetry {
namespace {

TEST(StatsLine, TextIsVllmsFormat) {
  EXPECT_EQ(format_stats_line(0, 812.44, 95.06, 8, 2, 0.125, 0.43),
            "Engine 000: Avg prompt throughput: 812.4 tokens/s, Avg generation throughput: 95.1 "
            "tokens/s, Running: 8 reqs, Waiting: 2 reqs, GPU KV cache usage: 12.5%, Prefix cache "
            "hit rate: 43.0%");
  EXPECT_EQ(format_stats_line(3, 0, 0, 0, 0, 0, 0),
            "Engine 003: Avg prompt throughput: 0.0 tokens/s, Avg generation throughput: 0.0 "
            "tokens/s, Running: 0 reqs, Waiting: 0 reqs, GPU KV cache usage: 0.0%, Prefix cache "
            "hit rate: 0.0%");
}

stats_sample tokens(double prompt, double generation) {
  stats_sample s;
  s.prompt_tokens = prompt;
  s.generation_tokens = generation;
  return s;
}

TEST(StatsLine, ThroughputIsOverTheIntervalAndAnIdleEngineGoesQuietAfterOneLine) {
  periodic_stats stats(100.0, tokens(50, 7));  // counts before the first interval are not in it
  stats_sample busy = tokens(50 + 1000, 7 + 200);
  busy.num_running = 3;
  busy.num_waiting = 1;
  busy.kv_cache_usage = 0.5;
  auto line = stats.tick(110.0, busy);
  EXPECT_FALSE(line.idle);
  EXPECT_EQ(line.text,
            "Engine 000: Avg prompt throughput: 100.0 tokens/s, Avg generation throughput: 20.0 "
            "tokens/s, Running: 3 reqs, Waiting: 1 reqs, GPU KV cache usage: 50.0%, Prefix cache "
            "hit rate: 0.0%");
  // The first idle interval still logs at info (the one before had tokens), as vLLM does ...
  line = stats.tick(120.0, tokens(1050, 207));
  EXPECT_FALSE(line.idle);
  EXPECT_NE(line.text.find("Avg prompt throughput: 0.0 tokens/s"), std::string::npos);
  // ... then it is quiet until tokens flow again.
  EXPECT_TRUE(stats.tick(130.0, tokens(1050, 207)).idle);
  EXPECT_TRUE(stats.tick(140.0, tokens(1050, 207)).idle);
  line = stats.tick(145.0, tokens(1050, 208));
  EXPECT_FALSE(line.idle);
  EXPECT_NE(line.text.find("Avg generation throughput: 0.2 tokens/s"), std::string::npos);
  EXPECT_FALSE(stats.tick(150.0, tokens(1050, 208)).idle);  // the interval after, once more
  EXPECT_TRUE(stats.tick(160.0, tokens(1050, 208)).idle);
}

// A data-parallel engine's lines name it.
TEST(StatsLine, NamesItsEngine) {
  periodic_stats stats(0.0, tokens(0, 0), 1);
  EXPECT_EQ(stats.tick(10.0, tokens(10, 0)).text.rfind("Engine 001: Avg prompt throughput: 1.0", 0),
            0u);
}

stats_sample lookups(int64_t requests, int64_t queries, int64_t hits) {
  stats_sample s;
  s.prefix_cache_requests = requests;
  s.prefix_cache_queries = queries;
  s.prefix_cache_hits = hits;
  return s;
}

TEST(StatsLine, HitRateCoversTheMostRecentThousandRequests) {
  periodic_stats stats(0.0, lookups(0, 0, 0));
  EXPECT_EQ(stats.hit_rate(), 0.0);
  // 600 requests, 60000 tokens queried, all hits.
  auto line = stats.tick(10.0, lookups(600, 60000, 60000));
  EXPECT_NE(line.text.find("Prefix cache hit rate: 100.0%"), std::string::npos);
  // 300 more with no hits: 900 requests in the window.
  stats.tick(20.0, lookups(900, 90000, 60000));
  EXPECT_DOUBLE_EQ(stats.hit_rate(), 2.0 / 3.0);
  // An interval without admissions changes nothing (it does not push old ones out).
  stats.tick(30.0, lookups(900, 90000, 60000));
  EXPECT_DOUBLE_EQ(stats.hit_rate(), 2.0 / 3.0);
  // 500 more without hits: 1400 > 1000, so the first 600 leave the window.
  line = stats.tick(40.0, lookups(1400, 140000, 60000));
  EXPECT_DOUBLE_EQ(stats.hit_rate(), 0.0);
  EXPECT_NE(line.text.find("Prefix cache hit rate: 0.0%"), std::string::npos);
  // The newest interval stays even when it alone has more than 1000 requests.
  stats.tick(50.0, lookups(3400, 340000, 160000));
  EXPECT_DOUBLE_EQ(stats.hit_rate(), 0.5);
}

}  // namespace
}  // namespace troupe::telemetry

namespace troupe::telemetry {
namespace {

TEST(SpecDecodingLine, IsVllmsLine) {
  const spec_decode_sample s{40, 160, 60, {28, 20, 12, 0}};
  EXPECT_EQ(format_spec_decoding_line(s, 5.0),
            "SpecDecoding metrics: Mean acceptance length: 2.50, Accepted throughput: 12.00 "
            "tokens/s, Drafted throughput: 32.00 tokens/s, Accepted: 60 tokens, Drafted: 160 "
            "tokens, Per-position acceptance rate: 0.700, 0.500, 0.300, 0.000, Avg Draft "
            "acceptance rate: 37.5%");
}

}  // namespace
}  // namespace troupe::telemetry
