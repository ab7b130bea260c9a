// kernels/cuda/sampling.cu's apply_logit_edits against kernels::cpu::apply_edit: the edited rows
// bit for bit (NaN as any NaN; an allowed-only row -inf but at its edits), rows without edits
// untouched. Needs a GPU: skips without one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/cpu/sampling.hpp"
#include "kernels/cuda/sampling.hpp"
#include "tests/kernels/cuda/cuda_test_support.hpp"
#include "tests/kernels/cuda/sampling_test_support.hpp"

namespace troupe::kernels::cuda {
namespace {

using namespace sampling_testing;

// Every special logit under every flag combination with every kind of parameter (signed zeros,
// infinities and NaN among them), then random logits and edits; rows without edits keep what
// `processed` held.
TEST(cuda_sampling, apply_logit_edits_match_cpu_bitwise) {
  SKIP_WITHOUT_CUDA_DEVICE();
  const int64_t rows = 24, cols = 3001;  // a partial last slice of each row
  const std::vector<float> specials = {
      nan,          inf,           -inf,    -0.0f,    0.0f,    FLT_MAX, -FLT_MAX,
      FLT_TRUE_MIN, -FLT_TRUE_MIN, FLT_MIN, -FLT_MIN, 1.0f,    -1.0f,   0.5f,
      -0.5f,        3.3f,          -3.3f,   1e-30f,   -1e-30f, 1e30f,   -1e30f};
  const std::vector<float> biases = {0.0f, -0.0f, 2.5f, -inf, inf, nan};
  const std::vector<float> subtracts = {0.0f, -0.0f, cpu::penalty_subtrahend(0.5f, 3, 0.3f),
                                        cpu::penalty_subtrahend(-0.3f, 7, 1.5f)};
  const std::vector<float> penalties = {1.3f, 0.7f};
  const std::vector<size_t> dims = {specials.size(), 16, biases.size(), subtracts.size(),
                                    penalties.size()};
  const int64_t num_combinations =
      std::accumulate(dims.begin(), dims.end(), int64_t{1}, std::multiplies<>());

  std::mt19937 rng(21);
  std::vector<float> logits;
  for (int64_t r = 0; r < rows; ++r) {
    auto row = normal_row(cols, 4.0f, rng);
    std::copy(specials.begin(), specials.end(), row.begin());  // unedited rows have them too
    logits.insert(logits.end(), row.begin(), row.end());
  }
  std::vector<sampling_row> params(rows);
  std::vector<int64_t> edited_rows;
  for (int64_t r = 0; r < rows; ++r) {
    params[r].edited = r % 3 != 1 ? 1 : 0;        // 16 edited rows, the first and last among them
    params[r].allowed_only = r % 6 == 3 ? 1 : 0;  // 4 of them keep only their edited tokens
    if (params[r].edited != 0) edited_rows.push_back(r);
  }
  ASSERT_GE(static_cast<int64_t>(edited_rows.size()) * cols, num_combinations);

  // The combinations fill the first edited rows (an edit at every id), one a slot; the rest of
  // the ids are random, one in five edited with random flags and parameters.
  std::vector<logit_edit> edits;
  std::uniform_real_distribution<float> any_bias(-10.0f, 10.0f), any_penalty(0.5f, 2.0f),
      any_frequency(-2.0f, 2.0f);
  std::uniform_int_distribution<int32_t> any_count(1, 50);
  for (size_t j = 0; j < edited_rows.size(); ++j) {
    const int64_t r = edited_rows[j];
    for (int64_t c = 0; c < cols; ++c) {
      logit_edit e;
      e.row = static_cast<int32_t>(r);
      e.id = static_cast<int32_t>(c);
      int64_t t = static_cast<int64_t>(j) * cols + c;
      if (t < num_combinations) {
        logits[r * cols + c] = specials[t % dims[0]];
        t /= static_cast<int64_t>(dims[0]);
        e.flags = static_cast<uint32_t>(t % 16);
        t /= 16;
        e.bias = biases[t % dims[2]];
        t /= static_cast<int64_t>(dims[2]);
        e.subtract = subtracts[t % dims[3]];
        t /= static_cast<int64_t>(dims[3]);
        e.repetition_penalty = penalties[t % dims[4]];
      } else {
        if (rng() % 5 != 0) continue;
        e.flags = rng() % 16;
        e.bias = any_bias(rng);
        e.repetition_penalty = any_penalty(rng);
        e.subtract = cpu::penalty_subtrahend(any_frequency(rng), any_count(rng), any_bias(rng));
      }
      edits.push_back(e);
    }
  }
  // An edit naming a row without the flag: that row of `processed` is not the kernel's to write.
  logit_edit stray;
  stray.row = 1;
  stray.id = 7;
  stray.flags = cpu::edit_mask;
  edits.push_back(stray);
  std::shuffle(edits.begin(), edits.end(), rng);  // the kernel must not depend on their order

  const float sentinel = std::bit_cast<float>(0xdeadbeefu);
  std::vector<float> want(logits.size(), sentinel);
  for (int64_t r : edited_rows) {
    if (params[r].allowed_only != 0) {
      std::fill(want.begin() + r * cols, want.begin() + (r + 1) * cols, -inf);
    } else {
      std::copy(logits.begin() + r * cols, logits.begin() + (r + 1) * cols,
                want.begin() + r * cols);
    }
  }
  int negative_zeros = 0;  // -0 results, which an addition of -x in place of x - ... would lose
  for (const logit_edit& e : edits) {
    if (params[e.row].edited == 0) continue;
    const int64_t at = e.row * cols + e.id;
    want[at] = cpu::apply_edit(logits[at], e);
    negative_zeros += e.flags != 0 && std::bit_cast<uint32_t>(want[at]) == 0x80000000u ? 1 : 0;
  }

  device_array<float> dlogits(logits), dprocessed(want.size());
  dprocessed.upload(std::vector<float>(want.size(), sentinel));
  device_array<sampling_row> dparams(params);
  device_array<logit_edit> dedits(edits);
  ASSERT_TRUE(apply_logit_edits(dlogits.get(), rows, cols, dparams.get(), dedits.get(),
                                static_cast<int64_t>(edits.size()), dprocessed.get(), nullptr)
                  .ok());
  const auto got = dprocessed.to_host();
  int mismatches = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t at = r * cols + c;
      if (same_float(got[at], want[at])) continue;
      ADD_FAILURE() << "row " << r << " id " << c << " (logit " << logits[at] << "): got "
                    << got[at] << ", want " << want[at];
      if (++mismatches == 20) return;
    }
  }
  // The test means something only if the edits changed many logits, to special values too.
  int changed = 0, nans = 0, infinities = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] == sentinel || same_float(want[i], logits[i])) continue;
    ++changed;
    nans += std::isnan(want[i]) ? 1 : 0;
    infinities += std::isinf(want[i]) ? 1 : 0;
  }
  EXPECT_GE(changed, 15000);
  EXPECT_GE(nans, 1000);
  EXPECT_GE(infinities, 1000);
  EXPECT_GE(negative_zeros, 20);
}

}  // namespace
}  // namespace troupe::kernels::cuda
