#include "runtime/tokenizer/byte_level.hpp"

#include <array>

#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime::byte_level {
namespace {

bool maps_to_itself(int b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

struct tables {
  std::array<uint32_t, 256> cpt_of_byte{};
  std::array<std::string, 256> utf8_of_byte{};
  std::array<int16_t, 0x144> byte_of_cpt{};  // every mapped codepoint is below U+0144

  tables() {
    byte_of_cpt.fill(-1);
    uint32_t next_shifted = 0x100;
    for (int b = 0; b < 256; ++b) {
      const uint32_t cpt = maps_to_itself(b) ? static_cast<uint32_t>(b) : next_shifted++;
      cpt_of_byte[b] = cpt;
      utf8::append_codepoint(cpt, utf8_of_byte[b]);
      byte_of_cpt[cpt] = static_cast<int16_t>(b);
    }
  }
};

const tables& the_tables() {
  static const tables t;
  return t;
}

}  // namespace

uint32_t codepoint_of_byte(uint8_t b) {
  return the_tables().cpt_of_byte[b];
}

int byte_of_codepoint(uint32_t cpt) {
  const auto& t = the_tables();
  return cpt < t.byte_of_cpt.size() ? t.byte_of_cpt[cpt] : -1;
}

std::string encode(std::string_view bytes) {
  const auto& t = the_tables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const char c : bytes)
    out += t.utf8_of_byte[static_cast<uint8_t>(c)];
  return out;
}

std::string decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t n = utf8::valid_sequence_length(text, pos);
    if (n == 0) {
      out += text[pos++];
      continue;
    }
    const int b = byte_of_codepoint(utf8::decode_at(text, pos, n));
    if (b >= 0) {
      out += static_cast<char>(b);
    } else {
      out.append(text.substr(pos, n));
    }
    pos += n;
  }
  return out;
}

}  // namespace troupe::runtime::byte_level
