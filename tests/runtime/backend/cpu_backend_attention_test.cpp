// Conformance of the CPU backend's per-token ops that read the step's positions and block tables
// (rope, store_kv, paged_attention) and of its all_reduce hook, against the bare kernels bitwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/attention.hpp"
#include "kernels/cpu/rope.hpp"
#include "runtime/backend/communicator.hpp"
#include "runtime/backend/cpu_backend.hpp"
#include "runtime/backend/cpu_kv_cache.hpp"
#include "tests/runtime/backend/backend_test_support.hpp"

namespace troupe::backend {
namespace {

using testing::bitwise_equal;
using testing::cpu_backend_ops;
using testing::locations;
namespace cpu = kernels::cpu;

constexpr int32_t head_dim = 16, num_kv_heads = 2, num_heads = 6;

kv_cache_shape small_cache() {
  return {.num_layers = 2,
          .num_blocks = 6,
          .block_size = 4,
          .num_kv_heads = num_kv_heads,
          .head_dim = head_dim};
}

TEST_F(cpu_backend_ops, rope_matches_the_kernel_for_both_tables_and_layouts) {
  struct variant {
    runtime::rope_style style;
    bool explicit_freq;
  };
  for (auto v : {variant{runtime::rope_style::interleaved, false},
                 variant{runtime::rope_style::neox, true}}) {
    rope_spec spec{.style = v.style, .head_dim = head_dim, .theta = 500.0f};
    if (v.explicit_freq) {
      spec.inv_freq = random(head_dim / 2, 0.01f, 1.0f);
      spec.magnitude = 1.25f;
    }
    spec.num_positions = 2;  // begin_step extends it to the step's positions
    auto rope = be_.create_rope(spec);
    be_.begin_step(step_);
    const auto x = random(T * num_heads * head_dim);
    auto xb = buffer_with(x);
    be_.rope(rope, xb, num_heads);

    cpu::rope_table table = v.explicit_freq ? cpu::rope_table(spec.inv_freq, spec.magnitude)
                                            : cpu::rope_table(head_dim, spec.theta);
    table.ensure(step_.num_positions);
    auto expected = x;
    const auto layout = v.style == runtime::rope_style::neox ? cpu::rope_layout::neox
                                                             : cpu::rope_layout::interleaved;
    cpu::rope(table, layout, step_.positions.data(), T, num_heads, head_dim, expected.data());
    EXPECT_TRUE(bitwise_equal(read(xb, T * num_heads * head_dim), expected));
  }
}

TEST_F(cpu_backend_ops, store_kv_writes_each_row_into_its_slot_of_the_layer) {
  auto cache = be_.allocate_kv_cache(small_cache());
  const int64_t n = T * num_kv_heads * head_dim;
  const auto k = random(n), v = random(n);
  be_.store_kv(cache, 1, buffer_with(k), buffer_with(v));

  cpu_kv_cache expected(small_cache());
  const auto locs = locations(step_);
  cpu::store_kv(expected.layout(), locs.data(), T, k.data(), v.data(), expected.keys(1),
                expected.values(1));
  const auto& got = be_.kv_cache(cache);
  ASSERT_EQ(got.num_bytes(), expected.num_bytes());
  const auto floats = static_cast<size_t>(got.num_blocks() * got.layout().block_stride());
  for (int32_t layer : {0, 1}) {
    EXPECT_EQ(std::memcmp(got.keys(layer), expected.keys(layer), floats * 4), 0) << layer;
    EXPECT_EQ(std::memcmp(got.values(layer), expected.values(layer), floats * 4), 0) << layer;
  }
}

// An fp8 cache (one byte an element, per-layer scales): store_kv and paged_attention are the fp8
// kernels, bitwise.
TEST_F(cpu_backend_ops, fp8_store_kv_and_paged_attention_match_the_kernels) {
  for (auto dtype : {kv_cache_dtype::fp8_e4m3, kv_cache_dtype::fp8_e5m2}) {
    auto shape = small_cache();
    shape.dtype = dtype;
    shape.k_scales = {1.0f, 0.5f};
    shape.v_scales = {1.0f, 0.25f};
    auto cache = be_.allocate_kv_cache(shape);
    cpu_kv_cache expected(shape);
    ASSERT_EQ(expected.num_bytes(), small_cache().num_blocks * small_cache().bytes_per_block() / 4);
    const cpu::fp8_kv fp8 = expected.fp8(1);
    EXPECT_EQ(fp8.k_scale, 0.5f);
    EXPECT_EQ(fp8.v_scale, 0.25f);
    const auto locs = locations(step_);
    const int64_t kv_n = T * num_kv_heads * head_dim, q_n = T * num_heads * head_dim;
    const auto k = random(kv_n), v = random(kv_n), q = random(q_n, -2.0f, 2.0f);
    be_.begin_step(step_);
    be_.store_kv(cache, 1, buffer_with(k), buffer_with(v));
    cpu::store_kv(expected.layout(), locs.data(), T, k.data(), v.data(), fp8, expected.key_codes(1),
                  expected.value_codes(1));
    const auto& got = be_.kv_cache(cache);
    ASSERT_EQ(got.num_bytes(), expected.num_bytes());
    const auto codes = static_cast<size_t>(got.num_blocks() * got.layout().block_stride());
    EXPECT_EQ(std::memcmp(got.key_codes(1), expected.key_codes(1), codes), 0);
    EXPECT_EQ(std::memcmp(got.value_codes(1), expected.value_codes(1), codes), 0);

    const float scale = 1.0f / std::sqrt(float{head_dim});
    for (int32_t window : {0, 3}) {
      std::vector<float> want(q_n);
      cpu::paged_attention(pool_, expected.layout(), locs.data(), T, num_heads, scale, q.data(),
                           fp8, expected.key_codes(1), expected.value_codes(1), want.data(),
                           window);
      auto out = output(q_n);
      be_.paged_attention(cache, 1, {num_heads, scale, window}, buffer_with(q), out);
      EXPECT_TRUE(bitwise_equal(read(out, q_n), want)) << "window " << window;
    }
  }
}

// A 16-bit cache (two bytes an element, no scales): store_kv and paged_attention are the bf16 /
// f16 kernels, bitwise.
TEST_F(cpu_backend_ops, half_store_kv_and_paged_attention_match_the_kernels) {
  for (auto dtype : {kv_cache_dtype::bf16, kv_cache_dtype::f16}) {
    auto shape = small_cache();
    shape.dtype = dtype;
    auto cache = be_.allocate_kv_cache(shape);
    cpu_kv_cache expected(shape);
    ASSERT_EQ(expected.num_bytes(), small_cache().num_blocks * small_cache().bytes_per_block() / 2);
    const auto format =
        dtype == kv_cache_dtype::bf16 ? cpu::half_format::bf16 : cpu::half_format::f16;
    ASSERT_EQ(expected.half_format(), format);
    const auto locs = locations(step_);
    const int64_t kv_n = T * num_kv_heads * head_dim, q_n = T * num_heads * head_dim;
    const auto k = random(kv_n), v = random(kv_n), q = random(q_n, -2.0f, 2.0f);
    be_.begin_step(step_);
    be_.store_kv(cache, 1, buffer_with(k), buffer_with(v));
    cpu::store_kv(expected.layout(), locs.data(), T, k.data(), v.data(), format,
                  expected.key_words(1), expected.value_words(1));
    const auto& got = be_.kv_cache(cache);
    ASSERT_EQ(got.num_bytes(), expected.num_bytes());
    const auto bytes = 2 * static_cast<size_t>(got.num_blocks() * got.layout().block_stride());
    EXPECT_EQ(std::memcmp(got.key_words(1), expected.key_words(1), bytes), 0);
    EXPECT_EQ(std::memcmp(got.value_words(1), expected.value_words(1), bytes), 0);

    const float scale = 1.0f / std::sqrt(float{head_dim});
    for (int32_t window : {0, 3}) {
      std::vector<float> want(q_n);
      cpu::paged_attention(pool_, expected.layout(), locs.data(), T, num_heads, scale, q.data(),
                           format, expected.key_words(1), expected.value_words(1), want.data(),
                           window);
      auto out = output(q_n);
      be_.paged_attention(cache, 1, {num_heads, scale, window}, buffer_with(q), out);
      EXPECT_TRUE(bitwise_equal(read(out, q_n), want)) << "window " << window;
    }
  }
}

class cpu_backend_bf16_ops : public cpu_backend_ops {
 protected:
  cpu_backend_bf16_ops() : cpu_backend_ops(cpu_activations::bf16) {}
};

// Under bf16 activations a bf16 cache is attended with bf16 products where the kernels prefer them
// (AMD CPUs with AVX512-BF16), else in f32; an f16 cache always in f32.
TEST_F(cpu_backend_bf16_ops, paged_attention_multiplies_in_bf16_where_preferred) {
  constexpr int32_t dim = 64;
  for (auto dtype : {kv_cache_dtype::bf16, kv_cache_dtype::f16}) {
    auto shape = small_cache();
    shape.head_dim = dim;
    shape.dtype = dtype;
    const bool bf16 = dtype == kv_cache_dtype::bf16 && cpu::bf16_products_preferred(dim);
    EXPECT_EQ(be_.attention_in_bf16(shape), bf16);
    auto cache = be_.allocate_kv_cache(shape);
    cpu_kv_cache expected(shape);
    const auto format = expected.half_format();
    const auto locs = locations(step_);
    const int64_t kv_n = T * num_kv_heads * dim, q_n = T * num_heads * dim;
    const auto k = random(kv_n), v = random(kv_n), q = random(q_n, -2.0f, 2.0f);
    be_.begin_step(step_);
    be_.store_kv(cache, 0, buffer_with(k), buffer_with(v));
    cpu::store_kv(expected.layout(), locs.data(), T, k.data(), v.data(), format,
                  expected.key_words(0), expected.value_words(0));
    std::vector<float> want(q_n);
    cpu::paged_attention(pool_, expected.layout(), locs.data(), T, num_heads, 0.125f, q.data(),
                         format, expected.key_words(0), expected.value_words(0), want.data(), 0,
                         bf16 ? cpu::attention_products::bf16 : cpu::attention_products::f32);
    auto out = output(q_n);
    be_.paged_attention(cache, 0, {num_heads, 0.125f, 0}, buffer_with(q), out);
    EXPECT_TRUE(bitwise_equal(read(out, q_n), want)) << (bf16 ? "bf16" : "f32") << " products";
  }
}

TEST_F(cpu_backend_ops, paged_attention_matches_the_kernel_with_and_without_a_window) {
  auto cache = be_.allocate_kv_cache(small_cache());
  cpu_kv_cache expected_cache(small_cache());
  const auto locs = locations(step_);
  const int64_t kv_n = T * num_kv_heads * head_dim, q_n = T * num_heads * head_dim;
  // Earlier positions of s1 (0..8) come from a previous step; this step stores its own rows.
  const auto history = random(expected_cache.num_blocks() * expected_cache.layout().block_stride());
  const auto k = random(kv_n), v = random(kv_n), q = random(q_n, -2.0f, 2.0f);
  for (int32_t window : {0, 3}) {
    std::copy(history.begin(), history.end(), expected_cache.keys(0));
    std::copy(history.begin(), history.end(), expected_cache.values(0));
    cpu::store_kv(expected_cache.layout(), locs.data(), T, k.data(), v.data(),
                  expected_cache.keys(0), expected_cache.values(0));
    const float scale = 1.0f / std::sqrt(float{head_dim});
    std::vector<float> expected(q_n);
    cpu::paged_attention(pool_, expected_cache.layout(), locs.data(), T, num_heads, scale, q.data(),
                         expected_cache.keys(0), expected_cache.values(0), expected.data(), window);

    // The backend's cache gets the same history through a step that stores it.
    step_metadata fill;
    fill.token_ids.assign(24, 0);
    for (int32_t p = 0; p < 24; ++p)
      fill.positions.push_back(p);
    fill.token_seqs.assign(24, 0);
    fill.block_tables = {0, 1, 2, 3, 4, 5};
    fill.table_offsets = {0, 6};
    fill.num_positions = 24;
    be_.begin_step(fill);
    be_.store_kv(cache, 0, buffer_with(history), buffer_with(history));
    be_.begin_step(step_);
    be_.store_kv(cache, 0, buffer_with(k), buffer_with(v));
    auto out = output(q_n);
    be_.paged_attention(cache, 0, {num_heads, scale, window}, buffer_with(q), out);
    EXPECT_TRUE(bitwise_equal(read(out, q_n), expected)) << "window " << window;
  }
}

// Records what all_reduce hands to the communicator and doubles it (a stand-in for two ranks
// holding the same values).
class doubling_communicator final : public communicator {
 public:
  int32_t rank() const override { return 0; }
  int32_t world_size() const override { return 2; }
  void begin_step() override {}
  void all_reduce_sum(float* data, int64_t n) override {
    calls.push_back(n);
    for (int64_t i = 0; i < n; ++i)
      data[i] *= 2.0f;
  }
  void all_gather(const float*, int64_t, float*) override {}
  void broadcast(float*, int64_t, int32_t) override {}
  void abort() override {}
  std::vector<int64_t> calls;
};

TEST(cpu_backend, all_reduce_is_nothing_at_one_rank_and_the_communicator_otherwise) {
  cpu_backend alone(1);
  auto b = alone.allocate_buffer();
  alone.upload_buffer(b, std::vector<float>{1.0f, 2.0f, 3.0f});
  alone.all_reduce(b, 3);
  EXPECT_EQ(alone.download(b, 3)[2], 3.0f);

  doubling_communicator comm;
  cpu_backend ranked(1, &comm);
  auto c = ranked.allocate_buffer();
  ranked.upload_buffer(c, std::vector<float>{1.0f, 2.0f, 3.0f});
  ranked.all_reduce(c, 2);
  EXPECT_EQ(comm.calls, std::vector<int64_t>{2});
  const auto got = ranked.download(c, 3);
  EXPECT_EQ((std::vector<float>(got.begin(), got.end())), (std::vector<float>{2.0f, 4.0f, 3.0f}));
}

TEST(cpu_backend, reserve_keeps_a_buffer_that_is_large_enough) {
  cpu_backend be(1);
  auto b = be.allocate_buffer();
  be.upload_buffer(b, std::vector<float>{1.0f, 2.0f, 3.0f, 4.0f});
  const float* before = be.download(b, 4).data();
  be.reserve(b, 2);  // a smaller step reuses the storage
  EXPECT_EQ(be.download(b, 4).data(), before);
  EXPECT_EQ(be.download(b, 4)[3], 4.0f);
}

}  // namespace
}  // namespace troupe::backend
