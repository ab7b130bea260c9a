#pragma once
// What llama.cpp derives about special tokens from the token texts (GGUF carries no per-token
// attributes beyond the type), and the split of raw text around special tokens written
// literally in it. Internal to troupe_tokenizer.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::runtime {

// The token types llama.cpp ends up with: tokens whose text marks end of turn / end of
// generation or fill-in-the-middle ("<|im_end|>", "<|eot_id|>", "<fim_pad>", "<reponame>", ...)
// become control tokens even when the file says otherwise.
std::vector<token_type> effective_types(const vocab_spec& spec);

// The end-of-generation ids, sorted: eos, the end-of-turn texts, "</s>", and the FIM
// pad/repo/file-separator texts, when present.
std::vector<int32_t> end_of_generation_ids(const vocab_spec& spec);

// The tokens matched literally in raw text: control, user-defined and unknown ones with
// non-empty text, longest text first (then lower id), the order llama.cpp tries them in.
std::vector<int32_t> literal_match_order(const std::vector<std::string>& tokens,
                                         const std::vector<token_type>& types);

// A piece of the input: either a special token or raw text to run BPE on.
struct text_fragment {
  int32_t token = -1;  // >= 0: this special token; -1: raw text
  std::string_view text;
};

// llama.cpp's tokenizer_st_partition: for each token of `order` in turn, every occurrence
// (leftmost first, non-overlapping) inside the raw fragments left so far becomes that token.
std::vector<text_fragment> partition_special(std::string_view text, std::span<const int32_t> order,
                                             const std::vector<std::string>& tokens);

}  // namespace troupe::runtime
