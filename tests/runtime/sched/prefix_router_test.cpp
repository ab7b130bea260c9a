#include "runtime/sched/prefix_router.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::runtime {
namespace {

// A prompt of `n` bytes made of `seed`'s letters, different for different seeds.
std::string text(char seed, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i)
    s += static_cast<char>('a' + (seed - 'a' + i * 7 + i / 13) % 26);
  return s;
}

TEST(prefix_router, least_loaded_is_vllms_rule) {
  prefix_router r(data_parallel_routing::least_loaded, 3, 1000);
  const std::vector<int64_t> idle = {0, 0, 0};
  EXPECT_EQ(r.route(text('a', 4000), "", idle), 0);  // the lowest index among equals
  const std::vector<int64_t> busy = {5, 4, 4};
  EXPECT_EQ(r.route(text('a', 4000), "", busy), 1);
  // Nothing is remembered: the same prompt goes by load alone.
  EXPECT_EQ(r.route(text('a', 4000), "", std::vector<int64_t>{1, 0, 0}), 1);
  EXPECT_EQ(r.matched_chunks(0, text('a', 4000), ""), 0u);
}

TEST(prefix_router, a_shared_prefix_goes_where_it_went_within_one_waiting_request) {
  prefix_router r(data_parallel_routing::prefix_aware, 2, 1000);
  const std::string prefix = text('p', 2048);
  EXPECT_EQ(r.route(prefix + "first question", "", std::vector<int64_t>{1, 0}), 1);
  EXPECT_EQ(r.matched_chunks(1, prefix + "another", ""), 2048u / prefix_router::chunk_bytes);
  EXPECT_EQ(r.matched_chunks(0, prefix + "another", ""), 0u);
  // Engine 0 is less loaded, but engine 1 holds the prefix and is within the band.
  EXPECT_EQ(r.peek(prefix + "second question", "", std::vector<int64_t>{0, 4}), 1);
  EXPECT_EQ(r.route(prefix + "second question", "", std::vector<int64_t>{0, 4}), 1);
  // Beyond the band the load wins, and the prefix is then on engine 0 too.
  EXPECT_EQ(r.route(prefix + "third question", "", std::vector<int64_t>{0, 5}), 0);
  EXPECT_EQ(r.matched_chunks(0, prefix + "x", ""), 2048u / prefix_router::chunk_bytes);
  // A prompt nobody has seen goes by load.
  EXPECT_EQ(r.route(text('q', 3000), "", std::vector<int64_t>{3, 2}), 1);
}

// A match must cover half the prompt or 1 KiB: a chat template's shared first line does not
// pull every request to one engine.
TEST(prefix_router, a_short_common_start_does_not_count) {
  prefix_router r(data_parallel_routing::prefix_aware, 2, 1000);
  const std::string header = text('h', 128);
  EXPECT_EQ(r.route(header + text('a', 2000), "", std::vector<int64_t>{1, 0}), 1);
  EXPECT_EQ(r.matched_chunks(1, header + text('b', 2000), ""), 2u);
  EXPECT_EQ(r.route(header + text('b', 2000), "", std::vector<int64_t>{0, 1}), 0);
  // Half the prompt does count, short as it is.
  const std::string short_prompt = text('k', 128);
  EXPECT_EQ(r.route(short_prompt, "", std::vector<int64_t>{1, 0}), 1);
  EXPECT_EQ(r.route(short_prompt + "xy", "", std::vector<int64_t>{0, 1}), 1);
}

TEST(prefix_router, the_cache_salt_separates_prefixes) {
  prefix_router r(data_parallel_routing::prefix_aware, 2, 1000);
  const std::string prompt = text('s', 2048);
  EXPECT_EQ(r.route(prompt, "alice", std::vector<int64_t>{1, 0}), 1);
  EXPECT_EQ(r.matched_chunks(1, prompt, "bob"), 0u);
  EXPECT_EQ(r.route(prompt, "bob", std::vector<int64_t>{0, 1}), 0);
  EXPECT_EQ(r.route(prompt, "alice", std::vector<int64_t>{0, 1}), 1);
}

// Each table keeps its most recently routed chunks; a prompt's leading chunks outlive its tail.
TEST(prefix_router, tables_forget_the_least_recently_routed_chunks) {
  prefix_router r(data_parallel_routing::prefix_aware, 2, 40);
  const std::string a = text('a', 32 * prefix_router::chunk_bytes);
  const std::string b = text('b', 32 * prefix_router::chunk_bytes);
  r.record(0, a, "");
  EXPECT_EQ(r.matched_chunks(0, a, ""), 32u);
  r.record(0, b, "");  // 64 chunks into 40: a keeps its first 8
  EXPECT_EQ(r.matched_chunks(0, b, ""), 32u);
  EXPECT_EQ(r.matched_chunks(0, a, ""), 8u);
  r.record(1, a, "");
  EXPECT_EQ(r.matched_chunks(1, a, ""), 32u);  // tables are per engine
}

TEST(prefix_router, parses_the_flags_values) {
  EXPECT_EQ(parse_data_parallel_routing("prefix-aware"), data_parallel_routing::prefix_aware);
  EXPECT_EQ(parse_data_parallel_routing("least-loaded"), data_parallel_routing::least_loaded);
  EXPECT_EQ(parse_data_parallel_routing("round-robin"), std::nullopt);
}

}  // namespace
}  // namespace troupe::runtime
