// The memory spaces of a running block and the rest of the device side: __shared__ variables,
// dynamic shared memory, shared addresses (__cvta_generic_to_shared), the atomics' address check,
// cp.async, expf (contracts: include/emu/device.hpp).
#include <cmath>
#include <cstring>
#include <new>

#include "scheduler.hpp"

namespace emu {

// -- shared memory: addresses are (region << 20) | offset; region 0 is the dynamic memory,
// region i the i-th __shared__ variable --

void* dynamic_shared() {
  self();
  return sched().dynamic.data();
}

void* static_shared_slot::get() {
  scheduler& s = sched();
  self();
  if (data == nullptr) {
    data = static_cast<unsigned char*>(
        ::operator new (size, std::align_val_t{std::max<size_t>(align, 16)}));
    s.slots.push_back(this);
    id = static_cast<int>(s.slots.size());
  }
  if (launch_serial != s.launch_serial) {
    launch_serial = s.launch_serial;
    s.static_bytes += size;
    if (s.static_bytes > shared_default_bytes)
      fail("kernel %s: %zu bytes of __shared__ variables (the limit is 48 KiB)", s.config->name,
           s.static_bytes);
    if (s.static_bytes + s.dynamic_bytes > shared_optin_bytes)
      fail("kernel %s: %zu bytes of static and dynamic shared memory (the limit is %zu)",
           s.config->name, s.static_bytes + s.dynamic_bytes, shared_optin_bytes);
  }
  if (block_serial != s.block_serial) {
    block_serial = s.block_serial;
    std::memset(data, 0xff, size);
  }
  return data;
}

uint64_t cvta_generic_to_shared(const void* p) {
  scheduler& s = sched();
  self();
  const auto* c = static_cast<const unsigned char*>(p);
  if (c >= s.dynamic.data() && c <= s.dynamic.data() + s.dynamic_bytes && s.dynamic_bytes > 0)
    return static_cast<uint64_t>(c - s.dynamic.data());
  for (const static_shared_slot* slot : s.slots) {
    if (slot->launch_serial == s.launch_serial && c >= slot->data && c <= slot->data + slot->size)
      return (uint64_t(slot->id) << 20) | static_cast<uint64_t>(c - slot->data);
  }
  fail("kernel %s: __cvta_generic_to_shared(%p) of a pointer that is not shared memory",
       s.config->name, p);
}

// Where a GPU's atomicAdd works: this block's shared memory or device memory (a host pointer
// faults; pinned host memory is not promised atomic over the bus), naturally aligned.
void check_atomic(const void* p, size_t bytes, const char* what) {
  scheduler& s = sched();
  self();
  if (reinterpret_cast<uintptr_t>(p) % bytes != 0)
    fail("kernel %s: %s at %p, not aligned to %zu bytes", s.config->name, what, p, bytes);
  const auto* c = static_cast<const unsigned char*>(p);
  if (c >= s.dynamic.data() && c + bytes <= s.dynamic.data() + s.dynamic_bytes) return;
  for (const static_shared_slot* slot : s.slots) {
    if (slot->launch_serial == s.launch_serial && c >= slot->data &&
        c + bytes <= slot->data + slot->size)
      return;
  }
  if (!is_device_range(p, bytes))
    fail("kernel %s: %s at %p, which is neither device nor shared memory", s.config->name, what, p);
}

namespace {

unsigned char* shared_at(uint64_t address, int bytes) {
  scheduler& s = sched();
  const uint64_t region = address >> 20, offset = address & 0xfffffu;
  unsigned char* base = s.dynamic.data();
  size_t size = s.dynamic_bytes;
  if (region > 0) {
    if (region > s.slots.size())
      fail("shared address 0x%llx: no such region", (unsigned long long)address);
    base = s.slots[region - 1]->data;
    size = s.slots[region - 1]->size;
  }
  if (offset + static_cast<uint64_t>(bytes) > size)
    fail("kernel %s: shared access of %d bytes at offset %llu past the end (%zu bytes)",
         s.config->name, bytes, (unsigned long long)offset, size);
  return base + offset;
}

void land(const pending_copy& c) {
  if (c.src_size > 0) std::memcpy(c.dst, c.src, static_cast<size_t>(c.src_size));
  std::memset(c.dst + c.src_size, 0, static_cast<size_t>(c.size - c.src_size));
}

}  // namespace

void ptx_cp_async(uint64_t shared_addr, uint64_t global_addr, int cp_size, int src_size,
                  bool cache_global) {
  scheduler& s = sched();
  cuda_thread& t = self();
  if (cp_size != 4 && cp_size != 8 && cp_size != 16) fail("cp.async: cp-size %d", cp_size);
  if (cache_global && cp_size != 16)
    fail("kernel %s: cp.async.cg needs cp-size 16, not %d", s.config->name, cp_size);
  if (src_size < 0 || src_size > cp_size) fail("cp.async: src-size %d of %d", src_size, cp_size);
  unsigned char* dst = shared_at(shared_addr, cp_size);
  const auto* src = reinterpret_cast<const unsigned char*>(global_addr);
  if (reinterpret_cast<uintptr_t>(dst) % cp_size != 0 || global_addr % cp_size != 0)
    fail("kernel %s: cp.async of %d bytes misaligned (shared %p, global %p)", s.config->name,
         cp_size, (void*)dst, (const void*)src);
  if (src_size > 0 && !is_device_range(src, static_cast<size_t>(src_size)))
    fail("kernel %s: cp.async reads %p, which is not device memory", s.config->name,
         (const void*)src);
  const pending_copy c{dst, src, cp_size, src_size};
  uint64_t h = ++s.copies * 0x9e3779b97f4a7c15ull;
  h ^= h >> 29;
  const bool early = s.landing == cp_async_landing::early ||
                     (s.landing == cp_async_landing::mixed && (h & 1) != 0);
  if (early)
    land(c);
  else
    t.open.push_back(c);
}

void ptx_cp_async_commit() {
  cuda_thread& t = self();
  t.groups.push_back(std::move(t.open));
  t.open.clear();
}

// Lands every committed group but the newest `groups_pending` (uncommitted copies stay pending).
void ptx_cp_async_wait(int groups_pending) {
  cuda_thread& t = self();
  const size_t keep = static_cast<size_t>(std::max(groups_pending, 0));
  if (t.groups.size() <= keep) return;
  const size_t n = t.groups.size() - keep;
  for (size_t g = 0; g < n; ++g)
    for (const pending_copy& c : t.groups[g])
      land(c);
  t.groups.erase(t.groups.begin(), t.groups.begin() + static_cast<std::ptrdiff_t>(n));
}

// The host's expf moved by -1, 0 or +1 ulp, chosen by a hash of x: CUDA's expf is within 2 ulp
// of e^x, so code that needs the host's bits would pass here and fail on the GPU.
float dev_expf(float x) {
  const float r = std::exp(x);
  if (sched().exact_expf || !std::isfinite(r) || r == 0.0f) return r;
  uint32_t h = std::bit_cast<uint32_t>(x) * 0x9e3779b1u;
  h ^= h >> 15;
  switch (h % 3) {
    case 0:
      return std::nextafter(r, 0.0f);
    case 1:
      return r;
    default:
      return std::nextafter(r, INFINITY);
  }
}

}  // namespace emu
