// The compiler flags the project builds with: a vector built from an initializer list reaches a
// function intact. GCC 12's SLP vectorizer with AVX-512 (-march=native on these machines) turned
// {10, 10, 0, 0} into {10, 10, 10, 10}; CMakeLists.txt disables that pass for GCC < 13.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace {

__attribute__((noinline)) uint64_t sum(std::vector<uint64_t> values) {
  uint64_t total = 0;
  for (uint64_t v : values)
    total += v;
  return total;
}

__attribute__((noinline)) std::vector<uint64_t> pass_through(std::vector<uint64_t> values) {
  return values;
}

TEST(Compiler, InitializerListsReachCalleesIntact) {
  EXPECT_EQ(sum({10, 10, 0, 0}), 20u);
  EXPECT_EQ(pass_through({7, 7, 1, 2}), (std::vector<uint64_t>{7, 7, 1, 2}));
}

}  // namespace
