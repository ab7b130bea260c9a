#pragma once
// The one place every actor kind gets its telemetry from: spawn `instrumented<impl, N>` instead
// of `impl`, and every message the actor receives is counted and timed without a line in any
// handler. Shared by both actor systems: the server's (actors/, which re-exports these names as
// troupe::actors::instrumented and troupe::actors::actor_kind_metrics) and `troupe bench`'s
// (loadgen/). CAF-level only: nothing here knows either system's actors.
//
//   system.spawn<instrumented<impl>>(actor_kind_metrics::create(registry, "kind"), args...)
//
//   sender thread: enqueue  -> stamp[seq_in++ % N] = now; depth += 1      (lock-free)
//   actor thread:  consume  -> wait = now - stamp[seq_out++ % N]; handle; time it; depth -= 1
//
// The metrics (actor_kind_metrics.hpp) are per actor kind, in a registry the caller owns.
//
// The wait is exact while messages are handled in the order they arrived (troupe's actors never
// skip or stash); when more than N messages wait, the overflowing ones are not timed.
//
// Thread: enqueue from any thread; consume on the actor's own.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>

#include <caf/actor_config.hpp>
#include <caf/mailbox_element.hpp>
#include <caf/scheduled_actor.hpp>

#include "actor_telemetry/actor_kind_metrics.hpp"

namespace troupe::actor_telemetry {

template <class Base, size_t N = 256>
class instrumented : public Base {
 public:
  template <class... Ts>
  instrumented(caf::actor_config& cfg, actor_kind_metrics metrics, Ts&&... xs)
      : Base(cfg, std::forward<Ts>(xs)...), metrics_(metrics) {
    metrics_.running->inc();
  }
  ~instrumented() override {
    metrics_.running->dec();
    // Messages left unhandled no longer wait.
    metrics_.depth->dec(static_cast<double>(seq_in_.load() - seq_out_));
  }

  void enqueue(caf::mailbox_element_ptr ptr, caf::execution_unit* eu) override {
    const uint64_t seq = seq_in_.fetch_add(1, std::memory_order_relaxed);
    stamps_[seq % N].store(now_ns(), std::memory_order_relaxed);
    metrics_.depth->inc();
    metrics_.depth_peak->max(metrics_.depth->value());
    Base::enqueue(std::move(ptr), eu);
  }

  caf::invoke_message_result consume(caf::mailbox_element& x) override {
    const int64_t start = now_ns();
    const uint64_t seq = seq_out_++;
    if (seq_in_.load(std::memory_order_relaxed) - seq <= N) {
      const int64_t stamp = stamps_[seq % N].load(std::memory_order_relaxed);
      metrics_.wait_seconds->observe(static_cast<double>(start - stamp) * 1e-9);
    }
    metrics_.depth->dec();
    auto result = Base::consume(x);
    const double seconds = static_cast<double>(now_ns() - start) * 1e-9;
    metrics_.messages->inc();
    metrics_.handle_seconds->observe(seconds);
    metrics_.busy_seconds->inc(seconds);
    return result;
  }

 private:
  static int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  actor_kind_metrics metrics_;
  std::atomic<uint64_t> seq_in_{0};
  uint64_t seq_out_ = 0;  // the actor's thread only
  std::array<std::atomic<int64_t>, N> stamps_{};
};

}  // namespace troupe::actor_telemetry
