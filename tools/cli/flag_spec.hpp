#pragma once
// The table behind the parser: one flag_spec per flag, one command_spec per subcommand, and
// builders that bind a flag to a field of command_line with its value syntax and range.
// Internal to tools/cli; flags.hpp is the public surface.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "tools/cli/flags.hpp"

namespace troupe::cli::detail {

enum class flag_arity {
  value,    // --flag VALUE or --flag=VALUE
  boolean,  // --flag, --flag=true|false, and --no-flag when negatable
  list,     // --flag V1 V2 ... (one or more), repeatable; set() runs once per value
};

struct flag_spec {
  std::string name;                  // canonical: dash form without leading dashes
  std::vector<std::string> aliases;  // other accepted names, same form ("tp", "uvicorn-log-level")
  flag_arity arity = flag_arity::value;
  bool negatable = false;
  std::string metavar;  // "N", "PATH", ...; empty for booleans
  std::string help;     // one line
  // Stores one value ("true"/"false" for booleans). An error is the reason only ("expected an
  // integer in [1, 256]"); the parser adds the flag and subcommand.
  std::function<status(command_line&, std::string_view)> set;
  // The field's value as --help shows it (called on a default command_line).
  std::function<std::string(command_line&)> show;
  // A list flag's: runs before each occurrence's values (argparse's nargs="+" keeps only the last
  // occurrence's: this clears the ones before). Unset: occurrences add up.
  std::function<void(command_line&)> begin_occurrence;
};

struct command_spec {
  std::string name;
  std::string summary;  // one line, for the overview
  std::string usage;    // e.g. "troupe serve [MODEL] [flags]"
  std::vector<flag_spec> flags;
  // Handles one positional argument; empty when the subcommand takes none.
  std::function<status(command_line&, std::string_view)> positional;
  // Checks across flags after all arguments are read (e.g. --prompt vs --prompt-ids).
  std::function<status(command_line&)> finish;
};

// Every subcommand that takes flags: serve, generate, tokenize, bench, top. Built once.
const std::vector<command_spec>& command_specs();
const command_spec* find_command(std::string_view name);
const flag_spec* find_flag(const command_spec& command, std::string_view normalized_name);

std::vector<flag_spec> serve_flag_specs();
std::vector<flag_spec> generate_flag_specs();  // includes a subset of serve's engine flags
std::vector<flag_spec> tokenize_flag_specs();
std::vector<flag_spec> bench_flag_specs();
std::vector<flag_spec> top_flag_specs();
status check_bench(command_line& c);  // cross-flag rules, run after all bench flags are read

// -- value syntax (flag_values.cpp) --
// "--Max_Model-Len" -> "Max-Model-Len" -> dashes stripped, '_' -> '-'; case is kept.
std::string normalize_flag_name(std::string_view text);
size_t edit_distance(std::string_view a, std::string_view b);
result<int64_t> parse_integer(std::string_view text, int64_t min, int64_t max);
// vLLM's human-readable integers: 4096, 4k (4000), 4K (4096), 1m, 1M, 1e3.
result<int64_t> parse_human_integer(std::string_view text, int64_t min, int64_t max);
result<double> parse_real(std::string_view text, double min, double max, bool min_exclusive);
result<bool> parse_bool(std::string_view text);
// Byte counts: 1073741824, 1e9, 512MiB, 2GiB, 2GB, 2G (binary, as vLLM), 2g (decimal).
result<int64_t> parse_bytes(std::string_view text);
result<std::string> parse_choice(std::string_view text, std::initializer_list<const char*> choices);
// "1,2,3" or "1 2 3" (or mixed); at least one id, each in [0, 2^31).
result<std::vector<int32_t>> parse_id_list(std::string_view text);
std::string format_real(double value);

// Appends `item` to `to`, preceded by `separator` unless `to` is empty.
inline void append_joined(std::string& to, std::string_view item, std::string_view separator) {
  if (!to.empty()) to += separator;
  to += item;
}

// -- how --help shows a default --
inline std::string show_value(const std::string& v) {
  return v.empty() ? "none" : v;
}
inline std::string show_value(bool v) {
  return v ? "true" : "false";
}
inline std::string show_value(double v) {
  return format_real(v);
}
inline std::string show_value(const std::vector<int32_t>& ids) {
  std::string text;
  for (int32_t id : ids)
    append_joined(text, std::to_string(id), ",");
  return text;
}
// A list of strings as the JSON list vLLM's list flags take: ["*"].
inline std::string show_value(const std::vector<std::string>& items) {
  std::string text;
  for (const std::string& item : items)
    append_joined(text, "\"" + item + "\"", ", ");
  return "[" + text + "]";
}
template <class T>
std::string show_value(const T& v) {
  if constexpr (requires { v.has_value(); }) {
    return v ? show_value(*v) : "none";
  } else {
    return std::to_string(v);
  }
}

template <class T>
struct unwrap_optional {
  using type = T;
};
template <class T>
struct unwrap_optional<std::optional<T>> {
  using type = T;
};
// The value type an accessor's field holds (int32_t for std::optional<int32_t>&).
template <class Access>
using field_value_t = typename unwrap_optional<
    std::remove_cvref_t<std::invoke_result_t<Access, command_line&>>>::type;

// -- builders: bind a flag to the field an accessor returns (a captureless lambda) --
template <class Access>
flag_spec make_flag(std::string name, flag_arity arity, std::string metavar, std::string help,
                    Access field) {
  flag_spec f{std::move(name), {}, arity, false, std::move(metavar), std::move(help), {}, {}};
  f.show = [field](command_line& c) { return show_value(field(c)); };
  return f;
}

// A value flag whose text `parse` (std::string_view -> result<X>) turns into the field's value.
template <class Access, class Parse>
flag_spec parsed_flag(std::string name, std::string metavar, std::string help, Access field,
                      Parse parse) {
  auto f =
      make_flag(std::move(name), flag_arity::value, std::move(metavar), std::move(help), field);
  f.set = [field, parse](command_line& c, std::string_view v) -> status {
    auto x = parse(v);
    if (!x) return x.err();
    field(c) = static_cast<field_value_t<Access>>(*x);
    return ok_status();
  };
  return f;
}

template <class Access>
flag_spec int_flag(std::string name, std::string metavar, std::string help, Access field,
                   int64_t min, int64_t max) {
  return parsed_flag(std::move(name), std::move(metavar), std::move(help), field,
                     [min, max](std::string_view v) { return parse_integer(v, min, max); });
}

template <class Access>
flag_spec real_flag(std::string name, std::string metavar, std::string help, Access field,
                    double min, double max, bool min_exclusive = false) {
  return parsed_flag(std::move(name), std::move(metavar), std::move(help), field,
                     [min, max, min_exclusive](std::string_view v) {
                       return parse_real(v, min, max, min_exclusive);
                     });
}

template <class Access>
flag_spec string_flag(std::string name, std::string metavar, std::string help, Access field) {
  auto f =
      make_flag(std::move(name), flag_arity::value, std::move(metavar), std::move(help), field);
  f.set = [field](command_line& c, std::string_view v) -> status {
    if (v.empty()) return error{"expected a non-empty value"};
    field(c) = std::string(v);
    return ok_status();
  };
  return f;
}

template <class Access>
flag_spec choice_flag(std::string name, std::string help, Access field,
                      std::initializer_list<const char*> choices) {
  std::string metavar;
  for (const char* choice : choices)
    append_joined(metavar, choice, ",");
  auto f =
      make_flag(std::move(name), flag_arity::value, "{" + metavar + "}", std::move(help), field);
  std::vector<std::string> kept(choices.begin(), choices.end());
  f.set = [field, kept](command_line& c, std::string_view v) -> status {
    for (const auto& choice : kept) {
      if (v == choice) {
        field(c) = choice;
        return ok_status();
      }
    }
    std::string all;
    for (const auto& choice : kept)
      append_joined(all, choice, ", ");
    return error{"expected one of " + all + ", got '" + std::string(v) + "'"};
  };
  return f;
}

template <class Access>
flag_spec bool_flag(std::string name, std::string help, Access field, bool negatable = false) {
  auto f = make_flag(std::move(name), flag_arity::boolean, "", std::move(help), field);
  f.negatable = negatable;
  f.set = [field](command_line& c, std::string_view v) -> status {
    auto b = parse_bool(v);
    if (!b) return b.err();
    field(c) = *b;
    return ok_status();
  };
  return f;
}

inline flag_spec with_aliases(flag_spec f, std::vector<std::string> aliases) {
  f.aliases = std::move(aliases);
  return f;
}

}  // namespace troupe::cli::detail
