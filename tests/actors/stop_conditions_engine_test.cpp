// Stop conditions through the whole engine (fake byte-per-token model): stop strings across
// token boundaries, stop token ids, min_tokens, skip_special_tokens, logprobs in the events.
#include <gtest/gtest.h>

#include <algorithm>

#include "actors/engine.hpp"
#include "tests/actors/fakes.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;
using testing::collecting_sink;
using testing::fake_generate;
using testing::fake_text;

struct fixture {
  explicit fixture(testing::fake_runner_options options = {}) {
    probe = std::make_shared<testing::fake_runner_probe>();
    runtime::engine_config config;
    config.disable_log_requests = true;
    auto started = start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                                std::make_unique<testing::fake_runner>(options, probe), 256);
    EXPECT_TRUE(started.ok());
    if (started.ok()) eng = std::move(started.value());
  }

  std::shared_ptr<collecting_sink> run(generation_request request) {
    auto sink = std::make_shared<collecting_sink>();
    eng->submit(std::move(request), sink);
    EXPECT_TRUE(sink->wait_finished());
    return sink;
  }

  bool wait_idle() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto s = eng->stats();
      if (s.num_kv_blocks_used == 0 && s.num_running == 0 && s.num_live_requests == 0) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }

  std::shared_ptr<testing::fake_runner_probe> probe;
  std::unique_ptr<engine> eng;
};

generation_request request_for(const std::string& prompt, int32_t max_tokens) {
  generation_request r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  return r;
}

std::vector<int32_t> expected_ids(const std::string& prompt, int32_t n, int32_t eos_at = -1) {
  return fake_generate(testing::byte_tokenizer{}.encode(prompt, false), n, eos_at);
}

TEST(StopConditions, StopStringAcrossTokensIsCutAndTheRequestReleased) {
  fixture f({.step_sleep = std::chrono::milliseconds(2)});  // steps slower than the abort
  ASSERT_TRUE(f.eng);
  const std::string full = fake_text(expected_ids("hello", 200));
  const std::string stop = full.substr(6, 3);
  const size_t at = full.find(stop);
  auto request = request_for("hello", 200);
  request.ignore_eos = true;
  request.stop = {"never there \x01", stop};
  auto sink = f.run(request);
  const auto last = sink->last();
  EXPECT_EQ(last.finish_reason, "stop");
  ASSERT_TRUE(last.stop_string);
  EXPECT_EQ(*last.stop_string, stop);
  EXPECT_FALSE(last.stop_token_id);
  EXPECT_EQ(sink->text(), full.substr(0, at));
  EXPECT_EQ(sink->token_ids().size(), at + stop.size());  // tokens up to the match are reported
  EXPECT_TRUE(f.wait_idle());
  EXPECT_LT(f.probe->num_steps.load(), 100);  // released at the match, not at max_tokens
}

TEST(StopConditions, IncludeStopStringInOutput) {
  fixture f;
  ASSERT_TRUE(f.eng);
  const std::string full = fake_text(expected_ids("abc", 60));
  const std::string stop = full.substr(10, 2);
  auto request = request_for("abc", 60);
  request.stop = {stop};
  request.include_stop_str_in_output = true;
  auto sink = f.run(request);
  EXPECT_EQ(sink->text(), full.substr(0, full.find(stop) + stop.size()));
  EXPECT_EQ(sink->last().finish_reason, "stop");
}

TEST(StopConditions, StopTokenIdIsKeptAndReportedButNotInTheText) {
  fixture f;
  ASSERT_TRUE(f.eng);
  const auto ids = expected_ids("tokens", 40);
  const int32_t stop_id = ids[5];
  const auto first = size_t(std::find(ids.begin(), ids.end(), stop_id) - ids.begin());
  auto request = request_for("tokens", 40);
  request.stop_token_ids = {stop_id};
  auto sink = f.run(request);
  const std::vector<int32_t> kept(ids.begin(), ids.begin() + first + 1);
  EXPECT_EQ(sink->token_ids(), kept);
  EXPECT_EQ(sink->text(), fake_text({ids.begin(), ids.begin() + first}));
  const auto last = sink->last();
  EXPECT_EQ(last.finish_reason, "stop");
  ASSERT_TRUE(last.stop_token_id);
  EXPECT_EQ(*last.stop_token_id, stop_id);

  request.include_stop_str_in_output = true;
  EXPECT_EQ(f.run(request)->text(), fake_text(kept));
}

TEST(StopConditions, EosFinishHasNoStopReason) {
  fixture f({.eos_at = 3});
  ASSERT_TRUE(f.eng);
  auto sink = f.run(request_for("eos", 10));
  const auto last = sink->last();
  EXPECT_EQ(last.finish_reason, "stop");
  EXPECT_FALSE(last.stop_token_id);
  EXPECT_FALSE(last.stop_string);
  EXPECT_EQ(sink->token_ids().size(), 4u);
}

TEST(StopConditions, MinTokensDefersEos) {
  fixture f({.eos_at = 1});
  ASSERT_TRUE(f.eng);
  EXPECT_EQ(f.run(request_for("min", 6))->token_ids().size(), 2u);
  auto request = request_for("min", 6);
  request.sampling.min_tokens = 3;
  auto sink = f.run(request);
  EXPECT_EQ(sink->token_ids().size(), 6u);
  EXPECT_EQ(sink->last().finish_reason, "length");
  EXPECT_EQ(sink->text().find("</s>"), std::string::npos);  // special, skipped
}

TEST(StopConditions, MinTokensDefersStopStrings) {
  fixture f;
  ASSERT_TRUE(f.eng);
  const std::string full = fake_text(expected_ids("late", 200));
  // A character among the first 8 outputs that comes back later.
  size_t first = 0;
  while (first < 8 && full.find(full[first], 8) == std::string::npos)
    ++first;
  ASSERT_LT(first, 8u) << full;
  const std::string stop(1, full[first]);
  auto request = request_for("late", 200);
  request.stop = {stop};
  EXPECT_EQ(f.run(request)->text(), full.substr(0, full.find(stop)));
  request.sampling.min_tokens = 8;
  EXPECT_EQ(f.run(request)->text(), full.substr(0, full.find(stop, 8)));
}

TEST(StopConditions, SkipSpecialTokensFalseKeepsTheirText) {
  fixture f({.eos_at = 2});
  ASSERT_TRUE(f.eng);
  auto request = request_for("sp", 4);
  request.ignore_eos = true;
  request.skip_special_tokens = false;
  EXPECT_NE(f.run(request)->text().find("</s>"), std::string::npos);
  request.skip_special_tokens = true;
  EXPECT_EQ(f.run(request)->text().find("</s>"), std::string::npos);
}

TEST(StopConditions, LogprobsComeOnePerToken) {
  fixture f;
  ASSERT_TRUE(f.eng);
  auto request = request_for("lp", 5);
  request.logprobs = 2;
  auto sink = f.run(request);
  size_t num_logprobs = 0;
  for (const auto& e : sink->events()) {
    EXPECT_EQ(e.logprobs.size(), e.token_ids.size());
    for (size_t i = 0; i < e.logprobs.size(); ++i)
      EXPECT_EQ(e.logprobs[i].token_id, e.token_ids[i]);
    num_logprobs += e.logprobs.size();
  }
  EXPECT_EQ(num_logprobs, 5u);
  request.logprobs = -1;
  for (const auto& e : f.run(request)->events())
    EXPECT_TRUE(e.logprobs.empty());
}

}  // namespace
}  // namespace troupe::actors
