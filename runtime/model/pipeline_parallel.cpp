#include "runtime/model/pipeline_parallel.hpp"

#include <cassert>
#include <charconv>
#include <chrono>
#include <string>

#include "runtime/backend/shared_memory_communicator.hpp"
#include "runtime/model/tensor_parallel_shard.hpp"

namespace troupe::runtime {
namespace {

std::string str(int64_t v) {
  return std::to_string(v);
}

result<std::vector<int32_t>> parse_partition(std::string_view text) {
  std::vector<int32_t> counts;
  while (true) {
    const auto comma = text.find(',');
    const auto item = text.substr(0, comma);
    int32_t n = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), n);
    if (ec != std::errc{} || end != item.data() + item.size())
      return error{"invalid layer partition '" + std::string(item) + "': expected integers"};
    counts.push_back(n);
    if (comma == std::string_view::npos) return counts;
    text.remove_prefix(comma + 1);
  }
}

}  // namespace

result<std::vector<std::pair<int32_t, int32_t>>> pipeline_layer_ranges(int32_t num_layers,
                                                                       int32_t num_stages,
                                                                       std::string_view partition) {
  if (num_stages < 1) return error{"pipeline parallel size must be at least 1"};
  std::vector<int32_t> counts;
  if (!partition.empty()) {
    auto parsed = parse_partition(partition);
    if (!parsed) return parsed.err();
    counts = std::move(*parsed);
    if (counts.size() != static_cast<size_t>(num_stages)) {
      return error{"the layer partition names " + str(static_cast<int64_t>(counts.size())) +
                   " stages, not the pipeline parallel size " + str(num_stages)};
    }
    int64_t total = 0;
    for (const int32_t n : counts)
      total += n;
    if (total != num_layers) {
      return error{"the layer partition holds " + str(total) + " layers, not the model's " +
                   str(num_layers)};
    }
  } else {
    counts.assign(static_cast<size_t>(num_stages), num_layers / num_stages);
    for (int32_t i = 2; i < num_layers % num_stages + 2; ++i)
      ++counts[static_cast<size_t>(num_stages - i)];
  }
  std::vector<std::pair<int32_t, int32_t>> ranges;
  int32_t first = 0;
  for (const int32_t n : counts) {
    if (n < 1) {
      return error{"pipeline parallel size " + str(num_stages) + " over " + str(num_layers) +
                   " layers leaves a stage without a layer"};
    }
    ranges.emplace_back(first, first + n);
    first += n;
  }
  return ranges;
}

void stage_link::send(stage_activations activations) {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(std::move(activations));
  }
  ready_.notify_one();
}

void stage_link::abandon() {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(std::nullopt);
  }
  ready_.notify_one();
}

stage_activations stage_link::receive() {
  std::unique_lock lock(mutex_);
  ready_.wait(lock, [this] { return closed_ || !queue_.empty(); });
  if (closed_) throw backend::collective_aborted("the pipeline stage before this one has closed");
  auto item = std::move(queue_.front());
  queue_.pop_front();
  if (!item) throw backend::collective_aborted("step aborted by another rank (an earlier stage)");
  return std::move(*item);
}

void stage_link::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

pipeline_stage_runner::pipeline_stage_runner(int32_t stage, int32_t num_stages,
                                             std::shared_ptr<backend::communicator_group> tp_group,
                                             int32_t tp_rank, std::shared_ptr<stage_link> upstream,
                                             std::shared_ptr<stage_link> downstream,
                                             std::unique_ptr<llama_runner> runner)
    : stage_(stage),
      num_stages_(num_stages),
      tp_group_(std::move(tp_group)),
      tp_rank_(tp_rank),
      upstream_(std::move(upstream)),
      downstream_(std::move(downstream)),
      runner_(std::move(runner)) {
  assert(runner_ != nullptr);
  assert((upstream_ != nullptr) == (stage_ > 0));
  assert((downstream_ != nullptr) == (stage_ + 1 < num_stages_));
}

pipeline_stage_runner::~pipeline_stage_runner() {
  if (upstream_) upstream_->close();
  if (downstream_) downstream_->close();
  if (tp_group_) tp_group_->close();
  runner_.reset();  // its backend borrows the group's communicator: gone before tp_group_
}

std::vector<sampled_token> pipeline_stage_runner::execute(const step_batch& batch) {
  try {
    return run(batch);
  } catch (...) {
    // Whatever failed here, no later rank of this step may wait for this one.
    if (tp_group_) tp_group_->rank(tp_rank_).abort();
    if (downstream_) downstream_->abandon();
    throw;
  }
}

void pipeline_stage_runner::skip_step() {
  if (upstream_) {
    try {
      (void)upstream_->receive();
    } catch (const backend::collective_aborted&) {
      // Abandoned upstream too, or closed: nothing to take.
    }
  }
  if (downstream_) downstream_->abandon();
}

std::vector<sampled_token> pipeline_stage_runner::run(const step_batch& batch) {
  // The input first: this step's item leaves the link whatever happens next.
  std::optional<stage_activations> input;
  if (upstream_) {
    const auto start = std::chrono::steady_clock::now();
    input = upstream_->receive();
    input_wait_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  if (tp_group_) tp_group_->rank(tp_rank_).begin_step();
  const stage_activations* in = input ? &*input : nullptr;
  if (!downstream_) return runner_->execute(batch, in);
  downstream_->send(runner_->forward_stage(batch, in));
  return {};
}

result<std::vector<std::unique_ptr<pipeline_stage_runner>>> make_pipeline_runners(
    llama_weights weights, const pipeline_layout& layout, int32_t num_kv_blocks, int32_t block_size,
    const std::vector<std::vector<int>>& rank_cpus, backend::kv_cache_dtype kv_dtype,
    backend::cpu_activations activations) {
  const int32_t P = layout.num_stages, T = layout.tensor_parallel_size;
  auto ranges = pipeline_layer_ranges(weights.hparams.num_layers, P, layout.partition);
  if (!ranges) return ranges.err();
  if (auto st = check_tensor_parallel(weights.hparams, T); !st) return st.err();
  if (layout.threads_per_rank < 1) return error{"need at least one compute thread per rank"};
  if (!rank_cpus.empty() && rank_cpus.size() != static_cast<size_t>(P * T))
    return error{"rank_cpus must name every rank's CPUs"};
  std::vector<std::unique_ptr<pipeline_stage_runner>> ranks;
  // links[t]: the link from the previous stage's tensor rank t into the stage being made.
  std::vector<std::shared_ptr<stage_link>> links(static_cast<size_t>(T));
  for (int32_t s = 0; s < P; ++s) {
    std::shared_ptr<backend::shared_memory_group> group;
    if (T > 1) group = std::make_shared<backend::shared_memory_group>(T);
    for (int32_t t = 0; t < T; ++t) {
      auto shard = make_llama_shard(weights.hparams, t, T);
      std::tie(shard.first_layer, shard.end_layer) = (*ranges)[static_cast<size_t>(s)];
      const auto rank = static_cast<size_t>(s * T + t);
      auto created = llama_runner::create_shard(
          std::make_unique<backend::cpu_backend>(
              layout.threads_per_rank, group ? &group->rank(t) : nullptr,
              rank_cpus.empty() ? std::vector<int>{} : rank_cpus[rank], activations),
          weights, shard, num_kv_blocks, block_size, kv_dtype);
      if (!created) return created.err();
      auto downstream = s + 1 < P ? std::make_shared<stage_link>() : nullptr;
      ranks.push_back(std::make_unique<pipeline_stage_runner>(
          s, P, group, t, std::move(links[static_cast<size_t>(t)]), downstream,
          std::move(created).value()));
      links[static_cast<size_t>(t)] = std::move(downstream);
    }
  }
  return ranks;
}

}  // namespace troupe::runtime
