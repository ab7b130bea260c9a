#include "runtime/formats/dequant.hpp"

#include <cstring>
#include <string>

#include "runtime/formats/dequant_kquants.hpp"
#include "runtime/formats/ggml_types.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/half.hpp"

namespace troupe::runtime {
namespace {

constexpr size_t qk = 32;  // weights per Q4_0 / Q4_1 / Q8_0 block

// The data is a byte stream with no alignment promise, so every multi-byte read goes via memcpy.
uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void dequant_f32(const uint8_t* in, float* out, size_t n) {
  std::memcpy(out, in, n * sizeof(float));
}

void dequant_f16(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    out[i] = f16_to_f32(load_u16(in + 2 * i));
}

void dequant_bf16(const uint8_t* in, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i)
    out[i] = bf16_to_f32(load_u16(in + 2 * i));
}

void dequant_q8_0(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 34, out += qk) {
    const float d = f16_to_f32(load_u16(in));
    const auto* qs = reinterpret_cast<const int8_t*>(in + 2);
    for (size_t i = 0; i < qk; ++i)
      out[i] = static_cast<float>(qs[i]) * d;
  }
}

void dequant_q4_0(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 18, out += qk) {
    const float d = f16_to_f32(load_u16(in));
    const uint8_t* qs = in + 2;
    for (size_t j = 0; j < qk / 2; ++j) {
      out[j] = static_cast<float>((qs[j] & 0x0f) - 8) * d;
      out[j + qk / 2] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

void dequant_q4_1(const uint8_t* in, float* out, size_t num_blocks) {
  for (size_t b = 0; b < num_blocks; ++b, in += 20, out += qk) {
    const float d = f16_to_f32(load_u16(in));
    const float m = f16_to_f32(load_u16(in + 2));
    const uint8_t* qs = in + 4;
    for (size_t j = 0; j < qk / 2; ++j) {
      out[j] = static_cast<float>(qs[j] & 0x0f) * d + m;
      out[j + qk / 2] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

}  // namespace

bool can_dequantize(uint32_t type) {
  switch (static_cast<ggml_type>(type)) {
    case ggml_type::f32:
    case ggml_type::f16:
    case ggml_type::bf16:
    case ggml_type::q8_0:
    case ggml_type::q4_0:
    case ggml_type::q4_1:
    case ggml_type::q5_0:
    case ggml_type::q5_1:
    case ggml_type::q4_k:
    case ggml_type::q5_k:
    case ggml_type::q6_k:
      return true;
    default:
      return false;
  }
}

status dequantize(uint32_t type, std::span<const uint8_t> data, std::span<float> out,
                  std::string_view name) {
  if (!can_dequantize(type)) {
    return error{"unsupported tensor type " + ggml_type_name(type) + " (" + std::to_string(type) +
                 ") for '" + std::string(name) + "'"};
  }
  const std::optional<uint64_t> num_bytes = ggml_nbytes(type, out.size());
  if (!num_bytes || *num_bytes != data.size()) {
    return error{"tensor '" + std::string(name) + "': " + std::to_string(data.size()) +
                 " bytes do not hold " + std::to_string(out.size()) + " " + ggml_type_name(type) +
                 " weights"};
  }
  const size_t n = out.size();
  if (n == 0) return ok_status();
  switch (static_cast<ggml_type>(type)) {
    case ggml_type::f32:
      dequant_f32(data.data(), out.data(), n);
      break;
    case ggml_type::f16:
      dequant_f16(data.data(), out.data(), n);
      break;
    case ggml_type::bf16:
      dequant_bf16(data.data(), out.data(), n);
      break;
    case ggml_type::q8_0:
      dequant_q8_0(data.data(), out.data(), n / qk);
      break;
    case ggml_type::q4_0:
      dequant_q4_0(data.data(), out.data(), n / qk);
      break;
    case ggml_type::q4_1:
      dequant_q4_1(data.data(), out.data(), n / qk);
      break;
    case ggml_type::q5_0:
      detail::dequant_q5_0(data.data(), out.data(), n / qk);
      break;
    case ggml_type::q5_1:
      detail::dequant_q5_1(data.data(), out.data(), n / qk);
      break;
    case ggml_type::q4_k:
      detail::dequant_q4_k(data.data(), out.data(), n / detail::qk_k);
      break;
    case ggml_type::q5_k:
      detail::dequant_q5_k(data.data(), out.data(), n / detail::qk_k);
      break;
    case ggml_type::q6_k:
      detail::dequant_q6_k(data.data(), out.data(), n / detail::qk_k);
      break;
    default:
      break;  // excluded by can_dequantize above
  }
  return ok_status();
}

}  // namespace troupe::runtime
