#pragma once
// Drives the ranks of a tensor-parallel group (or of a pipeline's stages) the way executor actors
// do: one long-lived thread per rank, every step to every rank, an exception turned into an error
// value at the rank's boundary (as actors/executor does). Returns every rank's answer, so that
// tests can check that the ranks agree; rank 0's is the step's (a pipeline's last stage's).
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/result.hpp"
#include "runtime/model/tensor_parallel.hpp"

namespace troupe::testing {

template <class Runner = runtime::tensor_parallel_runner>
class rank_threads {
 public:
  explicit rank_threads(std::vector<std::unique_ptr<Runner>> ranks) : ranks_(std::move(ranks)) {
    for (int32_t r = 0; r < size(); ++r)
      threads_.emplace_back([this, r] { loop(r); });
  }
  ~rank_threads() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : threads_)
      t.join();
  }

  int32_t size() const { return static_cast<int32_t>(ranks_.size()); }
  Runner& rank(int32_t r) { return *ranks_[r]; }

  std::vector<result<std::vector<runtime::sampled_token>>> execute(const runtime::step_batch& b) {
    return on_every_rank<std::vector<runtime::sampled_token>>(
        [&](int32_t r) { return ranks_[r]->execute(b); });
  }
  std::vector<result<std::vector<float>>> forward_logits(const runtime::step_batch& b) {
    return on_every_rank<std::vector<float>>(
        [&](int32_t r) { return ranks_[r]->forward_logits(b); });
  }

 private:
  template <class T, class Step>
  std::vector<result<T>> on_every_rank(Step step) {
    std::vector<std::optional<result<T>>> answers(ranks_.size());
    run([&](int32_t r) {
      try {
        answers[r].emplace(step(r));
      } catch (const std::exception& e) {
        answers[r].emplace(error{e.what()});
      }
    });
    std::vector<result<T>> out;
    for (auto& a : answers)
      out.push_back(std::move(*a));
    return out;
  }

  // Runs job(r) on rank r's thread for every rank and waits for all of them.
  void run(const std::function<void(int32_t)>& job) {
    std::unique_lock lock(mutex_);
    job_ = &job;
    pending_ = size();
    ++generation_;
    wake_.notify_all();
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }

  void loop(int32_t r) {
    uint64_t seen = 0;
    std::unique_lock lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      const auto* job = job_;
      lock.unlock();
      (*job)(r);
      lock.lock();
      if (--pending_ == 0) done_.notify_all();
    }
  }

  std::vector<std::unique_ptr<Runner>> ranks_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(int32_t)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int32_t pending_ = 0;
  bool stop_ = false;
};

}  // namespace troupe::testing
