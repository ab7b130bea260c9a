#include "runtime/backend/shared_memory_communicator.hpp"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstring>
#include <vector>

namespace troupe::backend {

namespace {

using position = uint64_t;  // step << 32 | phase
constexpr uint32_t left_phase = UINT32_MAX;
constexpr auto spin_time = std::chrono::microseconds(1000);  // the header says why

position make_position(uint64_t step, uint32_t phase) {
  return step << 32 | phase;
}
uint64_t step_of(position p) {
  return p >> 32;
}
uint32_t phase_of(position p) {
  return static_cast<uint32_t>(p);
}

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// What one rank shares: its position and what it published for the current collective. On its
// own cache line, so that ranks polling positions do not contend with each other's writes.
struct alignas(64) rank_slot {
  std::atomic<position> pos{0};
  // left[s % 2] = (s, p): the rank left step s early; its part in barriers of phase < p is valid,
  // from p on missing. Two slots: ranks are at most a step apart.
  std::atomic<position> left[2] = {0, 0};
  const float* data = nullptr;  // written by its rank before it posts the entry barrier
  int64_t n = 0;
  std::vector<float> scratch;  // its slice of the current all_reduce_sum
};

}  // namespace

class shared_memory_communicator;

struct shared_memory_group::state {
  explicit state(int32_t world_size) : slots(static_cast<size_t>(world_size)) {}

  std::vector<rank_slot> slots;
  std::vector<std::unique_ptr<shared_memory_communicator>> ranks;
  // Bumped (and waiters woken) by every post and abort: what a blocked rank waits on.
  alignas(64) std::atomic<uint32_t> epoch{0};
  // aborted[s % 2] == s: step s is aborted. Ranks are at most one step apart, so two slots hold
  // every step a rank can still be in; each only grows.
  std::atomic<uint64_t> aborted[2] = {0, 0};
  std::atomic<bool> closed{false};

  void wake() {
    epoch.fetch_add(1, std::memory_order_release);
    epoch.notify_all();
  }
  void post(int32_t rank, position p) {
    slots[rank].pos.store(p, std::memory_order_release);
    wake();
  }
  bool is_aborted(uint64_t step) const {
    return closed.load(std::memory_order_acquire) ||
           aborted[step % 2].load(std::memory_order_acquire) == step;
  }
  void abort_step(uint64_t step) {
    auto& slot = aborted[step % 2];
    uint64_t cur = slot.load(std::memory_order_relaxed);
    while (cur < step && !slot.compare_exchange_weak(cur, step, std::memory_order_release)) {
    }
    wake();
  }
  bool all_reached(position target) const {
    return std::all_of(slots.begin(), slots.end(), [&](const rank_slot& s) {
      return s.pos.load(std::memory_order_acquire) >= target;
    });
  }
  // Whether a rank counted as arrived at `target` left its step before that barrier.
  bool peer_gone(position target) const {
    for (const auto& s : slots) {
      const position p = s.pos.load(std::memory_order_acquire);
      if (step_of(p) == step_of(target) && phase_of(p) != left_phase) continue;
      const position left = s.left[step_of(target) % 2].load(std::memory_order_acquire);
      if (step_of(left) == step_of(target) && target >= left) return true;
    }
    return false;
  }
  // Spins briefly, then blocks, until `done()`; `give_up()` is checked while waiting.
  template <class Done, class GiveUp>
  bool wait(Done done, GiveUp give_up) {
    const auto spin_until = std::chrono::steady_clock::now() + spin_time;
    bool spinning = true;
    for (uint32_t i = 1;; ++i) {
      const uint32_t e = epoch.load(std::memory_order_acquire);
      if (done()) return true;
      if (give_up()) return false;
      if (!spinning) {
        epoch.wait(e, std::memory_order_acquire);
      } else {
        cpu_relax();
        if (i % 64 == 0) spinning = std::chrono::steady_clock::now() < spin_until;
      }
    }
  }
};

class shared_memory_communicator final : public communicator {
 public:
  shared_memory_communicator(shared_memory_group::state& group, int32_t rank)
      : g_(group), rank_(rank) {}

  int32_t rank() const override { return rank_; }
  int32_t world_size() const override { return static_cast<int32_t>(g_.slots.size()); }

  void begin_step() override {
    ++step_;
    phase_ = 0;
    entry_barrier(make_position(step_, 0));
  }

  void all_reduce_sum(float* data, int64_t n) override {
    publish(data, n);
    entry_barrier(next_position());
    const int32_t N = world_size();
    auto& mine = g_.slots[rank_].scratch;
    const int64_t begin = slice_begin(rank_, n), end = slice_begin(rank_ + 1, n);
    mine.resize(static_cast<size_t>(std::max<int64_t>(end - begin, 0)));
    std::copy(g_.slots[0].data + begin, g_.slots[0].data + end, mine.data());
    for (int32_t r = 1; r < N; ++r) {
      const float* src = g_.slots[r].data + begin;
      for (int64_t i = 0; i < end - begin; ++i)
        mine[i] += src[i];
    }
    exit_barrier(next_position());
    for (int32_t r = 0; r < N; ++r) {
      const auto& slice = g_.slots[r].scratch;
      std::copy(slice.begin(), slice.end(), data + slice_begin(r, n));
    }
  }

  void all_gather(const float* in, int64_t n, float* out) override {
    publish(in, n);
    entry_barrier(next_position());
    for (int32_t r = 0; r < world_size(); ++r)
      std::memcpy(out + r * n, g_.slots[r].data, static_cast<size_t>(n) * sizeof(float));
    exit_barrier(next_position());
  }

  void broadcast(float* data, int64_t n, int32_t root) override {
    assert(root >= 0 && root < world_size());
    publish(data, n);
    entry_barrier(next_position());
    if (rank_ != root)
      std::memcpy(data, g_.slots[root].data, static_cast<size_t>(n) * sizeof(float));
    exit_barrier(next_position());
  }

  void abort() override {
    g_.abort_step(step_);
    mark_left(phase_ + 1);  // it passed every barrier it posted (a collective would have marked)
  }

 private:
  int64_t slice_begin(int32_t r, int64_t n) const { return r * n / world_size(); }
  position next_position() { return make_position(step_, ++phase_); }

  void publish(const float* data, int64_t n) {
    assert(step_ > 0 && "begin_step() first");
    g_.slots[rank_].data = data;
    g_.slots[rank_].n = n;
  }

  // Every rank has published: from here until the exit barrier, peers may read this rank's data.
  void entry_barrier(position target) {
    g_.post(rank_, target);
    const bool arrived =
        g_.wait([&] { return g_.all_reached(target); }, [&] { return g_.is_aborted(step_); });
    if (!arrived || g_.peer_gone(target)) leave(target);
    // Every rank is inside this collective: they run the same ones in the same order.
    assert(phase_ == 0 || std::all_of(g_.slots.begin(), g_.slots.end(), [&](const rank_slot& s) {
             return s.n == g_.slots[rank_].n;
           }));
  }

  // Every rank has read what it needs of the others' data. Never gives up: every rank that
  // passed the entry barrier gets here without waiting on anyone, and one that left counts as
  // arrived.
  void exit_barrier(position target) {
    g_.post(rank_, target);
    g_.wait([&] { return g_.all_reached(target); }, [] { return false; });
    if (g_.peer_gone(target)) {
      mark_left(phase_ + 1);
      throw_aborted();
    }
  }

  // Leaves the step from the entry barrier at `target`, once no peer that passed it may still be
  // reading this rank's data (a peer at exactly `target` is waiting there or reading; one that
  // arrives later finds this rank gone and does not read).
  void leave(position target) {
    g_.abort_step(step_);
    mark_left(phase_of(target));
    g_.wait(
        [&] {
          for (int32_t r = 0; r < world_size(); ++r)
            if (r != rank_ && g_.slots[r].pos.load(std::memory_order_acquire) == target)
              return false;
          return true;
        },
        [] { return false; });
    throw_aborted();
  }

  // Leaves the current step: peers stop waiting for this rank in it, and learn that its part in
  // barriers from `first_missing` on is missing. Only the first call of a step counts.
  void mark_left(uint32_t first_missing) {
    auto& left = g_.slots[rank_].left[step_ % 2];
    if (step_of(left.load(std::memory_order_relaxed)) != step_)
      left.store(make_position(step_, first_missing), std::memory_order_relaxed);
    g_.post(rank_, make_position(step_, left_phase));
  }

  [[noreturn]] void throw_aborted() const {
    throw collective_aborted(g_.closed.load() ? "tensor-parallel group closed"
                                              : "tensor-parallel step aborted by another rank");
  }

  shared_memory_group::state& g_;
  int32_t rank_;
  uint64_t step_ = 0;
  uint32_t phase_ = 0;
};

shared_memory_group::shared_memory_group(int32_t world_size)
    : state_(std::make_unique<state>(world_size)) {
  assert(world_size >= 1);
  for (int32_t r = 0; r < world_size; ++r)
    state_->ranks.push_back(std::make_unique<shared_memory_communicator>(*state_, r));
}

shared_memory_group::~shared_memory_group() = default;

int32_t shared_memory_group::world_size() const {
  return static_cast<int32_t>(state_->slots.size());
}

communicator& shared_memory_group::rank(int32_t r) {
  assert(r >= 0 && r < world_size());
  return *state_->ranks[r];
}

void shared_memory_group::abort() {
  uint64_t newest = 0;
  for (const auto& s : state_->slots)
    newest = std::max(newest, step_of(s.pos.load(std::memory_order_acquire)));
  if (newest > 0) state_->abort_step(newest);
}

void shared_memory_group::close() {
  state_->closed.store(true, std::memory_order_release);
  state_->wake();
}

}  // namespace troupe::backend
