#pragma once
// tokenizer.model (SentencePiece) directories, with transformers' slow LlamaTokenizer semantics
// (transformers 4.57): the added/special tokens of tokenizer_config.json (added_tokens_decoder,
// bos/eos/unk/pad_token, additional_special_tokens) and special_tokens_map.json (which wins for
// the named tokens), add_bos_token (default true) / add_eos_token (default false), `legacy`
// (default true) and add_prefix_space (default true).
//
//   encode(text, add_special) == LlamaTokenizer.encode(text, add_special_tokens=add_special)
//   decode(ids, skip_special) == LlamaTokenizer.decode(ids, skip_special_tokens=skip_special)
//
// Streaming (incremental_detokenizer) equals the full decode except where transformers' decode
// depends on neighbouring tokens: the spaces it puts around special or added tokens that are kept
// (legacy " " before a special token, " ".join around added tokens), and a byte run cut by such
// a token. With skip_special and no non-special added tokens in the output, it is exact.
#include <memory>
#include <string>

#include "base/result.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::runtime {

// `dir`: a directory holding tokenizer.model (tokenizer_config.json and special_tokens_map.json
// optional). Errors name the file that is missing or malformed. Needs libsentencepiece.
result<std::shared_ptr<const tokenizer>> load_sentencepiece_tokenizer(const std::string& dir);

// The tokenizer of a Hugging Face model directory, chosen as transformers' AutoTokenizer does
// (the fast tokenizer first): tokenizer.json when present (load_hf_tokenizer), else
// tokenizer.model (load_sentencepiece_tokenizer); neither is an error naming both.
result<std::shared_ptr<const tokenizer>> load_tokenizer_dir(const std::string& dir);

}  // namespace troupe::runtime
