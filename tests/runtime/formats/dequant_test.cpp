#include "runtime/formats/dequant.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/formats/gguf.hpp"
#include "runtime/formats/half.hpp"

namespace troupe::runtime {
namespace {

constexpr uint32_t type_id(ggml_type t) {
  return static_cast<uint32_t>(t);
}

void put_f16(std::vector<uint8_t>& block, size_t at, float value) {
  const uint16_t h = f32_to_f16(value);
  block[at] = static_cast<uint8_t>(h & 0xff);
  block[at + 1] = static_cast<uint8_t>(h >> 8);
}

std::vector<float> decode(ggml_type type, const std::vector<uint8_t>& bytes, size_t n) {
  std::vector<float> out(n, -12345.0f);
  status s = dequantize(type_id(type), bytes, out, "t");
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.message());
  return out;
}

TEST(dequant, q8_0_block_is_scale_times_signed_bytes) {
  std::vector<uint8_t> block(34);
  put_f16(block, 0, 0.5f);
  for (int i = 0; i < 32; ++i)
    block[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(i * 8 - 128));
  const std::vector<float> x = decode(ggml_type::q8_0, block, 32);
  for (int i = 0; i < 32; ++i)
    EXPECT_EQ(x[i], (i * 8 - 128) * 0.5f) << i;
}

// Low nibbles are weights 0..15, high nibbles 16..31.
TEST(dequant, q4_0_block_low_nibbles_first) {
  std::vector<uint8_t> block(18);
  put_f16(block, 0, 0.25f);
  for (int j = 0; j < 16; ++j)
    block[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const std::vector<float> x = decode(ggml_type::q4_0, block, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[j], (j - 8) * 0.25f) << j;
    EXPECT_EQ(x[j + 16], (15 - j - 8) * 0.25f) << j;
  }
}

TEST(dequant, q4_1_block_adds_the_minimum) {
  std::vector<uint8_t> block(20);
  put_f16(block, 0, 2.0f);
  put_f16(block, 2, -3.5f);
  for (int j = 0; j < 16; ++j)
    block[4 + j] = static_cast<uint8_t>((j % 16) | (((j * 7) % 16) << 4));
  const std::vector<float> x = decode(ggml_type::q4_1, block, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(x[j], j * 2.0f - 3.5f) << j;
    EXPECT_EQ(x[j + 16], ((j * 7) % 16) * 2.0f - 3.5f) << j;
  }
}

TEST(dequant, several_blocks_each_use_their_own_scale) {
  std::vector<uint8_t> blocks(3 * 34, 0);
  for (int b = 0; b < 3; ++b) {
    std::vector<uint8_t> block(34, 0);
    put_f16(block, 0, static_cast<float>(b + 1));
    block[2 + 5] = 3;
    std::copy(block.begin(), block.end(), blocks.begin() + b * 34);
  }
  const std::vector<float> x = decode(ggml_type::q8_0, blocks, 96);
  for (int b = 0; b < 3; ++b) {
    EXPECT_EQ(x[b * 32 + 5], 3.0f * (b + 1));
    EXPECT_EQ(x[b * 32 + 6], 0.0f);
  }
}

TEST(dequant, plain_types) {
  std::vector<uint8_t> f16 = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00};  // 1, -2, 2^-24
  EXPECT_EQ(decode(ggml_type::f16, f16, 3), (std::vector<float>{1.0f, -2.0f, 5.9604645e-8f}));
  std::vector<uint8_t> bf16 = {0x80, 0x3f, 0x40, 0xc0};  // 1, -3
  EXPECT_EQ(decode(ggml_type::bf16, bf16, 2), (std::vector<float>{1.0f, -3.0f}));
  std::vector<uint8_t> f32(8);
  const float values[2] = {1.25f, -7.0f};
  std::memcpy(f32.data(), values, 8);
  EXPECT_EQ(decode(ggml_type::f32, f32, 2), (std::vector<float>{1.25f, -7.0f}));
}

TEST(dequant, unsupported_type_names_type_and_tensor) {
  std::vector<uint8_t> bytes(84);
  std::vector<float> out(256);
  status s = dequantize(type_id(ggml_type::q2_k), bytes, out, "blk.0.ffn_down.weight");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "unsupported tensor type Q2_K (10) for 'blk.0.ffn_down.weight'");
  EXPECT_TRUE(can_dequantize(type_id(ggml_type::q5_0)));
  EXPECT_TRUE(can_dequantize(type_id(ggml_type::q6_k)));
  EXPECT_FALSE(can_dequantize(type_id(ggml_type::q8_1)));
  EXPECT_FALSE(can_dequantize(12345));
}

TEST(dequant, size_mismatch_is_an_error) {
  std::vector<uint8_t> bytes(33);
  std::vector<float> out(32);
  EXPECT_FALSE(dequantize(type_id(ggml_type::q8_0), bytes, out, "t").ok());
  std::vector<float> partial(31);
  std::vector<uint8_t> block(34);
  EXPECT_FALSE(dequantize(type_id(ggml_type::q8_0), block, partial, "t").ok());
}

}  // namespace
}  // namespace troupe::runtime
