#pragma once
// Pre-tokenization: splits text into the words BPE runs on, with the regex lists llama.cpp uses
// per tokenizer.ggml.pre. Each regex of a list splits every piece the previous one produced;
// the text between matches is kept as pieces too, so the pieces always cover the input.
// Internal to troupe_tokenizer.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

class pre_tokenizer {
 public:
  // The regex list for a pre-tokenizer name (see make_bpe_tokenizer for the names); error for an
  // unknown name or a regex PCRE2 rejects.
  static result<pre_tokenizer> make(std::string_view name);

  // Requires: `text` is valid UTF-8. Guarantees: the pieces are non-empty views into `text`, in
  // order, and concatenate to `text`. Thread: any thread, concurrently.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct compiled;  // one PCRE2 pattern
  std::vector<std::shared_ptr<const compiled>> regexes_;
};

}  // namespace troupe::runtime
