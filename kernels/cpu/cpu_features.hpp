#pragma once
// What the CPU running troupe can execute, decided at run time (issue 11's matrix engines pick
// their kernels from it): an instruction set counts only when the CPU reports it (CPUID) AND the
// OS saves its registers (XCR0), and AMX only once Linux has granted this process the tile data
// state (arch_prctl ARCH_REQ_XCOMP_PERM). A VM may report a feature in CPUID and still not
// enable it; such a feature is not usable, so no kernel can die of an illegal instruction.
//
// x86-64 only; elsewhere every feature is false.
#include <string>

namespace troupe::kernels::cpu {

struct cpu_features {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512_vnni = false;  // int8 dot products (VPDPBUSD)
  bool avx512_bf16 = false;  // bf16 dot products (VDPBF16PS)
  bool amx_bf16 = false;     // AMX tiles, bf16 (needs the OS and arch_prctl permission)
  bool amx_int8 = false;     // AMX tiles, int8
  bool amd = false;          // an AMD CPU (its VDPBF16PS runs at full rate from Zen 4 on)
};

// Detected once (the first call asks Linux for AMX permission when the CPU has AMX); thread-safe.
const cpu_features& detect_cpu_features();

// The usable features as a space-separated list of /proc/cpuinfo's flag names, e.g.
// "avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16"; "none" when there are none.
std::string describe(const cpu_features& features);

}  // namespace troupe::kernels::cpu
