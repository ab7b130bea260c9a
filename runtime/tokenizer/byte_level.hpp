#pragma once
// GPT-2's byte-level alphabet: every byte maps to one printable codepoint so that BPE works on
// text that contains no raw spaces or control bytes. Bytes 0x21-0x7E, 0xA1-0xAC and 0xAE-0xFF
// map to themselves; the other 68 bytes map, in increasing order, to U+0100, U+0101, ...
// (so ' ' = 0x20 becomes U+0120 'Ġ' and '\n' becomes U+010A 'Ċ'). Internal to troupe_tokenizer.
#include <cstdint>
#include <string>
#include <string_view>

namespace troupe::runtime::byte_level {

// The codepoint byte `b` maps to.
uint32_t codepoint_of_byte(uint8_t b);
// The byte that `cpt` stands for, or -1 when `cpt` is not in the alphabet.
int byte_of_codepoint(uint32_t cpt);

// Raw bytes -> byte-level text (UTF-8 of the mapped codepoints).
std::string encode(std::string_view bytes);
// Byte-level text -> raw bytes. Codepoints outside the alphabet (not produced by encode) are
// passed through as their UTF-8, invalid UTF-8 bytes as they are.
std::string decode(std::string_view text);

}  // namespace troupe::runtime::byte_level
