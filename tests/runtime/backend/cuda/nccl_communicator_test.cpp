// The NCCL group's refusals, which need no GPU; the collectives themselves need two GPUs, which
// no machine here has (docs/usage.md says what ran).
#include "runtime/backend/cuda/nccl_communicator.hpp"

#include <gtest/gtest.h>

#include "kernels/cuda/device.hpp"

namespace troupe::backend {
namespace {

TEST(nccl_group, more_ranks_than_gpus_is_an_error_naming_both) {
  const int gpus = kernels::cuda::cuda_device_count();
  auto group = nccl_group::create(gpus + 1);
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.message(), "--tensor-parallel-size " + std::to_string(gpus + 1) + " needs " +
                                 std::to_string(gpus + 1) + " GPUs; " + std::to_string(gpus) +
                                 " found");
}

TEST(nccl_group, two_ranks_reduce_in_place_when_two_gpus_exist) {
  if (kernels::cuda::cuda_device_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
  auto group = nccl_group::create(2);
  ASSERT_TRUE(group.ok()) << group.message();
  EXPECT_EQ((*group)->world_size(), 2);
  EXPECT_EQ((*group)->rank(1).rank(), 1);
  EXPECT_FALSE((*group)->aborted());
  (*group)->close();
  EXPECT_TRUE((*group)->aborted());
  EXPECT_THROW((*group)->rank(0).begin_step(), collective_aborted);
}

}  // namespace
}  // namespace troupe::backend
