#include "http/openai_json.hpp"

#include <algorithm>
#include <random>

#include <fmt/format.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "http/json_write.hpp"

namespace troupe::http {
namespace {

void write_logprobs(json_writer& w, const completion_logprobs& lp) {
  w.StartObject();
  write_key(w, "text_offset");
  w.StartArray();
  for (int32_t offset : lp.text_offset)
    w.Int(offset);
  w.EndArray();
  write_key(w, "token_logprobs");
  w.StartArray();
  for (const auto& logprob : lp.token_logprobs) {
    if (logprob) {
      write_logprob(w, *logprob);
    } else {
      w.Null();
    }
  }
  w.EndArray();
  write_key(w, "tokens");
  w.StartArray();
  for (const auto& token : lp.tokens)
    write_string(w, token);
  w.EndArray();
  write_key(w, "top_logprobs");
  w.StartArray();
  for (const auto& top : lp.top_logprobs) {
    if (!top) {
      w.Null();
      continue;
    }
    w.StartObject();
    for (const auto& [token, logprob] : *top) {
      write_key(w, token);
      write_logprob(w, logprob);
    }
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

void write_stop_reason(json_writer& w, const completion_choice& choice) {
  if (choice.stop_string) {
    write_string(w, *choice.stop_string);
  } else if (choice.stop_token_id) {
    w.Int(*choice.stop_token_id);
  } else {
    w.Null();
  }
}

// One choice; `with_prompt_logprobs` for the non-streaming shape.
void write_choice(json_writer& w, const completion_choice& choice, bool with_prompt_logprobs) {
  w.StartObject();
  write_key(w, "index");
  w.Int(choice.index);
  write_key(w, "text");
  write_string(w, choice.text);
  write_key(w, "logprobs");
  if (choice.logprobs) {
    write_logprobs(w, *choice.logprobs);
  } else {
    w.Null();
  }
  write_key(w, "finish_reason");
  write_string_or_null(w, choice.finish_reason);
  write_key(w, "stop_reason");
  write_stop_reason(w, choice);
  if (!with_prompt_logprobs) {  // a chunk (CompletionResponseStreamChoice)
    write_key(w, "prompt_token_ids");
    write_ids_or_null(w, choice.prompt_token_ids);
    write_key(w, "token_ids");
    write_ids_or_null(w, choice.token_ids);
    w.EndObject();
    return;
  }
  write_key(w, "token_ids");
  write_ids_or_null(w, choice.token_ids);
  write_key(w, "prompt_logprobs");
  if (choice.prompt_logprobs) {
    write_prompt_logprobs(w, *choice.prompt_logprobs);
  } else {
    w.Null();
  }
  write_key(w, "prompt_token_ids");
  write_ids_or_null(w, choice.prompt_token_ids);
  write_key(w, "routed_experts");
  w.Null();
  w.EndObject();
}

completion_choice simple_choice(std::string_view text, std::string_view finish_reason) {
  completion_choice choice;
  choice.text = text;
  choice.finish_reason = finish_reason;
  return choice;
}

// The entries of one token's top_logprobs: the sampled token, then the num_top most likely
// (the sampled one once). Tokens of equal text (byte tokens of one incomplete UTF-8 character
// all read U+FFFD) are one entry, as in vLLM's dict: at the first one's place, with the last
// one's logprob.
std::vector<std::pair<std::string, float>> top_entries(const actors::token_logprob& token,
                                                       const runtime::tokenizer& tokenizer,
                                                       int32_t num_top, bool as_token_ids) {
  std::vector<std::pair<int32_t, float>> ids;
  if (token.whole_dictionary) {  // vLLM shows the dictionary's first num_top + 1 entries
    ids.assign(token.top.begin(),
               token.top.begin() + static_cast<std::ptrdiff_t>(std::min(
                                       token.top.size(), static_cast<size_t>(num_top) + 1)));
  } else {
    ids.emplace_back(token.token_id, token.logprob);
    const auto num = std::min(token.top.size(), static_cast<size_t>(std::max(num_top, 0)));
    for (size_t i = 0; i < num; ++i)
      if (token.top[i].first != token.token_id) ids.push_back(token.top[i]);
  }
  std::vector<std::pair<std::string, float>> entries;
  for (const auto& [id, logprob] : ids) {
    std::string text = logprob_token_name(tokenizer, id, as_token_ids);
    auto same = std::find_if(entries.begin(), entries.end(),
                             [&](const auto& e) { return e.first == text; });
    if (same == entries.end()) {
      entries.emplace_back(std::move(text), logprob);
    } else {
      same->second = logprob;
    }
  }
  return entries;
}

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{(static_cast<uint64_t>(std::random_device{}()) << 32) ^
                                   std::random_device{}()};
  return rng;
}

}  // namespace

std::string logprob_token_text(const runtime::tokenizer& tokenizer, int32_t token_id) {
  const int32_t ids[] = {token_id};
  return tokenizer.decode(ids, /*skip_special=*/false);
}

int32_t num_characters(std::string_view text) {
  int32_t n = 0;
  for (unsigned char c : text)
    n += (c & 0xC0) != 0x80;
  return n;
}

std::string logprob_token_name(const runtime::tokenizer& tokenizer, int32_t token_id,
                               bool as_token_ids) {
  return as_token_ids ? fmt::format("token_id:{}", token_id)
                      : logprob_token_text(tokenizer, token_id);
}

void append_completion_logprobs(completion_logprobs& out,
                                std::span<const actors::token_logprob> tokens,
                                const runtime::tokenizer& tokenizer, int32_t num_top,
                                int32_t text_offset, bool as_token_ids) {
  for (const auto& token : tokens) {
    std::string text = logprob_token_name(tokenizer, token.token_id, as_token_ids);
    out.text_offset.push_back(text_offset);
    text_offset += num_characters(text);
    out.token_logprobs.push_back(token.logprob);
    out.tokens.push_back(std::move(text));
    out.top_logprobs.push_back(top_entries(token, tokenizer, num_top, as_token_ids));
  }
}

void append_prompt_completion_logprobs(completion_logprobs& out,
                                       std::span<const int32_t> prompt_token_ids,
                                       std::span<const actors::token_logprob> prompt_logprobs,
                                       const runtime::tokenizer& tokenizer, int32_t num_top,
                                       int32_t text_offset, bool as_token_ids) {
  if (prompt_token_ids.empty()) return;
  std::string text = logprob_token_name(tokenizer, prompt_token_ids[0], as_token_ids);
  out.text_offset.push_back(text_offset);
  out.token_logprobs.emplace_back();
  out.top_logprobs.emplace_back();
  const int32_t next = text_offset + num_characters(text);
  out.tokens.push_back(std::move(text));
  append_completion_logprobs(out, prompt_logprobs, tokenizer, num_top, next, as_token_ids);
}

prompt_logprobs_list make_prompt_logprobs(std::span<const int32_t> prompt_token_ids,
                                          std::span<const actors::token_logprob> prompt_logprobs,
                                          const runtime::tokenizer& tokenizer) {
  prompt_logprobs_list list;
  if (prompt_token_ids.empty()) return list;
  list.emplace_back();  // the first token: nothing before it
  for (const auto& token : prompt_logprobs) {
    // vLLM's dict {prompt token: its rank, then top j: rank j + 1}: an id listed twice keeps its
    // first place and its last rank.
    auto& entries = list.emplace_back(std::in_place).value();
    entries.push_back(
        {token.token_id, token.logprob, token.rank, logprob_token_text(tokenizer, token.token_id)});
    for (size_t j = 0; j < token.top.size(); ++j) {
      const auto [id, logprob] = token.top[j];
      const auto rank = static_cast<int32_t>(j + 1);
      if (id == token.token_id) {
        entries.front().rank = rank;
        continue;
      }
      entries.push_back({id, logprob, rank, logprob_token_text(tokenizer, id)});
    }
  }
  return list;
}

std::string error_json(const api_error& error) {
  return error_json(error.message, error_type(error.status),
                    error.param.empty() ? std::nullopt : std::optional<std::string>(error.param),
                    error.status);
}

std::string error_json(std::string_view message, std::string_view type,
                       const std::optional<std::string>& param, int code) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "error");
  w.StartObject();
  write_key(w, "message");
  write_string(w, message);
  write_key(w, "type");
  write_string(w, type);
  write_key(w, "param");
  if (param) {
    write_string(w, *param);
  } else {
    w.Null();
  }
  write_key(w, "code");
  w.Int(code);
  w.EndObject();
  w.EndObject();
  return out.GetString();
}

std::string version_json(std::string_view version) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "version");
  write_string(w, version);
  w.EndObject();
  return out.GetString();
}

std::string models_json(const actors::model_info& info) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_key(w, "object");
  w.String("list");
  write_key(w, "data");
  w.StartArray();
  w.StartObject();
  write_key(w, "id");
  write_string(w, info.served_model_name);
  write_key(w, "object");
  w.String("model");
  write_key(w, "created");
  w.Int64(info.created);
  write_key(w, "owned_by");
  w.String("troupe");
  write_key(w, "root");
  write_string(w, info.model_path.empty() ? info.served_model_name : info.model_path);
  write_key(w, "parent");
  w.Null();
  write_key(w, "max_model_len");
  w.Int(info.max_model_len);
  // vLLM's one ModelPermission, its defaults.
  write_key(w, "permission");
  w.StartArray();
  w.StartObject();
  write_key(w, "id");
  write_string(w, "modelperm-" + make_completion_id().substr(5));
  write_key(w, "object");
  w.String("model_permission");
  write_key(w, "created");
  w.Int64(info.created);
  for (const auto& [key, value] : {std::pair{"allow_create_engine", false},
                                   {"allow_sampling", true},
                                   {"allow_logprobs", true},
                                   {"allow_search_indices", false},
                                   {"allow_view", true},
                                   {"allow_fine_tuning", false}}) {
    write_key(w, key);
    w.Bool(value);
  }
  write_key(w, "organization");
  w.String("*");
  write_key(w, "group");
  w.Null();
  write_key(w, "is_blocking");
  w.Bool(false);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return out.GetString();
}

std::string completion_json(const completion_meta& meta, std::string_view text,
                            std::string_view finish_reason, const completion_usage& usage) {
  const completion_choice choice = simple_choice(text, finish_reason);
  return completion_json(meta, std::span(&choice, 1), usage);
}

std::string completion_json(const completion_meta& meta, std::span<const completion_choice> choices,
                            const completion_usage& usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta, "text_completion");
  write_key(w, "choices");
  w.StartArray();
  for (const auto& choice : choices)
    write_choice(w, choice, /*with_prompt_logprobs=*/true);
  w.EndArray();
  write_key(w, "service_tier");
  w.Null();
  write_fingerprint(w, meta);
  write_key(w, "usage");
  write_usage(w, usage, /*with_details_null=*/true);
  write_transfer_params(w);
  w.EndObject();
  return out.GetString();
}

std::string stream_chunk_json(const completion_meta& meta, std::string_view text,
                              std::string_view finish_reason, bool with_fingerprint) {
  return stream_chunk_json(meta, simple_choice(text, finish_reason), with_fingerprint);
}

std::string stream_chunk_json(const completion_meta& meta, const completion_choice& choice,
                              bool with_fingerprint, const completion_usage* usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta, "text_completion");
  write_key(w, "choices");
  w.StartArray();
  write_choice(w, choice, /*with_prompt_logprobs=*/false);
  w.EndArray();
  if (usage != nullptr) write_chunk_usage(w, *usage, /*completion_details=*/false);
  if (with_fingerprint) write_fingerprint(w, meta);
  w.EndObject();
  return out.GetString();
}

std::string usage_chunk_json(const completion_meta& meta, const completion_usage& usage) {
  rapidjson::StringBuffer out;
  json_writer w(out);
  w.StartObject();
  write_meta(w, meta, "text_completion");
  write_key(w, "choices");
  w.StartArray();
  w.EndArray();
  write_key(w, "usage");
  write_usage(w, usage, /*with_details_null=*/false);
  if (meta.system_fingerprint) write_fingerprint(w, meta);  // exclude_none
  w.EndObject();
  return out.GetString();
}

std::string make_completion_id() {
  auto& rng = thread_rng();
  return fmt::format("cmpl-{:016x}{:016x}", rng(), rng());
}

uint64_t make_random_seed() {
  return thread_rng()();
}

}  // namespace troupe::http
