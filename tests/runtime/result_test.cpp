#include "base/result.hpp"

#include <gtest/gtest.h>

#include <string>

namespace troupe {
namespace {

result<int> parse_positive(int x) {
  if (x <= 0) return error{"not positive: " + std::to_string(x)};
  return x;
}

TEST(result, holds_value_or_error) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.message(), "not positive: -1");
}

}  // namespace
}  // namespace troupe
