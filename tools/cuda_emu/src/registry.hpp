#pragma once
// The registry of the emulated device's allocations and handles (memory.cpp, runtime.cpp).
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "internal.hpp"

namespace emu {

struct allocation {
  size_t size;
  memory_kind kind;
};

// Heap-allocated and never freed: the handles and allocations it holds stay reachable (for
// LeakSanitizer) through static destruction at exit.
struct registry {
  std::mutex mutex;
  std::map<uintptr_t, allocation> allocations;  // by base address
  size_t device_bytes_in_use = 0;
  std::set<const void*> live_streams, live_events, live_pools;
  std::set<const void*> live_graphs;  // graphs and executable graphs
  // Destroyed handles stay allocated, so their addresses are never reused and a late use is
  // caught.
  std::vector<const void*> tombstones;
  std::map<const void*, size_t> dynamic_shared_limits;  // cudaFuncSetAttribute
};

registry& reg();

// The allocation holding p (p may be one past its end when `end_ok`), or nullptr. Call with
// reg().mutex held.
const std::pair<const uintptr_t, allocation>* find(const void* p, bool end_ok);

}  // namespace emu
