#include "loadgen/svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace troupe::loadgen {
namespace {

// Tableau's ten colours: distinguishable and readable on white.
constexpr const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr double kLeft = 72, kRight = 170, kTop = 36, kBottom = 52;

std::string num(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", x);
  return buf;
}

bool drawable(double v, bool log) {
  return std::isfinite(v) && (!log || v > 0);
}

// One axis: its data range, ticks and the map from data to pixels.
struct axis {
  bool log = false;
  double lo = 0, hi = 1;  // axis range (first and last tick)
  std::vector<double> ticks;
  double px_lo = 0, px_hi = 1;  // pixels of lo and hi

  double to_px(double v) const {
    const double t = log ? (std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo))
                         : (v - lo) / (hi - lo);
    return px_lo + t * (px_hi - px_lo);
  }
};

axis make_axis(const std::vector<double>& values, bool log, double px_lo, double px_hi) {
  axis a;
  a.log = log;
  a.px_lo = px_lo, a.px_hi = px_hi;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : values) {
    if (drawable(v, log)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  if (!std::isfinite(lo)) lo = log ? 1 : 0, hi = log ? 10 : 1;
  if (lo == hi) {
    lo = log ? lo / 2 : lo - std::max(1.0, std::abs(lo) * 0.1);
    hi = log ? hi * 2 : hi + std::max(1.0, std::abs(hi) * 0.1);
  }
  a.ticks = log ? log_ticks(lo, hi) : linear_ticks(lo, hi, 6);
  a.lo = a.ticks.front(), a.hi = a.ticks.back();
  return a;
}

std::string text(double x, double y, const std::string& body, const char* anchor,
                 const std::string& extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\"" + extra +
         ">" + xml_escape(body) + "</text>\n";
}

std::string line(double x1, double y1, double x2, double y2, const char* style) {
  return "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
         num(y2) + "\" " + style + "/>\n";
}

std::string axes_svg(const plot_spec& plot, const axis& x, const axis& y) {
  std::string out;
  for (double t : x.ticks) {
    const double px = x.to_px(t);
    out += line(px, y.px_lo, px, y.px_hi, "stroke=\"#e5e5e5\"");
    out += text(px, y.px_lo + 16, tick_label(t), "middle");
  }
  for (double t : y.ticks) {
    const double py = y.to_px(t);
    out += line(x.px_lo, py, x.px_hi, py, "stroke=\"#e5e5e5\"");
    out += text(x.px_lo - 6, py + 4, tick_label(t), "end");
  }
  out += line(x.px_lo, y.px_lo, x.px_hi, y.px_lo, "stroke=\"#333\"");
  out += line(x.px_lo, y.px_lo, x.px_lo, y.px_hi, "stroke=\"#333\"");
  out += text((x.px_lo + x.px_hi) / 2, plot.height - 12.0, plot.x_label, "middle");
  const double mid_y = (y.px_lo + y.px_hi) / 2;
  out +=
      text(16, mid_y, plot.y_label, "middle", " transform=\"rotate(-90 16 " + num(mid_y) + ")\"");
  out += text(plot.width / 2.0, 22, plot.title, "middle", " font-size=\"15\"");
  return out;
}

// The series as polylines (split where a point cannot be drawn) with circle markers.
std::string series_svg(const plot_series& s, const char* colour, const axis& x, const axis& y) {
  std::string out, markers, run;
  int num_in_run = 0;
  auto flush = [&] {
    if (num_in_run > 1) {
      out += "<polyline fill=\"none\" stroke=\"" + std::string(colour) +
             "\" stroke-width=\"2\" points=\"" + run + "\"/>\n";
    }
    run.clear(), num_in_run = 0;
  };
  for (const auto& [vx, vy] : s.points) {
    if (!drawable(vx, x.log) || !drawable(vy, y.log)) {
      flush();
      continue;
    }
    const std::string px = num(x.to_px(vx)), py = num(y.to_px(vy));
    run += px + "," + py + " ";
    ++num_in_run;
    if (s.markers) {
      markers +=
          "<circle cx=\"" + px + "\" cy=\"" + py + "\" r=\"3.5\" fill=\"" + colour + "\"/>\n";
    }
  }
  flush();
  return out + markers;
}

std::string legend_svg(const plot_spec& plot, double left) {
  std::string out;
  for (size_t i = 0; i < plot.series.size(); ++i) {
    const char* colour = kColours[i % std::size(kColours)];
    const double y = kTop + 8 + 18.0 * static_cast<double>(i);
    out += line(left, y, left + 22, y,
                ("stroke=\"" + std::string(colour) + "\" stroke-width=\"2\"").c_str());
    out += "<circle cx=\"" + num(left + 11) + "\" cy=\"" + num(y) + "\" r=\"3.5\" fill=\"" +
           colour + "\"/>\n";
    out += text(left + 28, y + 4, plot.series[i].name, "start");
  }
  return out;
}

}  // namespace

std::vector<double> linear_ticks(double lo, double hi, int target) {
  const double raw = (hi - lo) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw > 0 ? raw : 1.0)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const double first = std::floor(lo / step), last = std::ceil(hi / step);
  for (double k = first; k <= last + 0.5; k += 1) {
    const double t = k * step;
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
  }
  if (ticks.size() < 2) ticks.push_back(ticks.back() + step);
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  const int first = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
  int last = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
  if (last <= first) last = first + 1;
  const bool fine = last - first < 3;
  std::vector<double> ticks;
  for (int e = first; e <= last; ++e) {
    const double decade = std::pow(10.0, e);
    ticks.push_back(decade);
    if (fine && e < last) ticks.push_back(2 * decade), ticks.push_back(5 * decade);
  }
  return ticks;
}

std::string tick_label(double value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", value);
  return buf;
}

std::string xml_escape(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_svg(const plot_spec& plot) {
  std::vector<double> xs, ys;
  for (const auto& s : plot.series) {
    for (const auto& [x, y] : s.points) {
      if (drawable(x, plot.log_x) && drawable(y, plot.log_y)) xs.push_back(x), ys.push_back(y);
    }
  }
  const double right = plot.width - kRight, bottom = plot.height - kBottom;
  const axis x = make_axis(xs, plot.log_x, kLeft, right);
  const axis y = make_axis(ys, plot.log_y, bottom, kTop);
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    std::to_string(plot.width) + "\" height=\"" + std::to_string(plot.height) +
                    "\" viewBox=\"0 0 " + std::to_string(plot.width) + " " +
                    std::to_string(plot.height) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n"
                    "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += axes_svg(plot, x, y);
  for (size_t i = 0; i < plot.series.size(); ++i)
    out += series_svg(plot.series[i], kColours[i % std::size(kColours)], x, y);
  out += legend_svg(plot, right + 14);
  return out + "</svg>\n";
}

}  // namespace troupe::loadgen
