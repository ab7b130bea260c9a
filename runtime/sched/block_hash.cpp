#include "runtime/sched/block_hash.hpp"

#include <cassert>
#include <cstring>
#include <string>

#include <openssl/evp.h>
#include <xxhash.h>

namespace troupe::runtime {
namespace {

void append_u32(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xffu));
}

std::string serialize(const block_hash* parent, std::span<const int32_t> tokens,
                      std::string_view extra_key) {
  std::string bytes;
  bytes.reserve(32 + 8 + tokens.size() * 4 + extra_key.size());
  const block_hash root{};
  for (uint64_t word : (parent ? *parent : root).words) {
    for (int i = 0; i < 8; ++i)
      bytes.push_back(static_cast<char>((word >> (8 * i)) & 0xffu));
  }
  append_u32(bytes, static_cast<uint32_t>(tokens.size()));
  for (int32_t token : tokens)
    append_u32(bytes, static_cast<uint32_t>(token));
  append_u32(bytes, static_cast<uint32_t>(extra_key.size()));
  bytes.append(extra_key);
  return bytes;
}

uint64_t load_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i)
    v = (v << 8) | p[i];
  return v;
}

block_hash sha256(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  const int ok = EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  assert(ok == 1 && length == 32);
  (void)ok;
  block_hash h;
  for (size_t i = 0; i < 4; ++i)
    h.words[i] = load_u64_le(digest + 8 * i);
  return h;
}

block_hash xxh3_128(const std::string& bytes) {
  const XXH128_hash_t x = XXH3_128bits(bytes.data(), bytes.size());
  block_hash h;
  h.words[0] = x.low64;
  h.words[1] = x.high64;
  return h;
}

}  // namespace

std::optional<block_hash_algo> parse_block_hash_algo(std::string_view name) {
  if (name == "sha256") return block_hash_algo::sha256;
  if (name == "xxhash") return block_hash_algo::xxhash;
  return std::nullopt;
}

std::string_view to_string(block_hash_algo algo) {
  return algo == block_hash_algo::xxhash ? "xxhash" : "sha256";
}

block_hash hash_block(block_hash_algo algo, const block_hash* parent,
                      std::span<const int32_t> tokens, std::string_view extra_key) {
  const std::string bytes = serialize(parent, tokens, extra_key);
  return algo == block_hash_algo::xxhash ? xxh3_128(bytes) : sha256(bytes);
}

void extend_block_hashes(block_hash_algo algo, int32_t block_size, std::span<const int32_t> tokens,
                         std::string_view extra_key, std::vector<block_hash>& hashes) {
  assert(block_size >= 1);
  const size_t num_full = tokens.size() / static_cast<size_t>(block_size);
  for (size_t i = hashes.size(); i < num_full; ++i) {
    const auto block =
        tokens.subspan(i * static_cast<size_t>(block_size), static_cast<size_t>(block_size));
    const block_hash* parent = i == 0 ? nullptr : &hashes[i - 1];
    hashes.push_back(hash_block(algo, parent, block, i == 0 ? extra_key : std::string_view{}));
  }
}

}  // namespace troupe::runtime
