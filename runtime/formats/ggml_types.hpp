#pragma once
// Storage facts about ggml tensor types: how many weights a block holds and how many bytes it
// takes. Every type a GGUF file may name is listed (so a file with K-quants opens fine); which of
// them troupe can dequantize is dequant.hpp's business.
#include <cstdint>
#include <optional>

namespace troupe::runtime {

struct ggml_type_traits {
  const char* name;     // "Q4_1", as ggml spells it
  uint32_t block_size;  // weights per block (1 for plain types)
  uint32_t type_size;   // bytes per block
};

// Traits of a type id, or nullptr for an id ggml does not define (or has removed).
const ggml_type_traits* ggml_type_info(uint32_t type);

// Bytes taken by `num_elements` weights of `type`; nullopt when the type is unknown or the count
// is not a whole number of blocks, or the size would overflow.
std::optional<uint64_t> ggml_nbytes(uint32_t type, uint64_t num_elements);

}  // namespace troupe::runtime
