#include "runtime/model/tensor_parallel.hpp"

#include <cassert>
#include <utility>

#include "kernels/cpu/affinity.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"

namespace troupe::runtime {

tensor_parallel_runner::tensor_parallel_runner(std::shared_ptr<backend::communicator_group> group,
                                               int32_t rank, std::unique_ptr<llama_runner> runner)
    : group_(std::move(group)), rank_(rank), runner_(std::move(runner)) {
  assert(group_ != nullptr && runner_ != nullptr);
  assert(rank_ >= 0 && rank_ < group_->world_size());
}

tensor_parallel_runner::~tensor_parallel_runner() {
  group_->close();
  runner_.reset();  // its backend borrows the group's communicator: gone before group_
}

template <class Step>
auto tensor_parallel_runner::run_step(Step&& step) {
  auto& comm = group_->rank(rank_);
  try {
    comm.begin_step();
    return step();
  } catch (...) {
    // Whatever failed here, the other ranks must not wait for this one in this step.
    comm.abort();
    throw;
  }
}

std::vector<sampled_token> tensor_parallel_runner::execute(const step_batch& batch) {
  return run_step([&] { return runner_->execute(batch); });
}

std::vector<float> tensor_parallel_runner::forward_logits(const step_batch& batch) {
  return run_step([&] { return runner_->forward_logits(batch); });
}

std::vector<std::vector<int>> plan_rank_cpus(int32_t world_size, int32_t threads_per_rank) {
  const std::vector<int> allowed = kernels::cpu::allowed_cpus();
  const auto needed = static_cast<size_t>(world_size) * static_cast<size_t>(threads_per_rank);
  if (world_size < 1 || threads_per_rank < 1 || allowed.size() < needed) return {};
  std::vector<std::vector<int>> cpus(static_cast<size_t>(world_size));
  for (size_t i = 0; i < needed; ++i)
    cpus[i / static_cast<size_t>(threads_per_rank)].push_back(allowed[i]);
  return cpus;
}

namespace {

// threads_per_rank >= 1, and rank_cpus empty or one CPU per thread of each of the ranks.
status check_rank_cpus(int32_t world_size, int32_t threads_per_rank,
                       const std::vector<std::vector<int>>& rank_cpus) {
  if (threads_per_rank < 1) return error{"need at least one compute thread per rank"};
  if (!rank_cpus.empty() && rank_cpus.size() != static_cast<size_t>(world_size)) {
    return error{"rank_cpus must name every rank's CPUs"};
  }
  for (const auto& cpus : rank_cpus) {
    if (cpus.size() != static_cast<size_t>(threads_per_rank)) {
      return error{"rank_cpus must name one CPU per compute thread"};
    }
  }
  return ok_status();
}

// Rank r's CPUs (none: unpinned).
std::vector<int> cpus_of(const std::vector<std::vector<int>>& rank_cpus, int32_t r) {
  return rank_cpus.empty() ? std::vector<int>{} : rank_cpus[static_cast<size_t>(r)];
}

}  // namespace

result<std::vector<std::unique_ptr<tensor_parallel_runner>>> make_tensor_parallel_runners(
    llama_weights weights, int32_t world_size, int32_t threads_per_rank, int32_t num_kv_blocks,
    int32_t block_size, const std::vector<std::vector<int>>& rank_cpus,
    backend::kv_cache_dtype kv_dtype, backend::cpu_activations activations) {
  if (auto st = check_tensor_parallel(weights.hparams, world_size); !st) return st.err();
  if (auto st = check_rank_cpus(world_size, threads_per_rank, rank_cpus); !st) return st.err();
  auto group = std::make_shared<backend::shared_memory_group>(world_size);
  std::vector<std::unique_ptr<tensor_parallel_runner>> ranks;
  for (int32_t r = 0; r < world_size; ++r) {
    auto created = llama_runner::create_shard(
        std::make_unique<backend::cpu_backend>(threads_per_rank, &group->rank(r),
                                               cpus_of(rank_cpus, r), activations),
        weights, make_llama_shard(weights.hparams, r, world_size), num_kv_blocks, block_size,
        kv_dtype);
    if (!created) return created.err();
    ranks.push_back(std::make_unique<tensor_parallel_runner>(group, r, std::move(created).value()));
  }
  return ranks;
}

result<std::vector<std::unique_ptr<tensor_parallel_runner>>> make_tensor_parallel_runners_sharing(
    const std::vector<const tensor_parallel_runner*>& source, int32_t threads_per_rank,
    const std::vector<std::vector<int>>& rank_cpus) {
  const auto world_size = static_cast<int32_t>(source.size());
  if (world_size < 1) return error{"no ranks to share the weights of"};
  if (auto st = check_rank_cpus(world_size, threads_per_rank, rank_cpus); !st) return st.err();
  auto group = std::make_shared<backend::shared_memory_group>(world_size);
  std::vector<std::unique_ptr<tensor_parallel_runner>> ranks;
  for (int32_t r = 0; r < world_size; ++r) {
    const auto& from = static_cast<const backend::cpu_backend&>(
        source[static_cast<size_t>(r)]->runner().compute());
    auto compute = std::make_unique<backend::cpu_backend>(
        threads_per_rank, &group->rank(r), cpus_of(rank_cpus, r), from.activations());
    if (auto st = compute->share_weights_of(from); !st) return st.err();
    ranks.push_back(std::make_unique<tensor_parallel_runner>(
        group, r,
        llama_runner::create_sharing(std::move(compute),
                                     source[static_cast<size_t>(r)]->runner())));
  }
  return ranks;
}

}  // namespace troupe::runtime
