#include "runtime/model/llama_forward.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

#include "runtime/model/cpu_runner.hpp"
#include "tests/runtime/model/forced_decode.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using testing::naive_forward;
using testing::random_tokens;
using testing::seq_entry;
using testing::tiny_hparams;
using testing::tiny_llama;

constexpr int32_t block_size = 16;
constexpr int32_t num_blocks = 24;

std::unique_ptr<cpu_llama_runner> make_runner(const llama_hparams& hp, int32_t threads = 2) {
  auto r = cpu_llama_runner::create(tiny_llama(hp, 1234), num_blocks, block_size, threads);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return std::move(r).value();
}

// Feeds `tokens` to one sequence in chunks of `chunk` and returns the logits after each chunk.
std::vector<std::vector<float>> run_in_chunks(cpu_llama_runner& runner,
                                              const std::vector<int32_t>& tokens, int32_t chunk,
                                              const std::vector<int32_t>& blocks) {
  std::vector<std::vector<float>> out;
  const auto n = static_cast<int32_t>(tokens.size());
  for (int32_t start = 0; start < n; start += chunk) {
    const int32_t len = std::min(chunk, n - start);
    step_batch b;
    b.token_ids.assign(tokens.begin() + start, tokens.begin() + start + len);
    b.seqs.push_back(seq_entry(7, start, len, blocks));
    out.push_back(runner.forward_logits(b));
  }
  return out;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct variant {
  bool tied;
  rope_style rope;
};

class forward_variants : public ::testing::TestWithParam<variant> {};

TEST_P(forward_variants, matches_naive_reference_on_scattered_blocks) {
  auto hp = tiny_hparams();
  hp.tie_word_embeddings = GetParam().tied;
  hp.rope = GetParam().rope;
  auto runner = make_runner(hp);
  const auto tokens = random_tokens(44, hp.vocab_size, 5);
  const auto reference = naive_forward(tiny_llama(hp, 1234), tokens);
  const std::vector<int32_t> blocks = {17, 3, 9};  // shuffled, non-contiguous
  // The 40-token prompt in one step, then four decode steps.
  std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + 40);
  auto logits = run_in_chunks(*runner, prompt, 40, blocks);
  for (int32_t pos = 40; pos < 44; ++pos) {
    step_batch b;
    b.token_ids = {tokens[pos]};
    b.seqs.push_back(seq_entry(7, pos, 1, blocks));
    logits.push_back(runner->forward_logits(b));
  }
  ASSERT_EQ(logits.size(), 5u);
  double max_diff = 0;
  for (size_t step = 0; step < logits.size(); ++step) {
    const auto& ref = reference[39 + step];
    ASSERT_EQ(logits[step].size(), ref.size());
    for (size_t v = 0; v < ref.size(); ++v)
      max_diff = std::max(max_diff, std::abs(logits[step][v] - ref[v]));
  }
  EXPECT_LT(max_diff, 1e-4);
  // The logits are not trivially small: the comparison means something.
  EXPECT_GT(*std::max_element(reference[39].begin(), reference[39].end()), 0.1);
}

INSTANTIATE_TEST_SUITE_P(all, forward_variants,
                         ::testing::Values(variant{false, rope_style::interleaved},
                                           variant{true, rope_style::neox}));

TEST(llama_forward, logits_are_bitwise_equal_whole_chunked_or_token_by_token) {
  const auto hp = tiny_hparams();
  const auto tokens = random_tokens(41, hp.vocab_size, 6);
  auto whole_runner = make_runner(hp);
  auto whole = run_in_chunks(*whole_runner, tokens, 41, {4, 11, 0});
  auto chunk_runner = make_runner(hp, 3);
  auto chunked = run_in_chunks(*chunk_runner, tokens, 7, {20, 1, 13});
  auto single_runner = make_runner(hp, 1);
  auto single = run_in_chunks(*single_runner, tokens, 1, {2, 5, 8});
  EXPECT_TRUE(bitwise_equal(whole.back(), chunked.back()));
  EXPECT_TRUE(bitwise_equal(whole.back(), single.back()));
  // Intermediate points agree too: after 7, 14, ... tokens.
  for (size_t c = 0; c + 1 < chunked.size(); ++c)
    EXPECT_TRUE(bitwise_equal(chunked[c], single[(c + 1) * 7 - 1])) << "chunk " << c;
}

// A prompt alone and in the middle of a step with three others (a decode, a first prompt chunk
// and a continued prompt chunk whose earlier part ran in a previous step), on runners of 2 and 3
// threads: the same bits.
TEST(llama_forward, sequence_logits_are_bitwise_equal_alone_or_in_a_mixed_batch) {
  const auto hp = tiny_hparams();
  const auto logits = testing::expect_alone_equals_busy_batch(
      hp.vocab_size, [&](int32_t threads) { return make_runner(hp, threads); });
  // The neighbours are right too (against the naive reference).
  const auto vocab = static_cast<size_t>(hp.vocab_size);
  ASSERT_EQ(logits.size(), 4 * vocab);
  const auto ref_d = naive_forward(tiny_llama(hp, 1234), random_tokens(18, hp.vocab_size, 13));
  for (size_t v = 0; v < vocab; ++v)
    EXPECT_NEAR(logits[3 * vocab + v], ref_d.back()[v], 1e-4);
}

TEST(llama_forward, only_sampled_sequences_produce_logits) {
  const auto hp = tiny_hparams();
  auto runner = make_runner(hp);
  step_batch batch;
  batch.token_ids = random_tokens(5, hp.vocab_size, 3);
  batch.seqs = {seq_entry(1, 0, 2, {0}, false), seq_entry(2, 0, 3, {1}, true)};
  EXPECT_EQ(runner->forward_logits(batch).size(), static_cast<size_t>(hp.vocab_size));
  batch.seqs[1].sample = false;
  batch.seqs[0].start_pos = 0;
  batch.seqs[1].block_table = {5};
  EXPECT_TRUE(runner->forward_logits(batch).empty());
}

}  // namespace
}  // namespace troupe::runtime
