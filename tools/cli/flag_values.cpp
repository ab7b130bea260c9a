// Value syntax of flags. Errors say what was expected; the parser adds which flag it was.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tools/cli/flag_spec.hpp"

namespace troupe::cli::detail {
namespace {

// Built by appending: GCC 12 at -O3 warns (-Wrestrict, a false positive) on "'" + std::string.
std::string quoted(std::string_view text) {
  std::string out = "'";
  out += text;
  out += '\'';
  return out;
}

std::string range_text(int64_t min, int64_t max) {
  if (max == std::numeric_limits<int64_t>::max() || max == std::numeric_limits<int32_t>::max()) {
    return ">= " + std::to_string(min);  // the type's limit, not a rule worth printing
  }
  return "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

// std::from_chars for double accepts "inf"/"nan"; we let the range check reject what is out.
std::optional<double> to_double(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct unit {
  const char* suffix;
  double factor;
};

// Splits "512MiB" into 512 and the factor of "MiB"; nullopt when the suffix is not listed.
std::optional<double> scaled(std::string_view text, std::initializer_list<unit> units) {
  const unit* best = nullptr;
  for (const unit& u : units) {
    std::string_view s = u.suffix;
    if (text.size() > s.size() && text.ends_with(s) && (!best || s.size() > strlen(best->suffix))) {
      best = &u;
    }
  }
  auto number = to_double(best ? text.substr(0, text.size() - strlen(best->suffix)) : text);
  if (!number) return std::nullopt;
  return *number * (best ? best->factor : 1.0);
}

result<int64_t> whole_in_range(std::optional<double> x, std::string_view text, int64_t min,
                               int64_t max, const std::string& what) {
  if (!x || !std::isfinite(*x) || *x != std::floor(*x)) {
    return error{"expected " + what + ", got " + quoted(text)};
  }
  // 2^63 is exactly representable; anything at or above it cannot be an int64_t.
  if (*x < static_cast<double>(min) || *x >= 9223372036854775808.0 ||
      static_cast<int64_t>(*x) > max) {
    return error{"expected " + what + " " + range_text(min, max) + ", got " + quoted(text)};
  }
  return static_cast<int64_t>(*x);
}

}  // namespace

std::string normalize_flag_name(std::string_view text) {
  while (text.starts_with('-'))
    text.remove_prefix(1);
  std::string name(text);
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

size_t edit_distance(std::string_view a, std::string_view b) {
  // One row of the Levenshtein table at a time.
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitute});
    }
  }
  return row[b.size()];
}

result<int64_t> parse_integer(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range || (ec == std::errc{} && (value < min || value > max))) {
    return error{"expected an integer " + range_text(min, max) + ", got " + quoted(text)};
  }
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return error{"expected an integer, got " + quoted(text)};
  }
  return value;
}

result<int64_t> parse_human_integer(std::string_view text, int64_t min, int64_t max) {
  auto x = scaled(
      text,
      {{"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"K", 1024.0}, {"M", 1048576.0}, {"G", 1073741824.0}});
  return whole_in_range(x, text, min, max, "an integer (suffixes k, K, m, M allowed)");
}

result<double> parse_real(std::string_view text, double min, double max, bool min_exclusive) {
  auto x = to_double(text);
  if (!x || std::isnan(*x)) return error{"expected a number, got " + quoted(text)};
  bool below = min_exclusive ? *x <= min : *x < min;
  if (below || *x > max) {
    std::string range = std::string(min_exclusive ? "in (" : "in [") + format_real(min) + ", " +
                        format_real(max) + "]";
    if (max == std::numeric_limits<double>::max()) {
      range = (min_exclusive ? "> " : ">= ") + format_real(min);
    }
    return error{"expected a number " + range + ", got " + quoted(text)};
  }
  return *x;
}

result<bool> parse_bool(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return true;
  if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return false;
  return error{"expected true or false, got " + quoted(text)};
}

result<int64_t> parse_bytes(std::string_view text) {
  constexpr double kib = 1024.0;
  auto x = scaled(text, {{"B", 1},
                         {"KiB", kib},
                         {"MiB", kib * kib},
                         {"GiB", kib * kib * kib},
                         {"TiB", kib * kib * kib * kib},
                         {"KB", 1e3},
                         {"kB", 1e3},
                         {"MB", 1e6},
                         {"GB", 1e9},
                         {"TB", 1e12},
                         {"K", kib},
                         {"M", kib * kib},
                         {"G", kib * kib * kib},
                         {"T", kib * kib * kib * kib},
                         {"k", 1e3},
                         {"m", 1e6},
                         {"g", 1e9},
                         {"t", 1e12}});
  if (x) *x = std::round(*x);  // 1.5KiB is 1536 bytes; a fraction of a byte rounds
  return whole_in_range(x, text, 0, std::numeric_limits<int64_t>::max(),
                        "a byte count (e.g. 1073741824, 1e9, 512MiB, 2GiB)");
}

result<std::string> parse_choice(std::string_view text,
                                 std::initializer_list<const char*> choices) {
  std::string all;
  for (const char* choice : choices) {
    if (text == choice) return std::string(choice);
    append_joined(all, choice, ", ");
  }
  return error{"expected one of " + all + ", got " + quoted(text)};
}

result<std::vector<int32_t>> parse_id_list(std::string_view text) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of(", \t\n", pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) {
      auto id = parse_integer(text.substr(pos, end - pos), 0, std::numeric_limits<int32_t>::max());
      if (!id) return error{"expected token ids like 1,2,3: " + id.message()};
      ids.push_back(static_cast<int32_t>(*id));
    }
    pos = end + 1;
  }
  if (ids.empty()) return error{"expected at least one token id, got " + quoted(text)};
  return ids;
}

std::string format_real(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

}  // namespace troupe::cli::detail
