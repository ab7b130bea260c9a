#pragma once
// What a tokenizer.model directory's JSON files say about special tokens and LlamaTokenizer
// options (tokenizer_config.json, special_tokens_map.json). Internal to troupe_tokenizer.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

struct sp_added_token {
  int32_t id = -1;
  std::string content;
  bool lstrip = false, rstrip = false, single_word = false, special = false;
};

struct sentencepiece_config {
  bool legacy = true;
  bool add_prefix_space = true;
  bool add_bos = true;
  bool add_eos = false;
  bool clean_up_spaces = false;  // clean_up_tokenization_spaces
  // The named special tokens (nullopt: none), as LlamaTokenizer defaults them.
  std::optional<std::string> bos = "<s>", eos = "</s>", unk = "<unk>", pad;
  std::vector<std::string> additional_special;
  std::vector<sp_added_token> added;  // added_tokens_decoder, by id
};

// Reads `dir`/tokenizer_config.json and `dir`/special_tokens_map.json when present (absent files
// leave the defaults). Errors name the file and the malformed key.
result<sentencepiece_config> read_sentencepiece_config(const std::string& dir);

}  // namespace troupe::runtime
