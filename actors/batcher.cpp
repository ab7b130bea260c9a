#include "actors/batcher.hpp"

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace troupe::actors {
namespace {

class batcher_impl : public batcher_actor::base {
 public:
  batcher_impl(caf::actor_config& cfg, batcher_options options, kv_allocator_actor allocator,
               executor_actor executor, std::shared_ptr<engine_counters> counters)
      : batcher_actor::base(cfg),
        options_(options),
        scheduler_(options.scheduler),
        allocator_(std::move(allocator)),
        executor_(std::move(executor)),
        counters_(std::move(counters)) {}

  behavior_type make_behavior() override {
    return {
        [this](submit_generation& msg) {
          deferred_submits_.push_back(std::move(msg));
          between_steps();
        },
        [this](abort_generation& msg) {
          deferred_aborts_.push_back(msg.request_id);
          between_steps();
        },
    };
  }

  // Breaks the handle cycle with the request actors (they hold the batcher's handle).
  void on_exit() override {
    clients_.clear();
    deferred_submits_.clear();
    allocator_ = nullptr;
    executor_ = nullptr;
  }

 private:
  // -- between steps: apply what arrived, then start the next step --

  void between_steps() {
    if (step_in_flight_) return;
    for (auto& msg : deferred_submits_)
      admit(msg);
    deferred_submits_.clear();
    std::vector<uint64_t> released;
    for (uint64_t id : deferred_aborts_)
      abort(id, released);
    deferred_aborts_.clear();
    if (!released.empty()) send(allocator_, release_blocks{std::move(released)});
    publish();
    if (scheduler_.has_work() && !stalled_) schedule();
  }

  void admit(submit_generation& msg) {
    const uint64_t id = msg.spec.id;
    if (scheduler_.num_waiting_new() >= options_.max_waiting_requests) {
      send(msg.client, request_failed{id, overloaded_message(), 503});
      return;
    }
    if (auto added = scheduler_.add_request(std::move(msg.spec)); !added) {
      send(msg.client, request_failed{id, added.message(), 400});
      return;
    }
    clients_.emplace(id, std::move(msg.client));
    stalled_ = false;
  }

  void abort(uint64_t id, std::vector<uint64_t>& released) {
    if (!scheduler_.abort(id)) return;  // finished already, or never admitted
    released.push_back(id);
    stalled_ = false;
    if (auto it = clients_.find(id); it != clients_.end()) {
      send(it->second, token_delta{id, {}, runtime::finish_reason::abort});
      clients_.erase(it);
    }
  }

  std::string overloaded_message() const {
    return "Server overloaded: the waiting queue is full (" +
           std::to_string(options_.max_waiting_requests) + " requests). Please retry later.";
  }

  // -- the step --

  void schedule() {
    step_in_flight_ = true;
    proposal_ = scheduler_.propose();
    request(allocator_, caf::infinite, reserve_blocks{proposal_})
        .then(
            [this](blocks_reserved& reply) { execute(reply.grant); },
            [this](caf::error& err) { fail_step("KV allocator failed: " + caf::to_string(err)); });
  }

  void execute(const runtime::step_grant& grant) {
    plan_ = scheduler_.finalize(proposal_, grant);
    if (plan_.empty()) {
      // Nothing fits even with everything preempted: wait for a submission or abort instead of
      // spinning. (start_engine caps max_model_len to the KV cache, so this is not expected.)
      spdlog::warn("batcher: a step with {} waiting requests scheduled nothing",
                   scheduler_.num_waiting());
      stalled_ = true;
      end_step();
      return;
    }
    request(executor_, caf::infinite, execute_step{plan_.batch})
        .then([this](step_executed& reply) { update(reply.tokens); },
              [this](caf::error& err) {
                fail_step("model execution failed: " + caf::to_string(err));
              });
  }

  void update(const std::vector<runtime::sampled_token>& tokens) {
    if (options_.debug_log) {
      spdlog::debug("step {}: {} seqs, {} tokens, {} preempted, {} running, {} waiting",
                    counters_->num_steps.load(), plan_.batch.seqs.size(),
                    plan_.num_scheduled_tokens(), plan_.preempted.size(), scheduler_.num_running(),
                    scheduler_.num_waiting());
    }
    counters_->num_steps.fetch_add(1, std::memory_order_relaxed);
    emit(scheduler_.update(plan_, tokens));
    end_step();
  }

  void emit(std::vector<runtime::request_output> outputs) {
    std::vector<uint64_t> finished;
    for (auto& out : outputs) {
      auto it = clients_.find(out.request_id);
      if (it == clients_.end()) continue;
      send(it->second,
           token_delta{out.request_id, std::move(out.new_token_ids), out.finish, out.stop_token_id,
                       std::move(out.sampled), out.num_cached_tokens});
      if (out.finish == runtime::finish_reason::none) continue;
      finished.push_back(out.request_id);
      clients_.erase(it);
    }
    if (!finished.empty()) send(allocator_, release_blocks{std::move(finished)});
  }

  // A failed step fails the requests it carried; the others carry on.
  void fail_step(const std::string& message) {
    spdlog::error("batcher: {}", message);
    std::vector<uint64_t> released;
    for (const auto& seq : plan_.batch.seqs) {
      if (!scheduler_.abort(seq.seq_id)) continue;
      released.push_back(seq.seq_id);
      if (auto it = clients_.find(seq.seq_id); it != clients_.end()) {
        send(it->second, request_failed{seq.seq_id, message, 500});
        clients_.erase(it);
      }
    }
    if (!released.empty()) send(allocator_, release_blocks{std::move(released)});
    end_step();
  }

  void end_step() {
    step_in_flight_ = false;
    plan_ = {};
    between_steps();
  }

  void publish() {
    constexpr auto relaxed = std::memory_order_relaxed;
    counters_->num_running.store(scheduler_.num_running(), relaxed);
    counters_->num_waiting.store(scheduler_.num_waiting(), relaxed);
    counters_->num_preemptions.store(scheduler_.num_preemptions(), relaxed);
  }

  batcher_options options_;
  runtime::scheduler scheduler_;
  kv_allocator_actor allocator_;
  executor_actor executor_;
  std::shared_ptr<engine_counters> counters_;
  std::unordered_map<uint64_t, request_actor> clients_;
  std::vector<submit_generation> deferred_submits_;
  std::vector<uint64_t> deferred_aborts_;
  bool step_in_flight_ = false;
  bool stalled_ = false;  // the last step scheduled nothing; retry after the next change
  runtime::step_proposal proposal_;
  runtime::step_plan plan_;
};

}  // namespace

batcher_actor spawn_batcher(caf::actor_system& system, batcher_options options,
                            kv_allocator_actor allocator, executor_actor executor,
                            std::shared_ptr<engine_counters> counters) {
  return system.spawn<batcher_impl>(options, std::move(allocator), std::move(executor),
                                    std::move(counters));
}

}  // namespace troupe::actors
