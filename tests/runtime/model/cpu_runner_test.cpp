#include "runtime/model/cpu_runner.hpp"

#include <gtest/gtest.h>

#include "runtime/model/sampler.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using testing::random_tokens;
using testing::seq_entry;
using testing::tiny_hparams;
using testing::tiny_llama;

std::unique_ptr<cpu_llama_runner> make_runner() {
  auto r = cpu_llama_runner::create(tiny_llama(tiny_hparams(), 3), 8, 4, 2);
  EXPECT_TRUE(r.ok());
  return std::move(r).value();
}

TEST(cpu_llama_runner, reports_its_shape) {
  auto runner = make_runner();
  EXPECT_EQ(runner->vocab_size(), 97);
  EXPECT_EQ(runner->block_size(), 4);
  EXPECT_EQ(runner->num_kv_blocks(), 8);
  EXPECT_EQ(runner->num_threads(), 2);
}

TEST(cpu_llama_runner, create_rejects_inconsistent_weights) {
  auto w = tiny_llama(tiny_hparams(), 3);
  w.layers[1].w_up.values.pop_back();
  auto r = cpu_llama_runner::create(std::move(w), 8, 4, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.message().find("layer 1.w_up"), std::string::npos) << r.message();
  auto hp = tiny_hparams();
  hp.num_kv_heads = 3;
  EXPECT_FALSE(cpu_llama_runner::create(tiny_llama(hp, 3), 8, 4, 1).ok());
  EXPECT_FALSE(cpu_llama_runner::create(tiny_llama(tiny_hparams(), 3), 0, 4, 1).ok());
}

TEST(cpu_llama_runner, validate_names_what_is_wrong) {
  auto runner = make_runner();
  step_batch ok;
  ok.token_ids = {1, 2, 3, 4, 5};
  ok.seqs = {seq_entry(1, 0, 5, {3, 6})};
  EXPECT_TRUE(runner->validate(ok).ok());
  auto short_table = ok;
  short_table.seqs[0].block_table = {3};
  EXPECT_NE(runner->validate(short_table).message().find("too short"), std::string::npos);
  auto bad_block = ok;
  bad_block.seqs[0].block_table = {3, 8};
  EXPECT_NE(runner->validate(bad_block).message().find("block id 8"), std::string::npos);
  auto bad_token = ok;
  bad_token.token_ids[2] = 97;
  EXPECT_NE(runner->validate(bad_token).message().find("token id 97"), std::string::npos);
  auto bad_count = ok;
  bad_count.token_ids.pop_back();
  EXPECT_FALSE(runner->validate(bad_count).ok());
  auto too_long = ok;  // 8 blocks of 4 hold 32 positions at most
  too_long.seqs[0].start_pos = 30;
  too_long.seqs[0].block_table.assign(9, 0);
  EXPECT_NE(runner->validate(too_long).message().find("beyond the KV cache"), std::string::npos);
  auto empty_seq = ok;
  empty_seq.seqs[0].num_tokens = 0;
  EXPECT_FALSE(runner->validate(empty_seq).ok());
}

TEST(cpu_llama_runner, empty_step_is_a_no_op) {
  auto runner = make_runner();
  EXPECT_TRUE(runner->execute(step_batch{}).empty());
  EXPECT_TRUE(runner->forward_logits(step_batch{}).empty());
}

TEST(cpu_llama_runner_death, execute_aborts_on_a_malformed_batch) {
  auto runner = make_runner();
  step_batch bad;
  bad.token_ids = {1, 2};
  bad.seqs = {seq_entry(1, 0, 2, {42})};
  EXPECT_DEATH(runner->execute(bad), "block id 42");
}

TEST(cpu_llama_runner, execute_samples_per_sequence_in_order) {
  auto runner = make_runner();
  step_batch batch;
  batch.token_ids = random_tokens(9, 97, 4);
  batch.seqs = {seq_entry(10, 0, 4, {0}), seq_entry(11, 0, 2, {1}, false),
                seq_entry(12, 0, 3, {2})};
  batch.seqs[2].sampling.temperature = 1.0f;
  batch.seqs[2].sampling.seed = 99;
  for (int i : {0, 2})
    batch.seqs[i].sampling.logprobs = true;
  auto logits = runner->forward_logits(batch);  // same step again: K/V rewritten identically
  auto out = runner->execute(batch);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].seq_id, 10u);
  EXPECT_EQ(out[1].seq_id, 12u);
  std::span<const float> first(logits.data(), 97), third(logits.data() + 97, 97);
  EXPECT_EQ(out[0].token_id, argmax(first));
  EXPECT_FLOAT_EQ(out[0].logprob, log_softmax_at(first, out[0].token_id));
  EXPECT_EQ(out[1].token_id, sample_token(third, batch.seqs[2].sampling, 0).token_id);
  EXPECT_LT(out[1].logprob, 0.0f);
}

}  // namespace
}  // namespace troupe::runtime
