#include "actors/batcher.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/request_log.hpp"

namespace troupe::actors {
namespace {

double seconds(int64_t ns) {
  return static_cast<double>(ns) * 1e-9;
}

// A decode token is a sequence's single token after its first output; everything else (prompt
// chunks, a preempted request's recomputation) is prefill.
void observe_step_composition(const step_metrics& m, const runtime::step_plan& plan) {
  const int32_t num_decode = plan.num_decode_tokens;
  m.steps->inc();
  m.prefill_tokens->observe(plan.num_scheduled_tokens() - num_decode);
  m.decode_tokens->observe(num_decode);
  m.batch_size->observe(static_cast<double>(plan.delta.seqs.size()));
}

// What went wrong, for the log and the failed requests: the text an actor put in the error
// (caf::make_error(code, text)), else CAF's rendering of it.
std::string error_text(const caf::error& err) {
  const caf::message& context = err.context();
  if (context.match_elements<std::string>()) return context.get_as<std::string>(0);
  return caf::to_string(err);
}

class batcher_impl : public batcher_actor::base {
 public:
  batcher_impl(caf::actor_config& cfg, batcher_options options, kv_allocator_actor allocator,
               std::vector<executor_actor> executors, std::shared_ptr<engine_counters> counters,
               batcher_metrics metrics)
      : batcher_actor::base(cfg),
        options_(options),
        scheduler_(options.scheduler),
        allocator_(std::move(allocator)),
        executors_(std::move(executors)),
        counters_(std::move(counters)),
        metrics_(std::move(metrics)) {}

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
    executors_.clear();
  }

 private:
  // A request actor waiting for its tokens, with the batcher's stamps of its request.
  struct client {
    request_actor handle;
    request_times times;
  };

  // -- between steps: apply what arrived, then start the next step --

  void between_steps() {
    if (step_in_flight_) return;
    const int64_t now = deferred_submits_.empty() ? 0 : steady_now_ns();
    for (auto& msg : deferred_submits_)
      admit(msg, now);
    deferred_submits_.clear();
    std::vector<uint64_t> released;
    for (uint64_t id : deferred_aborts_)
      abort(id, released);
    deferred_aborts_.clear();
    if (!released.empty()) send(allocator_, release_blocks{std::move(released)});
    publish();
    if (scheduler_.has_work() && !stalled_) {
      schedule();  // the step's delta carries the releases
    } else if (auto ids = scheduler_.take_released(); !ids.empty()) {
      for (const auto& executor : executors_)
        send(executor, release_sequences{ids});
    }
  }

  void admit(submit_generation& msg, int64_t now) {
    const uint64_t id = msg.spec.id;
    if (scheduler_.num_waiting_new() >= options_.max_waiting_requests) {
      send(msg.client, request_failed{id, overloaded_message(), 503});
      return;
    }
    if (auto added = scheduler_.add_request(std::move(msg.spec)); !added) {
      send(msg.client, request_failed{id, added.message(), 400});
      return;
    }
    clients_.emplace(id, client{std::move(msg.client), {now, 0}});
    stalled_ = false;
    if (options_.log_requests) {
      spdlog::info(request_log_line(id, "queued").add("waiting", scheduler_.num_waiting()).str());
    }
  }

  void abort(uint64_t id, std::vector<uint64_t>& released) {
    if (!scheduler_.abort(id)) return;  // finished already, or never admitted
    released.push_back(id);
    stalled_ = false;
    if (auto it = clients_.find(id); it != clients_.end()) {
      send(it->second.handle,
           token_delta{id, {}, runtime::finish_reason::abort, -1, {}, 0, it->second.times});
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
    const int64_t start = steady_now_ns();
    proposal_ = scheduler_.propose();
    phase_start_ns_ = steady_now_ns();
    schedule_ns_ = phase_start_ns_ - start;
    request(allocator_, caf::infinite, reserve_blocks{proposal_})
        .then([this](blocks_reserved& reply) { execute(reply.grant); },
              [this](caf::error& err) { fail_step("KV allocator failed: " + error_text(err)); });
  }

  void execute(const runtime::step_grant& grant) {
    const int64_t granted = steady_now_ns();
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
    mark_scheduled(grant, granted);
    const int64_t sent = steady_now_ns();
    metrics_.steps.allocate_seconds->observe(seconds(granted - phase_start_ns_));
    metrics_.steps.schedule_seconds->observe(seconds(schedule_ns_ + sent - granted));
    phase_start_ns_ = sent;
    // Every rank runs every step (they keep each other in step through their collectives);
    // rank 0's tokens are the step's, and an error at any rank fails it.
    num_ranks_pending_ = executors_.size();
    rank_errors_.clear();
    rank_tokens_.clear();
    for (size_t rank = 0; rank < executors_.size(); ++rank) {
      request(executors_[rank], caf::infinite, execute_step{plan_.delta})
          .then(
              [this, rank](step_executed& reply) {
                if (rank == 0) rank_tokens_ = std::move(reply.tokens);
                rank_answered();
              },
              [this, rank](caf::error& err) {
                rank_errors_.push_back({rank, error_text(err)});
                rank_answered();
              });
    }
  }

  void rank_answered() {
    if (--num_ranks_pending_ > 0) return;
    if (rank_errors_.empty()) {
      update(rank_tokens_);
      return;
    }
    fail_step("model execution failed: " + describe_rank_errors());
  }

  // The ranks' errors, the cause first: a rank abandoned by another one says so, and comes last.
  std::string describe_rank_errors() {
    std::stable_sort(rank_errors_.begin(), rank_errors_.end(), [](const auto& a, const auto& b) {
      return !is_abandoned(a.second) && is_abandoned(b.second);
    });
    if (executors_.size() == 1) return rank_errors_.front().second;
    std::string text;
    for (const auto& [rank, message] : rank_errors_)
      text += (text.empty() ? "" : "; ") + ("rank " + std::to_string(rank) + ": " + message);
    return text;
  }

  static bool is_abandoned(const std::string& message) {
    return message.find("aborted by another rank") != std::string::npos;
  }

  // The first admission of each request is its "scheduled" time (readmissions after preemption
  // are not).
  void mark_scheduled(const runtime::step_grant& grant, int64_t now) {
    for (const auto& admitted : grant.admitted) {
      auto it = clients_.find(admitted.request_id);
      if (it == clients_.end() || it->second.times.scheduled_ns != 0) continue;
      it->second.times.scheduled_ns = now;
      if (options_.log_requests) {
        spdlog::info(request_log_line(admitted.request_id, "scheduled")
                         .add("cached_tokens", admitted.num_computed_tokens)
                         .str());
      }
    }
  }

  void update(const std::vector<runtime::sampled_token>& tokens) {
    const int64_t returned = steady_now_ns();
    metrics_.steps.execute_seconds->observe(seconds(returned - phase_start_ns_));
    if (options_.debug_log) {
      spdlog::debug("step {}: {} seqs, {} tokens, {} preempted, {} running, {} waiting",
                    counters_->num_steps.load(), plan_.delta.seqs.size(),
                    plan_.num_scheduled_tokens(), plan_.preempted.size(), scheduler_.num_running(),
                    scheduler_.num_waiting());
    }
    counters_->num_steps.fetch_add(1, std::memory_order_relaxed);
    observe_step_composition(metrics_.steps, plan_);
    if (metrics_.vllm) metrics_.vllm->iteration_tokens->observe(plan_.num_scheduled_tokens());
    emit(scheduler_.update(plan_, tokens));
    metrics_.steps.postprocess_seconds->observe(seconds(steady_now_ns() - returned));
    end_step();
  }

  void emit(std::vector<runtime::request_output> outputs) {
    std::vector<uint64_t> finished;
    for (auto& out : outputs) {
      auto it = clients_.find(out.request_id);
      if (it == clients_.end()) continue;
      send(it->second.handle,
           token_delta{out.request_id, std::move(out.new_token_ids), out.finish, out.stop_token_id,
                       std::move(out.sampled), out.num_cached_tokens, it->second.times});
      if (out.finish == runtime::finish_reason::none) continue;
      finished.push_back(out.request_id);
      clients_.erase(it);
    }
    if (!finished.empty()) send(allocator_, release_blocks{std::move(finished)});
  }

  // A failed step fails the requests it carried; the others carry on. The executor forgets them
  // with the next release (scheduler::take_released).
  void fail_step(const std::string& message) {
    spdlog::error("batcher: {}", message);
    std::vector<uint64_t> released;
    for (const auto& seq : plan_.delta.seqs) {
      if (!scheduler_.abort(seq.seq_id)) continue;
      released.push_back(seq.seq_id);
      if (auto it = clients_.find(seq.seq_id); it != clients_.end()) {
        send(it->second.handle, request_failed{seq.seq_id, message, 500});
        clients_.erase(it);
      }
    }
    if (!released.empty()) send(allocator_, release_blocks{std::move(released), true});
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
    if (!metrics_.vllm) return;
    metrics_.vllm->num_requests_running->set(scheduler_.num_running());
    metrics_.vllm->num_requests_waiting->set(scheduler_.num_waiting());
    metrics_.vllm->num_preemptions->inc(
        static_cast<double>(scheduler_.num_preemptions() - num_preemptions_published_));
    num_preemptions_published_ = scheduler_.num_preemptions();
  }

  batcher_options options_;
  runtime::scheduler scheduler_;
  kv_allocator_actor allocator_;
  std::vector<executor_actor> executors_;  // one per tensor-parallel rank, rank 0 first
  std::shared_ptr<engine_counters> counters_;
  batcher_metrics metrics_;
  std::unordered_map<uint64_t, client> clients_;
  std::vector<submit_generation> deferred_submits_;
  std::vector<uint64_t> deferred_aborts_;
  bool step_in_flight_ = false;
  bool stalled_ = false;  // the last step scheduled nothing; retry after the next change
  runtime::step_proposal proposal_;
  runtime::step_plan plan_;
  size_t num_ranks_pending_ = 0;                             // ranks yet to answer the step
  std::vector<runtime::sampled_token> rank_tokens_;          // rank 0's answer
  std::vector<std::pair<size_t, std::string>> rank_errors_;  // (rank, error) of the step
  int64_t phase_start_ns_ = 0;  // when the step's current round trip began
  int64_t schedule_ns_ = 0;     // time in propose, before finalize's is added
  int64_t num_preemptions_published_ = 0;
};

}  // namespace

batcher_actor spawn_batcher(caf::actor_system& system, batcher_options options,
                            kv_allocator_actor allocator, std::vector<executor_actor> executors,
                            std::shared_ptr<engine_counters> counters, batcher_metrics metrics) {
  const actor_kind_metrics actor = metrics.actor;
  return system.spawn<instrumented<batcher_impl>>(actor, options, std::move(allocator),
                                                  std::move(executors), std::move(counters),
                                                  std::move(metrics));
}

}  // namespace troupe::actors
