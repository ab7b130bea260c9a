#pragma once
// Drawing one token from a row of logits with temperature, top-k, min-p and top-p: the contract
// the CPU (here) and the CUDA kernel (kernels/cuda/sampling.hpp) share bit for bit, so that a
// seeded request draws the same tokens from the same logits on either device. Every step is exact
// or IEEE-rounded the same way on both; sums are of integers, so their order does not matter.
//
//   rank    logit descending, lowest id first on ties, NaN last: the 64-bit sampling_key
//           (order of the logit << 32 | (2^32 - 1 - id)), a larger key ranking better
//   m       the largest non-NaN logit; when it is not finite, no draw
//   top_k   0 < top_k < cols: only the top_k best-ranked ids take part
//   weight  w = exp_value((logit - m) / temperature) in f32 (kernels/cpu/exp.hpp; a NaN logit
//           weighs 0; the best weighs exactly 1)
//   min_p   ids with w < min_p leave
//   q       the integer trunc(w * 2^40); Q the sum of q over the ids still in
//   top_p   top_p < 1: only the smallest best-ranked prefix whose mass (sum of q) reaches
//           double(top_p) * double(Q) stays (the best id at least)
//   draw    r = ((random >> 11) * Q_kept) >> 53, i.e. u * Q_kept rounded down for the 53-bit
//           uniform u of the row's random bits; the token is the first id still in, in id order,
//           whose running sum of q exceeds r. So P(id) = q(id) / Q_kept (to 2^-53).
//   none    no finite logit, or Q_kept = 0: -1 (the caller takes the argmax)
//
// Weights below 2^-40 of the best's count as 0: at most vocab * 2^-40 of the mass (1.2e-7 for a
// 128k vocabulary) moves to the rest. requires: cols < 2^23 (Q fits 64 bits).
#include <cstdint>

namespace troupe::kernels::cpu {

// Below this temperature a row is greedy (vLLM's _SAMPLING_EPS): its argmax, no draw.
inline constexpr float greedy_temperature = 1e-5f;

// Scale of the integer weights: q = trunc(w * 2^40).
inline constexpr float sampling_weight_scale = 0x1p40f;

// One row's sampling parameters, as the kernels read them (a step's are uploaded to the device
// as an array of these). 44 bytes, 4-byte fields only.
struct sampling_row {
  float temperature = 0.0f;  // < greedy_temperature: greedy
  int32_t top_k = 0;         // <= 0 or >= cols: no cut
  float top_p = 1.0f;        // >= 1: no cut
  float min_p = 0.0f;        // <= 0: no cut
  uint32_t random_lo = 0;    // the row's 64 random bits (low, high halves)
  uint32_t random_hi = 0;
  uint32_t want_logprob = 0;  // a backend's sample_rows also returns the token's logprob
  uint32_t edited = 0;  // the row has logit_edits: draw (or take the argmax) from the edited row
  int32_t num_top_logprobs = 0;  // sample_rows also returns the row's top_logprobs
  // >= 0: the row is scored, not sampled (a prompt logprob): its token is this one, and a
  // backend's sample_rows returns its logprob_rank in place of the token.
  int32_t score_token = -1;
  // The row keeps only the tokens its edits flag edit_allow (vLLM's allowed_token_ids): every
  // other token of the edited row is -inf. requires: edited.
  uint32_t allowed_only = 0;

  uint64_t random() const { return (uint64_t{random_hi} << 32) | random_lo; }
  void set_random(uint64_t bits) {
    random_lo = static_cast<uint32_t>(bits);
    random_hi = static_cast<uint32_t>(bits >> 32);
  }
};
static_assert(sizeof(sampling_row) == 44, "sampling_row is uploaded as 11 words");

// One token's logits processors in one sampled row, in vLLM v1's order (the runtime builds them:
// runtime/model/logits_processors.hpp): allowed_token_ids and bad_words, min_tokens masking,
// logit_bias, the repetition penalty, then the frequency and presence penalties. A row has at
// most one edit per token.
inline constexpr uint32_t edit_mask = 1;        // the token becomes -inf
inline constexpr uint32_t edit_bias = 2;        // + bias
inline constexpr uint32_t edit_repetition = 4;  // > 0: / repetition_penalty, else * it
inline constexpr uint32_t edit_subtract = 8;    // - subtract
// One of the row's allowed tokens (sampling_row::allowed_only): it keeps its logit (the other
// flags still apply); apply_edit does nothing for this flag.
inline constexpr uint32_t edit_allow = 16;
struct logit_edit {
  int32_t row = 0;  // the sampled row (0 .. rows - 1)
  int32_t id = 0;   // the token, 0 <= id < cols
  uint32_t flags = 0;
  float bias = 0.0f;
  float repetition_penalty = 1.0f;
  float subtract = 0.0f;  // penalty_subtrahend(frequency, count, presence)
};
static_assert(sizeof(logit_edit) == 24, "logit_edit is uploaded as 6 words");

// The logit after `edit` (flags applied in the order above, each step rounded once in f32).
float apply_edit(float logit, const logit_edit& edit);

// What the frequency and presence penalties take from a token seen `count` times in the output:
// frequency_penalty * count + presence_penalty, two roundings (no fused multiply-add).
float penalty_subtrahend(float frequency_penalty, int32_t count, float presence_penalty);

// The rank key of `logit` at `id` (above): NaN lowest, -0 equal to +0, ties to the lower id.
inline uint64_t sampling_key(float logit, uint32_t id) {
  uint32_t order = 0;  // NaN
  if (logit == logit) {
    uint32_t bits;
    const float canonical = logit + 0.0f;  // -0 -> +0
    __builtin_memcpy(&bits, &canonical, sizeof bits);
    order = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  }
  return (uint64_t{order} << 32) | (0xffffffffu - id);
}

// log(sum of e^x[i]) over the non-NaN x[i], by exp_value of x[i] - max summed in double; the max
// itself when it is not finite (every entry NaN or -inf, or one +inf).
double log_sum_exp(const float* x, int64_t n);

// The log-softmax of x [n] at `token`: x[token] - log_sum_exp(x), NaN when any x[i] is NaN.
float log_softmax_at(const float* x, int64_t n, int32_t token);
// The same with lse = log_sum_exp(x, n) already known (the same bits).
float log_softmax_at(const float* x, int64_t n, int32_t token, double lse);

// vLLM's rank of `token` in x [n]: how many entries have a log-softmax (x[i] - lse rounded to f32
// as log_softmax_at rounds it, lse = log_sum_exp(x, n)) at least the token's, the token included;
// 1 for the most likely token. 0 when x holds a NaN (the token's logprob is NaN then).
int32_t logprob_rank(const float* x, int64_t n, int32_t token, double lse);

// The `n` best-ranked entries of x [cols] (sampling_key's order: the highest first, the lowest id
// on ties; NaN never listed) with their log-softmax x[id] - log_sum_exp(x): ids[j], logprobs[j]
// for j < the returned count = min(n, the non-NaN entries).
int32_t top_logprobs(const float* x, int64_t cols, int32_t n, int32_t* ids, float* logprobs);
// The same with lse = log_sum_exp(x, cols) already known.
int32_t top_logprobs(const float* x, int64_t cols, int32_t n, double lse, int32_t* ids,
                     float* logprobs);

// The token drawn from `logits` [cols] by `row` (contract above), or -1 for no draw.
// requires: row.temperature >= greedy_temperature, 0 < cols < 2^23.
int32_t sample_row(const float* logits, int64_t cols, const sampling_row& row);

}  // namespace troupe::kernels::cpu
