// Shared helpers of the CPU kernel tests (dense, panel, quant gemm): seeded random inputs, bitwise
// comparison and names for failure messages. Everything is deterministic: the same seed gives the
// same bytes on every machine, so a failing case can be reproduced from its message.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/quant_blocks.hpp"
#include "kernels/cpu/quant_gemm.hpp"

namespace troupe::kernels::cpu::test {

// -- any kernel --

// n floats uniform in [-1, 1).
inline std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

// n floats from the standard normal distribution (activations of the quantized kernels).
inline std::vector<float> random_normal_floats(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

inline bool bitwise_equal(const float* a, const float* b, size_t n) {
  return std::memcmp(a, b, n * sizeof(float)) == 0;
}

// Outputs of several products of M rows (N[i] columns each, filled with -1) and their pointers,
// for the kernels that take many weights at once.
struct many_outputs {
  std::vector<std::vector<float>> ys;
  std::vector<float*> pointers;
  many_outputs(int64_t M, std::span<const int64_t> Ns) {
    for (int64_t N : Ns)
      ys.emplace_back(M * N, -1.0f);
    for (auto& y : ys)
      pointers.push_back(y.data());
  }
};

// Same size and the same bits (so -0 != +0, and a NaN equals the same NaN).
inline bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && bitwise_equal(a.data(), b.data(), a.size());
}

// -- dense and panel gemm --

constexpr dense_type all_dense_types[] = {dense_type::f32, dense_type::bf16, dense_type::f16};

inline const char* name(dense_type type) {
  return type == dense_type::f32 ? "f32" : type == dense_type::bf16 ? "bf16" : "f16";
}

// The ISAs, scalar first, for which `supported` (dense_isa_supported, panel_isa_supported) holds.
inline std::vector<dense_isa> supported_isas(bool (*supported)(dense_isa)) {
  std::vector<dense_isa> isas;
  for (dense_isa isa : {dense_isa::scalar, dense_isa::avx2, dense_isa::avx512})
    if (supported(isa)) isas.push_back(isa);
  return isas;
}

// n weights of `type` as raw storage: f32 in [-2, 2]; bf16 the top halves of such floats; f16 any
// finite bit pattern (subnormals and values up to 65504 included).
inline std::vector<uint8_t> random_dense_weights(dense_type type, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<uint8_t> bytes(n * (type == dense_type::f32 ? 4 : 2));
  for (size_t i = 0; i < n; ++i) {
    float v = dist(rng);
    if (type == dense_type::f32) {
      std::memcpy(&bytes[4 * i], &v, 4);
      continue;
    }
    uint16_t bits = static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16);
    if (type == dense_type::f16) {
      do {
        bits = static_cast<uint16_t>(rng());
      } while (((bits >> 10) & 0x1f) == 0x1f);  // no infinities or NaNs
    }
    std::memcpy(&bytes[2 * i], &bits, 2);
  }
  return bytes;
}

// Raw weights of `type` widened to f32 (the kernels' exact conversion), one float per weight.
inline std::vector<float> widened(dense_type type, const std::vector<uint8_t>& bytes) {
  if (type == dense_type::f32) {
    std::vector<float> v(bytes.size() / 4);
    std::memcpy(v.data(), bytes.data(), bytes.size());
    return v;
  }
  std::vector<float> v(bytes.size() / 2);
  for (size_t i = 0; i < v.size(); ++i) {
    uint16_t bits;
    std::memcpy(&bits, &bytes[2 * i], 2);
    v[i] = type == dense_type::bf16 ? bf16_to_float(bits) : f16_to_float(bits);
  }
  return v;
}

// -- quantized gemm --

constexpr block_format all_block_formats[] = {
    block_format::q8_0, block_format::q4_0, block_format::q4_1, block_format::q5_0,
    block_format::q5_1, block_format::q4_k, block_format::q5_k, block_format::q6_k};
// The quant paths this CPU runs, scalar first.
inline std::vector<quant_path> supported_quant_paths() {
  std::vector<quant_path> paths;
  for (quant_path p : {quant_path::scalar, quant_path::avx2, quant_path::avx512_vnni})
    if (quant_path_supported(p)) paths.push_back(p);
  return paths;
}

inline std::string name(block_format f) {
  const char* names[] = {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"};
  return names[static_cast<int>(f)];
}

inline std::string name(quant_path p) {
  const char* names[] = {"scalar", "avx2", "avx512_vnni"};
  return names[static_cast<int>(p)];
}

// Overwrites the f16 scale (and min) of every block in `w` (whole rows of format f, any quant
// bytes) with sane values drawn from `rng`, so the decoded weights are finite and small.
inline void set_sane_block_scales(block_format f, std::vector<uint8_t>& w, std::mt19937& rng) {
  auto put_f16 = [](uint8_t* p, float v) {
    const uint16_t h = quant::f32_to_f16(v);
    std::memcpy(p, &h, sizeof h);
  };
  std::uniform_real_distribution<float> scale(0.002f, 0.05f), offset(-0.1f, 0.1f);
  for (size_t at = 0; at < w.size(); at += block_bytes(f)) {
    uint8_t* block = w.data() + at;
    if (f == block_format::q6_k) {
      put_f16(block + 208, scale(rng) * 0.05f);
    } else if (f == block_format::q4_k || f == block_format::q5_k) {
      put_f16(block, scale(rng) * 0.1f);
      put_f16(block + 2, scale(rng) * 0.05f);
    } else {
      put_f16(block, scale(rng));
      if (f == block_format::q4_1 || f == block_format::q5_1) put_f16(block + 2, offset(rng));
    }
  }
}

}  // namespace troupe::kernels::cpu::test
