#pragma once
// Internal to http/session.cpp and http/session_requests.cpp: the class behind one client
// connection. session.cpp holds the connection (reading, writing, timers, lifetime) and what the
// listener calls; session_requests.cpp one request at a time (routing through http/routes.hpp,
// the handlers, the response and the log line).
#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "actors/beam_search.hpp"
#include "actors/engine.hpp"
#include "http/anthropic_request.hpp"
#include "http/anthropic_responder.hpp"
#include "http/api_error.hpp"
#include "http/chat_responder.hpp"
#include "http/completion_request.hpp"
#include "http/completion_responder.hpp"
#include "http/prefix_cache_api.hpp"
#include "http/responses_responder.hpp"
#include "http/routes.hpp"
#include "http/session.hpp"

namespace troupe::http {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using http_request = bhttp::request<bhttp::string_body>;
using steady = std::chrono::steady_clock;

// A request header's value; "" when the request has none.
inline std::string_view header_value(const http_request& request, std::string_view name) {
  auto header = request.find(name);
  if (header == request.end()) return {};
  return std::string_view(header->value().data(), header->value().size());
}

// One client connection. Everything but the sink's on_event runs on the socket's strand.
//
// A read is kept pending while a response is in progress: it notices a client that goes away
// mid-generation (the generation is then aborted) and picks up a pipelined request, which waits
// in pending_ until the current response is written.
class session : public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, std::shared_ptr<server_context> ctx);

  void start();
  void close();
  void on_generation_event(uint64_t serial, actors::generation_event event);
  void on_reset_reply(uint64_t serial, reset_reply reply);
  net::any_io_executor executor() { return socket_.get_executor(); }

 private:
  // -- reading (session.cpp) --
  void handshake();
  // Calls `f` with the connection's byte stream: the TLS stream over the socket under HTTPS,
  // else the socket itself.
  template <class F>
  void with_stream(F&& f) {
    if (tls_) return f(*tls_);
    f(socket_);
  }
  void read_request();
  void on_header(error_code ec);
  void on_body(error_code ec);
  void on_read_error(error_code ec);
  void discard_input();
  // -- one request (session_requests.cpp) --
  void begin_request(http_request request);
  void dispatch(const http_request& request);
  void handle(endpoint handler, const http_request& request);
  void handle_completion(const http_request& request);
  // Which API a chat completion is served for: /v1/chat/completions; /v1/messages (`body` the
  // chat body the Anthropic one became, errors in Anthropic's shape, answers through
  // anthropic_responder); /v1/responses (answers through responses_responder, set up from
  // responses_setup_).
  enum class chat_front : uint8_t { openai, anthropic, responses };
  void handle_chat(const http_request& request, std::string_view body, chat_front front);
  // A chat request parsed, rendered and set up for its responder; not submitted.
  struct prepared_chat {
    actors::generation_request generation;
    chat_responder_options options;
    completion_meta meta;
    std::optional<actors::beam_search_params> beam;
  };
  std::variant<prepared_chat, api_error> prepare_chat(const http_request& request,
                                                      std::string_view body);
  // -- /v1/responses (session_responses.cpp) --
  void handle_responses(const http_request& request);
  void handle_response_by_id(const http_request& request);
  void start_background(const http_request& request, responses_request& responses);
  // A finished /v1/responses answer goes to the store when its request asked.
  void store_response(const responses_responder& responder);
  void handle_messages(const http_request& request);
  // The chat body of an Anthropic request, or none when it was refused (the answer sent).
  std::optional<std::string> translate_anthropic(const http_request& request,
                                                 anthropic_endpoint endpoint);
  void handle_count_tokens(const http_request& request);
  void handle_tokenize(const http_request& request, bool detokenize);
  void handle_reset_prefix_cache();
  // With `beam`: each prompt's choices come from a beam search (actors::beam_search).
  void start_generations(std::vector<actors::generation_request> generations,
                         const std::optional<actors::beam_search_params>& beam = std::nullopt);
  // Aborts the engine's generations of this request (once).
  void abort_generations();
  std::string response_id(const std::string& body_request_id) const;
  // The generation in progress is over (answered or abandoned): it leaves the server's load.
  void end_generation();
  std::optional<api_error> take_bad_words(completion_request& request) const;
  completion_limits request_limits() const;
  void deliver(const actors::generation_event& event);
  template <class Responder>
  void deliver_to(Responder& responder, const actors::generation_event& event);
  void respond(int status, std::string_view content_type, std::string_view body);
  void respond_error(const api_error& error);
  void respond_anthropic_error(const api_error& error);
  void finish_response();
  void log_request();
  // -- writing and lifetime (session.cpp) --
  void send(std::string bytes);
  void write_next();
  void on_write(error_code ec);
  void arm_timer(steady::duration timeout);
  void on_timer();
  void linger();

  tcp::socket socket_;
  // Under HTTPS: the context the handshake used (kept alive for the connection) and the stream.
  std::shared_ptr<net::ssl::context> tls_context_;
  std::optional<net::ssl::stream<tcp::socket&>> tls_;
  net::steady_timer timer_;
  std::shared_ptr<server_context> ctx_;
  std::string peer_;

  boost::beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<http_request> pending_;     // a pipelined request
  std::optional<api_error> pending_error_;  // a malformed pipelined request
  std::array<char, 4096> discard_buffer_{};
  bool reading_ = false;

  std::deque<std::string> write_queue_;  // front is being written while writing_
  bool writing_ = false;

  // The request in progress (busy_), for routing and the log line.
  bool busy_ = false;
  bool keep_alive_ = true;
  bool http10_ = false;
  bool response_done_ = false;  // every byte of the response is queued
  bool close_after_ = false;
  int status_ = 0;
  std::string method_, target_, detail_;
  steady::time_point started_;

  // The generation in progress.
  std::optional<completion_responder> responder_;
  std::optional<chat_responder> chat_responder_;            // instead of responder_ for chat
  std::optional<anthropic_responder> anthropic_responder_;  // or this, for /v1/messages
  std::optional<responses_responder> responses_responder_;  // or this, for /v1/responses
  // /v1/responses: the responder's setup until handle_chat makes it, and what the store keeps.
  std::optional<responses_responder_options> responses_setup_;
  bool store_response_ = false;
  std::string response_messages_;
  bool generating_ = false;
  bool abort_sent_ = false;
  // The request's X-Request-Id header, if it has one; the X-Request-Id of the response under
  // --enable-request-id-headers (that header, else a random id), else empty.
  std::optional<std::string> client_request_id_;
  std::string request_id_header_;
  // Header lines the request's response head gains (CORS's), added by send() to the first bytes.
  std::string head_headers_;
  std::vector<uint64_t> engine_ids_;                                 // one per prompt
  std::vector<std::shared_ptr<actors::beam_search>> beam_searches_;  // or these, one per prompt
  uint64_t serial_ = 0;          // tells this request's engine replies from a previous one's
  bool awaiting_reset_ = false;  // a /reset_prefix_cache waits for the engine's answer
  // Keeps the session alive while the engine holds only a weak reference to it.
  std::shared_ptr<session> keep_self_;

  bool lingering_ = false;
  bool closed_ = false;
};

}  // namespace troupe::http
