// instrumented<> counts and times every message an actor receives: messages, mailbox depth (now
// and peak), the wait from enqueue to handling, handling and busy time, actors alive.
#include "actor_telemetry/instrumented.hpp"

#include <gtest/gtest.h>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <future>
#include <thread>
#include <type_traits>

#include "actors/instrumented.hpp"

namespace troupe::actor_telemetry {
namespace {

// The server's actors keep their names.
static_assert(std::is_same_v<actors::actor_kind_metrics, actor_kind_metrics>);
static_assert(std::is_same_v<actors::instrumented<caf::event_based_actor>,
                             instrumented<caf::event_based_actor>>);

// Blocks on its first message until `release` is set; answers "done" with the number handled.
class gate_impl : public caf::event_based_actor {
 public:
  gate_impl(caf::actor_config& cfg, std::shared_future<void> release)
      : caf::event_based_actor(cfg), release_(std::move(release)) {}

  caf::behavior make_behavior() override {
    return {
        [this](int) {
          if (num_handled_++ == 0) release_.wait();
        },
        [this](const std::string&) { return num_handled_; },
    };
  }

 private:
  std::shared_future<void> release_;
  int num_handled_ = 0;
};

double wait_sum(const telemetry::registry& r) {
  return r.histogram_value("troupe_actor_mailbox_wait_seconds", {{"kind", "gate"}})->sum;
}

TEST(instrumented, counts_and_times_every_message) {
  telemetry::registry registry;
  const telemetry::labels kind = {{"kind", "gate"}};
  std::promise<void> release;
  {
    caf::actor_system_config cfg;
    caf::actor_system system{cfg};
    auto gate = system.spawn<instrumented<gate_impl>>(actor_kind_metrics::create(registry, "gate"),
                                                      release.get_future().share());
    EXPECT_EQ(registry.value("troupe_actors_running", kind), 1.0);
    caf::anon_send(gate, 0);  // blocks the actor in its handler
    while (registry.value("troupe_actor_mailbox_depth", kind) != 0.0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (int i = 1; i <= 5; ++i)
      caf::anon_send(gate, i);
    EXPECT_EQ(registry.value("troupe_actor_mailbox_depth", kind), 5.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    release.set_value();
    caf::scoped_actor self{system};
    int handled = 0;
    self->request(gate, caf::infinite, std::string("done"))
        .receive([&](int n) { handled = n; }, [](caf::error&) {});
    EXPECT_EQ(handled, 6);
    // The count follows the handler, so the reply can overtake it.
    for (int i = 0; i < 1000 && registry.value("troupe_actor_messages_total", kind) != 7.0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(registry.value("troupe_actor_messages_total", kind), 7.0);
    EXPECT_EQ(registry.value("troupe_actor_mailbox_depth", kind), 0.0);
    EXPECT_GE(registry.value("troupe_actor_mailbox_depth_peak", kind), 5.0);
    // The five waited behind the blocked handler (>= 20 ms each), which was busy as long.
    EXPECT_GE(wait_sum(registry), 5 * 0.020);
    EXPECT_GE(*registry.value("troupe_actor_busy_seconds_total", kind), 0.020);
    EXPECT_EQ(registry.histogram_value("troupe_actor_handle_seconds", kind)->count, 7u);
    anon_send_exit(gate, caf::exit_reason::user_shutdown);
  }
  EXPECT_EQ(registry.value("troupe_actors_running", kind), 0.0);
}

}  // namespace
}  // namespace troupe::actor_telemetry
