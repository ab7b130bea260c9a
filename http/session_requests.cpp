#include <algorithm>
#include <chrono>
#include <string>
#include <type_traits>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>

#include "http/anthropic_request.hpp"
#include "http/api_keys.hpp"
#include "http/chat_messages.hpp"
#include "http/chat_output_setup.hpp"
#include "http/chat_prompt.hpp"
#include "http/chat_request.hpp"
#include "http/completion_request.hpp"
#include "http/dashboard_page.hpp"
#include "http/openai_json.hpp"
#include "http/request_fields.hpp"
#include "http/sampling_fields.hpp"
#include "http/session_impl.hpp"
#include "http/telemetry_api.hpp"
#include "http/tokenize_api.hpp"
#include "http/wire.hpp"

namespace troupe::http {
namespace {

std::optional<int64_t> int_header(const http_request& request, std::string_view name) {
  if (request.find(name) == request.end()) return std::nullopt;
  return parse_int_header(header_value(request, name));
}

// vLLM's routing headers: X-Vllm-Priority wins over the body's priority; X-data-parallel-rank
// picks the data-parallel engine, refused outside [0, data_parallel_size) as vLLM refuses it.
std::optional<api_error> apply_routing_headers(const http_request& request,
                                               int32_t data_parallel_size,
                                               actors::generation_request& generation) {
  if (auto priority = int_header(request, priority_header)) generation.priority = *priority;
  const auto rank = int_header(request, data_parallel_rank_header);
  if (!rank) return std::nullopt;
  if (*rank < 0 || *rank >= data_parallel_size) {
    return bad_request(actors::data_parallel_rank_message(*rank, data_parallel_size));
  }
  generation.data_parallel_rank = static_cast<int32_t>(*rank);
  return std::nullopt;
}

int64_t unix_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

// Posts work from engine threads to a session's strand; never blocks for long. The work is
// dropped once the server has closed the gate (its io_context may be gone), and when it runs only
// if the session still exists.
class session_poster {
 public:
  session_poster(std::weak_ptr<session> target, net::any_io_executor executor,
                 std::shared_ptr<event_gate> gate)
      : target_(std::move(target)), executor_(std::move(executor)), gate_(std::move(gate)) {}

  // Fn: void(session&), called on the strand.
  template <class Fn>
  void post(Fn fn) const {
    std::lock_guard lock(gate_->mu);
    if (!gate_->open) return;
    net::post(executor_, [target = target_, fn = std::move(fn)]() mutable {
      if (auto live = target.lock()) fn(*live);
    });
  }

 private:
  std::weak_ptr<session> target_;
  net::any_io_executor executor_;
  std::shared_ptr<event_gate> gate_;
};

// Delivers a generation's events to the session that submitted it.
class session_sink final : public actors::generation_sink {
 public:
  // `first_index`: a batched request's prompt numbers its choices from there.
  session_sink(session_poster poster, uint64_t serial, int32_t first_index)
      : poster_(std::move(poster)), serial_(serial), first_index_(first_index) {}

  void on_event(actors::generation_event event) override {
    event.index += first_index_;
    poster_.post([serial = serial_, event = std::move(event)](session& s) mutable {
      s.on_generation_event(serial, std::move(event));
    });
  }

 private:
  session_poster poster_;
  uint64_t serial_;
  int32_t first_index_;
};

}  // namespace

// -- one request -----------------------------------------------------------------------------

void session::begin_request(http_request request) {
  busy_ = true;
  client_request_id_.reset();
  if (auto header = request.find("X-Request-Id"); header != request.end())
    client_request_id_ = std::string(header->value());
  request_id_header_.clear();
  if (ctx_->options.enable_request_id_headers)
    request_id_header_ = client_request_id_.value_or(make_completion_id().substr(5));
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
  std::string_view path = route_path(target_path(request.target()), ctx_->options.root_path);
  // vLLM's layers, outermost first: the API key check, then CORS, then the routes.
  auto optional_header = [&](std::string_view name) -> std::optional<std::string_view> {
    if (request.find(name) == request.end()) return std::nullopt;
    return header_value(request, name);
  };
  const cors_request cors{method_, optional_header("Origin"),
                          optional_header("Access-Control-Request-Method"),
                          optional_header("Access-Control-Request-Headers"),
                          optional_header("Access-Control-Request-Private-Network")};
  if (auto preflight = cors_preflight_answer(ctx_->options.cors, cors)) {
    head_headers_ = std::move(preflight->headers);
    return respond(preflight->status, "text/plain; charset=utf-8", preflight->body);
  }
  if (!ctx_->options.api_keys.empty() && api_key_guarded(method_, path) &&
      !api_key_accepted(ctx_->options.api_keys, header_value(request, "Authorization"))) {
    return respond(401, json_content_type, R"({"error":"Unauthorized"})");
  }
  head_headers_ = cors_response_headers(ctx_->options.cors, cors);
  const route* r = find_route(path);
  if (r == nullptr) return respond_error(api_error{404, fmt::format("Not Found: {}", path), {}});
  if (!allows(*r, method_)) {
    return respond_error(
        api_error{405, fmt::format("Method {} not allowed for {}", method_, path), {}});
  }
  handle(r->handler, request);
}

void session::handle(endpoint handler, const http_request& request) {
  switch (handler) {
    case endpoint::completions:
      return handle_completion(request);
    case endpoint::chat_completions:
      return handle_chat(request, request.body(), chat_front::openai);
    case endpoint::messages:
      return handle_messages(request);
    case endpoint::count_tokens:
      return handle_count_tokens(request);
    case endpoint::responses:
      return handle_responses(request);
    case endpoint::response_by_id:
      return handle_response_by_id(request);
    case endpoint::tokenize:
      return handle_tokenize(request, /*detokenize=*/false);
    case endpoint::detokenize:
      return handle_tokenize(request, /*detokenize=*/true);
    case endpoint::models:
      return respond(200, json_content_type, models_json(ctx_->engine.info()));
    case endpoint::health:
      return respond(200, json_content_type, "");
    case endpoint::version:
      return respond(200, json_content_type, version_json(ctx_->options.version));
    case endpoint::load:
      return respond(200, json_content_type,
                     fmt::format(R"({{"server_load":{}}})", ctx_->server_load.load()));
    case endpoint::reset_prefix_cache:
      return handle_reset_prefix_cache();
    case endpoint::metrics:
      return respond(200, prometheus_content_type, metrics_text(ctx_->engine));
    case endpoint::telemetry:
      return respond(200, json_content_type, telemetry_json(ctx_->engine, unix_time_now()));
    case endpoint::dashboard:
      return respond(200, dashboard_content_type, dashboard_html());
  }
}

// What a completion or chat request is checked against: the model, its tokenizer and length, and
// the server's flags.
completion_limits session::request_limits() const {
  const actors::model_info& info = ctx_->engine.info();
  completion_limits limits{info.served_model_name, ctx_->engine.tokenizer().vocab_size(),
                           ctx_->options.sampling_defaults};
  limits.structured_outputs = ctx_->options.structured_outputs;
  limits.max_model_len = info.max_model_len;
  limits.max_logprobs = ctx_->options.max_logprobs < 0 ? ctx_->engine.tokenizer().vocab_size()
                                                       : ctx_->options.max_logprobs;
  limits.tool_parser = ctx_->options.chat_output.tool_parser;
  limits.strict_tools = ctx_->options.chat_output.strict_tools;
  limits.reasoning_parser = ctx_->options.chat_output.reasoning_parser.has_value();
  limits.response_role = ctx_->options.response_role;
  limits.exclude_tools_when_tool_choice_none = ctx_->options.exclude_tools_when_tool_choice_none;
  return limits;
}

// The request's bad_words as the token sequences sampling masks.
std::optional<api_error> session::take_bad_words(completion_request& request) const {
  if (request.bad_words.empty()) return std::nullopt;
  auto ids = tokenize_bad_words(request.bad_words, ctx_->engine.tokenizer());
  if (auto* error = std::get_if<api_error>(&ids)) return *error;
  request.generation.sampling.bad_words_token_ids =
      std::move(std::get<std::vector<std::vector<int32_t>>>(ids));
  return std::nullopt;
}

void session::handle_completion(const http_request& request) {
  const actors::model_info& info = ctx_->engine.info();
  const completion_limits limits = request_limits();
  auto parsed = parse_completion_request(request.body(), limits, ctx_->next_default_seed());
  if (auto* error = std::get_if<api_error>(&parsed)) return respond_error(*error);
  completion_request& completion = std::get<completion_request>(parsed);
  if (auto error = take_bad_words(completion)) return respond_error(*error);
  if (auto error = apply_routing_headers(request, info.data_parallel_size, completion.generation))
    return respond_error(*error);

  completion_meta meta{"cmpl-" + response_id(completion.request_id), unix_seconds(),
                       info.served_model_name, ctx_->options.system_fingerprint};
  completion.generation.request_id = meta.id;
  responder_options options{completion.stream, completion.include_usage, keep_alive_, !http10_};
  options.request_id = request_id_header_;
  options.n = completion.generation.n;
  options.prompt_tokens_details = ctx_->options.enable_prompt_tokens_details;
  options.request_metrics = ctx_->options.enable_per_request_metrics;
  options.continuous_usage = completion.continuous_usage;
  if (ctx_->options.enable_force_include_usage)
    options.include_usage = options.continuous_usage = true;
  options.logprobs = completion.generation.logprobs;
  options.tokenizer = &ctx_->engine.tokenizer();
  options.echo = completion.echo;
  options.tokens_as_ids =
      completion.return_tokens_as_token_ids.value_or(ctx_->options.return_tokens_as_token_ids);
  options.echo_only = completion.echo_only;
  options.prompt_logprobs = completion.generation.sampling.num_prompt_logprobs >= 0;
  options.return_token_ids = completion.return_token_ids;
  // vLLM's streamed echo sends the prompt's ids with it.
  if (completion.echo && completion.stream) completion.generation.return_prompt_token_ids = true;
  // A batch: one generation per prompt, each `generation` with its prompt (vLLM's request ids
  // "<id>-<prompt>").
  std::vector<actors::generation_request> generations = {std::move(completion.generation)};
  for (auto& prompt : completion.more_prompts) {
    actors::generation_request& g = generations.emplace_back(generations.front());
    g.prompt = std::move(prompt.text);
    g.prompt_token_ids = std::move(prompt.token_ids);
  }
  options.num_prompts = static_cast<int32_t>(generations.size());
  for (size_t p = 0; p < generations.size() && generations.size() > 1; ++p)
    generations[p].request_id = fmt::format("{}-{}", meta.id, p);
  // vLLM echoes a text prompt as given and a token prompt decoded, special tokens kept; with
  // return_token_ids it echoes the prompt's ids and logprobs but not its text.
  if (completion.echo && !completion.return_token_ids) {
    for (const auto& g : generations) {
      options.echo_texts.push_back(
          g.prompt_token_ids.empty() ? g.prompt
                                     : ctx_->engine.tokenizer().decode(g.prompt_token_ids, false));
    }
  }
  responder_.emplace(std::move(meta), std::move(options));
  start_generations(std::move(generations), completion.beam_search);
}

std::variant<session::prepared_chat, api_error> session::prepare_chat(const http_request& request,
                                                                      std::string_view body) {
  const actors::model_info& info = ctx_->engine.info();
  const completion_limits limits = request_limits();
  auto parsed = parse_chat_completion_request(body, limits, ctx_->next_default_seed());
  if (auto* error = std::get_if<api_error>(&parsed)) return std::move(*error);
  chat_completion_request& chat = std::get<chat_completion_request>(parsed);
  if (auto error = take_bad_words(chat.completion)) return std::move(*error);
  if (auto error =
          apply_routing_headers(request, info.data_parallel_size, chat.completion.generation))
    return std::move(*error);
  auto prompt = render_chat_prompt(ctx_->options.chat_template.get(), std::move(chat.chat),
                                   chat.continue_final_message, chat.chat_template);
  if (auto* error = std::get_if<api_error>(&prompt)) return std::move(*error);

  prepared_chat out;
  actors::generation_request& generation = out.generation;
  generation = std::move(chat.completion.generation);
  generation.prompt = std::move(std::get<std::string>(prompt));
  out.meta = completion_meta{"chatcmpl-" + response_id(chat.completion.request_id), unix_seconds(),
                             info.served_model_name, ctx_->options.system_fingerprint};
  generation.request_id = out.meta.id;
  chat_responder_options& options = out.options;
  options.response.stream = chat.completion.stream;
  options.response.include_usage = chat.completion.include_usage;
  options.response.continuous_usage = chat.completion.continuous_usage;
  if (ctx_->options.enable_force_include_usage)
    options.response.include_usage = options.response.continuous_usage = true;
  options.response.keep_alive = keep_alive_;
  options.response.chunked = !http10_;
  options.response.request_id = request_id_header_;
  options.num_choices = generation.n;
  options.logprobs = {&ctx_->engine.tokenizer(), generation.logprobs,
                      chat.completion.return_tokens_as_token_ids.value_or(
                          ctx_->options.return_tokens_as_token_ids)};
  options.echo_text = std::move(chat.echo_text);
  options.role = std::move(chat.role);
  options.response.prompt_tokens_details = ctx_->options.enable_prompt_tokens_details;
  options.response.request_metrics = ctx_->options.enable_per_request_metrics;
  options.return_token_ids = chat.completion.return_token_ids;
  options.prompt_logprobs = generation.sampling.num_prompt_logprobs >= 0;
  if (chat.return_prompt_text) options.prompt_text = generation.prompt;
  apply_chat_output_setup(ctx_->options.chat_output, ctx_->engine.tokenizer(), chat, generation,
                          options);
  options.tool_choice = std::move(chat.tool_choice);
  out.beam = std::move(chat.completion.beam_search);
  return out;
}

void session::handle_chat(const http_request& request, std::string_view body, chat_front front) {
  auto prepared = prepare_chat(request, body);
  if (auto* error = std::get_if<api_error>(&prepared)) {
    return front == chat_front::anthropic ? respond_anthropic_error(*error) : respond_error(*error);
  }
  auto& [generation, options, meta, beam] = std::get<prepared_chat>(prepared);
  if (front == chat_front::anthropic) {
    anthropic_responder_.emplace(std::move(meta), std::move(options));
  } else if (front == chat_front::responses) {
    // Responses report the cached prompt tokens whatever --enable-prompt-tokens-details says.
    options.response.prompt_tokens_details = true;
    responses_setup_->created_at = meta.created;
    meta.id = responses_setup_->echo.id;
    responses_responder_.emplace(std::move(meta), std::move(options), std::move(*responses_setup_));
    responses_setup_.reset();
  } else {
    chat_responder_.emplace(std::move(meta), std::move(options));
  }
  std::vector<actors::generation_request> generations;
  generations.push_back(std::move(generation));
  start_generations(std::move(generations), beam);
}

std::optional<std::string> session::translate_anthropic(const http_request& request,
                                                        anthropic_endpoint endpoint) {
  auto translated = translate_anthropic_request(
      request.body(), header_value(request, "Content-Type"), endpoint, ctx_->anthropic);
  if (auto* error = std::get_if<pydantic_error>(&translated)) {
    respond(400, json_content_type, pydantic_error_json(*error));
    return std::nullopt;
  }
  auto& chat = std::get<anthropic_chat_request>(translated);
  if (chat.refusal) {
    respond_anthropic_error(*chat.refusal);
    return std::nullopt;
  }
  return std::move(chat.chat_body);
}

// vLLM's Anthropic Messages API: the body becomes a chat completion request
// (http/anthropic_request.hpp) served as one, its answer rewritten (http/anthropic_responder.hpp).
void session::handle_messages(const http_request& request) {
  if (auto chat_body = translate_anthropic(request, anthropic_endpoint::messages))
    handle_chat(request, *chat_body, chat_front::anthropic);
}

// The prompt's length as the chat template renders the request (vLLM's count_tokens).
void session::handle_count_tokens(const http_request& request) {
  auto chat_body = translate_anthropic(request, anthropic_endpoint::count_tokens);
  if (!chat_body) return;
  auto parsed = parse_chat_completion_request(*chat_body, request_limits(), 0);
  if (auto* error = std::get_if<api_error>(&parsed)) return respond_anthropic_error(*error);
  chat_completion_request& chat = std::get<chat_completion_request>(parsed);
  auto prompt = render_chat_prompt(ctx_->options.chat_template.get(), std::move(chat.chat),
                                   chat.continue_final_message, chat.chat_template);
  if (auto* error = std::get_if<api_error>(&prompt)) return respond_anthropic_error(*error);
  const size_t tokens =
      ctx_->engine.tokenizer().encode(std::get<std::string>(prompt), false).size();
  respond(
      200, json_content_type,
      fmt::format(R"({{"input_tokens":{0},"context_management":{{"original_input_tokens":{0}}}}})",
                  tokens));
}

// Submits the generations (a batch's prompts, else one) to the engine for the responder just set
// up, prompt p's choices numbered from p * n.
// vLLM's base request id: the X-Request-Id header, else the body's request_id, else random.
std::string session::response_id(const std::string& body_request_id) const {
  if (client_request_id_) return *client_request_id_;
  if (!body_request_id.empty()) return body_request_id;
  return make_completion_id().substr(5);  // 32 random hex digits
}

void session::start_generations(std::vector<actors::generation_request> generations,
                                const std::optional<actors::beam_search_params>& beam) {
  generating_ = true;
  if (ctx_->options.enable_server_load_tracking) ++ctx_->server_load;
  abort_sent_ = false;
  ++serial_;
  engine_ids_.clear();
  beam_searches_.clear();
  const int32_t n = std::max(1, generations.front().n);
  detail_ = " " + generations.front().request_id;
  keep_self_ = shared_from_this();
  for (size_t p = 0; p < generations.size(); ++p) {
    auto sink = std::make_shared<session_sink>(
        session_poster(weak_from_this(), socket_.get_executor(), ctx_->gate), serial_,
        static_cast<int32_t>(p) * n);
    if (beam) {
      beam_searches_.push_back(
          actors::beam_search::start(ctx_->engine, std::move(generations[p]), *beam, sink));
    } else {
      engine_ids_.push_back(ctx_->engine.submit(std::move(generations[p]), std::move(sink)));
    }
  }
}

void session::handle_tokenize(const http_request& request, bool detokenize) {
  tokenize_context context{ctx_->engine.tokenizer(), ctx_->engine.info(),
                           ctx_->options.chat_template.get()};
  auto body = detokenize ? detokenize_json(request.body(), context)
                         : tokenize_json(request.body(), context);
  if (auto* error = std::get_if<api_error>(&body)) return respond_error(*error);
  respond(200, json_content_type, std::get<std::string>(body));
}

// The engine answers on one of its threads; the answer comes back to this strand like generation
// events do, and the session stays alive (keep_self_) until it has or the connection closes.
void session::handle_reset_prefix_cache() {
  awaiting_reset_ = true;
  ++serial_;
  keep_self_ = shared_from_this();
  session_poster poster(weak_from_this(), socket_.get_executor(), ctx_->gate);
  reset_prefix_cache(ctx_->engine, [poster, serial = serial_](reset_reply reply) {
    poster.post([serial, reply = std::move(reply)](session& s) mutable {
      s.on_reset_reply(serial, std::move(reply));
    });
  });
}

void session::on_reset_reply(uint64_t serial, reset_reply reply) {
  if (closed_ || !awaiting_reset_ || serial != serial_) return;
  awaiting_reset_ = false;
  keep_self_.reset();  // the caller's handler still holds this session
  if (reply) {
    spdlog::info("prefix cache not reset: {}", reply->message);
    return respond_error(*reply);
  }
  spdlog::info("prefix cache reset");
  respond(200, json_content_type, "");
}

void session::on_generation_event(uint64_t serial, actors::generation_event event) {
  if (closed_ || !generating_ || serial != serial_) return;
  deliver(event);
}

void session::deliver(const actors::generation_event& event) {
  if (chat_responder_) return deliver_to(*chat_responder_, event);
  if (anthropic_responder_) return deliver_to(*anthropic_responder_, event);
  if (responses_responder_) return deliver_to(*responses_responder_, event);
  deliver_to(*responder_, event);
}

template <class Responder>
void session::deliver_to(Responder& responder, const actors::generation_event& event) {
  std::string bytes = responder.on_event(event);
  if constexpr (std::is_same_v<Responder, responses_responder>) {
    if (responder.done() && generating_) store_response(responder);
  }
  if (responder.done() && generating_) {
    end_generation();
    // A batch that failed on one prompt: the others' generations are of no use any more.
    if (engine_ids_.size() > 1 || beam_searches_.size() > 1) abort_generations();
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
  send(format_response(status, content_type, body, keep_alive_, request_id_header_));
}

void session::respond_error(const api_error& error) {
  respond(error.status, json_content_type, error_json(error));
}

void session::respond_anthropic_error(const api_error& error) {
  respond(error.status, json_content_type, anthropic_error_json(error));
}

void session::finish_response() {
  log_request();
  busy_ = false;
  response_done_ = false;
  responder_.reset();
  chat_responder_.reset();
  anthropic_responder_.reset();
  responses_responder_.reset();
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
  const server_options& options = ctx_->options;
  if (options.disable_log_requests || options.disable_access_log) return;
  if (std::ranges::find(options.access_log_excluded_paths, target_path(target_)) !=
      options.access_log_excluded_paths.end())
    return;
  double ms = std::chrono::duration<double, std::milli>(steady::now() - started_).count();
  spdlog::info("{} \"{} {}\" {} {:.1f} ms{}", peer_, method_, target_, status_, ms, detail_);
}

}  // namespace troupe::http
