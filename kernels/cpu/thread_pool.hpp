#pragma once
// A small persistent pool of compute threads for the CPU kernels (no OpenMP).
//
// run(num_tasks, fn) calls fn(task) once for every task in [0, num_tasks), on the calling thread
// and the pool's workers together, and returns when all calls have returned. Which thread runs a
// task is unspecified, so kernels must make each task's result independent of that (they do:
// every output element is computed by exactly one task with a fixed algorithm).
//
// Workers spin briefly after a job (the kernels of one forward step follow each other closely),
// then sleep on a condition variable until the next one. The caller never waits for a worker that
// has not started: tasks are claimed from a shared counter, so on a loaded machine the caller
// simply runs the tasks no worker took.
//
// Pinning (tensor-parallel ranks on one machine, kernels/cpu/affinity.hpp): given `cpus`, worker
// i runs on cpus[i + 1] and the thread that calls run() on cpus[0] from its first call on. Where
// the OS refuses, threads run unpinned; results never depend on it.
//
// Thread: run() may be called from one thread at a time (the executor's); it is not reentrant.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace troupe::kernels::cpu {

// The number of hardware threads, at least 1.
int default_num_compute_threads();

class thread_pool {
 public:
  // requires: num_threads >= 1 (the caller counts as one; num_threads - 1 workers are started).
  explicit thread_pool(int num_threads = default_num_compute_threads());
  // The same, pinned as above. requires: cpus.size() == num_threads (or cpus empty: unpinned).
  thread_pool(int num_threads, std::vector<int> cpus);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }
  // The CPUs the threads are pinned to (empty: unpinned), the caller's first.
  const std::vector<int>& cpus() const { return cpus_; }

  template <class F>
  void run(int num_tasks, F&& fn) {
    using fn_type = std::remove_reference_t<F>;
    run_impl(
        num_tasks, [](void* ctx, int task) { (*static_cast<fn_type*>(ctx))(task); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using task_fn = void (*)(void* ctx, int task);
  void run_impl(int num_tasks, task_fn fn, void* ctx);
  void run_job(int num_tasks);
  void worker_loop();
  void pin_caller_once();
  // Claims and runs tasks of the job whose word was `job` until none is left or a newer job has
  // replaced it.
  void drain_tasks(uint64_t job);

  std::vector<int> cpus_;
  bool caller_pinned_ = false;  // run()'s thread has been pinned to cpus_[0]
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};
  // The current job in one word, so that claiming a task checks the job in the same atomic step:
  //   bits 63..40 generation | 39..20 number of tasks | 19..0 next unclaimed task
  std::atomic<uint64_t> job_{0};
  std::atomic<int> num_done_{0};  // tasks of the current job that have returned
  // Written by the caller before publishing a job; stable while any of its tasks is unfinished.
  task_fn fn_ = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace troupe::kernels::cpu
