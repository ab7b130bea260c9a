#include "loadgen/bench_run.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <sys/resource.h>

#include <chrono>
#include <deque>
#include <future>
#include <memory>

#include "loadgen/messages.hpp"

namespace troupe::loadgen {
namespace {

using promise_ptr = std::shared_ptr<std::promise<bench_outcome>>;

class collector_impl : public collector_actor::base {
 public:
  collector_impl(caf::actor_config& cfg, const bench_plan* plan, const http_stream_client* client,
                 promise_ptr done)
      : collector_actor::base(cfg), plan_(plan), client_(client), done_(std::move(done)) {
    out_.records.resize(plan->requests.size());
  }

  behavior_type make_behavior() override {
    return {[this](record_ready& msg) {
      out_.records[static_cast<size_t>(msg.index)] = std::move(msg.record);
      ++num_done_;
      const auto total = static_cast<int64_t>(out_.records.size());
      if (plan_->on_progress) plan_->on_progress(num_done_, total);
      if (num_done_ == total) {
        out_.duration_s = client_->now();
        done_->set_value(std::move(out_));
        quit();
      }
    }};
  }

 private:
  const bench_plan* plan_;
  const http_stream_client* client_;
  promise_ptr done_;
  bench_outcome out_;
  int64_t num_done_ = 0;
};

// Runs detached (its own thread), so nothing else shares the thread that keeps the schedule.
class driver_impl : public driver_actor::base {
 public:
  driver_impl(caf::actor_config& cfg, const bench_plan* plan, std::vector<std::string> bodies,
              http_stream_client* client, collector_actor collector)
      : driver_actor::base(cfg),
        plan_(plan),
        bodies_(std::move(bodies)),
        client_(client),
        collector_(std::move(collector)),
        records_(plan->requests.size()) {}

  behavior_type make_behavior() override {
    send(self_handle(), send_due{});
    return {
        [this](send_due) { release_due(); },
        [this](request_finished& msg) { on_finished(msg); },
    };
  }

 private:
  driver_actor self_handle() { return caf::actor_cast<driver_actor>(this); }

  // The schedule is absolute: each timer is armed for the next send offset, measured from the
  // same epoch, so timer lateness never accumulates into drift.
  void release_due() {
    const double now = client_->now();
    const auto& schedule = plan_->schedule;
    while (next_ < schedule.size() && schedule[next_] <= now)
      arrive(next_++, now);
    if (next_ < schedule.size()) {
      const std::chrono::duration<double> wait(schedule[next_] - now);
      delayed_send(self_handle(), std::chrono::duration_cast<std::chrono::nanoseconds>(wait),
                   send_due{});
    }
  }

  void arrive(size_t index, double now) {
    records_[index].scheduled_time = plan_->schedule[index];
    records_[index].arrival_time = now;
    if (plan_->max_concurrency && num_in_flight_ >= *plan_->max_concurrency) {
      queue_.push_back(index);
    } else {
      dispatch(index);
    }
  }

  void dispatch(size_t index) {
    ++num_in_flight_;
    const bool chat = plan_->body.backend == "openai-chat";
    client_->start(
        std::move(bodies_[index]), chat, [self = self_handle(), index](stream_outcome outcome) {
          caf::anon_send(self, request_finished{static_cast<int64_t>(index), std::move(outcome)});
        });
  }

  void on_finished(request_finished& msg) {
    --num_in_flight_;
    if (!queue_.empty()) {
      const size_t next = queue_.front();
      queue_.pop_front();
      dispatch(next);
    }
    auto& r = records_[static_cast<size_t>(msg.index)];
    auto& o = msg.outcome;
    r.success = o.success;
    r.error = std::move(o.error);
    r.prompt_len = plan_->requests[static_cast<size_t>(msg.index)].prompt_len;
    r.start_time = o.start;
    r.client_queue_time = o.start - r.arrival_time;
    if (o.success) {
      r.ttft = o.first - o.start;
      r.latency = o.last - o.start;
      r.itl = std::move(o.itl);
      r.output_tokens = o.output_tokens;
      r.generated_text = std::move(o.text);
    }
    send(collector_, record_ready{msg.index, std::move(r)});
    if (++num_finished_ == records_.size()) quit();
  }

  const bench_plan* plan_;
  std::vector<std::string> bodies_;
  http_stream_client* client_;
  collector_actor collector_;
  std::vector<request_record> records_;
  std::deque<size_t> queue_;  // arrived, waiting for a concurrency slot
  size_t next_ = 0;
  int32_t num_in_flight_ = 0;
  size_t num_finished_ = 0;
};

double process_cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

}  // namespace

result<bench_outcome> run_benchmark(const bench_plan& plan) {
  if (plan.requests.empty()) return bench_outcome{};
  std::vector<std::string> bodies;
  bodies.reserve(plan.requests.size());
  for (const auto& r : plan.requests) {
    bodies.push_back(request_body(plan.body, r.prompt, r.expected_output_len));
  }
  const double cpu_before = process_cpu_seconds();
  const auto epoch = std::chrono::steady_clock::now();
  auto client = http_stream_client::create(plan.endpoint, plan.num_io_threads, epoch);
  if (!client) return client.err();
  auto done = std::make_shared<std::promise<bench_outcome>>();
  auto future = done->get_future();
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", size_t{1});
    caf::actor_system system{cfg};
    auto collector = system.spawn<collector_impl>(&plan, client->get(), done);
    system.spawn<driver_impl, caf::detached>(&plan, std::move(bodies), client->get(), collector);
    future.wait();
  }  // the system waits for both actors before the client (and its io threads) goes away
  const int64_t num_connections = (*client)->num_connections();
  bench_outcome out = future.get();
  out.client_cpu_s = process_cpu_seconds() - cpu_before;
  out.epoch = epoch;
  out.num_connections = num_connections;
  return out;
}

result<stream_outcome> run_single(const http_endpoint& endpoint, const body_options& body,
                                  const sample_request& request) {
  auto client = http_stream_client::create(endpoint, 1, std::chrono::steady_clock::now());
  if (!client) return client.err();
  std::promise<stream_outcome> done;
  auto future = done.get_future();
  (*client)->start(request_body(body, request.prompt, request.expected_output_len),
                   body.backend == "openai-chat",
                   [&done](stream_outcome o) { done.set_value(std::move(o)); });
  return future.get();
}

}  // namespace troupe::loadgen
