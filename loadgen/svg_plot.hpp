#pragma once
// A small SVG line-plot writer for the sweep report: axes with "nice" ticks, linear or log scale
// per axis, lines with markers, a legend, a title. No plotting library; the output is a
// standalone <svg> element that can be written to a file or embedded in HTML as is.
//
//   +--------------------------------------------+
//   |                  title                     |
//   |  y ^                                  legend|
//   |    |   o---o                          -o- a |
//   |    |  /     \o                        -o- b |
//   |    +------------> x                         |
//   |          x label                            |
//   +--------------------------------------------+
//
// Thread: pure functions.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace troupe::loadgen {

struct plot_series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), drawn in this order
  bool markers = true;
};

struct plot_spec {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;
  bool log_y = false;
  int width = 720;
  int height = 420;
  std::vector<plot_series> series;
};

// The SVG document. Points that are not finite (or not positive on a log axis) are left out,
// and break the line there. A plot without any drawable point still has its axes (0..1).
std::string render_svg(const plot_spec& plot);

// Linear ticks: multiples of a 1/2/5 x 10^k step, covering [lo, hi] (first tick <= lo, last
// >= hi), about `target` of them. requires: lo <= hi, both finite.
std::vector<double> linear_ticks(double lo, double hi, int target);

// Log ticks: powers of ten covering [lo, hi] (first <= lo, last >= hi); also 2x and 5x when
// the range spans fewer than three decades. requires: 0 < lo <= hi, both finite.
std::vector<double> log_ticks(double lo, double hi);

// A tick label: at most 4 significant digits, no trailing zeros ("0.25", "1000", "1e+06").
std::string tick_label(double value);

// &, <, >, " and ' as XML entities.
std::string xml_escape(std::string_view text);

}  // namespace troupe::loadgen
