#include "runtime/tokenizer/pre_tokenizer.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>

namespace troupe::runtime {
namespace {

// llama.cpp classifies whitespace with Unicode's White_Space property; PCRE2's \s under UCP is a
// slightly different set, so every \s / \S of the upstream regexes is spelled out with this class.
#define TROUPE_WS \
  "\\t-\\r "      \
  "\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"
constexpr const char* space = "[" TROUPE_WS "]";
constexpr const char* not_space = "[^" TROUPE_WS "]";
constexpr const char* punct_run = "[^" TROUPE_WS "\\p{L}\\p{N}]+";

std::string gpt2_regex() {
  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  // (the final \s+ only names the single whitespace before a non-space that the upstream regex
  // leaves unmatched; unmatched text becomes a piece anyway, so the split is the same)
  return std::string("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?") + punct_run + "|" + space +
         "+(?!" + not_space + ")|" + space + "+";
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|<digits>| ?[^\s\p{L}\p{N}]+[\r\n]*|
// \s*[\r\n]+|\s+(?!\S)|\s+  -- llama3 with <digits> = \p{N}{1,3}, qwen2 with \p{N}.
std::string llama3_style_regex(const char* digits) {
  return std::string(
             "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?"
             "\\p{L}+|") +
         digits + "| ?" + punct_run + "[\\r\\n]*|" + space + "*[\\r\\n]+|" + space + "+(?!" +
         not_space + ")|" + space + "+";
}

bool is_one_of(std::string_view name, std::initializer_list<std::string_view> names) {
  for (const auto n : names)
    if (name == n) return true;
  return false;
}

// The regex lists of llama.cpp's llm_tokenizer_bpe, by pre-tokenizer name.
result<std::vector<std::string>> regexes_for(std::string_view name) {
  if (is_one_of(name, {"smollm", "starcoder", "refact", "command-r", "codeshell", "exaone",
                       "minerva-7b"}))
    return std::vector<std::string>{"\\p{N}", gpt2_regex()};
  if (is_one_of(name, {"gpt2", "gpt-2"})) return std::vector<std::string>{gpt2_regex()};
  if (is_one_of(name, {"llama3", "llama-v3", "llama-bpe", "falcon3"}))
    return std::vector<std::string>{llama3_style_regex("\\p{N}{1,3}")};
  if (is_one_of(name, {"qwen2", "deepseek-r1-qwen"}))
    return std::vector<std::string>{llama3_style_regex("\\p{N}")};
  if (is_one_of(name, {"default", ""}))
    return std::vector<std::string>{"[\\p{P}\\$\\+<=>\\^~\\|]+", gpt2_regex(), "\\p{N}+",
                                    "[0-9][0-9][0-9]"};
  return error{"unknown pre-tokenizer '" + std::string(name) + "'"};
}

}  // namespace

struct pre_tokenizer::compiled {
  pcre2_code* code = nullptr;
  ~compiled() { pcre2_code_free(code); }
};

result<pre_tokenizer> pre_tokenizer::make(std::string_view name) {
  auto patterns = regexes_for(name);
  if (!patterns) return patterns.err();
  pre_tokenizer pre;
  for (const auto& pattern : *patterns) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    auto c = std::make_shared<compiled>();
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                            PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (c->code == nullptr) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(error_code, message.data(), message.size());
      return error{"pre-tokenizer regex '" + pattern +
                   "': " + reinterpret_cast<const char*>(message.data())};
    }
    pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter works too
    pre.regexes_.push_back(std::move(c));
  }
  return pre;
}

namespace {

// Splits one piece with one regex: matches and the text between them, in order.
void split_piece(const pcre2_code* code, pcre2_match_data* match, std::string_view piece,
                 std::vector<std::string_view>& out) {
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
  size_t gap_start = 0;
  size_t pos = 0;
  while (pos < piece.size()) {
    const int rc =
        pcre2_match(code, subject, piece.size(), pos, PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc < 0) break;  // no further match (or a matching error: keep the rest whole)
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    const size_t begin = ovector[0];
    const size_t end = ovector[1];
    if (end <= begin) break;  // the regexes cannot match empty; never loop on it
    if (begin > gap_start) out.push_back(piece.substr(gap_start, begin - gap_start));
    out.push_back(piece.substr(begin, end - begin));
    gap_start = pos = end;
  }
  if (gap_start < piece.size()) out.push_back(piece.substr(gap_start));
}

}  // namespace

std::vector<std::string_view> pre_tokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  std::vector<std::string_view> next;
  for (const auto& regex : regexes_) {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(regex->code, nullptr);
    next.clear();
    for (const auto piece : pieces)
      split_piece(regex->code, match, piece, next);
    pcre2_match_data_free(match);
    pieces.swap(next);
  }
  return pieces;
}

}  // namespace troupe::runtime
