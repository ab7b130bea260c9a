// embedding: table [vocab][dim], ids [tokens] -> out [tokens][dim] (contract: embedding.hpp).
#include "kernels/cpu/embedding.hpp"

#include <algorithm>

namespace troupe::kernels::cpu {

void embedding(const float* table, int64_t dim, const int32_t* ids, int64_t num_tokens,
               float* out) {
  for (int64_t t = 0; t < num_tokens; ++t)
    std::copy_n(table + static_cast<int64_t>(ids[t]) * dim, dim, out + t * dim);
}

}  // namespace troupe::kernels::cpu
