#pragma once
// The responses /v1/responses stores, under vLLM's VLLM_ENABLE_RESPONSES_API_STORE=1 (off, as in
// vLLM, a request's store is ignored: nothing is kept, a previous_response_id or GET finds
// nothing): per response id, the response object as it was answered, its output items and the
// conversation's input messages (for a later previous_response_id). vLLM keeps every response
// for the server's life; this store keeps the newest `capacity` and forgets the oldest.
//
// Thread: every member is thread-safe (sessions on several I/O threads share one store).
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace troupe::http {

class response_store {
 public:
  struct entry {
    std::string response_json;
    std::string output_json;    // its output items (a JSON array)
    std::string messages_json;  // the conversation it answered (chat messages, a JSON array)
  };

  explicit response_store(bool enabled, std::size_t capacity = 10000)
      : enabled_(enabled), capacity_(capacity) {}

  bool enabled() const { return enabled_; }
  // Keeps (or replaces) `id`'s entry; nothing when the store is off.
  void put(const std::string& id, entry e);
  std::optional<entry> get(const std::string& id) const;
  std::size_t size() const;

 private:
  const bool enabled_;
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, entry> entries_;  // guarded by mu_
  std::deque<std::string> order_;                   // oldest first; guarded by mu_
};

}  // namespace troupe::http
