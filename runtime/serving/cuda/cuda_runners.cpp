#include "runtime/serving/cuda/cuda_runners.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <thread>
#include <utility>

#include "kernels/cuda/device.hpp"
#include "runtime/backend/cuda/cuda_backend.hpp"
#include "runtime/backend/cuda/nccl_communicator.hpp"
#include "runtime/model/kv_cache.hpp"
#include "runtime/model/llama_runner.hpp"
#include "runtime/model/tensor_parallel.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"

namespace troupe::runtime {

namespace {

constexpr double gib = 1024.0 * 1024.0 * 1024.0;

// Runs fn(rank) for every rank at once, each on its own thread (their collectives wait for each
// other); the first failure's message, or "" (a failing rank closes the group, so the others'
// collectives fail instead of waiting).
template <class F>
std::string on_every_rank(std::vector<std::unique_ptr<llama_runner> >& ranks,
                          backend::nccl_group* group, F fn) {
  std::vector<std::thread> threads;
  std::vector<std::string> failures(ranks.size());
  for (size_t r = 0; r < ranks.size(); ++r) {
    threads.emplace_back([&, r] {
      try {
        fn(*ranks[r]);
      } catch (const std::exception& e) {
        failures[r] = e.what();
        if (group != nullptr) group->close();
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (const auto& f : failures) {
    if (!f.empty()) return f;
  }
  return {};
}

// One data-parallel engine's ranks: rank r on GPU first_device + r, joined by `group` (none at one
// rank).
struct gpu_engine {
  std::shared_ptr<backend::nccl_group> group;
  std::vector<std::unique_ptr<llama_runner> > ranks;
};

}  // namespace

step_batch profiling_step(const engine_config& c, int32_t block_size, int32_t vocab_size,
                          int32_t& blocks_needed) {
  const int32_t T = *c.max_num_batched_tokens;
  const int32_t S = std::max(1, std::min(c.max_num_seqs, T));
  const int32_t k = c.speculative.num_speculative_tokens;
  // Drafts to hand out: sampled rows at most min(T, S * (1 + k)), S of them the sequences' own.
  int32_t drafts_left = static_cast<int32_t>(std::min<int64_t>(T, int64_t{S} * (1 + k))) - S;
  std::vector<int32_t> drafts(static_cast<size_t>(S), 0);
  for (int32_t s = 1; s < S; ++s) {
    drafts[static_cast<size_t>(s)] = std::min(k, drafts_left);
    drafts_left -= drafts[static_cast<size_t>(s)];
  }
  int32_t others = 0;
  for (int32_t s = 1; s < S; ++s)
    others += 1 + drafts[static_cast<size_t>(s)];
  drafts[0] = std::min({k, drafts_left, T - others - 1});
  step_batch batch;
  int32_t next_block = 0;
  for (int32_t s = 0; s < S; ++s) {
    seq_step seq;
    seq.seq_id = static_cast<uint64_t>(s);
    seq.num_tokens = s == 0 ? T - others : 1 + drafts[static_cast<size_t>(s)];
    seq.num_draft_tokens = drafts[static_cast<size_t>(s)];
    seq.output_index = seq.num_tokens - seq.num_draft_tokens;
    seq.start_pos = 0;
    seq.sample = true;
    const int32_t blocks = (seq.num_tokens + block_size - 1) / block_size;
    for (int32_t b = 0; b < blocks; ++b)
      seq.block_table.push_back(next_block++);
    for (int32_t i = 0; i < seq.num_tokens; ++i)
      batch.token_ids.push_back((s + i) % vocab_size);
    batch.seqs.push_back(std::move(seq));
  }
  blocks_needed = next_block;
  return batch;
}

result<device_runners> make_runners_on_gpus(llama_weights weights, const engine_config& resolved,
                                            const kv_cache_plan& plan) {
  const int32_t world = resolved.tensor_parallel_size;
  const int32_t num_engines = std::max(1, resolved.data_parallel_size);
  const auto hp = weights.hparams;
  if (num_engines > 1 && num_engines * world > cuda_runtime_device_count()) {
    return error{"--data-parallel-size " + std::to_string(num_engines) +
                 " x --tensor-parallel-size " + std::to_string(world) + " needs " +
                 std::to_string(num_engines * world) + " GPUs; " +
                 std::to_string(cuda_runtime_device_count()) + " found"};
  }
  int32_t profile_blocks = 0;
  const auto batch = profiling_step(resolved, plan.block_size, hp.vocab_size, profile_blocks);
  const bool fixed = resolved.num_gpu_blocks_override > 0;
  // Engine d's rank r on GPU d x world + r, each with its shard of the weights (all of them at
  // one rank); every engine holds its own copy, as vLLM's engines do.
  std::vector<gpu_engine> engines(static_cast<size_t>(num_engines));
  std::vector<backend::cuda_backend*> gpus;
  try {
    for (int32_t d = 0; d < num_engines; ++d) {
      gpu_engine& engine = engines[static_cast<size_t>(d)];
      const int32_t first_device = d * world;
      if (world > 1) {
        auto created = backend::nccl_group::create(world, first_device);
        if (!created) return created.err();
        engine.group = std::move(*created);
      }
      for (int32_t r = 0; r < world; ++r) {
        auto backend = backend::cuda_backend::create(
            first_device + r, engine.group ? &engine.group->rank(r) : nullptr);
        if (!backend) return backend.err();
        gpus.push_back(backend->get());
        auto created =
            world == 1 ? llama_runner::create(std::move(*backend),
                                              d + 1 < num_engines ? weights : std::move(weights),
                                              profile_blocks, plan.block_size, plan.dtype)
                       : llama_runner::create_shard(std::move(*backend), weights,
                                                    make_llama_shard(hp, r, world), profile_blocks,
                                                    plan.block_size, plan.dtype);
        if (!created) return created.err();
        engine.ranks.push_back(std::move(*created));
        const auto memory = gpus.back()->memory();
        spdlog::info("CUDA device {}: weights take {:.2f} GiB of {:.1f} GiB", first_device + r,
                     static_cast<double>(gpus.back()->weight_bytes()) / gib,
                     static_cast<double>(memory.total_bytes) / gib);
      }
      // The maximal step at every rank at once (their collectives wait for each other).
      const auto failed = on_every_rank(engine.ranks, engine.group.get(), [&](llama_runner& rank) {
        (void)rank.forward_logits(batch);
      });
      if (!failed.empty()) return error{"the profiling step on the GPU failed: " + failed};
    }
  } catch (const backend::cuda_backend_error& e) {
    return error{std::string("loading the model on the GPU failed: ") + e.what()};
  }

  device_runners out;
  out.plan = plan;
  if (fixed) {
    out.plan.num_blocks = plan.num_blocks;
  } else {
    // vLLM's rule: the KV cache gets what --gpu-memory-utilization leaves once the weights and
    // a maximal step's activations are in place (the profiling cache's blocks counted back);
    // every rank of every engine gets the number the fullest GPU affords (block ids mean the
    // same at every rank; the engines' allocators are sized alike).
    int64_t blocks = INT32_MAX;
    int64_t budget = 0;
    for (auto* gpu : gpus) {
      const auto m = gpu->memory();
      const int64_t in_use = m.total_bytes - m.free_bytes;
      budget = static_cast<int64_t>(static_cast<double>(m.total_bytes) *
                                    resolved.gpu_memory_utilization) -
               in_use + int64_t{profile_blocks} * plan.bytes_per_block;
      blocks = std::min(blocks, std::max<int64_t>(0, budget / plan.bytes_per_block));
    }
    const int64_t needed = (resolved.max_model_len + plan.block_size - 1) / plan.block_size;
    if (blocks < needed) {
      return error{"the KV cache does not fit one request of --max-model-len " +
                   std::to_string(resolved.max_model_len) + " tokens: it needs " +
                   std::to_string(needed * plan.bytes_per_block / (1 << 20)) +
                   " MiB per GPU and --gpu-memory-utilization " +
                   std::to_string(resolved.gpu_memory_utilization) + " leaves " +
                   std::to_string(std::max<int64_t>(0, budget) / (1 << 20)) +
                   " MiB after the weights and the profiled step; raise "
                   "--gpu-memory-utilization or lower --max-model-len"};
    }
    out.plan.num_blocks = static_cast<int32_t>(blocks);
  }
  try {
    for (auto& engine : engines) {
      for (auto& rank : engine.ranks)
        rank->resize_kv_cache(out.plan.num_blocks);
    }
  } catch (const backend::cuda_backend_error& e) {
    return error{std::string("allocating the KV cache on the GPU failed: ") + e.what()};
  }
  const double concurrency = static_cast<double>(out.plan.num_blocks) * plan.block_size /
                             std::max(1, resolved.max_model_len);
  spdlog::info(
      "CUDA KV cache: {} blocks of {} tokens ({:.2f} GiB{}, {} tokens); maximum concurrency for "
      "{} tokens per request: {:.2f}x",
      out.plan.num_blocks, plan.block_size, static_cast<double>(out.plan.num_bytes()) / gib,
      gpus.size() > 1 ? " per GPU" : "", int64_t{out.plan.num_blocks} * plan.block_size,
      resolved.max_model_len, concurrency);
  // TROUPE_CUDA_OP_TIMES=N: log every op's device time every N steps (eager steps only).
  const char* op_times = std::getenv("TROUPE_CUDA_OP_TIMES");
  const int32_t report_every = op_times != nullptr ? std::max(0, std::atoi(op_times)) : 0;
  if (report_every > 0) {
    for (auto* gpu : gpus)
      gpu->enable_op_timing(report_every);
    spdlog::info("CUDA op timing on (TROUPE_CUDA_OP_TIMES={}): steps run eagerly", report_every);
  } else if (resolved.enforce_eager) {
    spdlog::info("CUDA graphs off (--enforce-eager): every step launches its kernels one by one");
  } else {
    // vLLM's startup capture: a pad-only decode step of every size at every rank.
    const auto start = std::chrono::steady_clock::now();
    for (auto* gpu : gpus)
      gpu->enable_graphs(resolved.max_num_seqs);
    for (auto& engine : engines) {
      const auto failed = on_every_rank(engine.ranks, engine.group.get(),
                                        [](llama_runner& rank) { rank.capture_graphs(); });
      if (!failed.empty()) return error{"capturing CUDA graphs failed: " + failed};
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const auto sizes = gpus.front()->graph_sizes();
    const bool captured = std::none_of(gpus.begin(), gpus.end(),
                                       [](auto* gpu) { return gpu->graph_counters().disabled; });
    if (captured) {
      spdlog::info(
          "CUDA graphs: {} sizes ({} .. {} sequences) captured in {:.2f} s; decode steps replay "
          "them (--enforce-eager turns them off)",
          sizes.size(), sizes.front(), sizes.back(), seconds);
    } else {
      spdlog::warn(
          "CUDA graphs: a capture failed (the warning above); decode steps run eagerly, padded "
          "to the graph sizes");
    }
  }
  for (auto& engine : engines) {
    for (int32_t r = 0; r < world; ++r) {
      auto& rank = engine.ranks[static_cast<size_t>(r)];
      if (engine.group) {
        out.runners.push_back(
            std::make_unique<tensor_parallel_runner>(engine.group, r, std::move(rank)));
      } else {
        out.runners.push_back(std::move(rank));
      }
    }
  }
  return out;
}

int cuda_runtime_device_count() {
  return kernels::cuda::cuda_device_count();
}

}  // namespace troupe::runtime
