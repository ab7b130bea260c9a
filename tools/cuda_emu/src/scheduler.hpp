#pragma once
// The scheduler's state, shared by the fiber scheduler (launch.cpp) and the memory spaces of a
// running block (shared_memory.cpp). One launch runs at a time; everything here belongs to it.
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <vector>

#include "internal.hpp"

namespace emu {

enum class thread_state : uint8_t { ready, at_barrier, at_warp, done };

struct pending_copy {
  unsigned char* dst;
  const unsigned char* src;
  int size, src_size;
};

struct cuda_thread {
  // fiber
  void* sp = nullptr;
  unsigned char* stack = nullptr;  // lowest usable address
  void* fake_stack = nullptr;      // AddressSanitizer's, while switched out
  // position in the block
  uint3 idx{};
  unsigned warp = 0, lane = 0;
  thread_state state = thread_state::done;
  // warp collective in progress
  warp_op op = warp_op::sync;
  unsigned mask = 0;
  int src_lane = 0;
  uint64_t value = 0, result = 0;
  // cp.async: the open group, then the committed ones (oldest first)
  std::vector<pending_copy> open;
  std::vector<std::vector<pending_copy>> groups;
};

struct warp_state {
  unsigned exists = 0;   // lanes the block has
  unsigned exited = 0;   // lanes that ended
  unsigned arrived = 0;  // lanes waiting in a collective
};

enum class order_kind { forward, reverse, random };

// When a cp.async copy reaches shared memory: at its wait_group (the latest the GPU allows: a read
// before the wait sees stale data), at issue (the earliest: a stage refilled while others still
// read it is overwritten), or each copy one or the other (the default, both kinds of bugs).
enum class cp_async_landing { late, early, mixed };

struct scheduler {
  std::mutex mutex;  // one launch at a time, from any host thread
  std::vector<std::unique_ptr<cuda_thread>> pool;
  void* sp = nullptr;  // the scheduler's context while a fiber runs
  void* fake_stack = nullptr;
  const void* stack_bottom = nullptr;
  size_t stack_size = 0;
  cuda_thread* current = nullptr;
  job_fn job = nullptr;
  void* job_context = nullptr;
  unsigned num_threads = 0, at_barrier = 0, done = 0;
  std::vector<warp_state> warps;
  std::vector<unsigned char> dynamic;  // dynamic shared memory of the running block
  size_t dynamic_bytes = 0;
  size_t static_bytes = 0;  // __shared__ variables used by this launch
  const launch_config* config = nullptr;
  uint64_t block_serial = 0, launch_serial = 0;
  std::vector<static_shared_slot*> slots;  // id - 1
  order_kind order = order_kind::forward;
  std::mt19937 rng;
  cp_async_landing landing = cp_async_landing::mixed;
  uint64_t copies = 0;
  bool exact_expf = false;
};

// The scheduler (created on first use, from the EMU_* environment variables).
scheduler& sched();
// The CUDA thread running now; stops the process outside a kernel.
cuda_thread& self();

}  // namespace emu
