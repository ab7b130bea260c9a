// Compares the emulator's conversions (include/emu/numerics.hpp, include/emu/fp8.hpp) with the
// host implementations in the real CUDA headers (cuda_bf16.hpp, cuda_fp16.hpp, cuda_fp8.hpp),
// which the device instructions match: every 16-bit and fp8 code, and about seven million f32
// values per conversion (every top-20-bit pattern with low bits at and around the rounding ties).
// Built only where the CUDA toolkit's headers are; exits 1 on the first disagreements.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>

#include "../include/emu/fp8.hpp"
#include "../include/emu/numerics.hpp"

namespace {

int failures = 0;

void report(const char* what, uint32_t input, uint32_t emu, uint32_t cuda) {
  if (++failures <= 20)
    std::printf("MISMATCH %s of 0x%08x: emulator 0x%x, CUDA 0x%x\n", what, input, emu, cuda);
}

template <class F>
void for_sampled_floats(F f) {
  const uint32_t lows[] = {0x000, 0x001, 0x7ff, 0x800, 0x801, 0xfff};
  std::mt19937 rng(1);
  for (uint32_t high = 0; high < (1u << 20); ++high) {
    for (uint32_t low : lows)
      f(std::bit_cast<float>(high << 12 | low));
    f(std::bit_cast<float>(high << 12 | (static_cast<uint32_t>(rng()) & 0xfffu)));
  }
}

}  // namespace

int main() {
  for_sampled_floats([](float x) {
    const uint32_t in = std::bit_cast<uint32_t>(x);
    const uint32_t bf = emu::f32_to_bf16_rn(x),
                   bf_cuda = __bfloat16_as_ushort(__float2bfloat16_rn(x));
    if (bf != bf_cuda) report("f32 -> bf16", in, bf, bf_cuda);
    const uint32_t h = emu::f32_to_f16_rn(x), h_cuda = __half_as_ushort(__float2half_rn(x));
    if (h != h_cuda) report("f32 -> f16", in, h, h_cuda);
    for (bool e4m3 : {true, false}) {
      const uint32_t c = emu::fp8_from_f32_satfinite(x, e4m3);
      const uint32_t c_cuda =
          __nv_cvt_float_to_fp8(x, __NV_SATFINITE, e4m3 ? __NV_E4M3 : __NV_E5M2);
      if (c != c_cuda) report(e4m3 ? "f32 -> e4m3" : "f32 -> e5m2", in, c, c_cuda);
    }
  });
  for (uint32_t b = 0; b < 65536; ++b) {
    const auto u = static_cast<uint16_t>(b);
    const uint32_t f = std::bit_cast<uint32_t>(emu::f16_to_f32(u));
    const uint32_t f_cuda = std::bit_cast<uint32_t>(__half2float(__ushort_as_half(u)));
    if (f != f_cuda &&
        !(std::isnan(std::bit_cast<float>(f)) && std::isnan(std::bit_cast<float>(f_cuda))))
      report("f16 -> f32", b, f, f_cuda);
    const uint32_t g = std::bit_cast<uint32_t>(emu::bf16_to_f32(u));
    const uint32_t g_cuda = std::bit_cast<uint32_t>(__bfloat162float(__ushort_as_bfloat16(u)));
    if (g != g_cuda) report("bf16 -> f32", b, g, g_cuda);
  }
  for (uint32_t code = 0; code < 256; ++code) {
    for (bool e4m3 : {true, false}) {
      const uint32_t h = emu::fp8_to_f16_bits(static_cast<uint8_t>(code), e4m3);
      const uint32_t h_cuda = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code),
                                                      e4m3 ? __NV_E4M3 : __NV_E5M2)
                                  .x;
      if (h != h_cuda) report(e4m3 ? "e4m3 -> f16" : "e5m2 -> f16", code, h, h_cuda);
    }
  }
  std::printf("cuda_emu selfcheck: %d mismatches with the CUDA headers' conversions\n", failures);
  return failures == 0 ? 0 : 1;
}
