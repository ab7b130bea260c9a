#include "tools/cli/bench_chat_template.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <memory>

#include "runtime/chat_template/chat_template.hpp"

namespace troupe::cli {
namespace {

std::string one_user_message(const std::string& prompt) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartArray();
  w.StartObject();
  w.Key("role"), w.String("user");
  w.Key("content"), w.String(prompt.c_str(), static_cast<rapidjson::SizeType>(prompt.size()));
  w.EndObject();
  w.EndArray();
  return buffer.GetString();
}

}  // namespace

result<loadgen::prompt_transform> user_prompt_template(const std::string& tokenizer_path) {
  auto config = runtime::load_chat_template_config(tokenizer_path);
  if (!config) return error{"no chat template in " + tokenizer_path + ": " + config.message()};
  auto tpl = runtime::chat_template::parse(config->source);
  if (!tpl) return error{"chat template of " + tokenizer_path + ": " + tpl.message()};
  auto shared = std::make_shared<const runtime::chat_template>(std::move(*tpl));
  auto special_tokens = std::move(config->special_tokens);
  return loadgen::prompt_transform(
      [shared, special_tokens](const std::string& prompt) -> result<std::string> {
        runtime::chat_request request;
        request.messages_json = one_user_message(prompt);
        request.add_generation_prompt = true;
        request.special_tokens = special_tokens;
        return shared->render(request);
      });
}

}  // namespace troupe::cli
