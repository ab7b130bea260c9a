#pragma once
// Every message of the `troupe bench` actor system, sectioned by recipient, each followed by the
// recipient's typed interface. Internal to loadgen/: CAF headers stop here.
//
//   driver --(self) send_due--> driver --start--> http_stream_client (io threads)
//   io thread --request_finished--> driver --record_ready--> collector --> promise
//   monitor --(self, every --telemetry-interval) telemetry_tick--> monitor --> a line
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>

#include "loadgen/http_stream_client.hpp"
#include "loadgen/metrics.hpp"

namespace troupe::loadgen {

// -- to collector --

// One finished request with every timestamp filled in.
struct record_ready {
  int64_t index = 0;
  request_record record;
};

using collector_actor = caf::typed_actor<caf::reacts_to<record_ready>>;

// -- to driver --

// The schedule's timer fired: release every request now due, re-arm for the next.
struct send_due {};

// A request's stream ended (sent from an io thread of the HTTP client).
struct request_finished {
  int64_t index = 0;
  stream_outcome outcome;
};

using driver_actor = caf::typed_actor<caf::reacts_to<send_due>, caf::reacts_to<request_finished>>;

// -- to monitor --

// The periodic telemetry line is due (a delayed self-send).
struct telemetry_tick {};

using monitor_actor = caf::typed_actor<caf::reacts_to<telemetry_tick>>;

// -- inspect --

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_record& x) {
  return f(caf::meta::type_name("request_record"), x.success, x.prompt_len, x.output_tokens, x.ttft,
           x.itl, x.latency, x.scheduled_time, x.arrival_time, x.start_time, x.client_queue_time,
           x.generated_text, x.error);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_outcome& x) {
  return f(caf::meta::type_name("stream_outcome"), x.success, x.error, x.start, x.first, x.last,
           x.itl, x.text, x.output_tokens);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_ready& x) {
  return f(caf::meta::type_name("record_ready"), x.index, x.record);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, send_due&) {
  return f(caf::meta::type_name("send_due"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, telemetry_tick&) {
  return f(caf::meta::type_name("telemetry_tick"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_finished& x) {
  return f(caf::meta::type_name("request_finished"), x.index, x.outcome);
}

}  // namespace troupe::loadgen
