#include "actors/choice_sink.hpp"

#include <utility>

namespace troupe::actors {

void choice_fan_in::deliver(int32_t index, generation_event event) {
  std::lock_guard lock{mutex_};
  if (closed_) return;
  event.index = index;
  if (event.error) {
    closed_ = true;
    // The request failed as a whole (the choices share their prompt, so a bad prompt fails all of
    // them; an overloaded queue fails the request too): stop the others instead of leaving a
    // response that can never complete.
    if (stop_others_) stop_others_();
  } else if (event.finished && ++num_finished_ == n_) {
    closed_ = true;
  }
  sink_->on_event(std::move(event));
}

}  // namespace troupe::actors
