#pragma once
// How the CPU gemms split their output columns [0, n) into thread-pool tasks.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

// Runs fn(n0, n1) on `pool` for consecutive column ranges that cover [0, n) once each: about two
// tasks per thread (a few tasks per thread balance the load when a core is busy elsewhere), yet no
// more than n / min_cols tasks (at least one), every range but the last a whole multiple of `unit`
// columns (whole tiles, strips or panels). The split depends only on n, min_cols, unit and
// pool.num_threads(). requires: n >= 1, min_cols >= 1, unit >= 1; fn as thread_pool::run's.
//
//   n = 100, unit = 16, 4 tasks:   [0, 32) [32, 64) [64, 96) [96, 100)
template <class F>
void run_column_tasks(thread_pool& pool, int64_t n, int64_t min_cols, int64_t unit, F&& fn) {
  int64_t num_tasks = std::clamp<int64_t>(n / min_cols, 1, pool.num_threads() * 2);
  int64_t chunk = (n + num_tasks - 1) / num_tasks;
  chunk = (chunk + unit - 1) / unit * unit;
  num_tasks = (n + chunk - 1) / chunk;
  pool.run(static_cast<int>(num_tasks), [&](int task) {
    const int64_t n0 = task * chunk;
    fn(n0, std::min(n, n0 + chunk));
  });
}

}  // namespace troupe::kernels::cpu
