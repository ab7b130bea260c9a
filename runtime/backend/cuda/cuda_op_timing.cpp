#include "runtime/backend/cuda/cuda_op_timing.hpp"

#include <string>

#include "kernels/cuda/device.hpp"
#include "runtime/backend/cuda/cuda_backend_impl.hpp"

namespace troupe::backend::cuda_detail {

op_timing::~op_timing() {
  for (auto& p : pending_) {
    cudaEventDestroy(p.second.first);
    cudaEventDestroy(p.second.second);
  }
  for (cudaEvent_t e : free_)
    cudaEventDestroy(e);
}

cudaEvent_t op_timing::take_event() {
  if (!free_.empty()) {
    cudaEvent_t e = free_.back();
    free_.pop_back();
    return e;
  }
  cudaEvent_t e = nullptr;
  CUDA_OR_THROW(cudaEventCreate(&e));
  return e;
}

op_timing::scope::scope(op_timing* timing, std::string name, cudaStream_t stream)
    : timing_(timing), name_(std::move(name)), stream_(stream) {
  if (timing_ == nullptr) return;
  start_ = timing_->take_event();
  CUDA_OR_THROW(cudaEventRecord(start_, stream_));
}

op_timing::scope::~scope() {
  if (timing_ == nullptr) return;
  cudaEvent_t end = timing_->take_event();
  // A failed record leaves the pair out (the op's own error is what the caller sees).
  if (cudaEventRecord(end, stream_) != cudaSuccess) {
    cudaGetLastError();
    timing_->free_.push_back(start_);
    timing_->free_.push_back(end);
    return;
  }
  timing_->pending_.push_back({std::move(name_), {start_, end}});
}

void op_timing::harvest(int32_t device) {
  if (!enabled()) return;
  for (auto& [name, events] : pending_) {
    float ms = 0.0f;
    CUDA_OR_THROW(cudaEventElapsedTime(&ms, events.first, events.second));
    totals_.add(name, ms / 1000.0);
    free_.push_back(events.first);
    free_.push_back(events.second);
  }
  pending_.clear();
  totals_.report_if_due("CUDA device " + std::to_string(device));
}

}  // namespace troupe::backend::cuda_detail

namespace troupe::backend {

void cuda_backend::enable_op_timing(int32_t report_every) {
  impl_->timing.enable(report_every);
  if (report_every > 0) impl_->graph_sizes.clear();  // per-op events need eager steps
}

std::vector<cuda_op_time> cuda_backend::op_times() const {
  return impl_->timing.totals();
}

}  // namespace troupe::backend
