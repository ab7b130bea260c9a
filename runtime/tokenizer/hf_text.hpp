#pragma once
// Unicode helpers for the Hugging Face tokenizer pipeline (ICU underneath): the character classes
// Rust's `char` methods define (the `tokenizers` crate uses them), normalization forms, and an
// Oniguruma-compatible regex (the crate compiles its patterns with Oniguruma; this translates the
// classes whose meaning differs and runs PCRE2). Internal to troupe_tokenizer.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime::hf_text {

bool is_whitespace(uint32_t cpt);    // Rust char::is_whitespace (White_Space)
bool is_numeric(uint32_t cpt);       // Rust char::is_numeric (Nd, Nl, No)
bool is_alphanumeric(uint32_t cpt);  // Rust char::is_alphanumeric (Alphabetic or numeric)
bool is_punctuation(uint32_t cpt);   // ASCII punctuation or any P* category

enum class form { nfc, nfd, nfkc, nfkd };
// Requires valid UTF-8.
std::string normalize(std::string_view text, form f);
// Per-character full lowercase mapping (no context rules, like Rust's char::to_lowercase).
std::string lowercase(std::string_view text);

// One codepoint at `pos` of valid UTF-8 text: its value and byte length.
std::pair<uint32_t, size_t> next_codepoint(std::string_view text, size_t pos);

// A compiled Oniguruma-syntax pattern. Thread: find_all may be called concurrently.
class regex {
 public:
  static result<std::shared_ptr<const regex>> make(std::string_view onig_pattern);
  ~regex();
  // Non-overlapping, non-empty matches [begin, end) from left to right.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  regex() = default;
  void* code_ = nullptr;  // pcre2_code
};

// Oniguruma pattern -> PCRE2 pattern: \s \S \w \W \d \D spelled as explicit Unicode classes.
std::string translate_onig(std::string_view pattern);

}  // namespace troupe::runtime::hf_text
