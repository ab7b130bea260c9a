// Device and pinned memory of the emulated device (contract: include/cuda_runtime_api.h).
//
// Every allocation is recorded in the registry (base -> size, kind), which is what the checks
// consult: a copy whose pointers do not match its kind, a kernel argument or a memset outside
// device memory, or a free of something that was not allocated stops the process. Freed memory
// goes back to the host allocator, so AddressSanitizer reports a later use.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "registry.hpp"

struct CUmemPoolHandle_st {
  int device;
};

namespace emu {

void report_live_allocations();

registry& reg() {
  static registry* r = [] {
    std::atexit(report_live_allocations);
    return new registry;
  }();
  return *r;
}

// Device memory nobody freed is a leak on the GPU too (an engine rebuilt in one process).
void report_live_allocations() {
  size_t count = 0, bytes = 0;
  for (const auto& [base, a] : reg().allocations) {
    if (a.kind != memory_kind::device) continue;
    ++count;
    bytes += a.size;
  }
  if (count > 0)
    std::fprintf(stderr, "cuda_emu: %zu device allocations (%zu bytes) were never freed\n", count,
                 bytes);
}

const std::pair<const uintptr_t, allocation>* find(const void* p, bool end_ok) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = reg().allocations.upper_bound(a);
  if (it == reg().allocations.begin()) return nullptr;
  --it;
  const uintptr_t end = it->first + it->second.size;
  if (a < end || (end_ok && a == end)) return &*it;
  return nullptr;
}

namespace {

cudaError_t allocate(void** ptr, size_t size, memory_kind kind) {
  if (ptr == nullptr) return record(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (size == 0) return cudaSuccess;  // cudaMalloc(&p, 0): success, p == nullptr
  std::lock_guard lock(reg().mutex);
  if (kind == memory_kind::device && size > device_total_bytes - reg().device_bytes_in_use)
    return record(cudaErrorMemoryAllocation);
  void* p = nullptr;
  if (posix_memalign(&p, 256, size) != 0) return record(cudaErrorMemoryAllocation);
  std::memset(p, 0xff, size);  // not zeros: reading memory nobody wrote shows (NaN, -1)
  reg().allocations[reinterpret_cast<uintptr_t>(p)] = {size, kind};
  if (kind == memory_kind::device) reg().device_bytes_in_use += size;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t release(void* ptr, memory_kind kind, const char* what) {
  if (ptr == nullptr) return cudaSuccess;
  std::lock_guard lock(reg().mutex);
  auto it = reg().allocations.find(reinterpret_cast<uintptr_t>(ptr));
  if (it == reg().allocations.end() || it->second.kind != kind)
    fail("%s(%p): not the start of a live %s allocation", what, ptr,
         kind == memory_kind::device ? "device" : "pinned host");
  if (kind == memory_kind::device) reg().device_bytes_in_use -= it->second.size;
  reg().allocations.erase(it);
  std::free(ptr);
  return cudaSuccess;
}

const char* kind_name(cudaMemcpyKind kind) {
  switch (kind) {
    case cudaMemcpyHostToHost:
      return "cudaMemcpyHostToHost";
    case cudaMemcpyHostToDevice:
      return "cudaMemcpyHostToDevice";
    case cudaMemcpyDeviceToHost:
      return "cudaMemcpyDeviceToHost";
    case cudaMemcpyDeviceToDevice:
      return "cudaMemcpyDeviceToDevice";
    case cudaMemcpyDefault:
      return "cudaMemcpyDefault";
  }
  return "an unknown cudaMemcpyKind";
}

// One side of a copy: `bytes` at p must be device memory when `device`, and must not be when
// not (a host pointer the GPU cannot read, or a device pointer the host cannot).
void check_side(const void* p, size_t bytes, bool device, const char* side, cudaMemcpyKind kind,
                const char* what) {
  if (device) {
    if (!is_device_range(p, bytes))
      fail("%s with %s: %s %p (+%zu bytes) is not device memory", what, kind_name(kind), side, p,
           bytes);
  } else if (kind_of(p) == memory_kind::device) {
    fail("%s with %s: %s %p is device memory", what, kind_name(kind), side, p);
  }
}

void check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* what) {
  switch (kind) {
    case cudaMemcpyHostToHost:
    case cudaMemcpyHostToDevice:
    case cudaMemcpyDeviceToHost:
    case cudaMemcpyDeviceToDevice:
      check_side(dst, bytes, kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice,
                 "destination", kind, what);
      check_side(src, bytes, kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice,
                 "source", kind, what);
      return;
    case cudaMemcpyDefault:
      if (kind_of(dst) == memory_kind::device)
        check_side(dst, bytes, true, "destination", kind, what);
      if (kind_of(src) == memory_kind::device) check_side(src, bytes, true, "source", kind, what);
      return;
  }
  fail("%s: unknown cudaMemcpyKind %d", what, static_cast<int>(kind));
}

cudaError_t copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, const char* what) {
  if (bytes == 0) return cudaSuccess;
  check_copy(dst, src, bytes, kind, what);
  std::memmove(dst, src, bytes);
  return cudaSuccess;
}

// A copy recorded into a graph reads and writes at every replay: both sides must be device or
// pinned memory (a pageable host buffer may be gone, or hold other data, by then).
void check_captured_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                         const char* what) {
  if (bytes == 0) return;
  check_copy(dst, src, bytes, kind, what);
  for (const void* p : {static_cast<const void*>(dst), src}) {
    if (kind_of(p) == memory_kind::host)
      fail("%s: pageable host memory %p in a copy captured into a CUDA graph", what, p);
  }
}

cudaError_t copy_2d(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                    size_t height, cudaMemcpyKind kind, const char* what) {
  if (width == 0 || height == 0) return cudaSuccess;
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidValue);
  auto* d = static_cast<unsigned char*>(dst);
  const auto* s = static_cast<const unsigned char*>(src);
  for (size_t r = 0; r < height; ++r)
    copy(d + r * dpitch, s + r * spitch, width, kind, what);
  return cudaSuccess;
}

}  // namespace

memory_kind kind_of(const void* p) {
  std::lock_guard lock(reg().mutex);
  const auto* a = find(p, false);
  return a == nullptr ? memory_kind::host : a->second.kind;
}

bool is_device_range(const void* p, size_t bytes) {
  std::lock_guard lock(reg().mutex);
  const auto* a = find(p, bytes == 0);
  if (a == nullptr || a->second.kind != memory_kind::device) return false;
  return reinterpret_cast<uintptr_t>(p) + bytes <= a->first + a->second.size;
}

void require_device_range(const void* p, size_t bytes, const char* what) {
  if (!is_device_range(p, bytes)) fail("%s: %p (+%zu bytes) is not device memory", what, p, bytes);
}

void check_pointer_argument(const char* kernel, int index, const void* p) {
  if (p == nullptr) return;
  std::lock_guard lock(reg().mutex);
  const auto* a = find(p, true);
  if (a == nullptr)
    fail("kernel %s: argument %d (%p) is a host pointer, not device memory", kernel, index, p);
}

}  // namespace emu

using emu::record;

// -- memory --

cudaError_t cudaMalloc(void** ptr, size_t size) {
  emu::forbid_while_capturing("cudaMalloc");
  return emu::allocate(ptr, size, emu::memory_kind::device);
}

cudaError_t cudaFree(void* ptr) {
  emu::forbid_while_capturing("cudaFree");
  return emu::release(ptr, emu::memory_kind::device, "cudaFree");
}

cudaError_t cudaMallocHost(void** ptr, size_t size) {
  emu::forbid_while_capturing("cudaMallocHost");
  return emu::allocate(ptr, size, emu::memory_kind::pinned);
}

cudaError_t cudaHostAlloc(void** ptr, size_t size, unsigned int flags) {
  if (flags != cudaHostAllocDefault) emu::fail("cudaHostAlloc: flags %u are not emulated", flags);
  return emu::allocate(ptr, size, emu::memory_kind::pinned);
}

cudaError_t cudaFreeHost(void* ptr) {
  emu::forbid_while_capturing("cudaFreeHost");
  return emu::release(ptr, emu::memory_kind::pinned, "cudaFreeHost");
}

cudaError_t cudaMallocAsync(void** ptr, size_t size, cudaStream_t stream) {
  emu::forbid_while_capturing("cudaMallocAsync");
  emu::check_stream(stream, "cudaMallocAsync");
  return emu::allocate(ptr, size, emu::memory_kind::device);
}

cudaError_t cudaFreeAsync(void* ptr, cudaStream_t stream) {
  emu::forbid_while_capturing("cudaFreeAsync");
  emu::check_stream(stream, "cudaFreeAsync");
  return emu::release(ptr, emu::memory_kind::device, "cudaFreeAsync");
}

cudaError_t cudaMemGetInfo(size_t* free, size_t* total) {
  std::lock_guard lock(emu::reg().mutex);
  *total = emu::device_total_bytes;
  *free = emu::device_total_bytes - emu::reg().device_bytes_in_use;
  return cudaSuccess;
}

cudaError_t cudaMemPoolCreate(cudaMemPool_t* pool, const cudaMemPoolProps* props) {
  if (props == nullptr || props->allocType != cudaMemAllocationTypePinned ||
      props->location.type != cudaMemLocationTypeDevice || props->location.id != 0)
    return record(cudaErrorInvalidValue);
  *pool = new CUmemPoolHandle_st{0};
  std::lock_guard lock(emu::reg().mutex);
  emu::reg().live_pools.insert(*pool);
  return cudaSuccess;
}

cudaError_t cudaMemPoolDestroy(cudaMemPool_t pool) {
  std::lock_guard lock(emu::reg().mutex);
  if (emu::reg().live_pools.erase(pool) == 0) emu::fail("cudaMemPoolDestroy: not a live pool");
  emu::reg().tombstones.push_back(pool);
  return cudaSuccess;
}

cudaError_t cudaMemPoolSetAttribute(cudaMemPool_t pool, cudaMemPoolAttr attr, void* value) {
  {
    std::lock_guard lock(emu::reg().mutex);
    if (emu::reg().live_pools.count(pool) == 0)
      emu::fail("cudaMemPoolSetAttribute: not a live pool");
  }
  if (attr != cudaMemPoolAttrReleaseThreshold || value == nullptr)
    emu::fail("cudaMemPoolSetAttribute: attribute %d is not emulated", static_cast<int>(attr));
  return cudaSuccess;
}

cudaError_t cudaMallocFromPoolAsync(void** ptr, size_t size, cudaMemPool_t pool,
                                    cudaStream_t stream) {
  emu::forbid_while_capturing("cudaMallocFromPoolAsync");
  emu::check_stream(stream, "cudaMallocFromPoolAsync");
  {
    std::lock_guard lock(emu::reg().mutex);
    if (emu::reg().live_pools.count(pool) == 0)
      emu::fail("cudaMallocFromPoolAsync: not a live pool");
  }
  return emu::allocate(ptr, size, emu::memory_kind::device);
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  emu::forbid_while_capturing("cudaMemcpy");
  return emu::copy(dst, src, count, kind, "cudaMemcpy");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  emu::check_stream(stream, "cudaMemcpyAsync");
  if (!emu::capturing(stream)) return emu::copy(dst, src, count, kind, "cudaMemcpyAsync");
  emu::check_captured_copy(dst, src, count, kind, "cudaMemcpyAsync");
  emu::on_stream(stream, [=] { emu::copy(dst, src, count, kind, "cudaMemcpyAsync (replayed)"); });
  return cudaSuccess;
}

cudaError_t cudaMemcpy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width,
                         size_t height, cudaMemcpyKind kind) {
  emu::forbid_while_capturing("cudaMemcpy2D");
  return emu::copy_2d(dst, dpitch, src, spitch, width, height, kind, "cudaMemcpy2D");
}

cudaError_t cudaMemcpy2DAsync(void* dst, size_t dpitch, const void* src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  emu::check_stream(stream, "cudaMemcpy2DAsync");
  if (!emu::capturing(stream))
    return emu::copy_2d(dst, dpitch, src, spitch, width, height, kind, "cudaMemcpy2DAsync");
  if (width > dpitch || width > spitch) return record(cudaErrorInvalidValue);
  if (height > 0) {
    emu::check_captured_copy(dst, src, (height - 1) * dpitch + width, kind, "cudaMemcpy2DAsync");
    emu::check_captured_copy(dst, src, (height - 1) * spitch + width, kind, "cudaMemcpy2DAsync");
  }
  emu::on_stream(stream, [=] {
    emu::copy_2d(dst, dpitch, src, spitch, width, height, kind, "cudaMemcpy2DAsync (replayed)");
  });
  return cudaSuccess;
}

cudaError_t cudaMemset(void* dst, int value, size_t count) {
  emu::forbid_while_capturing("cudaMemset");
  if (count == 0) return cudaSuccess;
  emu::require_device_range(dst, count, "cudaMemset");
  std::memset(dst, value, count);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t count, cudaStream_t stream) {
  emu::check_stream(stream, "cudaMemsetAsync");
  if (count == 0) return cudaSuccess;
  emu::require_device_range(dst, count, "cudaMemsetAsync");
  emu::on_stream(stream, [=] { std::memset(dst, value, count); });
  return cudaSuccess;
}
