#include "kernels/cpu/thread_pool.hpp"

#include <cassert>
#include <chrono>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace troupe::kernels::cpu {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long an idle worker spins before sleeping. Kernels of one step follow each other within
// microseconds, so spinning avoids a futex wake-up per kernel; between steps workers sleep.
constexpr auto spin_duration = std::chrono::microseconds(300);

}  // namespace

int default_num_compute_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

thread_pool::thread_pool(int num_threads) {
  assert(num_threads >= 1);
  for (int i = 1; i < num_threads; ++i)
    workers_.emplace_back([this] { worker_loop(); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard lock(mutex_);
    stop_.store(true, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& w : workers_)
    w.join();
}

void thread_pool::drain_tasks() {
  for (;;) {
    int task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= num_tasks_) return;
    fn_(ctx_, task);
  }
}

void thread_pool::run_impl(int num_tasks, task_fn fn, void* ctx) {
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int t = 0; t < num_tasks; ++t)
      fn(ctx, t);
    return;
  }
  num_tasks_ = num_tasks;
  fn_ = fn;
  ctx_ = ctx;
  next_task_.store(0, std::memory_order_relaxed);
  num_busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    // Under the mutex so a worker about to sleep cannot miss the new generation.
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  drain_tasks();
  // Wait for every worker, not just every task: fn_/ctx_ must stay valid until all have left.
  while (num_busy_workers_.load(std::memory_order_acquire) != 0)
    cpu_relax();
}

void thread_pool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    auto deadline = std::chrono::steady_clock::now() + spin_duration;
    int spins = 0;
    while (generation_.load(std::memory_order_acquire) == seen) {
      cpu_relax();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      }
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_relaxed)) return;
    drain_tasks();
    num_busy_workers_.fetch_sub(1, std::memory_order_release);
  }
}

}  // namespace troupe::kernels::cpu
