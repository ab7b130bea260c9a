// The CPU runner on the real default model (SmolLM2-135M-Instruct, dequantized to f32): greedy
// decoding runs, agrees with llama.cpp on the first token, and is batch invariant. Exact
// token-by-token comparisons with llama.cpp live in the formats/correctness tests.
#include <gtest/gtest.h>

#include <memory>

#include "runtime/formats/llama_gguf.hpp"
#include "runtime/model/cpu_runner.hpp"
#include "runtime/model/sampler.hpp"
#include "tests/runtime/model/tiny_llama.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

// "The capital of France is" as llama.cpp tokenizes it (no BOS for this file). Greedy next token
// from llama.cpp (llama-cpp-python 0.3.16) on the model dequantized to F32: 7042 (" Paris").
const std::vector<int32_t> prompt = {504, 3575, 282, 4649, 314};
constexpr int32_t llama_cpp_f32_first_token = 7042;

class default_model : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto path = testing::default_model_gguf();
    if (path.empty()) return;
    auto file = gguf_file::open(path);
    ASSERT_TRUE(file.ok()) << file.message();
    auto weights = load_llama_gguf(**file);
    ASSERT_TRUE(weights.ok()) << weights.message();
    auto created = cpu_llama_runner::create(std::move(*weights), 32, 16);
    ASSERT_TRUE(created.ok()) << created.message();
    runner_ = std::move(*created).release();
  }
  static void TearDownTestSuite() {
    delete runner_;
    runner_ = nullptr;
  }
  void SetUp() override {
    if (runner_ == nullptr) GTEST_SKIP() << "default model not fetched (tools/setup.sh)";
  }

  // Greedy-decodes `n` tokens after `prompt_ids` for a sequence using `blocks`, with the prompt
  // fed in chunks of `chunk` tokens; `neighbour` (if set) decodes alongside in every step.
  static std::vector<int32_t> greedy(const std::vector<int32_t>& prompt_ids, int32_t n,
                                     int32_t chunk, std::vector<int32_t> blocks,
                                     bool with_neighbour) {
    std::vector<int32_t> tokens = prompt_ids, out;
    int32_t done = 0, neighbour_pos = 0, neighbour_token = 1;
    while (static_cast<int32_t>(out.size()) < n) {
      const int32_t len = std::min(chunk, static_cast<int32_t>(tokens.size()) - done);
      step_batch b;
      if (with_neighbour) {
        b.token_ids.push_back(neighbour_token);
        b.seqs.push_back(testing::seq_entry(99, neighbour_pos++, 1, {20, 21}));
      }
      b.token_ids.insert(b.token_ids.end(), tokens.begin() + done, tokens.begin() + done + len);
      b.seqs.push_back(testing::seq_entry(1, done, len, blocks));
      done += len;
      b.seqs.back().sample = done == static_cast<int32_t>(tokens.size());
      auto sampled = runner_->execute(b);
      if (with_neighbour) neighbour_token = sampled.front().token_id;
      if (b.seqs.back().sample) {
        out.push_back(sampled.back().token_id);
        tokens.push_back(out.back());
      }
    }
    return out;
  }

  static cpu_llama_runner* runner_;
};

cpu_llama_runner* default_model::runner_ = nullptr;

TEST_F(default_model, hparams_are_smollm2) {
  const auto& hp = runner_->hparams();
  EXPECT_EQ(hp.num_layers, 30);
  EXPECT_EQ(hp.hidden_size, 576);
  EXPECT_EQ(hp.num_heads, 9);
  EXPECT_EQ(hp.num_kv_heads, 3);
  EXPECT_EQ(runner_->vocab_size(), 49152);
  EXPECT_TRUE(hp.tie_word_embeddings);
}

TEST_F(default_model, greedy_first_token_matches_llama_cpp) {
  auto out = greedy(prompt, 6, 64, {3, 7}, false);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(out[0], llama_cpp_f32_first_token);
}

TEST_F(default_model, greedy_decode_is_batch_and_chunk_invariant) {
  auto alone = greedy(prompt, 6, 64, {3, 7}, false);
  auto crowded = greedy(prompt, 6, 2, {11, 5}, true);
  EXPECT_EQ(alone, crowded);
}

}  // namespace
}  // namespace troupe::runtime
