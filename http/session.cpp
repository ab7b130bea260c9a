#include "http/session.hpp"

#include <array>
#include <chrono>
#include <deque>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include "http/chat_messages.hpp"
#include "http/chat_request.hpp"
#include "http/chat_responder.hpp"
#include "http/completion_request.hpp"
#include "http/completion_responder.hpp"
#include "http/openai_json.hpp"
#include "http/tokenize_api.hpp"
#include "http/wire.hpp"

namespace troupe::http {
namespace {

namespace net = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using http_request = bhttp::request<bhttp::string_body>;
using steady = std::chrono::steady_clock;

constexpr uint32_t max_header_bytes = 64 * 1024;
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";

// A malformed request (as opposed to the peer going away) deserves an error response.
std::optional<api_error> protocol_error(const error_code& ec, std::size_t max_body_bytes) {
  if (ec.category() != bhttp::make_error_code(bhttp::error::bad_method).category() ||
      ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message) {
    return std::nullopt;
  }
  if (ec == bhttp::error::body_limit) {
    return api_error{
        413, fmt::format("Request body too large (limit {} bytes).", max_body_bytes), {}};
  }
  if (ec == bhttp::error::header_limit) return api_error{431, "Request headers too large.", {}};
  return bad_request(fmt::format("Malformed HTTP request: {}.", ec.message()));
}

int64_t unix_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

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
  net::any_io_executor executor() { return socket_.get_executor(); }

 private:
  // -- reading --
  void read_request();
  void on_header(error_code ec);
  void on_body(error_code ec);
  void on_read_error(error_code ec);
  void discard_input();
  // -- one request --
  void begin_request(http_request request);
  void dispatch(const http_request& request);
  void handle_completion(const http_request& request);
  void handle_chat(const http_request& request);
  void handle_tokenize(const http_request& request, bool detokenize);
  void start_generation(actors::generation_request generation, bool zero_max_tokens);
  void deliver(const actors::generation_event& event);
  template <class Responder>
  void deliver_to(Responder& responder, const actors::generation_event& event);
  void respond(int status, std::string_view content_type, std::string_view body);
  void respond_error(const api_error& error);
  void finish_response();
  void log_request();
  // -- writing and lifetime --
  void send(std::string bytes);
  void write_next();
  void on_write(error_code ec);
  void arm_timer(steady::duration timeout);
  void on_timer();
  void linger();

  tcp::socket socket_;
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
  std::optional<chat_responder> chat_responder_;  // instead of responder_ for chat
  bool generating_ = false;
  bool abort_sent_ = false;
  uint64_t engine_id_ = 0;
  uint64_t serial_ = 0;  // tells this generation's events from a previous one's
  // Keeps the session alive while the engine holds only a weak reference to it.
  std::shared_ptr<session> keep_self_;

  bool lingering_ = false;
  bool closed_ = false;
};

namespace {

// Posts engine events (from actor threads) to the session's strand; never blocks for long.
class session_sink final : public actors::generation_sink {
 public:
  session_sink(std::weak_ptr<session> target, uint64_t serial, net::any_io_executor executor,
               std::shared_ptr<event_gate> gate)
      : target_(std::move(target)),
        serial_(serial),
        executor_(std::move(executor)),
        gate_(std::move(gate)) {}

  void on_event(actors::generation_event event) override {
    std::lock_guard lock(gate_->mu);
    if (!gate_->open) return;
    net::post(executor_, [target = target_, serial = serial_, event = std::move(event)]() mutable {
      if (auto live = target.lock()) live->on_generation_event(serial, std::move(event));
    });
  }

 private:
  std::weak_ptr<session> target_;
  uint64_t serial_;
  net::any_io_executor executor_;
  std::shared_ptr<event_gate> gate_;
};

}  // namespace

session::session(tcp::socket socket, std::shared_ptr<server_context> ctx)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), ctx_(std::move(ctx)) {
  error_code ec;
  // Token chunks are small: without this, Nagle's algorithm holds each one back until the
  // client acknowledges the previous one (up to its delayed-ACK timeout).
  socket_.set_option(tcp::no_delay(true), ec);
  tcp::endpoint peer = socket_.remote_endpoint(ec);
  peer_ = ec ? "?" : fmt::format("{}:{}", peer.address().to_string(), peer.port());
}

void session::start() {
  net::post(socket_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

// -- reading ---------------------------------------------------------------------------------

void session::read_request() {
  if (closed_) return;
  parser_.emplace();
  parser_->header_limit(max_header_bytes);
  parser_->body_limit(ctx_->options.max_body_bytes);
  reading_ = true;
  if (!busy_) arm_timer(ctx_->options.idle_timeout);
  bhttp::async_read_header(
      socket_, buffer_, *parser_,
      [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

void session::on_header(error_code ec) {
  if (ec) return on_read_error(ec);
  if (closed_) return;
  if (lingering_) return discard_input();
  // curl waits a second for this before sending a large body.
  if (!busy_ && boost::beast::iequals(parser_->get()[bhttp::field::expect], "100-continue")) {
    send(std::string(continue_response));
  }
  bhttp::async_read(socket_, buffer_, *parser_,
                    [self = shared_from_this()](error_code ec, std::size_t) { self->on_body(ec); });
}

void session::on_body(error_code ec) {
  reading_ = false;
  if (ec) return on_read_error(ec);
  if (closed_) return;
  if (lingering_) return discard_input();
  if (busy_) {
    pending_ = parser_->release();
    return;
  }
  begin_request(parser_->release());
}

void session::on_read_error(error_code ec) {
  reading_ = false;
  if (closed_ || ec == net::error::operation_aborted) return;
  std::optional<api_error> error =
      lingering_ ? std::nullopt : protocol_error(ec, ctx_->options.max_body_bytes);
  if (!error) return close();  // the peer went away
  if (busy_) {
    pending_error_ = std::move(error);
    return;
  }
  busy_ = true;
  started_ = steady::now();
  method_ = target_ = "-";
  if (parser_->is_header_done()) {
    method_ = std::string(parser_->get().method_string());
    target_ = std::string(parser_->get().target());
  }
  keep_alive_ = false;
  respond_error(*error);
}

// After the last response of a closing connection: read and drop what the client still sends,
// so that closing does not reset the connection before the client has read the response.
void session::discard_input() {
  reading_ = true;
  socket_.async_read_some(net::buffer(discard_buffer_),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                            self->reading_ = false;
                            if (ec) return self->close();
                            self->discard_input();
                          });
}

// -- one request -----------------------------------------------------------------------------

void session::begin_request(http_request request) {
  busy_ = true;
  timer_.cancel();
  started_ = steady::now();
  method_ = std::string(request.method_string());
  target_ = std::string(request.target());
  detail_.clear();
  keep_alive_ = request.keep_alive();
  http10_ = request.version() < 11;
  dispatch(request);
  if (!closed_ && !reading_) read_request();
}

void session::dispatch(const http_request& request) {
  std::string_view path = request.target();
  path = path.substr(0, path.find('?'));
  bool get = request.method() == bhttp::verb::get;
  bool post = request.method() == bhttp::verb::post;
  if (path == "/v1/completions") {
    if (post) return handle_completion(request);
  } else if (path == "/v1/chat/completions") {
    if (post) return handle_chat(request);
  } else if (path == "/tokenize" || path == "/detokenize") {
    if (get || post) return handle_tokenize(request, path == "/detokenize");
  } else if (path == "/v1/models") {
    if (get) return respond(200, json_content_type, models_json(ctx_->engine.info()));
  } else if (path == "/health") {
    if (get) return respond(200, json_content_type, "");
  } else {
    return respond_error(api_error{404, fmt::format("Not Found: {}", path), {}});
  }
  respond_error(api_error{405, fmt::format("Method {} not allowed for {}", method_, path), {}});
}

void session::handle_completion(const http_request& request) {
  const actors::model_info& info = ctx_->engine.info();
  completion_limits limits{info.served_model_name, ctx_->engine.tokenizer().vocab_size(),
                           ctx_->options.sampling_defaults};
  auto parsed = parse_completion_request(request.body(), limits, ctx_->next_default_seed());
  if (auto* error = std::get_if<api_error>(&parsed)) return respond_error(*error);
  completion_request& completion = std::get<completion_request>(parsed);

  completion_meta meta{make_completion_id(), unix_seconds(), info.served_model_name};
  completion.generation.request_id = meta.id;
  responder_options options{completion.stream, completion.include_usage, keep_alive_, !http10_};
  options.n = completion.generation.n;
  options.logprobs = completion.generation.logprobs;
  options.tokenizer = &ctx_->engine.tokenizer();
  responder_.emplace(std::move(meta), options);
  start_generation(std::move(completion.generation), completion.zero_max_tokens);
}

void session::handle_chat(const http_request& request) {
  const actors::model_info& info = ctx_->engine.info();
  completion_limits limits{info.served_model_name, ctx_->engine.tokenizer().vocab_size(),
                           ctx_->options.sampling_defaults};
  auto parsed = parse_chat_completion_request(request.body(), limits, ctx_->next_default_seed());
  if (auto* error = std::get_if<api_error>(&parsed)) return respond_error(*error);
  chat_completion_request& chat = std::get<chat_completion_request>(parsed);
  auto prompt = render_chat_prompt(ctx_->options.chat_template.get(), std::move(chat.chat),
                                   chat.continue_final_message);
  if (auto* error = std::get_if<api_error>(&prompt)) return respond_error(*error);

  actors::generation_request& generation = chat.completion.generation;
  generation.prompt = std::move(std::get<std::string>(prompt));
  completion_meta meta{make_chat_completion_id(), unix_seconds(), info.served_model_name};
  generation.request_id = meta.id;
  chat_responder_options options{
      {chat.completion.stream, chat.completion.include_usage, keep_alive_, !http10_},
      generation.n,
      {&ctx_->engine.tokenizer(), generation.logprobs}};
  chat_responder_.emplace(std::move(meta), options);
  start_generation(std::move(generation), chat.completion.zero_max_tokens);
}

// Submits `generation` to the engine for the responder just set up, or, when there is nothing to
// generate, answers at once with one empty "length" choice per index.
void session::start_generation(actors::generation_request generation, bool zero_max_tokens) {
  generating_ = true;
  abort_sent_ = false;
  ++serial_;
  if (zero_max_tokens) {
    // Nothing to generate: answer with the prompt's length, without the engine.
    actors::generation_event empty;
    empty.finished = true;
    empty.finish_reason = "length";
    empty.num_prompt_tokens =
        static_cast<int32_t>(generation.prompt_token_ids.empty()
                                 ? ctx_->engine.tokenizer()
                                       .encode(generation.prompt, generation.add_special_tokens)
                                       .size()
                                 : generation.prompt_token_ids.size());
    for (int32_t i = 0; i < std::max(1, generation.n) && generating_; ++i) {
      empty.index = i;
      deliver(empty);
    }
    return;
  }
  detail_ = " " + generation.request_id;
  keep_self_ = shared_from_this();
  auto sink =
      std::make_shared<session_sink>(weak_from_this(), serial_, socket_.get_executor(), ctx_->gate);
  engine_id_ = ctx_->engine.submit(std::move(generation), std::move(sink));
}

void session::handle_tokenize(const http_request& request, bool detokenize) {
  tokenize_context context{ctx_->engine.tokenizer(), ctx_->engine.info(),
                           ctx_->options.chat_template.get()};
  auto body = detokenize ? detokenize_json(request.body(), context)
                         : tokenize_json(request.body(), context);
  if (auto* error = std::get_if<api_error>(&body)) return respond_error(*error);
  respond(200, json_content_type, std::get<std::string>(body));
}

void session::on_generation_event(uint64_t serial, actors::generation_event event) {
  if (closed_ || !generating_ || serial != serial_) return;
  deliver(event);
}

void session::deliver(const actors::generation_event& event) {
  if (chat_responder_) return deliver_to(*chat_responder_, event);
  deliver_to(*responder_, event);
}

template <class Responder>
void session::deliver_to(Responder& responder, const actors::generation_event& event) {
  std::string bytes = responder.on_event(event);
  if (responder.done() && generating_) {
    generating_ = false;
    keep_self_.reset();  // the caller's handler still holds this session
    response_done_ = true;
    close_after_ = !responder.keep_alive();
    status_ = responder.status();
    const completion_usage& usage = responder.usage();
    detail_ = fmt::format(" {} prompt_tokens={} completion_tokens={} finish_reason={}",
                          responder.meta().id, usage.prompt_tokens, usage.completion_tokens,
                          responder.finish_reason());
  }
  if (!bytes.empty()) {
    send(std::move(bytes));
  } else if (response_done_ && !writing_) {
    finish_response();
  }
}

void session::respond(int status, std::string_view content_type, std::string_view body) {
  status_ = status;
  response_done_ = true;
  close_after_ = !keep_alive_;
  send(format_response(status, content_type, body, keep_alive_));
}

void session::respond_error(const api_error& error) {
  respond(error.status, json_content_type, error_json(error));
}

void session::finish_response() {
  log_request();
  busy_ = false;
  response_done_ = false;
  responder_.reset();
  chat_responder_.reset();
  if (close_after_) return linger();
  if (pending_error_) {
    api_error error = std::move(*pending_error_);
    pending_error_.reset();
    busy_ = true;
    started_ = steady::now();
    method_ = target_ = "-";
    keep_alive_ = false;
    return respond_error(error);
  }
  if (pending_) {
    http_request next = std::move(*pending_);
    pending_.reset();
    return begin_request(std::move(next));
  }
  if (reading_) {
    arm_timer(ctx_->options.idle_timeout);
  } else {
    read_request();
  }
}

void session::log_request() {
  if (ctx_->options.disable_log_requests) return;
  double ms = std::chrono::duration<double, std::milli>(steady::now() - started_).count();
  spdlog::info("{} \"{} {}\" {} {:.1f} ms{}", peer_, method_, target_, status_, ms, detail_);
}

// -- writing and lifetime --------------------------------------------------------------------

void session::send(std::string bytes) {
  if (closed_) return;
  write_queue_.push_back(std::move(bytes));
  if (!writing_) write_next();
}

void session::write_next() {
  // Coalesce what queued up during the last write into one.
  while (write_queue_.size() > 1) {
    write_queue_[0] += write_queue_[1];
    write_queue_.erase(write_queue_.begin() + 1);
  }
  writing_ = true;
  net::async_write(socket_, net::buffer(write_queue_.front()),
                   [self = shared_from_this()](error_code ec, std::size_t) { self->on_write(ec); });
}

void session::on_write(error_code ec) {
  writing_ = false;
  write_queue_.pop_front();
  if (ec) return close();  // the peer went away
  if (closed_) return;
  if (!write_queue_.empty()) return write_next();
  if (response_done_) finish_response();
}

void session::arm_timer(steady::duration timeout) {
  timer_.expires_after(timeout);
  timer_.async_wait([self = shared_from_this()](error_code ec) {
    if (!ec) self->on_timer();
  });
}

void session::on_timer() {
  if (closed_ || timer_.expiry() > steady::now()) return;  // re-armed since
  if (lingering_ || !busy_) close();
}

void session::linger() {
  lingering_ = true;
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  arm_timer(linger_timeout);
  if (!reading_) discard_input();
}

void session::close() {
  if (closed_) return;
  closed_ = true;
  if (generating_ && !abort_sent_) {
    abort_sent_ = true;
    ctx_->engine.abort(engine_id_);
  }
  generating_ = false;
  if (busy_ && !lingering_) {
    status_ = 499;  // nginx's "client closed request"
    log_request();
  }
  error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  timer_.cancel();
  keep_self_.reset();
}

// -- shared with the listener ----------------------------------------------------------------

void start_session(tcp::socket socket, const std::shared_ptr<server_context>& ctx) {
  auto s = std::make_shared<session>(std::move(socket), ctx);
  {
    std::lock_guard lock(ctx->sessions_mu);
    if (ctx->stopping) return;
    std::erase_if(ctx->sessions, [](const std::weak_ptr<session>& w) { return w.expired(); });
    ctx->sessions.push_back(s);
  }
  s->start();
}

uint64_t server_context::next_default_seed() {
  if (!options.seed) return make_random_seed();
  // splitmix64 of (seed, request number): distinct, well-mixed seeds from one flag.
  uint64_t z = *options.seed + (num_default_seeds.fetch_add(1) + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void close_all_sessions(server_context& ctx) {
  std::vector<std::shared_ptr<session>> live;
  {
    std::lock_guard lock(ctx.sessions_mu);
    ctx.stopping = true;
    for (const auto& w : ctx.sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
    ctx.sessions.clear();
  }
  for (auto& s : live)
    net::post(s->executor(), [s] { s->close(); });
}

}  // namespace troupe::http
