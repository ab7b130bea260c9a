// The messages that reach the executor leave nothing out: each goes through CAF's binary
// serializer and back equal in every field (so an executor could live in another process or on
// another node), and a decode step costs bytes per sequence, not per token of context.
#include "actors/messages.hpp"

#include <gtest/gtest.h>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <cstdio>
#include <vector>

namespace troupe::actors {
namespace {

template <class T>
std::vector<char> serialize(T value) {
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  EXPECT_FALSE(sink(value));
  return buf;
}

template <class T>
T round_trip(const T& value) {
  const auto buf = serialize(value);
  T copy;
  caf::binary_deserializer source{nullptr, buf};
  EXPECT_FALSE(source(copy));
  return copy;
}

// Every field set, none to its default.
runtime::sampling_params every_sampling_field() {
  runtime::sampling_params p;
  p.temperature = 0.7f;
  p.top_p = 0.9f;
  p.top_k = 40;
  p.min_p = 0.05f;
  p.presence_penalty = 0.5f;
  p.frequency_penalty = -0.25f;
  p.repetition_penalty = 1.2f;
  p.min_tokens = 3;
  p.num_top_logprobs = 5;
  p.seed = 0x1234'5678'9abc'def0;
  p.logit_bias = {{3, 1.5f}, {700, -100.0f}};
  p.min_tokens_stop_ids = {2, 128001};
  return p;
}

TEST(Messages, ExecuteStepRoundTripsEveryField) {
  execute_step msg;
  msg.delta.released = {4, 9};
  msg.delta.admitted = {{11, every_sampling_field(), 6, 4, {1, 2, 3, 4}}};
  msg.delta.seqs = {{5, 1, true, {17}}, {11, 2, false, {30, 31}}};
  msg.delta.token_ids = {42, 5, 6};
  const execute_step copy = round_trip(msg);
  EXPECT_EQ(copy.delta, msg.delta);
  EXPECT_EQ(copy.delta.admitted.at(0).sampling, every_sampling_field());
}

TEST(Messages, ReleaseSequencesRoundTrips) {
  const release_sequences msg{{1, 2, uint64_t{1} << 40}};
  EXPECT_EQ(round_trip(msg).seq_ids, msg.seq_ids);
}

TEST(Messages, StepExecutedRoundTrips) {
  const step_executed msg{{{5, 42, -0.5f, {{42, -0.5f}, {7, -1.25f}}}, {11, 3, -2.0f, {}}}};
  const step_executed copy = round_trip(msg);
  ASSERT_EQ(copy.tokens.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(copy.tokens[i].seq_id, msg.tokens[i].seq_id);
    EXPECT_EQ(copy.tokens[i].token_id, msg.tokens[i].token_id);
    EXPECT_EQ(copy.tokens[i].logprob, msg.tokens[i].logprob);
    EXPECT_EQ(copy.tokens[i].top_logprobs, msg.tokens[i].top_logprobs);
  }
}

// The request a batcher receives carries its sampling settings whole, logit_bias and the
// min_tokens stop ids included.
TEST(Messages, RequestSpecRoundTripsItsSampling) {
  runtime::request_spec spec;
  spec.id = 8;
  spec.prompt_token_ids = {1, 2, 3};
  spec.sampling = every_sampling_field();
  spec.cache_prefix = true;
  spec.cache_salt = "salt";
  const auto copy = round_trip(spec);
  EXPECT_EQ(copy.sampling, spec.sampling);
  EXPECT_EQ(copy.prompt_token_ids, spec.prompt_token_ids);
  EXPECT_EQ(copy.cache_salt, spec.cache_salt);
}

// 16 sequences decoding at 2k tokens of context (block tables of 128 blocks of 16): the step is
// each sequence's id, token count, sample flag and, for one in 16, a new block, plus the 16
// tokens. A whole table per sequence per step (the old shape) was 9330 bytes without the
// penalties' history (which it could not carry: 128 KiB more at 2k tokens).
TEST(Messages, ADecodeStepCostsBytesPerSequence) {
  execute_step msg;
  for (uint64_t s = 0; s < 16; ++s) {
    std::vector<int32_t> new_blocks;
    if (s == 0) new_blocks.push_back(2048);  // crossing a block boundary this step
    msg.delta.seqs.push_back({1000 + s, 1, true, new_blocks});
    msg.delta.token_ids.push_back(int32_t(100 + s));
  }
  const size_t bytes = serialize(msg).size();
  std::printf("decode step, 16 sequences at 2k context: %zu bytes\n", bytes);
  EXPECT_LT(bytes, 16u * 32u);
}

}  // namespace
}  // namespace troupe::actors
