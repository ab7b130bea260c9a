#include "runtime/sched/prefix_router.hpp"

#include <xxhash.h>

#include <algorithm>

namespace troupe::runtime {

std::optional<data_parallel_routing> parse_data_parallel_routing(std::string_view name) {
  if (name == "least-loaded") return data_parallel_routing::least_loaded;
  if (name == "prefix-aware") return data_parallel_routing::prefix_aware;
  return std::nullopt;
}

prefix_router::prefix_router(data_parallel_routing routing, int32_t num_engines,
                             size_t capacity_chunks)
    : routing_(routing),
      capacity_(std::max<size_t>(1, capacity_chunks)),
      tables_(static_cast<size_t>(std::max(1, num_engines))) {}

std::vector<uint64_t> prefix_router::chunk_hashes(std::string_view prompt, std::string_view salt) {
  std::vector<uint64_t> hashes;
  hashes.reserve((prompt.size() + chunk_bytes - 1) / chunk_bytes);
  // Chained: a chunk's hash stands for every byte before it too, the salt included.
  uint64_t h = XXH3_64bits(salt.data(), salt.size());
  for (size_t at = 0; at < prompt.size(); at += chunk_bytes) {
    const std::string_view chunk = prompt.substr(at, chunk_bytes);
    h = XXH3_64bits_withSeed(chunk.data(), chunk.size(), h);
    hashes.push_back(h);
  }
  return hashes;
}

size_t prefix_router::matched(const table& t, std::span<const uint64_t> hashes) const {
  size_t n = 0;
  while (n < hashes.size() && t.where.count(hashes[n]) != 0)
    ++n;
  return n;
}

int32_t prefix_router::choose(std::span<const uint64_t> hashes, size_t prompt_bytes,
                              std::span<const int64_t> load_scores) const {
  const auto num = static_cast<int32_t>(load_scores.size());
  int32_t least = 0;
  for (int32_t d = 1; d < num; ++d) {
    if (load_scores[static_cast<size_t>(d)] < load_scores[static_cast<size_t>(least)]) least = d;
  }
  if (routing_ == data_parallel_routing::least_loaded || hashes.empty()) return least;
  const int64_t band = load_scores[static_cast<size_t>(least)] + load_band;
  int32_t best = least;
  size_t best_match = matched(tables_[static_cast<size_t>(least)], hashes);
  for (int32_t d = 0; d < num; ++d) {
    if (d == least || load_scores[static_cast<size_t>(d)] > band) continue;
    const size_t m = matched(tables_[static_cast<size_t>(d)], hashes);
    if (m > best_match) {
      best = d;
      best_match = m;
    }
  }
  const size_t matched_bytes = std::min(prompt_bytes, best_match * chunk_bytes);
  const bool counts = matched_bytes >= min_match_bytes || 2 * matched_bytes >= prompt_bytes;
  return counts ? best : least;
}

void prefix_router::insert(table& t, std::span<const uint64_t> hashes) {
  // The last chunk first, so that a prompt's leading chunks, which later prompts share most, are
  // the most recent and the last to go.
  for (auto it = hashes.rbegin(); it != hashes.rend(); ++it) {
    if (auto found = t.where.find(*it); found != t.where.end()) {
      t.recency.splice(t.recency.begin(), t.recency, found->second);
      continue;
    }
    t.recency.push_front(*it);
    t.where.emplace(*it, t.recency.begin());
  }
  while (t.recency.size() > capacity_) {
    t.where.erase(t.recency.back());
    t.recency.pop_back();
  }
}

int32_t prefix_router::route(std::string_view prompt, std::string_view salt,
                             std::span<const int64_t> load_scores) {
  const auto hashes = chunk_hashes(prompt, salt);
  const int32_t engine = choose(hashes, prompt.size(), load_scores);
  if (routing_ == data_parallel_routing::prefix_aware)
    insert(tables_[static_cast<size_t>(engine)], hashes);
  return engine;
}

int32_t prefix_router::peek(std::string_view prompt, std::string_view salt,
                            std::span<const int64_t> load_scores) const {
  return choose(chunk_hashes(prompt, salt), prompt.size(), load_scores);
}

void prefix_router::record(int32_t engine, std::string_view prompt, std::string_view salt) {
  if (routing_ != data_parallel_routing::prefix_aware) return;
  insert(tables_.at(static_cast<size_t>(engine)), chunk_hashes(prompt, salt));
}

size_t prefix_router::matched_chunks(int32_t engine, std::string_view prompt,
                                     std::string_view salt) const {
  return matched(tables_.at(static_cast<size_t>(engine)), chunk_hashes(prompt, salt));
}

}  // namespace troupe::runtime
