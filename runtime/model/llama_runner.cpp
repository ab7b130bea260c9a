#include "runtime/model/llama_runner.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "kernels/cpu/thread_pool.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/model/sampler.hpp"

namespace troupe::runtime {

status llama_runner::check(const llama_weights& weights, int32_t num_kv_blocks,
                           int32_t block_size) {
  if (auto st = check_llama_weights(weights); !st) return st;
  if (num_kv_blocks < 1 || block_size < 1) return error{"need at least one KV block of size >= 1"};
  return ok_status();
}

result<std::unique_ptr<llama_runner>> llama_runner::create(
    std::unique_ptr<backend::compute_backend> compute, llama_weights weights, int32_t num_kv_blocks,
    int32_t block_size, backend::kv_cache_dtype kv_dtype) {
  if (auto st = check(weights, num_kv_blocks, block_size); !st) return st.err();
  auto cache = kv_cache_shape_for(weights.hparams, num_kv_blocks, block_size, kv_dtype);
  set_kv_cache_scales(cache, weights);
  return std::unique_ptr<llama_runner>(
      new llama_runner(std::move(compute), std::move(weights), cache));
}

result<std::unique_ptr<llama_runner>> llama_runner::create_shard(
    std::unique_ptr<backend::compute_backend> compute, const llama_weights& weights,
    const llama_shard& shard, int32_t num_kv_blocks, int32_t block_size,
    backend::kv_cache_dtype kv_dtype) {
  if (auto st = check(weights, num_kv_blocks, block_size); !st) return st.err();
  if (auto st = check_tensor_parallel(weights.hparams, shard.world_size); !st) return st.err();
  auto cache = kv_cache_shape_for(weights.hparams, shard, num_kv_blocks, block_size, kv_dtype);
  set_kv_cache_scales(cache, weights);
  return std::unique_ptr<llama_runner>(
      new llama_runner(std::move(compute), slice_llama_weights(weights, shard), shard, cache));
}

llama_runner::llama_runner(std::unique_ptr<backend::compute_backend> compute, llama_weights weights,
                           const backend::kv_cache_shape& cache)
    : compute_(std::move(compute)),
      weights_(upload_llama_weights(*compute_, std::move(weights))),
      num_kv_blocks_(cache.num_blocks),
      block_size_(cache.block_size),
      kv_cache_dtype_(cache.dtype),
      cache_(compute_->allocate_kv_cache(cache)),
      forward_(*compute_, weights_, cache_) {}

llama_runner::llama_runner(std::unique_ptr<backend::compute_backend> compute,
                           llama_weights shard_weights, const llama_shard& shard,
                           const backend::kv_cache_shape& cache)
    : compute_(std::move(compute)),
      weights_(upload_llama_weights(*compute_, std::move(shard_weights), shard)),
      num_kv_blocks_(cache.num_blocks),
      block_size_(cache.block_size),
      kv_cache_dtype_(cache.dtype),
      cache_(compute_->allocate_kv_cache(cache)),
      forward_(*compute_, weights_, cache_) {}

status llama_runner::validate(const step_batch& batch) const {
  return validate_step_batch(batch, block_size_, num_kv_blocks_, vocab_size());
}

std::span<const float> llama_runner::run_checked(const step_batch& batch,
                                                 llama_forward::result_kind kind,
                                                 std::vector<float>* sampled) {
  if (auto st = validate(batch); !st) {
    // A malformed step is the scheduler's bug; running it would corrupt other sequences' KV.
    std::fprintf(stderr, "llama_runner: invalid step batch: %s\n", st.message().c_str());
    std::abort();
  }
  return forward_.run(batch, kind, sampled);
}

void llama_runner::resize_kv_cache(int32_t num_blocks) {
  compute_->resize_kv_cache(cache_, num_blocks);
  num_kv_blocks_ = num_blocks;
}

std::vector<float> llama_runner::forward_logits(const step_batch& batch) {
  auto logits = run_checked(batch);
  return {logits.begin(), logits.end()};
}

std::vector<sampled_token> llama_runner::execute(const step_batch& batch) {
  std::vector<sampled_token> out;
  std::vector<const seq_step*> host_rows;  // rows the host samples, with their index in `out`
  std::vector<size_t> host_index;
  for (const auto& seq : batch.seqs) {
    if (!seq.sample) continue;
    if (!device_samplable(seq.sampling)) {
      host_rows.push_back(&seq);
      host_index.push_back(out.size());
    }
    out.push_back({seq.seq_id, 0, 0.0f, {}});
  }
  // The backend's sample_rows drew every other row (logits processors included): only their
  // tokens leave the device, and the logits too when some row asks for top logprobs.
  std::span<const float> logits;
  std::span<const float> tokens;
  if (host_rows.empty()) {
    tokens = run_checked(batch, llama_forward::result_kind::tokens);
  } else {
    logits = run_checked(batch, llama_forward::result_kind::logits, &sampled_);
    tokens = sampled_;
  }
  const size_t rows = tokens.size() / 2;  // a padded step's rows
  for (size_t i = 0; i < out.size(); ++i) {
    out[i].token_id = static_cast<int32_t>(tokens[i]);
    out[i].logprob = tokens[rows + i];
  }
  // Rows sample independently (each from its own seed and index), so several run in parallel: a
  // 128k-token vocabulary takes about a millisecond a row with top-p.
  const auto vocab = static_cast<size_t>(vocab_size());
  auto sample_row = [&](int i) {
    const seq_step& seq = *host_rows[static_cast<size_t>(i)];
    const size_t index = host_index[static_cast<size_t>(i)];
    auto s = sample_token(logits.subspan(index * vocab, vocab), seq.sampling, seq.output_index,
                          seq.token_history);
    out[index] = {seq.seq_id, s.token_id, s.logprob, std::move(s.top_logprobs)};
  };
  const auto n = static_cast<int>(host_rows.size());
  const int threads = std::min(max_sampling_threads, kernels::cpu::default_num_compute_threads());
  if (n >= 2 && threads > 1) {
    if (!sampling_pool_) sampling_pool_ = std::make_unique<kernels::cpu::thread_pool>(threads);
    sampling_pool_->run(n, sample_row);
  } else {
    for (int i = 0; i < n; ++i)
      sample_row(i);
  }
  return out;
}

}  // namespace troupe::runtime
