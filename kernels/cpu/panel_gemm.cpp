// panel_gemm: x [M][K] f32, W packed in 32-column panels -> y [M][N] (contract: panel_gemm.hpp).
// Packing, the scalar reference and tiles, the run-time choice, and the loops that sweep tiles.
#include "kernels/cpu/panel_gemm.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/panel_gemm_tiles.hpp"

namespace troupe::kernels::cpu {

namespace {

constexpr int64_t panel_cols = panel_weight::panel_cols;

float widen(dense_type type, const void* w, int64_t k) {
  switch (type) {
    case dense_type::bf16:
      return bf16_to_float(static_cast<const uint16_t*>(w)[k]);
    case dense_type::f16:
      return f16_to_float(static_cast<const uint16_t*>(w)[k]);
    default:
      return static_cast<const float*>(w)[k];
  }
}

// Where column c of a packed row sits (panel_gemm.hpp's layout), in elements.
int64_t packed_position(dense_type type, int64_t c) {
  if (type != dense_type::bf16) return c;
  return c < 16 ? 2 * c : 2 * (c - 16) + 1;
}

}  // namespace

panel_weight::panel_weight(dense_type type, int64_t N, int64_t K) : type_(type), N_(N), K_(K) {
  if (size_bytes() > 0) {
    data_ = static_cast<uint8_t*>(::operator new(size_bytes(), std::align_val_t(64)));
    std::memset(data_, 0, size_bytes());
  }
}

panel_weight::~panel_weight() {
  if (data_) ::operator delete(data_, std::align_val_t(64));
}

std::shared_ptr<const panel_weight> pack_panels(dense_type type, const void* w, int64_t N,
                                                int64_t K) {
  auto packed = std::make_shared<panel_weight>(type, N, K);
  const int64_t size = packed->element_bytes();
  const auto* src = static_cast<const uint8_t*>(w);
  for (int64_t n = 0; n < N; ++n) {
    uint8_t* panel = packed->mutable_data() + (n / panel_cols) * packed->panel_bytes();
    const int64_t pos = packed_position(type, n % panel_cols);
    for (int64_t k = 0; k < K; ++k)
      std::memcpy(panel + (k * panel_cols + pos) * size, src + (n * K + k) * size, size);
  }
  return packed;
}

float panel_dot_scalar(dense_type type, const float* x, const void* w_row, int64_t K) {
  float acc = 0.0f;
  for (int64_t k = 0; k < K; ++k)
    acc = std::fma(x[k], widen(type, w_row, k), acc);
  return acc;
}

void panel_row(const panel_weight& w, int64_t n, float* out) {
  const uint8_t* panel = w.data() + (n / panel_cols) * w.panel_bytes();
  const int64_t pos = packed_position(w.type(), n % panel_cols);
  for (int64_t k = 0; k < w.cols(); ++k)
    out[k] = widen(w.type(), panel, k * panel_cols + pos);
}

namespace panel_detail {
namespace {

// One output chain at a time, straight from the packed layout.
void scalar_tile(dense_type type, const tile_args& a) {
  for (int i = 0; i < a.mr; ++i) {
    for (int64_t c = 0; c < panel_cols; ++c) {
      float acc = a.accumulate ? a.y[i * a.ldy + c] : 0.0f;
      const int64_t pos = packed_position(type, c);
      for (int64_t k = 0; k < a.kc; ++k)
        acc = std::fma(a.x[k * a.mr + i], widen(type, a.w, k * panel_cols + pos), acc);
      a.y[i * a.ldy + c] = acc;
    }
  }
}

void scalar_tile_f32(const tile_args& a) {
  scalar_tile(dense_type::f32, a);
}
void scalar_tile_bf16(const tile_args& a) {
  scalar_tile(dense_type::bf16, a);
}
void scalar_tile_f16(const tile_args& a) {
  scalar_tile(dense_type::f16, a);
}

int scalar_single_group_panels(int) {
  return 1;
}

tile_fn scalar_tile_for(dense_type type, int, int) {
  switch (type) {
    case dense_type::bf16:
      return scalar_tile_bf16;
    case dense_type::f16:
      return scalar_tile_f16;
    default:
      return scalar_tile_f32;
  }
}

}  // namespace

const tile_set& scalar_tiles() {
  static const tile_set tiles{4, scalar_single_group_panels, scalar_tile_for};
  return tiles;
}

}  // namespace panel_detail
}  // namespace troupe::kernels::cpu
