#pragma once
// Embedding gather: out[t] = table[ids[t]].
//
//   table: [vocab][dim]
//   ids:   [num_tokens]   requires: 0 <= ids[t] < vocab (the runner validates token ids)
//   out:   [num_tokens][dim]
#include <cstdint>

namespace troupe::kernels::cpu {

void embedding(const float* table, int64_t dim, const int32_t* ids, int64_t num_tokens, float* out);

}  // namespace troupe::kernels::cpu
