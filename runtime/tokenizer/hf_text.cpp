#include "runtime/tokenizer/hf_text.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include <array>
#include <cctype>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime::hf_text {

bool is_whitespace(uint32_t cpt) {
  return u_isUWhiteSpace(static_cast<UChar32>(cpt));
}

bool is_numeric(uint32_t cpt) {
  const auto type = u_charType(static_cast<UChar32>(cpt));
  return type == U_DECIMAL_DIGIT_NUMBER || type == U_LETTER_NUMBER || type == U_OTHER_NUMBER;
}

bool is_alphanumeric(uint32_t cpt) {
  return u_hasBinaryProperty(static_cast<UChar32>(cpt), UCHAR_ALPHABETIC) || is_numeric(cpt);
}

bool is_punctuation(uint32_t cpt) {
  if (cpt < 0x80) return std::ispunct(static_cast<int>(cpt)) != 0;
  return u_ispunct(static_cast<UChar32>(cpt));
}

std::string normalize(std::string_view text, form f) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (f) {
    case form::nfc:
      n = icu::Normalizer2::getNFCInstance(status);
      break;
    case form::nfd:
      n = icu::Normalizer2::getNFDInstance(status);
      break;
    case form::nfkc:
      n = icu::Normalizer2::getNFKCInstance(status);
      break;
    case form::nfkd:
      n = icu::Normalizer2::getNFKDInstance(status);
      break;
  }
  if (U_FAILURE(status) || n == nullptr) return std::string(text);
  const auto source = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  // Fast path: most text is already normalized.
  if (n->isNormalized(source, status) && U_SUCCESS(status)) return std::string(text);
  status = U_ZERO_ERROR;
  const icu::UnicodeString result = n->normalize(source, status);
  if (U_FAILURE(status)) return std::string(text);
  std::string out;
  result.toUTF8String(out);
  return out;
}

std::pair<uint32_t, size_t> next_codepoint(std::string_view text, size_t pos) {
  const size_t length = utf8::valid_sequence_length(text, pos);
  if (length == 0) return {static_cast<uint8_t>(text[pos]), 1};
  return {utf8::decode_at(text, pos, length), length};
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const auto [cpt, length] = next_codepoint(text, pos);
    if (cpt < 0x80) {
      out += static_cast<char>(cpt >= 'A' && cpt <= 'Z' ? cpt + 32 : cpt);
    } else {
      // One character alone: context-sensitive rules (final sigma) cannot apply, as in Rust.
      icu::UnicodeString one(static_cast<UChar32>(cpt));
      one.toLower(icu::Locale::getRoot());
      one.toUTF8String(out);
    }
    pos += length;
  }
  return out;
}

namespace {

// Oniguruma's Unicode \s: U+0009-U+000D, U+0085 and the Z* separators (= White_Space).
constexpr std::string_view space_set =
    "\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}"
    "\\x{3000}";
// Oniguruma's Unicode \w: Letter, Mark, Decimal_Number, Connector_Punctuation.
constexpr std::string_view word_set = "\\p{L}\\p{M}\\p{Nd}\\p{Pc}";
constexpr std::string_view digit_set = "\\p{Nd}";
// Letters and numbers of Unicode 16 that PCRE2 10.42's Unicode 14 tables do not know (the
// Oniguruma 6.9.10 inside tokenizers 0.22 does: CJK extensions H and I, Kawi, Garay, Egyptian
// hieroglyphs extension A, ...). Generated from unicodedata2 16.0 against Python's 14.0 data.
constexpr std::string_view extra_letters =
    "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}"
    "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}\\x{1123F}-\\x{11240}"
    "\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}\\x{113B7}\\x{113D1}"
    "\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}\\x{11F12}-\\x{11F33}"
    "\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}\\x{16100}-\\x{1611D}\\x{16D40}-"
    "\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}"
    "\\x{1E4D0}-\\x{1E4EB}\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}"
    "\\x{31350}-\\x{323AF}";
constexpr std::string_view extra_numbers =
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}\\x{11F50}-\\x{11F59}"
    "\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}"
    "\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}";

std::string_view set_for(char escape) {
  switch (escape) {
    case 's':
    case 'S':
      return space_set;
    case 'w':
    case 'W':
      return word_set;
    case 'd':
    case 'D':
      return digit_set;
    default:
      return {};
  }
}

}  // namespace

std::string translate_onig(std::string_view pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    const std::string_view rest = pattern.substr(i);
    if (rest.starts_with("\\p{L}") || rest.starts_with("\\p{N}")) {
      const std::string_view extra = rest[3] == 'L' ? extra_letters : extra_numbers;
      out += in_class ? "" : "[";
      out.append(rest.substr(0, 5)).append(extra);
      out += in_class ? "" : "]";
      i += 4;
      continue;
    }
    if (c == '\\' && i + 1 < pattern.size()) {
      const char e = pattern[i + 1];
      const std::string_view set = set_for(e);
      const bool negated = e == 'S' || e == 'W' || e == 'D';
      ++i;
      if (set.empty()) {
        out += c;
        out += e;
      } else if (!in_class) {
        out += negated ? "[^" : "[";
        out += set;
        out += ']';
      } else if (!negated) {
        out += set;
      } else {
        // A negated class inside a class: PCRE2 accepts POSIX-free nested negation via \P only
        // for properties; keep the original escape (same meaning up to PCRE2's UCP tables).
        out += '\\';
        out += e;
      }
      continue;
    }
    if (c == '[' && !in_class)
      in_class = true;
    else if (c == ']' && in_class)
      in_class = false;
    out += c;
  }
  return out;
}

result<std::shared_ptr<const regex>> regex::make(std::string_view onig_pattern) {
  const std::string pattern = translate_onig(onig_pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    std::array<PCRE2_UCHAR, 256> message{};
    pcre2_get_error_message(error_code, message.data(), message.size());
    return error{"regex '" + std::string(onig_pattern) +
                 "': " + reinterpret_cast<const char*>(message.data())};
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional speed-up
  std::shared_ptr<regex> r(new regex());
  r->code_ = code;
  return std::shared_ptr<const regex>(std::move(r));
}

regex::~regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::vector<std::pair<size_t, size_t>> regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* match = pcre2_match_data_create_from_pattern(code, nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t pos = 0;
  while (pos <= text.size()) {
    const int rc = pcre2_match(code, subject, text.size(), pos, PCRE2_NO_UTF_CHECK, match, nullptr);
    if (rc < 0) break;
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
    if (ovector[1] > ovector[0]) {
      matches.emplace_back(ovector[0], ovector[1]);
      pos = ovector[1];
    } else {
      // An empty match: step one character forward (empty pieces are dropped anyway).
      pos = ovector[0] + 1;
      while (pos < text.size() && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80)
        ++pos;
    }
  }
  pcre2_match_data_free(match);
  return matches;
}

}  // namespace troupe::runtime::hf_text
