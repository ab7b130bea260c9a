#pragma once
// The fan-in of an n > 1 request: its n choices run as n request actors (choice i samples with
// seed + i), each with its own choice_sink, all feeding the caller's one sink through a shared
// choice_fan_in that
//   - tags every event with its choice's index,
//   - serializes the calls into the caller's sink,
//   - turns the first error into the request's last event: the other choices are stopped
//     (`stop_others`) and their later events dropped, so the caller sees an error as it would
//     for n = 1; after all n choices finished, nothing more is delivered.
//
// Thread: on_event is called from actor threads, concurrently; thread-safe.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include "actors/engine.hpp"

namespace troupe::actors {

class choice_fan_in {
 public:
  // requires: sink != nullptr, n >= 1. `stop_others` must not block nor call back into this.
  choice_fan_in(std::shared_ptr<generation_sink> sink, int32_t n, std::function<void()> stop_others)
      : sink_(std::move(sink)), n_(n), stop_others_(std::move(stop_others)) {}

  void deliver(int32_t index, generation_event event);

 private:
  std::mutex mutex_;
  std::shared_ptr<generation_sink> sink_;
  int32_t n_;
  int32_t num_finished_ = 0;
  bool closed_ = false;  // an error went out, or every choice finished
  std::function<void()> stop_others_;
};

class choice_sink final : public generation_sink {
 public:
  choice_sink(std::shared_ptr<choice_fan_in> fan_in, int32_t index)
      : fan_in_(std::move(fan_in)), index_(index) {}
  void on_event(generation_event event) override { fan_in_->deliver(index_, std::move(event)); }

 private:
  std::shared_ptr<choice_fan_in> fan_in_;
  int32_t index_;
};

}  // namespace troupe::actors
