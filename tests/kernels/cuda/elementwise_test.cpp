// kernels/cuda/elementwise.cu against the CPU references (kernels/cpu/embedding, elementwise,
// activation) and runtime/formats/half.hpp's conversions. Needs a GPU: skips without one.
#include "kernels/cuda/elementwise.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/embedding.hpp"
#include "runtime/formats/half.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"
#include "tests/kernels/kernel_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using cpu::test::random_floats;
using testing::device_array;

// Sizes around the block (256 threads) and one past the grid-stride cap (2^16 blocks).
constexpr int64_t flat_sizes[] = {1, 3, 255, 256, 257, 1000, 4099, (int64_t{1} << 24) + 17};

TEST(cuda_elementwise, nothing_to_do_enqueues_nothing) {
  // No device needed: n == 0 returns before any launch.
  EXPECT_TRUE(add(nullptr, nullptr, 0, nullptr).ok());
  EXPECT_TRUE(silu_mul(nullptr, nullptr, 0, nullptr, nullptr).ok());
  EXPECT_TRUE(convert(nullptr, 0, dense_type::bf16, nullptr, nullptr).ok());
  EXPECT_TRUE(add_bias(nullptr, nullptr, 0, 8, nullptr).ok());
  EXPECT_TRUE(gather_rows(nullptr, 8, nullptr, 0, nullptr, nullptr).ok());
  EXPECT_TRUE(argmax_rows(nullptr, 0, 8, nullptr, nullptr).ok());
  EXPECT_FALSE(argmax_rows(nullptr, 1, int64_t{1} << 24, nullptr, nullptr).ok());
  EXPECT_TRUE(embedding(nullptr, dense_type::f32, 4, 8, 0, nullptr, 0, nullptr, nullptr).ok());
  EXPECT_FALSE(convert(nullptr, 4, dense_type::f32, nullptr, nullptr).ok());
}

TEST(cuda_elementwise, add_matches_cpu_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : flat_sizes) {
    const auto x = random_floats(n, 1), y = random_floats(n, 2);
    auto ref = y;
    cpu::add_inplace(ref.data(), x.data(), n);
    device_array<float> dx(x), dy(y);
    ASSERT_TRUE(add(dy.get(), dx.get(), n, nullptr).ok());
    EXPECT_TRUE(cpu::test::bitwise_equal(dy.to_host(), ref)) << "n " << n;
  }
}

TEST(cuda_elementwise, add_bias_matches_cpu_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t rows : {1, 7, 300})
    for (int64_t cols : {1, 5, 256, 4099}) {
      const auto bias = random_floats(cols, 3), y = random_floats(rows * cols, 4);
      auto ref = y;
      cpu::add_bias(ref.data(), bias.data(), rows, cols);
      device_array<float> dbias(bias), dy(y);
      ASSERT_TRUE(add_bias(dy.get(), dbias.get(), rows, cols, nullptr).ok());
      EXPECT_TRUE(cpu::test::bitwise_equal(dy.to_host(), ref)) << rows << " x " << cols;
    }
}

// Gates over the whole useful range, with zeros, large values (exp overflows) and tiny ones.
std::vector<float> silu_gates(int64_t n) {
  std::mt19937 rng(static_cast<uint32_t>(n));
  std::normal_distribution<float> dist(0.0f, 4.0f);
  std::vector<float> g(n);
  for (auto& v : g)
    v = dist(rng);
  const float specials[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f, 90.0f, -90.0f, 200.0f};
  for (size_t i = 0; i < std::size(specials) && i < g.size(); ++i)
    g[i * g.size() / std::size(specials)] = specials[i];
  return g;
}

// CUDA's expf (<= 2 ulp) against the CPU's exp_value (<= 3e-7 relative): a few ulp of the
// result apart; far below zero (e^-g near or past f32's top, where the CPU clamps at e^88) both
// are tiny.
void expect_silu_close(const std::vector<float>& got, const std::vector<float>& ref, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    ASSERT_NEAR(got[i], ref[i], 8 * FLT_EPSILON * std::abs(ref[i]) + 1e-30f)
        << "n " << n << " i " << i;
}

TEST(cuda_elementwise, silu_mul_matches_cpu_within_ulps) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : flat_sizes) {
    const auto gate = silu_gates(n), up = random_floats(n, 5);
    std::vector<float> ref(n);
    cpu::silu_mul(gate.data(), up.data(), n, ref.data());
    device_array<float> dgate(gate), dup(up), dout(n);
    ASSERT_TRUE(silu_mul(dgate.get(), dup.get(), n, dout.get(), nullptr).ok());
    const auto out = dout.to_host();
    expect_silu_close(out, ref, n);
    // In place, into gate and into up: the same bits.
    ASSERT_TRUE(silu_mul(dgate.get(), dup.get(), n, dgate.get(), nullptr).ok());
    EXPECT_TRUE(cpu::test::bitwise_equal(dgate.to_host(), out)) << "out == gate, n " << n;
    dgate.upload(gate);
    ASSERT_TRUE(silu_mul(dgate.get(), dup.get(), n, dup.get(), nullptr).ok());
    EXPECT_TRUE(cpu::test::bitwise_equal(dup.to_host(), out)) << "out == up, n " << n;
  }
}

// Rows with ties, NaNs (first, last, everywhere), infinities and one large vocabulary-sized row:
// the same index as the CPU's scan, whatever order the parallel reduction compares in.
TEST(cuda_elementwise, argmax_rows_picks_the_cpus_index) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = INFINITY;
  for (int64_t cols : {1, 3, 31, 256, 1000, 128256}) {
    std::vector<std::vector<float>> rows;
    rows.push_back(random_floats(cols, 20));
    auto ties = random_floats(cols, 21);
    for (int64_t c = cols / 3; c < cols; c += std::max<int64_t>(1, cols / 5))
      ties[c] = 9.0f;  // several equal maxima: the lowest index
    rows.push_back(ties);
    auto nans = random_floats(cols, 22);
    for (int64_t c = 0; c < cols; c += 2)
      nans[c] = nan;  // NaN first and in every other column: never chosen
    rows.push_back(nans);
    rows.push_back(std::vector<float>(cols, nan));   // all NaN: the last index
    rows.push_back(std::vector<float>(cols, -inf));  // all equal: the first index
    auto last = std::vector<float>(cols, -inf);
    last.back() = inf;
    rows.push_back(last);
    std::vector<float> x, ref;
    for (const auto& r : rows) {
      x.insert(x.end(), r.begin(), r.end());
      ref.push_back(static_cast<float>(cpu::argmax(r.data(), cols)));
    }
    const auto n = static_cast<int64_t>(rows.size());
    device_array<float> dx(x), dout(n);
    ASSERT_TRUE(argmax_rows(dx.get(), n, cols, dout.get(), nullptr).ok());
    EXPECT_EQ(dout.to_host(), ref) << "cols " << cols;
  }
}

TEST(cuda_elementwise, gather_rows_copies_rows) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t row_size : {1, 7, 256, 4099}) {
    const int64_t num_x_rows = 50;
    const auto x = random_floats(num_x_rows * row_size, 6);
    const std::vector<int32_t> rows = {49, 0, 3, 3, 17, 0, 48, 1, 25};
    const auto num_rows = static_cast<int64_t>(rows.size());
    std::vector<float> ref;
    for (int32_t r : rows)
      ref.insert(ref.end(), x.begin() + r * row_size, x.begin() + (r + 1) * row_size);
    device_array<float> dx(x), dout(num_rows * row_size);
    device_array<int32_t> drows(rows);
    ASSERT_TRUE(gather_rows(dx.get(), row_size, drows.get(), num_rows, dout.get(), nullptr).ok());
    EXPECT_TRUE(cpu::test::bitwise_equal(dout.to_host(), ref)) << "row_size " << row_size;
  }
}

// -- embedding --

struct table_type {
  dense_type type;
  cpu::dense_type cpu_type;
};
constexpr table_type table_types[] = {{dense_type::f32, cpu::dense_type::f32},
                                      {dense_type::bf16, cpu::dense_type::bf16},
                                      {dense_type::f16, cpu::dense_type::f16}};

// A shard of rows [first_token, first_token + table_rows) of the vocabulary: ids outside it
// (including ones whose difference overflows int32) give zero rows.
TEST(cuda_elementwise, embedding_matches_cpu_and_zeros_foreign_ids) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t table_rows = 37;
  const int32_t max_id = std::numeric_limits<int32_t>::max();
  const int32_t min_id = std::numeric_limits<int32_t>::min();
  for (const auto [type, cpu_type] : table_types)
    for (int64_t dim : {1, 5, 256, 1000})
      for (int64_t first_token : {int64_t{0}, int64_t{100}}) {
        const auto bytes = cpu::test::random_dense_weights(cpu_type, table_rows * dim, 7);
        const auto table = cpu::test::widened(cpu_type, bytes);
        const auto first = static_cast<int32_t>(first_token);
        const std::vector<int32_t> ids = {first,     first + 36, first + 5, first - 1, first + 37,
                                          first + 5, -1,         max_id,    min_id,    first + 20};
        const auto num_tokens = static_cast<int64_t>(ids.size());
        std::vector<float> ref(num_tokens * dim, 0.0f);
        for (int64_t t = 0; t < num_tokens; ++t) {
          const int64_t row = int64_t{ids[t]} - first_token;
          if (row < 0 || row >= table_rows) continue;
          const auto local = static_cast<int32_t>(row);
          cpu::embedding(table.data(), dim, &local, 1, ref.data() + t * dim);
        }
        device_array<uint8_t> dtable(bytes);
        device_array<int32_t> dids(ids);
        device_array<float> dout(std::vector<float>(num_tokens * dim, NAN));
        ASSERT_TRUE(embedding(dtable.get(), type, table_rows, dim, first_token, dids.get(),
                              num_tokens, dout.get(), nullptr)
                        .ok());
        EXPECT_TRUE(cpu::test::bitwise_equal(dout.to_host(), ref))
            << cpu::test::name(cpu_type) << " dim " << dim << " first_token " << first_token;
      }
}

// -- convert --

// Every kind of f32: random bit patterns (NaNs with payloads, infinities, subnormals), values
// in the 16-bit ranges, and the edges: exact ties of both formats, the f16 overflow and
// underflow thresholds.
std::vector<float> convert_inputs(int64_t n) {
  std::mt19937 rng(static_cast<uint32_t>(n) + 11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(n);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t bits = rng();
    x[i] = i % 3 == 0 ? std::bit_cast<float>(bits) : normal(rng) * std::ldexp(1.0f, i % 40 - 20);
  }
  const uint32_t edges[] = {
      0x00000000, 0x80000000, 0x7f800000, 0xff800000,  // zeros, infinities
      0x7fc00000, 0xffc00001, 0x7f800001, 0x7fbfffff,  // quiet and signaling NaNs
      0x3f808000, 0x3f818000, 0xbf808000, 0x3f80c000,  // bf16: ties to even, above a tie
      0x7f7fffff, 0x7f7f8000, 0x00000001, 0x807fffff,  // bf16 overflow, f32 subnormals
      0x3f801000, 0x3f803000, 0x3f802fff,              // f16: ties to even, below a tie
      0x477fe000, 0x477fefff, 0x477ff000, 0x47800000,  // f16: 65504, below/at 65520, 65536
      0x33000000, 0x33000001, 0x33c00000, 0x38800000,  // f16: 2^-25 (tie to 0), 1.5 * 2^-24
      0x387fe000, 0x387ff000, 0xb3800000};             // f16: top subnormals, -2^-24
  for (size_t i = 0; i < std::size(edges) && i < x.size(); ++i)
    x[i] = std::bit_cast<float>(edges[i]);
  return x;
}

TEST(cuda_elementwise, convert_matches_half_hpp_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  for (int64_t n : flat_sizes)
    for (dense_type to : {dense_type::bf16, dense_type::f16}) {
      const auto x = convert_inputs(n);
      std::vector<uint16_t> ref(n);
      for (int64_t i = 0; i < n; ++i)
        ref[i] = to == dense_type::bf16 ? runtime::f32_to_bf16(x[i]) : runtime::f32_to_f16(x[i]);
      device_array<float> dx(x);
      device_array<uint16_t> dout(n);
      ASSERT_TRUE(convert(dx.get(), n, to, dout.get(), nullptr).ok());
      const auto out = dout.to_host();
      for (int64_t i = 0; i < n; ++i)
        ASSERT_EQ(out[i], ref[i]) << (to == dense_type::bf16 ? "bf16" : "f16") << " of 0x"
                                  << std::hex << std::bit_cast<uint32_t>(x[i]) << std::dec << " (n "
                                  << n << " i " << i << ")";
    }
}

}  // namespace
}  // namespace troupe::kernels::cuda
