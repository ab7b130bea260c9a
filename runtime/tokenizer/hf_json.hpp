#pragma once
// Reading a Hugging Face tokenizer directory: tokenizer.json (RapidJSON, parsed in place) and,
// when present, tokenizer_config.json for the bos/eos tokens. Internal to troupe_tokenizer.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "runtime/tokenizer/hf_added_tokens.hpp"
#include "runtime/tokenizer/hf_bpe.hpp"
#include "runtime/tokenizer/hf_decoder.hpp"
#include "runtime/tokenizer/hf_normalizer.hpp"
#include "runtime/tokenizer/hf_pre_tokenizer.hpp"

namespace troupe::runtime {

struct hf_parts {
  std::vector<hf_added_token> added;
  std::unique_ptr<hf_normalizer> normalizer;        // null: none
  std::unique_ptr<hf_pre_tokenizer> pre_tokenizer;  // null: none
  hf_bpe model;
  std::shared_ptr<const hf_decoder> decoder;
  std::vector<int32_t> prefix, suffix;  // what the post-processor adds (add_special)
  int32_t bos_id = -1;
  int32_t eos_id = -1;
};

// `dir_or_file`: a directory holding tokenizer.json, or the tokenizer.json file itself
// (tokenizer_config.json is looked for next to it). Errors name the part that is malformed or
// unsupported.
result<hf_parts> read_hf_parts(const std::string& dir_or_file);

}  // namespace troupe::runtime
