#pragma once
// Collectives between the ranks of one tensor-parallel group: what a backend's all_reduce() and
// all_gather_columns() call. One rank needs none (single_rank_communicator); ranks on threads of
// one process share memory (shared_memory_communicator.hpp); an NCCL one comes with issue 12.
//
// Memory: `data` lives where the calling backend keeps its buffers (host memory for cpu_backend;
// device memory, ordered on the backend's stream, for a GPU backend's communicator).
// Thread: each rank calls its own communicator from its own executor thread; a collective returns
// when every rank of the group has called it. Every rank runs the same collectives, with the same
// sizes, in the same order within a step.
//
// Steps and failure: every rank calls begin_step() once at the start of every step (every rank
// gets every step, in the same order). A rank whose step fails calls abort(): every rank still
// waiting for it in that step gets collective_aborted instead of hanging. The next step runs
// normally; there is nothing to reset.
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace troupe::backend {

// Thrown by a collective of a step that another rank abandoned (abort()), or of a closed group.
class collective_aborted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class communicator {
 public:
  virtual ~communicator() = default;

  virtual int32_t rank() const = 0;
  virtual int32_t world_size() const = 0;

  // Starts this rank's next step and waits until every rank has left the previous one (so no
  // rank still reads buffers this one is about to reuse). Throws collective_aborted if the step
  // is already aborted.
  virtual void begin_step() = 0;

  // data[i] = sum over ranks r of rank r's data[i], added in rank order (rank 0 first), so every
  // rank receives the same bits whatever the timing.   data [n]
  virtual void all_reduce_sum(float* data, int64_t n) = 0;
  // out[r * n + i] = rank r's in[i].   in [n], out [world_size][n]; out does not alias in
  virtual void all_gather(const float* in, int64_t n, float* out) = 0;
  // data = rank root's data, at every rank.   data [n]
  virtual void broadcast(float* data, int64_t n, int32_t root) = 0;

  // Abandons this rank's current step at every rank: a rank waiting in a collective of the step
  // for a rank that will not come throws collective_aborted. Called by the rank whose step failed.
  virtual void abort() = 0;
};

// The communicators of one tensor-parallel group, owned together (shared_memory_group: ranks on
// threads sharing host memory; nccl_group: one GPU per rank).
class communicator_group {
 public:
  virtual ~communicator_group() = default;
  virtual int32_t world_size() const = 0;
  // Rank r's communicator, owned by the group. Thread: used only by rank r's thread.
  // requires: 0 <= r < world_size().
  virtual communicator& rank(int32_t r) = 0;
  // Any thread: abandons every step from now on (shutdown): no rank waits for a missing peer
  // again.
  virtual void close() = 0;
};

// The group of one: every collective is the identity.
class single_rank_communicator final : public communicator {
 public:
  int32_t rank() const override { return 0; }
  int32_t world_size() const override { return 1; }
  void begin_step() override {}
  void all_reduce_sum(float*, int64_t) override {}
  void all_gather(const float* in, int64_t n, float* out) override {
    std::memcpy(out, in, static_cast<size_t>(n) * sizeof(float));
  }
  void broadcast(float*, int64_t, int32_t) override {}
  void abort() override {}
};

}  // namespace troupe::backend
