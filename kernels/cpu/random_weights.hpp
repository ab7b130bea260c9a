#pragma once
// Dummy weights (vLLM's --load-format dummy): values drawn from a counter-based generator, so
// any element can be computed alone from (seed, index), on the host or on a GPU, with the same
// bits on both (kernels/cuda/random.hpp generates them on the device with these functions).
//
//   bits  = splitmix64(seed + index * golden)                 one 64-bit draw per element
//   value = float(int32(bits >> 40) - 2^23) * (bound * 2^-23)  in [-bound, bound)
//
// The value is an exact 24-bit integer times an exact power-of-two rescaling of `bound`, one f32
// multiply: no contraction or order can change it. 16-bit weights store it rounded to nearest
// even; int8 weights (W8A8) draw int8(bits >> 56) clamped to [-127, 127].
#include <cstdint>

#if defined(__CUDACC__)
#define TROUPE_HOST_DEVICE __host__ __device__
#else
#define TROUPE_HOST_DEVICE
#endif

namespace troupe::kernels::cpu {

TROUPE_HOST_DEVICE inline uint64_t random_bits(uint64_t seed, uint64_t index) {
  uint64_t z = seed + index * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [-bound, bound) on a grid of 2^24 steps. requires: bound a finite positive normal.
TROUPE_HOST_DEVICE inline float random_uniform(uint64_t seed, uint64_t index, float bound) {
  const auto k = static_cast<int32_t>(random_bits(seed, index) >> 40) - (int32_t{1} << 23);
  return static_cast<float>(k) * (bound * 0x1p-23f);
}

// Uniform in [-127, 127].
TROUPE_HOST_DEVICE inline int8_t random_int8(uint64_t seed, uint64_t index) {
  const auto q = static_cast<int8_t>(static_cast<uint8_t>(random_bits(seed, index) >> 56));
  return q < -127 ? int8_t{-127} : q;
}

}  // namespace troupe::kernels::cpu
