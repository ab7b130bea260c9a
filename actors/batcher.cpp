#include "actors/batcher.hpp"

#include <algorithm>
#include <cassert>
#include <deque>
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

  // A step sent to the executors, until every rank has answered it.
  struct step_in_flight {
    uint64_t number = 0;
    runtime::step_plan plan;
    size_t ranks_pending = 0;                            // ranks yet to answer
    std::vector<runtime::sampled_token> tokens;          // token_rank's answer
    std::vector<std::pair<size_t, std::string>> errors;  // (rank, error)
    int64_t sent_ns = 0;
    std::string doomed_by;  // the failure of the step before it (then it fails too)
  };

  // -- between steps: apply what arrived, then start the next step --

  void between_steps() {
    // No request may come or go between propose and finalize; with one step in flight at most,
    // none while a step runs either.
    if (reserving_ || (max_in_flight() == 1 && !steps_.empty())) return;
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
    if (may_schedule()) {
      schedule();  // the step's delta carries the releases
    } else if (steps_.empty()) {
      if (auto ids = scheduler_.take_released(); !ids.empty()) {
        for (const auto& executor : executors_)
          send(executor, release_sequences{ids});
      }
    }
  }

  // Async scheduling: two (the next step's tokens wait on this one's); pipeline parallelism: one
  // per stage (consecutive steps carry different requests).
  size_t max_in_flight() const {
    return options_.async_scheduling ? 2 : std::max<size_t>(1, options_.max_steps_in_flight);
  }

  bool may_schedule() const {
    return steps_.size() < max_in_flight() && scheduler_.has_work() && !stalled_ &&
           !wait_for_step_ && !draining_;
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
    wait_for_step_ = false;
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
           token_delta{id, {}, runtime::finish_reason::abort, -1, {}, {}, 0, it->second.times});
      clients_.erase(it);
    }
  }

  std::string overloaded_message() const {
    return "Server overloaded: the waiting queue is full (" +
           std::to_string(options_.max_waiting_requests) + " requests). Please retry later.";
  }

  // -- the step --

  void schedule() {
    const int64_t start = steady_now_ns();
    proposal_ = scheduler_.propose();
    if (proposal_.running.empty() && proposal_.waiting.empty()) {
      // Every running request's last token is in flight (async scheduling), or every one's
      // sampled token (pipeline parallelism): wait for it. (With no step in flight there would
      // be nothing to wait for; not expected.)
      if (steps_.empty()) {
        spdlog::warn("batcher: {} running requests and nothing to schedule",
                     scheduler_.num_running());
        stalled_ = true;
      } else {
        wait_for_step_ = true;
      }
      return;
    }
    reserving_ = true;
    phase_start_ns_ = steady_now_ns();
    schedule_ns_ = phase_start_ns_ - start;
    request(allocator_, caf::infinite, reserve_blocks{proposal_})
        .then(
            [this](blocks_reserved& reply) {
              reserving_ = false;
              execute(reply.grant);
              complete_steps();  // answers that came while the blocks were reserved
              between_steps();
            },
            [this](caf::error& err) {
              reserving_ = false;
              spdlog::error("batcher: KV allocator failed: {}", error_text(err));
              stalled_ = true;  // retry after the next submission or abort
              complete_steps();
              between_steps();
            });
  }

  void execute(const runtime::step_grant& grant) {
    const int64_t granted = steady_now_ns();
    runtime::step_plan plan = scheduler_.finalize(proposal_, grant);
    // Under the priority policy the first running request may be the one preempted for itself,
    // which ends the step's grants before any: blocks came free, so schedule again at once.
    if (plan.empty() && !plan.preempted.empty()) return;
    if (plan.empty()) {
      if (steps_.empty()) {
        // Nothing fits even with everything preempted: wait for a submission or abort instead
        // of spinning. (start_engine caps max_model_len to the KV cache, so this is not
        // expected.)
        spdlog::warn("batcher: a step with {} waiting requests scheduled nothing",
                     scheduler_.num_waiting());
        stalled_ = true;
      } else {
        wait_for_step_ = true;  // blocks come free as the steps in flight finish requests
      }
      return;
    }
    mark_scheduled(grant, granted);
    const int64_t sent = steady_now_ns();
    metrics_.steps.allocate_seconds->observe(seconds(granted - phase_start_ns_));
    metrics_.steps.schedule_seconds->observe(seconds(schedule_ns_ + sent - granted));
    // Every rank runs every step (they keep each other in step through their collectives and
    // links); token_rank's tokens are the step's, and an error at any rank fails it.
    const uint64_t number = next_step_number_++;
    steps_.push_back({number, std::move(plan), executors_.size(), {}, {}, sent, {}});
    const runtime::step_delta& delta = steps_.back().plan.delta;
    for (size_t rank = 0; rank < executors_.size(); ++rank) {
      request(executors_[rank], caf::infinite, execute_step{delta})
          .then(
              [this, rank, number](step_executed& reply) {
                step_in_flight& step = find_step(number);
                if (rank == options_.token_rank) step.tokens = std::move(reply.tokens);
                rank_answered(step);
              },
              [this, rank, number](caf::error& err) {
                step_in_flight& step = find_step(number);
                step.errors.push_back({rank, error_text(err)});
                rank_answered(step);
              });
    }
  }

  step_in_flight& find_step(uint64_t number) {
    auto it = std::find_if(steps_.begin(), steps_.end(),
                           [number](const step_in_flight& s) { return s.number == number; });
    assert(it != steps_.end());
    return *it;
  }

  void rank_answered(step_in_flight& step) {
    --step.ranks_pending;
    if (complete_steps()) between_steps();
  }

  // Finishes the oldest steps whose every rank has answered, in order; not while blocks are
  // being reserved (a proposal made before a step's update must be finalized first). Whether
  // any finished.
  bool complete_steps() {
    bool any = false;
    while (!reserving_ && !steps_.empty() && steps_.front().ranks_pending == 0) {
      step_in_flight step = std::move(steps_.front());
      steps_.pop_front();
      wait_for_step_ = false;
      any = true;
      if (!step.doomed_by.empty()) {
        fail_step(step, "the step before it failed: " + step.doomed_by);
      } else if (step.errors.empty()) {
        update(step);
      } else {
        fail_step(step, "model execution failed: " + describe_rank_errors(step.errors));
      }
      if (steps_.empty()) draining_ = false;
    }
    return any;
  }

  // The ranks' errors, the cause first: a rank abandoned by another one says so, and comes last.
  std::string describe_rank_errors(std::vector<std::pair<size_t, std::string>>& errors) {
    std::stable_sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
      return !is_abandoned(a.second) && is_abandoned(b.second);
    });
    if (executors_.size() == 1) return errors.front().second;
    std::string text;
    for (const auto& [rank, message] : errors)
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

  void update(step_in_flight& step) {
    const int64_t returned = steady_now_ns();
    // With a step queued behind another, its device time starts when the one before returns.
    const int64_t started = std::max(step.sent_ns, last_returned_ns_);
    last_returned_ns_ = returned;
    metrics_.steps.execute_seconds->observe(seconds(returned - started));
    const runtime::step_plan& plan = step.plan;
    if (options_.debug_log) {
      spdlog::debug("step {}: {} seqs, {} tokens, {} preempted, {} running, {} waiting",
                    counters_->num_steps.load(), plan.delta.seqs.size(),
                    plan.num_scheduled_tokens(), plan.preempted.size(), scheduler_.num_running(),
                    scheduler_.num_waiting());
    }
    counters_->num_steps.fetch_add(1, std::memory_order_relaxed);
    observe_step_composition(metrics_.steps, plan);
    if (metrics_.vllm) metrics_.vllm->iteration_tokens->observe(plan.num_scheduled_tokens());
    emit(scheduler_.update(plan, step.tokens));
    metrics_.steps.postprocess_seconds->observe(seconds(steady_now_ns() - returned));
  }

  void emit(std::vector<runtime::request_output> outputs) {
    std::vector<uint64_t> finished;
    for (auto& out : outputs) {
      auto it = clients_.find(out.request_id);
      if (it == clients_.end()) continue;
      send(it->second.handle,
           token_delta{out.request_id, std::move(out.new_token_ids), out.finish, out.stop_token_id,
                       std::move(out.sampled), std::move(out.prompt_logprobs),
                       out.num_cached_tokens, it->second.times});
      if (out.finish == runtime::finish_reason::none) continue;
      finished.push_back(out.request_id);
      clients_.erase(it);
    }
    if (!finished.empty()) send(allocator_, release_blocks{std::move(finished)});
  }

  // A failed step fails the requests it carried; the others carry on. The executor forgets them
  // with the next release (scheduler::take_released). A step queued behind it (async
  // scheduling) fails too: it may feed placeholders the failed step never sampled, or read
  // blocks it never wrote; nothing new is scheduled until it has returned.
  void fail_step(const step_in_flight& step, const std::string& message) {
    last_returned_ns_ = steady_now_ns();
    spdlog::error("batcher: {}", message);
    std::vector<uint64_t> released;
    for (const auto& seq : step.plan.delta.seqs) {
      if (!scheduler_.abort(seq.seq_id)) continue;
      released.push_back(seq.seq_id);
      if (auto it = clients_.find(seq.seq_id); it != clients_.end()) {
        send(it->second.handle, request_failed{seq.seq_id, message, 500});
        clients_.erase(it);
      }
    }
    if (!released.empty()) send(allocator_, release_blocks{std::move(released), true});
    for (auto& later : steps_) {
      if (later.doomed_by.empty()) later.doomed_by = message;
      draining_ = true;
    }
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
    publish_spec_decode();
  }

  void publish_spec_decode() {
    const auto& now = scheduler_.spec_stats();
    auto& before = spec_published_;
    if (!metrics_.vllm->spec_decode_num_drafts || now.num_drafts == before.num_drafts) return;
    auto inc = [](telemetry::counter* c, int64_t n, int64_t was) {
      c->inc(static_cast<double>(n - was));
    };
    inc(metrics_.vllm->spec_decode_num_drafts, now.num_drafts, before.num_drafts);
    inc(metrics_.vllm->spec_decode_num_draft_tokens, now.num_draft_tokens, before.num_draft_tokens);
    inc(metrics_.vllm->spec_decode_num_accepted_tokens, now.num_accepted_tokens,
        before.num_accepted_tokens);
    const auto& per_pos = metrics_.vllm->spec_decode_num_accepted_tokens_per_pos;
    before.num_accepted_tokens_per_pos.resize(now.num_accepted_tokens_per_pos.size());
    for (size_t i = 0; i < per_pos.size() && i < now.num_accepted_tokens_per_pos.size(); ++i)
      inc(per_pos[i], now.num_accepted_tokens_per_pos[i], before.num_accepted_tokens_per_pos[i]);
    before = now;
  }

  batcher_options options_;
  runtime::scheduler scheduler_;
  kv_allocator_actor allocator_;
  std::vector<executor_actor> executors_;  // one per rank, rank 0 first
  std::shared_ptr<engine_counters> counters_;
  batcher_metrics metrics_;
  std::unordered_map<uint64_t, client> clients_;
  std::vector<submit_generation> deferred_submits_;
  std::vector<uint64_t> deferred_aborts_;
  // Sent to the executors, oldest first: one, or up to max_in_flight().
  std::deque<step_in_flight> steps_;
  uint64_t next_step_number_ = 0;
  bool reserving_ = false;      // between propose and finalize (the allocator's round trip)
  bool stalled_ = false;        // the last step scheduled nothing; retry after the next change
  bool wait_for_step_ = false;  // nothing to schedule beside the steps in flight; after one
  bool draining_ = false;       // a step failed: nothing new until those behind it return
  runtime::step_proposal proposal_;
  int64_t phase_start_ns_ = 0;    // when the step's allocator round trip began
  int64_t schedule_ns_ = 0;       // time in propose, before finalize's is added
  int64_t last_returned_ns_ = 0;  // when the last step's answers were complete
  int64_t num_preemptions_published_ = 0;
  runtime::spec_decode_stats spec_published_;
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
