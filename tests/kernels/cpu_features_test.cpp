// Run-time CPU features agree with what Linux says the CPU can run (/proc/cpuinfo's flags list
// what both the CPU and the kernel support).
#include "kernels/cpu/cpu_features.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace troupe::kernels::cpu {
namespace {

std::set<std::string> words(const std::string& text) {
  std::istringstream in(text);
  std::set<std::string> out;
  for (std::string w; in >> w;)
    out.insert(w);
  return out;
}

// The first processor's flags, or empty where there is no /proc/cpuinfo.
std::set<std::string> cpuinfo_flags() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("flags", 0) == 0) return words(line.substr(line.find(':') + 1));
  }
  return {};
}

TEST(cpu_features, agree_with_proc_cpuinfo) {
  const auto flags = cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags";
  const cpu_features& f = detect_cpu_features();
  const std::set<std::string> usable = words(describe(f));
  for (const char* name : {"avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                           "avx512_bf16", "amx_bf16", "amx_int8"}) {
    EXPECT_EQ(usable.count(name), flags.count(name)) << name << " (usable: " << describe(f) << ")";
  }
}

TEST(cpu_features, detected_once_and_implied_features_hold) {
  const cpu_features& f = detect_cpu_features();
  EXPECT_EQ(&f, &detect_cpu_features());
  if (f.avx512_vnni || f.avx512_bf16 || f.avx512bw) EXPECT_TRUE(f.avx512f);
  EXPECT_EQ(describe(cpu_features{}), "none");
  cpu_features some;
  some.avx2 = some.amx_int8 = true;
  EXPECT_EQ(describe(some), "avx2 amx_int8");
}

}  // namespace
}  // namespace troupe::kernels::cpu
