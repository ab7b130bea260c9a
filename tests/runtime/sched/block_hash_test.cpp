#include "runtime/sched/block_hash.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::runtime {
namespace {

// 64 hex digits -> the hash whose bytes they are (words little-endian), as the digest prints.
block_hash from_hex(const std::string& hex) {
  block_hash h;
  for (size_t i = 0; i < 32; ++i) {
    const auto byte = static_cast<uint64_t>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    h.words[i / 8] |= byte << (8 * (i % 8));
  }
  return h;
}

// Expected digests computed independently with Python's hashlib / xxhash over the documented
// serialization (parent | u32 count | i32 tokens | u32 key length | key).
TEST(BlockHash, Sha256OfTheDocumentedBytes) {
  const std::vector<int32_t> a{1, 2, 3, 4};
  const std::vector<int32_t> b{5, 6, 7, 8};
  const block_hash h0 = hash_block(block_hash_algo::sha256, nullptr, a, "");
  EXPECT_EQ(h0, from_hex("b6a0deb1ace9ed267aa2566a00dfba012a0a0a7f18282decea003718d8b9b040"));
  const block_hash h1 = hash_block(block_hash_algo::sha256, &h0, b, "");
  EXPECT_EQ(h1, from_hex("e91923497ca444987ceb36d7994cee01c50fa7d4fd963c418c845709a121dfc1"));
  EXPECT_EQ(hash_block(block_hash_algo::sha256, nullptr, a, "tenant-a"),
            from_hex("51c960f6b8c81a331a5015bcc9ae45ccd07204661097dba5f917e962ffed493d"));
}

TEST(BlockHash, Xxh3Of128BitsOfTheSameBytes) {
  const std::vector<int32_t> a{1, 2, 3, 4};
  const block_hash h = hash_block(block_hash_algo::xxhash, nullptr, a, "");
  EXPECT_EQ(h.words[0], 0xe5378d4faaa936d6u);
  EXPECT_EQ(h.words[1], 0x476a0571e5a30d48u);
  EXPECT_EQ(h.words[2], 0u);
  EXPECT_EQ(h.words[3], 0u);
}

TEST(BlockHash, ChainsOnTheParentSoOnlyEqualPrefixesMatch) {
  const std::vector<int32_t> x{1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::vector<int32_t> y{9, 2, 3, 4, 5, 6, 7, 8};  // same second block, other first
  std::vector<block_hash> hx, hy;
  extend_block_hashes(block_hash_algo::sha256, 4, x, "", hx);
  extend_block_hashes(block_hash_algo::sha256, 4, y, "", hy);
  ASSERT_EQ(hx.size(), 2u);  // the partial third block has no hash
  ASSERT_EQ(hy.size(), 2u);
  EXPECT_NE(hx[0], hy[0]);
  EXPECT_NE(hx[1], hy[1]);  // equal tokens, different parents
}

TEST(BlockHash, SaltChangesEveryBlockThroughTheChain) {
  const std::vector<int32_t> x{1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<block_hash> plain, salted, again;
  extend_block_hashes(block_hash_algo::sha256, 4, x, "", plain);
  extend_block_hashes(block_hash_algo::sha256, 4, x, "s", salted);
  extend_block_hashes(block_hash_algo::sha256, 4, x, "s", again);
  EXPECT_NE(plain[0], salted[0]);
  EXPECT_NE(plain[1], salted[1]);
  EXPECT_EQ(salted, again);
}

TEST(BlockHash, ExtendingHashesOnlyNewFullBlocks) {
  std::vector<int32_t> tokens{1, 2, 3};
  std::vector<block_hash> grown;
  extend_block_hashes(block_hash_algo::xxhash, 4, tokens, "k", grown);
  EXPECT_TRUE(grown.empty());
  for (int32_t t = 4; t <= 12; ++t) {
    tokens.push_back(t);
    extend_block_hashes(block_hash_algo::xxhash, 4, tokens, "k", grown);
  }
  std::vector<block_hash> whole;
  extend_block_hashes(block_hash_algo::xxhash, 4, tokens, "k", whole);
  EXPECT_EQ(grown.size(), 3u);
  EXPECT_EQ(grown, whole);
}

TEST(BlockHash, AlgorithmNames) {
  EXPECT_EQ(parse_block_hash_algo("sha256"), block_hash_algo::sha256);
  EXPECT_EQ(parse_block_hash_algo("xxhash"), block_hash_algo::xxhash);
  EXPECT_FALSE(parse_block_hash_algo("sha256_cbor"));
  EXPECT_EQ(to_string(block_hash_algo::xxhash), "xxhash");
}

}  // namespace
}  // namespace troupe::runtime
