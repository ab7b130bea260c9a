// The W8A8 kernels (contracts: gemm_w8a8.hpp). Every float operation is the explicit IEEE
// intrinsic the CPU reference's C++ performs (kernels/cpu/gemm_w8a8.cpp), so no FMA contraction
// or approximate division can change a bit.
#include <algorithm>
#include <cfloat>
#include <cstdint>

#include "kernels/cuda/device.hpp"
#include "kernels/cuda/gemm_w8a8.hpp"

namespace troupe::kernels::cuda {
namespace {

constexpr unsigned full_mask = 0xffffffffu;

// CUDA's cvt.rni.sat.s32.f32 written out, as the CPU's rn_sat_int32: NaN -> 0, round half to
// even, saturate.
__device__ int32_t rn_sat_int32(float v) {
  if (isnan(v)) return 0;
  const float r = rintf(v);
  if (r >= 2147483648.0f) return INT32_MAX;
  if (r <= -2147483648.0f) return INT32_MIN;
  return static_cast<int32_t>(r);
}

__device__ int8_t sat_int8(int32_t v) {
  return static_cast<int8_t>(min(max(v, -128), 127));
}

struct max_op {
  __device__ float operator()(float a, float b) const { return fmaxf(a, b); }
};
struct min_op {
  __device__ float operator()(float a, float b) const { return fminf(a, b); }
};

// The block's reduction of v under op (fmaxf / fminf: exact, so any order gives the CPU's value;
// NaN partials cannot occur since every thread starts from a number). Every thread gets it.
template <class Op>
__device__ float block_reduce(float v, Op op) {
  __shared__ float partials[32];
  for (int offset = 16; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(full_mask, v, offset));
  if (threadIdx.x % 32 == 0) partials[threadIdx.x / 32] = v;
  __syncthreads();
  v = partials[0];
  for (unsigned i = 1; i < blockDim.x / 32; ++i)
    v = op(v, partials[i]);
  __syncthreads();  // partials is reused by the next reduction
  return v;
}

// One token row, symmetric: CPU quantize_symmetric. fmaxf skips a NaN as std::fmax does.
__device__ void quantize_symmetric(const float* x, int64_t K, int8_t* q, float* a_scale,
                                   int32_t* azp) {
  float absmax = 0.0f;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    absmax = fmaxf(absmax, fabsf(x[k]));
  absmax = block_reduce(absmax, max_op{});
  const float inv = __fdiv_rn(127.0f, absmax);  // an all-zero row: inf, and 0 * inf = NaN -> 0
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
    q[k] = sat_int8(rn_sat_int32(__fmul_rn(x[k], inv)));
  if (threadIdx.x == 0) {
    *a_scale = __fdiv_rn(absmax, 127.0f);
    *azp = 0;
  }
}

// One token row, vLLM's dynamic zero point: CPU quantize_asymmetric. std::max / std::min keep
// the running value when x is NaN, as fmaxf / fminf do; the sign of a zero minimum cannot
// change a result (min / scale is then +-0, and -128 - 0 = -128 either way).
__device__ void quantize_asymmetric(const float* x, int64_t K, int8_t* q, float* a_scale,
                                    int32_t* azp) {
  float max = FLT_MIN, min = FLT_MAX;
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    max = fmaxf(max, x[k]);
    min = fminf(min, x[k]);
  }
  max = block_reduce(max, max_op{});
  min = block_reduce(min, min_op{});
  const float scale = __fdiv_rn(__fsub_rn(max, min), 255.0f);
  if (!(scale > 0.0f)) {  // a constant positive row: q = 0, scale 0, azp 0 (gemm_w8a8.hpp)
    for (int64_t k = threadIdx.x; k < K; k += blockDim.x)
      q[k] = 0;
    if (threadIdx.x == 0) {
      *a_scale = 0.0f;
      *azp = 0;
    }
    return;
  }
  const int32_t zero_point = rn_sat_int32(__fsub_rn(-128.0f, __fdiv_rn(min, scale)));
  for (int64_t k = threadIdx.x; k < K; k += blockDim.x) {
    const uint32_t v = static_cast<uint32_t>(rn_sat_int32(__fdiv_rn(x[k], scale))) +
                       static_cast<uint32_t>(zero_point);  // wraps, as the CPU's
    q[k] = sat_int8(static_cast<int32_t>(v));
  }
  if (threadIdx.x == 0) {
    *a_scale = scale;
    *azp = zero_point;
  }
}

constexpr int quantize_threads = 256;

__global__ void quantize_kernel(const float* x, int64_t K, bool asymmetric, int8_t* q,
                                float* a_scale, int32_t* azp) {
  const int64_t row = blockIdx.x;
  if (asymmetric)
    quantize_asymmetric(x + row * K, K, q + row * K, a_scale + row, azp + row);
  else
    quantize_symmetric(x + row * K, K, q + row * K, a_scale + row, azp + row);
}

// -- int8 products on the CUDA cores --
//
// A warp owns dp4a_cols adjacent rows of W (output columns n0..n0+3) and up to MR rows of q; its
// lanes walk K in VEC-byte chunks, lane l taking bytes [l*VEC + i*32*VEC, +VEC):
//
//   W rows n0..n0+3:  | lane0 VEC | lane1 VEC | ... | lane31 VEC | lane0 VEC | ...
//   q rows m0..m0+MR: the same byte ranges
//
// so each W byte is read once per MR rows of q, then the 32 lane sums are added by shuffles.
constexpr int dp4a_warps = 8;  // per block
constexpr int dp4a_cols = 4;   // W rows per warp

// VEC bytes at p as 32-bit words (byte i of a word is p[4 t + i], as __dp4a pairs them).
template <int VEC, bool ALIGNED>
__device__ void load_words(const int8_t* p, int (&out)[VEC / 4]) {
  if constexpr (VEC == 16) {
    const int4 v = *reinterpret_cast<const int4*>(p);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  } else if constexpr (ALIGNED) {
    out[0] = *reinterpret_cast<const int*>(p);
  } else {
    const auto* u = reinterpret_cast<const uint8_t*>(p);
    out[0] = static_cast<int>(uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) |
                              (uint32_t{u[3]} << 24));
  }
}

__device__ int warp_sum(int v) {
  for (int offset = 16; offset > 0; offset /= 2)
    v += __shfl_xor_sync(full_mask, v, offset);
  return v;
}

template <int MR, int VEC, bool W_ALIGNED>
__global__ void dp4a_kernel(const int8_t* q, int64_t M, int64_t K, const int8_t* w, int64_t N,
                            int32_t* acc, int64_t ldc) {
  constexpr int words = VEC / 4;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t n0 = (int64_t{blockIdx.x} * dp4a_warps + threadIdx.x / 32) * dp4a_cols;
  if (n0 >= N) return;  // the whole warp: no block-wide synchronization follows
  const int nr = static_cast<int>(min(int64_t{dp4a_cols}, N - n0));
  for (int64_t m0 = int64_t{blockIdx.y} * MR; m0 < M; m0 += int64_t{gridDim.y} * MR) {
    const int mr = static_cast<int>(min(int64_t{MR}, M - m0));
    int sum[MR][dp4a_cols] = {};
    for (int64_t k = int64_t{lane} * VEC; k < K; k += 32 * VEC) {
      int wv[dp4a_cols][words] = {};
#pragma unroll
      for (int j = 0; j < dp4a_cols; ++j)
        if (j < nr) load_words<VEC, W_ALIGNED>(w + (n0 + j) * K + k, wv[j]);
#pragma unroll
      for (int i = 0; i < MR; ++i) {
        if (i >= mr) break;
        int xv[words];
        load_words<VEC, true>(q + (m0 + i) * K + k, xv);
#pragma unroll
        for (int j = 0; j < dp4a_cols; ++j)
#pragma unroll
          for (int t = 0; t < words; ++t)
            sum[i][j] = __dp4a(xv[t], wv[j][t], sum[i][j]);
      }
    }
#pragma unroll
    for (int i = 0; i < MR; ++i)
#pragma unroll
      for (int j = 0; j < dp4a_cols; ++j) {
        const int total = warp_sum(sum[i][j]);
        if (lane == 0 && i < mr && j < nr) acc[(m0 + i) * ldc + n0 + j] = total;
      }
  }
}

template <int MR>
void launch_dp4a(dim3 grid, bool vec16, bool w_aligned, const int8_t* q, int64_t M, int64_t K,
                 const int8_t* w, int64_t N, int32_t* acc, int64_t ldc, cudaStream_t stream) {
  const dim3 block(dp4a_warps * 32);
  if (vec16)
    dp4a_kernel<MR, 16, true><<<grid, block, 0, stream>>>(q, M, K, w, N, acc, ldc);
  else if (w_aligned)
    dp4a_kernel<MR, 4, true><<<grid, block, 0, stream>>>(q, M, K, w, N, acc, ldc);
  else
    dp4a_kernel<MR, 4, false><<<grid, block, 0, stream>>>(q, M, K, w, N, acc, ldc);
}

bool aligned(const void* p, uintptr_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

// -- epilogue and row sums --

constexpr int epilogue_threads = 256;
constexpr unsigned max_grid_y = 65535;

// Grid: x over columns, y over rows (striding when M > 65535).
__global__ void epilogue_kernel(const int32_t* acc, int64_t ldc, int64_t M, int64_t N,
                                const float* a_scale, const int32_t* azp, const int32_t* row_sums,
                                const float* w_scale, float* y) {
  const int64_t n = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (n >= N) return;
  for (int64_t m = blockIdx.y; m < M; m += gridDim.y) {
    const uint32_t corrected = static_cast<uint32_t>(acc[m * ldc + n]) -
                               static_cast<uint32_t>(azp[m]) * static_cast<uint32_t>(row_sums[n]);
    y[m * N + n] = __fmul_rn(
        a_scale[m], __fmul_rn(w_scale[n], __int2float_rn(static_cast<int32_t>(corrected))));
  }
}

constexpr int row_sum_warps = 8;

__global__ void row_sums_kernel(const int8_t* w, int64_t N, int64_t K, int32_t* row_sums) {
  const int64_t n = int64_t{blockIdx.x} * row_sum_warps + threadIdx.x / 32;
  if (n >= N) return;
  int sum = 0;
  for (int64_t k = threadIdx.x % 32; k < K; k += 32)
    sum += w[n * K + k];
  sum = warp_sum(sum);
  if (threadIdx.x % 32 == 0) row_sums[n] = sum;
}

unsigned blocks_for(int64_t items, int64_t per_block) {
  return static_cast<unsigned>((items + per_block - 1) / per_block);
}

}  // namespace

status w8a8_quantize(const float* x, int64_t M, int64_t K, bool asymmetric, int8_t* q,
                     float* a_scale, int32_t* azp, cudaStream_t stream) {
  if (M <= 0) return ok_status();
  quantize_kernel<<<static_cast<unsigned>(M), quantize_threads, 0, stream>>>(x, K, asymmetric, q,
                                                                             a_scale, azp);
  return CUDA_CHECK(cudaGetLastError());
}

status int8_gemm_dp4a(const int8_t* q, int64_t M, int64_t K, const int8_t* w, int64_t N,
                      int32_t* acc, int64_t ldc, cudaStream_t stream) {
  if (M <= 0 || N <= 0) return ok_status();
  if (K % 4 != 0 || !aligned(q, 4)) return error{"int8_gemm_dp4a: K % 4 != 0 or q misaligned"};
  const bool vec16 = K % 16 == 0 && aligned(q, 16) && aligned(w, 16);
  const bool w_aligned = aligned(w, 4);
  const int mr = M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8;
  const dim3 grid(blocks_for(N, dp4a_warps * dp4a_cols),
                  static_cast<unsigned>(std::min<int64_t>(blocks_for(M, mr), max_grid_y)));
  switch (mr) {
    case 1:
      launch_dp4a<1>(grid, vec16, w_aligned, q, M, K, w, N, acc, ldc, stream);
      break;
    case 2:
      launch_dp4a<2>(grid, vec16, w_aligned, q, M, K, w, N, acc, ldc, stream);
      break;
    case 4:
      launch_dp4a<4>(grid, vec16, w_aligned, q, M, K, w, N, acc, ldc, stream);
      break;
    default:
      launch_dp4a<8>(grid, vec16, w_aligned, q, M, K, w, N, acc, ldc, stream);
      break;
  }
  return CUDA_CHECK(cudaGetLastError());
}

status w8a8_epilogue(const int32_t* acc, int64_t ldc, int64_t M, int64_t N, const float* a_scale,
                     const int32_t* azp, const int32_t* row_sums, const float* w_scale, float* y,
                     cudaStream_t stream) {
  if (M <= 0 || N <= 0) return ok_status();
  const dim3 grid(blocks_for(N, epilogue_threads),
                  static_cast<unsigned>(std::min<int64_t>(M, max_grid_y)));
  epilogue_kernel<<<grid, epilogue_threads, 0, stream>>>(acc, ldc, M, N, a_scale, azp, row_sums,
                                                         w_scale, y);
  return CUDA_CHECK(cudaGetLastError());
}

status w8a8_row_sums(const int8_t* w, int64_t N, int64_t K, int32_t* row_sums,
                     cudaStream_t stream) {
  if (N <= 0) return ok_status();
  row_sums_kernel<<<blocks_for(N, row_sum_warps), row_sum_warps * 32, 0, stream>>>(w, N, K,
                                                                                   row_sums);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
