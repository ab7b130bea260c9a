#include "http/background_response.hpp"

namespace troupe::http {

background_response::background_response(std::string id, responses_responder responder,
                                         std::shared_ptr<response_store> store,
                                         response_store::entry entry,
                                         std::function<void()> finished)
    : id_(std::move(id)),
      store_(std::move(store)),
      finished_(std::move(finished)),
      responder_(std::move(responder)),
      entry_(std::move(entry)) {}

void background_response::start(actors::engine& engine, actors::generation_request generation) {
  {
    std::lock_guard lock(mu_);
    engine_ = &engine;
    store_->put(id_, entry_);
  }
  // The engine holds the sink until the generation ends; events may arrive before submit returns.
  const uint64_t id = engine.submit(std::move(generation), shared_from_this());
  std::lock_guard lock(mu_);
  engine_id_ = id;
  if (cancelled_) engine.abort(id);  // cancelled before the engine named the request
}

void background_response::on_event(actors::generation_event event) {
  bool finished = false;
  {
    std::lock_guard lock(mu_);
    if (over_) return;
    responder_.on_event(event);
    if (!responder_.done()) return;
    over_ = finished = true;
    if (responder_.status() == 200) {
      entry_.response_json = responder_.response_json();
      entry_.output_json = responder_.output_json();
    } else {
      entry_.response_json = responder_.response_at("failed");
    }
    store_->put(id_, entry_);
  }
  if (finished) finished_();
}

std::optional<std::string> background_response::cancel() {
  {
    std::lock_guard lock(mu_);
    if (over_) return std::nullopt;
    over_ = cancelled_ = true;
    entry_.response_json = responder_.response_at("cancelled");
    store_->put(id_, entry_);
    if (engine_id_ != 0) engine_->abort(engine_id_);
  }
  finished_();
  std::lock_guard lock(mu_);
  return entry_.response_json;
}

}  // namespace troupe::http
