#include "http/json_write.hpp"

#include <algorithm>
#include <string>

namespace troupe::http {

void write_string(json_writer& w, std::string_view s) {
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

void write_key(json_writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

void write_string_or_null(json_writer& w, std::string_view s) {
  if (s.empty()) {
    w.Null();
  } else {
    write_string(w, s);
  }
}

void write_meta(json_writer& w, const completion_meta& meta, std::string_view object) {
  write_key(w, "id");
  write_string(w, meta.id);
  write_key(w, "object");
  write_string(w, object);
  write_key(w, "created");
  w.Int64(meta.created);
  write_key(w, "model");
  write_string(w, meta.model);
}

void write_ids_or_null(json_writer& w, const std::optional<std::vector<int32_t>>& ids) {
  if (!ids) {
    w.Null();
    return;
  }
  w.StartArray();
  for (int32_t id : *ids)
    w.Int(id);
  w.EndArray();
}

void write_fingerprint(json_writer& w, const completion_meta& meta) {
  write_key(w, "system_fingerprint");
  if (meta.system_fingerprint) {
    write_string(w, *meta.system_fingerprint);
  } else {
    w.Null();
  }
}

void write_transfer_params(json_writer& w) {
  write_key(w, "kv_transfer_params");
  w.Null();
  write_key(w, "ec_transfer_params");
  w.Null();
}

namespace {

// A usage object's counts, in vLLM's member order.
void write_token_counts(json_writer& w, const completion_usage& usage) {
  write_key(w, "prompt_tokens");
  w.Int(usage.prompt_tokens);
  write_key(w, "total_tokens");
  w.Int(usage.prompt_tokens + usage.completion_tokens);
  write_key(w, "completion_tokens");
  w.Int(usage.completion_tokens);
}

}  // namespace

void write_chunk_usage(json_writer& w, const completion_usage& usage, bool completion_details) {
  write_key(w, "usage");
  w.StartObject();
  write_token_counts(w, usage);
  if (completion_details) {
    write_key(w, "completion_tokens_details");
    if (usage.reasoning_tokens) {
      w.StartObject();
      write_key(w, "reasoning_tokens");
      w.Int(*usage.reasoning_tokens);
      w.EndObject();
    } else {
      w.Null();
    }
  }
  w.EndObject();
}

void write_usage(json_writer& w, const completion_usage& usage, bool with_details_null) {
  w.StartObject();
  write_token_counts(w, usage);
  if (usage.cached_tokens > 0) {
    write_key(w, "prompt_tokens_details");
    w.StartObject();
    write_key(w, "cached_tokens");
    w.Int(usage.cached_tokens);
    w.EndObject();
  } else if (with_details_null) {
    write_key(w, "prompt_tokens_details");
    w.Null();
  }
  if (usage.reasoning_tokens) {
    write_key(w, "completion_tokens_details");
    w.StartObject();
    write_key(w, "reasoning_tokens");
    w.Int(*usage.reasoning_tokens);
    w.EndObject();
  } else if (with_details_null) {
    write_key(w, "completion_tokens_details");
    w.Null();
  }
  w.EndObject();
}

void write_logprob(json_writer& w, float logprob) {
  w.Double(std::max(static_cast<double>(logprob), -9999.0));
}

void write_prompt_logprobs(json_writer& w, const prompt_logprobs_list& list) {
  w.StartArray();
  for (const auto& position : list) {
    if (!position) {
      w.Null();
      continue;
    }
    w.StartObject();
    for (const auto& e : *position) {
      write_key(w, std::to_string(e.token_id));
      w.StartObject();
      write_key(w, "logprob");
      write_logprob(w, e.logprob);
      write_key(w, "rank");
      w.Int(e.rank);
      write_key(w, "decoded_token");
      write_string(w, e.decoded_token);
      w.EndObject();
    }
    w.EndObject();
  }
  w.EndArray();
}

}  // namespace troupe::http
