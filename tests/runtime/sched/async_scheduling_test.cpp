// Async scheduling (vLLM's --async-scheduling) in the scheduler and the executor's state: step
// N+1 is scheduled before step N's tokens are back, its decode tokens placeholders that the
// executor (sequence_states) fills in with what it sampled in step N. The requests' outputs must
// be exactly those of synchronous scheduling, whatever finishes, aborts or preemptions happen
// while a step is in flight, and nothing may leak. Pipeline parallelism's scheduling (up to one
// step a stage in flight, no placeholders: a request waits for its sampled token) is held to the
// same outputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/sched/scheduler.hpp"
#include "runtime/sequence_states.hpp"

namespace troupe::runtime {
namespace {

constexpr int32_t block_size = 4;

request_spec make_request(uint64_t id, std::vector<int32_t> prompt, int32_t max_tokens,
                          std::vector<int32_t> stops = {}) {
  request_spec spec;
  spec.id = id;
  spec.prompt_token_ids = std::move(prompt);
  spec.max_tokens = max_tokens;
  spec.stop_token_ids = std::move(stops);
  spec.cache_prefix = true;
  return spec;
}

std::vector<int32_t> iota_prompt(int32_t n, int32_t first = 1) {
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < n; ++i)
    prompt.push_back(first + i);
  return prompt;
}

struct request_result {
  std::vector<int32_t> tokens;
  finish_reason finish = finish_reason::none;
};

// The scheduler, the allocator and the executor's side, driven with up to `depth` steps in
// flight (1: synchronous; 2: async scheduling). The model keeps a paged KV of token ids and
// samples from what it reads back through the sequence's table, so a placeholder filled in
// wrongly, or a block written under another holder, changes the outputs.
class pipeline {
 public:
  pipeline(scheduler_config config, int32_t num_blocks, size_t depth)
      : sched(config),
        alloc(num_blocks, config.block_size),
        depth_(depth),
        kv_(static_cast<size_t>(num_blocks * config.block_size), -1) {}

  void add(request_spec spec) { ASSERT_TRUE(sched.add_request(std::move(spec)).ok()); }

  // Schedules a step and runs it at once on the executor's side (the executor runs the steps in
  // the order they are sent); false when the plan is empty.
  bool send() {
    step_plan plan = sched.schedule(alloc);
    if (plan.empty()) return false;
    for (int32_t t : plan.delta.token_ids)
      num_placeholders += t == placeholder_token;
    auto batch = states.apply(plan.delta);
    EXPECT_TRUE(batch.ok()) << batch.message();
    if (!batch) return false;
    auto sampled = model(*batch);
    states.record_sampled(sampled);
    flight_.push_back({std::move(plan), std::move(sampled)});
    max_in_flight = std::max(max_in_flight, flight_.size());
    return true;
  }

  // The oldest step's tokens reach the scheduler.
  void receive() {
    auto [plan, sampled] = std::move(flight_.front());
    flight_.pop_front();
    std::vector<uint64_t> finished;
    for (auto& out : sched.update(plan, sampled)) {
      auto& result = results[out.request_id];
      result.tokens.insert(result.tokens.end(), out.new_token_ids.begin(), out.new_token_ids.end());
      result.finish = out.finish;
      if (out.finish != finish_reason::none) finished.push_back(out.request_id);
    }
    alloc.release(finished);
  }

  void run_to_completion() {
    for (int32_t i = 0; i < 20000; ++i) {
      if (flight_.size() < depth_ && sched.has_work() && send()) continue;
      if (flight_.empty()) break;
      receive();
    }
    EXPECT_FALSE(sched.has_work());
    EXPECT_EQ(alloc.cache().num_free_blocks(), alloc.cache().num_blocks());
    EXPECT_EQ(alloc.cache().num_requests(), 0);
    states.release(sched.take_released());
    EXPECT_EQ(states.num_sequences(), 0);
  }

  size_t num_in_flight() const { return flight_.size(); }
  const step_plan& newest_plan() const { return flight_.back().plan; }
  size_t max_in_flight = 0;  // the most steps that were in flight at once

  scheduler sched;
  kv_allocator alloc;
  sequence_states states;
  std::map<uint64_t, request_result> results;
  int32_t num_placeholders = 0;

 private:
  struct step {
    step_plan plan;
    std::vector<sampled_token> sampled;
  };

  std::vector<sampled_token> model(const step_batch& batch) {
    std::vector<sampled_token> sampled;
    size_t offset = 0;
    for (const auto& seq : batch.seqs) {
      for (int32_t i = 0; i < seq.num_tokens; ++i)
        kv_[slot(seq, seq.start_pos + i)] = batch.token_ids[offset + static_cast<size_t>(i)];
      offset += static_cast<size_t>(seq.num_tokens);
      if (!seq.sample) continue;
      int64_t h = 0;
      for (int32_t p = 0; p < seq.start_pos + seq.num_tokens; ++p)
        h += (p + 1) * int64_t{kv_[slot(seq, p)]};
      sampled.push_back({seq.seq_id, 10 + static_cast<int32_t>(h % 90), 0.0f});
    }
    return sampled;
  }

  size_t slot(const seq_step& seq, int32_t pos) const {
    const int32_t bs = sched.config().block_size;
    return static_cast<size_t>(seq.block_table[static_cast<size_t>(pos / bs)] * bs + pos % bs);
  }

  size_t depth_;
  std::deque<step> flight_;
  std::vector<int32_t> kv_;
};

scheduler_config config(int32_t max_num_seqs = 8, int32_t budget = 32) {
  return {max_num_seqs, budget, true, 256, block_size, block_hash_algo::sha256};
}

TEST(AsyncScheduling, TheNextStepFeedsAPlaceholderTheExecutorFillsIn) {
  pipeline p(config(), 32, 2);
  p.add(make_request(1, iota_prompt(6), 4));
  ASSERT_TRUE(p.send());  // the prompt
  ASSERT_TRUE(p.send());  // its first output, not known yet
  EXPECT_EQ(p.num_placeholders, 1);
  EXPECT_EQ(p.sched.find(1)->num_output_placeholders, 2);
  p.receive();
  EXPECT_EQ(p.results[1].tokens.size(), 1u);
  EXPECT_EQ(p.sched.find(1)->num_output_placeholders, 1);
  p.run_to_completion();
  EXPECT_EQ(p.results[1].tokens.size(), 4u);
  EXPECT_EQ(p.results[1].finish, finish_reason::length);

  pipeline sync(config(), 32, 1);
  sync.add(make_request(1, iota_prompt(6), 4));
  sync.run_to_completion();
  EXPECT_EQ(sync.num_placeholders, 0);
  EXPECT_EQ(p.results[1].tokens, sync.results[1].tokens);
}

// max_tokens 2: the second output is its last whatever it is, so nothing follows it.
TEST(AsyncScheduling, ARequestWhoseLastTokenIsInFlightIsNotScheduledAgain) {
  pipeline p(config(), 32, 2);
  p.add(make_request(1, iota_prompt(5), 2));
  ASSERT_TRUE(p.send());
  ASSERT_TRUE(p.send());
  EXPECT_FALSE(p.send());
  EXPECT_EQ(p.sched.num_running(), 1);
  p.receive();
  EXPECT_FALSE(p.send());
  p.receive();
  EXPECT_EQ(p.results[1].finish, finish_reason::length);
  EXPECT_EQ(p.results[1].tokens.size(), 2u);
  p.run_to_completion();
}

// The first output is a stop token, but the step after it was already sent: its token is
// dropped, and the request's blocks and state are released all the same.
TEST(AsyncScheduling, AStopTokenDropsTheTokenScheduledAfterIt) {
  pipeline probe(config(), 32, 1);
  probe.add(make_request(1, iota_prompt(7), 1));
  probe.run_to_completion();
  const int32_t first = probe.results[1].tokens.at(0);

  pipeline p(config(), 32, 2);
  p.add(make_request(1, iota_prompt(7), 10, {first}));
  ASSERT_TRUE(p.send());
  ASSERT_TRUE(p.send());
  p.receive();
  EXPECT_EQ(p.results[1].finish, finish_reason::stop);
  EXPECT_EQ(p.sched.find(1), nullptr);
  EXPECT_EQ(p.sched.num_running(), 0);
  p.receive();  // the dropped token
  EXPECT_EQ(p.results[1].tokens, std::vector<int32_t>{first});
  p.run_to_completion();
}

TEST(AsyncScheduling, AnAbortWhileStepsAreInFlightDropsTheirTokens) {
  pipeline p(config(), 32, 2);
  p.add(make_request(1, iota_prompt(7), 10));
  p.add(make_request(2, iota_prompt(9, 40), 10));
  ASSERT_TRUE(p.send());
  ASSERT_TRUE(p.send());
  ASSERT_TRUE(p.sched.abort(1));
  const std::vector<uint64_t> aborted = {1};
  p.alloc.release(aborted);
  p.receive();
  p.receive();
  EXPECT_EQ(p.results.count(1), 0u);
  EXPECT_EQ(p.results[2].tokens.size(), 2u);
  p.run_to_completion();
  EXPECT_EQ(p.results[2].tokens.size(), 10u);
}

// An output block is full once a placeholder's token is in it; its hash is known only when that
// token comes back, so the block is registered with the next step. A second request that
// continues the first one's text then finds it in the prefix cache, as without async scheduling.
TEST(AsyncScheduling, OutputBlocksFilledByPlaceholdersStillEnterThePrefixCache) {
  for (size_t depth : {1u, 2u}) {
    SCOPED_TRACE("steps in flight: " + std::to_string(depth));
    pipeline p(config(), 32, depth);
    p.add(make_request(1, iota_prompt(6), 6));  // block 1 = 2 prompt tokens + outputs 0, 1
    p.run_to_completion();
    auto continued = iota_prompt(6);
    continued.insert(continued.end(), p.results[1].tokens.begin(), p.results[1].tokens.end());
    p.add(make_request(2, continued, 1));
    p.run_to_completion();
    // Blocks 0 and 1 are hits; block 2 (outputs 2..5) was filled by the last output, which no
    // step fed.
    EXPECT_EQ(p.alloc.stats().num_hits, 2 * block_size);
  }
}

// Many requests with shared prefixes, stop tokens, varied lengths and a cache too small for all:
// preemptions and finishes happen while steps are in flight. Every request's outputs equal
// synchronous scheduling's.
// 40 requests with stop tokens on a cache tight enough to preempt, run with `depth` steps in
// flight under `cfg`.
pipeline run_mixed_load(const scheduler_config& cfg, size_t depth) {
  std::mt19937 rng(7);
  pipeline p(cfg, 24, depth);
  for (uint64_t id = 1; id <= 40; ++id) {
    std::vector<int32_t> prompt = iota_prompt(4 + static_cast<int32_t>(id % 3) * 4);
    const auto extra = static_cast<int32_t>(rng() % 20);
    for (int32_t i = 0; i < extra; ++i)
      prompt.push_back(1 + static_cast<int32_t>(rng() % 90));
    const auto max_tokens = 1 + static_cast<int32_t>(rng() % 30);
    p.add(make_request(id, prompt, max_tokens, {10, 11, 12, 13}));
  }
  p.run_to_completion();
  EXPECT_EQ(p.results.size(), 40u);
  return p;
}

void expect_same_outputs(const pipeline& got, const pipeline& want) {
  for (const auto& [id, result] : want.results) {
    EXPECT_EQ(got.results.at(id).tokens, result.tokens) << "request " << id;
    EXPECT_EQ(got.results.at(id).finish, result.finish) << "request " << id;
  }
}

TEST(AsyncScheduling, OutputsEqualSynchronousSchedulingUnderPreemption) {
  const auto sync = run_mixed_load(config(6, 24), 1);
  EXPECT_GT(sync.sched.num_preemptions(), 0);
  const auto async = run_mixed_load(config(6, 24), 2);
  EXPECT_GT(async.num_placeholders, 100);
  EXPECT_GT(async.sched.num_preemptions(), 0) << "the cache was never tight";
  expect_same_outputs(async, sync);
}

// -- pipeline parallelism: several steps in flight, no placeholders --

scheduler_config pipeline_config(int32_t max_num_seqs = 8, int32_t budget = 32,
                                 int32_t stages = 2) {
  auto c = config(max_num_seqs, budget);
  c.pipeline_stages = stages;
  return c;
}

TEST(PipelineScheduling, ARequestWaitsForItsSampledTokenWhileOthersFillTheNextStep) {
  pipeline p(pipeline_config(), 32, 2);
  p.add(make_request(1, iota_prompt(6), 4));
  ASSERT_TRUE(p.send());   // 1's prompt, sampling its first output
  EXPECT_FALSE(p.send());  // nothing else to run: 1 waits for its token
  p.add(make_request(2, iota_prompt(9, 20), 4));
  ASSERT_TRUE(p.send());  // 2's prompt only
  ASSERT_EQ(p.newest_plan().delta.seqs.size(), 1u);
  EXPECT_EQ(p.newest_plan().delta.seqs[0].seq_id, 2u);
  p.receive();  // 1's token is back: 1 runs beside 2's first output's wait
  ASSERT_TRUE(p.send());
  ASSERT_EQ(p.newest_plan().delta.seqs.size(), 1u);
  EXPECT_EQ(p.newest_plan().delta.seqs[0].seq_id, 1u);
  p.run_to_completion();
  EXPECT_EQ(p.num_placeholders, 0);
  EXPECT_EQ(p.results[1].tokens.size(), 4u);
  EXPECT_EQ(p.results[2].tokens.size(), 4u);
}

// A prompt's chunks that sample nothing go on in the steps behind each other.
TEST(PipelineScheduling, PromptChunksContinueWhileTheChunkBeforeIsInFlight) {
  pipeline p(pipeline_config(8, 4, 3), 32, 3);
  p.add(make_request(1, iota_prompt(10), 2));
  ASSERT_TRUE(p.send());  // tokens 0-3
  ASSERT_TRUE(p.send());  // 4-7
  ASSERT_TRUE(p.send());  // 8-9, sampling
  EXPECT_EQ(p.num_in_flight(), 3u);
  EXPECT_TRUE(p.newest_plan().delta.seqs[0].sample);
  p.run_to_completion();
  EXPECT_EQ(p.results[1].tokens.size(), 2u);
}

// With three steps in flight, the step after the one that preempted a request whose token is
// still in flight is proposed before that token is back: the request is not a candidate until
// then (readmitted, it would compute without that token and sample its index twice).
TEST(PipelineScheduling, ARequestPreemptedWhileItsTokenIsInFlightWaitsForItBeforeReadmission) {
  scheduler s(pipeline_config());
  kv_allocator alloc(32, block_size);
  ASSERT_TRUE(s.add_request(make_request(1, iota_prompt(6), 4)).ok());
  const step_plan first = s.schedule(alloc);  // the prompt; its first output in flight
  ASSERT_EQ(first.delta.seqs.size(), 1u);
  const step_proposal next = s.propose();
  ASSERT_EQ(next.running_rest, std::vector<uint64_t>{1});
  step_grant preempting;  // the allocator took its blocks for another request
  preempting.preempted = {1};
  EXPECT_TRUE(s.finalize(next, preempting).empty());
  EXPECT_TRUE(s.propose().waiting.empty()) << "readmitted before its token came back";
  s.update(first, std::vector<sampled_token>{{1, 42, 0.0f}});
  const step_proposal after = s.propose();
  ASSERT_EQ(after.waiting.size(), 1u);
  EXPECT_EQ(after.waiting[0].num_tokens, 7);  // the prompt and the token that came back
}

// Eight requests that arrive together split into two groups of four that take turns, so both
// stages always have a step to run.
TEST(PipelineScheduling, ABurstOfRequestsSplitsIntoOneGroupAStage) {
  pipeline p(pipeline_config(8, 64), 64, 2);
  for (uint64_t id = 1; id <= 8; ++id)
    p.add(make_request(id, iota_prompt(3, static_cast<int32_t>(id) * 10), 6));
  auto ids = [&] {
    std::vector<uint64_t> out;
    for (const auto& seq : p.newest_plan().delta.seqs)
      out.push_back(seq.seq_id);
    return out;
  };
  ASSERT_TRUE(p.send());
  EXPECT_EQ(ids(), (std::vector<uint64_t>{1, 2, 3, 4}));
  ASSERT_TRUE(p.send());
  EXPECT_EQ(ids(), (std::vector<uint64_t>{5, 6, 7, 8}));
  p.receive();
  ASSERT_TRUE(p.send());
  EXPECT_EQ(ids(), (std::vector<uint64_t>{1, 2, 3, 4}));
  p.receive();
  ASSERT_TRUE(p.send());
  EXPECT_EQ(ids(), (std::vector<uint64_t>{5, 6, 7, 8}));
  p.run_to_completion();
  for (uint64_t id = 1; id <= 8; ++id)
    EXPECT_EQ(p.results[id].tokens.size(), 6u) << id;
}

TEST(PipelineScheduling, OutputsEqualSynchronousSchedulingUnderPreemption) {
  const auto sync = run_mixed_load(config(6, 24), 1);
  for (size_t depth : {2u, 3u}) {
    SCOPED_TRACE("steps in flight: " + std::to_string(depth));
    const auto p = run_mixed_load(pipeline_config(6, 24, static_cast<int32_t>(depth)), depth);
    EXPECT_EQ(p.num_placeholders, 0);
    EXPECT_EQ(p.max_in_flight, depth);
    EXPECT_GT(p.sched.num_preemptions(), 0) << "the cache was never tight";
    expect_same_outputs(p, sync);
  }
}

// -- the executor's side --

step_delta admit_one(uint64_t id, int32_t num_prompt) {
  step_delta delta;
  delta.admitted.push_back({id, {}, num_prompt, 0, {}});
  delta.seqs.push_back({id, num_prompt, true, {0, 1}});
  delta.token_ids = iota_prompt(num_prompt);
  return delta;
}

step_delta decode(uint64_t id, int32_t token) {
  step_delta delta;
  delta.seqs.push_back({id, 1, true, {}});
  delta.token_ids = {token};
  return delta;
}

TEST(SequenceStatesPlaceholders, APlaceholderBecomesTheTokenSampledForIt) {
  sequence_states states;
  ASSERT_TRUE(states.apply(admit_one(7, 5)).ok());
  const std::vector<sampled_token> sampled = {{7, 42, 0.0f}};
  states.record_sampled(sampled);
  auto batch = states.apply(decode(7, placeholder_token));
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->token_ids, std::vector<int32_t>{42});
  EXPECT_EQ(batch->seqs.at(0).start_pos, 5);
  // Used up: the next placeholder needs the next step's token.
  EXPECT_FALSE(states.apply(decode(7, placeholder_token)).ok());
}

TEST(SequenceStatesPlaceholders, PlaceholdersOutsideADecodeAfterASampleAreRefused) {
  sequence_states states;
  step_delta admitted_with_placeholder = admit_one(7, 5);
  admitted_with_placeholder.token_ids.back() = placeholder_token;
  EXPECT_FALSE(states.apply(admitted_with_placeholder).ok());  // several tokens, not held
  ASSERT_TRUE(states.apply(admit_one(7, 5)).ok());
  auto not_sampled = states.apply(decode(7, placeholder_token));  // nothing recorded
  ASSERT_FALSE(not_sampled.ok());
  EXPECT_NE(not_sampled.message().find("no token sampled"), std::string::npos);
  EXPECT_FALSE(states.apply(decode(8, placeholder_token)).ok());  // not running
}

// After a failed step a placeholder has no token: it becomes 0 so that every rank runs the next
// step alike (the batcher fails that step anyway).
TEST(SequenceStatesPlaceholders, AfterAFailedStepAPlaceholderBecomesTokenZero) {
  sequence_states states;
  ASSERT_TRUE(states.apply(admit_one(7, 5)).ok());
  states.record_failed_step();
  auto batch = states.apply(decode(7, placeholder_token));
  ASSERT_TRUE(batch.ok()) << batch.message();
  EXPECT_EQ(batch->token_ids, std::vector<int32_t>{0});
}

}  // namespace
}  // namespace troupe::runtime
