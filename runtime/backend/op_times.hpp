#pragma once
// Per-op time totals of a compute backend, for finding where a step's time goes (not for
// serving): `troupe serve` turns them on with TROUPE_CPU_OP_TIMES=N (cpu_backend: wall-clock time
// of each op on the calling thread, its pool's work included) or TROUPE_CUDA_OP_TIMES=N
// (cuda_backend: device time between CUDA events). Ops of one name are summed (matmuls by weight
// format and shape); every N steps the totals are logged, largest first, and start again. An op
// that another timed op calls is part of the outer one's time and is not counted apart, so the
// totals add up to the step's op time.
//
//   op_time_totals t;  t.enable(100);
//   per step:  t.report_if_due("CPU");  t.count_step();  then per op t.add(name, seconds)
#include <chrono>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/backend/backend_types.hpp"

namespace troupe::backend {

// One op's time: ops of the same name summed.
struct op_time {
  std::string op;
  int64_t calls = 0;
  double seconds = 0.0;
};

// A product's op name: "matmul bf16 1536x576" (one output of 1536 rows over 576 columns), or for
// several outputs of the same x "matmuls bf16 576x576 192x576 192x576".
std::string matmul_op_name(std::string_view op, weight_format format, std::span<const int64_t> rows,
                           int64_t cols);

class op_time_totals {
 public:
  // Totals logged every report_every steps (0: off).
  void enable(int32_t report_every) { report_every_ = report_every; }
  bool enabled() const { return report_every_ > 0; }

  void add(const std::string& op, double seconds);
  // A step began (nothing when off).
  void count_step() { steps_ += enabled() ? 1 : 0; }
  // When report_every steps have been counted: logs the totals as `who`'s ("CPU", "CUDA device
  // 0") with the time a step, and starts again.
  void report_if_due(std::string_view who);
  // The totals since the last report, largest first.
  std::vector<op_time> totals() const;

  // Adds the wall-clock time from construction to destruction to an op (nothing for nullptr).
  class wall_clock {
   public:
    wall_clock(op_time_totals* totals, std::string op)
        : totals_(totals), op_(std::move(op)), start_(std::chrono::steady_clock::now()) {
      if (totals_ != nullptr) ++totals_->open_;
    }
    wall_clock(const wall_clock&) = delete;
    wall_clock& operator=(const wall_clock&) = delete;
    ~wall_clock() {
      if (totals_ != nullptr) {
        --totals_->open_;
        totals_->add(
            op_, std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
      }
    }

   private:
    op_time_totals* totals_;
    std::string op_;
    std::chrono::steady_clock::time_point start_;
  };
  // Times the op around it on the host clock; name() is called only when timing is on and no
  // other timed op is open (the outermost op carries the time).
  template <class Name>
  wall_clock time(Name name) {
    return enabled() && open_ == 0 ? wall_clock(this, name()) : wall_clock(nullptr, {});
  }

 private:
  int32_t report_every_ = 0;
  int32_t open_ = 0;  // wall clocks running
  int64_t steps_ = 0;
  std::map<std::string, op_time> totals_;
};

}  // namespace troupe::backend
