#include "http/completion_responder.hpp"

#include "http/wire.hpp"

namespace troupe::http {

completion_responder::completion_responder(completion_meta meta, responder_options options)
    : meta_(std::move(meta)), options_(options) {}

bool completion_responder::keep_alive() const {
  // An unframed stream can only end by closing the connection.
  bool framed = !options_.stream || options_.chunked || status_ != 200;
  return options_.keep_alive && framed;
}

std::string completion_responder::on_event(const actors::generation_event& event) {
  if (done_) return {};
  usage_.prompt_tokens = event.num_prompt_tokens;
  usage_.completion_tokens = event.num_output_tokens;
  if (options_.stream) return on_stream_event(event);
  return on_complete_event(event);
}

std::string completion_responder::error_response(const actors::generation_event& event) {
  done_ = true;
  status_ = event.error_status >= 400 ? event.error_status : 500;
  finish_reason_ = "error";
  return format_response(status_, json_content_type,
                         error_json(api_error{status_, *event.error, {}}), keep_alive());
}

std::string completion_responder::on_complete_event(const actors::generation_event& event) {
  if (event.error) return error_response(event);
  text_ += event.text;
  if (!event.finished) return {};
  done_ = true;
  status_ = 200;
  finish_reason_ = event.finish_reason;
  return format_response(200, json_content_type,
                         completion_json(meta_, text_, finish_reason_, usage_), keep_alive());
}

std::string completion_responder::on_stream_event(const actors::generation_event& event) {
  if (event.error && status_ == 0) return error_response(event);
  std::string out = status_ == 0 ? stream_head() : std::string();
  if (event.error) {
    api_error error{event.error_status >= 400 ? event.error_status : 500, *event.error, {}};
    out += frame(sse_event(error_json(error)));
    finish_reason_ = "error";
    return out + stream_end();
  }
  if (!event.text.empty() || event.finished) {
    std::string_view reason = event.finished ? std::string_view(event.finish_reason) : "";
    out += frame(sse_event(stream_chunk_json(meta_, event.text, reason, options_.include_usage)));
  }
  if (!event.finished) return out;
  finish_reason_ = event.finish_reason;
  if (options_.include_usage) out += frame(sse_event(usage_chunk_json(meta_, usage_)));
  return out + stream_end();
}

std::string completion_responder::stream_head() {
  status_ = 200;
  return format_head(
      response_head{200, sse_content_type, std::nullopt, options_.chunked, keep_alive()});
}

std::string completion_responder::stream_end() {
  done_ = true;
  std::string out = frame(sse_done);
  if (options_.chunked) out += last_chunk;
  return out;
}

std::string completion_responder::frame(std::string_view bytes) const {
  return options_.chunked ? format_chunk(bytes) : std::string(bytes);
}

}  // namespace troupe::http
