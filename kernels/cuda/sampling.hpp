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

// For every row r < rows, with its parameters rows_params[r]:
//   out[r]        the token as a float: greedy[r] (the row's argmax_rows) when
//                 temperature < cpu::greedy_temperature or sample_row draws nothing, else
//                 cpu::sample_row(logits[r], cols, rows_params[r])
//   out[rows + r] when rows_params[r].want_logprob: logits[r][token] - log_sum_exp(logits[r])
//                 (the log-softmax of the raw row; NaN when the row holds a NaN; within 1e-6 of
//                 runtime::log_softmax_at), else 0
//   logits [rows][cols], rows_params [rows], greedy [rows], out [2 * rows]
// One block per row; a greedy row without logprob costs only its copy. requires: 0 < cols < 2^23.
status sample_rows(const float* logits, int64_t rows, int64_t cols,
                   const cpu::sampling_row* rows_params, const float* greedy, float* out,
                   cudaStream_t stream);

// out[i] = kernels::cpu::exp_value(x[i]), bit for bit (the weights' exp).      x, out [n]
status exp_values(const float* x, int64_t n, float* out, cudaStream_t stream);

}  // namespace troupe::kernels::cuda
