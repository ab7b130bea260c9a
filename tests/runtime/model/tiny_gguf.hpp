#pragma once
// A tiny model's matrices as GGUF blocks, encoded as llama.cpp's quantizers write them: q4_1,
// q8_0 and q4_0 in turn over for_each_matrix's order (the embedding, q4_1, and an untied output
// included).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <utility>

#include "runtime/formats/gguf.hpp"
#include "runtime/formats/quantize.hpp"
#include "runtime/model/llama_weights.hpp"

namespace troupe::testing {

inline void encode_as_gguf_blocks(runtime::llama_weights& w) {
  using backend::weight_format;
  using runtime::ggml_type;
  const std::pair<ggml_type, weight_format> formats[] = {{ggml_type::q4_1, weight_format::q4_1},
                                                         {ggml_type::q8_0, weight_format::q8_0},
                                                         {ggml_type::q4_0, weight_format::q4_0}};
  int next = 0;
  runtime::for_each_matrix(w, [&](runtime::weight_matrix& m, int64_t, int64_t, const std::string&) {
    const auto& [type, format] = formats[next++ % 3];
    auto bytes = runtime::encode_tensor(static_cast<uint32_t>(type), m.values);
    ASSERT_TRUE(bytes.ok()) << bytes.message();
    m = runtime::weight_matrix(format, std::move(*bytes));
  });
}

}  // namespace troupe::testing
