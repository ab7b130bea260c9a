// kernels/cuda/attention.cu against the CPU reference kernels/cpu/attention.cpp: store_kv bit for
// bit (f32 values, fp8 codes, bf16/f16 words) and paged_attention within f32 rounding, on random
// caches with shuffled block tables. The GPU tests skip without a CUDA device; plan_query_tiles and
// the argument checks run everywhere.
#include "kernels/cuda/attention.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/fp8.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/thread_pool.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using testing::device_array;

// A sequence's rows in the step: positions first, first + 1, ..., first + count - 1.
struct sequence_rows {
  int32_t first = 0;
  int32_t count = 1;
};

struct head_shape {
  int32_t num_heads, num_kv_heads, head_dim;
};

// A step's rows and block tables, laid out as attention_rows wants them (host side).
struct step {
  std::vector<std::vector<int32_t>> tables;  // per sequence
  std::vector<int32_t> positions, token_seqs, block_tables, table_offsets;
  int32_t num_blocks = 0;
  int32_t max_position = 0;
};

// Each sequence owns enough blocks for its last position; block ids are a shuffle of
// [0, num_blocks) with a few left unused, so no table is contiguous.
step make_step(const std::vector<sequence_rows>& seqs, int32_t block_size, uint32_t seed) {
  step st;
  int32_t needed = 0;
  for (const auto& s : seqs)
    needed += (s.first + s.count + block_size - 1) / block_size;
  st.num_blocks = needed + 3;
  std::vector<int32_t> ids(st.num_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::mt19937 rng(seed);
  std::shuffle(ids.begin(), ids.end(), rng);
  size_t next = 0;
  st.table_offsets.push_back(0);
  for (size_t i = 0; i < seqs.size(); ++i) {
    const int32_t last = seqs[i].first + seqs[i].count - 1;
    std::vector<int32_t> table(last / block_size + 1);
    for (auto& b : table)
      b = ids[next++];
    st.block_tables.insert(st.block_tables.end(), table.begin(), table.end());
    st.table_offsets.push_back(static_cast<int32_t>(st.block_tables.size()));
    st.tables.push_back(std::move(table));
    for (int32_t p = seqs[i].first; p <= last; ++p) {
      st.positions.push_back(p);
      st.token_seqs.push_back(static_cast<int32_t>(i));
      st.max_position = std::max(st.max_position, p);
    }
  }
  return st;
}

std::vector<float> normal_floats(size_t n, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (auto& x : v)
    x = dist(rng);
  return v;
}

bool is_fp8(kv_type type) {
  return type == kv_type::fp8_e4m3 || type == kv_type::fp8_e5m2;
}

bool is_half(kv_type type) {
  return type == kv_type::bf16 || type == kv_type::f16;
}

cpu::fp8_format cpu_format(kv_type type) {
  return type == kv_type::fp8_e4m3 ? cpu::fp8_format::e4m3 : cpu::fp8_format::e5m2;
}

cpu::half_format half_format_of(kv_type type) {
  return type == kv_type::bf16 ? cpu::half_format::bf16 : cpu::half_format::f16;
}

std::string type_name(kv_type type) {
  switch (type) {
    case kv_type::f32:
      return "f32";
    case kv_type::fp8_e4m3:
      return "e4m3";
    case kv_type::fp8_e5m2:
      return "e5m2";
    case kv_type::bf16:
      return "bf16";
    case kv_type::f16:
      return "f16";
  }
  return "?";
}

// ok when |gpu - ref| <= 2e-5 + 1e-5 |ref| everywhere; else the first element that is not.
::testing::AssertionResult close_to(const std::vector<float>& gpu, const std::vector<float>& ref,
                                    int32_t head_dim) {
  if (gpu.size() != ref.size()) return ::testing::AssertionFailure() << "size differs";
  for (size_t i = 0; i < ref.size(); ++i) {
    const float tol = 2e-5f + 1e-5f * std::abs(ref[i]);
    if (!(std::abs(gpu[i] - ref[i]) <= tol))
      return ::testing::AssertionFailure()
             << "element " << i << " (row*head " << i / head_dim << ", dim " << i % head_dim
             << "): gpu " << gpu[i] << " cpu " << ref[i];
  }
  return ::testing::AssertionSuccess();
}

// A cache of any type on both sides, with random contents (fp8: codes of random values, so no NaN
// or infinity codes; bf16/f16: random values rounded), and the CPU reference's ops over it.
struct cache_pair {
  kv_type type;
  float k_scale, v_scale;
  std::vector<float> k32, v32;     // f32
  std::vector<uint8_t> k8, v8;     // fp8
  std::vector<uint16_t> k16, v16;  // bf16 / f16

  cache_pair(kv_type t, int64_t elements, uint32_t seed) : type(t) {
    k_scale = is_fp8(t) ? 0.03f : 1.0f;
    v_scale = is_fp8(t) ? 0.7f : 1.0f;
    k32 = normal_floats(elements, 1.0f, seed);
    v32 = normal_floats(elements, 1.0f, seed + 1);
    if (is_fp8(t)) {
      k8.resize(elements);
      v8.resize(elements);
      cpu::quantize_fp8(k32.data(), elements, k_scale, cpu_format(t), k8.data());
      cpu::quantize_fp8(v32.data(), elements, v_scale, cpu_format(t), v8.data());
    } else if (is_half(t)) {
      k16.resize(elements);
      v16.resize(elements);
      cpu::round_to_half(k32.data(), elements, half_format_of(t), k16.data());
      cpu::round_to_half(v32.data(), elements, half_format_of(t), v16.data());
    }
  }
  cpu::fp8_kv fp8() const { return {cpu_format(type), k_scale, v_scale}; }

  void store(const cpu::paged_kv_layout& layout, const std::vector<cpu::token_location>& tokens,
             const std::vector<float>& k, const std::vector<float>& v) {
    const auto n = static_cast<int64_t>(tokens.size());
    if (type == kv_type::f32)
      cpu::store_kv(layout, tokens.data(), n, k.data(), v.data(), k32.data(), v32.data());
    else if (is_fp8(type))
      cpu::store_kv(layout, tokens.data(), n, k.data(), v.data(), fp8(), k8.data(), v8.data());
    else
      cpu::store_kv(layout, tokens.data(), n, k.data(), v.data(), half_format_of(type), k16.data(),
                    v16.data());
  }
  std::vector<float> attend(cpu::thread_pool& pool, const cpu::paged_kv_layout& layout,
                            const std::vector<cpu::token_location>& tokens, int32_t num_heads,
                            float scale, const std::vector<float>& q, int32_t window) const {
    const auto n = static_cast<int64_t>(tokens.size());
    std::vector<float> out(q.size());
    if (type == kv_type::f32)
      cpu::paged_attention(pool, layout, tokens.data(), n, num_heads, scale, q.data(), k32.data(),
                           v32.data(), out.data(), window);
    else if (is_fp8(type))
      cpu::paged_attention(pool, layout, tokens.data(), n, num_heads, scale, q.data(), fp8(),
                           k8.data(), v8.data(), out.data(), window);
    else
      cpu::paged_attention(pool, layout, tokens.data(), n, num_heads, scale, q.data(),
                           half_format_of(type), k16.data(), v16.data(), out.data(), window);
    return out;
  }
};

// Device copies of a step's metadata and a cache.
struct device_step {
  device_array<int32_t> positions, token_seqs, block_tables, table_offsets, tiles;
  int32_t num_tiles;
  device_step(const step& st, const std::vector<int32_t>& planned)
      : positions(st.positions),
        token_seqs(st.token_seqs),
        block_tables(st.block_tables),
        table_offsets(st.table_offsets),
        tiles(planned),
        num_tiles(static_cast<int32_t>(planned.size() / 2)) {}
  attention_rows rows(const step& st) {
    return {positions.get(),     token_seqs.get(), block_tables.get(),
            table_offsets.get(), tiles.get(),      static_cast<int64_t>(st.positions.size()),
            num_tiles,           st.max_position};
  }
};

struct attention_case {
  std::vector<sequence_rows> seqs;
  head_shape shape;
  int32_t block_size;
  int32_t sliding_window;
  kv_type type;
  uint32_t seed;
};

std::string describe(const attention_case& c) {
  return "heads " + std::to_string(c.shape.num_heads) + "/" + std::to_string(c.shape.num_kv_heads) +
         " dim " + std::to_string(c.shape.head_dim) + " block " + std::to_string(c.block_size) +
         " window " + std::to_string(c.sliding_window) + " " + type_name(c.type);
}

// Stores the step's keys and values and runs attention on both sides; checks the caches after
// the store (bitwise) and the outputs (within f32 rounding).
void check_against_cpu(const attention_case& c, cpu::thread_pool& pool) {
  SCOPED_TRACE(describe(c));
  const step st = make_step(c.seqs, c.block_size, c.seed);
  const head_shape h = c.shape;
  const int64_t n = static_cast<int64_t>(st.positions.size());
  const cpu::paged_kv_layout cpu_layout{c.block_size, h.num_kv_heads, h.head_dim};
  const paged_kv_layout layout{c.block_size, h.num_kv_heads, h.head_dim};
  const int64_t cache_elements = st.num_blocks * layout.block_stride();
  cache_pair cache(c.type, cache_elements, c.seed + 10);
  const auto k = normal_floats(n * h.num_kv_heads * h.head_dim, 1.0f, c.seed + 20);
  const auto v = normal_floats(n * h.num_kv_heads * h.head_dim, 1.0f, c.seed + 21);
  const auto q = normal_floats(n * h.num_heads * h.head_dim, 1.5f, c.seed + 22);
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.head_dim));

  std::vector<cpu::token_location> tokens(n);
  for (int64_t t = 0; t < n; ++t)
    tokens[t] = {st.positions[t], st.tables[st.token_seqs[t]].data()};
  const bool f32 = c.type == kv_type::f32, fp8 = is_fp8(c.type), half = is_half(c.type);
  // The device caches start as copies of the host ones.
  device_array<float> dk32(f32 ? cache.k32 : std::vector<float>(4)),
      dv32(f32 ? cache.v32 : std::vector<float>(4));
  device_array<uint8_t> dk8(fp8 ? cache.k8 : std::vector<uint8_t>(8)),
      dv8(fp8 ? cache.v8 : std::vector<uint8_t>(8));
  device_array<uint16_t> dk16(half ? cache.k16 : std::vector<uint16_t>(8)),
      dv16(half ? cache.v16 : std::vector<uint16_t>(8));
  cache.store(cpu_layout, tokens, k, v);
  const std::vector<float> ref =
      cache.attend(pool, cpu_layout, tokens, h.num_heads, scale, q, c.sliding_window);

  device_step dst(st, plan_query_tiles(st.token_seqs.data(), n));
  device_array<float> dkn(k), dvn(v), dq(q), dout(std::vector<float>(q.size(), NAN));
  auto pick = [&](auto& a32, auto& a8, auto& a16) -> void* {
    return f32 ? static_cast<void*>(a32.get()) : fp8 ? static_cast<void*>(a8.get()) : a16.get();
  };
  kv_cache_layer layer{pick(dk32, dk8, dk16), pick(dv32, dv8, dv16), c.type, cache.k_scale,
                       cache.v_scale};
  const attention_rows rows = dst.rows(st);
  ASSERT_TRUE(store_kv(layout, rows, dkn.get(), dvn.get(), layer, nullptr).ok());
  if (f32) {
    EXPECT_EQ(dk32.to_host(), cache.k32);
    EXPECT_EQ(dv32.to_host(), cache.v32);
  } else if (fp8) {
    EXPECT_EQ(dk8.to_host(), cache.k8);
    EXPECT_EQ(dv8.to_host(), cache.v8);
  } else {
    EXPECT_EQ(dk16.to_host(), cache.k16);
    EXPECT_EQ(dv16.to_host(), cache.v16);
  }
  const auto st_attn = paged_attention(layout, rows, h.num_heads, scale, c.sliding_window, dq.get(),
                                       layer, dout.get(), nullptr);
  ASSERT_TRUE(st_attn.ok()) << st_attn.message();
  EXPECT_TRUE(close_to(dout.to_host(), ref, h.head_dim));
}

// One 37-row prompt chunk from position 0, a 20-row chunk continuing a sequence at position
// 50, and five decodes (positions 0, 9, 100, 333 and 301), the decodes around the chunks.
const std::vector<sequence_rows> mixed_step = {{9, 1}, {0, 37},  {333, 1}, {50, 20},
                                               {0, 1}, {100, 1}, {301, 1}};
// The same with every position below two key splits' worth (a single pass on any GPU).
const std::vector<sequence_rows> short_step = {{9, 1}, {0, 37}, {0, 1}, {100, 1}, {200, 1}};

const head_shape shapes[] = {{4, 4, 64},  {8, 2, 64},   {32, 8, 128},
                             {12, 4, 96}, {16, 1, 256}, {2, 1, 8}};

TEST(cuda_attention_plan, query_tiles_cut_each_sequence_into_runs) {
  EXPECT_TRUE(plan_query_tiles(nullptr, 0).empty());
  std::vector<int32_t> seqs = {5};
  seqs.insert(seqs.end(), 37, 0);
  seqs.insert(seqs.end(), 20, 1);
  seqs.insert(seqs.end(), {2, 3, 4});
  seqs.insert(seqs.end(), 16, 6);
  seqs.insert(seqs.end(), 17, 7);
  const std::vector<int32_t> expected = {0,  1, 1,  16, 17, 16, 33, 5,  38, 16, 54, 4,
                                         58, 1, 59, 1,  60, 1,  61, 16, 77, 16, 93, 1};
  EXPECT_EQ(plan_query_tiles(seqs.data(), static_cast<int64_t>(seqs.size())), expected);
}

TEST(cuda_attention_plan, bad_shapes_are_errors_not_launches) {
  alignas(16) float dummy[4] = {};
  const attention_rows rows{};
  const kv_cache_layer cache{dummy, dummy, kv_type::f32, 1.0f, 1.0f};
  // num_heads not a multiple of num_kv_heads; head_dim over 256 or not a multiple of 8.
  EXPECT_FALSE(paged_attention({16, 3, 64}, rows, 8, 1.0f, 0, dummy, cache, dummy, nullptr).ok());
  EXPECT_FALSE(paged_attention({16, 1, 264}, rows, 8, 1.0f, 0, dummy, cache, dummy, nullptr).ok());
  EXPECT_FALSE(paged_attention({16, 1, 60}, rows, 8, 1.0f, 0, dummy, cache, dummy, nullptr).ok());
  EXPECT_FALSE(paged_attention({0, 1, 64}, rows, 8, 1.0f, 0, dummy, cache, dummy, nullptr).ok());
  const kv_cache_layer unscaled{dummy, dummy, kv_type::fp8_e4m3, 0.0f, 1.0f};
  EXPECT_FALSE(store_kv({16, 1, 64}, rows, dummy, dummy, unscaled, nullptr).ok());
  // No rows: nothing to do, no device needed.
  EXPECT_TRUE(paged_attention({16, 1, 64}, rows, 8, 1.0f, 0, dummy, cache, dummy, nullptr).ok());
}

TEST(cuda_attention, mixed_step_matches_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  cpu::thread_pool pool(2);
  uint32_t seed = 1;
  for (const head_shape& shape : shapes)
    for (int32_t window : {0, 7})
      for (int32_t block_size : {16, 32})
        for (kv_type type :
             {kv_type::f32, kv_type::fp8_e4m3, kv_type::fp8_e5m2, kv_type::bf16, kv_type::f16})
          check_against_cpu({mixed_step, shape, block_size, window, type, seed++}, pool);
}

TEST(cuda_attention, short_step_matches_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  cpu::thread_pool pool(2);
  uint32_t seed = 100;
  for (const head_shape& shape : shapes)
    for (int32_t window : {0, 7})
      for (kv_type type : {kv_type::f32, kv_type::fp8_e4m3, kv_type::bf16})
        check_against_cpu({short_step, shape, 16, window, type, seed++}, pool);
}

// Many decodes (one block per sequence and KV head, enough to fill the GPU unsplit) and one long
// decode (split across many blocks), at Llama-3-8B's head shape.
TEST(cuda_attention, decode_batches_match_cpu) {
  SKIP_WITHOUT_CUDA_DEVICE();
  cpu::thread_pool pool(2);
  std::vector<sequence_rows> batch;
  std::mt19937 rng(7);
  for (int i = 0; i < 64; ++i)
    batch.push_back({static_cast<int32_t>(rng() % 1000), 1});
  const std::vector<sequence_rows> long_decode = {{3000, 1}};
  // Split into runs of 160 keys on a 132-SM GPU: the window [2837, 2900] spans two of them.
  const std::vector<sequence_rows> windowed_decode = {{2900, 1}};
  for (kv_type type : {kv_type::f32, kv_type::fp8_e5m2, kv_type::bf16}) {
    check_against_cpu({batch, {32, 8, 128}, 16, 0, type, 200}, pool);
    check_against_cpu({long_decode, {32, 8, 128}, 16, 0, type, 201}, pool);
    check_against_cpu({windowed_decode, {32, 8, 128}, 32, 64, type, 202}, pool);
  }
}

// Ties, saturation, infinities, subnormals and signed zeros encode as the CPU encodes them; NaN
// stays a NaN code.
TEST(cuda_attention, store_kv_fp8_codes_match_cpu_on_special_values) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const paged_kv_layout layout{16, 1, 16};
  const std::vector<float> values = {1.0625f, 1.1875f,  -1.0625f,  448.0f,  464.0f, 1e6f,
                                     -1e6f,   INFINITY, -INFINITY, 0.0f,    -0.0f,  1e-3f,
                                     -3e-3f,  1e-40f,   57344.0f,  61440.0f};
  for (kv_type type : {kv_type::fp8_e4m3, kv_type::fp8_e5m2}) {
    for (float scale : {1.0f, 0.5f}) {
      SCOPED_TRACE(type_name(type) + " scale " + std::to_string(scale));
      std::vector<uint8_t> expected(values.size());
      cpu::quantize_fp8(values.data(), static_cast<int64_t>(values.size()), scale, cpu_format(type),
                        expected.data());
      const step st = make_step({{3, 1}}, 16, 1);
      device_step dst(st, plan_query_tiles(st.token_seqs.data(), 1));
      const int64_t cache_size = st.num_blocks * layout.block_stride();
      device_array<uint8_t> dk(std::vector<uint8_t>(cache_size, 0)),
          dv(std::vector<uint8_t>(cache_size, 0));
      std::vector<float> with_nan = values;
      with_nan[0] = NAN;
      device_array<float> k(values), v(with_nan);
      const kv_cache_layer layer{dk.get(), dv.get(), type, scale, scale};
      ASSERT_TRUE(store_kv(layout, dst.rows(st), k.get(), v.get(), layer, nullptr).ok());
      const int64_t slot = st.tables[0][0] * layout.block_stride() + 3 * 16;
      const auto hk = dk.to_host(), hv = dv.to_host();
      const std::vector<uint8_t> got(hk.begin() + slot, hk.begin() + slot + 16);
      EXPECT_EQ(got, expected);
      EXPECT_TRUE(std::isnan(cpu::fp8_to_float(hv[slot], cpu_format(type))));
      for (size_t i = 1; i < values.size(); ++i)
        EXPECT_EQ(hv[slot + i], expected[i]) << "value " << values[i];
    }
  }
}

// Ties to even, overflow to inf, subnormals, signed zeros, infinities and NaN store as the CPU's
// round_to_half stores them (the bits of __float2bfloat16_rn / __float2half_rn, NaN as
// kernels/cpu/half.hpp).
TEST(cuda_attention, store_kv_16bit_words_match_cpu_on_special_values) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const paged_kv_layout layout{16, 1, 16};
  const std::vector<float> values = {std::bit_cast<float>(0x3f808000u),  // bf16 tie -> even
                                     std::bit_cast<float>(0x3f818000u),
                                     1.0f + 0x1p-11f,  // f16 tie -> even
                                     1.0f + 0x3p-11f,
                                     65520.0f,
                                     3.4e38f,
                                     -1e10f,
                                     INFINITY,
                                     -INFINITY,
                                     0.0f,
                                     -0.0f,
                                     0x1.8p-25f,
                                     1e-40f,
                                     NAN,
                                     std::bit_cast<float>(0xff800001u),
                                     -0.1f};
  for (kv_type type : {kv_type::bf16, kv_type::f16}) {
    SCOPED_TRACE(type_name(type));
    std::vector<uint16_t> expected(values.size());
    cpu::round_to_half(values.data(), static_cast<int64_t>(values.size()), half_format_of(type),
                       expected.data());
    const step st = make_step({{3, 1}}, 16, 1);
    device_step dst(st, plan_query_tiles(st.token_seqs.data(), 1));
    const int64_t cache_size = st.num_blocks * layout.block_stride();
    device_array<uint16_t> dk(std::vector<uint16_t>(cache_size, 0)),
        dv(std::vector<uint16_t>(cache_size, 0));
    std::vector<float> reversed(values.rbegin(), values.rend());
    device_array<float> k(values), v(reversed);
    const kv_cache_layer layer{dk.get(), dv.get(), type, 1.0f, 1.0f};
    ASSERT_TRUE(store_kv(layout, dst.rows(st), k.get(), v.get(), layer, nullptr).ok());
    const int64_t slot = st.tables[0][0] * layout.block_stride() + 3 * 16;
    const auto hk = dk.to_host(), hv = dv.to_host();
    EXPECT_EQ(std::vector<uint16_t>(hk.begin() + slot, hk.begin() + slot + 16), expected);
    EXPECT_EQ(std::vector<uint16_t>(hv.begin() + slot, hv.begin() + slot + 16),
              std::vector<uint16_t>(expected.rbegin(), expected.rend()));
  }
}

// A 16-bit cache needs 16-byte aligned keys and values (its tiles are staged 16 bytes a copy).
TEST(cuda_attention_plan, a_misaligned_16bit_cache_is_an_error) {
  alignas(16) float dummy[8] = {};
  const attention_rows rows{};
  auto* misaligned = reinterpret_cast<char*>(dummy) + 8;
  for (kv_type type : {kv_type::bf16, kv_type::f16}) {
    const kv_cache_layer ok{dummy, dummy, type, 1.0f, 1.0f};
    const kv_cache_layer bad{misaligned, dummy, type, 1.0f, 1.0f};
    EXPECT_TRUE(paged_attention({16, 1, 64}, rows, 8, 1.0f, 0, dummy, ok, dummy, nullptr).ok());
    EXPECT_FALSE(paged_attention({16, 1, 64}, rows, 8, 1.0f, 0, dummy, bad, dummy, nullptr).ok());
  }
  const kv_cache_layer fp8{misaligned, misaligned, kv_type::fp8_e4m3, 1.0f, 1.0f};
  EXPECT_TRUE(paged_attention({16, 1, 64}, rows, 8, 1.0f, 0, dummy, fp8, dummy, nullptr).ok());
}

}  // namespace
}  // namespace troupe::kernels::cuda
