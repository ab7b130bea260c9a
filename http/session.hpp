#pragma once
// Internal to http/: what the listener (server.cpp) and the connections (session.cpp) share.
// Only Asio's socket type appears here; Beast stays inside session_impl.hpp and its two .cpp
// files.
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "actors/engine.hpp"
#include "http/anthropic_request.hpp"
#include "http/background_response.hpp"
#include "http/response_store.hpp"
#include "http/server.hpp"

namespace troupe::http {

class session;

// Engine events reach a session by being posted to its strand. The server closes the gate before
// its io_context is destroyed, so an event the engine delivers later (an abort acknowledged after
// shutdown) is dropped instead of being posted to a dead executor.
struct event_gate {
  std::mutex mu;
  bool open = true;  // guarded by mu
};

struct server_context {
  server_context(actors::engine& e, server_options o)
      : engine(e),
        options(std::move(o)),
        anthropic(probe_anthropic_traits(options.chat_template.get(),
                                         options.anthropic_disabled_thinking_effort)),
        responses(std::make_shared<response_store>(options.enable_responses_store)) {}

  // The seed of a request that has none (see server_options::seed). Thread-safe.
  uint64_t next_default_seed();

  actors::engine& engine;
  const server_options options;
  // What /v1/messages' translation makes of the chat template (probed once).
  const anthropic_template_traits anthropic;
  // /v1/responses' stored responses (kept only under enable_responses_store), and the background
  // ones still running, by response id.
  const std::shared_ptr<response_store> responses;
  std::mutex background_mu;
  std::unordered_map<std::string, std::shared_ptr<background_response>> background;  // guarded
  std::atomic<uint64_t> num_default_seeds{0};
  // GET /load's server_load: completions and chat generations in progress, counted only under
  // server_options::enable_server_load_tracking (vLLM's), else 0.
  std::atomic<int64_t> server_load{0};
  const std::shared_ptr<event_gate> gate = std::make_shared<event_gate>();

  std::mutex sessions_mu;
  bool stopping = false;                         // guarded by sessions_mu
  std::vector<std::weak_ptr<session>> sessions;  // guarded by sessions_mu
};

// Serves the accepted `socket`, whose executor must be a strand. Thread: the acceptor's.
// Does nothing (the socket closes) once close_all_sessions() has run.
void start_session(boost::asio::ip::tcp::socket socket, const std::shared_ptr<server_context>& ctx);

// Marks the server stopping and closes every live connection on its own strand, aborting its
// generation if one is running; cancels the background responses still running. Thread-safe.
void close_all_sessions(server_context& ctx);

}  // namespace troupe::http
