// Pipeline parallelism against one runner on tiny models of every family (five layers): at 2 and
// 3 stages the last stage samples bitwise the tokens, logprobs and top logprobs of one runner
// over prompt chunks and decodes with seeded sampling, and 2 stages of 2 tensor-parallel ranks
// those of 2 ranks. vLLM's layer partition, the links' order and failure, and a stage that
// throws failing the step at every later rank while the next step runs as usual.
#include "runtime/model/pipeline_parallel.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"
#include "tests/runtime/model/failing_backend.hpp"
#include "tests/runtime/model/tensor_parallel_driver.hpp"
#include "tests/runtime/model/tensor_parallel_scripts.hpp"

namespace troupe::runtime {
namespace {

using stage_threads = testing::rank_threads<pipeline_stage_runner>;
using ranges = std::vector<std::pair<int32_t, int32_t>>;

constexpr int32_t num_blocks = 32;
constexpr int32_t block_size = 4;

ranges layer_ranges(int32_t layers, int32_t stages, std::string_view partition = {}) {
  auto r = pipeline_layer_ranges(layers, stages, partition);
  EXPECT_TRUE(r.ok()) << r.message();
  return r.ok() ? *r : ranges{};
}

TEST(pipeline_layer_ranges, split_as_vllm_does) {
  // vLLM's get_pp_indices: the remainder goes one layer each to the stages before the last.
  EXPECT_EQ(layer_ranges(32, 4), (ranges{{0, 8}, {8, 16}, {16, 24}, {24, 32}}));
  EXPECT_EQ(layer_ranges(30, 4), (ranges{{0, 7}, {7, 15}, {15, 23}, {23, 30}}));
  EXPECT_EQ(layer_ranges(5, 3), (ranges{{0, 2}, {2, 4}, {4, 5}}));
  EXPECT_EQ(layer_ranges(24, 5), (ranges{{0, 5}, {5, 10}, {10, 15}, {15, 20}, {20, 24}}));
  EXPECT_EQ(layer_ranges(30, 1), (ranges{{0, 30}}));
  // VLLM_PP_LAYER_PARTITION's form.
  EXPECT_EQ(layer_ranges(30, 3, "4,20,6"), (ranges{{0, 4}, {4, 24}, {24, 30}}));
}

TEST(pipeline_layer_ranges, refuse_partitions_that_do_not_fit) {
  auto message = [](int32_t layers, int32_t stages, std::string_view partition = {}) {
    auto r = pipeline_layer_ranges(layers, stages, partition);
    return r.ok() ? std::string("ok") : r.message();
  };
  EXPECT_EQ(message(2, 3), "pipeline parallel size 3 over 2 layers leaves a stage without a layer");
  EXPECT_EQ(message(30, 2, "10,10,10"),
            "the layer partition names 3 stages, not the pipeline parallel size 2");
  EXPECT_EQ(message(30, 2, "10,10"), "the layer partition holds 20 layers, not the model's 30");
  EXPECT_EQ(message(30, 2, "30,0"),
            "pipeline parallel size 2 over 30 layers leaves a stage without a layer");
  EXPECT_EQ(message(30, 2, "15,x"), "invalid layer partition 'x': expected integers");
}

TEST(stage_link, carries_a_step_at_a_time_in_order_and_fails_abandoned_or_closed_ones) {
  stage_link link;
  link.send({{1.0f}, {2.0f}});
  link.abandon();
  link.send({{3.0f}, {4.0f}});
  EXPECT_EQ(link.receive().residual, std::vector<float>{1.0f});
  EXPECT_THROW(link.receive(), backend::collective_aborted);
  EXPECT_EQ(link.receive().hidden, std::vector<float>{4.0f});
  link.close();
  EXPECT_THROW(link.receive(), backend::collective_aborted);
}

llama_hparams five_layers(llama_hparams hp) {
  hp.num_layers = 5;
  return hp;
}

// Three sequences with seeded sampling and top logprobs: chunked prompts, decodes beside them,
// one joining late; each step's sampled tokens are fed back.
std::vector<std::vector<sampled_token>> run_seeded(
    int32_t vocab, const std::function<std::vector<sampled_token>(const step_batch&)>& execute) {
  auto seqs = testing::busy_script(vocab);
  std::vector<int32_t> outputs(seqs.size(), 0);
  std::vector<std::vector<sampled_token>> out;
  for (int32_t step = 0; step < 8; ++step) {
    step_batch batch;
    for (size_t i = 0; i < seqs.size(); ++i) {
      auto& s = seqs[i];
      if (step < s.start_step) continue;
      const auto total = static_cast<int32_t>(s.tokens.size());
      const int32_t n = std::min(s.chunk, total - s.num_computed);
      std::vector<int32_t> blocks;
      for (int32_t b = 0; b < 8; ++b)
        blocks.push_back(static_cast<int32_t>(i) * 8 + b);
      auto& seq = batch.seqs.emplace_back(
          testing::seq_entry(s.id, s.num_computed, n, blocks, s.num_computed + n == total));
      seq.sampling.temperature = 0.8f;
      seq.sampling.top_k = 40;
      seq.sampling.seed = s.id * 7;
      seq.sampling.num_top_logprobs = 3;
      seq.output_index = outputs[i];
      batch.token_ids.insert(batch.token_ids.end(), s.tokens.begin() + s.num_computed,
                             s.tokens.begin() + s.num_computed + n);
      s.num_computed += n;
    }
    auto tokens = execute(batch);
    for (const auto& t : tokens) {
      for (size_t i = 0; i < seqs.size(); ++i) {
        if (seqs[i].id != t.seq_id) continue;
        seqs[i].tokens.push_back(t.token_id);
        ++outputs[i];
      }
    }
    out.push_back(std::move(tokens));
  }
  return out;
}

void expect_same_bits(const std::vector<std::vector<sampled_token>>& got,
                      const std::vector<std::vector<sampled_token>>& want) {
  ASSERT_EQ(got.size(), want.size());
  size_t sampled = 0;
  for (size_t step = 0; step < got.size(); ++step) {
    ASSERT_EQ(got[step].size(), want[step].size()) << "step " << step;
    for (size_t i = 0; i < got[step].size(); ++i, ++sampled) {
      const auto &a = got[step][i], &b = want[step][i];
      EXPECT_EQ(a.seq_id, b.seq_id);
      EXPECT_EQ(a.token_id, b.token_id) << "step " << step << " row " << i;
      EXPECT_EQ(std::memcmp(&a.logprob, &b.logprob, sizeof(float)), 0) << "step " << step;
      EXPECT_EQ(a.top_logprobs, b.top_logprobs) << "step " << step;
    }
  }
  EXPECT_GE(sampled, 12u);  // prompt ends and decodes of all three sequences
}

// The script through P stages of T ranks: only the last stage's ranks return tokens, all the
// same; its rank 0's are the step's.
std::vector<std::vector<sampled_token>> stages(const llama_weights& w, int32_t P, int32_t T) {
  auto made = make_pipeline_runners(w, {P, T, 1, {}}, num_blocks, block_size);
  EXPECT_TRUE(made.ok()) << made.message();
  if (!made.ok()) return {};
  stage_threads group(std::move(made).value());
  const auto last = static_cast<size_t>((P - 1) * T);
  return run_seeded(w.hparams.vocab_size, [&](const step_batch& b) {
    auto answers = group.execute(b);
    for (size_t r = 0; r < answers.size(); ++r) {
      EXPECT_TRUE(answers[r].ok()) << "rank " << r << ": " << answers[r].message();
      if (!answers[r].ok()) return std::vector<sampled_token>{};
      if (r < last) {
        EXPECT_TRUE(answers[r]->empty()) << "rank " << r << " is not the last stage";
      }
    }
    for (size_t r = last + 1; r < answers.size(); ++r)
      EXPECT_EQ(answers[r]->size(), answers[last]->size());
    return *answers[last];
  });
}

class families : public ::testing::TestWithParam<std::tuple<int32_t, int32_t>> {};

TEST_P(families, stages_sample_one_runners_bits) {
  const auto family = testing::tiny_families()[std::get<0>(GetParam())];
  SCOPED_TRACE(family.name);
  const auto w = testing::tiny_model(five_layers(family.hparams), 77);
  auto one = cpu_llama_runner::create(w, num_blocks, block_size, 1);
  ASSERT_TRUE(one.ok()) << one.message();
  const auto want =
      run_seeded(w.hparams.vocab_size, [&](const step_batch& b) { return (*one)->execute(b); });
  expect_same_bits(stages(w, std::get<1>(GetParam()), 1), want);
}

INSTANTIATE_TEST_SUITE_P(pipeline_parallel, families,
                         ::testing::Combine(::testing::Values(0, 1, 2), ::testing::Values(2, 3)));

TEST(pipeline_parallel, two_stages_of_two_ranks_sample_two_ranks_bits) {
  const auto w = testing::tiny_model(five_layers(testing::tiny_families()[0].hparams), 5);
  auto made = make_tensor_parallel_runners(w, 2, 1, num_blocks, block_size);
  ASSERT_TRUE(made.ok()) << made.message();
  testing::rank_threads group(std::move(made).value());
  const auto want = run_seeded(w.hparams.vocab_size, [&](const step_batch& b) {
    auto answers = group.execute(b);
    return answers[0].ok() ? *answers[0] : std::vector<sampled_token>{};
  });
  expect_same_bits(stages(w, 2, 2), want);
}

TEST(pipeline_parallel, a_stage_holds_its_layers_and_a_cache_for_them_only) {
  auto hp = five_layers(testing::tiny_hparams());
  const auto w = testing::tiny_model(hp, 3);
  const auto full = kv_cache_shape_for(hp, make_llama_shard(hp, 0, 1), 8, 4).bytes_per_block();
  auto shard = make_llama_shard(hp, 0, 1);
  shard.first_layer = 3;
  shard.end_layer = 5;
  EXPECT_EQ(kv_cache_shape_for(hp, shard, 8, 4).bytes_per_block() * 5, full * 2);
  const auto last = slice_llama_weights(w, shard);
  ASSERT_EQ(last.layers.size(), 2u);
  EXPECT_EQ(last.layers[0].attn_norm, w.layers[3].attn_norm);
  EXPECT_TRUE(last.token_embedding.empty());  // untied: the last stage needs no embedding
  EXPECT_FALSE(last.output.empty());
  shard.first_layer = 0;
  shard.end_layer = 3;
  const auto first = slice_llama_weights(w, shard);
  EXPECT_EQ(first.layers.size(), 3u);
  EXPECT_FALSE(first.token_embedding.empty());
  EXPECT_TRUE(first.output.empty());
  EXPECT_TRUE(first.output_norm.empty());
  shard.end_layer = 6;
  EXPECT_FALSE(llama_runner::create_shard(std::make_unique<backend::cpu_backend>(1), w, shard,
                                          num_blocks, block_size)
                   .ok());
}

using testing::prompt_step;

TEST(pipeline_parallel, a_stage_that_throws_fails_the_step_at_every_later_stage_and_the_next_runs) {
  const auto w = testing::tiny_model(five_layers(testing::tiny_hparams()), 3);
  const int32_t vocab = w.hparams.vocab_size;
  const auto ranges = layer_ranges(5, 3);
  for (int32_t failing : {0, 1, 2}) {
    SCOPED_TRACE("stage " + std::to_string(failing) + " fails");
    testing::failing_backend* faulty = nullptr;
    std::vector<std::unique_ptr<pipeline_stage_runner>> made;
    std::shared_ptr<stage_link> into;
    for (int32_t s = 0; s < 3; ++s) {
      std::unique_ptr<backend::cpu_backend> be;
      if (s == failing) {
        auto f = std::make_unique<testing::failing_backend>(1);
        faulty = f.get();
        be = std::move(f);
      } else {
        be = std::make_unique<backend::cpu_backend>(1);
      }
      auto shard = make_llama_shard(w.hparams, 0, 1);
      std::tie(shard.first_layer, shard.end_layer) = ranges[static_cast<size_t>(s)];
      auto runner = llama_runner::create_shard(std::move(be), w, shard, num_blocks, block_size);
      ASSERT_TRUE(runner.ok()) << runner.message();
      auto out = s < 2 ? std::make_shared<stage_link>() : nullptr;
      made.push_back(
          std::make_unique<pipeline_stage_runner>(s, 3, nullptr, 0, into, out, std::move(*runner)));
      into = out;
    }
    stage_threads group(std::move(made));
    ASSERT_TRUE(group.execute(prompt_step(1, testing::random_tokens(6, vocab, 1), 0))[2].ok());
    faulty->fail_in = 2;  // inside the stage's first layer
    const auto failed = group.execute(prompt_step(2, testing::random_tokens(5, vocab, 2), 10));
    for (int32_t s = 0; s < 3; ++s) {
      if (s < failing) {
        EXPECT_TRUE(failed[s].ok()) << failed[s].message();
      } else {
        ASSERT_FALSE(failed[s].ok()) << "stage " << s;
        EXPECT_NE(failed[s].message().find(s == failing ? "injected" : "aborted"),
                  std::string::npos)
            << failed[s].message();
      }
    }
    const auto after = prompt_step(3, testing::random_tokens(7, vocab, 33), 20);
    const auto next = group.execute(after);
    auto one = cpu_llama_runner::create(w, num_blocks, block_size, 1);
    ASSERT_TRUE(one.ok());
    const auto want = (*one)->execute(after);
    ASSERT_TRUE(next[2].ok()) << next[2].message();
    ASSERT_EQ(next[2]->size(), 1u);
    EXPECT_EQ((*next[2])[0].token_id, want[0].token_id);
    EXPECT_EQ(std::memcmp(&(*next[2])[0].logprob, &want[0].logprob, sizeof(float)), 0);
  }
}

// A step one rank's executor refused (skip_step) reaches the stages after it as abandoned, and
// the next step runs everywhere.
TEST(pipeline_parallel, a_step_a_stage_skips_fails_at_the_stages_after_it_instead_of_hanging) {
  const auto w = testing::tiny_model(five_layers(testing::tiny_hparams()), 3);
  auto made = make_pipeline_runners(w, {3, 1, 1, {}}, num_blocks, block_size);
  ASSERT_TRUE(made.ok()) << made.message();
  auto ranks = std::move(made).value();
  const auto step = prompt_step(1, {1, 2, 3}, 0);
  std::thread first([&] { EXPECT_TRUE(ranks[0]->execute(step).empty()); });
  std::thread second([&] { ranks[1]->skip_step(); });
  EXPECT_THROW(ranks[2]->execute(step), backend::collective_aborted);
  first.join();
  second.join();
  const auto next = prompt_step(2, {4, 5, 6}, 4);
  std::thread a([&] { ranks[0]->execute(next); });
  std::thread b([&] { ranks[1]->execute(next); });
  EXPECT_EQ(ranks[2]->execute(next).size(), 1u);
  a.join();
  b.join();
}

TEST(pipeline_parallel, a_destroyed_stage_closes_its_links_instead_of_leaving_the_others_waiting) {
  const auto w = testing::tiny_model(five_layers(testing::tiny_hparams()), 3);
  auto made = make_pipeline_runners(w, {2, 1, 1, {}}, num_blocks, block_size);
  ASSERT_TRUE(made.ok()) << made.message();
  auto ranks = std::move(made).value();
  ranks[0].reset();
  EXPECT_THROW(ranks[1]->execute(prompt_step(1, {1, 2, 3}, 0)), backend::collective_aborted);
}

}  // namespace
}  // namespace troupe::runtime
