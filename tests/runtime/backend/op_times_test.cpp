// op_time_totals (runtime/backend/op_times.hpp): totals per op name, reported and started again
// every report_every steps; the product names.
#include "runtime/backend/op_times.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace troupe::backend {
namespace {

TEST(op_time_totals, sums_by_name_largest_first_and_start_again_after_each_report) {
  op_time_totals t;
  EXPECT_FALSE(t.enabled());
  {
    const auto off = t.time([] { return std::string("never named"); });
  }
  t.count_step();
  EXPECT_TRUE(t.totals().empty());

  t.enable(2);
  t.count_step();
  t.add("rope", 0.5);
  t.add("matmul", 2.0);
  t.add("rope", 1.0);
  t.report_if_due("CPU");  // one step counted: not due
  auto rows = t.totals();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].op, "matmul");
  EXPECT_EQ(rows[0].calls, 1);
  EXPECT_EQ(rows[1].op, "rope");
  EXPECT_EQ(rows[1].calls, 2);
  EXPECT_DOUBLE_EQ(rows[1].seconds, 1.5);
  {
    const auto timed = t.time([] { return std::string("silu_mul"); });
  }
  EXPECT_EQ(t.totals().size(), 3u);

  t.count_step();
  t.report_if_due("CPU");  // two steps: logged, and the totals start again
  EXPECT_TRUE(t.totals().empty());
}

TEST(op_time_totals, an_op_inside_another_counts_as_part_of_the_outer_one) {
  op_time_totals t;
  t.enable(100);
  {
    const auto outer = t.time([] { return std::string("add_rmsnorm"); });
    const auto inner = t.time([] { return std::string("add"); });
    const auto innermost = t.time([] { return std::string("rmsnorm"); });
  }
  {
    const auto after = t.time([] { return std::string("add"); });
  }
  const auto rows = t.totals();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_TRUE(row.op == "add_rmsnorm" || row.op == "add") << row.op;
    EXPECT_EQ(row.calls, 1) << row.op;
  }
}

TEST(op_time_totals, product_names_carry_format_and_shapes) {
  const int64_t one[] = {1536};
  EXPECT_EQ(matmul_op_name("matmul", weight_format::bf16, one, 576), "matmul bf16 1536x576");
  const int64_t qkv[] = {576, 192, 192};
  EXPECT_EQ(matmul_op_name("matmuls", weight_format::q4_1, qkv, 576),
            "matmuls q4_1 576x576 192x576 192x576");
}

}  // namespace
}  // namespace troupe::backend
