// paged attention: q [tokens][heads][head_dim], K/V cache [blocks][block_size][kv_heads][head_dim]
// -> out [tokens][heads][head_dim] (contract and block layout: attention.hpp).
#include "kernels/cpu/attention.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdlib>
#include <span>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "kernels/cpu/attention_rows.hpp"
#include "kernels/cpu/cpu_features.hpp"
#include "kernels/cpu/exp.hpp"

// GCC 12's AVX-512 intrinsics (shuffles, unpacks, permutes, broadcasts) pass an undefined vector
// as their unused merge source, which -W(maybe-)uninitialized reports.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace troupe::kernels::cpu {

namespace {

using namespace attention_rows;

int64_t slot_offset(const paged_kv_layout& layout, const token_location& tok, int32_t pos) {
  const int32_t block = tok.block_table[pos / layout.block_size];
  const int32_t slot = pos % layout.block_size;
  return block * layout.block_stride() + int64_t{slot} * layout.num_kv_heads * layout.head_dim;
}

// Walks a sequence's cache slots in ascending position without a division per key.
class slot_cursor {
 public:
  slot_cursor(const paged_kv_layout& layout, const token_location& tok, int32_t pos)
      : layout_(&layout),
        table_(tok.block_table + pos / layout.block_size),
        slot_(pos % layout.block_size),
        slot_stride_(int64_t{layout.num_kv_heads} * layout.head_dim) {}
  int64_t offset() const { return *table_ * layout_->block_stride() + slot_ * slot_stride_; }
  void next() {
    if (++slot_ == layout_->block_size) {
      slot_ = 0;
      ++table_;
    }
  }

 private:
  const paged_kv_layout* layout_;
  const int32_t* table_;
  int32_t slot_;
  int64_t slot_stride_;
};

// Asks for the cache lines of `bytes` bytes from p ahead of their use: into L1 (T0), or into L2
// (T1) where prefetch_into_l2(). On x86-64 the instructions are written out: given the choice as a
// bool, GCC 12 dropped the T1 loop's __builtin_prefetch calls (and, inlined, the T0 ones too) as
// free of side effects, so nothing was prefetched.
void prefetch_bytes(const void* p, int64_t bytes, bool to_l2) {
  const char* c = static_cast<const char*>(p);
#if defined(__x86_64__)
  if (to_l2) {
    for (int64_t at = 0; at < bytes; at += 64)
      asm volatile("prefetcht1 %0" : : "m"(c[at]));
  } else {
    for (int64_t at = 0; at < bytes; at += 64)
      asm volatile("prefetcht0 %0" : : "m"(c[at]));
  }
#else
  (void)to_l2;
  for (int64_t at = 0; at < bytes; at += 64)
    __builtin_prefetch(c + at, 0, 3);
#endif
}

// Where the cache's lines are prefetched, by CPU (docs/performance.md): on Intel T0 was fastest
// and T1 slower (measured before the inline assembly, so perhaps without any T1 prefetch). On AMD
// Zen 4 the T0 prefetches stall while the L1 miss buffers are full; into L2, 16 decodes at context
// 1024 from DRAM ran 1.5x as fast. TROUPE_ATTENTION_PREFETCH=l1 or l2 overrides the choice (to
// measure it on another CPU).
bool prefetch_into_l2() {
  static const bool l2 = [] {
    const char* level = std::getenv("TROUPE_ATTENTION_PREFETCH");
    if (level != nullptr && std::string_view(level) == "l1") return false;
    if (level != nullptr && std::string_view(level) == "l2") return true;
    return detect_cpu_features().amd;
  }();
  return l2;
}

// Keys are scored key_block (attention_rows.hpp) at a time; values are summed value_block at a
// time.
constexpr int value_block = 32;
// How far ahead of the keys (values) being read their cache lines are prefetched.
constexpr int keys_ahead = 2 * key_block;
constexpr int values_ahead = 16;
// A task attends up to max_tile_tokens consecutive tokens of one sequence (a prompt's) with runs of
// up to max_heads_per_call query heads of one KV group each; one call of attend_tile takes up to
// max_runs runs and max_rows rows (e.g. every kv head of a decode's slot), so every cache block
// read serves all of them. The per-row maxima and sums live on the stack. Tiles of 8 tokens rather
// than 4: a 512-token chunk over up to 1024 keys 14% faster in the model on Zen 4 (keys read half
// as often; in bf16 a key block is transposed half as often).
constexpr int max_tile_tokens = 8;
constexpr int max_heads_per_call = 8;
constexpr int max_rows = 96;
constexpr int max_runs = 16;
static_assert(max_rows >= max_tile_tokens * max_heads_per_call);

// A reader hands attend_tile key or value heads of head_dim elements (Lanes::type) at a cache
// offset; `i` names one of key_block keys (or value_block values) that must stay readable
// together; its k_cache and v_cache point at the stored cache (attend_tile prefetches from them).
// An f32 cache, and a 16-bit one at fixed_shape head dims, are read in place (widened in the
// kernels' registers).
template <class Lanes>
struct in_place_reader {
  using lanes = Lanes;
  using element = typename Lanes::type;
  const element* k_cache;
  const element* v_cache;
  const element* key(int64_t offset, int32_t, int) { return k_cache + offset; }
  const element* value(int64_t offset, int32_t, int) { return v_cache + offset; }
};

// An fp8 cache is dequantized a head at a time into the reader's own buffers.
struct fp8_reader {
  using lanes = f32_lanes;
  const fp8_kv& fp8;
  const uint8_t* k_cache;
  const uint8_t* v_cache;
  float* k_buf;  // [key_block][head_dim]
  float* v_buf;  // [value_block][head_dim]
  const float* key(int64_t offset, int32_t d, int i) {
    float* buf = k_buf + int64_t{i} * d;
    dequantize_fp8(k_cache + offset, d, fp8.k_scale, fp8.format, buf);
    return buf;
  }
  const float* value(int64_t offset, int32_t d, int i) {
    float* buf = v_buf + int64_t{i} * d;
    dequantize_fp8(v_cache + offset, d, fp8.v_scale, fp8.format, buf);
    return buf;
  }
};

// A 16-bit cache at head dims without fixed_shape is widened a head at a time into the reader's own
// buffers.
struct half_reader {
  using lanes = f32_lanes;
  half_format format;
  const uint16_t* k_cache;
  const uint16_t* v_cache;
  float* k_buf;  // [key_block][head_dim]
  float* v_buf;  // [value_block][head_dim]
  const float* key(int64_t offset, int32_t d, int i) {
    float* buf = k_buf + int64_t{i} * d;
    widen_half(k_cache + offset, d, format, buf);
    return buf;
  }
  const float* value(int64_t offset, int32_t d, int i) {
    float* buf = v_buf + int64_t{i} * d;
    widen_half(v_cache + offset, d, format, buf);
    return buf;
  }
};

// Query heads [h0, h0 + nh) of kv head g (heads of g's group).
struct head_run {
  int32_t g, h0, nh;
};

// The query heads of `runs` (at most max_rows rows in all) for T tokens of one sequence at
// consecutive positions (T == 1 for any token; tok[i].position = tok[0].position + i), against
// keys/values first..position: run k's rows are base_k + i * nh + h (base_k: the rows of the runs
// before it), query head h0 + h of token i at q + i * q_stride + (h0 + h) * d, output at the same
// offset of out. `scores` has room for rows * (tok[T - 1].position - first + 1) floats. The runs
// walk the cache together: each block of keys (values) is read for every run before the next,
// so a slot's kv heads, side by side, are read once and in order. Each row's result is
// attention.hpp's formula computed in one fixed order: scores by dot() (the same bits, several
// keys and rows at once), weights by exp_value (in SIMD lanes, the same bits), the softmax's sum
// and the weighted sum of values (one FMA chain per output) over ascending keys. Rows share key
// and value reads, never arithmetic: which rows, heads and tokens share a call never changes a bit.
template <class Reader>
void attend_tile(const paged_kv_layout& layout, const token_location* tok, int T, int32_t first,
                 std::span<const head_run> runs, int64_t q_stride, float scale, const float* q,
                 Reader& cache, float* scores, float* out) {
  const int32_t d = layout.head_dim;
  const int32_t n_last = tok[T - 1].position - first + 1;
  int32_t n[max_rows];  // keys row r attends
  const float* qs[max_rows];
  float* outs[max_rows];
  float* es[max_rows];
  float max_score[max_rows], sum[max_rows];
  int base[max_runs + 1] = {0};
  int32_t g_lo = runs[0].g, g_hi = runs[0].g;
  for (size_t k = 0; k < runs.size(); ++k) {
    const head_run& run = runs[k];
    g_lo = std::min(g_lo, run.g);
    g_hi = std::max(g_hi, run.g);
    base[k + 1] = base[k] + T * run.nh;
    for (int r = base[k]; r < base[k + 1]; ++r) {
      const int i = (r - base[k]) / run.nh, h = run.h0 + (r - base[k]) % run.nh;
      n[r] = tok[i].position - first + 1;
      qs[r] = q + i * q_stride + int64_t{h} * d;
      outs[r] = out + i * q_stride + int64_t{h} * d;
      es[r] = scores + int64_t{r} * n_last;
      max_score[r] = -INFINITY;
      sum[r] = 0.0f;
      std::fill_n(outs[r], d, 0.0f);
    }
  }
  const int rows = base[runs.size()];
  assert(rows <= max_rows);
  // bf16 score products take each row's query rounded to bf16 once a tile.
  constexpr bool bf16_dot = bf16_dot_products<typename Reader::lanes>;
  const uint16_t* q16s[max_rows];
  if constexpr (bf16_dot) {
    thread_local std::vector<uint16_t> q16;
    q16.resize(static_cast<size_t>(rows) * d);
    for (int r = 0; r < rows; ++r) {
      round_query_bf16(qs[r], d, q16.data() + int64_t{r} * d);
      q16s[r] = q16.data() + int64_t{r} * d;
    }
  }
#if defined(__AVX512F__) || defined(TROUPE_KERNELS_AVX2)
  __m256 row_max[max_rows];
  for (int r = 0; r < rows; ++r)
    row_max[r] = _mm256_set1_ps(-INFINITY);
#endif
  // The cache lines of keys (then values) `ahead` positions past the ones being read are asked
  // for early, every run's kv head at once: a sequence's slots lie strided and scattered in
  // blocks, which the hardware's prefetchers do not follow.
  const int64_t lo_offset = int64_t{g_lo} * d;
  const int32_t span = (g_hi - g_lo + 1) * d;
  slot_cursor ahead(layout, tok[0], first);
  int32_t ahead_pos = 0;
  auto prefetch_until = [&](int32_t end, auto prefetch) {
    for (end = std::min(end, n_last); ahead_pos < end; ++ahead_pos, ahead.next())
      prefetch(ahead.offset() + lo_offset);
  };
  // Every reader keeps the stored cache in k_cache / v_cache, `span` elements a slot's kv heads.
  const bool to_l2 = prefetch_into_l2();
  const int64_t span_bytes = span * int64_t{sizeof(*cache.k_cache)};
  auto prefetch_keys = [&](int64_t offset) {
    prefetch_bytes(cache.k_cache + offset, span_bytes, to_l2);
  };
  auto prefetch_values = [&](int64_t offset) {
    prefetch_bytes(cache.v_cache + offset, span_bytes, to_l2);
  };
  using element = typename Reader::lanes::type;
  slot_cursor cursor(layout, tok[0], first);
  int64_t slots[std::max(key_block, value_block)];
  for (int32_t j0 = 0; j0 < n_last; j0 += key_block) {
    prefetch_until(j0 + keys_ahead, prefetch_keys);
    const int count = std::min(key_block, n_last - j0);
    for (int i = 0; i < count; ++i, cursor.next())
      slots[i] = cursor.offset();
    float s[max_rows * key_block];
    for (size_t k = 0; k < runs.size(); ++k) {
      const int64_t head_offset = int64_t{runs[k].g} * d;
      const element* keys[key_block];
      for (int i = 0; i < count; ++i)
        keys[i] = cache.key(slots[i] + head_offset, d, i);
      std::fill(keys + count, keys + key_block, keys[0]);  // scored, then dropped
      if constexpr (bf16_dot) {
        bf16_score_rows(q16s + base[k], base[k + 1] - base[k], keys, d, s + base[k] * key_block);
      } else {
        score_rows<typename Reader::lanes>(qs + base[k], base[k + 1] - base[k], keys, d,
                                           s + base[k] * key_block);
      }
    }
    for (int r = 0; r < rows; ++r) {
      float* row = es[r] + j0;
      const int valid = std::min(count, n[r] - j0);  // later keys: past this row's position
      if (valid <= 0) continue;
#if defined(__AVX512F__)
      // The same products; the maximum is exact in any order (VMAXPS with the running maximum
      // second skips a NaN as std::max does).
      const __mmask8 m = static_cast<__mmask8>((1u << valid) - 1u);
      const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(s + r * key_block), _mm256_set1_ps(scale));
      _mm256_mask_storeu_ps(row, m, v);
      row_max[r] = _mm256_mask_max_ps(row_max[r], m, v, row_max[r]);
#else
#if defined(TROUPE_KERNELS_AVX2)
      if (valid == key_block) {
        // The same products and maximum (VMAXPS with the running maximum second skips a NaN).
        const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(s + r * key_block), _mm256_set1_ps(scale));
        _mm256_storeu_ps(row, v);
        row_max[r] = _mm256_max_ps(v, row_max[r]);
        continue;
      }
#endif
      for (int i = 0; i < valid; ++i) {
        row[i] = s[r * key_block + i] * scale;
        max_score[r] = std::max(max_score[r], row[i]);
      }
#endif
    }
  }
#if defined(__AVX512F__) || defined(TROUPE_KERNELS_AVX2)
  for (int r = 0; r < rows; ++r) {
    alignas(32) float lanes[key_block];
    _mm256_store_ps(lanes, row_max[r]);
    for (float l : lanes)
      max_score[r] = std::max(max_score[r], l);
  }
#endif
  ahead = slot_cursor(layout, tok[0], first);
  ahead_pos = 0;
  prefetch_until(values_ahead, prefetch_values);
  // The weights' sums are taken with the values (accumulate_values).
  for (int r = 0; r < rows; ++r)
    exp_values_shifted(es[r], n[r], max_score[r], es[r]);
  cursor = slot_cursor(layout, tok[0], first);
  for (int32_t j0 = 0; j0 < n_last; j0 += value_block) {
    prefetch_until(j0 + value_block + values_ahead, prefetch_values);
    const int count = std::min(value_block, n_last - j0);
    for (int i = 0; i < count; ++i, cursor.next())
      slots[i] = cursor.offset();
    const float* e_block[max_rows];
    for (int r = 0; r < rows; ++r)
      e_block[r] = es[r] + j0;
    for (size_t k = 0; k < runs.size(); ++k) {
      const int64_t head_offset = int64_t{runs[k].g} * d;
      const element* values[value_block];
      for (int i = 0; i < count; ++i)
        values[i] = cache.value(slots[i] + head_offset, d, i);
      // Rows that attend every value of the block go together; a row whose position ends inside
      // the block (tile tokens before the last) takes its own shorter run.
      const int b = base[k], e = base[k + 1], nh = runs[k].nh;
      int full = e;
      while (full > b && n[full - 1] - j0 >= count)
        --full;
      auto accumulate = [&](int r0, int nr, int own) {
        if constexpr (bf16_dot) {
          bf16_accumulate_values(values, e_block + r0, nr, own, d, outs + r0, sum + r0);
        } else {
          accumulate_values<typename Reader::lanes>(values, e_block + r0, nr, own, d, outs + r0,
                                                    sum + r0);
        }
      };
      for (int r = b; r < full; r += nh) {
        const int own = std::min(count, n[r] - j0);
        if (own > 0) accumulate(r, nh, own);
      }
      accumulate(full, e - full, count);
    }
  }
  for (int r = 0; r < rows; ++r) {
    if constexpr (bf16_dot) bf16_values_to_order(outs[r], d);
    const float inv_sum = 1.0f / sum[r];
    for (int32_t i = 0; i < d; ++i)
      outs[r][i] *= inv_sum;
  }
}

// One task of run_attention: query heads [first_head, first_head + heads) of a tile.
struct head_task {
  int64_t tile;
  int32_t first_head, heads;
};

// The tasks of num_tiles tiles of num_heads query heads over num_kv_heads groups on `threads`
// threads, the last tiles first (a prompt's later tokens attend the most keys, so taking them
// early keeps the threads' shares even). With at least four tiles a thread, a task a tile;
// otherwise a task a (tile, kv group), and the units of a last round that leaves threads idle are
// split into parts of the group's query heads, as evenly as the heads allow, about one a thread.
std::vector<head_task> plan_tasks(int64_t num_tiles, int32_t num_heads, int32_t num_kv_heads,
                                  int threads) {
  std::vector<head_task> tasks;
  if (num_tiles >= 4 * int64_t{threads}) {
    for (int64_t tile = num_tiles - 1; tile >= 0; --tile)
      tasks.push_back({tile, 0, num_heads});
    return tasks;
  }
  const int32_t group = num_heads / num_kv_heads;
  const int64_t units = num_tiles * num_kv_heads;
  const int64_t whole = units - units % threads;  // units taken whole, every thread busy
  const int64_t left = units - whole;
  const int32_t parts =
      left > 0 ? static_cast<int32_t>(std::min<int64_t>(group, (threads + left - 1) / left)) : 1;
  for (int64_t unit = 0; unit < units; ++unit) {
    const int64_t tile = num_tiles - 1 - unit / num_kv_heads;
    const int32_t first = static_cast<int32_t>(unit % num_kv_heads) * group;
    if (unit < whole) {
      tasks.push_back({tile, first, group});
      continue;
    }
    for (int32_t part = 0; part < parts; ++part) {
      const int32_t lo = first + group * part / parts, hi = first + group * (part + 1) / parts;
      tasks.push_back({tile, lo, hi - lo});
    }
  }
  return tasks;
}

// make_reader(buffers) gives each task its Reader; `buffers` is that thread's scratch of
// (key_block + value_block) * head_dim floats.
template <class MakeReader>
void run_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                   int64_t num_tokens, int32_t num_heads, float scale, const float* q, float* out,
                   int32_t sliding_window, MakeReader make_reader) {
  assert(num_heads % layout.num_kv_heads == 0);
  const int32_t group = num_heads / layout.num_kv_heads;
  const int32_t d = layout.head_dim;
  // Tiles: runs of up to max_tile_tokens consecutive positions of one sequence (a prompt's
  // tokens), each token alone under a sliding window (its first key differs from its
  // neighbour's).
  std::vector<int64_t> tile_starts;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const bool extends = !tile_starts.empty() && sliding_window <= 0 &&
                         t - tile_starts.back() < max_tile_tokens &&
                         tokens[t].block_table == tokens[t - 1].block_table &&
                         tokens[t].position == tokens[t - 1].position + 1;
    if (!extends) tile_starts.push_back(t);
  }
  const int64_t num_tiles = static_cast<int64_t>(tile_starts.size());
  tile_starts.push_back(num_tokens);
  // A group's query heads share each key read (and its fp8 dequantization or 16-bit widening),
  // max_heads_per_call heads at a time. With at least four tiles a thread, one task takes a tile's
  // every head, all its groups in one pass over the cache: it reads the tile's cache blocks whole
  // and in order (a slot holds every kv head side by side), and there are fewer tasks to hand out
  // (measured: a 16-sequence decode over a cold cache and a 128-token prompt each 10-16% faster
  // than a task per kv head; one pass instead of one per group, a quarter faster again where the
  // cache comes from DRAM). With fewer tiles, one task per (tile, kv head), except that the
  // groups of a last round too small for every thread are split into query heads among them: a
  // pass over a group's keys costs more than its rows do (one decode at context 192 on Zen 2: a
  // pass of 3 rows 6.7 us, of one row ~5 us), so a task per query head throughout read each key
  // `group` times (measured: a one-sequence decode, 9 heads over 3 kv heads on 2 threads, 23 us
  // a layer with a task per query head, 15.5 us with a task per kv head).
  const std::vector<head_task> tasks =
      plan_tasks(num_tiles, num_heads, layout.num_kv_heads, pool.num_threads());
  const int64_t q_stride = int64_t{num_heads} * d;
  pool.run(static_cast<int>(tasks.size()), [&](int index) {
    const head_task& task = tasks[index];
    const int64_t t0 = tile_starts[task.tile];
    const int T = static_cast<int>(tile_starts[task.tile + 1] - t0);
    const int32_t first_key =
        sliding_window > 0 ? std::max(0, tokens[t0].position - sliding_window + 1) : 0;
    const int32_t n_last = tokens[t0 + T - 1].position - first_key + 1;
    const int32_t chunk = std::min({task.heads, group, max_heads_per_call});
    const int32_t most_rows = std::min(max_rows, T * task.heads);
    thread_local std::vector<float> scores, buffers;
    if (scores.size() < static_cast<size_t>(n_last) * most_rows)
      scores.resize(static_cast<size_t>(n_last) * most_rows);
    const size_t buffer_size = static_cast<size_t>(key_block + value_block) * d;
    if (buffers.size() < buffer_size) buffers.resize(buffer_size);
    auto reader = make_reader(buffers.data());
    const int64_t offset = t0 * q_stride;
    head_run runs[max_runs];
    int num_runs = 0, rows = 0;
    auto attend = [&] {
      attend_tile(layout, tokens + t0, T, first_key, std::span<const head_run>(runs, num_runs),
                  q_stride, scale, q + offset, reader, scores.data(), out + offset);
      num_runs = rows = 0;
    };
    const int32_t end_head = task.first_head + task.heads;
    for (int32_t h = task.first_head, nh = 0; h < end_head; h += nh) {
      // Up to `chunk` heads, never past the end of h's group; runs gathered while they fit.
      nh = std::min({chunk, end_head - h, group - h % group});
      if (rows + T * nh > max_rows || num_runs == max_runs) attend();
      runs[num_runs++] = {h / group, h, nh};
      rows += T * nh;
    }
    attend();
  });
}

}  // namespace

bool bf16_products_supported(int32_t head_dim) {
#if defined(__AVX512F__)
  return fixed_shape(head_dim) && bf16_products_runnable();
#else
  (void)head_dim;
  return false;
#endif
}

bool bf16_products_preferred(int32_t head_dim) {
  return detect_cpu_features().amd && bf16_products_supported(head_dim);
}

void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, float* k_cache, float* v_cache) {
  const int64_t row = int64_t{layout.num_kv_heads} * layout.head_dim;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t offset = slot_offset(layout, tokens[t], tokens[t].position);
    std::copy_n(k + t * row, row, k_cache + offset);
    std::copy_n(v + t * row, row, v_cache + offset);
  }
}

void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, const fp8_kv& fp8, uint8_t* k_cache,
              uint8_t* v_cache) {
  const int64_t row = int64_t{layout.num_kv_heads} * layout.head_dim;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t offset = slot_offset(layout, tokens[t], tokens[t].position);
    quantize_fp8(k + t * row, row, fp8.k_scale, fp8.format, k_cache + offset);
    quantize_fp8(v + t * row, row, fp8.v_scale, fp8.format, v_cache + offset);
  }
}

void store_kv(const paged_kv_layout& layout, const token_location* tokens, int64_t num_tokens,
              const float* k, const float* v, half_format format, uint16_t* k_cache,
              uint16_t* v_cache) {
  const int64_t row = int64_t{layout.num_kv_heads} * layout.head_dim;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t offset = slot_offset(layout, tokens[t], tokens[t].position);
    round_to_half(k + t * row, row, format, k_cache + offset);
    round_to_half(v + t * row, row, format, v_cache + offset);
  }
}

void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     const float* k_cache, const float* v_cache, float* out,
                     int32_t sliding_window) {
  run_attention(pool, layout, tokens, num_tokens, num_heads, scale, q, out, sliding_window,
                [&](float*) {
                  return in_place_reader<f32_lanes>{k_cache, v_cache};
                });
}

void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     const fp8_kv& fp8, const uint8_t* k_cache, const uint8_t* v_cache, float* out,
                     int32_t sliding_window) {
  const int32_t d = layout.head_dim;
  run_attention(pool, layout, tokens, num_tokens, num_heads, scale, q, out, sliding_window,
                [&](float* buffers) {
                  return fp8_reader{fp8, k_cache, v_cache, buffers, buffers + key_block * d};
                });
}

void paged_attention(thread_pool& pool, const paged_kv_layout& layout, const token_location* tokens,
                     int64_t num_tokens, int32_t num_heads, float scale, const float* q,
                     half_format format, const uint16_t* k_cache, const uint16_t* v_cache,
                     float* out, int32_t sliding_window, attention_products products) {
  const int32_t d = layout.head_dim;
  assert(products == attention_products::f32 || bf16_products_supported(d));
#if defined(__AVX512F__)
  if (products == attention_products::bf16) {
    assert(format == half_format::bf16);
    return run_attention(pool, layout, tokens, num_tokens, num_heads, scale, q, out, sliding_window,
                         [&](float*) {
                           return in_place_reader<bf16_dot_lanes>{k_cache, v_cache};
                         });
  }
  if (fixed_shape(d)) {
    auto in_place = [&]<class Lanes>(Lanes) {
      run_attention(pool, layout, tokens, num_tokens, num_heads, scale, q, out, sliding_window,
                    [&](float*) {
                      return in_place_reader<Lanes>{k_cache, v_cache};
                    });
    };
    return format == half_format::bf16 ? in_place(bf16_lanes{}) : in_place(f16_lanes{});
  }
#endif
  run_attention(pool, layout, tokens, num_tokens, num_heads, scale, q, out, sliding_window,
                [&](float* buffers) {
                  return half_reader{format, k_cache, v_cache, buffers, buffers + key_block * d};
                });
}

}  // namespace troupe::kernels::cpu
