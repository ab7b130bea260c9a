#include "kernels/cpu/cpu_features.hpp"

#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#endif

namespace troupe::kernels::cpu {
namespace {

#if defined(__x86_64__)

bool bit(unsigned word, int n) {
  return (word >> n) & 1u;
}

unsigned long long read_xcr0() {
  unsigned lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<unsigned long long>(hi) << 32) | lo;
}

// Linux keeps AMX's tile data out of a process's state until it asks (kernel 5.16+).
bool amx_permitted() {
#if defined(__linux__)
  constexpr long arch_req_xcomp_perm = 0x1023;
  constexpr long arch_get_xcomp_perm = 0x1022;
  constexpr int xfeature_xtiledata = 18;
  if (::syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) != 0) return false;
  unsigned long long permitted = 0;
  if (::syscall(SYS_arch_prctl, arch_get_xcomp_perm, &permitted) != 0) return false;
  return (permitted >> xfeature_xtiledata) & 1u;
#else
  return false;
#endif
}

cpu_features detect() {
  cpu_features f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(0, 0, a, b, c, d);
  f.amd = b == 0x68747541 && d == 0x69746e65 && c == 0x444d4163;  // "AuthenticAMD"
  __cpuid_count(1, 0, a, b, c, d);
  const bool osxsave = bit(c, 27), avx = bit(c, 28);
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;          // SSE and AVX state
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;     // + opmask, ZMM upper halves, ZMM16-31
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG, XTILEDATA
  if (!os_avx) return f;
  f.fma = bit(c, 12);
  f.f16c = bit(c, 29);
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = bit(b, 5);
  const unsigned leaf7_ebx = b, leaf7_ecx = c, leaf7_edx = d;
  __cpuid_count(7, 1, a, b, c, d);
  if (os_avx512) {
    f.avx512f = bit(leaf7_ebx, 16);
    f.avx512bw = f.avx512f && bit(leaf7_ebx, 30);
    f.avx512vl = f.avx512f && bit(leaf7_ebx, 31);
    f.avx512_vnni = f.avx512f && bit(leaf7_ecx, 11);
    f.avx512_bf16 = f.avx512f && bit(a, 5);
  }
  const bool cpu_amx = bit(leaf7_edx, 24);
  if (cpu_amx && os_amx && amx_permitted()) {
    f.amx_bf16 = bit(leaf7_edx, 22);
    f.amx_int8 = bit(leaf7_edx, 25);
  }
  return f;
}

#else

cpu_features detect() {
  return {};
}

#endif

}  // namespace

const cpu_features& detect_cpu_features() {
  static const cpu_features features = detect();
  return features;
}

std::string describe(const cpu_features& f) {
  const std::vector<std::pair<bool, const char*>> names = {{f.avx2, "avx2"},
                                                           {f.fma, "fma"},
                                                           {f.f16c, "f16c"},
                                                           {f.avx512f, "avx512f"},
                                                           {f.avx512bw, "avx512bw"},
                                                           {f.avx512vl, "avx512vl"},
                                                           {f.avx512_vnni, "avx512_vnni"},
                                                           {f.avx512_bf16, "avx512_bf16"},
                                                           {f.amx_bf16, "amx_bf16"},
                                                           {f.amx_int8, "amx_int8"}};
  std::string text;
  for (const auto& [usable, name] : names) {
    if (!usable) continue;
    if (!text.empty()) text += ' ';
    text += name;
  }
  return text.empty() ? "none" : text;
}

}  // namespace troupe::kernels::cpu
