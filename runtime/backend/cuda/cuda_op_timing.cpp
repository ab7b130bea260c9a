#include "runtime/backend/cuda/cuda_op_timing.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

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
    auto& t = totals_[name];
    t.op = name;
    ++t.calls;
    t.seconds += ms / 1000.0;
    free_.push_back(events.first);
    free_.push_back(events.second);
  }
  pending_.clear();
  if (steps_ >= report_every_) report(device);
}

std::vector<cuda_op_time> op_timing::totals() const {
  std::vector<cuda_op_time> out;
  for (const auto& entry : totals_)
    out.push_back(entry.second);
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.seconds > b.seconds; });
  return out;
}

void op_timing::report(int32_t device) {
  const auto rows = totals();
  double total = 0.0;
  for (const auto& r : rows)
    total += r.seconds;
  spdlog::info("CUDA device {}: op times over the last {} steps ({:.3f} ms of device time a step)",
               device, steps_, 1e3 * total / static_cast<double>(std::max<int64_t>(1, steps_)));
  for (const auto& r : rows) {
    spdlog::info("  {:<32} {:>8} calls {:>10.3f} ms {:>5.1f}% {:>9.2f} us/call", r.op, r.calls,
                 1e3 * r.seconds, total > 0 ? 100.0 * r.seconds / total : 0.0,
                 1e6 * r.seconds / static_cast<double>(std::max<int64_t>(1, r.calls)));
  }
  totals_.clear();
  steps_ = 0;
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
