#pragma once
// The CPU's sampling numerics on the device, bit for bit (internal; included by sampling.cu):
// kernels/cpu/exp.hpp's exp_value, cpu::sampling_key, and a row's membership and integer weight
// under its top-k, min-p and top-p cuts (kernels/cpu/sampling.hpp's contract).
#include <cstdint>

#include "kernels/cpu/sampling.hpp"

namespace troupe::kernels::cuda::sampling_detail {

// -- the CPU's numerics, bit for bit --

// kernels/cpu/exp.hpp's exp_value: the same constants (exp_detail's, written out as the floats
// the host compiler makes of them) and the same operations, each rounded the same way. (exp.hpp
// itself needs C++20; .cu files are C++17.)
constexpr float exp_lowest = -87.0f;
constexpr float exp_highest = 88.0f;
constexpr float exp_log2e = 0x1.715476p+0f;     // 1.44269504088896341f
constexpr float exp_ln2_hi = 0x1.63p-1f;        // 0.693359375f
constexpr float exp_ln2_lo = -0x1.bd0106p-13f;  // -2.12194440e-4f
constexpr float exp_c7 = 0x1.a01a02p-13f;       // 1.0f / 5040
constexpr float exp_c6 = 0x1.6c16c2p-10f;       // 1.0f / 720
constexpr float exp_c5 = 0x1.111112p-7f;        // 1.0f / 120
constexpr float exp_c4 = 0x1.555556p-5f;        // 1.0f / 24
constexpr float exp_c3 = 0x1.555556p-3f;        // 1.0f / 6

__device__ __forceinline__ float device_exp(float v) {
  if (v <= exp_lowest) return 0.0f;
  const float x = v < exp_highest ? v : exp_highest;  // NaN -> 88, as the CPU's
  const float n = rintf(__fmul_rn(x, exp_log2e));     // half to even, as nearbyint
  float r = __fmaf_rn(n, -exp_ln2_hi, x);
  r = __fmaf_rn(n, -exp_ln2_lo, r);
  float p = exp_c7;
  p = __fmaf_rn(p, r, exp_c6);
  p = __fmaf_rn(p, r, exp_c5);
  p = __fmaf_rn(p, r, exp_c4);
  p = __fmaf_rn(p, r, exp_c3);
  p = __fmaf_rn(p, r, 0.5f);
  p = __fmaf_rn(p, r, 1.0f);
  p = __fmaf_rn(p, r, 1.0f);
  return __fmul_rn(p, __int_as_float((static_cast<int>(n) + 127) << 23));
}

// cpu::sampling_key (a host function).
__device__ __forceinline__ uint64_t device_key(float logit, uint32_t id) {
  uint32_t order = 0;  // NaN
  if (!isnan(logit)) {
    const uint32_t bits = __float_as_uint(__fadd_rn(logit, 0.0f));  // -0 -> +0
    order = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  }
  return (uint64_t{order} << 32) | (0xffffffffu - id);
}

// One row as the passes see it: its logits and what the steps so far decided.
struct row_ctx {
  const float* logits;
  int32_t cols;
  float m, temperature, min_p;
  uint64_t k_threshold;  // members have key >= this (0: no top-k cut)
  uint64_t p_threshold;  // kept members have key >= this (0: no top-p cut)

  // Whether the id of `logit` and `key` is a member (in the top-k, not below min_p); its q.
  __device__ bool member(float logit, uint64_t key, uint64_t& q) const {
    if (key < k_threshold) return false;
    const float w =
        device_exp(isnan(logit) ? -INFINITY : __fdiv_rn(__fsub_rn(logit, m), temperature));
    if (w < min_p) return false;
    q = __float2ull_rz(__fmul_rn(w, cpu::sampling_weight_scale));  // exact scaling, then trunc
    return true;
  }

  // q of id i when it is kept (a member inside the nucleus), else 0.
  __device__ uint64_t kept_q(int32_t i) const {
    const float logit = logits[i];
    const uint64_t key = device_key(logit, static_cast<uint32_t>(i));
    uint64_t q = 0;
    if (key < p_threshold || !member(logit, key, q)) return 0;
    return q;
  }
};

}  // namespace troupe::kernels::cuda::sampling_detail
