#include "http/chat_json.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/json_write.hpp"

namespace troupe::http {
namespace {

// {"token", "logprob", "bytes"}: the token decoded alone, its logprob (vLLM clamps at -9999).
// With format.tokens_as_ids the token is "token_id:<id>", and a top entry's bytes are that name's.
void write_token_fields(json_writer& w, const chat_logprobs_format& format, int32_t id, float lp,
                        bool top_entry) {
  const std::string text = format.tokenizer->decode(std::span<const int32_t>(&id, 1), false);
  const std::string token = format.tokens_as_ids ? fmt::format("token_id:{}", id) : text;
  write_key(w, "token");
  write_string(w, token);
  write_key(w, "logprob");
  w.Double(lp > -9999.0f ? static_cast<double>(lp) : -9999.0);  // also NaN and -inf
  write_key(w, "bytes");
  w.StartArray();
  for (unsigned char c : top_entry ? token : text)
    w.Int(c);
  w.EndArray();
}

void write_top_logprobs(json_writer& w, const chat_logprobs_format& format,
                        const actors::token_logprob& step) {
  w.StartArray();
  int32_t num_written = 0;
  if (step.whole_dictionary) {  // vLLM shows the dictionary's first top_logprobs entries
    for (const auto& [id, lp] : step.top) {
      if (num_written++ >= format.top_logprobs) break;
      w.StartObject();
      write_token_fields(w, format, id, lp, true);
      w.EndObject();
    }
    w.EndArray();
    return;
  }
  if (format.top_logprobs > 0) {
    w.StartObject();  // the sampled token comes first in vLLM's dictionary
    write_token_fields(w, format, step.token_id, step.logprob, true);
    w.EndObject();
    ++num_written;
  }
  for (const auto& [id, lp] : step.top) {
    if (num_written >= format.top_logprobs) break;
    if (id == step.token_id) continue;
    w.StartObject();
    write_token_fields(w, format, id, lp, true);
    w.EndObject();
    ++num_written;
  }
  w.EndArray();
}

void write_logprobs(json_writer& w, const chat_logprobs_format& format,
                    const std::vector<actors::token_logprob>& steps) {
  if (format.top_logprobs < 0 || format.tokenizer == nullptr) {
    w.Null();
    return;
  }
  w.StartObject();
  write_key(w, "content");
  w.StartArray();
  for (const actors::token_logprob& step : steps) {
    w.StartObject();
    write_token_fields(w, format, step.token_id, step.logprob, false);
    write_key(w, "top_logprobs");
    write_top_logprobs(w, format, step);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void write_stop_reason(json_writer& w, const chat_choice& choice) {
  write_key(w, "stop_reason");
  if (choice.stop_string) {
    write_string(w, *choice.stop_string);
  } else if (choice.stop_token_id) {
    w.Int(*choice.stop_token_id);
  } else {
    w.Null();
  }
}

void write_finish_reason(json_writer& w, const chat_choice& choice) {
  write_key(w, "finish_reason");
  if (choice.finish_reason.empty()) {
    w.Null();
  } else {
    write_string(w, choice.finish_reason);
  }
}

// {"id", "type": "function", "function": {"name", "arguments"}} (vLLM's ToolCall).
void write_tool_calls(json_writer& w, const std::vector<tool_call>& calls) {
  w.StartArray();
  for (const tool_call& call : calls) {
    w.StartObject();
    write_key(w, "id");
    write_string(w, call.id);
    write_key(w, "type");
    w.String("function");
    write_key(w, "function");
    w.StartObject();
    write_key(w, "name");
    write_string(w, call.name);
    write_key(w, "arguments");
    write_string(w, call.arguments);
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
}

// vLLM's DeltaToolCall as exclude_unset dumps it: a call's first delta {"id", "type", "index",
// "function": {"name"[, "arguments"]}}, a later one {["id": null,] "index", "function":
// {["name": null,] "arguments"}}; mistral's {["id",] "type", "index", "function": {["name",]
// ["arguments"]}}.
void write_tool_deltas(json_writer& w, const std::vector<tool_call_delta>& deltas) {
  w.StartArray();
  for (const tool_call_delta& delta : deltas) {
    const bool first = !delta.id.empty();
    w.StartObject();
    if (first) {
      write_key(w, "id");
      write_string(w, delta.id);
    }
    if (first || delta.mistral_shape) {
      write_key(w, "type");
      w.String("function");
    } else if (delta.null_id) {
      write_key(w, "id");
      w.Null();
    }
    write_key(w, "index");
    w.Int(delta.index);
    write_key(w, "function");
    w.StartObject();
    if (delta.mistral_shape ? delta.has_name : first || delta.null_name) {
      write_key(w, "name");
      if (first || delta.mistral_shape) {
        write_string(w, delta.name);
      } else {
        w.Null();
      }
    }
    if (delta.has_arguments) {
      write_key(w, "arguments");
      write_string(w, delta.arguments);
    }
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
}

void write_optional_string(json_writer& w, const std::optional<std::string>& text) {
  if (text) {
    write_string(w, *text);
  } else {
    w.Null();
  }
}

// The message as vLLM's ChatMessage dumps it (tool_calls only when there are some).
void write_message(json_writer& w, const chat_choice& choice, std::string_view role) {
  w.StartObject();
  write_key(w, "role");
  write_string(w, role);
  write_key(w, "content");
  if (choice.content_null) {
    w.Null();
  } else {
    write_string(w, choice.content);
  }
  for (const char* key : {"refusal", "annotations", "audio", "function_call"}) {
    write_key(w, key);
    w.Null();
  }
  if (!choice.tool_calls.empty()) {
    write_key(w, "tool_calls");
    write_tool_calls(w, choice.tool_calls);
  }
  write_key(w, "reasoning");
  write_optional_string(w, choice.reasoning);
  w.EndObject();
}

// A parser's delta: content, reasoning, tool_calls, each when set (DeltaMessage's order).
void write_parsed_delta(json_writer& w, const parsed_delta& delta) {
  if (delta.content) {
    write_key(w, "content");
    write_optional_string(w, *delta.content);
  }
  if (delta.reasoning) {
    write_key(w, "reasoning");
    write_optional_string(w, *delta.reasoning);
  }
  if (!delta.tool_calls.empty()) {
    write_key(w, "tool_calls");
    write_tool_deltas(w, delta.tool_calls);
  }
}

void write_choice(json_writer& w, const chat_choice& choice, const chat_logprobs_format& format,
                  std::string_view role) {
  w.StartObject();
  write_key(w, "index");
  w.Int(choice.index);
  write_key(w, "message");
  write_message(w, choice, role);
  write_key(w, "logprobs");
  write_logprobs(w, format, choice.logprobs);
  write_finish_reason(w, choice);
  write_stop_reason(w, choice);
  write_key(w, "token_ids");
  write_ids_or_null(w, choice.token_ids);
  write_key(w, "routed_experts");
  w.Null();
  w.EndObject();
}

void write_prompt_ids_and_text(json_writer& w, const chat_prompt_fields& prompt) {
  write_key(w, "prompt_token_ids");
  write_ids_or_null(w, prompt.prompt_token_ids);
  write_key(w, "prompt_text");
  write_optional_string(w, prompt.prompt_text);
}

}  // namespace

std::string chat_completion_json(const completion_meta& meta,
                                 const std::vector<chat_choice>& choices,
                                 const completion_usage& usage, const chat_logprobs_format& format,
                                 const chat_prompt_fields& prompt) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta, "chat.completion");
  write_key(w, "choices");
  w.StartArray();
  for (const chat_choice& choice : choices)
    write_choice(w, choice, format, prompt.role);
  w.EndArray();
  write_key(w, "service_tier");
  w.Null();
  write_fingerprint(w, meta);
  write_key(w, "usage");
  write_usage(w, usage, /*with_details_null=*/true);
  write_key(w, "prompt_logprobs");
  if (prompt.prompt_logprobs) {
    write_prompt_logprobs(w, *prompt.prompt_logprobs);
  } else {
    w.Null();
  }
  write_prompt_ids_and_text(w, prompt);
  write_transfer_params(w);
  w.EndObject();
  return out.GetString();
}

std::string chat_role_chunk_json(const completion_meta& meta, int32_t index,
                                 const chat_prompt_fields& prompt, const completion_usage* usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta, "chat.completion.chunk");
  write_key(w, "choices");
  w.StartArray();
  w.StartObject();
  write_key(w, "index");
  w.Int(index);
  write_key(w, "delta");
  w.StartObject();
  write_key(w, "role");
  write_string(w, prompt.role);
  write_key(w, "content");
  w.String("");
  w.EndObject();
  write_key(w, "logprobs");
  w.Null();
  write_key(w, "finish_reason");
  w.Null();
  w.EndObject();
  w.EndArray();
  if (usage != nullptr) write_chunk_usage(w, *usage, /*completion_details=*/true);
  write_prompt_ids_and_text(w, prompt);
  w.EndObject();
  return out.GetString();
}

std::string chat_delta_chunk_json(const completion_meta& meta, const chat_choice& delta,
                                  const chat_logprobs_format& format, bool with_token_ids,
                                  bool with_fingerprint, const completion_usage* usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta, "chat.completion.chunk");
  write_key(w, "choices");
  w.StartArray();
  w.StartObject();
  write_key(w, "index");
  w.Int(delta.index);
  write_key(w, "delta");
  w.StartObject();
  if (delta.parsed) {
    write_parsed_delta(w, *delta.parsed);
  } else if (!delta.tool_deltas) {
    write_key(w, "content");
    write_string(w, delta.content);
  } else if (!delta.tool_deltas->empty()) {
    write_key(w, "tool_calls");
    write_tool_deltas(w, *delta.tool_deltas);
  }
  w.EndObject();
  write_key(w, "logprobs");
  write_logprobs(w, format, delta.logprobs);
  write_finish_reason(w, delta);
  if (!delta.finish_reason.empty()) write_stop_reason(w, delta);
  if (with_token_ids) {
    write_key(w, "token_ids");
    write_ids_or_null(w, delta.token_ids);
  }
  w.EndObject();
  w.EndArray();
  if (usage != nullptr) write_chunk_usage(w, *usage, /*completion_details=*/true);
  if (with_fingerprint) write_fingerprint(w, meta);
  w.EndObject();
  return out.GetString();
}

std::string chat_usage_chunk_json(const completion_meta& meta, const completion_usage& usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta, "chat.completion.chunk");
  write_key(w, "choices");
  w.StartArray();
  w.EndArray();
  write_key(w, "usage");
  write_usage(w, usage, /*with_details_null=*/false);
  if (meta.system_fingerprint) write_fingerprint(w, meta);  // exclude_none
  w.EndObject();
  return out.GetString();
}

}  // namespace troupe::http
