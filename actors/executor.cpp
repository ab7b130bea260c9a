#include "actors/executor.hpp"

#include <exception>
#include <utility>

#include <caf/sec.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace troupe::actors {
namespace {

class executor_impl : public executor_actor::base {
 public:
  executor_impl(caf::actor_config& cfg, std::unique_ptr<runtime::model_runner> runner)
      : executor_actor::base(cfg), runner_(std::move(runner)) {}

  behavior_type make_behavior() override {
    return {
        [this](execute_step& msg) -> caf::result<step_executed> {
          // No exception may cross the actor boundary: a failing forward becomes an error reply
          // the batcher turns into failed requests.
          try {
            return step_executed{runner_->execute(msg.batch)};
          } catch (const std::exception& e) {
            return caf::make_error(caf::sec::runtime_error, e.what());
          }
        },
    };
  }

 private:
  std::unique_ptr<runtime::model_runner> runner_;
};

}  // namespace

executor_actor spawn_executor(caf::actor_system& system,
                              std::unique_ptr<runtime::model_runner> runner,
                              actor_kind_metrics actor) {
  return system.spawn<instrumented<executor_impl>, caf::detached>(actor, std::move(runner));
}

}  // namespace troupe::actors
