// Weight matrices between storage formats (contract: weight_matrix.hpp).
#include "runtime/formats/weight_matrix.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

#include "runtime/backend/random_weight.hpp"
#include "runtime/formats/dequant.hpp"
#include "runtime/formats/half.hpp"

namespace troupe::runtime {

using backend::weight_format;

namespace {

struct ggml_pair {
  uint32_t type;
  weight_format format;
};

// ggml's type ids (ggml.h) of the formats kept as stored.
constexpr ggml_pair ggml_formats[] = {
    {0, weight_format::f32},   {1, weight_format::f16},   {30, weight_format::bf16},
    {8, weight_format::q8_0},  {2, weight_format::q4_0},  {3, weight_format::q4_1},
    {6, weight_format::q5_0},  {7, weight_format::q5_1},  {12, weight_format::q4_k},
    {13, weight_format::q5_k}, {14, weight_format::q6_k},
};

}  // namespace

std::optional<weight_format> weight_format_of_ggml(uint32_t type) {
  for (const auto& p : ggml_formats)
    if (p.type == type) return p.format;
  return std::nullopt;
}

std::optional<uint32_t> ggml_type_of(weight_format format) {
  for (const auto& p : ggml_formats)
    if (p.format == format) return p.type;
  return std::nullopt;
}

std::vector<float> matrix_to_f32(const weight_matrix& m, int64_t rows, int64_t cols) {
  if (m.random) {
    return matrix_to_f32(backend::generate_random_weight({rows, cols, m.format}, *m.random), rows,
                         cols);
  }
  if (m.format == weight_format::f32) return m.values;
  std::vector<float> out(static_cast<size_t>(rows * cols));
  if (backend::is_w8a8_format(m.format)) {
    const auto* q = reinterpret_cast<const int8_t*>(m.bytes.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out[r * cols + c] = static_cast<float>(q[r * cols + c]) * m.scales[r];
    return out;
  }
  // Every other format is a ggml type that dequantize() decodes; the sizes were checked.
  const auto st = dequantize(*ggml_type_of(m.format), m.bytes, out, "weight");
  assert(st);
  (void)st;
  return out;
}

weight_matrix dense_matrix(std::vector<float> values, weight_format format) {
  if (format == weight_format::f32) return weight_matrix(std::move(values));
  std::vector<uint8_t> bytes(values.size() * 2);
  for (size_t i = 0; i < values.size(); ++i) {
    const uint16_t h =
        format == weight_format::bf16 ? f32_to_bf16(values[i]) : f32_to_f16(values[i]);
    std::memcpy(bytes.data() + 2 * i, &h, 2);
  }
  return weight_matrix(format, std::move(bytes));
}

weight_matrix random_matrix(weight_format format, const backend::random_fill& fill) {
  weight_matrix out;
  out.format = format;
  out.random = fill;
  return out;
}

weight_matrix matrix_rows(const weight_matrix& m, int64_t cols, int64_t begin, int64_t count) {
  if (m.random) return random_matrix(m.format, backend::random_slice_fill(*m.random, false, begin));
  if (m.format == weight_format::f32) {
    std::vector<float> out(static_cast<size_t>(count * cols), 0.0f);
    const int64_t end = std::min(begin + count, static_cast<int64_t>(m.values.size()) / cols);
    if (end > begin)
      std::copy(m.values.begin() + begin * cols, m.values.begin() + end * cols, out.begin());
    return weight_matrix(std::move(out));
  }
  // Zero bytes are zero weights in every format (zero scales).
  const int64_t row_bytes = backend::weight_row_bytes(m.format, cols);
  std::vector<uint8_t> out(static_cast<size_t>(count * row_bytes), 0);
  std::vector<float> scales(backend::is_w8a8_format(m.format) ? static_cast<size_t>(count) : 0,
                            0.0f);
  const int64_t end = std::min(begin + count, static_cast<int64_t>(m.bytes.size()) / row_bytes);
  if (end > begin) {
    std::copy(m.bytes.begin() + begin * row_bytes, m.bytes.begin() + end * row_bytes, out.begin());
    if (!scales.empty())
      std::copy(m.scales.begin() + begin, m.scales.begin() + end, scales.begin());
  }
  return weight_matrix(m.format, std::move(out), std::move(scales));
}

weight_matrix matrix_cols(const weight_matrix& m, int64_t rows, int64_t cols, int64_t begin,
                          int64_t count) {
  if (m.random) return random_matrix(m.format, backend::random_slice_fill(*m.random, true, begin));
  const int64_t block = backend::weight_block_elements(m.format);
  if (m.format == weight_format::f32 || begin % block != 0 || count % block != 0) {
    const std::vector<float> all = matrix_to_f32(m, rows, cols);
    std::vector<float> out(static_cast<size_t>(rows * count));
    for (int64_t r = 0; r < rows; ++r)
      std::copy(all.begin() + r * cols + begin, all.begin() + r * cols + begin + count,
                out.begin() + r * count);
    return weight_matrix(std::move(out));
  }
  const int64_t row_bytes = backend::weight_row_bytes(m.format, cols);
  const int64_t first = backend::weight_row_bytes(m.format, begin);
  const int64_t size = backend::weight_row_bytes(m.format, count);
  std::vector<uint8_t> out(static_cast<size_t>(rows * size));
  for (int64_t r = 0; r < rows; ++r)
    std::copy(m.bytes.begin() + r * row_bytes + first,
              m.bytes.begin() + r * row_bytes + first + size, out.begin() + r * size);
  return weight_matrix(m.format, std::move(out), m.scales);
}

bool has_shape(const weight_matrix& m, int64_t rows, int64_t cols) {
  if (m.random) {
    const float bound = m.random->bound;
    return m.values.empty() && m.bytes.empty() && m.scales.empty() &&
           backend::is_random_format(m.format) && std::isnormal(bound) && bound > 0.0f &&
           rows >= 0 && cols >= 0;
  }
  if (m.format == weight_format::f32)
    return static_cast<int64_t>(m.values.size()) == rows * cols && m.bytes.empty();
  if (cols % backend::weight_block_elements(m.format) != 0 || !m.values.empty()) return false;
  const auto scales = static_cast<int64_t>(m.scales.size());
  return static_cast<int64_t>(m.bytes.size()) == rows * backend::weight_row_bytes(m.format, cols) &&
         scales == (backend::is_w8a8_format(m.format) ? rows : 0);
}

int64_t matrix_bytes(const weight_matrix& m, int64_t rows, int64_t cols) {
  if (!m.random) return m.size_bytes();
  const int64_t scales = backend::is_w8a8_format(m.format) ? rows * int64_t{sizeof(float)} : 0;
  return rows * backend::weight_row_bytes(m.format, cols) + scales;
}

}  // namespace troupe::runtime
