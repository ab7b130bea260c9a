// The scheduler's stop conditions: EOS-class tokens, the request's own stop_token_ids (reported
// as the stop reason), ignore_eos, min_tokens; logprobs passed through; the penalty history.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/sched/scheduler.hpp"
#include "runtime/sequence_states.hpp"

namespace troupe::runtime {
namespace {

struct one_request {
  explicit one_request(request_spec spec) : sched(scheduler_config{}), alloc(64, 4) {
    EXPECT_TRUE(sched.add_request(std::move(spec)).ok());
  }

  // Steps until the request finishes, sampling `script[i]` as output token i.
  std::vector<request_output> run(const std::vector<int32_t>& script) {
    std::vector<request_output> outputs;
    for (int32_t step = 0; step < 100 && sched.has_work(); ++step) {
      auto plan = sched.schedule(alloc);
      auto batch = states.apply(plan.delta);
      EXPECT_TRUE(batch.ok()) << batch.message();
      if (!batch) break;
      std::vector<sampled_token> sampled;
      for (const auto& seq : batch->seqs) {
        if (!seq.sample) continue;
        if (!seq.token_history.empty())
          histories.emplace_back(seq.token_history.begin(), seq.token_history.end());
        const int32_t token = script.at(size_t(seq.output_index));
        sampled.push_back({seq.seq_id, token, -0.5f * float(token), {{token, -0.1f}}});
      }
      for (auto& out : sched.update(plan, sampled))
        outputs.push_back(std::move(out));
    }
    return outputs;
  }

  scheduler sched;
  kv_allocator alloc;
  sequence_states states;  // the executor's side
  std::vector<std::vector<int32_t>> histories;
};

request_spec spec_with(std::vector<int32_t> eos, std::vector<int32_t> stops, int32_t max_tokens) {
  request_spec spec;
  spec.id = 7;
  spec.prompt_token_ids = {1, 2, 3};
  spec.max_tokens = max_tokens;
  spec.stop_token_ids = std::move(eos);
  spec.request_stop_token_ids = std::move(stops);
  return spec;
}

TEST(stop_conditions, eos_stops_without_a_reason) {
  one_request r(spec_with({0}, {50}, 10));
  auto out = r.run({40, 41, 0, 42});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out.back().finish, finish_reason::stop);
  EXPECT_EQ(out.back().stop_token_id, -1);
  EXPECT_TRUE(out.back().sampled.empty());  // no logprobs asked for
}

TEST(stop_conditions, a_stop_token_id_is_the_stop_reason_and_is_kept) {
  one_request r(spec_with({0}, {50, 51}, 10));
  auto out = r.run({40, 51, 0});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.back().new_token_ids, std::vector<int32_t>{51});
  EXPECT_EQ(out.back().finish, finish_reason::stop);
  EXPECT_EQ(out.back().stop_token_id, 51);
  EXPECT_EQ(out.front().stop_token_id, -1);
}

TEST(stop_conditions, ignore_eos_keeps_going_but_honours_stop_token_ids) {
  auto spec = spec_with({0}, {50}, 10);
  spec.ignore_eos = true;
  one_request r(spec);
  auto out = r.run({0, 0, 50, 1});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out.back().stop_token_id, 50);
  auto spec2 = spec_with({0}, {}, 3);
  spec2.ignore_eos = true;
  one_request r2(spec2);
  auto out2 = r2.run({0, 0, 0, 0});
  ASSERT_EQ(out2.size(), 3u);
  EXPECT_EQ(out2.back().finish, finish_reason::length);
}

TEST(stop_conditions, min_tokens_defers_every_stop_token) {
  auto spec = spec_with({0}, {50}, 10);
  spec.sampling.min_tokens = 3;
  one_request r(spec);
  auto out = r.run({0, 50, 0, 50});
  ASSERT_EQ(out.size(), 3u);  // outputs 1 and 2 are below min_tokens; output 3 (EOS) stops
  EXPECT_EQ(out.back().finish, finish_reason::stop);
  EXPECT_EQ(out.back().stop_token_id, -1);
  EXPECT_EQ(out[1].finish, finish_reason::none);
}

TEST(stop_conditions, max_tokens_still_ends_a_request_inside_min_tokens) {
  auto spec = spec_with({0}, {}, 2);
  spec.sampling.min_tokens = 5;
  one_request r(spec);
  auto out = r.run({4, 4, 4});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out.back().finish, finish_reason::length);
}

TEST(stop_conditions, logprobs_travel_with_the_outputs) {
  auto spec = spec_with({0}, {}, 2);
  spec.return_logprobs = true;
  one_request r(spec);
  auto out = r.run({4, 6});
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[1].sampled.size(), 1u);
  EXPECT_EQ(out[1].sampled[0].token_id, 6);
  EXPECT_FLOAT_EQ(out[1].sampled[0].logprob, -3.0f);
  EXPECT_EQ(out[1].sampled[0].top_logprobs.size(), 1u);
}

TEST(stop_conditions, penalties_get_the_token_history_at_every_sampling_step) {
  auto spec = spec_with({0}, {}, 3);
  spec.sampling.repetition_penalty = 1.5f;
  one_request r(spec);
  r.run({4, 5, 6});
  ASSERT_EQ(r.histories.size(), 3u);
  EXPECT_EQ(r.histories[0], (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(r.histories[2], (std::vector<int32_t>{1, 2, 3, 4, 5}));
  one_request plain(spec_with({0}, {}, 2));
  plain.run({4, 5});
  EXPECT_TRUE(plain.histories.empty());  // no penalties: no history kept
}

}  // namespace
}  // namespace troupe::runtime
