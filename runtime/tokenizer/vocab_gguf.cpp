// vocab_from_gguf: the tokenizer.ggml.* keys, read with llama.cpp's defaults.
#include <optional>

#include "runtime/formats/gguf.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::runtime {
namespace {

// A special token id key: -1 when absent or outside the vocabulary (llama.cpp ignores such ids).
int32_t token_id(const gguf_file& file, const std::string& key, size_t num_tokens) {
  const std::optional<int64_t> id = file.get_int(key);
  if (!id || *id < 0 || static_cast<uint64_t>(*id) >= num_tokens) return -1;
  return static_cast<int32_t>(*id);
}

bool is_llama3_pre(const std::string& pre) {
  return pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3";
}

token_type to_token_type(int64_t value) {
  return value >= 0 && value <= static_cast<int64_t>(token_type::byte)
             ? static_cast<token_type>(value)
             : token_type::undefined;
}

}  // namespace

result<vocab_spec> vocab_from_gguf(const gguf_file& file) {
  vocab_spec spec;
  auto model = file.get_string("tokenizer.ggml.model");
  if (!model) return error{"GGUF has no tokenizer.ggml.model"};
  spec.model = *model;
  if (spec.model != "gpt2")
    return error{"tokenizer model '" + spec.model +
                 "' is not supported yet (only byte-level BPE \"gpt2\")"};
  spec.pre = file.get_string("tokenizer.ggml.pre").value_or("default");

  auto tokens = file.get_string_array("tokenizer.ggml.tokens");
  if (!tokens || tokens->empty()) return error{"GGUF has no tokenizer.ggml.tokens string array"};
  spec.tokens = std::move(*tokens);
  // llama.cpp renames empty token texts so that they can never match.
  for (size_t id = 0; id < spec.tokens.size(); ++id)
    if (spec.tokens[id].empty()) spec.tokens[id] = "[EMPTY_" + std::to_string(id) + "]";

  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    auto types = file.get_int_array("tokenizer.ggml.token_type");
    if (!types || types->size() != spec.tokens.size())
      return error{"tokenizer.ggml.token_type is not an integer array as long as the tokens"};
    spec.types.reserve(types->size());
    for (const int64_t t : *types)
      spec.types.push_back(to_token_type(t));
  } else {
    spec.types.assign(spec.tokens.size(), token_type::normal);
  }

  auto merges = file.get_string_array("tokenizer.ggml.merges");
  if (!merges) return error{"GGUF has no tokenizer.ggml.merges string array"};
  spec.merges = std::move(*merges);

  const size_t n = spec.tokens.size();
  spec.bos_id = token_id(file, "tokenizer.ggml.bos_token_id", n);
  spec.eos_id = token_id(file, "tokenizer.ggml.eos_token_id", n);
  spec.unk_id = token_id(file, "tokenizer.ggml.unknown_token_id", n);
  spec.pad_id = token_id(file, "tokenizer.ggml.padding_token_id", n);

  spec.ignore_merges = is_llama3_pre(spec.pre);
  spec.add_bos = file.get_bool("tokenizer.ggml.add_bos_token")
                     .value_or(is_llama3_pre(spec.pre) && spec.bos_id >= 0);
  spec.add_eos = file.get_bool("tokenizer.ggml.add_eos_token").value_or(false);
  if (spec.add_bos && spec.bos_id < 0) return error{"add_bos_token is set but there is no bos"};
  if (spec.add_eos && spec.eos_id < 0) return error{"add_eos_token is set but there is no eos"};
  return spec;
}

}  // namespace troupe::runtime
