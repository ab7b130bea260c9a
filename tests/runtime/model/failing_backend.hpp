#pragma once
// A CPU backend that fails on purpose, for tests of a tensor-parallel rank that throws (in the
// runtime, and through the server): armed from another thread while the rank serves.
#include <atomic>
#include <span>
#include <stdexcept>

#include "runtime/backend/cpu_backend.hpp"

namespace troupe::testing {

// A CPU backend that fails on purpose: the fail_in-th matmul from now throws (each target of a
// matmuls call counts as one), or the next download (after the step's last collective) does.
class failing_backend final : public backend::cpu_backend {
 public:
  using cpu_backend::cpu_backend;
  std::atomic<int32_t> fail_in{0};
  std::atomic<bool> fail_download{false};

  void matmul(backend::buffer_handle x, int64_t rows, backend::weight_handle w,
              backend::buffer_handle y) override {
    if (fail_in > 0 && --fail_in == 0) throw std::runtime_error("injected matmul failure");
    cpu_backend::matmul(x, rows, w, y);
  }
  void matmuls(backend::buffer_handle x, int64_t rows,
               std::span<const backend::matmul_target> targets) override {
    for (size_t i = 0; i < targets.size(); ++i) {
      if (fail_in > 0 && --fail_in == 0) throw std::runtime_error("injected matmul failure");
    }
    cpu_backend::matmuls(x, rows, targets);
  }
  void silu_mul_matmul(backend::buffer_handle gate, backend::buffer_handle up, int64_t rows,
                       int64_t in, backend::weight_handle w, backend::buffer_handle y) override {
    if (fail_in > 0 && --fail_in == 0) throw std::runtime_error("injected matmul failure");
    cpu_backend::silu_mul_matmul(gate, up, rows, in, w, y);
  }
  std::span<const float> download(backend::buffer_handle b, int64_t n) override {
    if (fail_download.exchange(false)) throw std::runtime_error("injected download failure");
    return cpu_backend::download(b, n);
  }
};

}  // namespace troupe::testing
