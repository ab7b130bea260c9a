// quant_gemm: quantize the x rows, then threads split N; on the SIMD paths each thread packs 16 W
// rows at a time (quant_blocks.hpp) and sweeps every x row over them (contract: quant_gemm.hpp).
#include "kernels/cpu/quant_gemm.hpp"

#include <algorithm>
#include <cassert>

#include "kernels/cpu/column_tasks.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/quant_blocks.hpp"

namespace troupe::kernels::cpu {
namespace {

// Scratch reused across calls: the calling thread's quantized activations and each thread's
// packed tile. Thread-local, so concurrent calls from different threads never share them.
quant::quantized_rows& activation_scratch() {
  thread_local quant::quantized_rows rows;
  return rows;
}

quant::packed_tile& tile_scratch() {
  thread_local quant::packed_tile tile;
  return tile;
}

// Rows are independent, so any split gives the same bits; small batches stay on the caller.
void quantize_activations(thread_pool& pool, block_format f, const float* x, int64_t M, int64_t K,
                          quant::quantized_rows& xq) {
  quant::resize(xq, f, M, K);
  const int64_t num_tasks = std::min<int64_t>(pool.num_threads(), M * K / 8192);
  if (num_tasks <= 1) {
    quant::quantize_rows(f, x, 0, M, xq);
    return;
  }
  const int64_t chunk = (M + num_tasks - 1) / num_tasks;
  pool.run(static_cast<int>(num_tasks), [&](int task) {
    const int64_t m0 = task * chunk;
    quant::quantize_rows(f, x, std::min(M, m0), std::min(M, m0 + chunk), xq);
  });
}

void packed_columns(quant_path path, block_format f, const quant::quantized_rows& xq, int64_t M,
                    const uint8_t* w, int64_t N, int64_t n_begin, int64_t n_end, float* y) {
  quant::packed_tile& tile = tile_scratch();
  for (int64_t n = n_begin; n < n_end; n += quant::tile_rows) {
    quant::pack_tile(f, w, xq.K, N, n, tile);
    const int nr = static_cast<int>(std::min<int64_t>(quant::tile_rows, n_end - n));
    if (path == quant_path::avx512_vnni) {
      quant::vnni_tile(f, tile, xq, M, y + n, N, nr);
    } else {
      quant::avx2_tile(f, tile, xq, M, y + n, N, nr);
    }
  }
}

}  // namespace

bool quant_path_supported(quant_path path) {
  const cpu_features& c = detect_cpu_features();
  switch (path) {
    case quant_path::scalar:
      return true;
    case quant_path::avx2:
      return c.avx2 && c.fma && c.f16c;
    case quant_path::avx512_vnni:
      return c.avx512f && c.avx512bw && c.avx512vl && c.avx512_vnni;
  }
  return false;
}

quant_path best_quant_path() {
  static const quant_path best = quant_path_supported(quant_path::avx512_vnni)
                                     ? quant_path::avx512_vnni
                                 : quant_path_supported(quant_path::avx2) ? quant_path::avx2
                                                                          : quant_path::scalar;
  return best;
}

void quant_gemm_on(quant_path path, thread_pool& pool, block_format f, const float* x, int64_t M,
                   int64_t K, const uint8_t* w, int64_t N, float* y) {
  assert(quant_path_supported(path) && K % block_elements(f) == 0);
  if (M == 0 || N == 0) return;
  quant::quantized_rows& xq = activation_scratch();
  quantize_activations(pool, f, x, M, K, xq);
  // The K-quants have no SIMD kernel yet; the scalar one gives the same bits.
  const bool packed = path != quant_path::scalar && !quant::is_k_quant(f);
  // Chunks are whole packed tiles.
  const int64_t unit = quant::tile_rows;
  run_column_tasks(pool, N, 2 * unit, unit, [&](int64_t n0, int64_t n1) {
    if (packed) {
      packed_columns(path, f, xq, M, w, N, n0, n1, y);
    } else {
      quant::scalar_columns(f, xq, M, w, N, n0, n1, y);
    }
  });
}

void quant_gemm(thread_pool& pool, block_format f, const float* x, int64_t M, int64_t K,
                const uint8_t* w, int64_t N, float* y) {
  quant_gemm_on(best_quant_path(), pool, f, x, M, K, w, N, y);
}

}  // namespace troupe::kernels::cpu
