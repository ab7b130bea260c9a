#include "kernels/cpu/thread_pool.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

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

}  // namespace
}  // namespace troupe::kernels::cpu
