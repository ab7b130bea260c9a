#include "actors/executor.hpp"

#include <exception>
#include <utility>

#include <caf/sec.hpp>
#include <caf/spawn_options.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "runtime/sequence_states.hpp"

namespace troupe::actors {
namespace {

class executor_impl : public executor_actor::base {
 public:
  executor_impl(caf::actor_config& cfg, std::unique_ptr<runtime::model_runner> runner,
                telemetry::gauge* num_sequences,
                std::shared_ptr<const runtime::grammar::token_vocabulary> vocabulary,
                telemetry::counter* input_wait)
      : executor_actor::base(cfg),
        runner_(std::move(runner)),
        states_(std::move(vocabulary)),
        num_sequences_(num_sequences),
        input_wait_(input_wait) {}

  behavior_type make_behavior() override {
    return {
        [this](const execute_step& msg) -> caf::result<step_executed> {
          auto reply = execute(msg.delta);
          publish();
          return reply;
        },
        [this](const release_sequences& msg) {
          states_.release(msg.seq_ids);
          publish();
        },
    };
  }

  // The runner goes with the actor: a tensor-parallel rank's runner closes its group, so the
  // other ranks' executors, still stepping, fail their step instead of waiting for this one.
  void on_exit() override { runner_.reset(); }

 private:
  // No exception may cross the actor boundary: a refused delta or a failing forward becomes an
  // error reply the batcher turns into failed requests (whose release follows).
  caf::result<step_executed> execute(const runtime::step_delta& delta) {
    auto batch = states_.apply(delta);
    if (!batch) {
      states_.record_failed_step();
      runner_->skip_step();  // no later pipeline stage waits for this one's step
      return caf::make_error(caf::sec::runtime_error, batch.message());
    }
    try {
      auto tokens = runner_->execute(*batch);
      states_.record_sampled(tokens);  // what the next step's placeholders stand for
      return step_executed{std::move(tokens)};
    } catch (const std::exception& e) {
      states_.record_failed_step();
      return caf::make_error(caf::sec::runtime_error, e.what());
    }
  }

  void publish() {
    if (num_sequences_) num_sequences_->set(states_.num_sequences());
    if (input_wait_) {
      const double total = runner_->input_wait_seconds();
      input_wait_->inc(total - input_wait_published_);
      input_wait_published_ = total;
    }
  }

  std::unique_ptr<runtime::model_runner> runner_;
  runtime::sequence_states states_;
  telemetry::gauge* num_sequences_;
  telemetry::counter* input_wait_;
  double input_wait_published_ = 0.0;
};

}  // namespace

executor_actor spawn_executor(caf::actor_system& system,
                              std::unique_ptr<runtime::model_runner> runner,
                              actor_kind_metrics actor, telemetry::gauge* num_sequences,
                              std::shared_ptr<const runtime::grammar::token_vocabulary> vocabulary,
                              telemetry::counter* input_wait) {
  return system.spawn<instrumented<executor_impl>, caf::detached>(
      actor, std::move(runner), num_sequences, std::move(vocabulary), input_wait);
}

}  // namespace troupe::actors
