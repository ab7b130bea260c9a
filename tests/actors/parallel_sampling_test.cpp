// n > 1 through the engine: choice i is the request with seed + i, token for token; the choices
// share the prompt's KV blocks; abort and errors cover the whole request.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "actors/engine.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "tests/actors/fakes.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::actors {
namespace {

using namespace std::chrono_literals;

// Collects the events of an n-choice request by choice index.
class choices_sink : public generation_sink {
 public:
  explicit choices_sink(int32_t n) : n_(n) {}

  void on_event(generation_event event) override {
    std::lock_guard lock{mutex_};
    if (done_) ++num_events_after_done_;
    if (event.error || (event.finished && ++num_finished_ == n_)) done_ = true;
    events_.push_back(std::move(event));
    cv_.notify_all();
  }
  bool wait_done(std::chrono::milliseconds timeout = 60s) {
    std::unique_lock lock{mutex_};
    return cv_.wait_for(lock, timeout, [this] { return done_; });
  }
  std::vector<generation_event> events() const {
    std::lock_guard lock{mutex_};
    return events_;
  }
  std::map<int32_t, std::vector<int32_t>> tokens_by_index() const {
    std::lock_guard lock{mutex_};
    std::map<int32_t, std::vector<int32_t>> tokens;
    for (const auto& e : events_)
      tokens[e.index].insert(tokens[e.index].end(), e.token_ids.begin(), e.token_ids.end());
    return tokens;
  }
  std::map<int32_t, std::string> finish_by_index() const {
    std::lock_guard lock{mutex_};
    std::map<int32_t, std::string> reasons;
    for (const auto& e : events_) {
      if (e.finished) reasons[e.index] = e.finish_reason;
    }
    return reasons;
  }
  int32_t num_events_after_done() const {
    std::lock_guard lock{mutex_};
    return num_events_after_done_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<generation_event> events_;
  int32_t n_;
  int32_t num_finished_ = 0;
  bool done_ = false;
  int32_t num_events_after_done_ = 0;
};

// Forwards to a runner and records the most distinct KV blocks one step's sequences held.
class block_counting_runner : public runtime::model_runner {
 public:
  block_counting_runner(std::unique_ptr<runtime::model_runner> inner,
                        std::shared_ptr<std::atomic<int32_t>> peak)
      : inner_(std::move(inner)), peak_(std::move(peak)) {}
  std::vector<runtime::sampled_token> execute(const runtime::step_batch& batch) override {
    std::set<int32_t> blocks;
    for (const auto& seq : batch.seqs)
      blocks.insert(seq.block_table.begin(), seq.block_table.end());
    *peak_ = std::max(peak_->load(), static_cast<int32_t>(blocks.size()));
    return inner_->execute(batch);
  }
  int32_t vocab_size() const override { return inner_->vocab_size(); }
  int32_t block_size() const override { return inner_->block_size(); }
  int32_t num_kv_blocks() const override { return inner_->num_kv_blocks(); }

 private:
  std::unique_ptr<runtime::model_runner> inner_;
  std::shared_ptr<std::atomic<int32_t>> peak_;
};

runtime::engine_config quiet_config(bool prefix_caching = true) {
  runtime::engine_config config;
  config.served_model_name = "tiny";
  config.disable_log_requests = true;
  config.enable_prefix_caching = prefix_caching;
  return config;
}

// Counts encode calls: the choices of an n > 1 request tokenize their prompt once.
class counting_tokenizer final : public testing::byte_tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    ++num_encodes;
    return testing::byte_tokenizer::encode(text, add_special);
  }
  mutable std::atomic<int32_t> num_encodes{0};
};

std::unique_ptr<engine> start_tiny_engine(std::shared_ptr<std::atomic<int32_t>> peak,
                                          bool prefix_caching) {
  auto hp = testing::tiny_hparams();
  auto runner = runtime::cpu_llama_runner::create(testing::tiny_llama(hp, 11), 128, 4, 1);
  if (!runner) ADD_FAILURE() << runner.message();
  if (!runner) return nullptr;
  auto started =
      start_engine(quiet_config(prefix_caching), std::make_shared<testing::byte_tokenizer>(),
                   std::make_unique<block_counting_runner>(std::move(*runner), peak),
                   hp.max_position_embeddings);
  if (!started) ADD_FAILURE() << started.message();
  return started ? std::move(*started) : nullptr;
}

generation_request sampled_request(int32_t n, uint64_t seed) {
  generation_request request;
  for (int32_t i = 0; i < 30; ++i)
    request.prompt_token_ids.push_back(1 + (i * 37) % 90);  // 30 tokens: 7 full blocks of 4
  request.max_tokens = 8;
  request.ignore_eos = true;
  request.sampling.temperature = 1.0f;
  request.sampling.seed = seed;
  request.n = n;
  return request;
}

// Without prefix caching the choices still share their prompt's blocks (among themselves only:
// separate requests with the same prompt do not).
TEST(ParallelSampling, ChoiceIEqualsTheRequestWithSeedPlusI) {
  auto peak = std::make_shared<std::atomic<int32_t>>(0);
  auto e = start_tiny_engine(peak, /*prefix_caching=*/false);
  ASSERT_TRUE(e);
  constexpr int32_t n = 4;
  constexpr uint64_t seed = 1234;
  auto sink = std::make_shared<choices_sink>(n);
  e->submit(sampled_request(n, seed), sink);
  ASSERT_TRUE(sink->wait_done());
  const int32_t shared_peak = peak->exchange(0);
  const auto choices = sink->tokens_by_index();
  ASSERT_EQ(choices.size(), static_cast<size_t>(n));
  for (const auto& [index, reason] : sink->finish_by_index())
    EXPECT_EQ(reason, "length") << index;
  std::set<std::vector<int32_t>> distinct;
  // The same n requests alone, together (a crowd of separate requests, for the block count).
  std::vector<std::shared_ptr<choices_sink>> singles;
  for (int32_t i = 0; i < n; ++i) {
    singles.push_back(std::make_shared<choices_sink>(1));
    e->submit(sampled_request(1, seed + static_cast<uint64_t>(i)), singles.back());
  }
  for (int32_t i = 0; i < n; ++i) {
    ASSERT_TRUE(singles[static_cast<size_t>(i)]->wait_done());
    const auto single = singles[static_cast<size_t>(i)]->tokens_by_index();
    ASSERT_EQ(single.size(), 1u);
    EXPECT_EQ(choices.at(i), single.at(0)) << "choice " << i;
    EXPECT_EQ(choices.at(i).size(), 8u);
    distinct.insert(choices.at(i));
  }
  EXPECT_GE(distinct.size(), 3u);  // the seeds differ, so do the samples
  const int32_t separate_peak = peak->load();
  // Shared: 7 prompt blocks + 3 own per choice (tail and outputs: positions 28..37), where n
  // separate copies hold 10 each. (Whether the separate requests above overlap in time depends
  // on how fast steps run, so their peak only shows that one request holds all of its 10.)
  EXPECT_LE(shared_peak, 7 + n * 3);
  EXPECT_GE(separate_peak, 10);
}

// With prefix caching, separate requests with one prompt share like choices do, and report the
// prompt tokens they found cached.
TEST(ParallelSampling, WithPrefixCachingSeparateRequestsShareToo) {
  auto peak = std::make_shared<std::atomic<int32_t>>(0);
  auto e = start_tiny_engine(peak, /*prefix_caching=*/true);
  ASSERT_TRUE(e);
  constexpr int32_t n = 4;
  std::vector<std::shared_ptr<choices_sink>> singles;
  for (int32_t i = 0; i < n; ++i) {
    singles.push_back(std::make_shared<choices_sink>(1));
    e->submit(sampled_request(1, 77 + static_cast<uint64_t>(i)), singles.back());
  }
  std::multiset<int32_t> cached;
  for (auto& single : singles) {
    ASSERT_TRUE(single->wait_done());
    cached.insert(single->events().back().num_cached_tokens);
  }
  EXPECT_LE(peak->load(), 7 + n * 3);
  // The first admitted computes the prompt; the others start on its 7 full blocks, whether
  // admitted in the same step (registered before they look) or later.
  EXPECT_EQ(cached, (std::multiset<int32_t>{0, 28, 28, 28}));
  EXPECT_EQ(e->stats().num_prefix_cache_hits, 3 * 28);
  EXPECT_EQ(e->stats().num_prefix_cache_queries, 4 * 30);
}

TEST(ParallelSampling, ChoicesTokenizeTheirPromptOnce) {
  auto tokenizer = std::make_shared<counting_tokenizer>();
  testing::fake_runner_options options;
  auto started = start_engine(quiet_config(), tokenizer,
                              std::make_unique<testing::fake_runner>(
                                  options, std::make_shared<testing::fake_runner_probe>()),
                              256);
  ASSERT_TRUE(started.ok());
  auto sink = std::make_shared<choices_sink>(5);
  generation_request request;
  request.prompt = "tokenized once for five choices";
  request.max_tokens = 3;
  request.n = 5;
  (*started)->submit(request, sink);
  ASSERT_TRUE(sink->wait_done());
  EXPECT_EQ(sink->finish_by_index().size(), 5u);
  EXPECT_EQ(tokenizer->num_encodes.load(), 1);
}

// vLLM's return_token_ids: each choice's first event carries the prompt's ids (no prompt
// logprobs were asked for, so none come with them), and no later event does.
TEST(ParallelSampling, EveryChoicesFirstEventCarriesThePromptIds) {
  auto tokenizer = std::make_shared<counting_tokenizer>();
  auto started = start_engine(
      quiet_config(), tokenizer,
      std::make_unique<testing::fake_runner>(testing::fake_runner_options{},
                                             std::make_shared<testing::fake_runner_probe>()),
      256);
  ASSERT_TRUE(started.ok());
  generation_request request;
  request.prompt = "ids for three choices";
  request.max_tokens = 3;
  request.n = 3;
  request.return_prompt_token_ids = true;
  auto sink = std::make_shared<choices_sink>(3);
  (*started)->submit(request, sink);
  ASSERT_TRUE(sink->wait_done());
  const std::vector<int32_t> prompt = tokenizer->encode(request.prompt, true);
  std::set<int32_t> seen;
  for (const auto& e : sink->events()) {
    ASSERT_FALSE(e.error) << *e.error;
    EXPECT_TRUE(e.prompt_logprobs.empty());
    if (seen.insert(e.index).second) {
      EXPECT_EQ(e.prompt_token_ids, prompt) << "choice " << e.index;
    } else {
      EXPECT_TRUE(e.prompt_token_ids.empty()) << "choice " << e.index;
    }
  }
  EXPECT_EQ(seen.size(), 3u);

  request.return_prompt_token_ids = false;  // and without it, none
  auto plain = std::make_shared<choices_sink>(3);
  (*started)->submit(request, plain);
  ASSERT_TRUE(plain->wait_done());
  for (const auto& e : plain->events())
    EXPECT_TRUE(e.prompt_token_ids.empty());
}

struct fake_engine {
  explicit fake_engine(testing::fake_runner_options options,
                       runtime::engine_config config = quiet_config()) {
    probe = std::make_shared<testing::fake_runner_probe>();
    auto started = start_engine(config, std::make_shared<testing::byte_tokenizer>(),
                                std::make_unique<testing::fake_runner>(options, probe), 256);
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : started.message());
    if (started.ok()) eng = std::move(started.value());
  }
  bool wait_idle() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto s = eng->stats();
      if (s.num_kv_blocks_used == 0 && s.num_live_requests == 0 && s.num_running == 0) return true;
      std::this_thread::sleep_for(2ms);
    }
    return false;
  }
  std::shared_ptr<testing::fake_runner_probe> probe;
  std::unique_ptr<engine> eng;
};

generation_request fake_request(const std::string& prompt, int32_t n, int32_t max_tokens) {
  generation_request request;
  request.prompt = prompt;
  request.max_tokens = max_tokens;
  request.ignore_eos = true;
  request.n = n;
  return request;
}

// The fake model reads every token back from the paged cache, so a wrong share or a shared
// block overwritten changes the text; a KV cache of 24 blocks of 4 forces preemptions.
TEST(ParallelSampling, ChoicesReadTheirPromptFromSharedBlocksUnderPreemption) {
  testing::fake_runner_options options;
  options.num_kv_blocks = 24;
  // Steps take a while, so the choices run together (a first choice that finished before the
  // others started would leave them room enough: no preemption).
  options.step_sleep = 500us;
  fake_engine f(options);
  ASSERT_TRUE(f.eng);
  const std::string prompt = "The choices of this prompt share blocks";
  auto sink = std::make_shared<choices_sink>(4);
  f.eng->submit(fake_request(prompt, 4, 40), sink);
  ASSERT_TRUE(sink->wait_done());
  const auto expected = testing::fake_generate(testing::byte_tokenizer{}.encode(prompt, true), 40);
  const auto choices = sink->tokens_by_index();
  ASSERT_EQ(choices.size(), 4u);
  for (const auto& [index, tokens] : choices)
    EXPECT_EQ(tokens, expected) << "choice " << index;
  EXPECT_EQ(f.probe->num_errors.load(), 0);
  EXPECT_GT(f.eng->stats().num_preemptions, 0);
  EXPECT_TRUE(f.wait_idle());
}

TEST(ParallelSampling, AbortStopsEveryChoice) {
  testing::fake_runner_options options;
  options.step_sleep = 2ms;
  fake_engine f(options);
  ASSERT_TRUE(f.eng);
  auto sink = std::make_shared<choices_sink>(3);
  const uint64_t id = f.eng->submit(fake_request("abort all of us", 3, 200), sink);
  std::this_thread::sleep_for(20ms);
  f.eng->abort(id);
  ASSERT_TRUE(sink->wait_done(10s));
  EXPECT_EQ(sink->finish_by_index(),
            (std::map<int32_t, std::string>{{0, "abort"}, {1, "abort"}, {2, "abort"}}));
  EXPECT_TRUE(f.wait_idle());
}

TEST(ParallelSampling, AnErrorIsTheLastEventOfTheWholeRequest) {
  fake_engine f({});
  ASSERT_TRUE(f.eng);
  auto sink = std::make_shared<choices_sink>(3);
  f.eng->submit(fake_request(std::string(300, 'x'), 3, 4), sink);  // longer than max_model_len
  ASSERT_TRUE(sink->wait_done());
  std::this_thread::sleep_for(50ms);  // the other choices' errors would arrive by now
  const auto events = sink->events();
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(events[0].error);
  EXPECT_EQ(events[0].error_status, 400);
  EXPECT_EQ(sink->num_events_after_done(), 0);
  EXPECT_TRUE(f.wait_idle());
}

TEST(ParallelSampling, ShutdownEndsTheRequestWithOneError) {
  testing::fake_runner_options options;
  options.step_sleep = 2ms;
  auto f = std::make_unique<fake_engine>(options);
  ASSERT_TRUE(f->eng);
  auto sink = std::make_shared<choices_sink>(3);
  f->eng->submit(fake_request("still running at shutdown", 3, 200), sink);
  std::this_thread::sleep_for(20ms);
  f.reset();  // stops every actor; each choice's actor reports 503 on exit
  ASSERT_TRUE(sink->wait_done(10s));
  const auto events = sink->events();
  ASSERT_FALSE(events.empty());
  EXPECT_TRUE(events.back().error);
  EXPECT_EQ(events.back().error_status, 503);
  EXPECT_EQ(sink->num_events_after_done(), 0);
}

}  // namespace
}  // namespace troupe::actors
