#include "runtime/formats/ggml_types.hpp"

#include <array>
#include <limits>

#include "runtime/formats/gguf.hpp"

namespace troupe::runtime {
namespace {

// Indexed by type id; ids 4, 5 (old Q4_2/Q4_3) and 31..33 (repacked Q4_0 variants) were removed
// from ggml and stay null. Sizes follow ggml's block structs (ggml-common.h).
constexpr std::array<ggml_type_traits, 40> type_table = [] {
  std::array<ggml_type_traits, 40> t{};
  t[0] = {"F32", 1, 4};
  t[1] = {"F16", 1, 2};
  t[2] = {"Q4_0", 32, 18};    // f16 d, u8 qs[16]
  t[3] = {"Q4_1", 32, 20};    // f16 d, f16 m, u8 qs[16]
  t[6] = {"Q5_0", 32, 22};    // f16 d, u8 qh[4], u8 qs[16]
  t[7] = {"Q5_1", 32, 24};    // f16 d, f16 m, u8 qh[4], u8 qs[16]
  t[8] = {"Q8_0", 32, 34};    // f16 d, i8 qs[32]
  t[9] = {"Q8_1", 32, 36};    // f16 d, f16 s, i8 qs[32]
  t[10] = {"Q2_K", 256, 84};  // super-blocks of 256 from here on
  t[11] = {"Q3_K", 256, 110};
  t[12] = {"Q4_K", 256, 144};
  t[13] = {"Q5_K", 256, 176};
  t[14] = {"Q6_K", 256, 210};
  t[15] = {"Q8_K", 256, 292};
  t[16] = {"IQ2_XXS", 256, 66};
  t[17] = {"IQ2_XS", 256, 74};
  t[18] = {"IQ3_XXS", 256, 98};
  t[19] = {"IQ1_S", 256, 50};
  t[20] = {"IQ4_NL", 32, 18};
  t[21] = {"IQ3_S", 256, 110};
  t[22] = {"IQ2_S", 256, 82};
  t[23] = {"IQ4_XS", 256, 136};
  t[24] = {"I8", 1, 1};
  t[25] = {"I16", 1, 2};
  t[26] = {"I32", 1, 4};
  t[27] = {"I64", 1, 8};
  t[28] = {"F64", 1, 8};
  t[29] = {"IQ1_M", 256, 56};
  t[30] = {"BF16", 1, 2};
  t[34] = {"TQ1_0", 256, 54};
  t[35] = {"TQ2_0", 256, 66};
  t[39] = {"MXFP4", 32, 17};  // u8 e, u8 qs[16]
  return t;
}();

}  // namespace

const ggml_type_traits* ggml_type_info(uint32_t type) {
  if (type >= type_table.size() || type_table[type].name == nullptr) return nullptr;
  return &type_table[type];
}

std::optional<uint64_t> ggml_nbytes(uint32_t type, uint64_t num_elements) {
  const ggml_type_traits* info = ggml_type_info(type);
  if (info == nullptr || num_elements % info->block_size != 0) return std::nullopt;
  const uint64_t num_blocks = num_elements / info->block_size;
  if (num_blocks > std::numeric_limits<uint64_t>::max() / info->type_size) return std::nullopt;
  return num_blocks * info->type_size;
}

std::string ggml_type_name(uint32_t type) {
  const ggml_type_traits* info = ggml_type_info(type);
  return info != nullptr ? std::string(info->name) : "type " + std::to_string(type);
}

}  // namespace troupe::runtime
