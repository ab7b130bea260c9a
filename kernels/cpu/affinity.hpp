#pragma once
// Pinning compute threads to CPUs, for tensor-parallel ranks that share one machine: rank r's
// threads run on their own cores, so two ranks never take turns on one core while the other
// waits for them in a collective.
//
// Linux (sched_getaffinity / pthread_setaffinity_np); elsewhere nothing is pinned and every call
// reports so. A container's or taskset's CPU mask is respected: only allowed CPUs are handed out.
#include <vector>

namespace troupe::kernels::cpu {

// The CPUs this process may run on (its affinity mask), in increasing order; empty when unknown.
std::vector<int> allowed_cpus();

// Pins the calling thread to `cpu`. False when the OS refuses (or cannot pin); the thread then
// keeps running wherever the scheduler puts it.
bool pin_current_thread(int cpu);

// The calling thread's CPU affinity, in increasing order; empty when unknown.
std::vector<int> current_thread_cpus();

}  // namespace troupe::kernels::cpu
