// The KV cache's memory is committed as it is written, not when the cache is made.
#include "runtime/backend/lazy_buffer.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <utility>

#include "runtime/backend/cpu_kv_cache.hpp"

namespace troupe::backend {
namespace {

// This process's resident memory, from /proc/self/statm (0 where there is none).
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  if (!(statm >> pages >> resident)) return 0;
  return resident * ::sysconf(_SC_PAGESIZE);
}

constexpr int64_t mib = int64_t{1} << 20;

TEST(lazy_buffer, zeroed_and_committed_only_where_written) {
  if (resident_bytes() == 0) GTEST_SKIP() << "no /proc/self/statm";
  const int64_t before = resident_bytes();
  lazy_buffer<float> buffer(size_t{64} * mib);  // 256 MiB
  ASSERT_TRUE(buffer.is_lazy());
  EXPECT_LT(resident_bytes() - before, 16 * mib);
  EXPECT_EQ(buffer.data()[0], 0.0f);
  EXPECT_EQ(buffer.data()[buffer.size() - 1], 0.0f);
  for (size_t i = 0; i < size_t{mib}; ++i)  // 4 MiB written
    buffer.data()[i] = 1.0f;
  const int64_t written = resident_bytes() - before;
  EXPECT_GE(written, 4 * mib - 64 * 1024);
  EXPECT_LT(written, 20 * mib);
  lazy_buffer<float> moved = std::move(buffer);
  EXPECT_EQ(moved.data()[17], 1.0f);
  EXPECT_EQ(buffer.data(), nullptr);
}

TEST(lazy_buffer, a_kv_cache_commits_nothing_until_blocks_are_written) {
  if (resident_bytes() == 0) GTEST_SKIP() << "no /proc/self/statm";
  for (auto dtype : {kv_cache_dtype::f32, kv_cache_dtype::fp8_e4m3, kv_cache_dtype::bf16}) {
    kv_cache_shape shape;
    shape.num_layers = 8;
    shape.num_blocks = 1024;
    shape.block_size = 16;
    shape.num_kv_heads = 4;
    shape.head_dim = 64;
    shape.dtype = dtype;
    const int64_t before = resident_bytes();
    cpu_kv_cache cache(shape);
    EXPECT_GE(cache.num_bytes(), 64 * mib);
    EXPECT_LT(resident_bytes() - before, 8 * mib);
  }
}

}  // namespace
}  // namespace troupe::backend
