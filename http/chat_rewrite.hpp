#pragma once
// What the responders that rewrite a bare chat answer into another API's (anthropic_responder,
// responses_responder) share: reading the chat JSON back, splitting a bare chat stream into its
// "data: " payloads, and putting the rewritten stream on the wire. Internal to http/: it exposes
// rapidjson.
#include <functional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace troupe::http {

// `object`'s member `key` when `object` is an object and the member is there and not null.
const rapidjson::Value* field(const rapidjson::Value& object, const char* key);
// A string value's text; "" for anything else (or none).
std::string_view text_of(const rapidjson::Value* v);

// `convert` of each "data: <payload>" event in `bytes` (a bare chat stream's), joined.
std::string each_sse_payload(std::string_view bytes,
                             const std::function<std::string(std::string_view)>& convert);

// A rewritten event stream on the wire: the response head before the first bytes, chunked
// framing (or none for an HTTP/1.0 client), the last chunk after the end.
class rewritten_stream {
 public:
  rewritten_stream(bool chunked, std::string request_id)
      : chunked_(chunked), request_id_(std::move(request_id)) {}

  // `events` (possibly empty) ready to send; `done` ends the stream.
  std::string send(std::string_view events, bool done, bool keep_alive);
  bool started() const { return head_sent_; }

 private:
  bool chunked_;
  std::string request_id_;
  bool head_sent_ = false;
};

}  // namespace troupe::http
