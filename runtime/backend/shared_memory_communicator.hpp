#pragma once
// Collectives between the ranks of a tensor-parallel group that run on threads of one process,
// through shared memory: the CPU communicator (communicator.hpp states the contract).
//
// Each rank posts its progress as a position (step, phase): begin_step() posts phase 0 of its next
// step and every barrier the next phase. A barrier waits until every rank has posted its phase,
// spinning for up to a millisecond, then blocking (a futex, std::atomic::wait), so a rank waiting
// for a slow one gives its core away. The spin is that long because the ranks' halves of a layer
// differ by tens to hundreds of microseconds from run to run, and a futex wake-up costs about as
// much again (at full load on 2 cores: x0.93 of TP=1's throughput spinning 2 ms, x0.915 spinning
// 50 us; docs/performance.md).
//
//   begin_step:      post (s, 0) ─ wait for every rank to leave step s - 1
//   all_reduce_sum:  publish data ─ entry barrier ─ rank r sums slice r of every rank's data,
//                    rank 0 first, into its scratch ─ exit barrier ─ copy every slice to data
//                                 slice r = [r * n / N, (r + 1) * n / N)
//   all_gather, broadcast:  publish ─ entry barrier ─ copy from the peers ─ exit barrier
//
// Failure: a rank that leaves a step early (abort(), or a collective that throws) posts
// (s, left), which every barrier of step s counts as arrived; the ranks that find a peer gone
// from an aborted step throw collective_aborted. Peers read a rank's data only between the entry
// and exit barriers of one collective, and a rank leaves from an entry barrier only once no peer
// is in there reading, so a rank's buffers are never read after it has left. A rank waits at
// begin_step until the others have left the previous step, so ranks are never more than one step
// apart.
#include <cstdint>
#include <memory>

#include "runtime/backend/communicator.hpp"

namespace troupe::backend {

class shared_memory_group final : public communicator_group {
 public:
  // requires: world_size >= 1.
  explicit shared_memory_group(int32_t world_size);
  ~shared_memory_group() override;
  shared_memory_group(const shared_memory_group&) = delete;
  shared_memory_group& operator=(const shared_memory_group&) = delete;

  int32_t world_size() const override;

  // Rank r's communicator, owned by the group. Thread: used only by rank r's thread.
  // requires: 0 <= r < world_size().
  communicator& rank(int32_t r) override;

  // Any thread: abandons the newest step any rank has begun, as if a rank had failed in it.
  void abort();
  // Any thread: abandons every step from now on (shutdown): no rank waits for a missing peer
  // again. Steps every rank still takes part in complete.
  void close() override;

  struct state;  // shared by the ranks' communicators (shared_memory_communicator.cpp)

 private:
  std::unique_ptr<state> state_;
};

}  // namespace troupe::backend
