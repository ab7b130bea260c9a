// llama_runner over a compute backend: what the forward asks of the backend (its ops, in the
// order the model_runner contract needs), the step metadata it uploads, and that any backend
// wrapping the CPU one gives the CPU runner's logits bitwise.
#include "runtime/model/llama_runner.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/sampler.hpp"
#include "tests/runtime/model/recording_backend.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using testing::recording_backend;
using testing::seq_entry;

llama_weights tiny_qwen_like() {
  auto hp = testing::tiny_hparams();
  hp.attention_bias = true;
  hp.rope = rope_style::neox;
  hp.sliding_window = 5;
  auto w = testing::tiny_llama(hp, 21);
  const auto q_dim = static_cast<size_t>(hp.num_heads * hp.head_dim);
  const auto kv_dim = static_cast<size_t>(hp.num_kv_heads * hp.head_dim);
  for (auto& l : w.layers) {
    l.bq.assign(q_dim, 0.125f);
    l.bk.assign(kv_dim, -0.25f);
    l.bv.assign(kv_dim, 0.5f);
  }
  return w;
}

// s0: a 6-token prompt chunk; s1: a decode at position 9; s2: a chunk that does not sample.
step_batch mixed_batch() {
  step_batch b;
  b.token_ids = {3, 14, 15, 92, 65, 35, 8, 96, 26, 5};
  b.seqs = {seq_entry(1, 0, 6, {4, 0}), seq_entry(2, 9, 1, {1, 2, 3}),
            seq_entry(3, 2, 3, {5, 6}, false)};
  return b;
}

TEST(fill_step_metadata, flattens_positions_tables_and_sampled_rows) {
  backend::step_metadata m;
  m.sample_rows = {42};  // stale contents of a previous step are replaced
  fill_step_metadata(mixed_batch(), m);
  EXPECT_EQ(m.token_ids, mixed_batch().token_ids);
  EXPECT_EQ(m.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 9, 2, 3, 4}));
  EXPECT_EQ(m.token_seqs, (std::vector<int32_t>{0, 0, 0, 0, 0, 0, 1, 2, 2, 2}));
  EXPECT_EQ(m.block_tables, (std::vector<int32_t>{4, 0, 1, 2, 3, 5, 6}));
  EXPECT_EQ(m.table_offsets, (std::vector<int32_t>{0, 2, 5, 7}));
  EXPECT_EQ(m.sample_rows, (std::vector<int32_t>{5, 6}));
  EXPECT_EQ(m.num_positions, 10);
  // One sampling row per sampled row: greedy ones default, a temperature's with its random bits;
  // a row with logits processors is edited, its edits listed (here the presence penalty of the
  // two distinct output tokens); top logprobs set the step's width.
  auto batch = mixed_batch();
  batch.seqs[1].sampling.temperature = 0.7f;
  batch.seqs[1].sampling.top_k = 4;
  batch.seqs[1].sampling.seed = 9;
  batch.seqs[1].output_index = 3;
  fill_step_metadata(batch, m);
  ASSERT_EQ(m.sampling.size(), 2u);
  EXPECT_EQ(m.sampling[0].temperature, 0.0f);
  EXPECT_EQ(m.sampling[1].temperature, 0.7f);
  EXPECT_EQ(m.sampling[1].top_k, 4);
  EXPECT_EQ(m.sampling[1].random(), random_bits(9, 3));
  EXPECT_EQ(m.sampling[1].edited, 0u);
  EXPECT_TRUE(m.edits.empty());
  const std::vector<int32_t> history = {5, 7, 7, 3};  // prompt {5}, outputs {7, 7, 3}
  batch.seqs[1].token_history = history;
  batch.seqs[1].sampling.presence_penalty = 0.5f;
  fill_step_metadata(batch, m);
  EXPECT_EQ(m.sampling[1].temperature, 0.7f);
  EXPECT_EQ(m.sampling[1].edited, 1u);
  ASSERT_EQ(m.edits.size(), 2u);
  auto edits = m.edits;
  std::sort(edits.begin(), edits.end(), [](auto& a, auto& b) { return a.id < b.id; });
  EXPECT_EQ(edits[0].row, 1);
  EXPECT_EQ(edits[0].id, 3);
  EXPECT_EQ(edits[1].id, 7);
  EXPECT_EQ(edits[1].flags, kernels::cpu::edit_subtract);
  EXPECT_EQ(edits[1].subtract, 0.5f);
  EXPECT_EQ(m.max_top_logprobs, 0);
  batch.seqs[1].sampling.num_top_logprobs = 2;
  fill_step_metadata(batch, m);
  EXPECT_EQ(m.sampling[1].num_top_logprobs, 2);
  EXPECT_EQ(m.max_top_logprobs, 2);
}

TEST(graph_rows_for, pads_decode_only_steps_to_the_smallest_size_that_holds_them) {
  const std::vector<int32_t> sizes = {1, 2, 4, 8};
  step_batch decode;
  decode.token_ids = {7, 8, 9};
  decode.seqs = {seq_entry(1, 4, 1, {0, 1}), seq_entry(2, 9, 1, {2, 3, 4}),
                 seq_entry(3, 0, 1, {5})};
  EXPECT_EQ(graph_rows_for(decode, sizes), 4);
  EXPECT_EQ(graph_rows_for(decode, {}), 0);                          // a backend without graphs
  EXPECT_EQ(graph_rows_for(decode, std::vector<int32_t>{1, 2}), 0);  // larger than every size
  EXPECT_EQ(graph_rows_for(mixed_batch(), sizes), 0);                // a prompt chunk: eager
  decode.seqs[1].sample = false;
  EXPECT_EQ(graph_rows_for(decode, sizes), 0);

  backend::step_metadata m;
  decode.seqs[1].sample = true;
  fill_step_metadata(decode, m);
  pad_decode_step(m, 4);
  EXPECT_EQ(m.graph_rows, 4);
  EXPECT_EQ(m.token_ids, (std::vector<int32_t>{7, 8, 9, 0}));
  EXPECT_EQ(m.positions, (std::vector<int32_t>{4, 9, 0, 0}));
  EXPECT_EQ(m.token_seqs, (std::vector<int32_t>{0, 1, 2, 3}));
  EXPECT_EQ(m.table_offsets, (std::vector<int32_t>{0, 2, 5, 6, 6}));  // the pad row's is empty
  EXPECT_EQ(m.sample_rows, (std::vector<int32_t>{0, 1, 2, 3}));
  fill_step_metadata(decode, m);  // the next step starts unpadded
  EXPECT_EQ(m.graph_rows, 0);
}

// Rows that sample on the host run in parallel; each still draws only from its own logits, seed
// and output index.
TEST(llama_runner, rows_sampled_in_parallel_equal_sample_token_row_by_row) {
  auto batch = mixed_batch();
  batch.seqs.push_back(seq_entry(4, 0, 1, {7}));
  batch.token_ids.push_back(11);
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    auto& p = batch.seqs[i].sampling;
    p.temperature = 0.8f + 0.1f * static_cast<float>(i);
    p.top_p = 0.9f;
    p.seed = 100 + i;
    p.logprobs = i == 1;
    batch.seqs[i].output_index = static_cast<int32_t>(3 * i);
  }
  auto runner =
      llama_runner::create(std::make_unique<recording_backend>(1), tiny_qwen_like(), 8, 4);
  auto reference =
      llama_runner::create(std::make_unique<recording_backend>(1), tiny_qwen_like(), 8, 4);
  ASSERT_TRUE(runner.ok() && reference.ok());
  const auto logits = (*reference)->forward_logits(batch);
  const auto vocab = static_cast<size_t>(tiny_qwen_like().hparams.vocab_size);
  const auto got = (*runner)->execute(batch);
  size_t row = 0;
  for (const auto& seq : batch.seqs) {
    if (!seq.sample) continue;
    const auto want = sample_token(std::span<const float>(logits).subspan(row * vocab, vocab),
                                   seq.sampling, seq.output_index, seq.token_history);
    ASSERT_LT(row, got.size());
    EXPECT_EQ(got[row].seq_id, seq.seq_id);
    EXPECT_EQ(got[row].token_id, want.token_id) << "row " << row;
    EXPECT_EQ(got[row].logprob, want.logprob) << "row " << row;
    ++row;
  }
  EXPECT_EQ(got.size(), row);
}

// allowed_token_ids and bad words on the backend: its rows are the host sampler's, and what the
// request asked for.
TEST(llama_runner, allowed_tokens_and_bad_words_are_the_host_samplers) {
  auto runner =
      llama_runner::create(std::make_unique<recording_backend>(1), tiny_qwen_like(), 8, 4);
  auto reference =
      llama_runner::create(std::make_unique<recording_backend>(1), tiny_qwen_like(), 8, 4);
  ASSERT_TRUE(runner.ok() && reference.ok());
  const auto vocab = static_cast<size_t>(tiny_qwen_like().hparams.vocab_size);
  const auto plain = (*reference)->forward_logits(mixed_batch());
  const int32_t greedy1 = argmax(std::span<const float>(plain).subspan(vocab, vocab));
  auto batch = mixed_batch();
  batch.seqs[0].sampling.temperature = 1.0f;
  batch.seqs[0].sampling.seed = 3;
  batch.seqs[0].sampling.allowed_token_ids = {5, 17, 40};
  // Sequence 1 decodes after outputs {..., 44}: the bad word {44, greedy} forbids its argmax.
  const std::vector<int32_t> history = {9, 9, 44};
  batch.seqs[1].token_history = history;
  batch.seqs[1].output_index = 2;
  batch.seqs[1].sampling.bad_words_token_ids = {{44, greedy1}, {45, 1}};
  const auto got = (*runner)->execute(batch);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_TRUE(got[0].token_id == 5 || got[0].token_id == 17 || got[0].token_id == 40);
  EXPECT_NE(got[1].token_id, greedy1);
  for (size_t i = 0; i < got.size(); ++i) {
    const auto& seq = batch.seqs[i];
    const auto want = sample_token(std::span<const float>(plain).subspan(i * vocab, vocab),
                                   seq.sampling, seq.output_index, seq.token_history);
    EXPECT_EQ(got[i].token_id, want.token_id) << "row " << i;
  }
}

TEST(llama_runner, forward_enqueues_one_step_in_contract_order) {
  auto backend = std::make_unique<recording_backend>(1);
  auto* rec = backend.get();
  auto runner = llama_runner::create(std::move(backend), tiny_qwen_like(), 8, 4);
  ASSERT_TRUE(runner.ok()) << runner.message();
  rec->ops.clear();
  (*runner)->execute(mixed_batch());

  std::vector<std::string> expected = {"begin_step", "embedding", "rmsnorm"};
  for (int layer = 0; layer < 2; ++layer) {
    const auto l = std::to_string(layer);
    // The whole batch's K/V of a layer is stored before that layer's attention reads the cache.
    for (const char* op :
         {"matmul", "matmul", "matmul", "add_bias", "add_bias", "add_bias", "rope", "rope"})
      expected.push_back(op);
    expected.push_back("store_kv " + l);
    expected.push_back("paged_attention " + l);
    // Row-parallel projections (o, down) are followed by the tensor-parallel all-reduce; each
    // residual add is fused with the norm after it (the last layer's is a plain add).
    for (const char* op : {"matmul", "all_reduce", "add_rmsnorm", "matmul", "matmul", "silu_mul",
                           "matmul", "all_reduce"})
      expected.push_back(op);
    expected.push_back(layer == 0 ? "add_rmsnorm" : "add");
  }
  for (const char* op :
       {"gather_sampled_rows", "rmsnorm", "matmul", "argmax_rows", "sample_rows", "download"})
    expected.push_back(op);
  EXPECT_EQ(rec->ops, expected);
  // Every sampled row is sampled by the backend: only the two tokens and their logprobs come
  // back, not the logits.
  EXPECT_EQ(rec->downloaded, (std::vector<int64_t>{4}));
}

TEST(llama_runner, greedy_tokens_from_the_backend_equal_sampling_its_logits) {
  auto backend = std::make_unique<recording_backend>(1);
  auto* rec = backend.get();
  auto runner = llama_runner::create(std::move(backend), tiny_qwen_like(), 8, 4);
  auto reference =
      llama_runner::create(std::make_unique<recording_backend>(1), tiny_qwen_like(), 8, 4);
  ASSERT_TRUE(runner.ok() && reference.ok());
  const auto logits = (*reference)->forward_logits(mixed_batch());
  const auto vocab = static_cast<size_t>(tiny_qwen_like().hparams.vocab_size);
  const auto greedy = (*runner)->execute(mixed_batch());
  ASSERT_EQ(greedy.size(), 2u);
  for (size_t i = 0; i < greedy.size(); ++i) {
    EXPECT_EQ(greedy[i].token_id, argmax(std::span<const float>(logits).subspan(i * vocab, vocab)));
  }
  auto row = [&](size_t i) { return std::span<const float>(logits).subspan(i * vocab, vocab); };
  // A logprob and a temperature are the backend's too: still only tokens and logprobs come back.
  auto batch = mixed_batch();
  batch.seqs[0].sampling.logprobs = true;
  batch.seqs[1].sampling.temperature = 1.3f;
  batch.seqs[1].sampling.top_p = 0.8f;
  batch.seqs[1].sampling.seed = 5;
  rec->downloaded.clear();
  const auto backend_sampled = (*runner)->execute(batch);
  EXPECT_EQ(rec->downloaded, (std::vector<int64_t>{4}));
  EXPECT_EQ(backend_sampled[0].token_id, greedy[0].token_id);
  EXPECT_NEAR(backend_sampled[0].logprob, log_softmax_at(row(0), greedy[0].token_id), 1e-6);
  EXPECT_NE(backend_sampled[0].logprob, 0.0f);
  EXPECT_EQ(backend_sampled[1].token_id,
            sample_token(row(1), batch.seqs[1].sampling, batch.seqs[1].output_index).token_id);
  EXPECT_EQ(backend_sampled[1].logprob, 0.0f);
  // A logits processor (logit_bias) is applied by the backend too.
  batch.seqs[1].sampling.logit_bias = {{3, 4.0f}};
  rec->downloaded.clear();
  const auto biased = (*runner)->execute(batch);
  EXPECT_EQ(rec->downloaded, (std::vector<int64_t>{4}));
  EXPECT_EQ(biased[1].token_id,
            sample_token(row(1), batch.seqs[1].sampling, batch.seqs[1].output_index).token_id);
  // Top logprobs come from the backend too: 2 rows x (token, logprob, 3 ids, 3 values).
  batch.seqs[1].sampling.num_top_logprobs = 3;
  rec->downloaded.clear();
  const auto with_top = (*runner)->execute(batch);
  EXPECT_EQ(rec->downloaded, (std::vector<int64_t>{16}));
  EXPECT_EQ(with_top[0].token_id, greedy[0].token_id);
  EXPECT_TRUE(with_top[0].top_logprobs.empty());
  const auto want = sample_token(row(1), batch.seqs[1].sampling, batch.seqs[1].output_index);
  EXPECT_EQ(with_top[1].token_id, want.token_id);
  EXPECT_EQ(with_top[1].logprob, want.logprob);
  EXPECT_EQ(with_top[1].top_logprobs, want.top_logprobs);
  EXPECT_EQ(with_top[1].top_logprobs.size(), 3u);
}

TEST(llama_runner, any_backend_wrapping_the_cpu_one_gives_the_cpu_runners_bits) {
  auto over_backend =
      llama_runner::create(std::make_unique<recording_backend>(2), tiny_qwen_like(), 8, 4);
  auto cpu = cpu_llama_runner::create(tiny_qwen_like(), 8, 4, 1);
  ASSERT_TRUE(over_backend.ok() && cpu.ok());
  step_batch decode;  // reads the K/V the first step stored
  decode.token_ids = {7};
  decode.seqs = {seq_entry(1, 6, 1, {4, 0})};
  for (const auto& batch : {mixed_batch(), decode}) {
    const auto a = (*over_backend)->forward_logits(batch);
    const auto b = (*cpu)->forward_logits(batch);
    ASSERT_EQ(a.size(), batch.seqs.size() == 1 ? 97u : 2u * 97u);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << batch.seqs.size();
  }
  EXPECT_EQ((*over_backend)->num_kv_blocks(), 8);
  EXPECT_EQ((*over_backend)->block_size(), 4);
  EXPECT_EQ((*over_backend)->vocab_size(), 97);
}

TEST(llama_runner, create_refuses_bad_weights_before_touching_the_backend) {
  auto w = tiny_qwen_like();
  w.layers[1].bv.clear();
  auto backend = std::make_unique<recording_backend>(1);
  auto runner = llama_runner::create(std::move(backend), std::move(w), 8, 4);
  ASSERT_FALSE(runner.ok());
  EXPECT_NE(runner.message().find("layer 1.bv"), std::string::npos) << runner.message();
}

}  // namespace
}  // namespace troupe::runtime
