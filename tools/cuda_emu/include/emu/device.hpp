#pragma once
// cuda_emu's device side: what a .cu file sees after tools/cuda_emu/transform.py rewrote its
// launches, __shared__ variables and inline PTX.
//
// Execution (src/launch.cpp): the blocks of a grid run one after another; the threads of a block
// are fibers (one stack each) on the launching host thread, scheduled cooperatively: a thread runs
// until it reaches __syncthreads, a warp collective (__shfl_*_sync, __syncwarp, votes) or its
// end. A barrier releases when every thread of the block has arrived, a warp collective when
// every lane of its mask has; what the GPU leaves undefined (a barrier some threads never reach,
// a shuffle naming an exited lane, mismatched masks) stops the process with a message.
//
// Arithmetic is the host's IEEE f32/f64 without contraction (-ffp-contract=off), so the _rn
// intrinsics, fmaf, sqrtf and division are exact as on the GPU; expf is the host's, nudged by up
// to one ulp (CUDA's expf is within 2 ulp; EMU_EXACT_EXPF=1 turns the nudge off).
//
// Atomics (atomicAdd on int, unsigned and unsigned long long) are a plain read-modify-write: a
// fiber is never preempted, only switched at a barrier or collective, so no other thread can come
// between the read and the write, and the result is exactly the GPU's for any order of the adds
// (integer adds commute). Blocks run one after another, so a race between blocks is never seen.
#include <algorithm>
#include <bit>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda_runtime_api.h"

// -- built-in variables (set by the scheduler before it resumes a thread) --
extern uint3 threadIdx;
extern uint3 blockIdx;
extern dim3 blockDim;
extern dim3 gridDim;
constexpr int warpSize = 32;

namespace emu {

[[noreturn]] void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));

// -- block and warp synchronization (src/launch.cpp) --
enum class warp_op : uint8_t { shfl, ballot, any, all, sync, match_any, reduce_add };
void sync_block();
// The rendezvous of the lanes of `mask`: each lane passes its value and the lane it reads
// (shfl); returns its result once every lane of the mask has arrived.
uint64_t warp_collective(warp_op op, unsigned mask, uint64_t value, int src_lane);
unsigned lane_id();

// -- memory spaces --
uint64_t cvta_generic_to_shared(const void* p);
// Stops the process unless p is aligned to `bytes` and [p, p + bytes) is device memory or shared
// memory of the running block: where a GPU's atomicAdd works (src/shared_memory.cpp).
void check_atomic(const void* p, size_t bytes, const char* what);
// The dynamic shared memory of the running block (extern __shared__).
void* dynamic_shared();
// A __shared__ variable: one buffer of `size` bytes, 0xff-filled at each block's first use.
struct static_shared_slot {
  size_t size;
  size_t align;
  unsigned char* data = nullptr;
  uint64_t block_serial = 0;
  uint64_t launch_serial = 0;
  int id = 0;
  void* get();
};
template <class T, class Tag>
T& static_shared(Tag) {
  static static_shared_slot slot{sizeof(T), alignof(T)};
  return *static_cast<T*>(slot.get());
}

// -- inline PTX the transform maps (cp.async) --
void ptx_cp_async(uint64_t shared_addr, uint64_t global_addr, int cp_size, int src_size,
                  bool cache_global);
void ptx_cp_async_commit();
void ptx_cp_async_wait(int groups_pending);

float dev_expf(float x);

// -- launches --
struct launch_config {
  const char* name;
  const void* key;  // the kernel's address for cudaFuncSetAttribute, or nullptr when unknown
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
};
using job_fn = void (*)(void* context);
// Checks the configuration as cudaLaunchKernel would (an error becomes cudaGetLastError's and
// nothing runs), then runs job(context) on every thread of every block.
void run_kernel(const launch_config& config, job_fn job, void* context);
// Stops the process when a pointer argument of a kernel is neither null nor device memory.
void check_pointer_argument(const char* kernel, int index, const void* p);

template <class R, class... P>
const void* key_of(R (*kernel)(P...)) {
  return reinterpret_cast<const void*>(kernel);
}

// Runs `op` (a stream's work: a launch, a copy, a cuBLAS call) now, or, while `stream` is being
// captured (cudaStreamBeginCapture), appends it to the graph for every replay (src/runtime.cpp).
void on_stream(cudaStream_t stream, std::function<void()> op);

// kernel<<<grid, block, shared, stream>>>(args) becomes
// launch("kernel", key, [=](auto&&... a) { kernel(a...); }, grid, block, shared, stream)(args):
// the arguments are evaluated and copied once, as cudaLaunchKernel copies them (a captured launch
// keeps that copy for its replays).
template <class Body>
struct launcher {
  launch_config config;
  Body body;

  template <class... A>
  void operator()(A&&... args) {
    using stored_t = std::tuple<std::decay_t<A>...>;
    stored_t stored(std::forward<A>(args)...);
    int index = 0;
    std::apply(
        [&](const auto&... a) {
          (
              [&](const auto& v) {
                if constexpr (std::is_pointer_v<std::decay_t<decltype(v)>>)
                  check_pointer_argument(config.name, index, static_cast<const void*>(v));
                ++index;
              }(a),
              ...);
        },
        stored);
    auto state = std::make_shared<std::pair<Body, stored_t>>(body, std::move(stored));
    on_stream(config.stream, [config = config, state] {
      run_kernel(
          config,
          [](void* p) {
            auto* s = static_cast<std::pair<Body, stored_t>*>(p);
            std::apply(s->first, s->second);
          },
          state.get());
    });
  }
};

template <class Body>
launcher<Body> launch(const char* name, const void* key, Body body, dim3 grid, dim3 block,
                      size_t shared_bytes = 0, cudaStream_t stream = nullptr) {
  return {{name, key, grid, block, shared_bytes, stream}, body};
}

}  // namespace emu

// -- CUDA's min/max (math_functions.hpp): mixed integer types meet in their common type, floats
// as fminf/fmaxf --
template <class A, class B>
constexpr auto min(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>)
    return std::fmin(C(a), C(b));
  else
    return C(a) < C(b) ? C(a) : C(b);
}
template <class A, class B>
constexpr auto max(A a, B b) {
  using C = std::common_type_t<A, B>;
  if constexpr (std::is_floating_point_v<C>)
    return std::fmax(C(a), C(b));
  else
    return C(a) < C(b) ? C(b) : C(a);
}

using std::isfinite;
using std::isinf;
using std::isnan;

// -- synchronization --
inline void __syncthreads() {
  emu::sync_block();
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu::warp_collective(emu::warp_op::sync, mask, 0, 0);
}

template <class T>
T emu_shuffle(unsigned mask, T var, int src_lane, int width) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>);
  if (width != warpSize) emu::fail("shuffle width %d: only 32 is emulated", width);
  uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  const uint64_t r = emu::warp_collective(emu::warp_op::shfl, mask, bits, src_lane);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize) {
  return emu_shuffle(mask, var, src_lane & 31, width);
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize) {
  return emu_shuffle(mask, var, static_cast<int>(emu::lane_id()) ^ (lane_mask & 31), width);
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  const int lane = static_cast<int>(emu::lane_id());
  const int src = lane + static_cast<int>(delta);
  return emu_shuffle(mask, var, src < 32 ? src : lane, width);
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize) {
  const int lane = static_cast<int>(emu::lane_id());
  const int src = lane - static_cast<int>(delta);
  return emu_shuffle(mask, var, src >= 0 ? src : lane, width);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
  return static_cast<unsigned>(
      emu::warp_collective(emu::warp_op::ballot, mask, predicate != 0 ? 1 : 0, 0));
}
inline int __any_sync(unsigned mask, int predicate) {
  return static_cast<int>(emu::warp_collective(emu::warp_op::any, mask, predicate != 0, 0));
}
inline int __all_sync(unsigned mask, int predicate) {
  return static_cast<int>(emu::warp_collective(emu::warp_op::all, mask, predicate != 0, 0));
}
// The lanes of `mask` whose value has the same bits as this lane's.
template <class T>
unsigned __match_any_sync(unsigned mask, T value) {
  static_assert((sizeof(T) == 4 || sizeof(T) == 8) && std::is_arithmetic_v<T>);
  uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof(T));
  return static_cast<unsigned>(emu::warp_collective(emu::warp_op::match_any, mask, bits, 0));
}
// redux.sync.add: the sum over the lanes of `mask`, wrapping as the hardware's.
inline unsigned __reduce_add_sync(unsigned mask, unsigned value) {
  return static_cast<unsigned>(emu::warp_collective(emu::warp_op::reduce_add, mask, value, 0));
}
inline int __reduce_add_sync(unsigned mask, int value) {
  return static_cast<int>(__reduce_add_sync(mask, static_cast<unsigned>(value)));
}

// -- atomics (exact: see the top of this file) --
template <class T>
T emu_atomic_add(T* address, T value, const char* what) {
  emu::check_atomic(address, sizeof(T), what);
  const T old = *address;
  *address = old + value;
  return old;
}
inline unsigned atomicAdd(unsigned* address, unsigned value) {
  return emu_atomic_add(address, value, "atomicAdd(unsigned)");
}
inline unsigned long long atomicAdd(unsigned long long* address, unsigned long long value) {
  return emu_atomic_add(address, value, "atomicAdd(unsigned long long)");
}
inline int atomicAdd(int* address, int value) {  // wraps, as the GPU's
  return static_cast<int>(emu_atomic_add(reinterpret_cast<unsigned*>(address),
                                         static_cast<unsigned>(value), "atomicAdd(int)"));
}

// -- address spaces --
inline size_t __cvta_generic_to_shared(const void* p) {
  return static_cast<size_t>(emu::cvta_generic_to_shared(p));
}
inline size_t __cvta_generic_to_global(const void* p) {
  return reinterpret_cast<size_t>(p);
}

// -- f32 intrinsics: IEEE, round to nearest even (host SSE arithmetic, no contraction) --
inline float __fadd_rn(float a, float b) {
  return a + b;
}
inline float __fsub_rn(float a, float b) {
  return a - b;
}
inline float __fmul_rn(float a, float b) {
  return a * b;
}
inline float __fdiv_rn(float a, float b) {
  return a / b;
}
inline float __fmaf_rn(float a, float b, float c) {
  return std::fma(a, b, c);
}
inline float __frcp_rn(float a) {
  return 1.0f / a;
}
inline float __fsqrt_rn(float a) {
  return std::sqrt(a);
}
inline double __dadd_rn(double a, double b) {
  return a + b;
}
inline double __dmul_rn(double a, double b) {
  return a * b;
}
inline double __ull2double_rn(unsigned long long u) {
  return static_cast<double>(u);  // the host rounds to nearest even
}
inline double __ll2double_rn(long long i) {
  return static_cast<double>(i);
}

inline unsigned __float_as_uint(float f) {
  return std::bit_cast<unsigned>(f);
}
inline float __uint_as_float(unsigned u) {
  return std::bit_cast<float>(u);
}
inline int __float_as_int(float f) {
  return std::bit_cast<int>(f);
}
inline float __int_as_float(int i) {
  return std::bit_cast<float>(i);
}
inline float __int2float_rn(int i) {
  return static_cast<float>(i);  // the host rounds to nearest even
}
inline float __uint2float_rn(unsigned u) {
  return static_cast<float>(u);
}
// cvt.rni.s32.f32: NaN -> 0, saturating.
inline int __float2int_rn(float f) {
  if (std::isnan(f)) return 0;
  const float r = std::nearbyint(f);
  if (r >= 2147483648.0f) return INT_MAX;
  if (r <= -2147483648.0f) return INT_MIN;
  return static_cast<int>(r);
}
// cvt.rzi.s32.f32
inline int __float2int_rz(float f) {
  if (std::isnan(f)) return 0;
  const float r = std::trunc(f);
  if (r >= 2147483648.0f) return INT_MAX;
  if (r <= -2147483648.0f) return INT_MIN;
  return static_cast<int>(r);
}

// cvt.rzi.u64.f32: NaN and negatives -> 0, saturating at 2^64 - 1.
inline unsigned long long __float2ull_rz(float f) {
  if (!(f > -1.0f)) return 0;  // NaN, or truncates below zero
  if (f >= 0x1p64f) return ULLONG_MAX;
  return static_cast<unsigned long long>(f);
}

// -- integer intrinsics --
inline unsigned __umulhi(unsigned a, unsigned b) {
  return static_cast<unsigned>((uint64_t{a} * b) >> 32);
}
inline unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return static_cast<unsigned long long>((static_cast<unsigned __int128>(a) * b) >> 64);
}
inline int __popc(unsigned x) {
  return std::popcount(x);
}
inline int __popcll(unsigned long long x) {
  return std::popcount(x);
}
// The position (1-based) of the lowest set bit; 0 for 0.
inline int __ffs(int x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned>(x)) + 1;
}
inline int __ffsll(long long x) {
  return x == 0 ? 0 : std::countr_zero(static_cast<unsigned long long>(x)) + 1;
}
inline int __clz(int x) {
  return std::countl_zero(static_cast<unsigned>(x));
}
inline int __clzll(long long x) {
  return std::countl_zero(static_cast<unsigned long long>(x));
}

// dp4a: four signed byte products added to c (wrapping, as the hardware).
inline int __dp4a(int a, int b, int c) {
  uint32_t sum = static_cast<uint32_t>(c);
  for (int i = 0; i < 4; ++i) {
    const auto x = static_cast<int8_t>(static_cast<uint32_t>(a) >> (8 * i));
    const auto y = static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * i));
    sum += static_cast<uint32_t>(int32_t{x} * int32_t{y});
  }
  return static_cast<int>(sum);
}
inline unsigned __dp4a(unsigned a, unsigned b, unsigned c) {
  uint32_t sum = c;
  for (int i = 0; i < 4; ++i)
    sum += ((a >> (8 * i)) & 0xffu) * ((b >> (8 * i)) & 0xffu);
  return sum;
}
