#include "loadgen/svg_plot.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace troupe::loadgen {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

TEST(linear_ticks, are_nice_steps_covering_the_range) {
  EXPECT_EQ(linear_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(linear_ticks(3, 97, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  const auto small = linear_ticks(0.013, 0.048, 6);
  EXPECT_LE(small.front(), 0.013);
  EXPECT_GE(small.back(), 0.048);
  EXPECT_NEAR(small[1] - small[0], 0.01, 1e-12);
  const auto negative = linear_ticks(-7, 3, 5);
  EXPECT_EQ(negative.front(), -8);
  EXPECT_EQ(negative.back(), 4);
}

TEST(log_ticks, are_decades_with_2_and_5_when_the_range_is_short) {
  EXPECT_EQ(log_ticks(1, 1000), (std::vector<double>{1, 10, 100, 1000}));
  EXPECT_EQ(log_ticks(2, 30), (std::vector<double>{1, 2, 5, 10, 20, 50, 100}));
  const auto wide = log_ticks(0.5, 2e4);
  EXPECT_DOUBLE_EQ(wide.front(), 0.1);
  EXPECT_DOUBLE_EQ(wide.back(), 1e5);
}

TEST(tick_label, keeps_four_significant_digits) {
  EXPECT_EQ(tick_label(0.25), "0.25");
  EXPECT_EQ(tick_label(1000), "1000");
  EXPECT_EQ(tick_label(1e6), "1e+06");
  EXPECT_EQ(tick_label(12.3456), "12.35");
}

TEST(xml_escape, escapes_markup) {
  EXPECT_EQ(xml_escape("a<b & \"c\" 'd'>"), "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;");
}

TEST(render_svg, draws_lines_markers_legend_and_labels) {
  plot_spec plot;
  plot.title = "TTFT <vs> rate";
  plot.x_label = "rate";
  plot.y_label = "ms";
  plot.series = {{"p50", {{1, 10}, {2, 12}, {4, 20}}, true},
                 {"p99", {{1, 30}, {2, NAN}, {4, 50}}, true}};
  const std::string svg = render_svg(plot);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("TTFT &lt;vs&gt; rate"), std::string::npos);
  // p50 is one line of 3 points; p99's NaN breaks its line into two single points (no line).
  EXPECT_EQ(count(svg, "<polyline"), 1u);
  EXPECT_EQ(count(svg, "<circle"), 5u + 2u);  // markers + legend
  EXPECT_NE(svg.find(">p50</text>"), std::string::npos);
  EXPECT_NE(svg.find(">p99</text>"), std::string::npos);
}

TEST(render_svg, log_axes_skip_non_positive_points) {
  plot_spec plot;
  plot.log_x = plot.log_y = true;
  plot.series = {{"s", {{0, 1}, {1, 1}, {10, 100}, {100, 1000}}, false}};
  const std::string svg = render_svg(plot);
  EXPECT_EQ(count(svg, "<polyline"), 1u);
  EXPECT_EQ(count(svg, "<circle"), 1u);  // the legend only
  EXPECT_NE(svg.find(">1000</text>"), std::string::npos);
  EXPECT_EQ(svg.find(">0</text>"), std::string::npos);  // no zero tick on a log axis
}

TEST(render_svg, empty_plot_still_has_axes) {
  plot_spec plot;
  plot.series = {{"nothing", {}, true}};
  const std::string svg = render_svg(plot);
  EXPECT_GE(count(svg, "<line"), 4u);
  EXPECT_EQ(count(svg, "<polyline"), 0u);
}

}  // namespace
}  // namespace troupe::loadgen
