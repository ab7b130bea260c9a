#include "loadgen/bench_run.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <sys/resource.h>

#include <chrono>
#include <deque>
#include <future>
#include <memory>

#include "actor_telemetry/instrumented.hpp"
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

// Reports the client's telemetry every interval, on the CAF worker (not the driver's thread).
class monitor_impl : public monitor_actor::base {
 public:
  monitor_impl(caf::actor_config& cfg, const bench_plan* plan, const telemetry::registry* registry,
               const http_stream_client* client, std::vector<kind_spec> kinds)
      : monitor_actor::base(cfg),
        plan_(plan),
        registry_(registry),
        client_(client),
        kinds_(std::move(kinds)) {}

  behavior_type make_behavior() override {
    arm();
    return {[this](telemetry_tick) {
      auto now = sample(*registry_, kinds_, client_->now(), client_->io_cpu_seconds());
      const auto num_total = static_cast<int64_t>(plan_->requests.size());
      plan_->telemetry.on_line(format_telemetry_line(figures_between(last_, now), now.at_s,
                                                     messages_of(now, "collector"), num_total));
      last_ = std::move(now);
      arm();
    }};
  }

 private:
  void arm() {
    const std::chrono::duration<double> interval(plan_->telemetry.interval_s);
    delayed_send(caf::actor_cast<monitor_actor>(this),
                 std::chrono::duration_cast<std::chrono::nanoseconds>(interval), telemetry_tick{});
  }

  const bench_plan* plan_;
  const telemetry::registry* registry_;
  const http_stream_client* client_;
  std::vector<kind_spec> kinds_;
  telemetry_sample last_;  // at 0: nothing yet
};

// Spawns Impl, instrumented as `kind` when there is a registry (--telemetry).
template <class Impl, caf::spawn_options Os = caf::no_spawn_options, class... Ts>
auto spawn_kind(caf::actor_system& system, telemetry::registry* registry, const char* kind,
                Ts&&... xs) {
  if (!registry) return system.spawn<Impl, Os>(std::forward<Ts>(xs)...);
  // A deep ring: at rate inf every request's request_finished may wait behind the sends.
  using instrumented_impl = actor_telemetry::instrumented<Impl, 4096>;
  return system.spawn<instrumented_impl, Os>(
      actor_telemetry::actor_kind_metrics::create(*registry, kind), std::forward<Ts>(xs)...);
}

// The kinds a run spawns: the monitor only when it reports during the run.
std::vector<kind_spec> client_kinds(const bench_plan& plan, bool monitor) {
  std::vector<kind_spec> kinds = {{"driver", 1, false, true}, {"collector", 1, false, false}};
  if (monitor) kinds.push_back({"monitor", 1, false, false});
  kinds.push_back({"http_client", std::max(plan.num_io_threads, 1), true, true});
  return kinds;
}

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
  std::unique_ptr<telemetry::registry> registry;
  if (plan.telemetry.enabled) registry = std::make_unique<telemetry::registry>();
  const bool monitor =
      registry && plan.telemetry.interval_s > 0 && static_cast<bool>(plan.telemetry.on_line);
  const auto kinds = client_kinds(plan, monitor);
  std::optional<actor_telemetry::actor_kind_metrics> client_metrics;
  if (registry)
    client_metrics = actor_telemetry::actor_kind_metrics::create(*registry, "http_client");
  const double cpu_before = process_cpu_seconds();
  const auto epoch = std::chrono::steady_clock::now();
  auto client =
      http_stream_client::create(plan.endpoint, plan.num_io_threads, epoch, client_metrics);
  if (!client) return client.err();
  auto done = std::make_shared<std::promise<bench_outcome>>();
  auto future = done->get_future();
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", size_t{1});
    // Idle workers wait on a condition variable: the default work-stealing policy polls with
    // 50 us sleeps, CPU taken from the server under test when both share a machine.
    cfg.set("scheduler.policy", caf::atom("sharing"));
    caf::actor_system system{cfg};
    auto* r = registry.get();
    auto collector = spawn_kind<collector_impl>(system, r, "collector", &plan, client->get(), done);
    monitor_actor ticker;
    if (monitor)
      ticker = spawn_kind<monitor_impl>(system, r, "monitor", &plan, r, client->get(), kinds);
    spawn_kind<driver_impl, caf::detached>(system, r, "driver", &plan, std::move(bodies),
                                           client->get(), collector);
    future.wait();
    if (ticker) caf::anon_send_exit(ticker, caf::exit_reason::user_shutdown);
  }  // the system waits for every actor before the client (and its io threads) goes away
  const int64_t num_connections = (*client)->num_connections();
  bench_outcome out = future.get();
  out.client_cpu_s = process_cpu_seconds() - cpu_before;
  out.epoch = epoch;
  out.num_connections = num_connections;
  if (registry) {
    const auto last = sample(*registry, kinds, out.duration_s, (*client)->io_cpu_seconds());
    out.telemetry = figures_between({}, last);
  }
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
