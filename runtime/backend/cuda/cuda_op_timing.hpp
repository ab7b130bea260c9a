#pragma once
// cuda_backend's per-op device times (cuda_backend::enable_op_timing; TROUPE_CUDA_OP_TIMES=N in
// `troupe serve`): every op is bracketed by two events on the stream; after each download (the
// stream has drained) the pairs' elapsed times are added to their op's total (op_time_totals),
// and every N steps the totals are logged and start again. Internal to runtime/backend/cuda.
//
//   op ─ scope: record start ─ kernels ─ record end ─┐  pending (name, start, end)
//   download: stream synchronized ─ harvest ─────────┴─ totals[name] += elapsed; events reused
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "runtime/backend/cuda/cuda_backend.hpp"

namespace troupe::backend::cuda_detail {

class op_timing {
 public:
  op_timing() = default;
  op_timing(const op_timing&) = delete;
  op_timing& operator=(const op_timing&) = delete;
  ~op_timing();

  void enable(int32_t report_every) { totals_.enable(report_every); }
  bool enabled() const { return totals_.enabled(); }

  // Brackets the ops enqueued while it lives (nothing when timing is off).
  class scope {
   public:
    scope(op_timing* timing, std::string name, cudaStream_t stream);
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;
    ~scope();

   private:
    op_timing* timing_;
    std::string name_;
    cudaStream_t stream_;
    cudaEvent_t start_ = nullptr;
  };
  // name() is called only when timing is on.
  template <class Name>
  scope time(Name name, cudaStream_t stream) {
    return enabled() ? scope(this, name(), stream) : scope(nullptr, {}, stream);
  }

  // A step began.
  void count_step() { totals_.count_step(); }
  // After the stream drained: adds the pending pairs to the totals; logs and resets them every
  // report_every steps.
  void harvest(int32_t device);
  std::vector<cuda_op_time> totals() const { return totals_.totals(); }

 private:
  cudaEvent_t take_event();

  std::vector<std::pair<std::string, std::pair<cudaEvent_t, cudaEvent_t>>> pending_;
  std::vector<cudaEvent_t> free_;
  op_time_totals totals_;
};

}  // namespace troupe::backend::cuda_detail
