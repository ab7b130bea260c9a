#pragma once
// Per-request sampling settings, as the OpenAI/vLLM API names them.
#include <cstdint>

namespace troupe::runtime {

struct sampling_params {
  float temperature = 1.0f;  // 0 = greedy (argmax)
  float top_p = 1.0f;        // nucleus mass in (0, 1]
  int32_t top_k = -1;        // -1 or 0 = disabled
  // Seed of the request's random stream. Token i of a request draws from a stream derived only
  // from (seed, i), so a seeded request samples the same tokens alone or inside any batch.
  uint64_t seed = 0;
};

}  // namespace troupe::runtime
