#include "http/tokenize_api.hpp"

#include <limits>
#include <vector>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/chat_messages.hpp"
#include "http/request_fields.hpp"

namespace troupe::http {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

std::variant<rapidjson::Document, api_error> parse_body(std::string_view body,
                                                        const actors::model_info& info) {
  rapidjson::Document doc;
  if (auto e = parse_json_object(body, doc)) return std::move(*e);
  if (const Value* model = member(doc, "model")) {
    if (!model->IsString()) return type_error("model", "a string");
    if (model->GetString() != info.served_model_name) {
      return api_error{404,
                       fmt::format("The model `{}` does not exist. Valid aliases: {}.",
                                   model->GetString(), info.served_model_name),
                       "model"};
    }
  }
  return doc;
}

// The text to tokenize and whether to add special tokens: the prompt, or the rendered chat.
parse_error read_tokenize_input(const Value& body, const tokenize_context& context,
                                std::string& text, bool& add_special) {
  if (const Value* strs = member(body, "return_token_strs");
      strs != nullptr && strs->IsBool() && strs->GetBool()) {
    return bad_request("`return_token_strs` is not supported by troupe yet.", "return_token_strs");
  }
  if (member(body, "messages") == nullptr) {
    const Value* prompt = member(body, "prompt");
    if (prompt == nullptr) return bad_request("`prompt` or `messages` is required.", "prompt");
    if (!prompt->IsString()) return type_error("prompt", "a string");
    text.assign(prompt->GetString(), prompt->GetStringLength());
    add_special = true;
    return read_bool(body, "add_special_tokens", add_special);
  }
  chat_inputs inputs;
  if (auto e = read_chat_inputs(body, inputs)) return e;
  auto rendered = render_chat_prompt(context.chat, std::move(inputs.chat),
                                     inputs.continue_final_message, inputs.chat_template);
  if (auto* e = std::get_if<api_error>(&rendered)) return std::move(*e);
  text = std::move(std::get<std::string>(rendered));
  add_special = false;
  return read_bool(body, "add_special_tokens", add_special);
}

parse_error read_token_ids(const Value& body, int32_t vocab_size, std::vector<int32_t>& out) {
  const Value* tokens = member(body, "tokens");
  if (tokens == nullptr) return bad_request("`tokens` is required.", "tokens");
  if (!tokens->IsArray()) return type_error("tokens", "a list of token ids (integers)");
  for (const Value& v : tokens->GetArray()) {
    std::optional<int64_t> id = as_integer(v);
    if (!id) return type_error("tokens", "a list of token ids (integers)");
    if (*id < 0 || *id >= vocab_size) {
      return bad_request(fmt::format("Token id {} is out of vocabulary.", *id), "tokens");
    }
    out.push_back(static_cast<int32_t>(*id));
  }
  return std::nullopt;
}

}  // namespace

std::variant<std::string, api_error> tokenize_json(std::string_view body,
                                                   const tokenize_context& context) {
  auto doc = parse_body(body, context.info);
  if (auto* e = std::get_if<api_error>(&doc)) return std::move(*e);
  std::string text;
  bool add_special = true;
  if (auto e =
          read_tokenize_input(std::get<rapidjson::Document>(doc), context, text, add_special)) {
    return std::move(*e);
  }
  std::vector<int32_t> ids = context.tokenizer.encode(text, add_special);
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  w.Key("count");
  w.Int(static_cast<int>(ids.size()));
  w.Key("max_model_len");
  w.Int(context.info.max_model_len);
  w.Key("tokens");
  w.StartArray();
  for (int32_t id : ids)
    w.Int(id);
  w.EndArray();
  w.Key("token_strs");
  w.Null();
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

std::variant<std::string, api_error> detokenize_json(std::string_view body,
                                                     const tokenize_context& context) {
  auto doc = parse_body(body, context.info);
  if (auto* e = std::get_if<api_error>(&doc)) return std::move(*e);
  std::vector<int32_t> ids;
  if (auto e =
          read_token_ids(std::get<rapidjson::Document>(doc), context.tokenizer.vocab_size(), ids)) {
    return std::move(*e);
  }
  std::string text = context.tokenizer.decode(ids, /*skip_special=*/false);
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  w.Key("prompt");
  w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  w.EndObject();
  return std::string(out.GetString(), out.GetSize());
}

}  // namespace troupe::http
