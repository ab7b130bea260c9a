// sample_rows, exp_values (contract: sampling.hpp; the reference: kernels/cpu/sampling.cpp;
// apply_logit_edits, which makes the edited rows read here, is logit_edits.cu).
//
// sample_rows: one block of 1024 threads per row. Nothing is kept per id: each step is one more
// pass over the row (strided and coalesced; after the first pass mostly from L2), recomputing
// every id's key and weight, as a 128k row's weights would not fit in shared memory. x is the row
// the token comes from: processed[r] for an edited row, else logits[r].
//
//   pass                 finds                                           runs when
//   scan of x            m, whether x holds a NaN, x's argmax            not (unedited, greedy,
//                                                                        no logprob, no tops)
//   top-k select         the top_k-th largest key (radix, <= 8 passes)   a draw, 0 < top_k < cols
//   top-p select         Q, then the nucleus' last key (radix, <= 8)     a draw, top_p < 1
//   segments + walk      the token                                       a draw
//   scan of logits[r]    the raw row's max and NaN                       edited, logprob or tops,
//                                                                        or a scored row
//   rank                 how many entries' logprobs reach the token's    a scored row
//   log-sum-exp          lse of the raw row (NaN skipped)                tops, or a logprob of a
//                                                                        row without NaN
//   tops select          the n-th best key of the raw row                tops (n > 0)
//                        (radix, <= 8 passes)
//   tops collect         the <= n keys from it on, ranked in shared      tops (n > 0)
//
// The token where nothing is drawn (greedy, no finite logit, nothing kept) is x's argmax: greedy[r]
// for an unedited row (argmax_rows ran on logits), the scan's for an edited one (an edit may move
// it). A greedy unedited row without logprob or tops only copies greedy[r] (and pads its top
// slots).
//
// Top logprobs (n = num_top_logprobs <= 64): top-k's radix select over the raw row's keys finds the
// n-th best; NaN keys rank last and are never listed, so where fewer than n entries are numbers the
// threshold is raised to admit exactly them. The keys from the threshold on (min(n, the numbers) of
// them, keys being distinct) land in shared memory by an atomic counter, in any order; each then
// finds its rank by counting the larger ones (n <= 64: no sort needed). Their log-softmax uses the
// raw row's log_sum_exp, which skips NaN (cpu::top_logprobs), unlike the token's logprob (NaN with
// a NaN).
//
// Radix select: the largest key t whose "weight of the admitted keys >= t" reaches `need`. For
// top-k every key weighs 1 and need = top_k: t is the top_k-th largest key. For top-p the members
// weigh q and need = top_p * Q: t is the last key of the smallest best-ranked prefix reaching it
// (keep_nucleus's threshold). 8-bit digits from the top: a histogram of the admitted keys under
// the prefix decided so far; scanning its bins from the highest digit, the first non-empty bin
// whose cumulative weight reaches need holds t, and its digit extends the prefix. It stops once
// that bin needs no more splitting (it holds one key, or top-k needs all of it), the threshold
// then being the prefix with zeros below. Counts and weights are integers, so the histogram is the
// same whatever order the atomic adds land in.
//
// Segments and walk (the draw: the first kept id, in id order, whose running sum of q exceeds r):
//
//   ids  [0, L) [L, 2L) ... [31L, cols)    L = 32 * ceil(cols / 1024); warp w sums the kept q of
//                                          [wL, (w+1)L), its lanes reading consecutive ids
//   the segment sums' prefix names the segment holding r; its ids are split the same way again
//   (32 segments of 32 * ceil(L / 1024)), and warp 0 walks the one holding r, 32 ids at a time
//   (an inclusive warp scan), to the first id whose running sum exceeds r.
//
//   logits, processed [rows][cols], params [rows], edits [num_edits], greedy [rows],
//   out [2 * rows * (1 + max_top)]
#include <algorithm>
#include <cstdint>

#include "kernels/cuda/argmax.cuh"
#include "kernels/cuda/device.hpp"
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/sampling.hpp"
#include "kernels/cuda/sampling_numerics.cuh"

namespace troupe::kernels::cuda {

namespace {

using candidate = detail::argmax_candidate;
using detail::better;
using detail::flat_blocks;
using detail::row_blocks;

constexpr int threads = 1024;
constexpr int num_warps = threads / 32;
constexpr int num_bins = 256;  // radix digits of 8 bits
constexpr unsigned full_mask = 0xffffffffu;
constexpr int max_top_logprobs = 64;  // sample_rows' bound on max_top: the collected keys' slots

using namespace sampling_detail;

// -- block-wide state and reductions --

enum class select_state : int { searching, found, not_reached };

struct shared_state {
  unsigned count[num_bins];
  unsigned long long mass[num_bins];
  float red_f32[num_warps];
  int red_int[num_warps];
  int red_flag[num_warps];
  uint64_t red_u64[num_warps];
  double red_f64[num_warps];
  double need;  // top-p's, from the first histogram
  // the radix select's decision, written by warp 0
  unsigned long long prefix, above;
  select_state state;
  int token;  // the walk's result
  // top logprobs: the keys from the select's threshold on, in the order they were found
  unsigned long long top_keys[max_top_logprobs];
  unsigned top_count;
};

__device__ __forceinline__ int lane_index() {
  return static_cast<int>(threadIdx.x % 32);
}
__device__ __forceinline__ int warp_index() {
  return static_cast<int>(threadIdx.x / 32);
}

template <class T, class Op>
__device__ __forceinline__ T warp_reduce(T v, Op op) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = op(v, __shfl_xor_sync(full_mask, v, offset));
  return v;
}

// Every thread gets op over the block's values (each adds the warps' results in the same order,
// so all agree). scratch: num_warps values in shared memory.
template <class T, class Op>
__device__ __forceinline__ T block_reduce(T v, T* scratch, Op op) {
  v = warp_reduce(v, op);
  if (lane_index() == 0) scratch[warp_index()] = v;
  __syncthreads();
  T all = scratch[0];
  for (int w = 1; w < num_warps; ++w)
    all = op(all, scratch[w]);
  __syncthreads();  // scratch is rewritten by the next reduction
  return all;
}

// Inclusive scan over the warp's lanes.
__device__ __forceinline__ uint64_t warp_inclusive_sum(uint64_t v) {
  const int lane = lane_index();
  for (int offset = 1; offset < 32; offset *= 2) {
    const uint64_t other = __shfl_up_sync(full_mask, v, offset);
    if (lane >= offset) v += other;
  }
  return v;
}

struct row_stats {
  float max;  // the largest non-NaN value (-inf when none)
  bool has_nan;
  int32_t argmax;  // cpu::argmax of the row
};

// One pass over x [cols]; every thread gets the result.
__device__ __forceinline__ row_stats scan_row(shared_state& s, const float* x, int32_t cols) {
  candidate best{NAN, -1};  // loses to every id
  int nan = 0;
  for (int32_t i = threadIdx.x; i < cols; i += threads) {
    const float v = x[i];
    nan |= isnan(v) ? 1 : 0;
    best = better(best, {v, i});
  }
  for (int offset = 16; offset > 0; offset /= 2) {
    const candidate other{__shfl_xor_sync(full_mask, best.value, offset),
                          __shfl_xor_sync(full_mask, best.index, offset)};
    best = better(best, other);
  }
  nan = __any_sync(full_mask, nan);
  if (lane_index() == 0) {
    s.red_f32[warp_index()] = best.value;
    s.red_int[warp_index()] = best.index;
    s.red_flag[warp_index()] = nan;
  }
  __syncthreads();
  best = {s.red_f32[0], s.red_int[0]};
  nan = s.red_flag[0];
  for (int w = 1; w < num_warps; ++w) {
    best = better(best, {s.red_f32[w], s.red_int[w]});
    nan |= s.red_flag[w];
  }
  __syncthreads();  // the scratch is rewritten by the next reduction
  // The best candidate is NaN only when every value is: then no finite m, as the CPU's -inf.
  return {isnan(best.value) ? -INFINITY : best.value, nan != 0, best.index};
}

// -- radix select --

// Adds one to count[digit] (and q to mass[digit] when by_mass) for each lane whose digit is a
// bin; a lane with nothing to add passes num_bins. Called by all 32 lanes. One atomic per distinct
// digit of the warp: the lanes of one digit would otherwise queue on its bin, and the first
// digits (the logits' sign and exponent) are shared by nearly every id.
template <bool by_mass>
__device__ __forceinline__ void histogram_add(shared_state& s, unsigned digit, uint64_t q) {
  if (!__any_sync(full_mask, digit < num_bins)) return;
  const unsigned peers = __match_any_sync(full_mask, digit);
  const bool leader = lane_index() == __ffs(static_cast<int>(peers)) - 1;
  if (by_mass) {
    // q <= 2^40: 32 low 24-bit parts and 32 high parts (<= 2^16) each sum within 32 bits.
    const unsigned lo = __reduce_add_sync(peers, static_cast<unsigned>(q & 0xffffffu));
    const unsigned hi = __reduce_add_sync(peers, static_cast<unsigned>(q >> 24));
    if (leader && digit < num_bins)
      atomicAdd(&s.mass[digit], (static_cast<unsigned long long>(hi) << 24) + lo);
  }
  if (leader && digit < num_bins) atomicAdd(&s.count[digit], static_cast<unsigned>(__popc(peers)));
}

// Warp 0, after a histogram: the bin holding the selected key (top of file), as s.prefix (the
// prefix extended by its digit), s.above (the weight of the admitted keys above that bin) and
// s.state (found: the threshold is s.prefix; not_reached: even all of it stays below need).
// The first histogram of members holds them all: there need = top_p * Q, Q its total, into s.need.
template <bool by_mass>
__device__ __forceinline__ void pick_bin(shared_state& s, uint64_t prefix, uint64_t above,
                                         int shift, double need, float top_p) {
  const int lane = lane_index();
  // Lane l holds bins 255 - 8l down to 248 - 8l: lanes in digit order, the highest first.
  unsigned count = 0;
  uint64_t weight = 0;
  for (int j = 0; j < 8; ++j) {
    const int d = num_bins - 1 - 8 * lane - j;
    count += s.count[d];
    weight += by_mass ? s.mass[d] : s.count[d];
  }
  const uint64_t inclusive = warp_inclusive_sum(weight);
  if (by_mass && shift == 56) {
    const uint64_t total = __shfl_sync(full_mask, inclusive, 31);
    need = __dmul_rn(static_cast<double>(top_p), __ull2double_rn(total));
    if (lane == 0) s.need = need;
  }
  // The cumulative weight only grows as the digit falls, and a lane's empty bins add nothing: the
  // first lane whose total reaches need (having an admitted key) holds the bin.
  const unsigned reached =
      __ballot_sync(full_mask, count > 0 && __ull2double_rn(above + inclusive) >= need);
  if (reached == 0) {
    if (lane == 0) s.state = select_state::not_reached;
    return;
  }
  if (lane != __ffs(static_cast<int>(reached)) - 1) return;
  uint64_t cum = above + inclusive - weight;
  for (int j = 0; j < 8; ++j) {
    const int d = num_bins - 1 - 8 * lane - j;
    const unsigned c = s.count[d];
    if (c == 0) continue;
    const uint64_t w = by_mass ? s.mass[d] : c;
    if (__ull2double_rn(cum + w) >= need) {
      s.prefix = prefix | (uint64_t{static_cast<unsigned>(d)} << shift);
      s.above = cum;
      const bool whole = !by_mass && cum + w == static_cast<uint64_t>(need);  // top-k needs all
      s.state = (c == 1 || whole) ? select_state::found : select_state::searching;
      return;
    }
    cum += w;
  }
}

// The radix select (top of file) over all ids (top-k: weight 1, need = top_k; top_p unused) or
// over the members (by_mass: weight q, need = top_p * Q, Q from the first histogram; the need
// passed is unused). 0 when need is never reached (everything stays).
template <bool by_mass>
__device__ __forceinline__ uint64_t radix_select(shared_state& s, const row_ctx& row, double need,
                                                 float top_p) {
  const int lane = lane_index();
  uint64_t prefix = 0, above = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < num_bins; b += threads) {
      s.count[b] = 0;
      if (by_mass) s.mass[b] = 0;
    }
    __syncthreads();
    const uint64_t high = shift == 56 ? 0 : ~uint64_t{0} << (shift + 8);
    // A warp-uniform loop: histogram_add is a warp collective.
    for (int32_t base = warp_index() * 32; base < row.cols; base += threads) {
      const int32_t i = base + lane;
      unsigned digit = num_bins;
      uint64_t q = 0;
      if (i < row.cols) {
        const float logit = row.logits[i];
        const uint64_t key = device_key(logit, static_cast<uint32_t>(i));
        if ((key & high) == prefix && (!by_mass || row.member(logit, key, q)))
          digit = static_cast<unsigned>(key >> shift) & 0xffu;
      }
      histogram_add<by_mass>(s, digit, q);
    }
    __syncthreads();
    if (warp_index() == 0) pick_bin<by_mass>(s, prefix, above, shift, need, top_p);
    __syncthreads();
    if (by_mass) need = s.need;
    const select_state state = s.state;
    prefix = s.prefix;
    above = s.above;
    if (state == select_state::not_reached) return 0;
    if (state == select_state::found) return prefix;
  }
  return prefix;  // unreachable: a bin of the last digit holds one key
}

// -- the draw --

// The ids [begin, end) as 32 segments, one a warp, of 32 * ceil((end - begin) / 1024) ids.
__device__ __forceinline__ int32_t segment_length(int32_t begin, int32_t end) {
  return 32 * ((end - begin + threads - 1) / threads);
}

// s.red_u64[w] = the kept mass of segment w of [begin, end) (its lanes read consecutive ids).
__device__ __forceinline__ void sum_segments(shared_state& s, const row_ctx& row, int32_t begin,
                                             int32_t end) {
  const int lane = lane_index(), warp = warp_index();
  const int32_t length = segment_length(begin, end);
  const int32_t first = min(end, begin + warp * length), last = min(end, first + length);
  uint64_t sum = 0;
  for (int32_t i = first + lane; i < last; i += 32)
    sum += row.kept_q(i);
  sum = warp_reduce(sum, [](uint64_t a, uint64_t b) { return a + b; });
  if (lane == 0) s.red_u64[warp] = sum;
  __syncthreads();
}

// After sum_segments: narrows [begin, end) to the segment holding r, and adds the mass of the
// segments before it to `before` (the kept mass of the ids before begin). Every thread alike.
__device__ __forceinline__ void narrow(const shared_state& s, uint64_t r, int32_t& begin,
                                       int32_t& end, uint64_t& before) {
  const int32_t length = segment_length(begin, end);
  for (int w = 0; w < num_warps; ++w) {
    const uint64_t mass = s.red_u64[w];
    if (r < before + mass) {
      begin = min(end, begin + w * length);
      end = min(end, begin + length);
      return;
    }
    before += mass;
  }
}

// The token drawn among the kept ids (top of file), or -1 when they weigh nothing. Two rounds of
// segments narrow the row to 32 * ceil(cols / 2^20) ids (32 for a 128k row), which one warp
// walks.
__device__ __forceinline__ int32_t draw(shared_state& s, const row_ctx& row, uint64_t random) {
  const int lane = lane_index();
  if (threadIdx.x == 0) s.token = -1;
  sum_segments(s, row, 0, row.cols);
  uint64_t total = 0;
  for (int w = 0; w < num_warps; ++w)
    total += s.red_u64[w];
  if (total == 0) return -1;
  const uint64_t r = __umul64hi(random & ~uint64_t{0x7ff}, total);
  int32_t begin = 0, end = row.cols;
  uint64_t before = 0;  // the kept mass of the ids before begin
  narrow(s, r, begin, end, before);
  __syncthreads();  // s.red_u64 is rewritten
  sum_segments(s, row, begin, end);
  narrow(s, r, begin, end, before);
  if (warp_index() == 0) {
    for (int32_t base = begin; base < end; base += 32) {
      const int32_t i = base + lane;
      const uint64_t inclusive = warp_inclusive_sum(i < end ? row.kept_q(i) : 0);
      const unsigned hit = __ballot_sync(full_mask, before + inclusive > r);
      if (hit != 0) {
        if (lane == 0) s.token = base + __ffs(static_cast<int>(hit)) - 1;
        break;
      }
      before += __shfl_sync(full_mask, inclusive, 31);
    }
  }
  __syncthreads();
  const int32_t token = s.token;
  __syncthreads();  // s.red_u64 and s.token are rewritten by the next row
  return token;
}

// cpu::sample_row's token for a row whose m is finite, or -1.
__device__ __forceinline__ int32_t sample(shared_state& s, row_ctx row,
                                          const cpu::sampling_row& p) {
  if (p.top_k > 0 && p.top_k < row.cols)
    row.k_threshold = radix_select<false>(s, row, static_cast<double>(p.top_k), 1.0f);
  if (p.top_p < 1.0f) row.p_threshold = radix_select<true>(s, row, 0.0, p.top_p);
  const uint64_t random = (uint64_t{p.random_hi} << 32) | p.random_lo;
  return draw(s, row, random);
}

// cpu::log_sum_exp of logits [cols], whose largest non-NaN value is `max`: the exp_value terms of
// the non-NaN entries summed in double (in another order: within about 1e-7), or the max itself
// when it is not finite. Every thread gets it.
__device__ __forceinline__ double log_sum_exp(shared_state& s, const float* logits, int32_t cols,
                                              float max) {
  if (!isfinite(max)) return max;
  double sum = 0.0;
  for (int32_t i = threadIdx.x; i < cols; i += threads) {
    const float v = logits[i];
    // A NaN must add nothing: device_exp would take it as 88 (the CPU's term is exp(-inf) = 0).
    if (!isnan(v)) sum += device_exp(__fsub_rn(v, max));
  }
  sum = block_reduce(sum, s.red_f64, [](double a, double b) { return a + b; });
  return static_cast<double>(max) + log(sum);
}

// cpu::logprob_rank of `token` in the raw row (no NaN in it): how many entries' log-softmax,
// rounded to f32 as the CPU rounds it, is at least the token's. Integer counts: any order. Every
// thread gets it.
__device__ __forceinline__ int32_t logprob_rank(shared_state& s, const float* logits, int32_t cols,
                                                int32_t token, double lse) {
  const auto logprob = static_cast<float>(static_cast<double>(logits[token]) - lse);
  int count = 0;
  for (int32_t i = threadIdx.x; i < cols; i += threads)
    count += static_cast<float>(static_cast<double>(logits[i]) - lse) >= logprob ? 1 : 0;
  return block_reduce(count, s.red_int, [](int a, int b) { return a + b; });
}

// The top logprobs of the raw row (top of file): writes ids[j] (as floats) and logprobs[j] for
// j < the returned count = min(n, the non-NaN entries); lse = its log_sum_exp. requires:
// 0 < n <= max_top_logprobs.
__device__ __forceinline__ int32_t top_logprobs(shared_state& s, const float* logits, int32_t cols,
                                                int32_t n, double lse, float* ids,
                                                float* logprobs) {
  if (threadIdx.x == 0) s.top_count = 0;  // ordered before the adds by the select's barriers
  const row_ctx row{logits, cols, 0.0f, 1.0f, 0.0f, 0, 0};
  // NaN keys (order 0) lie below 2^32, every number's at or above it, and rank last: the n-th
  // best key is a number's unless fewer than n are numbers (a NaN's key, or 0 when n > cols);
  // raised to 2^32 the threshold then admits exactly the numbers.
  const uint64_t selected = radix_select<false>(s, row, static_cast<double>(n), 1.0f);
  const uint64_t threshold = selected > (uint64_t{1} << 32) ? selected : uint64_t{1} << 32;
  for (int32_t i = threadIdx.x; i < cols; i += threads) {
    const uint64_t key = device_key(logits[i], static_cast<uint32_t>(i));
    if (key >= threshold) {
      const unsigned slot = atomicAdd(&s.top_count, 1u);
      if (slot < max_top_logprobs) s.top_keys[slot] = key;  // always: at most n keys pass
    }
  }
  __syncthreads();
  const auto count = static_cast<int32_t>(min(s.top_count, static_cast<unsigned>(n)));
  if (static_cast<int32_t>(threadIdx.x) < count) {
    // Keys are distinct: a key's rank is the number of larger ones.
    const uint64_t key = s.top_keys[threadIdx.x];
    int32_t rank = 0;
    for (int32_t j = 0; j < count; ++j)
      rank += s.top_keys[j] > key ? 1 : 0;
    const auto id = static_cast<int32_t>(0xffffffffu - static_cast<uint32_t>(key));
    ids[rank] = static_cast<float>(id);
    logprobs[rank] = static_cast<float>(static_cast<double>(logits[id]) - lse);
  }
  __syncthreads();  // s.top_keys and s.top_count are rewritten by the next row
  return count;
}

// Row r's top ids in out [2 * rows * (1 + max_top)]; its logprobs follow rows * max_top later.
__device__ __forceinline__ float* top_slots(float* out, int64_t rows, int64_t r, int32_t max_top) {
  return out + 2 * rows + r * max_top;
}

// Pads row r's top slots from `count` on (-1, 0), one thread a slot.
__device__ __forceinline__ void pad_tops(float* out, int64_t rows, int64_t r, int32_t max_top,
                                         int32_t count) {
  const auto j = static_cast<int32_t>(threadIdx.x);
  if (j >= count && j < max_top) {
    float* ids = top_slots(out, rows, r, max_top);
    ids[j] = -1.0f;
    ids[rows * max_top + j] = 0.0f;
  }
}

// A scored row (a prompt logprob; sampling_row::score_token): nothing drawn; out[r] = the token's
// rank, out[rows + r] its logprob (both of the raw row: NaN and rank 0 with a NaN in it), then
// the row's tops.
__device__ __forceinline__ void score_row(shared_state& s, const float* raw, int32_t cols,
                                          int32_t token, int32_t num_tops, float* out, int64_t rows,
                                          int64_t r, int32_t max_top) {
  const row_stats stats = scan_row(s, raw, cols);
  const double lse = log_sum_exp(s, raw, cols, stats.max);
  const bool valid = !stats.has_nan && token < cols;
  const int32_t rank = valid ? logprob_rank(s, raw, cols, token, lse) : 0;
  int32_t count = 0;
  if (num_tops > 0) {
    float* ids = top_slots(out, rows, r, max_top);
    count = top_logprobs(s, raw, cols, num_tops, lse, ids, ids + rows * max_top);
  }
  if (threadIdx.x == 0) {
    out[r] = static_cast<float>(rank);
    out[rows + r] = rank > 0 ? static_cast<float>(static_cast<double>(raw[token]) - lse) : NAN;
  }
  pad_tops(out, rows, r, max_top, count);
}

__global__ void __launch_bounds__(threads, 1)
    sample_rows_kernel(const float* logits, const float* processed, int64_t rows, int32_t cols,
                       const cpu::sampling_row* rows_params, int32_t max_top, const float* greedy,
                       float* out) {
  __shared__ shared_state s;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const cpu::sampling_row p = rows_params[r];
    const bool is_greedy = !(p.temperature >= cpu::greedy_temperature);  // NaN: greedy, as the CPU
    // Without `processed` no row can be edited (the contract): the flag alone must not send the
    // block to a null row.
    const bool edited = p.edited != 0 && processed != nullptr;
    const float* raw = logits + r * cols;
    const float* x = edited ? processed + r * cols : raw;
    // A count above max_top (outside the contract) must not write past the row's slots.
    const int32_t num_tops = max(0, min(p.num_top_logprobs, max_top));
    if (p.score_token >= 0) {
      score_row(s, raw, cols, p.score_token, num_tops, out, rows, r, max_top);
      continue;
    }
    if (is_greedy && p.want_logprob == 0 && !edited && num_tops == 0) {
      if (threadIdx.x == 0) {
        out[r] = greedy[r];
        out[rows + r] = 0.0f;
      }
      pad_tops(out, rows, r, max_top, 0);
      continue;
    }
    const row_stats stats = scan_row(s, x, cols);
    float token = edited ? static_cast<float>(stats.argmax) : greedy[r];
    if (!is_greedy && isfinite(stats.max)) {
      const row_ctx row{x, cols, stats.max, p.temperature, p.min_p, 0, 0};
      const int32_t drawn = sample(s, row, p);
      if (drawn >= 0) token = static_cast<float>(drawn);
    }
    float logprob = 0.0f;
    int32_t count = 0;  // top logprobs written
    if (p.want_logprob != 0 || num_tops > 0) {
      // The logprob and the tops are the raw row's: its own max and NaN where the draw saw the
      // edited row.
      const row_stats raw_stats = edited ? scan_row(s, raw, cols) : stats;
      // The token's logprob is NaN for a row with a NaN: the sum is needed only for the tops then.
      const bool token_logprob = p.want_logprob != 0 && !raw_stats.has_nan;
      const double lse =
          token_logprob || num_tops > 0 ? log_sum_exp(s, raw, cols, raw_stats.max) : 0.0;
      if (p.want_logprob != 0) {
        const auto t = static_cast<int32_t>(token);
        logprob = !token_logprob || t < 0 || t >= cols
                      ? NAN
                      : static_cast<float>(static_cast<double>(raw[t]) - lse);
      }
      if (num_tops > 0) {
        float* ids = top_slots(out, rows, r, max_top);
        count = top_logprobs(s, raw, cols, num_tops, lse, ids, ids + rows * max_top);
      }
    }
    if (threadIdx.x == 0) {
      out[r] = token;
      out[rows + r] = logprob;
    }
    pad_tops(out, rows, r, max_top, count);
  }
}

__global__ void exp_values_kernel(const float* x, int64_t n, float* out) {
  const int64_t stride = int64_t{gridDim.x} * blockDim.x;
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; i < n; i += stride)
    out[i] = device_exp(x[i]);
}

}  // namespace

status sample_rows(const float* logits, const float* processed, int64_t rows, int64_t cols,
                   const cpu::sampling_row* rows_params, int32_t max_top, const float* greedy,
                   float* out, cudaStream_t stream) {
  if (cols <= 0 || cols >= (int64_t{1} << 23))
    return error{"sample_rows: the number of columns must be in [1, 2^23)"};
  if (max_top < 0 || max_top > max_top_logprobs)
    return error{"sample_rows: max_top must be in [0, 64]"};
  if (rows <= 0) return ok_status();
  sample_rows_kernel<<<row_blocks(rows), threads, 0, stream>>>(
      logits, processed, rows, static_cast<int32_t>(cols), rows_params, max_top, greedy, out);
  return CUDA_CHECK(cudaGetLastError());
}

status exp_values(const float* x, int64_t n, float* out, cudaStream_t stream) {
  if (n <= 0) return ok_status();
  exp_values_kernel<<<flat_blocks(n), detail::flat_threads, 0, stream>>>(x, n, out);
  return CUDA_CHECK(cudaGetLastError());
}

}  // namespace troupe::kernels::cuda
