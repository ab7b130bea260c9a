#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime::utf8 {
namespace {

// The well-formed byte sequences of Unicode table 3-7: the total length a lead byte announces
// and the allowed range of the second byte (the later ones are always 80..BF).
struct lead_info {
  size_t length;  // 0: not a lead byte
  uint8_t second_lo;
  uint8_t second_hi;
};

lead_info classify_lead(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// How many bytes from `pos` form a valid prefix of a sequence (stops at the first bad byte or
// at the end of `s`); equals info.length for a complete sequence.
size_t valid_prefix_length(std::string_view s, size_t pos, const lead_info& info) {
  size_t k = 1;
  for (; k < info.length && pos + k < s.size(); ++k) {
    const auto c = static_cast<uint8_t>(s[pos + k]);
    const uint8_t lo = k == 1 ? info.second_lo : 0x80;
    const uint8_t hi = k == 1 ? info.second_hi : 0xBF;
    if (c < lo || c > hi) break;
  }
  return k;
}

}  // namespace

void append_codepoint(uint32_t cpt, std::string& out) {
  if (cpt < 0x80) {
    out += static_cast<char>(cpt);
  } else if (cpt < 0x800) {
    out += static_cast<char>(0xC0 | (cpt >> 6));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else if (cpt < 0x10000) {
    out += static_cast<char>(0xE0 | (cpt >> 12));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cpt >> 18));
    out += static_cast<char>(0x80 | ((cpt >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cpt >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cpt & 0x3F));
  }
}

size_t valid_sequence_length(std::string_view s, size_t pos) {
  const lead_info info = classify_lead(static_cast<uint8_t>(s[pos]));
  if (info.length == 0) return 0;
  return valid_prefix_length(s, pos, info) == info.length ? info.length : 0;
}

uint32_t decode_at(std::string_view s, size_t pos, size_t length) {
  static constexpr uint8_t lead_mask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  uint32_t cpt = static_cast<uint8_t>(s[pos]) & lead_mask[length];
  for (size_t k = 1; k < length; ++k)
    cpt = (cpt << 6) | (static_cast<uint8_t>(s[pos + k]) & 0x3F);
  return cpt;
}

std::string repair_bytewise(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) {
    const size_t n = valid_sequence_length(s, pos);
    if (n == 0) {
      out += replacement_char;
      ++pos;
    } else {
      out.append(s.substr(pos, n));
      pos += n;
    }
  }
  return out;
}

size_t append_repaired(std::string_view bytes, bool final, std::string& out) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const lead_info info = classify_lead(static_cast<uint8_t>(bytes[pos]));
    if (info.length == 0) {
      out += replacement_char;
      ++pos;
      continue;
    }
    const size_t k = valid_prefix_length(bytes, pos, info);
    if (k == info.length) {
      out.append(bytes.substr(pos, k));
    } else if (pos + k == bytes.size() && !final) {
      return pos;  // may still complete with the next bytes
    } else {
      out += replacement_char;  // the maximal subpart bytes[pos, pos + k)
    }
    pos += k;
  }
  return pos;
}

}  // namespace troupe::runtime::utf8
