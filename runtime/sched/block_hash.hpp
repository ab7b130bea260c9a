#pragma once
// Content hashes of full KV blocks, the keys of the prefix cache (vLLM V1's block hashes).
//
// A block's hash chains on its parent's, so equal hashes mean equal token prefixes, not just
// equal blocks:
//
//   hash[0] = H(root,    tokens[0 .. bs),     extra_key)     extra_key: the request's cache salt
//   hash[i] = H(hash[i-1], tokens[i*bs .. (i+1)*bs), "")
//
// Only full blocks have hashes; a partial last block is never shared. The bytes hashed are
// parent (32 bytes) | number of tokens (u32 LE) | token ids (i32 LE each) | extra key length
// (u32 LE) | extra key bytes, so no two different inputs serialize alike. sha256 (OpenSSL) is
// collision-resistant; xxhash (XXH3-128) is faster and fine when every client is trusted.
//
// Thread: pure functions.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace troupe::runtime {

enum class block_hash_algo : uint8_t { sha256, xxhash };

// "sha256" | "xxhash" (vLLM's --prefix-caching-hash-algo names).
std::optional<block_hash_algo> parse_block_hash_algo(std::string_view name);
std::string_view to_string(block_hash_algo algo);

// 256 bits (xxhash fills the first 128, the rest stay zero).
struct block_hash {
  std::array<uint64_t, 4> words{};
  friend bool operator==(const block_hash&, const block_hash&) = default;
};

struct block_hash_hasher {
  size_t operator()(const block_hash& h) const { return static_cast<size_t>(h.words[0]); }
};

// The hash of one full block. `parent` is null for the first block of a sequence.
block_hash hash_block(block_hash_algo algo, const block_hash* parent,
                      std::span<const int32_t> tokens, std::string_view extra_key);

// Appends to `hashes` the hashes of the full blocks of `tokens` it does not cover yet (hashes
// already holds those of the first hashes.size() blocks). `extra_key` goes into block 0 only.
// requires: block_size >= 1.
void extend_block_hashes(block_hash_algo algo, int32_t block_size, std::span<const int32_t> tokens,
                         std::string_view extra_key, std::vector<block_hash>& hashes);

}  // namespace troupe::runtime
