// The shared-memory communicator between rank threads: results of every collective over many
// rounds of random sizes (the all-reduce bitwise the rank-order sum at every rank), abandoned
// steps (the others throw, the next step runs), external abort and close, and blocked ranks that
// do not burn their core.
#include "runtime/backend/shared_memory_communicator.hpp"

#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <thread>
#include <vector>

namespace troupe::backend {
namespace {

// Runs body(rank) on one thread per rank and joins them.
void on_ranks(int32_t n, const std::function<void(int32_t)>& body) {
  std::vector<std::thread> threads;
  for (int32_t r = 0; r < n; ++r)
    threads.emplace_back(body, r);
  for (auto& t : threads)
    t.join();
}

// Rank r's values of round `round`: the same on every thread that asks.
std::vector<float> values(int32_t r, int32_t round, int64_t n) {
  std::mt19937 rng(static_cast<uint32_t>(round * 131 + r));
  std::uniform_real_distribution<float> dist(-100.0f, 100.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v)
    x = dist(rng);
  return v;
}

int64_t round_size(int32_t round) {
  std::mt19937 rng(static_cast<uint32_t>(round));
  return std::uniform_int_distribution<int64_t>(0, 5000)(rng);
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class communicator_sizes : public ::testing::TestWithParam<int32_t> {};

TEST_P(communicator_sizes, many_rounds_of_every_collective) {
  const int32_t n = GetParam();
  shared_memory_group group(n);
  std::atomic<int32_t> failures{0};
  on_ranks(n, [&](int32_t r) {
    auto& comm = group.rank(r);
    EXPECT_EQ(comm.rank(), r);
    EXPECT_EQ(comm.world_size(), n);
    for (int32_t round = 0; round < 300; ++round) {
      if (round % 3 == 0) comm.begin_step();  // a few collectives per step
      const int64_t size = round_size(round);
      // all-reduce: rank 0 + rank 1 + ..., in that order, at every rank
      auto data = values(r, round, size);
      comm.all_reduce_sum(data.data(), size);
      auto expected = values(0, round, size);
      for (int32_t k = 1; k < n; ++k) {
        const auto other = values(k, round, size);
        for (int64_t i = 0; i < size; ++i)
          expected[i] += other[i];
      }
      if (!same_bits(data, expected)) ++failures;
      // all-gather
      const auto mine = values(r, round + 1000, size);
      std::vector<float> gathered(static_cast<size_t>(n * size));
      comm.all_gather(mine.data(), size, gathered.data());
      for (int32_t k = 0; k < n; ++k) {
        const auto theirs = values(k, round + 1000, size);
        if (!std::equal(theirs.begin(), theirs.end(), gathered.begin() + k * size)) ++failures;
      }
      // broadcast from a rotating root
      const int32_t root = round % n;
      auto b = values(r, round + 2000, size);
      comm.broadcast(b.data(), size, root);
      if (!same_bits(b, values(root, round + 2000, size))) ++failures;
    }
  });
  EXPECT_EQ(failures.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(ranks, communicator_sizes, ::testing::Values(1, 2, 3, 4));

// Rank `failing` abandons step 2 before its `at`-th collective of 4 (after the last one: at = 4);
// every other rank throws in that step unless it had finished it (none hangs), and step 3 runs
// normally everywhere.
void abandon_step(int32_t n, int32_t failing, int32_t at) {
  shared_memory_group group(n);
  std::atomic<int32_t> aborted_ranks{0}, step3_ok{0};
  on_ranks(n, [&](int32_t r) {
    auto& comm = group.rank(r);
    std::vector<float> data(64, static_cast<float>(r + 1));
    comm.begin_step();
    comm.all_reduce_sum(data.data(), 64);
    try {
      comm.begin_step();  // throws too if the step is already abandoned
      for (int32_t c = 0; c < 4; ++c) {
        if (r == failing && c == at) throw std::runtime_error("rank failed");
        comm.all_reduce_sum(data.data(), 64);
      }
      if (r == failing) throw std::runtime_error("rank failed after its last collective");
    } catch (const collective_aborted&) {
      ++aborted_ranks;
      comm.abort();
    } catch (const std::runtime_error&) {
      comm.abort();
    }
    comm.begin_step();
    std::vector<float> ones(100, 1.0f);
    comm.all_reduce_sum(ones.data(), 100);
    if (ones == std::vector<float>(100, static_cast<float>(n))) ++step3_ok;
  });
  EXPECT_EQ(aborted_ranks.load(), at < 4 ? n - 1 : 0) << n << " ranks, " << failing << " at " << at;
  EXPECT_EQ(step3_ok.load(), n);
}

TEST(shared_memory_communicator, a_rank_that_abandons_a_step_fails_it_for_the_others) {
  for (int32_t n : {2, 3, 4})
    for (int32_t failing = 0; failing < n; ++failing)
      for (int32_t at : {0, 1, 3, 4})
        abandon_step(n, failing, at);
}

// Ranks 0 and 1 wait in a collective for rank 2, which began the step and never comes;
// `release` (abort or close, from the test thread) must wake them with collective_aborted.
void release_waiting_ranks(const std::function<void(shared_memory_group&)>& release) {
  shared_memory_group group(3);
  std::atomic<int32_t> aborted{0};
  std::thread missing([&] { group.rank(2).begin_step(); });
  std::vector<std::thread> waiting;
  for (int32_t r = 0; r < 2; ++r) {
    waiting.emplace_back([&, r] {
      auto& comm = group.rank(r);
      comm.begin_step();
      float x = 1.0f;
      try {
        comm.all_reduce_sum(&x, 1);
      } catch (const collective_aborted&) {
        ++aborted;
      }
    });
  }
  missing.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(aborted.load(), 0);
  release(group);
  for (auto& t : waiting)
    t.join();
  EXPECT_EQ(aborted.load(), 2);
}

TEST(shared_memory_communicator, abort_from_any_thread_wakes_ranks_waiting_for_a_missing_one) {
  release_waiting_ranks([](shared_memory_group& g) { g.abort(); });
}

TEST(shared_memory_communicator, close_wakes_ranks_waiting_for_a_missing_one) {
  release_waiting_ranks([](shared_memory_group& g) { g.close(); });
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(shared_memory_communicator, a_rank_waiting_for_a_slow_one_blocks_instead_of_spinning) {
  shared_memory_group group(2);
  double waiting_cpu = 0.0, waited = 0.0;
  on_ranks(2, [&](int32_t r) {
    auto& comm = group.rank(r);
    comm.begin_step();
    float x = 1.0f;
    if (r == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      comm.all_reduce_sum(&x, 1);
      return;
    }
    const double cpu0 = thread_cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    comm.all_reduce_sum(&x, 1);
    waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    waiting_cpu = thread_cpu_seconds() - cpu0;
    EXPECT_EQ(x, 2.0f);
  });
  EXPECT_GT(waited, 0.2);
  EXPECT_LT(waiting_cpu, 0.03) << "a rank that waited " << waited << " s used " << waiting_cpu
                               << " s of CPU";
}

}  // namespace
}  // namespace troupe::backend
