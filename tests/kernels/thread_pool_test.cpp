#include "kernels/cpu/thread_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include <sched.h>

#include "kernels/cpu/affinity.hpp"

namespace troupe::kernels::cpu {
namespace {

TEST(thread_pool, runs_every_task_exactly_once) {
  for (int threads : {1, 2, 4}) {
    thread_pool pool(threads);
    EXPECT_EQ(pool.num_threads(), threads);
    for (int num_tasks : {0, 1, 2, 3, 17, 1000}) {
      std::vector<std::atomic<int>> hits(num_tasks);
      pool.run(num_tasks, [&](int t) { hits[t].fetch_add(1); });
      for (int t = 0; t < num_tasks; ++t)
        ASSERT_EQ(hits[t].load(), 1) << t;
    }
  }
}

TEST(thread_pool, survives_many_jobs_and_sleeping_workers) {
  thread_pool pool(3);
  std::atomic<long> sum{0};
  for (int job = 0; job < 2000; ++job)
    pool.run(5, [&](int t) { sum += t; });
  EXPECT_EQ(sum.load(), 2000L * 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers fall asleep
  pool.run(4, [&](int t) { sum += t; });
  EXPECT_EQ(sum.load(), 2000L * 10 + 6);
}

TEST(thread_pool, a_slow_task_does_not_lose_or_repeat_others) {
  thread_pool pool(3);
  std::vector<std::atomic<int>> hits(64);
  pool.run(64, [&](int t) {
    if (t == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    hits[t].fetch_add(1);
  });
  for (int t = 0; t < 64; ++t)
    ASSERT_EQ(hits[t].load(), 1) << t;
}

TEST(thread_pool, more_tasks_than_one_job_holds) {
  thread_pool pool(2);
  const int num_tasks = (1 << 20) + 5;
  std::vector<uint8_t> hits(num_tasks, 0);
  pool.run(num_tasks, [&](int t) { hits[t] += 1; });
  EXPECT_EQ(std::count(hits.begin(), hits.end(), uint8_t{1}), num_tasks);
}

TEST(thread_pool, default_thread_count_is_positive) {
  EXPECT_GE(default_num_compute_threads(), 1);
}

// Every thread of a pool pinned to one CPU runs there, the caller included from its first run();
// results do not change. Runs on its own thread, so the test's main thread stays unpinned.
TEST(thread_pool, pinned_threads_run_on_their_cpus) {
  const std::vector<int> allowed = allowed_cpus();
  if (allowed.empty()) GTEST_SKIP() << "no CPU affinity on this platform";
  const int cpu = allowed.back();
  std::thread([cpu] {
    thread_pool pool(3, {cpu, cpu, cpu});
    EXPECT_EQ(pool.cpus(), (std::vector<int>{cpu, cpu, cpu}));
    std::mutex mutex;
    std::set<int> seen;
    std::vector<int> out(64, 0);
    for (int job = 0; job < 20; ++job) {
      pool.run(64, [&](int t) {
        out[t] += t;
        std::lock_guard lock{mutex};
        seen.insert(::sched_getcpu());
      });
    }
    EXPECT_EQ(seen, std::set<int>{cpu});
    EXPECT_EQ(current_thread_cpus(), std::vector<int>{cpu});
    for (int t = 0; t < 64; ++t)
      EXPECT_EQ(out[t], 20 * t);
  }).join();
  EXPECT_EQ(current_thread_cpus(), allowed);  // this thread was never pinned
}

TEST(affinity, pinning_to_a_cpu_outside_the_mask_is_refused) {
  EXPECT_FALSE(pin_current_thread(-1));
  EXPECT_FALSE(pin_current_thread(1 << 20));
}

}  // namespace
}  // namespace troupe::kernels::cpu
