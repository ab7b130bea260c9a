#pragma once
// UTF-8 helpers for the tokenizer: sequence lengths, strict validation, and repair of invalid or
// incomplete sequences into U+FFFD. Pure functions; the HTTP layer's JSON readers use
// append_codepoint too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::runtime::utf8 {

inline constexpr std::string_view replacement_char = "\xEF\xBF\xBD";  // U+FFFD

// Appends the UTF-8 encoding of `cpt` (must be <= 0x10FFFF) to `out`.
void append_codepoint(uint32_t cpt, std::string& out);

// Length of the well-formed UTF-8 sequence starting at `s[pos]`, or 0 when the bytes there are
// not one (invalid lead byte, bad continuation, overlong, surrogate, > U+10FFFF, or truncated).
size_t valid_sequence_length(std::string_view s, size_t pos);

// Decodes the well-formed sequence of `length` bytes at `s[pos]` (as valid_sequence_length gave).
uint32_t decode_at(std::string_view s, size_t pos, size_t length);

// `s` with every byte that does not start a well-formed sequence replaced by U+FFFD, one per
// byte (what llama.cpp's codepoint decoder does with bad input).
std::string repair_bytewise(std::string_view s);

// Appends `bytes` to `out` as valid UTF-8: each maximal invalid subpart (Unicode's "best
// practice", one U+FFFD per maximal subpart) becomes U+FFFD. When `final` is false, a trailing
// sequence that is incomplete but could still become valid is left unconsumed. Returns the
// number of bytes consumed. The output for a byte string never depends on where it was cut
// between calls, so streaming and one-shot repair agree.
size_t append_repaired(std::string_view bytes, bool final, std::string& out);

}  // namespace troupe::runtime::utf8
