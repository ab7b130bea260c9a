#include "runtime/model/llama_runner.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>

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
  if (shard.first_layer < 0 || shard.first_layer >= shard.end_layer ||
      shard.end_layer > weights.hparams.num_layers) {
    return error{"a shard must hold layers within the model's " +
                 std::to_string(weights.hparams.num_layers) + " (got [" +
                 std::to_string(shard.first_layer) + ", " + std::to_string(shard.end_layer) + "))"};
  }
  auto sliced = slice_llama_weights(weights, shard);
  auto cache = kv_cache_shape_for(weights.hparams, shard, num_kv_blocks, block_size, kv_dtype);
  set_kv_cache_scales(cache, sliced);  // the shard's layers'
  return std::unique_ptr<llama_runner>(
      new llama_runner(std::move(compute), std::move(sliced), shard, cache));
}

llama_runner::llama_runner(std::unique_ptr<backend::compute_backend> compute, llama_weights weights,
                           const backend::kv_cache_shape& cache)
    : compute_(std::move(compute)),
      weights_(upload_llama_weights(*compute_, std::move(weights))),
      num_kv_blocks_(cache.num_blocks),
      block_size_(cache.block_size),
      kv_cache_dtype_(cache.dtype),
      cache_shape_(cache),
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
      cache_shape_(cache),
      cache_(compute_->allocate_kv_cache(cache)),
      forward_(*compute_, weights_, cache_) {}

llama_runner::llama_runner(std::unique_ptr<backend::compute_backend> compute,
                           const llama_runner& source)
    : compute_(std::move(compute)),
      weights_(source.weights_),
      num_kv_blocks_(source.num_kv_blocks_),
      block_size_(source.block_size_),
      kv_cache_dtype_(source.kv_cache_dtype_),
      cache_shape_(source.cache_shape_),
      cache_(compute_->allocate_kv_cache(cache_shape_)),
      forward_(*compute_, weights_, cache_) {}

std::unique_ptr<llama_runner> llama_runner::create_sharing(
    std::unique_ptr<backend::compute_backend> compute, const llama_runner& source) {
  return std::unique_ptr<llama_runner>(new llama_runner(std::move(compute), source));
}

status llama_runner::validate(const step_batch& batch) const {
  return validate_step_batch(batch, block_size_, num_kv_blocks_, vocab_size());
}

void llama_runner::check_step(const step_batch& batch, const stage_activations* input) const {
  if (auto st = validate(batch); !st) {
    // A malformed step is the scheduler's bug; running it would corrupt other sequences' KV.
    std::fprintf(stderr, "llama_runner: invalid step batch: %s\n", st.message().c_str());
    std::abort();
  }
  if (weights_.shard.first_stage() != (input == nullptr)) {
    throw std::invalid_argument(input == nullptr
                                    ? "a pipeline stage after the first needs its input"
                                    : "the first pipeline stage takes no input");
  }
  const size_t n = batch.token_ids.size() * static_cast<size_t>(weights_.hparams.hidden_size);
  if (input != nullptr && (input->residual.size() != n || input->hidden.size() != n)) {
    throw std::invalid_argument("a pipeline stage's input does not hold the step's " +
                                std::to_string(batch.token_ids.size()) + " tokens");
  }
}

std::span<const float> llama_runner::run_checked(const step_batch& batch,
                                                 llama_forward::result_kind kind,
                                                 const stage_activations* input) {
  check_step(batch, input);
  if (!weights_.shard.last_stage(weights_.hparams))
    throw std::logic_error("only the last pipeline stage samples");
  return forward_.run(batch, kind, input);
}

stage_activations llama_runner::forward_stage(const step_batch& batch,
                                              const stage_activations* input) {
  check_step(batch, input);
  if (weights_.shard.last_stage(weights_.hparams))
    throw std::logic_error("the last pipeline stage samples: execute() it");
  return forward_.run_stage(batch, input);
}

void llama_runner::resize_kv_cache(int32_t num_blocks) {
  compute_->resize_kv_cache(cache_, num_blocks);
  num_kv_blocks_ = num_blocks;
  cache_shape_.num_blocks = num_blocks;
}

std::vector<float> llama_runner::forward_logits(const step_batch& batch) {
  auto logits = run_checked(batch);
  return {logits.begin(), logits.end()};
}

std::vector<sampled_token> llama_runner::execute(const step_batch& batch) {
  return execute(batch, nullptr);
}

std::vector<sampled_token> llama_runner::execute(const step_batch& batch,
                                                 const stage_activations* input) {
  // The backend sampled every row (sample_rows): only tokens, logprobs and top logprobs leave
  // the device.
  const auto result = run_checked(batch, llama_forward::result_kind::tokens, input);
  const int64_t top = forward_.max_top_logprobs();
  const auto rows = static_cast<int64_t>(result.size()) / forward_.sampled_width();
  const float* top_ids = result.data() + 2 * rows;
  const float* top_values = top_ids + rows * top;
  std::vector<sampled_token> out;
  int64_t i = 0;  // the result row
  auto add = [&](uint64_t seq_id, int32_t token, int32_t num_tops) -> sampled_token& {
    auto& t = out.emplace_back(sampled_token{seq_id, token, result[rows + i], {}});
    for (int32_t j = 0; j < num_tops && j < top; ++j) {
      const float id = top_ids[i * top + j];
      if (id < 0.0f) break;
      t.top_logprobs.emplace_back(static_cast<int32_t>(id), top_values[i * top + j]);
    }
    return t;
  };
  size_t offset = 0;  // the sequence's first token in batch.token_ids
  std::vector<int32_t> row_tokens;
  for (const auto& seq : batch.seqs) {
    offset += static_cast<size_t>(seq.num_tokens);
    if (!seq.sample) continue;
    // One row after the last known token and one after each draft (fill_step_metadata).
    const auto num_rows = static_cast<size_t>(seq.num_draft_tokens) + 1;
    row_tokens.clear();
    for (size_t r = 0; r < num_rows; ++r)
      row_tokens.push_back(static_cast<int32_t>(result[i + static_cast<int64_t>(r)]));
    const auto drafts =
        std::span<const int32_t>(batch.token_ids).subspan(offset - num_rows + 1, num_rows - 1);
    const int32_t kept = accept_draft_tokens(drafts, row_tokens);
    const int64_t end = i + static_cast<int64_t>(num_rows);
    for (int32_t r = 0; r < kept; ++r, ++i)
      add(seq.seq_id, row_tokens[static_cast<size_t>(r)], seq.sampling.num_top_logprobs);
    i = end;
  }
  // The scored rows' out[i] is the token's rank (compute_backend::sample_rows).
  for (const auto& seq : batch.seqs) {
    for (size_t k = 0; k < seq.prompt_logprob_targets.size(); ++k, ++i) {
      auto& t = add(seq.seq_id, seq.prompt_logprob_targets[k], seq.sampling.num_prompt_logprobs);
      t.prompt_position = seq.start_pos + 1 + static_cast<int32_t>(k);
      t.rank = static_cast<int32_t>(result[i]);
    }
  }
  return out;
}

}  // namespace troupe::runtime
