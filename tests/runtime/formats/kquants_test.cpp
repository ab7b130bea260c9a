// Q5_0, Q5_1, Q4_K, Q5_K, Q6_K: blocks made by llama.cpp's quantizer decode to exactly what gguf-py
// decodes (tests/data/formats/kquants.{gguf,_values.json}, tools/kquant_reference.py), and
// hand-built blocks pin the bit layouts.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <iterator>
#include <vector>

#include "runtime/formats/dequant.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/half.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

void put_f16(std::vector<uint8_t>& block, size_t at, float value) {
  const uint16_t h = f32_to_f16(value);
  block[at] = static_cast<uint8_t>(h & 0xff);
  block[at + 1] = static_cast<uint8_t>(h >> 8);
}

std::vector<float> decode(ggml_type type, const std::vector<uint8_t>& bytes, size_t n) {
  std::vector<float> out(n, -12345.0f);
  status s = dequantize(static_cast<uint32_t>(type), bytes, out, "t");
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.message());
  return out;
}

TEST(kquants, llama_cpp_blocks_decode_as_gguf_py_does) {
  result<std::shared_ptr<const gguf_file>> file =
      gguf_file::open(troupe::testing::repo_testdata("formats/kquants.gguf"));
  ASSERT_TRUE(file.ok()) << file.message();
  std::ifstream in(troupe::testing::repo_testdata("formats/kquants_values.json"));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  rapidjson::Document doc;
  doc.Parse(text.c_str());
  ASSERT_FALSE(doc.HasParseError());
  ASSERT_EQ(doc["tensors"].Size(), 5u);
  for (const auto& expected : doc["tensors"].GetArray()) {
    const std::string name = expected["name"].GetString();
    const gguf_tensor_info* info = (*file)->find_tensor(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(ggml_type_name(info->type), expected["type"].GetString());
    result<std::vector<float>> values = (*file)->dequantize(*info);
    ASSERT_TRUE(values.ok()) << values.message();
    const auto& want = expected["values"];
    ASSERT_EQ(values->size(), want.Size()) << name;
    size_t mismatches = 0;
    for (size_t i = 0; i < values->size(); ++i) {
      if ((*values)[i] != want[static_cast<rapidjson::SizeType>(i)].GetFloat()) ++mismatches;
    }
    EXPECT_EQ(mismatches, 0u) << name;
  }
}

// Bit j of qh is the fifth bit of weight j, bit j + 16 that of weight j + 16.
TEST(kquants, q5_0_fifth_bits_come_from_qh) {
  std::vector<uint8_t> block(22, 0);
  put_f16(block, 0, 1.0f);
  block[2] = 0x01;  // weight 0
  block[5] = 0x80;  // bit 31: weight 31
  block[6] = 0x3f;  // weight 0 low nibble 15, weight 16 high nibble 3
  const std::vector<float> x = decode(ggml_type::q5_0, block, 32);
  EXPECT_EQ(x[0], 31.0f - 16.0f);
  EXPECT_EQ(x[16], 3.0f - 16.0f);
  EXPECT_EQ(x[31], 16.0f - 16.0f);
  EXPECT_EQ(x[1], -16.0f);
}

TEST(kquants, q5_1_adds_the_minimum) {
  std::vector<uint8_t> block(24, 0);
  put_f16(block, 0, 0.5f);
  put_f16(block, 2, -2.0f);
  block[4] = 0x02;  // weight 1 gets 16
  block[8] = 0xf0;  // weight 16 high nibble 15
  block[9] = 0x07;  // weight 1 low nibble 7
  const std::vector<float> x = decode(ggml_type::q5_1, block, 32);
  EXPECT_EQ(x[0], -2.0f);
  EXPECT_EQ(x[1], 23 * 0.5f - 2.0f);
  EXPECT_EQ(x[16], 15 * 0.5f - 2.0f);
}

// Sub-blocks 4..7 of Q4_K/Q5_K keep 4 low bits in bytes 8..11 and 2 high bits in bytes 0..7.
TEST(kquants, q4_k_packs_high_sub_block_scales_across_bytes) {
  std::vector<uint8_t> block(144, 0);
  put_f16(block, 0, 1.0f);  // d
  put_f16(block, 2, 0.5f);  // dmin
  uint8_t* scales = block.data() + 4;
  scales[0] = 3 | (1 << 6);  // sub-block 0 scale 3; high bits of sub-block 4's scale: 1
  scales[4] = 2 | (2 << 6);  // sub-block 0 min 2; high bits of sub-block 4's min: 2
  scales[8] = 5 | (7 << 4);  // sub-block 4: scale low 5, min low 7
  for (size_t l = 0; l < 32; ++l)
    block[16 + l] = 0x0f;  // sub-block 0 weights 15; sub-block 1 weights 0
  for (size_t l = 0; l < 32; ++l)
    block[16 + 64 + l] = 0x02;  // sub-block 4 weights 2
  const std::vector<float> x = decode(ggml_type::q4_k, block, 256);
  EXPECT_EQ(x[0], 3.0f * 15 - 0.5f * 2);
  EXPECT_EQ(x[32], 0.0f);  // sub-block 1: scale 0, min 0
  EXPECT_EQ(x[128], (5 + 16) * 2.0f - 0.5f * (7 + 32));
}

TEST(kquants, q6_k_signed_scales_and_offset) {
  std::vector<uint8_t> block(210, 0);
  put_f16(block, 208, 0.25f);
  block[192] = static_cast<uint8_t>(static_cast<int8_t>(-4));  // scale of weights 0..15
  block[0] = 0x05;                                             // weight 0 low bits 5
  block[128] = 0x03;                                           // weight 0 high bits 3: q = 53
  const std::vector<float> x = decode(ggml_type::q6_k, block, 256);
  EXPECT_EQ(x[0], 0.25f * -4.0f * (53 - 32));
  EXPECT_EQ(x[1], 0.25f * -4.0f * -32);
  EXPECT_EQ(x[16], 0.0f);  // scale 0
}

TEST(kquants, partial_super_block_is_an_error) {
  std::vector<uint8_t> bytes(144, 0);
  std::vector<float> out(128);
  EXPECT_FALSE(dequantize(static_cast<uint32_t>(ggml_type::q4_k), bytes, out, "w").ok());
}

}  // namespace
}  // namespace troupe::runtime
