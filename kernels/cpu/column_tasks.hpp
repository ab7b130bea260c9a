#pragma once
// How the CPU gemms split their output columns [0, n) into thread-pool tasks, and the
// elementwise ops their ranges.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/cpu/thread_pool.hpp"

namespace troupe::kernels::cpu {

// How run_column_tasks splits [0, n): num_tasks ranges of `chunk` columns (the last shorter).
struct column_split {
  int64_t chunk = 0;
  int64_t num_tasks = 0;
};

// About two tasks per thread (a few tasks per thread balance the load when a core is busy
// elsewhere), yet no more than n / min_cols tasks (at least one), every range but the last a whole
// multiple of `unit` columns (whole tiles, strips or panels). Depends only on n, min_cols, unit and
// the number of threads. requires: n >= 1, min_cols >= 1, unit >= 1, num_threads >= 1.
//
//   n = 100, unit = 16, 4 tasks:   [0, 32) [32, 64) [64, 96) [96, 100)
inline column_split split_columns(int64_t n, int64_t min_cols, int64_t unit, int num_threads) {
  const int64_t wanted = std::clamp<int64_t>(n / min_cols, 1, int64_t{num_threads} * 2);
  int64_t chunk = (n + wanted - 1) / wanted;
  chunk = (chunk + unit - 1) / unit * unit;
  return {chunk, (n + chunk - 1) / chunk};
}

// Runs fn(n0, n1) on `pool` for the ranges of split_columns(n, ...), which cover [0, n) once each.
// requires: n >= 1, min_cols >= 1, unit >= 1; fn as thread_pool::run's.
template <class F>
void run_column_tasks(thread_pool& pool, int64_t n, int64_t min_cols, int64_t unit, F&& fn) {
  const column_split split = split_columns(n, min_cols, unit, pool.num_threads());
  pool.run(static_cast<int>(split.num_tasks), [&](int task) {
    const int64_t n0 = task * split.chunk;
    fn(n0, std::min(n, n0 + split.chunk));
  });
}

// The columns of one of several outputs computed in one pool job.
struct column_part {
  int64_t n;  // >= 0; a part with no columns runs no task
  int64_t min_cols;
  int64_t unit;
};

// run_column_tasks for several outputs at once: part i is split exactly as run_column_tasks
// would split it alone, and fn(i, n0, n1) runs for each of its ranges, all in one thread-pool job
// (one wait instead of one per output, and the threads balance over all the ranges).
template <class F>
void run_column_tasks(thread_pool& pool, std::span<const column_part> parts, F&& fn) {
  std::vector<column_split> splits;
  std::vector<int64_t> first_task{0};
  for (const column_part& p : parts) {
    splits.push_back(p.n > 0 ? split_columns(p.n, p.min_cols, p.unit, pool.num_threads())
                             : column_split{});
    first_task.push_back(first_task.back() + splits.back().num_tasks);
  }
  pool.run(static_cast<int>(first_task.back()), [&](int task) {
    size_t i = 0;
    while (task >= first_task[i + 1])
      ++i;
    const int64_t n0 = (task - first_task[i]) * splits[i].chunk;
    fn(i, n0, std::min(parts[i].n, n0 + splits[i].chunk));
  });
}

// Runs fn(i0, i1) on `pool` for consecutive ranges that cover [0, n) once each: one per thread,
// each at least min_items long (so small work stays one call on this thread). For elementwise and
// per-row work, whose bits never depend on the split. requires: n >= 0, min_items >= 1.
template <class F>
void run_range_tasks(thread_pool& pool, int64_t n, int64_t min_items, F&& fn) {
  const int64_t num_tasks = std::clamp<int64_t>(n / min_items, 1, pool.num_threads());
  if (num_tasks == 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  const int64_t chunk = (n + num_tasks - 1) / num_tasks;
  pool.run(static_cast<int>(num_tasks), [&](int task) {
    const int64_t i0 = task * chunk;
    if (i0 < n) fn(i0, std::min(n, i0 + chunk));
  });
}

}  // namespace troupe::kernels::cpu
