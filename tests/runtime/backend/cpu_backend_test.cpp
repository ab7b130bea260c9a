// Conformance of the CPU backend: every op, called through compute_backend on random inputs,
// equals the bare kernels/cpu call bitwise (the code path is the same kernel; these tests pin that
// the backend passes the right sizes, rows, positions and block tables).
#include "runtime/backend/cpu_backend.hpp"

#include <gtest/gtest.h>

#include <tuple>
#include <utility>
#include <vector>

#include "kernels/cpu/activation.hpp"
#include "kernels/cpu/amx_gemm.hpp"
#include "kernels/cpu/dense_gemm.hpp"
#include "kernels/cpu/elementwise.hpp"
#include "kernels/cpu/embedding.hpp"
#include "kernels/cpu/gemm_w8a8.hpp"
#include "kernels/cpu/half.hpp"
#include "kernels/cpu/panel_gemm.hpp"
#include "kernels/cpu/quant_gemm.hpp"
#include "kernels/cpu/rmsnorm.hpp"
#include "kernels/cpu/rope.hpp"
#include "tests/runtime/backend/backend_test_support.hpp"

namespace troupe::backend {
namespace {

using testing::bitwise_equal;
using testing::cpu_backend_bf16_ops;
using testing::cpu_backend_ops;
namespace cpu = kernels::cpu;

TEST_F(cpu_backend_ops, upload_and_download_round_trip) {
  const auto v = random(37);
  EXPECT_TRUE(bitwise_equal(read(buffer_with(v), 37), v));
  EXPECT_EQ(be_.name(), "cpu");
  EXPECT_EQ(be_.num_threads(), 2);
}

TEST_F(cpu_backend_ops, embedding_gathers_the_step_tokens) {
  const int64_t dim = 24;
  const auto table = random(10 * dim);
  auto out = output(T * dim);
  be_.embedding(weight(10, dim, table), 0, out);
  std::vector<float> expected(T * dim);
  cpu::embedding(table.data(), dim, step_.token_ids.data(), T, expected.data());
  EXPECT_TRUE(bitwise_equal(read(out, T * dim), expected));
}

TEST_F(cpu_backend_ops, rmsnorm_out_of_place_and_in_place) {
  const int64_t dim = 40;
  const auto x = random(T * dim, -3.0f, 3.0f), w = random(dim, 0.5f, 1.5f);
  auto xb = buffer_with(x), y = output(T * dim);
  const auto wh = weight(1, dim, w);
  be_.rmsnorm(xb, wh, T, 1e-5f, y);
  be_.rmsnorm(xb, wh, 3, 1e-6f, xb);
  std::vector<float> expected(T * dim), in_place = x;
  cpu::rmsnorm(x.data(), w.data(), T, dim, 1e-5f, expected.data());
  cpu::rmsnorm(in_place.data(), w.data(), 3, dim, 1e-6f, in_place.data());
  EXPECT_TRUE(bitwise_equal(read(y, T * dim), expected));
  EXPECT_TRUE(bitwise_equal(read(xb, T * dim), in_place));
}

// A dense matrix runs panel_gemm on its packed panels; a one-row weight dense_gemm.
TEST_F(cpu_backend_ops, matmul_is_the_dense_kernel_with_the_weight_shape) {
  for (auto [rows, in, out] :
       {std::tuple<int64_t, int64_t, int64_t>{9, 64, 48}, {1, 37, 13}, {5, 8, 1}, {0, 16, 16}}) {
    const auto x = random(rows * in), w = random(out * in);
    auto y = output(rows * out);
    be_.matmul(buffer_with(x), rows, weight(out, in, w), y);
    std::vector<float> expected(rows * out);
    if (out > 1) {
      cpu::panel_gemm(pool_, *cpu::pack_panels(cpu::dense_type::f32, w.data(), out, in), x.data(),
                      rows, expected.data());
    } else {
      cpu::dense_gemm(pool_, cpu::dense_type::f32, x.data(), rows, in, w.data(), out,
                      expected.data());
    }
    EXPECT_TRUE(bitwise_equal(read(y, rows * out), expected)) << rows << "x" << in << "x" << out;
  }
}

// Each storage format reaches its kernel with its bytes as stored.
TEST_F(cpu_backend_ops, matmul_runs_each_format_on_its_kernel) {
  const int64_t rows = 5, in = 64, out = 24;
  const auto x = random(rows * in);
  std::vector<uint8_t> bytes(static_cast<size_t>(out * weight_row_bytes(weight_format::q4_1, in)));
  for (auto& b : bytes)
    b = static_cast<uint8_t>(rng_());
  for (size_t i = 0; i < bytes.size(); i += 20) {  // q4_1 blocks: small finite f16 d and m
    bytes[i] = 0x00, bytes[i + 1] = 0x20, bytes[i + 2] = 0x00, bytes[i + 3] = 0xa0;
  }
  std::vector<float> expected(rows * out);
  auto y = output(rows * out);
  be_.matmul(buffer_with(x), rows,
             be_.upload_weight({out, in, weight_format::q4_1}, {weight_format::q4_1, bytes}), y);
  cpu::quant_gemm(pool_, cpu::block_format::q4_1, x.data(), rows, in, bytes.data(), out,
                  expected.data());
  EXPECT_TRUE(bitwise_equal(read(y, rows * out), expected)) << "q4_1";

  // A K-quant runs its int8 kernel where the CPU has AVX2 or AVX-512 VNNI; elsewhere it is
  // decoded once into f32 panels (its portable int8 kernel is far slower).
  const int64_t k_in = 256;
  std::vector<uint8_t> q4k(static_cast<size_t>(out * weight_row_bytes(weight_format::q4_k, k_in)));
  for (auto& b : q4k)
    b = static_cast<uint8_t>(rng_());
  for (size_t i = 0; i < q4k.size(); i += 144) {  // q4_k blocks: small finite f16 d and dmin
    q4k[i] = 0x00, q4k[i + 1] = 0x20, q4k[i + 2] = 0x00, q4k[i + 3] = 0x20;
  }
  std::vector<float> q4k_values(static_cast<size_t>(out * k_in));
  for (int64_t r = 0; r < out; ++r) {
    cpu::dequantize_row(cpu::block_format::q4_k, q4k.data() + r * 144, k_in,
                        q4k_values.data() + r * k_in);
  }
  const auto xk = random(rows * k_in);
  be_.matmul(buffer_with(xk), rows,
             be_.upload_weight({out, k_in, weight_format::q4_k}, {weight_format::q4_k, q4k}), y);
  if (cpu::best_quant_path() != cpu::quant_path::scalar) {
    cpu::quant_gemm(pool_, cpu::block_format::q4_k, xk.data(), rows, k_in, q4k.data(), out,
                    expected.data());
  } else {
    cpu::panel_gemm(pool_, *cpu::pack_panels(cpu::dense_type::f32, q4k_values.data(), out, k_in),
                    xk.data(), rows, expected.data());
  }
  EXPECT_TRUE(bitwise_equal(read(y, rows * out), expected)) << "q4_k";

  std::vector<uint8_t> bf16(static_cast<size_t>(out * in * 2));
  for (size_t i = 0; i < bf16.size(); i += 2)  // bf16 values in [-2, 2)
    bf16[i] = static_cast<uint8_t>(rng_()),
    bf16[i + 1] = static_cast<uint8_t>(0x3f | (rng_() & 0x80));
  be_.matmul(buffer_with(x), rows,
             be_.upload_weight({out, in, weight_format::bf16}, {weight_format::bf16, bf16}), y);
  cpu::panel_gemm(pool_, *cpu::pack_panels(cpu::dense_type::bf16, bf16.data(), out, in), x.data(),
                  rows, expected.data());
  EXPECT_TRUE(bitwise_equal(read(y, rows * out), expected)) << "bf16";

  std::vector<uint8_t> q(static_cast<size_t>(out * in));
  for (auto& b : q)
    b = static_cast<uint8_t>(rng_());
  const auto scales = random(out);
  for (auto format : {weight_format::w8a8, weight_format::w8a8_azp}) {
    be_.matmul(buffer_with(x), rows, be_.upload_weight({out, in, format}, {format, q, scales}), y);
    const auto* w = reinterpret_cast<const int8_t*>(q.data());
    const auto sums = cpu::w8a8_row_sums(w, out, in);
    cpu::gemm_w8a8(pool_, x.data(), rows, in, w, scales.data(), sums.data(), out,
                   format == weight_format::w8a8_azp, expected.data());
    EXPECT_TRUE(bitwise_equal(read(y, rows * out), expected)) << weight_format_name(format);
  }
}

// matmuls gives each target what matmul gives it: dense matrices together, one block format
// together, and a mix of kinds (here q4_1, bf16, w8a8 and a one-row weight) one by one.
TEST_F(cpu_backend_ops, matmuls_equal_one_matmul_per_target) {
  const int64_t rows = 6, in = 64;
  const auto x = random(rows * in);
  const auto xb = buffer_with(x);
  auto q4_1 = [&](int64_t out) {
    std::vector<uint8_t> b(static_cast<size_t>(out * weight_row_bytes(weight_format::q4_1, in)));
    for (auto& v : b)
      v = static_cast<uint8_t>(rng_());
    for (size_t i = 0; i < b.size(); i += 20)  // small finite f16 d and m
      b[i] = 0x00, b[i + 1] = 0x20, b[i + 2] = 0x00, b[i + 3] = 0xa0;
    return std::pair{be_.upload_weight({out, in, weight_format::q4_1}, {weight_format::q4_1, b}),
                     out};
  };
  auto bf16 = [&](int64_t out) {
    std::vector<uint8_t> b(static_cast<size_t>(out * in * 2));
    for (size_t i = 0; i < b.size(); i += 2)
      b[i] = static_cast<uint8_t>(rng_()), b[i + 1] = static_cast<uint8_t>(0x3f | (rng_() & 0x80));
    return std::pair{be_.upload_weight({out, in, weight_format::bf16}, {weight_format::bf16, b}),
                     out};
  };
  auto w8a8 = [&](int64_t out) {
    std::vector<uint8_t> q(static_cast<size_t>(out * in));
    for (auto& v : q)
      v = static_cast<uint8_t>(rng_());
    return std::pair{
        be_.upload_weight({out, in, weight_format::w8a8}, {weight_format::w8a8, q, random(out)}),
        out};
  };
  auto f32 = [&](int64_t out) { return std::pair{weight(out, in, random(out * in)), out}; };
  const std::vector<std::vector<std::pair<weight_handle, int64_t>>> groups = {
      {f32(40), bf16(24), f32(8)},
      {q4_1(48), q4_1(16), q4_1(80)},
      {q4_1(32), bf16(8), w8a8(12), f32(1)},
      {w8a8(48), w8a8(12), w8a8(64)}};
  for (const auto& ws : groups) {
    std::vector<matmul_target> targets;
    std::vector<int64_t> outs;
    for (const auto& [w, out] : ws) {
      outs.push_back(out);
      targets.push_back({w, output(rows * out)});
    }
    be_.matmuls(xb, rows, targets);
    for (size_t i = 0; i < ws.size(); ++i) {
      auto alone = output(rows * outs[i]);
      be_.matmul(xb, rows, ws[i].first, alone);
      EXPECT_TRUE(bitwise_equal(read(targets[i].y, rows * outs[i]), read(alone, rows * outs[i])))
          << "target " << i;
    }
  }
}

TEST_F(cpu_backend_ops, add_bias_add_and_silu_mul) {
  const int64_t n = T * 12;
  const auto y = random(n), x = random(n), bias = random(12), up = random(n);
  auto yb = buffer_with(y), xb = buffer_with(x), upb = buffer_with(up);
  be_.add_bias(yb, weight(1, 12, bias), T);
  be_.add(yb, xb, n);
  be_.silu_mul(yb, upb, n, yb);  // out aliases gate
  auto expected = y;
  cpu::add_bias(expected.data(), bias.data(), T, 12);
  cpu::add_inplace(expected.data(), x.data(), n);
  cpu::silu_mul(expected.data(), up.data(), n, expected.data());
  EXPECT_TRUE(bitwise_equal(read(yb, n), expected));
}

// Big enough to be split among the pool's threads: the same bits as one kernel call.
// The down projection of the SiLU gives silu_mul then matmul's bits for every weight kind: bf16
// and W8A8 (AMX tiles where the CPU has them, each row's SiLU computed as the product prepares its
// input; bf16 tiles need bf16 activations) and f32.
TEST_F(cpu_backend_bf16_ops, silu_mul_matmul_equals_silu_mul_then_matmul) {
  const int64_t in = 96, out = 40;
  std::vector<uint8_t> bf16_bits(static_cast<size_t>(out * in * 2)),
      q(static_cast<size_t>(out * in));
  for (size_t i = 0; i < bf16_bits.size(); i += 2)
    bf16_bits[i] = static_cast<uint8_t>(rng_()), bf16_bits[i + 1] = 0x3e;
  for (auto& v : q)
    v = static_cast<uint8_t>(rng_());
  const std::vector<std::pair<const char*, weight_handle>> weights = {
      {"bf16", be_.upload_weight({out, in, weight_format::bf16}, {weight_format::bf16, bf16_bits})},
      {"w8a8",
       be_.upload_weight({out, in, weight_format::w8a8}, {weight_format::w8a8, q, random(out)})},
      {"w8a8_azp", be_.upload_weight({out, in, weight_format::w8a8_azp},
                                     {weight_format::w8a8_azp, q, random(out)})},
      {"f32", weight(out, in, random(out * in))}};
  for (const auto& [name, w] : weights) {
    for (int64_t rows : {1, 6, 40}) {
      const auto gate = random(rows * in), up = random(rows * in);
      auto fused = output(rows * out), expected = output(rows * out);
      be_.silu_mul_matmul(buffer_with(gate), buffer_with(up), rows, in, w, fused);
      auto silu = buffer_with(gate);
      be_.silu_mul(silu, buffer_with(up), rows * in, silu);
      be_.matmul(silu, rows, w, expected);
      EXPECT_TRUE(bitwise_equal(read(fused, rows * out), read(expected, rows * out)))
          << name << " rows=" << rows;
    }
  }
}

TEST_F(cpu_backend_ops, elementwise_and_row_ops_split_among_threads_equal_the_kernels) {
  const int64_t n = 3 * 16384 + 5;
  const auto y = random(n), x = random(n), up = random(n);
  auto yb = buffer_with(y), xb = buffer_with(x), upb = buffer_with(up);
  be_.add(yb, xb, n);
  be_.silu_mul(yb, upb, n, yb);
  auto expected = y;
  cpu::add_inplace(expected.data(), x.data(), n);
  cpu::silu_mul(expected.data(), up.data(), n, expected.data());
  EXPECT_TRUE(bitwise_equal(read(yb, n), expected));

  const int64_t rows = 41, dim = 1024;
  const auto h = random(rows * dim, -3.0f, 3.0f), w = random(dim, 0.5f, 1.5f);
  auto hb = buffer_with(h);
  be_.rmsnorm(hb, weight(1, dim, w), rows, 1e-5f, hb);
  auto normed = h;
  cpu::rmsnorm(normed.data(), w.data(), rows, dim, 1e-5f, normed.data());
  EXPECT_TRUE(bitwise_equal(read(hb, rows * dim), normed));

  const int32_t heads = 512, head_dim = 8;
  auto rope = be_.create_rope({.style = runtime::rope_style::neox,
                               .head_dim = head_dim,
                               .theta = 500.0f,
                               .num_positions = 16});
  const auto q = random(T * heads * head_dim);
  auto qb = buffer_with(q);
  be_.rope(rope, qb, heads);
  cpu::rope_table table(head_dim, 500.0f);
  table.ensure(16);
  auto rotated = q;
  cpu::rope(table, cpu::rope_layout::neox, step_.positions.data(), T, heads, head_dim,
            rotated.data());
  EXPECT_TRUE(bitwise_equal(read(qb, T * heads * head_dim), rotated));
}

TEST_F(cpu_backend_ops, gather_sampled_rows_takes_the_rows_in_order) {
  const int64_t dim = 7;
  const auto x = random(T * dim);
  auto out = output(3 * dim);
  be_.gather_sampled_rows(buffer_with(x), dim, out);
  std::vector<float> expected;
  for (int32_t row : step_.sample_rows)
    expected.insert(expected.end(), x.begin() + row * dim, x.begin() + (row + 1) * dim);
  EXPECT_TRUE(bitwise_equal(read(out, 3 * dim), expected));
}

// --dtype bfloat16: a bf16 matrix multiplies x rounded to bf16, on AMX tiles where the CPU has
// them (else panel_gemm on the rounded x); f32 and f16 matrices multiply x as it is; matmuls put
// together only products on the same x; a tied bf16 table still gives exact embedding rows.
TEST_F(cpu_backend_bf16_ops, bf16_matrices_multiply_x_rounded_to_bf16) {
  EXPECT_EQ(be_.activations(), cpu_activations::bf16);
  EXPECT_EQ(be_.uses_bf16_tiles(), cpu::bf16_tiles_supported());
  const int64_t rows = 9, in = 70;
  const auto x = random(rows * in);
  const auto xb = buffer_with(x);
  auto bf16_weight = [&](int64_t out) {
    std::vector<uint16_t> h(static_cast<size_t>(out * in));
    cpu::round_to_half(random(out * in).data(), out * in, cpu::half_format::bf16, h.data());
    std::vector<uint8_t> bytes(h.size() * 2);
    std::memcpy(bytes.data(), h.data(), bytes.size());
    return std::pair{
        be_.upload_weight({out, in, weight_format::bf16}, {weight_format::bf16, bytes}), h};
  };
  const auto [w40, h40] = bf16_weight(40);
  std::vector<float> expected(rows * 40), as_is(rows * 40);
  if (be_.uses_bf16_tiles()) {
    cpu::amx_gemm(pool_, *cpu::pack_amx_weight(h40.data(), 40, in), x.data(), rows,
                  expected.data());
  } else {
    std::vector<float> rounded(x.size());
    cpu::round_through_bf16(x.data(), rows * in, rounded.data());
    cpu::panel_gemm(pool_, *cpu::pack_panels(cpu::dense_type::bf16, h40.data(), 40, in),
                    rounded.data(), rows, expected.data());
  }
  auto y = output(rows * 40);
  be_.matmul(xb, rows, w40, y);
  EXPECT_TRUE(bitwise_equal(read(y, rows * 40), expected));
  cpu::panel_gemm(pool_, *cpu::pack_panels(cpu::dense_type::bf16, h40.data(), 40, in), x.data(),
                  rows, as_is.data());
  EXPECT_FALSE(bitwise_equal(read(y, rows * 40), as_is)) << "x was not rounded";

  const auto f32_values = random(24 * in);
  const auto w24 = weight(24, in, f32_values);
  std::vector<float> f32_expected(rows * 24);
  cpu::panel_gemm(pool_, *cpu::pack_panels(cpu::dense_type::f32, f32_values.data(), 24, in),
                  x.data(), rows, f32_expected.data());
  auto y24 = output(rows * 24);
  be_.matmul(xb, rows, w24, y24);
  EXPECT_TRUE(bitwise_equal(read(y24, rows * 24), f32_expected)) << "f32 weights take x as it is";

  const auto w16 = bf16_weight(16).first;
  for (const auto& ws : {std::vector<weight_handle>{w40, w16}, {w40, w24, w16}, {w24, w40}}) {
    std::vector<matmul_target> targets;
    for (weight_handle w : ws)
      targets.push_back({w, output(rows * 40)});
    be_.matmuls(xb, rows, targets);
    for (const matmul_target& t : targets) {
      auto alone = output(rows * 40);
      be_.matmul(xb, rows, t.w, alone);
      const int64_t n = t.w.id == w24.id ? 24 : t.w.id == w16.id ? 16 : 40;
      EXPECT_TRUE(bitwise_equal(read(t.y, rows * n), read(alone, rows * n))) << "weight " << t.w.id;
    }
  }

  const auto [table, table_bits] = bf16_weight(10);
  auto embedded = output(T * in);
  be_.embedding(table, 0, embedded);
  std::vector<float> rows_expected;
  for (int32_t id : step_.token_ids)
    for (int64_t c = 0; c < in; ++c)
      rows_expected.push_back(cpu::bf16_to_f32(table_bits[id * in + c]));
  EXPECT_TRUE(bitwise_equal(read(embedded, T * in), rows_expected));
}

}  // namespace
}  // namespace troupe::backend
