// Kernel execution (contract: include/emu/device.hpp).
//
// A block's threads are fibers: each has its own stack and registers and runs until it blocks
// (at __syncthreads or a warp collective) or ends; the scheduler then resumes the next ready one.
//
//   scheduler (launching host thread)          fibers (one per CUDA thread, pooled)
//   for each block:                            loop: job(context)   <- the kernel body
//     reset threads, poison shared memory            state = done, back to the scheduler
//     resume ready threads (policy below)
//     until all are done                         __syncthreads: arrive, back to the scheduler;
//     (nothing ready: deadlock)                    the last arrival makes every thread ready
//
// A thread's memory effects are visible to the others at once, which a barrier-correct kernel
// cannot tell from the GPU's weaker model. What exposes a missing barrier is the order: by
// default (EMU_SCHEDULE=forward) warp 0 runs until all its lanes block at __syncthreads or end,
// then warp 1, ...: a warp that writes shared memory another warp has not read yet, or reads what
// a later warp has not written, changes the result. reverse runs the warps (and the lanes within
// a warp, and the blocks) last to first; random (EMU_SEED=n) resumes a random ready thread each
// time.
//
// Fibers switch with a few instructions of x86-64 assembly (no signal-mask system call), and tell
// AddressSanitizer about each switch.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "scheduler.hpp"

#if !defined(__x86_64__)
#error "cuda_emu's fibers are written for x86-64"
#endif

#if defined(__SANITIZE_ADDRESS__)
extern "C" void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom,
                                               size_t size);
extern "C" void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                                size_t* size_old);
#endif

// switch_context(save, next): pushes the callee-saved registers, stores the stack pointer in
// *save, loads `next` and pops the registers saved there. fiber_start: a new fiber's first
// return address; calls r13(r12).
asm(R"(
  .pushsection .text
  .globl emu_switch_context
  .type emu_switch_context, @function
emu_switch_context:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch_context, .-emu_switch_context
  .globl emu_fiber_start
  .type emu_fiber_start, @function
emu_fiber_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size emu_fiber_start, .-emu_fiber_start
  .popsection
)");
extern "C" void emu_switch_context(void** save, void* next);
extern "C" void emu_fiber_start();

uint3 threadIdx;
uint3 blockIdx;
dim3 blockDim;
dim3 gridDim;

namespace emu {
namespace {

constexpr size_t stack_bytes = size_t{512} << 10;

}  // namespace

scheduler& sched() {
  static scheduler* s = [] {
    auto* p = new scheduler;
    const char* order = std::getenv("EMU_SCHEDULE");
    if (order != nullptr && std::string(order) == "reverse") p->order = order_kind::reverse;
    if (order != nullptr && std::string(order) == "random") p->order = order_kind::random;
    const char* seed = std::getenv("EMU_SEED");
    p->rng.seed(seed != nullptr ? static_cast<unsigned>(std::atoi(seed)) : 1u);
    const char* landing = std::getenv("EMU_CP_ASYNC");
    if (landing != nullptr && std::string(landing) == "late") p->landing = cp_async_landing::late;
    if (landing != nullptr && std::string(landing) == "early") p->landing = cp_async_landing::early;
    p->exact_expf = std::getenv("EMU_EXACT_EXPF") != nullptr;
    return p;
  }();
  return *s;
}

cuda_thread& self() {
  cuda_thread* t = sched().current;
  if (t == nullptr) fail("a device function was called outside a kernel");
  return *t;
}

namespace {

// -- fibers --

void enter_fiber(cuda_thread& t) {
  scheduler& s = sched();
  s.current = &t;
  threadIdx = t.idx;
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(&s.fake_stack, t.stack, stack_bytes);
#endif
  emu_switch_context(&s.sp, t.sp);
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(s.fake_stack, nullptr, nullptr);
#endif
  s.current = nullptr;
}

// Called on a fiber: back to the scheduler until it resumes this thread.
void leave_fiber(cuda_thread& t) {
  scheduler& s = sched();
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_start_switch_fiber(&t.fake_stack, s.stack_bottom, s.stack_size);
#endif
  emu_switch_context(&t.sp, s.sp);
#if defined(__SANITIZE_ADDRESS__)
  __sanitizer_finish_switch_fiber(t.fake_stack, &s.stack_bottom, &s.stack_size);
#endif
}

void thread_exit(cuda_thread& t);

void fiber_main(cuda_thread* t) {
#if defined(__SANITIZE_ADDRESS__)
  scheduler& s = sched();
  __sanitizer_finish_switch_fiber(nullptr, &s.stack_bottom, &s.stack_size);
#endif
  for (;;) {
    sched().job(sched().job_context);
    thread_exit(*t);
  }
}

std::unique_ptr<cuda_thread> make_fiber() {
  auto t = std::make_unique<cuda_thread>();
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, stack_bytes + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) fail("cannot map a fiber stack");
  mprotect(mem, page, PROT_NONE);  // guard page: an overflow faults
  t->stack = static_cast<unsigned char*>(mem) + page;
  // emu_switch_context pops r15 r14 r13 r12 rbx rbp, then returns to emu_fiber_start, which
  // calls r13(r12) with the stack 16-byte aligned.
  auto* top = reinterpret_cast<uintptr_t*>(t->stack + stack_bytes);
  uintptr_t* sp = top;
  *--sp = reinterpret_cast<uintptr_t>(&emu_fiber_start);
  *--sp = 0;                                         // rbp
  *--sp = 0;                                         // rbx
  *--sp = reinterpret_cast<uintptr_t>(t.get());      // r12: argument
  *--sp = reinterpret_cast<uintptr_t>(&fiber_main);  // r13: function
  *--sp = 0;                                         // r14
  *--sp = 0;                                         // r15
  t->sp = sp;
  return t;
}

// -- blocks --

[[noreturn]] void describe_and_fail(const char* what) {
  scheduler& s = sched();
  std::string states;
  unsigned shown = 0;
  for (unsigned i = 0; i < s.num_threads && shown < 12; ++i) {
    const cuda_thread& t = *s.pool[i];
    const char* name = t.state == thread_state::at_barrier ? "__syncthreads"
                       : t.state == thread_state::at_warp  ? "warp collective"
                       : t.state == thread_state::done     ? "exited"
                                                           : "ready";
    if (i == 0 || t.state != s.pool[i - 1]->state) {
      states += " thread " + std::to_string(i) + ": " + name + ";";
      ++shown;
    }
  }
  fail("kernel %s, block (%u,%u,%u): %s (%u at __syncthreads, %u exited of %u;%s)", s.config->name,
       blockIdx.x, blockIdx.y, blockIdx.z, what, s.at_barrier, s.done, s.num_threads,
       states.c_str());
}

void thread_exit(cuda_thread& t) {
  scheduler& s = sched();
  warp_state& w = s.warps[t.warp];
  const unsigned bit = 1u << t.lane;
  w.exited |= bit;
  for (unsigned l = 0; l < 32; ++l) {
    if ((w.arrived >> l & 1u) != 0 && (s.pool[t.warp * 32 + l]->mask & bit) != 0)
      describe_and_fail("a lane exited while its warp waits for it in a collective");
  }
  if (s.at_barrier > 0) describe_and_fail("a thread exited while others wait at __syncthreads");
  t.state = thread_state::done;
  ++s.done;
  t.open.clear();
  t.groups.clear();
  leave_fiber(t);
}

// forward / reverse: warp by warp (ascending / descending), each warp's lanes (in the same
// order) resumed until none of them can go on: one warp runs ahead to its next __syncthreads
// while the others have not started, as a GPU may. random: any ready thread next.
bool run_pass_by_warps(unsigned num_threads, bool reverse) {
  scheduler& s = sched();
  bool ran = false;
  const unsigned num_warps = (num_threads + 31) / 32;
  for (unsigned k = 0; k < num_warps; ++k) {
    const unsigned w = reverse ? num_warps - 1 - k : k;
    const unsigned first = w * 32, count = std::min(32u, num_threads - first);
    for (bool progress = true; progress;) {
      progress = false;
      for (unsigned j = 0; j < count; ++j) {
        cuda_thread& t = *s.pool[first + (reverse ? count - 1 - j : j)];
        if (t.state != thread_state::ready) continue;
        enter_fiber(t);
        progress = ran = true;
      }
    }
  }
  return ran;
}

bool run_pass_random(unsigned num_threads) {
  scheduler& s = sched();
  std::vector<unsigned> ready;
  for (unsigned i = 0; i < num_threads; ++i)
    if (s.pool[i]->state == thread_state::ready) ready.push_back(i);
  if (ready.empty()) return false;
  enter_fiber(*s.pool[ready[s.rng() % ready.size()]]);
  return true;
}

void run_block(unsigned num_threads) {
  scheduler& s = sched();
  ++s.block_serial;
  if (s.dynamic_bytes > 0) std::memset(s.dynamic.data(), 0xff, s.dynamic_bytes);
  for (unsigned i = 0; i < num_threads; ++i) {
    cuda_thread& t = *s.pool[i];
    t.state = thread_state::ready;
    t.open.clear();
    t.groups.clear();
  }
  for (auto& w : s.warps) {
    w.exited = 0;
    w.arrived = 0;
  }
  s.at_barrier = 0;
  s.done = 0;
  while (s.done < num_threads) {
    const bool ran = s.order == order_kind::random
                         ? run_pass_random(num_threads)
                         : run_pass_by_warps(num_threads, s.order == order_kind::reverse);
    if (!ran)
      describe_and_fail("deadlock: no thread can go on (a barrier or collective not all reach)");
  }
}

// The launch checks of cudaLaunchKernel, as an error value.
cudaError_t check_config(const launch_config& c) {
  const dim3 g = c.grid, b = c.block;
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 2147483647u || g.y > 65535 || g.z > 65535)
    return cudaErrorInvalidConfiguration;
  if (b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 ||
      uint64_t{b.x} * b.y * b.z > 1024)
    return cudaErrorInvalidConfiguration;
  if (c.shared_bytes > shared_default_bytes) {
    if (c.key == nullptr)
      fail(
          "kernel %s: %zu bytes of dynamic shared memory, and the emulator cannot tell whether "
          "cudaFuncSetAttribute allowed it (a kernel template called without its arguments)",
          c.name, c.shared_bytes);
    if (c.shared_bytes > max_dynamic_shared(c.key)) return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

}  // namespace

// -- the device side's entry points --

void run_kernel(const launch_config& config, job_fn job, void* context) {
  check_stream(config.stream, config.name);
  if (const cudaError_t e = check_config(config); e != cudaSuccess) {
    std::fprintf(stderr,
                 "cuda_emu: launch of %s refused: %s (grid %u,%u,%u block %u,%u,%u, %zu "
                 "bytes of shared memory)\n",
                 config.name, cudaGetErrorName(e), config.grid.x, config.grid.y, config.grid.z,
                 config.block.x, config.block.y, config.block.z, config.shared_bytes);
    record(e);
    return;
  }
  scheduler& s = sched();
  std::lock_guard lock(s.mutex);
  if (s.current != nullptr) fail("kernel %s launched from device code", config.name);
  ++s.launch_serial;
  s.config = &config;
  s.job = job;
  s.job_context = context;
  s.static_bytes = 0;
  s.dynamic_bytes = config.shared_bytes;
  s.dynamic.assign(config.shared_bytes, 0xff);
  s.dynamic.shrink_to_fit();  // exactly the size, so AddressSanitizer sees an overrun
  const dim3 b = config.block;
  const unsigned n = b.x * b.y * b.z;
  s.num_threads = n;
  while (s.pool.size() < n)
    s.pool.push_back(make_fiber());
  s.warps.assign((n + 31) / 32, warp_state{});
  for (unsigned i = 0; i < n; ++i) {
    cuda_thread& t = *s.pool[i];
    t.idx = {i % b.x, (i / b.x) % b.y, i / (b.x * b.y)};
    t.warp = i / 32;
    t.lane = i % 32;
    s.warps[t.warp].exists |= 1u << t.lane;
  }
  gridDim = config.grid;
  blockDim = config.block;
  const dim3 g = config.grid;
  const uint64_t num_blocks = uint64_t{g.x} * g.y * g.z;
  for (uint64_t k = 0; k < num_blocks; ++k) {
    const uint64_t id = s.order == order_kind::reverse ? num_blocks - 1 - k : k;
    blockIdx = {static_cast<unsigned>(id % g.x), static_cast<unsigned>(id / g.x % g.y),
                static_cast<unsigned>(id / (uint64_t{g.x} * g.y))};
    run_block(n);
  }
  s.config = nullptr;
}

void sync_block() {
  scheduler& s = sched();
  cuda_thread& t = self();
  if (s.done > 0) describe_and_fail("__syncthreads after some threads of the block exited");
  t.state = thread_state::at_barrier;
  if (++s.at_barrier == s.num_threads) {
    for (unsigned i = 0; i < s.num_threads; ++i)
      s.pool[i]->state = thread_state::ready;
    s.at_barrier = 0;
  }
  leave_fiber(t);
}

unsigned lane_id() {
  return self().lane;
}

uint64_t warp_collective(warp_op op, unsigned mask, uint64_t value, int src_lane) {
  scheduler& s = sched();
  cuda_thread& t = self();
  warp_state& w = s.warps[t.warp];
  const unsigned bit = 1u << t.lane;
  if ((mask & bit) == 0) describe_and_fail("a warp collective whose mask leaves out its own lane");
  if ((mask & ~w.exists) != 0) describe_and_fail("a warp collective names lanes the block lacks");
  if ((mask & w.exited) != 0) describe_and_fail("a warp collective names lanes that exited");
  t.op = op;
  t.mask = mask;
  t.value = value;
  t.src_lane = src_lane;
  t.state = thread_state::at_warp;
  w.arrived |= bit;
  const std::unique_ptr<cuda_thread>* lanes = &s.pool[t.warp * 32];
  // Lanes waiting in other collectives: legal unless two lanes each wait for the other (as the
  // GPU's independent thread scheduling allows, a lane of a partitioned collective, say
  // __reduce_add_sync(__match_any_sync(...)), may go on to a full-warp one while the other
  // partitions still wait in theirs: its collective completes once they have come too).
  bool complete = true;
  for (unsigned l = 0; l < 32; ++l) {
    if ((mask >> l & 1u) == 0) continue;
    if ((w.arrived >> l & 1u) == 0) {
      complete = false;
      continue;
    }
    if (lanes[l]->mask == mask && lanes[l]->op == op) continue;
    if ((lanes[l]->mask & bit) != 0)
      describe_and_fail("lanes of one warp meet in collectives of different masks or kinds");
    complete = false;  // lane l is in another collective that does not need this lane
  }
  if (complete) {
    uint64_t ballot = 0;
    uint32_t sum = 0;  // redux.sync.add wraps
    for (unsigned l = 0; l < 32; ++l) {
      if ((mask >> l & 1u) == 0) continue;
      if (lanes[l]->value != 0) ballot |= uint64_t{1} << l;
      sum += static_cast<uint32_t>(lanes[l]->value);
    }
    for (unsigned l = 0; l < 32; ++l) {
      if ((mask >> l & 1u) == 0) continue;
      cuda_thread& lane = *lanes[l];
      switch (op) {
        case warp_op::shfl:
          if (lane.src_lane < 0 || lane.src_lane > 31 || (mask >> lane.src_lane & 1u) == 0)
            describe_and_fail("a shuffle reads a lane outside its mask");
          lane.result = lanes[lane.src_lane]->value;
          break;
        case warp_op::ballot:
          lane.result = ballot;
          break;
        case warp_op::any:
          lane.result = ballot != 0;
          break;
        case warp_op::all:
          lane.result = ballot == mask;
          break;
        case warp_op::sync:
          break;
        case warp_op::match_any:
          lane.result = 0;
          for (unsigned m = 0; m < 32; ++m)
            if ((mask >> m & 1u) != 0 && lanes[m]->value == lane.value)
              lane.result |= uint64_t{1} << m;
          break;
        case warp_op::reduce_add:
          lane.result = sum;
          break;
      }
      lane.state = thread_state::ready;
    }
    w.arrived &= ~mask;
  }
  leave_fiber(t);
  return t.result;
}

}  // namespace emu
