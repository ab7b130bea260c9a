#include "runtime/model/cpu_runner.hpp"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>
#include <string>
#include <thread>

#include "runtime/model/sampler.hpp"
#include "tests/runtime/model/greedy_decode.hpp"
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

// TROUPE_CPU_OP_TIMES' totals: each op of a step counted once per call under its name (products by
// format and shape), every layer's attention and cache store included; nothing while off.
TEST(cpu_llama_runner, op_timing_counts_every_op_of_every_step) {
  auto runner = make_runner();
  auto& cpu = dynamic_cast<backend::cpu_backend&>(runner->compute());
  step_batch step;
  step.token_ids = {1, 2, 3, 4, 5};
  step.seqs = {seq_entry(1, 0, 5, {3, 6})};
  runner->execute(step);
  EXPECT_TRUE(cpu.op_times().empty());  // off by default
  cpu.enable_op_timing(1000);
  for (int i = 0; i < 2; ++i)
    runner->execute(step);
  std::map<std::string, backend::op_time> by_name;
  double total = 0.0;
  for (const auto& t : cpu.op_times()) {
    by_name[t.op] = t;
    total += t.seconds;
  }
  const int64_t layers = tiny_hparams().num_layers;
  const std::map<std::string, int64_t> calls = {
      {"embedding", 2},
      {"matmuls f32 64x64 32x64 32x64", 2 * layers},  // q, k, v
      {"rope", 4 * layers},                           // q and k
      {"store_kv", 2 * layers},
      {"paged_attention", 2 * layers},
      {"matmul f32 64x64", 2 * layers},           // o
      {"matmuls f32 128x64 128x64", 2 * layers},  // gate, up
      {"silu_mul", 2 * layers},
      {"matmul f32 64x128", 2 * layers},  // down
      {"matmul f32 97x64", 2},            // the output projection
      {"rmsnorm", 2 * 2},                 // the first layer's input and the output norm
      {"add_rmsnorm", 2 * (2 * layers - 1)},
      {"add", 2},  // the last layer's residual; those inside add_rmsnorm are its time
  };
  for (const auto& [name, n] : calls) {
    ASSERT_TRUE(by_name.contains(name)) << name;
    EXPECT_EQ(by_name[name].calls, n) << name;
  }
  EXPECT_FALSE(by_name.contains("all_reduce"));  // one rank: nothing to time
  EXPECT_GT(total, 0.0);
  const auto sorted = cpu.op_times();
  for (size_t i = 1; i < sorted.size(); ++i)
    EXPECT_GE(sorted[i - 1].seconds, sorted[i].seconds);
}

}  // namespace
}  // namespace troupe::runtime

namespace troupe::runtime {
namespace {

// Data-parallel engines on one machine: a runner over another's weights (one copy in memory)
// decodes what a runner with its own copy does, on its own cache, while the other decodes too.
TEST(cpu_llama_runner, a_runner_sharing_weights_decodes_as_its_own_copy_would) {
  const auto hp = tiny_hparams();
  auto own = cpu_llama_runner::create(tiny_llama(hp, 3), 16, 4, 1);
  auto source = cpu_llama_runner::create(tiny_llama(hp, 3), 16, 4, 1);
  ASSERT_TRUE(own.ok() && source.ok());
  auto shared = cpu_llama_runner::create_sharing(**source, 1);
  ASSERT_TRUE(shared.ok()) << shared.message();
  EXPECT_EQ((*shared)->num_kv_blocks(), 16);
  EXPECT_EQ((*shared)->block_size(), 4);
  const std::vector<std::vector<int32_t>> prompts = {{1, 5, 9, 2, 7}, {3, 3, 8}, {11, 4, 6, 1}};
  const std::vector<std::vector<int32_t>> others = {{2, 2, 2}, {9, 8, 7, 6, 5, 4}};
  const auto expected = testing::decode_greedily(**own, prompts, 4, 6);
  std::vector<std::vector<int32_t>> from_source;
  std::thread busy([&] { from_source = testing::decode_greedily(**source, others, 4, 6); });
  const auto from_shared = testing::decode_greedily(**shared, prompts, 4, 6);
  busy.join();
  EXPECT_EQ(from_shared, expected);
  EXPECT_EQ(from_source, testing::decode_greedily(**own, others, 4, 6));

  auto& weights_owner = static_cast<backend::cpu_backend&>((*source)->compute());
  EXPECT_TRUE(weights_owner.shares_weights());
  EXPECT_THROW(
      weights_owner.upload_weight({1, 4, backend::weight_format::f32}, std::vector<float>(4, 1.0f)),
      std::logic_error);
  EXPECT_FALSE(cpu_llama_runner::create_sharing(**source, 0).ok());
  backend::cpu_backend bf16(1, nullptr, {}, backend::cpu_activations::bf16);
  EXPECT_FALSE(bf16.share_weights_of(weights_owner).ok());
  EXPECT_FALSE(weights_owner.share_weights_of(weights_owner).ok());
}

}  // namespace
}  // namespace troupe::runtime
