#pragma once
// Collectives between the ranks of one tensor-parallel group: the hook a backend's all_reduce()
// calls. One rank needs none (single_rank_communicator); a shared-memory implementation between
// executor threads (issue 10, item 3) and an NCCL one (issue 12) plug in here.
//
// Memory: `data` lives where the calling backend keeps its buffers (host memory for cpu_backend;
// device memory, ordered on the backend's stream, for a GPU backend's communicator).
// Thread: each rank calls from its own executor thread; a collective returns when every rank of
// the group has called it.
#include <cstdint>

namespace troupe::backend {

class communicator {
 public:
  virtual ~communicator() = default;

  virtual int32_t rank() const = 0;
  virtual int32_t world_size() const = 0;

  // data[i] = sum over ranks r of rank r's data[i], in one fixed order (rank 0 first), so every
  // rank receives the same bits whatever the timing.   data [n]
  virtual void all_reduce_sum(float* data, int64_t n) = 0;
};

// The group of one: every collective is the identity.
class single_rank_communicator final : public communicator {
 public:
  int32_t rank() const override { return 0; }
  int32_t world_size() const override { return 1; }
  void all_reduce_sum(float*, int64_t) override {}
};

}  // namespace troupe::backend
