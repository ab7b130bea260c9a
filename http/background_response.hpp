#pragma once
// A /v1/responses request created with "background": true (under the response store): answered
// at once with the response "queued", generated without a connection, and stored when done
// (completed, incomplete, or "failed" after an engine error), as vLLM 0.32 runs them. GET
// /v1/responses/{id} reads the store meanwhile; POST /v1/responses/{id}/cancel cancels it while
// it runs: the engine request is aborted and the stored response becomes "cancelled" (no output,
// no usage), which its end then leaves as it is.
//
// Thread: on_event runs on an engine thread, cancel on a session's; both under one mutex.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "actors/engine.hpp"
#include "http/response_store.hpp"
#include "http/responses_responder.hpp"

namespace troupe::http {

class background_response final : public actors::generation_sink,
                                  public std::enable_shared_from_this<background_response> {
 public:
  // `responder` a non-streaming one; `entry` what the store keeps (its response_json the queued
  // object); `finished` is called once the job is over (done or cancelled), off any lock.
  background_response(std::string id, responses_responder responder,
                      std::shared_ptr<response_store> store, response_store::entry entry,
                      std::function<void()> finished);

  // Submits `generation`; the store holds the queued response from here on.
  void start(actors::engine& engine, actors::generation_request generation);
  void on_event(actors::generation_event event) override;
  // The cancelled response object, or nothing when the job is already over.
  std::optional<std::string> cancel();

 private:
  const std::string id_;
  const std::shared_ptr<response_store> store_;  // the job may outlive the server
  std::function<void()> finished_;
  std::mutex mu_;
  actors::engine* engine_ = nullptr;  // guarded by mu_
  uint64_t engine_id_ = 0;            // 0 until submitted; guarded by mu_
  bool cancelled_ = false;            // guarded by mu_
  responses_responder responder_;     // guarded by mu_
  response_store::entry entry_;       // guarded by mu_
  bool over_ = false;                 // guarded by mu_
};

}  // namespace troupe::http
