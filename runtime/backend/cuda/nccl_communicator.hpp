#pragma once
// Tensor-parallel collectives between GPUs of one process over NCCL: one communicator per rank,
// rank r on CUDA device r, each bound to its rank's backend stream (cuda_backend binds it), so a
// collective is enqueued in order with the rank's other ops and returns at once.
//
// NCCL is loaded at run time (libnccl.so.2, dlopen): a binary built with CUDA runs without it
// until --tensor-parallel-size > 1 asks for GPUs, which then fails with a clear error.
//
// What differs from communicator.hpp's contract (docs/usage.md says so too):
// - Sums are NCCL's (ring or tree order), not "rank 0 first": every rank still receives the same
//   bits, but they may differ from a one-rank run in the last place.
// - abort() cannot cancel a collective already enqueued: it aborts every rank's NCCL
//   communicator, so a rank waiting on the device for one that failed is released with an error,
//   and every later collective throws collective_aborted (the group must be rebuilt: restart).
//
// Only the thin part is here; the tensor-parallel logic (shards, which op reduces what) is the
// one the CPU tests check. Multi-GPU runs were not tested (the lent machine has one GPU).
#include <cstdint>
#include <memory>
#include <vector>

#include "base/result.hpp"
#include "runtime/backend/communicator.hpp"

namespace troupe::backend {

class nccl_group;

class nccl_communicator final : public communicator {
 public:
  ~nccl_communicator() override;
  int32_t rank() const override { return rank_; }
  int32_t world_size() const override;
  // Nothing to wait for: collectives are ordered on each rank's stream.
  void begin_step() override;
  void all_reduce_sum(float* data, int64_t n) override;
  void all_gather(const float* in, int64_t n, float* out) override;
  void broadcast(float* data, int64_t n, int32_t root) override;
  void abort() override;

  // The rank's CUDA stream (a cudaStream_t) every collective is enqueued on.
  void bind_stream(void* cuda_stream) { stream_ = cuda_stream; }

 private:
  friend class nccl_group;
  nccl_communicator(nccl_group& group, int32_t rank, void* comm)
      : group_(group), rank_(rank), comm_(comm) {}
  void check(int result, const char* what) const;

  nccl_group& group_;
  int32_t rank_;
  void* comm_;  // ncclComm_t
  void* stream_ = nullptr;
};

// The communicators of world_size ranks on devices first_device .. first_device + world_size - 1
// of this process (a data-parallel engine's tensor-parallel group).
class nccl_group final : public communicator_group {
 public:
  // Loads NCCL and creates every rank's communicator (ncclCommInitAll). An error when NCCL cannot
  // be loaded, fewer devices exist, or NCCL fails.
  static result<std::shared_ptr<nccl_group>> create(int32_t world_size, int32_t first_device = 0);
  ~nccl_group() override;

  int32_t world_size() const override { return static_cast<int32_t>(ranks_.size()); }
  nccl_communicator& rank(int32_t r) override { return *ranks_[static_cast<size_t>(r)]; }
  // Aborts every rank's NCCL communicator (a rank stuck on the device is released).
  void close() override { abort_all(); }
  bool aborted() const;

 private:
  friend class nccl_communicator;
  struct library;
  nccl_group() = default;
  void abort_all();

  std::unique_ptr<library> lib_;
  int32_t first_device_ = 0;
  std::vector<std::unique_ptr<nccl_communicator>> ranks_;
};

}  // namespace troupe::backend
