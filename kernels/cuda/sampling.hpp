#pragma once
// Sampling on the GPU: each row's token drawn from its logits by the same contract as
// kernels::cpu::sample_row (kernels/cpu/sampling.hpp): temperature, top-k, min-p, top-p and a
// draw by the row's random bits, with the same exp and integer weights, so that it is the CPU's
// token bit for bit, whatever the order of the parallel reductions. Every pointer is device
// memory; each function enqueues its kernels on `stream` and returns the launch error, if any.
#include <cuda_runtime_api.h>

#include <cstdint>

#include "base/result.hpp"
#include "kernels/cpu/sampling.hpp"

namespace troupe::kernels::cuda {

// processed[r] = logits[r] with row r's edits applied (cpu::apply_edit, bit for bit), for every
// row r with rows_params[r].edited (with rows_params[r].allowed_only, -inf but at its edits'
// tokens); other rows of `processed` are not written. Each edit names its
// row and token (at most one edit per row and token). Two kernels: the copy of the edited rows,
// then the edits.
//   logits, processed [rows][cols], rows_params [rows], edits [num_edits]
status apply_logit_edits(const float* logits, int64_t rows, int64_t cols,
                         const cpu::sampling_row* rows_params, const cpu::logit_edit* edits,
                         int64_t num_edits, float* processed, cudaStream_t stream);

// For every row r < rows, with its parameters rows_params[r] and x = processed[r] when the row is
// edited (apply_logit_edits), else logits[r]:
//   out[r]        the token as a float: the argmax of x (kernels::cpu::argmax; for an unedited
//                 row that is greedy[r], the row's argmax_rows) when temperature <
//                 cpu::greedy_temperature or sample_row draws nothing, else
//                 cpu::sample_row(x, cols, rows_params[r])
//   out[rows + r] when rows_params[r].want_logprob: logits[r][token] - log_sum_exp(logits[r])
//                 (the log-softmax of the raw row, before any edit; NaN when the row holds a NaN;
//                 within 1e-6 of runtime::log_softmax_at), else 0
//   a scored row (rows_params[r].score_token >= 0, a prompt logprob) draws nothing: out[r] is
//                 cpu::logprob_rank(logits[r], cols, score_token) as a float and out[rows + r]
//                 the score token's log-softmax (the raw row's; NaN and rank 0 when it holds a
//                 NaN; the rank counts logprobs rounded from this lse, within 1e-6 of the CPU's)
//   then, with n = rows_params[r].num_top_logprobs (<= max_top) and top = 2 * rows:
//   out[top + r * max_top + j], out[top + (rows + r) * max_top + j] for j < max_top: the raw row's
//                 cpu::top_logprobs (id as a float, its log-softmax; the same ids, the values
//                 within 1e-6), and -1, 0 past its count (j >= n, or past the non-NaN entries)
//   logits [rows][cols], processed [rows][cols] (may be null when no row is edited),
//   rows_params [rows], greedy [rows], out [2 * rows * (1 + max_top)]
// One block per row; an unedited greedy row without logprobs costs only its copy.
// requires: 0 < cols < 2^23, 0 <= max_top <= 64 (runtime: at most 20, vLLM's max_logprobs).
status sample_rows(const float* logits, const float* processed, int64_t rows, int64_t cols,
                   const cpu::sampling_row* rows_params, int32_t max_top, const float* greedy,
                   float* out, cudaStream_t stream);

// out[i] = kernels::cpu::exp_value(x[i]), bit for bit (the weights' exp).      x, out [n]
status exp_values(const float* x, int64_t n, float* out, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
