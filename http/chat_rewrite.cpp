#include "http/chat_rewrite.hpp"

#include <optional>

#include "http/wire.hpp"

namespace troupe::http {

const rapidjson::Value* field(const rapidjson::Value& object, const char* key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(key);
  return it == object.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

std::string_view text_of(const rapidjson::Value* v) {
  return v != nullptr && v->IsString() ? std::string_view(v->GetString(), v->GetStringLength())
                                       : std::string_view();
}

std::string each_sse_payload(std::string_view bytes,
                             const std::function<std::string(std::string_view)>& convert) {
  std::string out;
  for (size_t start = 0; start < bytes.size();) {
    size_t end = bytes.find("\n\n", start);
    if (end == std::string_view::npos) end = bytes.size();
    const std::string_view event = bytes.substr(start, end - start);
    if (event.starts_with("data: ")) out += convert(event.substr(6));
    start = end + 2;
  }
  return out;
}

std::string rewritten_stream::send(std::string_view events, bool done, bool keep_alive) {
  std::string out;
  if (!head_sent_) {
    head_sent_ = true;
    out = format_head(
        response_head{200, sse_content_type, std::nullopt, chunked_, keep_alive, request_id_});
  }
  if (!events.empty()) out += chunked_ ? format_chunk(events) : std::string(events);
  if (done && chunked_) out += last_chunk;
  return out;
}

}  // namespace troupe::http
