#pragma once
// The host values of a random weight (--load-format dummy: backend_types.hpp's random_fill), the
// bits every backend must produce for it. Element i = r * cols + c of a [rows][cols] weight:
//
//   f32          random_uniform(seed, i, bound)                (kernels/cpu/random_weights.hpp)
//   bf16, f16    that value rounded to nearest even            (runtime/formats/half.hpp)
//   w8a8(_azp)   random_int8(seed, i); every row's scale bound / 127
//
// Block formats (GGUF's q8_0 ... q6_k) cannot be generated. Header-only, so that the loaders'
// conversions (runtime/formats/weight_matrix) and every backend share it.
#include <cstdint>
#include <cstring>

#include "kernels/cpu/random_weights.hpp"
#include "runtime/backend/backend_types.hpp"
#include "runtime/formats/half.hpp"

namespace troupe::backend {

// Whether a random weight of `format` can be generated (dense and W8A8 formats).
inline bool is_random_format(weight_format format) {
  return is_dense_format(format) || is_w8a8_format(format);
}

// Zeroed storage of a [desc.rows][desc.cols] weight of desc.format, `random` unset.
// requires: is_random_format(desc.format).
inline weight_data random_weight_storage(const weight_desc& desc) {
  weight_data out;
  out.format = desc.format;
  const auto n = static_cast<size_t>(desc.num_elements());
  if (desc.format == weight_format::f32) {
    out.values.resize(n);
  } else {
    out.bytes.resize(n * static_cast<size_t>(weight_row_bytes(desc.format, 1)));
  }
  if (is_w8a8_format(desc.format)) out.scales.resize(static_cast<size_t>(desc.rows));
  return out;
}

// Writes rows [begin, end) of the random weight `fill` describes into `out`. Rows are
// independent, so disjoint ranges may be filled concurrently.
// requires: out = random_weight_storage(desc), 0 <= begin <= end <= desc.rows.
inline void fill_random_rows(const weight_desc& desc, const random_fill& fill, int64_t begin,
                             int64_t end, weight_data& out) {
  namespace cpu = kernels::cpu;
  const auto first = static_cast<uint64_t>(begin * desc.cols);
  const auto last = static_cast<uint64_t>(end * desc.cols);
  switch (desc.format) {
    case weight_format::f32:
      for (uint64_t i = first; i < last; ++i)
        out.values[i] = cpu::random_uniform(fill.seed, i, fill.bound);
      return;
    case weight_format::bf16:
    case weight_format::f16:
      for (uint64_t i = first; i < last; ++i) {
        const float v = cpu::random_uniform(fill.seed, i, fill.bound);
        const uint16_t h =
            desc.format == weight_format::bf16 ? runtime::f32_to_bf16(v) : runtime::f32_to_f16(v);
        std::memcpy(out.bytes.data() + 2 * i, &h, 2);
      }
      return;
    default:  // w8a8, w8a8_azp
      for (uint64_t i = first; i < last; ++i)
        out.bytes[i] = static_cast<uint8_t>(cpu::random_int8(fill.seed, i));
      for (int64_t r = begin; r < end; ++r)
        out.scales[static_cast<size_t>(r)] = fill.bound / 127.0f;
      return;
  }
}

// The fill of a slice of a random weight (tensor-parallel shards): a seed of its own, derived
// from the weight's seed, whether rows or columns are taken, and the slice's first row or column,
// so that slices at different offsets differ and two ranks that take the same slice (a
// replicated KV head) hold the same values.
inline random_fill random_slice_fill(const random_fill& fill, bool columns, int64_t offset) {
  const uint64_t key = static_cast<uint64_t>(offset) * 2 + (columns ? 1 : 0);
  return {kernels::cpu::random_bits(fill.seed ^ 0x736c696365ull /* "slice" */, key), fill.bound};
}

// The whole random weight on one thread. requires: is_random_format(desc.format).
inline weight_data generate_random_weight(const weight_desc& desc, const random_fill& fill) {
  weight_data out = random_weight_storage(desc);
  fill_random_rows(desc, fill, 0, desc.rows, out);
  return out;
}

}  // namespace troupe::backend
