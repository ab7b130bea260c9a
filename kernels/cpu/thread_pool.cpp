#include "kernels/cpu/thread_pool.hpp"

#include "kernels/cpu/affinity.hpp"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <utility>

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

constexpr int task_bits = 20;
constexpr uint64_t task_mask = (uint64_t{1} << task_bits) - 1;
constexpr int max_tasks_per_job = static_cast<int>(task_mask);

uint64_t generation_of(uint64_t job) {
  return job >> (2 * task_bits);
}
int num_tasks_of(uint64_t job) {
  return static_cast<int>((job >> task_bits) & task_mask);
}
int next_task_of(uint64_t job) {
  return static_cast<int>(job & task_mask);
}

}  // namespace

int default_num_compute_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

thread_pool::thread_pool(int num_threads) : thread_pool(num_threads, {}) {}

thread_pool::thread_pool(int num_threads, std::vector<int> cpus) : cpus_(std::move(cpus)) {
  assert(num_threads >= 1);
  assert(cpus_.empty() || static_cast<int>(cpus_.size()) == num_threads);
  for (int i = 1; i < num_threads; ++i) {
    const int cpu = cpus_.empty() ? -1 : cpus_[i];
    workers_.emplace_back([this, cpu] {
      if (cpu >= 0) pin_current_thread(cpu);
      worker_loop();
    });
  }
}

void thread_pool::pin_caller_once() {
  if (caller_pinned_ || cpus_.empty()) return;
  pin_current_thread(cpus_[0]);
  caller_pinned_ = true;
}

thread_pool::~thread_pool() {
  stop_.store(true, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    // A new generation with no tasks wakes every worker, which then sees stop_.
    const uint64_t gen = generation_of(job_.load(std::memory_order_relaxed)) + 1;
    job_.store(gen << (2 * task_bits), std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& w : workers_)
    w.join();
}

void thread_pool::drain_tasks(uint64_t job) {
  for (;;) {
    // Claim task k only if the word still names this job: a worker waking late must never run a
    // task of a job it did not see published.
    if (generation_of(job) != generation_of(job_.load(std::memory_order_acquire))) return;
    const int task = next_task_of(job);
    if (task >= num_tasks_of(job)) return;
    if (!job_.compare_exchange_weak(job, job + 1, std::memory_order_acq_rel)) continue;
    fn_(ctx_, task);
    num_done_.fetch_add(1, std::memory_order_release);
    job = job + 1;
  }
}

void thread_pool::run_job(int num_tasks) {
  num_done_.store(0, std::memory_order_relaxed);
  const uint64_t gen = generation_of(job_.load(std::memory_order_relaxed)) + 1;
  const uint64_t job = (gen << (2 * task_bits)) | (uint64_t(num_tasks) << task_bits);
  job_.store(job, std::memory_order_release);
  {
    // Taking the mutex orders this store before any sleeping worker's predicate check.
    std::lock_guard lock(mutex_);
  }
  wake_.notify_all();
  drain_tasks(job);
  while (num_done_.load(std::memory_order_acquire) != num_tasks)
    cpu_relax();
}

void thread_pool::run_impl(int num_tasks, task_fn fn, void* ctx) {
  pin_caller_once();
  if (num_tasks <= 0) return;
  if (workers_.empty() || num_tasks == 1) {
    for (int t = 0; t < num_tasks; ++t)
      fn(ctx, t);
    return;
  }
  fn_ = fn;
  ctx_ = ctx;
  for (int first = 0; first < num_tasks; first += max_tasks_per_job) {
    const int count = std::min(max_tasks_per_job, num_tasks - first);
    if (first == 0) {
      run_job(count);
    } else {
      // Rare (over a million tasks): offset the task ids through a small adapter.
      struct offset_ctx {
        task_fn fn;
        void* ctx;
        int first;
      } adapter{fn, ctx, first};
      fn_ = [](void* c, int t) {
        auto* a = static_cast<offset_ctx*>(c);
        a->fn(a->ctx, a->first + t);
      };
      ctx_ = &adapter;
      run_job(count);
    }
  }
}

void thread_pool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    const auto deadline = std::chrono::steady_clock::now() + spin_duration;
    int spins = 0;
    uint64_t job = job_.load(std::memory_order_acquire);
    while (generation_of(job) == seen) {
      cpu_relax();
      if (++spins % 256 == 0 && std::chrono::steady_clock::now() > deadline) {
        std::unique_lock lock(mutex_);
        wake_.wait(lock,
                   [&] { return generation_of(job_.load(std::memory_order_acquire)) != seen; });
      }
      job = job_.load(std::memory_order_acquire);
    }
    seen = generation_of(job);
    if (stop_.load(std::memory_order_relaxed)) return;
    drain_tasks(job);
  }
}

}  // namespace troupe::kernels::cpu
