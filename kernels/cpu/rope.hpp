#pragma once
// Rotary position embedding, applied in place to the query or key heads of every token.
//
//   x:         [num_tokens][num_heads][head_dim]
//   positions: [num_tokens]
//
// Pair i (0 <= i < head_dim/2) of a head is rotated by angle position * theta^(-2i/head_dim):
//   interleaved: dims (2i, 2i+1)          - GGUF llama files
//   neox:        dims (i, i + head_dim/2) - Hugging Face checkpoints
//   (a, b) -> (a cos - b sin, a sin + b cos)
#include <cstdint>
#include <vector>

namespace troupe::kernels::cpu {

enum class rope_layout { interleaved, neox };

// cos/sin of every (position, pair) angle. The angle of pair i is computed like ggml's rope
// cache: start from float(position) and multiply by theta^(-2/head_dim) once per pair.
// Thread: ensure() mutates; call it before kernels read the table.
class rope_table {
 public:
  // requires: head_dim even and > 0, theta > 0.
  rope_table(int32_t head_dim, float theta);
  // Explicit per-pair frequencies (scaled RoPE): angle = float(position) * inv_freq[i], and
  // cos/sin multiplied by `magnitude` (YaRN's attention factor; 1 otherwise).
  // requires: inv_freq non-empty.
  rope_table(std::vector<float> inv_freq, float magnitude);

  // Makes positions [0, num_positions) available; entries never change once computed.
  void ensure(int32_t num_positions);
  int32_t num_positions() const { return num_positions_; }
  int32_t num_pairs() const { return num_pairs_; }

  // requires: 0 <= position < num_positions(). Each points to num_pairs() floats.
  const float* cos(int32_t position) const { return cos_.data() + position * num_pairs_; }
  const float* sin(int32_t position) const { return sin_.data() + position * num_pairs_; }

 private:
  int32_t num_pairs_;
  float theta_scale_ = 0.0f;
  std::vector<float> inv_freq_;  // empty: ggml's repeated multiplication by theta_scale_
  float magnitude_ = 1.0f;
  int32_t num_positions_ = 0;
  std::vector<float> cos_, sin_;
};

// requires: table covers every position; head_dim == 2 * table.num_pairs().
void rope(const rope_table& table, rope_layout layout, const int32_t* positions, int64_t num_tokens,
          int32_t num_heads, int32_t head_dim, float* x);

}  // namespace troupe::kernels::cpu
