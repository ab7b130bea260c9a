#pragma once
// Which data-parallel engine serves a request (--data-parallel-size above 1), as a policy without
// actors or clocks: the engine facade (actors/engine.cpp) hands it each engine's load and the
// request's prompt, and records where the request went.
//
//   least loaded    vLLM's internal load balancing: the lowest waiting x 4 + running, the
//                   lowest index among equals
//   prefix aware    (--data-parallel-routing prefix-aware, troupe's default) the same, but among
//                   the engines within one waiting request of the least loaded (score <= min + 4)
//                   the one whose prefix cache most likely holds the longest part of the prompt
//                   wins, when that part is at least half the prompt or 1 KiB: a prompt whose
//                   prefix was computed on one engine is not computed again on another, and the
//                   engines' caches hold different prefixes rather than the same ones twice
//
// "Most likely holds" is an estimate kept here, not a question to the engines: each engine's
// table holds the chained hashes of the prompts routed to it, in 64-byte chunks (the text of a
// text prompt, the ids' bytes of a token prompt; the cache salt seeds the chain, as it does the
// blocks'), least recently routed evicted first beyond the table's capacity (sized from the
// engine's KV cache at about 4 bytes a token). A prompt matches an engine as far as its leading
// chunks are in that engine's table. The engines' own prefix caches evict by their own LRU, so
// the estimate can be wrong both ways; a wrong guess costs only the prefill a right one saves.
//
// Thread: not thread-safe; the caller serializes (the facade holds a mutex around it).
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace troupe::runtime {

enum class data_parallel_routing { least_loaded, prefix_aware };

// "least-loaded" | "prefix-aware" (--data-parallel-routing); empty when neither.
std::optional<data_parallel_routing> parse_data_parallel_routing(std::string_view name);

class prefix_router {
 public:
  static constexpr size_t chunk_bytes = 64;
  // A prompt's match counts when it covers half of it or this much.
  static constexpr size_t min_match_bytes = 1024;
  // The load band the prefix is looked for in: one waiting request (vLLM's weight 4).
  static constexpr int64_t load_band = 4;

  // requires: num_engines >= 1, capacity_chunks >= 1 (each engine's table).
  prefix_router(data_parallel_routing routing, int32_t num_engines, size_t capacity_chunks);

  // The engine for `prompt` (its bytes as chunked above, `salt` its cache salt) given each
  // engine's load score (waiting x 4 + running), and records the prompt as routed there.
  // requires: load_scores.size() == num_engines.
  int32_t route(std::string_view prompt, std::string_view salt,
                std::span<const int64_t> load_scores);
  // The engine route() would pick, recording nothing.
  int32_t peek(std::string_view prompt, std::string_view salt,
               std::span<const int64_t> load_scores) const;
  // Records `prompt` as routed to `engine` (a request pinned there).
  void record(int32_t engine, std::string_view prompt, std::string_view salt);

  // How many of `prompt`'s leading chunks engine `engine`'s table holds (tests, telemetry).
  size_t matched_chunks(int32_t engine, std::string_view prompt, std::string_view salt) const;

 private:
  // One engine's table: chunk hash -> its place in the recency list (most recent first).
  struct table {
    std::list<uint64_t> recency;
    std::unordered_map<uint64_t, std::list<uint64_t>::iterator> where;
  };

  static std::vector<uint64_t> chunk_hashes(std::string_view prompt, std::string_view salt);
  size_t matched(const table& t, std::span<const uint64_t> hashes) const;
  int32_t choose(std::span<const uint64_t> hashes, size_t prompt_bytes,
                 std::span<const int64_t> load_scores) const;
  void insert(table& t, std::span<const uint64_t> hashes);

  data_parallel_routing routing_;
  size_t capacity_;
  std::vector<table> tables_;
};

}  // namespace troupe::runtime
