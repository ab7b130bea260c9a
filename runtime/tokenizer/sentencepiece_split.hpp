#pragma once
// transformers' PreTrainedTokenizer.tokenize around added tokens (slow tokenizers): the text is
// cut at added tokens (leftmost match, longest at that position, as its Trie.split), then each
// token's lstrip / rstrip / single_word flag edits its neighbours. Internal to troupe_tokenizer.
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/sentencepiece_config.hpp"

namespace troupe::runtime {

struct sp_chunk {
  std::string text;
  bool added = false;  // text is an added token's content (looked up by text, as transformers)
};

// The pieces of `text` in order, empty ones dropped. `added` must be non-overlapping in content.
std::vector<sp_chunk> split_added_tokens(std::string_view text,
                                         const std::vector<sp_added_token>& added);

// Python's str.lstrip() / str.rstrip() (Unicode whitespace, str.isspace) on UTF-8 text.
std::string strip_left(std::string_view text);
std::string strip_right(std::string_view text);

}  // namespace troupe::runtime
