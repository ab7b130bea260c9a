#pragma once
// Hugging Face `tokenizers` pre-tokenizers (tokenizer.json "pre_tokenizer"): ByteLevel, Metaspace,
// Split, Digits, Whitespace, WhitespaceSplit, Punctuation, Sequence. Each splits every piece it
// is given into smaller ones (and may rewrite them: ByteLevel maps bytes to its alphabet,
// Metaspace replaces spaces). Internal to troupe_tokenizer.
#include <rapidjson/fwd.h>

#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

struct hf_piece {
  std::string text;
  bool at_origin = false;  // starts at offset 0 of the original input (Metaspace "first")
};

class hf_pre_tokenizer {
 public:
  virtual ~hf_pre_tokenizer() = default;
  // Replaces `pieces` by their splits; empty pieces are dropped. Thread: any, concurrently.
  virtual void apply(std::vector<hf_piece>& pieces) const = 0;

  // A JSON null gives nullptr (no pre-tokenization); an unknown type is an error.
  static result<std::unique_ptr<hf_pre_tokenizer>> from_json(const rapidjson::Value& json);
};

// How a split treats the delimiters it finds (the library's SplitDelimiterBehavior).
enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

// The library's NormalizedString::split: `matches` (sorted, non-overlapping) cut `text` into
// pieces per `behavior`; empty pieces are dropped. `invert` swaps matches and gaps first.
std::vector<hf_piece> split_by_matches(const hf_piece& piece,
                                       const std::vector<std::pair<size_t, size_t>>& matches,
                                       split_behavior behavior, bool invert);

}  // namespace troupe::runtime
