// Activation quantization for the GGUF block products on the GPU (contract: quant_gemm.hpp's
// quant_quantize): kernels/cpu/quant_activations.cpp's q8_0 / q8_1 / q8_K bit for bit, with the
// explicit IEEE intrinsics its C++ performs.
#include <cuda_fp16.h>

#include <climits>
#include <cstdint>
#include <string>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/quant_gemm.hpp"

namespace troupe::kernels::cuda {
namespace {

constexpr unsigned full_mask = 0xffffffffu;
constexpr int warp_lanes = 32;

constexpr int quantize_warps = 8;

__device__ __forceinline__ float round_f16(float v) {
  return __half2float(__float2half_rn(v));
}

// q8_0 / q8_1: one warp per 32-block, a lane per value.
__global__ void quantize_32_kernel(const float* x, int64_t M, int64_t K, bool with_s,
                                   quant_activations out) {
  const int64_t nb = K / 32;
  const int64_t block = int64_t{blockIdx.x} * quantize_warps + threadIdx.x / warp_lanes;
  if (block >= M * nb) return;  // uniform across the warp
  const int lane = static_cast<int>(threadIdx.x) % warp_lanes;
  const float v =
      x[block * 32 + lane];  // rows are K = 32 nb apart: block b of row m at 32 (m nb + b)
  float amax = fabsf(v);
  for (int o = 16; o > 0; o /= 2)
    amax = fmaxf(amax, __shfl_xor_sync(full_mask, amax, o));
  amax = fmaxf(amax, 0.0f);  // the CPU's running max starts at 0 and skips NaN
  const float d = __fdiv_rn(amax, 127.0f);
  const float id = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
  const int32_t q = static_cast<int32_t>(roundf(__fmul_rn(v, id)));
  out.q[block * 32 + lane] = static_cast<int8_t>(q);
  int32_t sum = q;
  for (int o = 16; o > 0; o /= 2)
    sum += __shfl_xor_sync(full_mask, sum, o);
  if (lane == 0) {
    out.d[block] = round_f16(d);
    out.s[block] = with_s ? round_f16(__fmul_rn(__int2float_rn(sum), d)) : 0.0f;
    out.sums[block] = sum;
  }
}

// q8_K: one warp per 256-block, 8 consecutive values a lane.
__global__ void quantize_k_kernel(const float* x, int64_t M, int64_t K, quant_activations out) {
  const int64_t nb = K / 256;
  const int64_t block = int64_t{blockIdx.x} * quantize_warps + threadIdx.x / warp_lanes;
  if (block >= M * nb) return;
  const int lane = static_cast<int>(threadIdx.x) % warp_lanes;
  const float* xs = x + block * 256 + lane * 8;
  float v[8];
  // The first value of the largest |x| (NaN never compares larger), as the CPU's scan.
  float amax = 0.0f, max = 0.0f;
  int first = INT32_MAX;
  for (int i = 0; i < 8; ++i) {
    v[i] = xs[i];
    if (fabsf(v[i]) > amax) {
      amax = fabsf(v[i]);
      max = v[i];
      first = lane * 8 + i;
    }
  }
  for (int o = 16; o > 0; o /= 2) {
    const float other_amax = __shfl_xor_sync(full_mask, amax, o);
    const float other_max = __shfl_xor_sync(full_mask, max, o);
    const int other_first = __shfl_xor_sync(full_mask, first, o);
    if (other_amax > amax || (other_amax == amax && other_first < first)) {
      amax = other_amax;
      max = other_max;
      first = other_first;
    }
  }
  int8_t* q = out.q + block * 256 + lane * 8;
  int32_t* sums = out.sums + block * 16;
  if (amax == 0.0f) {
    for (int i = 0; i < 8; ++i)
      q[i] = 0;
    if (lane % 2 == 0) sums[lane / 2] = 0;
    if (lane == 0) out.d[block] = 0.0f;
    if (lane == 0) out.s[block] = 0.0f;
    return;
  }
  const float iscale = __fdiv_rn(-127.0f, max);
  int32_t sum = 0;
  for (int i = 0; i < 8; ++i) {
    const int32_t qi = min(127, __float2int_rn(__fmul_rn(iscale, v[i])));
    q[i] = static_cast<int8_t>(qi);
    sum += static_cast<int8_t>(qi);
  }
  sum += __shfl_xor_sync(full_mask, sum, 1);
  if (lane % 2 == 0) sums[lane / 2] = sum;
  if (lane == 0) {
    out.d[block] = __fdiv_rn(1.0f, iscale);
    out.s[block] = 0.0f;
  }
}

}  // namespace

status quant_quantize(block_format f, const float* x, int64_t M, int64_t K,
                      const quant_activations& out, cudaStream_t stream) {
  const bool k_quant =
      f == block_format::q4_k || f == block_format::q5_k || f == block_format::q6_k;
  const int64_t values = k_quant ? 256 : 32;
  if (M < 0 || K < 0 || K % values != 0)
    return error{"quant_quantize: K must be a multiple of " + std::to_string(values)};
  const int64_t blocks = M * (K / values);
  if (blocks == 0) return ok_status();
  const auto grid = static_cast<unsigned>((blocks + quantize_warps - 1) / quantize_warps);
  if (k_quant) {
    quantize_k_kernel<<<grid, quantize_warps * warp_lanes, 0, stream>>>(x, M, K, out);
  } else {
    const bool with_s = f == block_format::q4_1 || f == block_format::q5_1;
    quantize_32_kernel<<<grid, quantize_warps * warp_lanes, 0, stream>>>(x, M, K, with_s, out);
  }
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
