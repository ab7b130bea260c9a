#pragma once
// A request actor for tests that drive the batcher directly: it records what it hears (tokens,
// finishes, failures) by request id in an `outcomes` the test waits on.
#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "actors/messages.hpp"

namespace troupe::testing {

// What the request actors heard, by request id.
struct outcomes {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<uint64_t, std::vector<int32_t>> tokens;
  std::map<uint64_t, runtime::finish_reason> finished;
  std::map<uint64_t, int32_t> failed;  // status

  bool wait_all(size_t n) {
    std::unique_lock lock{mutex};
    return cv.wait_for(lock, std::chrono::seconds(20),
                       [&] { return finished.size() + failed.size() >= n; });
  }
};

inline actors::request_actor spawn_client(caf::actor_system& system,
                                          std::shared_ptr<outcomes> out) {
  return system.spawn(
      [out](actors::request_actor::pointer) -> actors::request_actor::behavior_type {
        return {
            [out](actors::token_delta& msg) {
              std::lock_guard lock{out->mutex};
              auto& tokens = out->tokens[msg.request_id];
              tokens.insert(tokens.end(), msg.token_ids.begin(), msg.token_ids.end());
              if (msg.finish != runtime::finish_reason::none)
                out->finished[msg.request_id] = msg.finish;
              out->cv.notify_all();
            },
            [out](actors::request_failed& msg) {
              std::lock_guard lock{out->mutex};
              out->failed[msg.request_id] = msg.status;
              out->cv.notify_all();
            },
            [](actors::stop_generation&) {},
            [](actors::prompt_ready&) {},
        };
      });
}

}  // namespace troupe::testing
