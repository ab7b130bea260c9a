#include "http/responses_request.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/json_write.hpp"
#include "http/openai_json.hpp"

namespace troupe::http {
namespace {

using rapidjson::Document;
using allocator = Document::AllocatorType;

bool is_status_open(const Value& item) {
  const Value* status = member(item, "status");
  return status != nullptr && status->IsString() &&
         (view(*status) == "in_progress" || view(*status) == "incomplete");
}

// -- the conversation (vLLM's construct_input_messages) ------------------------------------

class conversation {
 public:
  explicit conversation(allocator& a) : a_(a), messages_(rapidjson::kArrayType) {}

  void add_system(std::string_view text) { add_text("system", text); }
  void add_text(std::string_view role, std::string_view text) {
    Value message(rapidjson::kObjectType);
    message.AddMember("role", string_value(role, a_), a_);
    message.AddMember("content", string_value(text, a_), a_);
    messages_.PushBack(message, a_);
  }
  void add_message(const Value& message) { messages_.PushBack(Value(message, a_), a_); }
  parse_error add_item(const Value& item);
  Value& messages() { return messages_; }

 private:
  // The last message when it is the assistant's, whose free slot an item may take.
  Value* open_assistant() {
    if (messages_.Empty()) return nullptr;
    Value& last = messages_[messages_.Size() - 1];
    const Value* role = member(last, "role");
    return role != nullptr && role->IsString() && view(*role) == "assistant" ? &last : nullptr;
  }
  // Puts `key`: `value` into the open assistant message when it has no `key` yet, else a new
  // assistant message.
  void add_assistant(const char* key, Value value) {
    if (Value* open = open_assistant(); open != nullptr && !open->HasMember(key)) {
      open->AddMember(rapidjson::StringRef(key), value, a_);
      return;
    }
    Value message(rapidjson::kObjectType);
    message.AddMember("role", "assistant", a_);
    message.AddMember(rapidjson::StringRef(key), value, a_);
    messages_.PushBack(message, a_);
  }

  allocator& a_;
  Value messages_;
};

parse_error conversation::add_item(const Value& item) {
  const Value* type = member(item, "type");
  const std::string_view kind = type != nullptr ? view(*type) : "";
  if (kind == "function_call") {
    Value function(rapidjson::kObjectType);
    function.AddMember("name", Value(*member(item, "name"), a_), a_);
    function.AddMember("arguments", Value(*member(item, "arguments"), a_), a_);
    Value call(rapidjson::kObjectType);
    call.AddMember("id", Value(*member(item, "call_id"), a_), a_);
    call.AddMember("type", "function", a_);
    call.AddMember("function", function, a_);
    if (Value* open = open_assistant()) {
      if (!open->HasMember("tool_calls"))
        open->AddMember("tool_calls", Value(rapidjson::kArrayType), a_);
      (*open)["tool_calls"].PushBack(call, a_);
      return std::nullopt;
    }
    Value calls(rapidjson::kArrayType);
    calls.PushBack(call, a_);
    add_assistant("tool_calls", std::move(calls));
    return std::nullopt;
  }
  if (kind == "reasoning") {
    if (member(item, "encrypted_content") != nullptr)
      return validation_error("Encrypted content is not supported.", "input");
    std::string_view text;
    const Value* content = member(item, "content");
    const Value* summary = member(item, "summary");
    if (content != nullptr && content->IsArray() && !content->Empty()) {
      if (const Value* t = member((*content)[0], "text"); t != nullptr && t->IsString())
        text = view(*t);
    } else if (summary != nullptr && summary->IsArray() && !summary->Empty()) {
      if (const Value* t = member((*summary)[0], "text"); t != nullptr && t->IsString())
        text = view(*t);
    }
    add_assistant("reasoning", string_value(text, a_));
    return std::nullopt;
  }
  if (kind == "function_call_output") {
    Value message(rapidjson::kObjectType);
    message.AddMember("role", "tool", a_);
    message.AddMember("content", Value(*member(item, "output"), a_), a_);
    const Value* call_id = member(item, "call_id");
    message.AddMember("tool_call_id", call_id != nullptr ? Value(*call_id, a_) : Value(), a_);
    messages_.PushBack(message, a_);
    return std::nullopt;
  }
  const Value& content = *member(item, "content");
  if (view(*member(item, "role")) == "assistant") {
    // An assistant turn: its text (a list's first part's), in the open assistant message's slot.
    std::string_view text;
    if (content.IsString()) {
      text = view(content);
    } else if (!content.Empty()) {
      const Value* t = member(content[0], "text");
      if (t == nullptr || !t->IsString()) return std::nullopt;
      text = view(*t);
    } else {
      return std::nullopt;
    }
    add_assistant("content", string_value(text, a_));
    return std::nullopt;
  }
  add_message(item);  // user, system, developer: as given
  return std::nullopt;
}

// The previous response's part of the conversation: its input messages but the system ones, and
// its output messages' texts as assistant turns (reasoning and calls left out, as vLLM does).
void add_previous(conversation& c, const responses_context& context, allocator& a) {
  if (context.previous_messages != nullptr) {
    Document messages(&a);
    messages.Parse(context.previous_messages->data(), context.previous_messages->size());
    for (const Value& m : messages.GetArray()) {
      const Value* role = member(m, "role");
      if (role == nullptr || !role->IsString() || view(*role) != "system") c.add_message(m);
    }
  }
  if (context.previous_output != nullptr) {
    Document output(&a);
    output.Parse(context.previous_output->data(), context.previous_output->size());
    for (const Value& item : output.GetArray()) {
      const Value* type = member(item, "type");
      if (type == nullptr || view(*type) != "message") continue;
      for (const Value& part : (*member(item, "content")).GetArray()) {
        if (const Value* text = member(part, "text")) c.add_text("assistant", view(*text));
      }
    }
  }
}

// -- tools ----------------------------------------------------------------------------------

// Writes OpenAI's FunctionTool as vLLM echoes it.
void echo_tool(json_writer& w, const Value& tool) {
  auto optional = [&](const char* key) {
    write_key(w, key);
    if (const Value* v = member(tool, key)) {
      v->Accept(w);
    } else {
      w.Null();
    }
  };
  w.StartObject();
  write_key(w, "name");
  member(tool, "name")->Accept(w);
  optional("parameters");
  optional("strict");
  write_key(w, "type");
  write_string(w, "function");
  optional("allowed_callers");
  optional("async");
  optional("defer_loading");
  optional("description");
  optional("output_schema");
  w.EndObject();
}

// Chat's tools and tool_choice from the request's, and their echoes. Without an auto tool parser
// an "auto" choice is answered as text (vLLM has no parser to read calls then).
parse_error add_tools(const Value& body, bool auto_tools, Document& chat, responses_echo& echo) {
  allocator& a = chat.GetAllocator();
  const Value* tools = member(body, "tools");
  const bool has_tools = tools != nullptr && !tools->Empty();
  const Value* choice = member(body, "tool_choice");
  std::vector<std::string_view> names;
  if (has_tools) {
    Value list(rapidjson::kArrayType);
    rapidjson::StringBuffer out;
    json_writer w(out);
    w.StartArray();
    for (const Value& tool : tools->GetArray()) {
      const std::string_view type = view(*member(tool, "type"));
      if (type != "function") {
        return validation_error(
            fmt::format("Tool type '{}' is not supported: troupe runs function tools only.", type),
            "tools");
      }
      names.push_back(view(*member(tool, "name")));
      echo_tool(w, tool);
      Value function(rapidjson::kObjectType);
      for (const char* key : {"name", "description", "parameters", "strict"}) {
        if (const Value* v = member(tool, key))
          function.AddMember(rapidjson::StringRef(key), Value(*v, a), a);
      }
      Value entry(rapidjson::kObjectType);
      entry.AddMember("type", "function", a);
      entry.AddMember("function", function, a);
      list.PushBack(entry, a);
    }
    w.EndArray();
    echo.tools = out.GetString();
    chat.AddMember("tools", list, a);
  }
  if (choice != nullptr && choice->IsObject()) {
    const Value* type = member(*choice, "type");
    const Value* name = member(*choice, "name");
    if (type == nullptr || !type->IsString() || view(*type) != "function" || name == nullptr ||
        !name->IsString()) {
      return validation_error("Only named function tool choices are supported.", "tool_choice");
    }
    if (std::find(names.begin(), names.end(), view(*name)) == names.end())
      return validation_error("Tool choice 'function' not found in 'tools' parameter.",
                              "tool_choice");
    Value function(rapidjson::kObjectType);
    function.AddMember("name", Value(*name, a), a);
    Value named(rapidjson::kObjectType);
    named.AddMember("type", "function", a);
    named.AddMember("function", function, a);
    chat.AddMember("tool_choice", named, a);
    echo.tool_choice = fmt::format(R"({{"name":{},"type":"function"}})", to_json(*name));
    return std::nullopt;
  }
  const std::string_view mode = choice != nullptr ? view(*choice) : "auto";
  if (mode == "required" && !has_tools) {
    return validation_error("Tool choice 'required' must be specified with 'tools' parameter.",
                            "tool_choice");
  }
  if (!has_tools) return std::nullopt;  // vLLM echoes "none"
  chat.AddMember("tool_choice", string_value(mode == "auto" && !auto_tools ? "none" : mode, a), a);
  echo.tool_choice = fmt::format("\"{}\"", mode);
  return std::nullopt;
}

}  // namespace

namespace {

// Sampling fields chat reads as they are.
constexpr std::array<const char*, 17> passed_fields = {"model",
                                                       "top_k",
                                                       "min_p",
                                                       "presence_penalty",
                                                       "frequency_penalty",
                                                       "repetition_penalty",
                                                       "seed",
                                                       "stop",
                                                       "stop_token_ids",
                                                       "ignore_eos",
                                                       "logit_bias",
                                                       "cache_salt",
                                                       "skip_special_tokens",
                                                       "include_stop_str_in_output",
                                                       "priority",
                                                       "vllm_xargs",
                                                       "structured_outputs"};

// A generation_config float as Python holds it (0.6, not 0.6000000238).
double as_double(std::optional<float> f, double fallback) {
  return f ? std::stod(fmt::format("{}", *f)) : fallback;
}

double number_or(const Value* v, double fallback) {
  return v != nullptr && v->IsNumber() ? v->GetDouble() : fallback;
}

// The echo of the fields the response repeats as the request gave them.
void echo_request(const Value& body, const runtime::sampling_defaults& defaults,
                  responses_echo& echo) {
  auto json_or_null = [&](const char* key) {
    const Value* v = member(body, key);
    return v != nullptr ? to_json(*v) : std::string("null");
  };
  if (const Value* id = member(body, "request_id"); id != nullptr && id->IsString()) {
    echo.id = view(*id);
  } else {
    echo.id = "resp_" + make_completion_id().substr(5, 16);
  }
  if (const Value* v = member(body, "instructions")) echo.instructions = std::string(view(*v));
  echo.metadata = json_or_null("metadata");
  if (const Value* v = member(body, "parallel_tool_calls")) echo.parallel_tool_calls = v->GetBool();
  echo.temperature = number_or(member(body, "temperature"), as_double(defaults.temperature, 1.0));
  echo.top_p = number_or(member(body, "top_p"), as_double(defaults.top_p, 1.0));
  if (echo.temperature < 1e-5) echo.top_p = 1.0;  // vLLM's greedy sampling resets it
  if (const Value* v = member(body, "background")) echo.background = v->GetBool();
  if (const Value* v = member(body, "max_output_tokens")) echo.max_output_tokens = as_integer(*v);
  echo.max_tool_calls = json_or_null("max_tool_calls");
  if (const Value* v = member(body, "previous_response_id"))
    echo.previous_response_id = std::string(view(*v));
  if (const Value* reasoning = member(body, "reasoning")) {
    auto field = [&](const char* key) {
      const Value* v = member(*reasoning, key);
      return v != nullptr ? to_json(*v) : std::string("null");
    };
    echo.reasoning =
        fmt::format(R"({{"context":{},"effort":{},"generate_summary":{},"mode":{},"summary":{}}})",
                    field("context"), field("effort"), field("generate_summary"), field("mode"),
                    field("summary"));
  }
  if (const Value* v = member(body, "service_tier")) echo.service_tier = view(*v);
  if (const Value* text = member(body, "text")) {
    const Value* format = member(*text, "format");
    const Value* verbosity = member(*text, "verbosity");
    std::string format_json = "null";
    if (format != nullptr) {
      const std::string_view type = view(*member(*format, "type"));
      if (type == "json_schema") {
        auto field = [&](const char* key) {
          const Value* v = member(*format, key);
          return v != nullptr ? to_json(*v) : std::string("null");
        };
        format_json = fmt::format(
            R"({{"name":{},"schema":{},"type":"json_schema","description":{},"strict":{}}})",
            field("name"), field("schema"), field("description"), field("strict"));
      } else {
        format_json = fmt::format(R"({{"type":"{}"}})", type);
      }
    }
    echo.text = fmt::format(R"({{"format":{},"verbosity":{}}})", format_json,
                            verbosity != nullptr ? to_json(*verbosity) : "null");
  }
  echo.truncation = member(body, "truncation") ? view(*member(body, "truncation")) : "disabled";
  echo.user = json_or_null("user");
  echo.presence_penalty = number_or(member(body, "presence_penalty"), 0.0);
  echo.frequency_penalty = number_or(member(body, "frequency_penalty"), 0.0);
  if (const Value* v = member(body, "include_reasoning"); v != nullptr && v->IsBool())
    echo.include_reasoning = v->GetBool();
}

bool includes_logprobs(const Value& body) {
  const Value* include = member(body, "include");
  if (include == nullptr) return false;
  return std::any_of(include->Begin(), include->End(), [](const Value& v) {
    return v.IsString() && view(v) == "message.output_text.logprobs";
  });
}

parse_error add_sampling(const Value& body, const responses_context& context, Document& chat,
                         responses_echo& echo) {
  allocator& a = chat.GetAllocator();
  for (const char* key : passed_fields) {
    if (const Value* v = member(body, key))
      chat.AddMember(rapidjson::StringRef(key), Value(*v, a), a);
  }
  for (const char* key : {"temperature", "top_p"}) {
    if (const Value* v = member(body, key))
      chat.AddMember(rapidjson::StringRef(key), Value(*v, a), a);
  }
  if (echo.max_output_tokens) {
    const int64_t max = *echo.max_output_tokens;
    if (context.max_model_len > 0 && max > context.max_model_len) {
      return validation_error(
          fmt::format("max_output_tokens={} cannot be greater than max_model_len={}. Please "
                      "request fewer output tokens.",
                      max, context.max_model_len),
          "max_output_tokens", std::to_string(max));
    }
    chat.AddMember("max_tokens", Value(max), a);
  }
  if (includes_logprobs(body)) {
    const Value* top = member(body, "top_logprobs");
    const int64_t n = top != nullptr ? *as_integer(*top) : 0;
    if (n > context.max_logprobs) {
      return validation_error(fmt::format("Requested sample logprobs of {}, which is greater "
                                          "than max allowed: {}",
                                          n, context.max_logprobs),
                              "logprobs", std::to_string(n));
    }
    echo.top_logprobs = n;
    chat.AddMember("logprobs", true, a);
    chat.AddMember("top_logprobs", Value(n), a);
  }
  if (const Value* text = member(body, "text")) {
    const Value* format = member(*text, "format");
    const std::string_view type = format != nullptr ? view(*member(*format, "type")) : "text";
    if (type != "text" && member(body, "structured_outputs") != nullptr) {
      return validation_error("Cannot specify both structured_outputs and text.format",
                              "structured_outputs");
    }
    if (type == "json_object") {
      Value response_format(rapidjson::kObjectType);
      response_format.AddMember("type", "json_object", a);
      chat.AddMember("response_format", response_format, a);
    } else if (type == "json_schema") {
      Value json_schema(rapidjson::kObjectType);
      json_schema.AddMember("name", Value(*member(*format, "name"), a), a);
      json_schema.AddMember("schema", Value(*member(*format, "schema"), a), a);
      Value response_format(rapidjson::kObjectType);
      response_format.AddMember("type", "json_schema", a);
      response_format.AddMember("json_schema", json_schema, a);
      chat.AddMember("response_format", response_format, a);
    }
  }
  if (const Value* reasoning = member(body, "reasoning")) {
    if (const Value* effort = member(*reasoning, "effort"))
      chat.AddMember("reasoning_effort", Value(*effort, a), a);
  }
  if (const Value* kwargs = member(body, "chat_template_kwargs"))
    chat.AddMember("chat_template_kwargs", Value(*kwargs, a), a);
  if (!echo.include_reasoning) chat.AddMember("include_reasoning", false, a);
  if (const Value* stream = member(body, "stream"); stream != nullptr && stream->GetBool()) {
    chat.AddMember("stream", true, a);
    Value options(rapidjson::kObjectType);
    options.AddMember("include_usage", true, a);
    chat.AddMember("stream_options", options, a);
  }
  return std::nullopt;
}

}  // namespace

std::variant<responses_request, api_error> translate_responses_request(
    std::string_view body, const responses_context& context) {
  Document doc;
  doc.Parse(body.data(), body.size());  // checked by check_responses_request
  responses_request out;
  echo_request(doc, context.defaults, out.echo);
  Document chat(rapidjson::kObjectType);
  allocator& a = chat.GetAllocator();
  conversation c(a);
  if (const Value* instructions = member(doc, "instructions")) c.add_system(view(*instructions));
  add_previous(c, context, a);
  const Value& input = *member(doc, "input");
  bool continue_final = false;
  if (input.IsString()) {
    c.add_text("user", view(input));
  } else {
    for (const Value& item : input.GetArray()) {
      if (auto e = c.add_item(item)) return std::move(*e);
    }
    if (!input.Empty()) {
      const Value& last = input[input.Size() - 1];
      const Value* type = member(last, "type");
      const std::string_view kind = type != nullptr ? view(*type) : "message";
      continue_final = (kind == "message" || kind == "reasoning") && is_status_open(last);
    }
  }
  out.messages_json = to_json(c.messages());
  chat.AddMember("messages", c.messages(), a);
  if (continue_final) {
    chat.AddMember("add_generation_prompt", false, a);
    chat.AddMember("continue_final_message", true, a);
  }
  if (auto e = add_sampling(doc, context, chat, out.echo)) return std::move(*e);
  if (auto e = add_tools(doc, context.auto_tools, chat, out.echo)) return std::move(*e);
  if (const Value* parallel = member(doc, "parallel_tool_calls"))
    chat.AddMember("parallel_tool_calls", Value(*parallel, a), a);
  if (const Value* stream = member(doc, "stream")) out.stream = stream->GetBool();
  if (const Value* store = member(doc, "store")) out.store = store->GetBool();
  out.chat_body = to_json(chat);
  return out;
}

}  // namespace troupe::http
