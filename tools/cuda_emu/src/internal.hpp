#pragma once
// What the emulator's sources share: the device-memory registry, the last error, the limits of
// the emulated device (an H100/H200: 132 SMs, 227 KiB of opt-in shared memory per block).
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "emu/device.hpp"

namespace emu {

constexpr int num_sms = 132;
constexpr size_t shared_default_bytes = 48 * 1024;
constexpr size_t shared_optin_bytes = 232448;
constexpr size_t device_total_bytes = size_t{80} << 30;

enum class memory_kind : uint8_t { host, device, pinned };

// The kind of the allocation that holds p (host when none: pageable or stack memory).
memory_kind kind_of(const void* p);
// [p, p + bytes) lies inside one device allocation (bytes == 0: p inside or one past its end).
bool is_device_range(const void* p, size_t bytes);
// Stops the process naming `what` unless [p, p + bytes) is device memory.
void require_device_range(const void* p, size_t bytes, const char* what);

// Records a failed call's error for cudaGetLastError and returns it.
cudaError_t record(cudaError_t error);
// Stops the process when `stream` is neither null nor a live stream.
void check_stream(cudaStream_t stream, const char* what);
// The dynamic shared memory a kernel may use (cudaFuncSetAttribute), default 48 KiB.
size_t max_dynamic_shared(const void* kernel_key);

// -- stream capture (runtime.cpp) --
// Whether `stream` is being captured into a graph.
bool capturing(cudaStream_t stream);
// Stops the process when a stream is being captured: `what` allocates, frees or waits, which a
// capture of troupe's (everything sized by the eager run before it) never needs.
void forbid_while_capturing(const char* what);

}  // namespace emu
