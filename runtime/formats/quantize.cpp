#include "runtime/formats/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/formats/ggml_types.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/half.hpp"

namespace troupe::runtime {
namespace {

constexpr int qk = 32;

void store_u16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, sizeof v);
}

// Each block's scale is computed in f32 and only then stored as f16: ggml quantizes with the
// f32 inverse scale, so we do too, to produce the same bits.
float inverse(float d) {
  return d != 0.0f ? 1.0f / d : 0.0f;
}

template <class Encode>
void encode_each(std::span<const float> values, std::vector<uint8_t>& out, size_t block_bytes,
                 Encode encode) {
  for (size_t b = 0; b < values.size() / qk; ++b) {
    encode(values.data() + b * qk, out.data() + b * block_bytes);
  }
}

}  // namespace

void quantize_block_q8_0(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (int j = 0; j < qk; ++j)
    amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = inverse(d);
  store_u16(out, f32_to_f16(d));
  for (int j = 0; j < qk; ++j) {
    out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::roundf(x[j] * id)));
  }
}

void quantize_block_q4_0(const float* x, uint8_t* out) {
  // The scale is the signed value of largest magnitude over -8, so that value maps to q = 0
  // exactly and the other side gets the finer 7 steps.
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < qk; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  const float d = max / -8.0f;
  const float id = inverse(d);
  store_u16(out, f32_to_f16(d));
  for (int j = 0; j < qk / 2; ++j) {
    const int lo = std::min(15, static_cast<int>(static_cast<int8_t>(x[j] * id + 8.5f)));
    const int hi = std::min(15, static_cast<int>(static_cast<int8_t>(x[j + qk / 2] * id + 8.5f)));
    out[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

void quantize_block_q4_1(const float* x, uint8_t* out) {
  float min = x[0];
  float max = x[0];
  for (int j = 1; j < qk; ++j) {
    min = std::min(min, x[j]);
    max = std::max(max, x[j]);
  }
  const float d = (max - min) / 15.0f;
  const float id = inverse(d);
  store_u16(out, f32_to_f16(d));
  store_u16(out + 2, f32_to_f16(min));
  for (int j = 0; j < qk / 2; ++j) {
    const int lo = std::min(15, static_cast<int>(static_cast<int8_t>((x[j] - min) * id + 0.5f)));
    const int hi =
        std::min(15, static_cast<int>(static_cast<int8_t>((x[j + qk / 2] - min) * id + 0.5f)));
    out[4 + j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

bool can_encode(uint32_t type) {
  switch (static_cast<ggml_type>(type)) {
    case ggml_type::f32:
    case ggml_type::f16:
    case ggml_type::bf16:
    case ggml_type::q8_0:
    case ggml_type::q4_0:
    case ggml_type::q4_1:
      return true;
    default:
      return false;
  }
}

result<std::vector<uint8_t>> encode_tensor(uint32_t type, std::span<const float> values) {
  if (!can_encode(type)) return error{"cannot encode tensors of type " + ggml_type_name(type)};
  const std::optional<uint64_t> num_bytes = ggml_nbytes(type, values.size());
  if (!num_bytes) {
    return error{std::to_string(values.size()) + " values are not whole " + ggml_type_name(type) +
                 " blocks"};
  }
  std::vector<uint8_t> out(*num_bytes);
  switch (static_cast<ggml_type>(type)) {
    case ggml_type::f32:
      if (!values.empty()) std::memcpy(out.data(), values.data(), out.size());
      break;
    case ggml_type::f16:
      for (size_t i = 0; i < values.size(); ++i)
        store_u16(&out[2 * i], f32_to_f16(values[i]));
      break;
    case ggml_type::bf16:
      for (size_t i = 0; i < values.size(); ++i)
        store_u16(&out[2 * i], f32_to_bf16(values[i]));
      break;
    case ggml_type::q8_0:
      encode_each(values, out, 34, quantize_block_q8_0);
      break;
    case ggml_type::q4_0:
      encode_each(values, out, 18, quantize_block_q4_0);
      break;
    case ggml_type::q4_1:
      encode_each(values, out, 20, quantize_block_q4_1);
      break;
    default:
      break;  // excluded by can_encode above
  }
  return out;
}

}  // namespace troupe::runtime
