#pragma once
// 8-bit floating point (OCP FP8) codes, as an fp8 KV cache stores keys and values: the reference
// conversions, one byte per element.
//
//   e4m3 (e4m3fn, vLLM's "fp8" and "fp8_e4m3"): s eeee mmm, bias 7
//     largest finite +-448 (0x7e/0xfe); no infinities; NaN = s 1111 111 (0x7f/0xff)
//     smallest subnormal 2^-9 (0x01), smallest normal 2^-6 (0x08)
//   e5m2 ("fp8_e5m2"): s eeeee mm, bias 15
//     largest finite +-57344 (0x7b/0xfb); +-inf 0x7c/0xfc; NaN = s 11111 mm, mm != 0
//     smallest subnormal 2^-16 (0x01), smallest normal 2^-14 (0x04)
//
//   value = (-1)^s * 2^(e - bias) * (1 + m / 2^M)    for e > 0
//           (-1)^s * 2^(1 - bias) * (m / 2^M)        for e = 0 (subnormal)
//
// Encoding (float -> code) is vLLM's saturating conversion (CUDA's __NV_SATFINITE): round to
// nearest, ties to even; a magnitude at or beyond the largest finite value (infinity included)
// becomes that value with its sign; NaN stays NaN (code 0x7f with the input's sign); -0 stays -0.
// Decoding (code -> float) is exact. Every code but NaN (and e5m2's infinities, which saturate)
// survives decode then encode.
//
// A scaled cache stores encode(x / scale) and reads decode(code) * scale (vLLM's k_scale and
// v_scale); both are per-element with no dependence on neighbouring elements.
#include <cstdint>

namespace troupe::kernels::cpu {

enum class fp8_format : uint8_t { e4m3, e5m2 };

// The largest finite magnitude: 448 (e4m3) or 57344 (e5m2).
float fp8_max(fp8_format format);

// The exact value of `code`.
float fp8_to_float(uint8_t code, fp8_format format);

// The code nearest to x (ties to even), saturated to +-fp8_max(format).
uint8_t float_to_fp8(float x, fp8_format format);

// codes[i] = float_to_fp8(x[i] / scale).   x, codes: [n]; requires: scale > 0.
void quantize_fp8(const float* x, int64_t n, float scale, fp8_format format, uint8_t* codes);

// out[i] = fp8_to_float(codes[i]) * scale.   codes, out: [n]
void dequantize_fp8(const uint8_t* codes, int64_t n, float scale, fp8_format format, float* out);

}  // namespace troupe::kernels::cpu
