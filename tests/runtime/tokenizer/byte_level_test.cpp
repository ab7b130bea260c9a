#include <gtest/gtest.h>

#include <set>

#include "runtime/tokenizer/byte_level.hpp"
#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime {
namespace {

TEST(ByteLevel, AllBytesRoundTripThroughDistinctPrintableCodepoints) {
  std::set<uint32_t> seen;
  std::string all;
  for (int b = 0; b < 256; ++b) {
    const uint32_t cpt = byte_level::codepoint_of_byte(static_cast<uint8_t>(b));
    EXPECT_TRUE(seen.insert(cpt).second) << b;
    EXPECT_FALSE(cpt <= 0x20 || (cpt >= 0x7F && cpt <= 0xA0) || cpt == 0xAD) << b;
    EXPECT_EQ(byte_level::byte_of_codepoint(cpt), b);
    all += static_cast<char>(b);
  }
  EXPECT_EQ(byte_level::decode(byte_level::encode(all)), all);
}

TEST(ByteLevel, KnownGpt2Mapping) {
  EXPECT_EQ(byte_level::encode(" "), "Ġ");
  EXPECT_EQ(byte_level::encode("\n"), "Ċ");
  EXPECT_EQ(byte_level::encode("\t"), "ĉ");
  EXPECT_EQ(byte_level::encode("a b"), "aĠb");
  EXPECT_EQ(byte_level::encode("é"), "Ã©");
  EXPECT_EQ(byte_level::codepoint_of_byte(0x00), 0x100u);
  EXPECT_EQ(byte_level::codepoint_of_byte(0x7F), 0x121u);
  EXPECT_EQ(byte_level::codepoint_of_byte(0xAD), 0x143u);
  EXPECT_EQ(byte_level::codepoint_of_byte('!'), static_cast<uint32_t>('!'));
  EXPECT_EQ(byte_level::byte_of_codepoint(0x144), -1);
  EXPECT_EQ(byte_level::byte_of_codepoint(' '), -1);
}

TEST(ByteLevel, DecodePassesForeignCodepointsThrough) {
  EXPECT_EQ(byte_level::decode("Ġ日"), " 日");
}

TEST(Utf8, RepairReplacesMaximalSubparts) {
  std::string out;
  EXPECT_EQ(utf8::append_repaired("a\xE2\x82", true, out), 3u);
  EXPECT_EQ(out, "a\xEF\xBF\xBD");
  out.clear();
  EXPECT_EQ(utf8::append_repaired("a\xE2\x82", false, out), 1u);  // may still complete
  EXPECT_EQ(out, "a");
  out.clear();
  // E2 82 then 'x': one U+FFFD for the broken prefix, then x. C0 is never valid.
  EXPECT_EQ(utf8::append_repaired("\xE2\x82x\xC0", false, out), 4u);
  EXPECT_EQ(out, "\xEF\xBF\xBDx\xEF\xBF\xBD");
  out.clear();
  (void)utf8::append_repaired("\xED\xA0\x80", true, out);  // a surrogate: three bad bytes
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(Utf8, RepairBytewise) {
  EXPECT_EQ(utf8::repair_bytewise("ok ✓"), "ok ✓");
  EXPECT_EQ(utf8::repair_bytewise("\xE2\x82x"), "\xEF\xBF\xBD\xEF\xBF\xBDx");
}

}  // namespace
}  // namespace troupe::runtime
