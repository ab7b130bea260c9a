// The CUDA backend against the CPU backend: the same forward (llama_runner) over both on tiny
// models, logits compared step by step while both decode the CPU's greedy tokens. Needs a GPU:
// every test but the refusal ones skips without a device.
//
// Tolerances: f32 weights (f32, bf16/f16 or fp8 KV caches: store_kv writes the CPU's bits) differ
// only in summation order (attention, rmsnorm, cuBLAS), so logits agree within 1e-3. bf16 weights
// multiply bf16-rounded activations on the GPU (vLLM's numerics) where the CPU keeps f32
// activations; that rounding alone moves these models' logits by 1.3e-2, so the bf16 reference is
// the CPU backend with the GPU's rounding (bf16_activations_backend). Wherever activations are
// quantized before a GEMM (that bf16 rounding, W8A8's int8), a last-bit difference in the f32 parts
// can still move one value across a rounding boundary, and that one step spreads: rerunning the CPU
// reference with norm weights one ulp off moved the logits by up to 1e-2 (measured on the CPU
// backend), so those comparisons allow 2e-2. A wrong layout or scale is far outside it; a
// truncating bf16 rounding (4e-2 here) just outside, and the kernel tests check that rounding bit
// for bit.
#include "runtime/backend/cuda/cuda_backend.hpp"

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <span>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/quant_gemm.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/formats/half.hpp"
#include "runtime/formats/hf_make_model.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/llama_runner.hpp"
#include "runtime/model/sampler.hpp"
#include "tests/runtime/backend/cuda/cuda_test_runners.hpp"
#include "tests/runtime/model/tiny_gguf.hpp"
#include "tests/runtime/model/tiny_llama.hpp"

namespace troupe::runtime {
namespace {

using backend::cuda_backend;
using backend::kv_cache_dtype;
using testing::argmax;
using testing::have_gpu;
using testing::make_graph_runner;
using testing::make_runner;
using testing::seq_entry;

constexpr int32_t num_blocks = testing::runner_blocks, block_size = testing::runner_block_size;

constexpr double f32_tolerance = 1e-3, quantized_tolerance = 2e-2;

// The CPU backend with the GPU's dense 16-bit numerics: a bf16 (f16) weight multiplies x rounded
// to bf16 (f16), round to nearest even, as gemm_engine::dense's convert() feeds cuBLAS.
class bf16_activations_backend final : public backend::cpu_backend {
 public:
  bf16_activations_backend() : cpu_backend(2) {}
  backend::weight_handle upload_weight(const backend::weight_desc& desc,
                                       backend::weight_data data) override {
    const auto w = cpu_backend::upload_weight(desc, std::move(data));
    descs_[w.id] = desc;
    return w;
  }
  void matmul(backend::buffer_handle x, int64_t rows, backend::weight_handle w,
              backend::buffer_handle y) override {
    const backend::weight_desc& desc = descs_.at(w.id);
    const bool bf16 = desc.format == backend::weight_format::bf16;
    if (!bf16 && desc.format != backend::weight_format::f16) {
      cpu_backend::matmul(x, rows, w, y);
      return;
    }
    const auto values = download(x, rows * desc.cols);
    std::vector<float> rounded(values.begin(), values.end());
    for (float& v : rounded)
      v = bf16 ? bf16_to_f32(f32_to_bf16(v)) : f16_to_f32(f32_to_f16(v));
    if (!rounded_.valid()) rounded_ = allocate_buffer();
    upload_buffer(rounded_, rounded);
    cpu_backend::matmul(rounded_, rows, w, y);
  }
  void matmuls(backend::buffer_handle x, int64_t rows,
               std::span<const backend::matmul_target> targets) override {
    for (const auto& t : targets)
      matmul(x, rows, t.w, t.y);
  }

 private:
  std::map<int32_t, backend::weight_desc> descs_;
  backend::buffer_handle rounded_;
};

// Two prompts (7 and 5 tokens, the second in two chunks), then decode steps of both fed the
// CPU's greedy tokens; every step's logits compared within `tolerance` * (1 + |cpu logit|).
// gpu_rounding: the CPU reference rounds 16-bit GEMMs' activations as the GPU does.
void expect_same_logits(const llama_weights& weights, kv_cache_dtype dtype, double tolerance,
                        bool gpu_rounding = false) {
  std::unique_ptr<backend::compute_backend> reference;
  if (gpu_rounding)
    reference = std::make_unique<bf16_activations_backend>();
  else
    reference = std::make_unique<backend::cpu_backend>(2);
  auto cpu = make_runner(std::move(reference), weights, dtype);
  auto created = cuda_backend::create(0);
  ASSERT_TRUE(created.ok()) << created.message();
  auto gpu = make_runner(std::move(*created), weights, dtype);
  ASSERT_TRUE(cpu && gpu);
  const int32_t vocab = weights.hparams.vocab_size;
  const auto prompt_a = testing::random_tokens(7, vocab, 1);
  const auto prompt_b = testing::random_tokens(5, vocab, 2);

  std::vector<step_batch> steps(2);
  steps[0].token_ids = prompt_a;
  steps[0].token_ids.insert(steps[0].token_ids.end(), prompt_b.begin(), prompt_b.begin() + 3);
  steps[0].seqs = {seq_entry(1, 0, 7, {3, 9}), seq_entry(2, 0, 3, {5}, false)};
  steps[1].token_ids = {prompt_b[3], prompt_b[4]};
  steps[1].seqs = {seq_entry(2, 3, 2, {5, 1})};
  int32_t pos_a = 7, pos_b = 5;
  std::vector<int32_t> table_a = {3, 9}, table_b = {5, 1};
  int32_t next_a = -1, next_b = -1;
  double worst = 0.0;
  for (int step = 0; step < 8; ++step) {
    step_batch batch;
    if (step < 2) {
      batch = steps[static_cast<size_t>(step)];
    } else {
      if (pos_a % block_size == 0) table_a.push_back(table_a.size() == 2 ? 0 : 2);
      if (pos_b % block_size == 0) table_b.push_back(table_b.size() == 2 ? 7 : 8);
      batch.token_ids = {next_a, next_b};
      batch.seqs = {seq_entry(1, pos_a++, 1, table_a), seq_entry(2, pos_b++, 1, table_b)};
    }
    const auto want = cpu->forward_logits(batch);
    const auto got = gpu->forward_logits(batch);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const double err = std::abs(double(got[i]) - want[i]) / (1.0 + std::abs(want[i]));
      worst = std::max(worst, err);
      ASSERT_LE(err, tolerance) << "step " << step << " logit " << i << ": cuda " << got[i]
                                << " cpu " << want[i];
    }
    // The greedy tokens both continue with (the CPU's).
    size_t row = 0;
    for (const auto& s : batch.seqs) {
      if (!s.sample) continue;
      const int32_t t = argmax(want, row * static_cast<size_t>(vocab), static_cast<size_t>(vocab));
      (s.seq_id == 1 ? next_a : next_b) = t;
      ++row;
    }
  }
  std::printf("largest relative logit difference: %.3g\n", worst);
}

TEST(cuda_backend, refuses_a_device_that_does_not_exist) {
  auto created = cuda_backend::create(kernels::cuda::cuda_device_count() + 3);
  ASSERT_FALSE(created.ok());
  EXPECT_NE(created.message().find("not available"), std::string::npos) << created.message();
}

TEST(cuda_backend, f32_logits_match_the_cpu_backend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  expect_same_logits(testing::tiny_llama(testing::tiny_hparams(), 5), kv_cache_dtype::f32,
                     f32_tolerance);
}

TEST(cuda_backend, neox_bias_sliding_window_and_gqa_match_the_cpu_backend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  auto hp = testing::tiny_hparams();
  hp.attention_bias = true;
  hp.rope = rope_style::neox;
  hp.sliding_window = 5;
  hp.num_heads = 8;
  hp.head_dim = 8;
  auto w = testing::tiny_llama(hp, 21);
  for (auto& l : w.layers) {
    l.bq.assign(static_cast<size_t>(hp.num_heads * hp.head_dim), 0.125f);
    l.bk.assign(static_cast<size_t>(hp.num_kv_heads * hp.head_dim), -0.25f);
    l.bv.assign(static_cast<size_t>(hp.num_kv_heads * hp.head_dim), 0.5f);
  }
  expect_same_logits(w, kv_cache_dtype::f32, f32_tolerance);
}

TEST(cuda_backend, bf16_logits_match_the_cpu_backend_with_bf16_activations) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  auto w = testing::tiny_llama(testing::tiny_hparams(), 7);
  apply_weight_dtype(w, weight_dtype::bfloat16);
  expect_same_logits(w, kv_cache_dtype::f32, quantized_tolerance, true);
}

TEST(cuda_backend, fp8_kv_caches_match_the_cpu_backend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (auto dtype : {kv_cache_dtype::fp8_e4m3, kv_cache_dtype::fp8_e5m2}) {
    auto w = testing::tiny_llama(testing::tiny_hparams(), 9);
    for (auto& l : w.layers) {
      l.k_scale = 0.05f;
      l.v_scale = 0.02f;
    }
    expect_same_logits(w, dtype, f32_tolerance);
  }
}

// 16-bit caches: the same words on both sides, read back exactly. The second run is vLLM's usual
// setup on a GPU (a bf16 model, --kv-cache-dtype auto = bf16).
TEST(cuda_backend, bf16_and_f16_kv_caches_match_the_cpu_backend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (auto dtype : {kv_cache_dtype::bf16, kv_cache_dtype::f16})
    expect_same_logits(testing::tiny_llama(testing::tiny_hparams(), 9), dtype, f32_tolerance);
  auto w = testing::tiny_llama(testing::tiny_hparams(), 7);
  apply_weight_dtype(w, weight_dtype::bfloat16);
  expect_same_logits(w, kv_cache_dtype::bf16, quantized_tolerance, true);
}

TEST(cuda_backend, w8a8_logits_match_the_cpu_backend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (bool asymmetric : {false, true}) {
    tiny_model_spec spec;
    spec.seed = 3;
    spec.w8a8 = true;
    spec.w8a8_asymmetric = asymmetric;
    const auto dir =
        std::filesystem::temp_directory_path() / ("troupe_cuda_w8a8_" + std::to_string(::getpid()));
    ASSERT_TRUE(write_tiny_model(spec, dir.string()).ok());
    auto w = load_hf_model(dir.string(), 1);
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(w.ok()) << w.message();
    expect_same_logits(*w, kv_cache_dtype::f32, quantized_tolerance);
  }
}

// GGUF blocks on both sides: the products are the same bits (kernels/cuda/quant_gemm.hpp); the
// logits differ only through attention's and the norms' order (and the int8 roundings it moves).
TEST(cuda_backend, gguf_block_logits_match_the_cpu_backend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  auto w = testing::tiny_llama(testing::tiny_hparams(), 13);
  testing::encode_as_gguf_blocks(w);
  ASSERT_EQ(w.token_embedding.format, backend::weight_format::q4_1);
  const auto embedding = w.token_embedding;
  expect_same_logits(w, kv_cache_dtype::f32, quantized_tolerance);

  // On the device the blocks take their packed size, not f32's.
  auto created = cuda_backend::create(0);
  ASSERT_TRUE(created.ok()) << created.message();
  const int64_t vocab = w.hparams.vocab_size, hidden = w.hparams.hidden_size;
  (*created)->upload_weight({vocab, hidden, backend::weight_format::q4_1}, embedding);
  EXPECT_EQ((*created)->weight_bytes(),
            4 * kernels::cuda::quant_packed_words(kernels::cpu::block_format::q4_1, vocab, hidden));
}

TEST(cuda_backend, dummy_weights_generated_on_the_device_are_the_hosts) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  for (auto format :
       {backend::weight_format::f32, backend::weight_format::bf16, backend::weight_format::w8a8}) {
    auto w = testing::tiny_llama(testing::tiny_hparams(), 11);
    uint64_t seed = 100;
    for_each_matrix(w, [&](weight_matrix& m, int64_t, int64_t, const std::string& name) {
      // The embedding stays dense (checkpoints never quantize it).
      const auto f = name == "token_embedding" && format == backend::weight_format::w8a8
                         ? backend::weight_format::bf16
                         : format;
      m = weight_matrix{};
      m.format = f;
      m.random = backend::random_fill{seed++, 0.05f};
    });
    const bool f32 = format == backend::weight_format::f32;
    expect_same_logits(w, kv_cache_dtype::f32, f32 ? f32_tolerance : quantized_tolerance,
                       format == backend::weight_format::bf16);
  }
}

TEST(cuda_backend, a_resized_kv_cache_serves_a_new_prompt) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  auto w = testing::tiny_llama(testing::tiny_hparams(), 13);
  auto created = cuda_backend::create(0);
  ASSERT_TRUE(created.ok()) << created.message();
  auto gpu = make_runner(std::move(*created), w, kv_cache_dtype::f32);
  auto cpu = make_runner(std::make_unique<backend::cpu_backend>(1), w, kv_cache_dtype::f32);
  ASSERT_TRUE(gpu && cpu);
  gpu->resize_kv_cache(40);
  EXPECT_EQ(gpu->num_kv_blocks(), 40);
  step_batch batch;
  batch.token_ids = testing::random_tokens(6, w.hparams.vocab_size, 4);
  batch.seqs = {seq_entry(1, 0, 6, {39, 2})};
  const auto got = gpu->forward_logits(batch);
  batch.seqs = {seq_entry(1, 0, 6, {15, 2})};
  const auto want = cpu->forward_logits(batch);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-3 * (1.0 + std::abs(want[i])));
}

// CUDA graphs: decode steps padded to a graph size and replayed give the CPU's logits. Two short
// sequences decode first (2 rows, tables within the first stride of 16 blocks, one key split);
// then a 300-token prompt joins them (a prefill, eager) and the three decode together, padded to
// 4 rows whose pad row writes the scratch block: its 19-block table doubles the stride (a new
// capture whose attention runs several key splits, most of them empty for the short ones).
// Block 0 belongs to a real sequence, so a pad row writing there would show.
TEST(cuda_backend, decode_steps_replayed_from_cuda_graphs_match_the_cpu_backend) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  auto hp = testing::tiny_hparams();
  hp.max_position_embeddings = 1024;
  const auto w = testing::tiny_llama(hp, 17);
  constexpr int32_t blocks = 64, bs = 16;
  auto cpu_made = llama_runner::create(std::make_unique<backend::cpu_backend>(2), w, blocks, bs);
  auto created = cuda_backend::create(0);
  ASSERT_TRUE(created.ok()) << created.message();
  cuda_backend* gpu_backend = created->get();
  gpu_backend->enable_graphs(8);
  const std::vector<int32_t> sizes(gpu_backend->graph_sizes().begin(),
                                   gpu_backend->graph_sizes().end());
  EXPECT_EQ(sizes, (std::vector<int32_t>{1, 2, 4, 8}));
  auto gpu_made = llama_runner::create(std::move(*created), w, blocks, bs);
  ASSERT_TRUE(cpu_made.ok() && gpu_made.ok());
  auto& cpu = **cpu_made;
  auto& gpu = **gpu_made;

  struct sequence {
    uint64_t id;
    int32_t pos;
    std::vector<int32_t> table;
    int32_t next = 0;
  };
  std::vector<sequence> seqs = {{1, 0, {0}}, {2, 0, {5}}};
  int32_t next_block = 6;
  double worst = 0.0;
  auto run = [&](const step_batch& batch, const char* what) {
    const auto want = cpu.forward_logits(batch);
    const auto got = gpu.forward_logits(batch);
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < want.size(); ++i) {
      const double err = std::abs(double(got[i]) - want[i]) / (1.0 + std::abs(want[i]));
      worst = std::max(worst, err);
      ASSERT_LE(err, f32_tolerance) << what << ": logit " << i;
    }
    size_t row = 0;
    for (const auto& e : batch.seqs) {
      auto& s = *std::find_if(seqs.begin(), seqs.end(), [&](auto& x) { return x.id == e.seq_id; });
      s.next = argmax(want, row * size_t(hp.vocab_size), size_t(hp.vocab_size));
      s.pos = e.start_pos + e.num_tokens;
      ++row;
    }
  };
  auto decode_all = [&](const char* what) {
    step_batch batch;
    for (auto& s : seqs) {
      if (s.pos % bs == 0 && s.pos / bs == static_cast<int32_t>(s.table.size()))
        s.table.push_back(next_block++);
      batch.token_ids.push_back(s.next);
      batch.seqs.push_back(seq_entry(s.id, s.pos, 1, s.table));
    }
    run(batch, what);
  };
  auto prefill = [&](sequence s, int32_t tokens, uint32_t seed) {
    for (int32_t b = 0; b * bs < tokens; ++b)
      s.table.push_back(next_block++);
    seqs.push_back(s);
    step_batch batch;
    batch.token_ids = testing::random_tokens(tokens, hp.vocab_size, seed);
    batch.seqs = {seq_entry(s.id, 0, tokens, s.table)};
    run(batch, "prefill");
  };

  // Prompts of 5 and 9 tokens in one step (eager: not decode-only).
  {
    step_batch batch;
    batch.token_ids = testing::random_tokens(14, hp.vocab_size, 3);
    batch.seqs = {seq_entry(1, 0, 5, {0}), seq_entry(2, 0, 9, {5})};
    run(batch, "two prompts");
  }
  for (int i = 0; i < 4; ++i)
    decode_all("decode of 2");
  auto counters = gpu_backend->graph_counters();
  EXPECT_FALSE(counters.disabled);
  EXPECT_EQ(counters.captures, 1);
  EXPECT_EQ(counters.replays, 3);

  prefill({3, 0, {}}, 300, 4);
  for (int i = 0; i < 5; ++i)
    decode_all("decode of 3 padded to 4");
  counters = gpu_backend->graph_counters();
  EXPECT_FALSE(counters.disabled);
  EXPECT_EQ(counters.captures, 2);
  EXPECT_EQ(counters.replays, 7);

  // Back to two rows: the 2-row graph named the old stride's launch sizes, so it is captured
  // again; then it replays.
  seqs.erase(seqs.begin());
  for (int i = 0; i < 3; ++i)
    decode_all("decode of 2 after the stride grew");
  counters = gpu_backend->graph_counters();
  EXPECT_EQ(counters.captures, 3);
  EXPECT_EQ(counters.replays, 9);

  // The runner's greedy path: the device's argmax of each row (only the ids downloaded) is the
  // CPU's greedy token.
  step_batch batch;
  for (auto& s : seqs) {
    batch.token_ids.push_back(s.next);
    batch.seqs.push_back(seq_entry(s.id, s.pos, 1, s.table));
  }
  const auto want = cpu.execute(batch);
  const auto got = gpu.execute(batch);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_EQ(got[i].token_id, want[i].token_id) << "row " << i;
  EXPECT_EQ(gpu_backend->graph_counters().replays, 10);
  std::printf("largest relative logit difference: %.3g\n", worst);
}

// Startup capture (llama_runner::capture_graphs, as the server does after its profiling step):
// every size is captured from pad-only steps, none of them stale by the end, and decode steps
// replay from the first one on, with the CPU's logits.
TEST(cuda_backend, graphs_captured_at_startup_serve_every_decode_step) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const auto w = testing::tiny_llama(testing::tiny_hparams(), 23);
  const int32_t vocab = w.hparams.vocab_size;
  cuda_backend* gpu_backend = nullptr;
  auto gpu = make_graph_runner(w, 4, gpu_backend);
  auto cpu = make_runner(std::make_unique<backend::cpu_backend>(2), w, kv_cache_dtype::f32);
  ASSERT_TRUE(gpu && cpu);
  // The server's profiling step: the largest step, so no later step grows a buffer.
  step_batch prompts;
  prompts.token_ids = testing::random_tokens(12, vocab, 8);
  prompts.seqs = {seq_entry(1, 0, 4, {1}), seq_entry(2, 0, 5, {0, 2}), seq_entry(3, 0, 3, {3})};
  (void)cpu->forward_logits(prompts);
  (void)gpu->forward_logits(prompts);
  gpu->capture_graphs();
  auto counters = gpu_backend->graph_counters();
  EXPECT_FALSE(counters.disabled);
  EXPECT_EQ(counters.captures, 3);  // 1, 2, 4
  EXPECT_EQ(counters.replays, 0);

  std::vector<int32_t> pos = {4, 5, 3}, next = {5, 6, 7};
  const std::vector<std::vector<int32_t>> tables = {{1, 4, 6}, {0, 2, 7}, {3, 5, 8}};
  for (int step = 0; step < 4; ++step) {
    step_batch batch;
    for (size_t s = 0; s < pos.size(); ++s) {
      batch.token_ids.push_back(next[s]);
      batch.seqs.push_back(seq_entry(s + 1, pos[s]++, 1, tables[s]));
    }
    const auto want = cpu->forward_logits(batch);
    const auto got = gpu->forward_logits(batch);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_NEAR(got[i], want[i], f32_tolerance * (1.0 + std::abs(want[i]))) << "step " << step;
    for (size_t s = 0; s < pos.size(); ++s)
      next[s] = argmax(want, s * size_t(vocab), size_t(vocab));
  }
  counters = gpu_backend->graph_counters();
  EXPECT_EQ(counters.captures, 3);
  EXPECT_EQ(counters.replays, 4);
}

// Op timing: every op of every step is bracketed and counted under its name (matmuls by weight
// shape); steps run eagerly while it is on.
TEST(cuda_backend, op_timing_counts_every_op_of_every_step) {
  if (!have_gpu()) GTEST_SKIP() << "no CUDA device";
  const auto w = testing::tiny_llama(testing::tiny_hparams(), 19);
  auto created = cuda_backend::create(0);
  ASSERT_TRUE(created.ok()) << created.message();
  cuda_backend* gpu_backend = created->get();
  gpu_backend->enable_graphs(8);
  gpu_backend->enable_op_timing(1000);
  EXPECT_TRUE(gpu_backend->graph_sizes().empty());
  auto gpu = make_runner(std::move(*created), w, kv_cache_dtype::f32);
  ASSERT_TRUE(gpu);
  step_batch batch;
  batch.token_ids = testing::random_tokens(5, w.hparams.vocab_size, 6);
  batch.seqs = {seq_entry(1, 0, 5, {0, 1})};
  (void)gpu->forward_logits(batch);
  batch.token_ids = {3};
  batch.seqs = {seq_entry(1, 5, 1, {0, 1})};
  (void)gpu->forward_logits(batch);
  std::map<std::string, int64_t> calls;
  for (const auto& t : gpu_backend->op_times()) {
    calls[t.op] = t.calls;
    EXPECT_GE(t.seconds, 0.0) << t.op;
  }
  const auto& hp = w.hparams;
  const int64_t layers = hp.num_layers, steps = 2;
  EXPECT_EQ(calls["paged_attention"], layers * steps);
  EXPECT_EQ(calls["store_kv"], layers * steps);
  EXPECT_EQ(calls["rope"], 2 * layers * steps);
  EXPECT_EQ(calls["embedding"], steps);
  EXPECT_EQ(calls["argmax_rows"], steps);
  // Products are counted by weight shape; q/k/v share x and run as one op (matmuls).
  const auto qkv =
      "matmuls f32 " + std::to_string(hp.num_heads * hp.head_dim) + "x" +
      std::to_string(hp.hidden_size) + " " + std::to_string(hp.num_kv_heads * hp.head_dim) + "x" +
      std::to_string(hp.hidden_size) + " " + std::to_string(hp.num_kv_heads * hp.head_dim) + "x" +
      std::to_string(hp.hidden_size);
  EXPECT_EQ(calls[qkv], layers * steps) << qkv;
  EXPECT_EQ(
      calls["matmul f32 " + std::to_string(hp.vocab_size) + "x" + std::to_string(hp.hidden_size)],
      steps);
}

}  // namespace
}  // namespace troupe::runtime
