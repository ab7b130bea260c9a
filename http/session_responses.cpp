// The session's /v1/responses handlers (OpenAI's Responses API as vLLM 0.32 serves it): the
// request checked and translated (http/responses_request.hpp), served as a chat completion,
// answered through http/responses_responder.hpp; stored responses (http/response_store.hpp).
#include <fmt/format.h>

#include "http/openai_json.hpp"
#include "http/responses_request.hpp"
#include "http/session_impl.hpp"
#include "http/wire.hpp"

namespace troupe::http {
namespace {

std::string_view header_of(const http_request& request, std::string_view name) {
  auto header = request.find(name);
  if (header == request.end()) return {};
  return std::string_view(header->value().data(), header->value().size());
}

// vLLM's answer for an id the store does not hold.
std::string not_found_json(std::string_view id) {
  return error_json(fmt::format("Response with id '{}' not found.", id), "invalid_request_error",
                    std::string("response_id"), 404);
}

}  // namespace

void session::handle_responses(const http_request& request) {
  auto checked = check_responses_request(request.body(), header_of(request, "Content-Type"));
  if (auto* error = std::get_if<pydantic_error>(&checked))
    return respond(400, json_content_type, pydantic_error_json(*error));
  if (auto* error = std::get_if<api_error>(&checked)) return respond_error(*error);
  const responses_lookup& lookup = std::get<responses_lookup>(checked);
  const bool store_on = ctx_->responses.enabled();
  if (lookup.background && store_on) {
    return respond_error(validation_error(
        "`background` is not supported by troupe yet: create the response without it.",
        "background"));
  }
  if (lookup.background) {
    return respond(
        400, json_content_type,
        error_json("This vLLM engine does not support `store=True` and therefore does not "
                   "support the background mode. To enable these features, set the environment "
                   "variable `VLLM_ENABLE_RESPONSES_API_STORE=1` when launching the vLLM server.",
                   "invalid_request_error", std::string("background"), 400));
  }
  std::optional<response_store::entry> previous;
  if (lookup.previous_response_id) {
    previous = ctx_->responses.get(*lookup.previous_response_id);
    if (!previous)
      return respond(404, json_content_type, not_found_json(*lookup.previous_response_id));
  }
  const actors::model_info& info = ctx_->engine.info();
  responses_context context;
  context.max_model_len = info.max_model_len;
  context.max_logprobs = ctx_->options.max_logprobs < 0 ? ctx_->engine.tokenizer().vocab_size()
                                                        : ctx_->options.max_logprobs;
  context.defaults = ctx_->options.sampling_defaults;
  context.auto_tools = ctx_->options.chat_output.tool_parser.has_value();
  if (previous) {
    context.previous_messages = &previous->messages_json;
    context.previous_output = &previous->output_json;
  }
  auto translated = translate_responses_request(request.body(), context);
  if (auto* error = std::get_if<api_error>(&translated)) return respond_error(*error);
  responses_request& responses = std::get<responses_request>(translated);
  store_response_ = store_on && responses.store;
  response_messages_ = std::move(responses.messages_json);
  responses_setup_.emplace();
  responses_setup_->echo = std::move(responses.echo);
  responses_setup_->max_model_len = info.max_model_len;
  responses_setup_->answer_parser = ctx_->options.chat_output.tool_parser.has_value() ||
                                    ctx_->options.chat_output.reasoning_parser.has_value();
  handle_chat(request, responses.chat_body, chat_front::responses);
  responses_setup_.reset();  // refused before the responder was made
}

void session::store_response(const responses_responder& responder) {
  if (!store_response_ || responder.status() != 200 || responder.response_json().empty()) return;
  store_response_ = false;
  ctx_->responses.put(responder.meta().id,
                      response_store::entry{responder.response_json(), responder.output_json(),
                                            std::move(response_messages_)});
}

// GET /v1/responses/{id}: the stored response as it was answered; POST
// /v1/responses/{id}/cancel: vLLM cancels background responses only, and troupe runs none, so a
// stored response is vLLM's "Cannot cancel a synchronous response.".
void session::handle_response_by_id(const http_request& request) {
  std::string_view rest =
      target_path(request.target()).substr(std::string_view("/v1/responses/").size());
  const bool cancel = rest.ends_with("/cancel");
  if (cancel) rest.remove_suffix(std::string_view("/cancel").size());
  if (rest.empty() || rest.find('/') != std::string_view::npos)
    return respond_error(
        api_error{404, fmt::format("Not Found: {}", target_path(request.target())), {}});
  if (cancel != (method_ == "POST")) {
    return respond_error(api_error{
        405,
        fmt::format("Method {} not allowed for {}", method_, target_path(request.target())),
        {}});
  }
  const std::string id(rest);
  std::optional<response_store::entry> stored = ctx_->responses.get(id);
  if (!stored) return respond(404, json_content_type, not_found_json(id));
  if (cancel) {
    return respond(400, json_content_type,
                   error_json("Cannot cancel a synchronous response.", "invalid_request_error",
                              std::string("response_id"), 400));
  }
  respond(200, json_content_type, stored->response_json);
}

}  // namespace troupe::http
