// Instruction throughput of the vector operations a dense GEMM can be built from, on this CPU:
// how many independent instructions retire per core clock. kernels/cpu/dense_gemm.hpp records
// the numbers measured with it and the design they decided.
//   ./isa_throughput_bench --benchmark_counters_tabular=true
//
// Each benchmark runs `chains` independent dependency chains (more than latency x ports, so the
// execution ports, not latency, limit it). The core clock is measured first with a chain of
// dependent integer adds (1 cycle each), so "per_cycle" is per core clock even when the TSC or
// the nominal frequency differs from it. The instructions come from the build's target ISA
// (-march=native, TROUPE_NATIVE): a build for a CPU without AVX-512 BF16 has no benchmarks.
#include <benchmark/benchmark.h>
#include <immintrin.h>

#include <chrono>
#include <cstdint>

#include "kernels/cpu/cpu_features.hpp"
#if defined(__AMX_TILE__)
#include "kernels/cpu/amx_tiles.hpp"
#endif

namespace {

constexpr int64_t inner = 1000;  // loop trips per benchmark iteration
constexpr int chains = 16;       // independent instructions per trip

// Core cycles per second: a chain of dependent 1-cycle integer adds.
double core_hz() {
  static const double hz = [] {
    constexpr int64_t trips = 200'000'000;
    uint64_t v = 0, one = 1;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < trips; i += 8)
      asm volatile(
          "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
          "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0"
          : "+r"(v)
          : "r"(one));
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return trips / s;
  }();
  return hz;
}

void set_counters(benchmark::State& state, double ops_per_iteration) {
  state.counters["GHz"] = core_hz() / 1e9;
  state.counters["per_cycle"] = benchmark::Counter(ops_per_iteration / core_hz(),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

// One trip: the instruction `op` (AT&T syntax, operands `src1, src2,` then the destination
// register) applied to 16 destinations, each its own dependency chain. Written as assembly so
// the compiler can neither spill the chains nor merge the instructions.
#define TROUPE_X16(op, r)                                                                         \
  op r "0\n\t" op r "1\n\t" op r "2\n\t" op r "3\n\t" op r "4\n\t" op r "5\n\t" op r "6\n\t" op r \
       "7\n\t" op r "8\n\t" op r "9\n\t" op r "10\n\t" op r "11\n\t" op r "12\n\t" op r           \
       "13\n\t" op r "14\n\t" op r "15\n\t"

#define TROUPE_CLOBBERS                                                                     \
  "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
      "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm30", "xmm31"

#define TROUPE_ISA_BENCH(name, setup, op, r)                      \
  void name(benchmark::State& state) {                            \
    for (auto _ : state) {                                        \
      for (int64_t i = 0; i < inner; ++i)                         \
        asm volatile(setup TROUPE_X16(op, r)::: TROUPE_CLOBBERS); \
    }                                                             \
    set_counters(state, double{inner} * chains);                  \
  }                                                               \
  BENCHMARK(name)

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512BF16__)
// Sources zmm30/31 (zeroed: no denormal assists) stay out of the 16 destination chains.
#define TROUPE_ZERO_SOURCES \
  "vpxord %%zmm30, %%zmm30, %%zmm30\n\tvpxord %%zmm31, %%zmm31, %%zmm31\n\t"
TROUPE_ISA_BENCH(bm_fma_ymm, TROUPE_ZERO_SOURCES, "vfmadd231ps %%ymm30, %%ymm31, ", "%%ymm");
TROUPE_ISA_BENCH(bm_fma_zmm, TROUPE_ZERO_SOURCES, "vfmadd231ps %%zmm30, %%zmm31, ", "%%zmm");
// VDPBF16PS: 32 bf16 products summed pairwise into 16 f32 lanes per instruction.
TROUPE_ISA_BENCH(bm_dpbf16_zmm, TROUPE_ZERO_SOURCES, "vdpbf16ps %%zmm30, %%zmm31, ", "%%zmm");
// The widening steps, each from a register: f16 -> f32 (VCVTPH2PS), bf16 -> f32 as zero-extend
// (VPMOVZXWD) or shift (VPSLLD), each counted alone, and bf16 -> f32 as one VPERMW (zero-masked
// to the odd words in a kernel; the mask does not change its throughput).
TROUPE_ISA_BENCH(bm_cvtph2ps_zmm, "", "vcvtph2ps %%ymm31, ", "%%zmm");
TROUPE_ISA_BENCH(bm_pmovzxwd_zmm, "", "vpmovzxwd %%ymm31, ", "%%zmm");
TROUPE_ISA_BENCH(bm_pslld_zmm, "", "vpslld $16, %%zmm31, ", "%%zmm");
TROUPE_ISA_BENCH(bm_vpermw_zmm, "", "vpermw %%zmm31, %%zmm30, ", "%%zmm");
// VPDPBUSD (AVX512-VNNI): 64 u8 x s8 products summed in fours into 16 i32 lanes per instruction,
// the int8 engine of the GGUF and W8A8 kernels; and the nibble unpacking beside it (VPAND,
// VPSRLW) that a 4-bit weight costs per 64 bytes.
TROUPE_ISA_BENCH(bm_dpbusd_zmm, TROUPE_ZERO_SOURCES, "vpdpbusd %%zmm30, %%zmm31, ", "%%zmm");
TROUPE_ISA_BENCH(bm_pand_zmm, "", "vpandd %%zmm31, %%zmm30, ", "%%zmm");
TROUPE_ISA_BENCH(bm_psrlw_zmm, "", "vpsrlw $4, %%zmm31, ", "%%zmm");
// Loads from L1: how many 64-byte loads retire per cycle.
TROUPE_ISA_BENCH(bm_load_zmm, "", "vmovups (%%rsp), ", "%%zmm");
// A dword from L1 broadcast to 16 lanes (how int8 kernels feed one activation group to VPDPBUSD).
TROUPE_ISA_BENCH(bm_broadcast_zmm, "", "vpbroadcastd (%%rsp), ", "%%zmm");
// VPDPBUSD with its second source broadcast from memory ({1to16}), one instruction.
TROUPE_ISA_BENCH(bm_dpbusd_bcst_zmm, TROUPE_ZERO_SOURCES, "vpdpbusd (%%rsp)%{1to16%}, %%zmm31, ",
                 "%%zmm");
#endif

#if defined(__AMX_TILE__) && defined(__AMX_BF16__) && defined(__AMX_INT8__)
// AMX: one tile instruction multiplies a 16-row x 64-byte A tile by a B tile into a 16 x 16
// f32 / i32 C tile: TDPBF16PS is 16 x 16 x 32 bf16 MACs, TDPBSSD 16 x 16 x 64 int8 MACs. Tiles
// 0-3 are four independent chains over the zeroed sources 4 and 5. Needs the kernel's tile
// permission (cpu_features: arch_prctl ARCH_REQ_XCOMP_PERM); skipped where it is refused.
template <class Step>
void run_tiles(benchmark::State& state, bool usable, double macs_per_instruction, Step&& step) {
  if (!usable) {
    state.SkipWithError("no usable AMX tiles (CPUID, XCR0 or Linux's grant)");
    return;
  }
  troupe::kernels::cpu::amx::configure_tiles(16);
  for (auto _ : state) {
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_zero(4);
    _tile_zero(5);
    for (int64_t i = 0; i < inner; ++i)
      step();
  }
  _tile_release();
  set_counters(state, double{inner} * 4);
  state.counters["MACs_per_cycle"] =
      benchmark::Counter(double{inner} * 4 * macs_per_instruction / core_hz(),
                         benchmark::Counter::kIsIterationInvariantRate);
}

// Four independent chains of tile instruction `op`: C0-C3 += A4 x B5.
#define TROUPE_FOUR_TILE_CHAINS(op) \
  [] {                              \
    op(0, 4, 5);                    \
    op(1, 4, 5);                    \
    op(2, 4, 5);                    \
    op(3, 4, 5);                    \
  }

void bm_tdpbf16ps(benchmark::State& state) {
  run_tiles(state, troupe::kernels::cpu::detect_cpu_features().amx_bf16, 16 * 16 * 32,
            TROUPE_FOUR_TILE_CHAINS(_tile_dpbf16ps));
}
BENCHMARK(bm_tdpbf16ps);

void bm_tdpbssd(benchmark::State& state) {
  run_tiles(state, troupe::kernels::cpu::detect_cpu_features().amx_int8, 16 * 16 * 64,
            TROUPE_FOUR_TILE_CHAINS(_tile_dpbssd));
}
BENCHMARK(bm_tdpbssd);
#endif

}  // namespace

BENCHMARK_MAIN();
