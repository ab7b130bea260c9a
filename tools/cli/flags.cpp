// The argument walker: subcommand dispatch, flag syntax, error messages and --help rendering.
// What each flag means lives in the per-subcommand tables (serve_flags.cpp, bench_flags.cpp,
// offline_flags.cpp).
#include "tools/cli/flags.hpp"

#include "tools/cli/config_file.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tools/cli/config_file.hpp"
#include "tools/cli/flag_spec.hpp"

namespace troupe::cli {
namespace {

using detail::command_spec;
using detail::flag_arity;
using detail::flag_spec;

// "-5" and "-0.5" are values (a negative seed), not flags, as argparse treats them.
bool looks_like_flag(std::string_view arg) {
  if (arg.size() < 2 || arg[0] != '-') return false;
  return !(std::isdigit(static_cast<unsigned char>(arg[1])) || arg[1] == '.');
}

std::string where(const command_spec& command) {
  return "'troupe " + command.name + "'";
}

// The known spelling closest to `typed` (normalized), if it is close enough to be a typo.
std::string closest_flag(const command_spec& command, const std::string& typed) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, typed.size() / 3) + 1;
  auto consider = [&](const std::string& name) {
    size_t d = detail::edit_distance(typed, name);
    if (d < best_distance) best_distance = d, best = name;
  };
  for (const flag_spec& flag : command.flags) {
    consider(flag.name);
    for (const auto& alias : flag.aliases)
      consider(alias);
    if (flag.negatable) consider("no-" + flag.name);
  }
  return best;
}

error unknown_flag(const command_spec& command, std::string_view typed) {
  std::string message = "unknown flag " + std::string(typed) + " for " + where(command);
  std::string suggestion = closest_flag(command, detail::normalize_flag_name(typed));
  if (!suggestion.empty()) return error{message + "; did you mean --" + suggestion + "?"};
  return error{message + " (see troupe " + command.name + " --help)"};
}

struct argument_walker {
  const command_spec& command;
  command_line& out;
  const char* const* argv;
  int argc;
  int i = 2;  // argv[0] is the program, argv[1] the subcommand

  bool has_next_value() const { return i + 1 < argc && !looks_like_flag(argv[i + 1]); }

  status set(const flag_spec& flag, std::string_view value) {
    status s = flag.set(out, value);
    if (!s) {
      return error{"invalid value for --" + flag.name + " in " + where(command) + ": " +
                   s.message()};
    }
    return s;
  }

  status missing_value(const flag_spec& flag) {
    return error{"missing value for --" + flag.name + " in " + where(command) + ": expected " +
                 flag.metavar};
  }

  status apply(const flag_spec& flag, std::optional<std::string_view> inline_value) {
    out.given_flags.push_back(flag.name);
    switch (flag.arity) {
      case flag_arity::boolean:
        return set(flag, inline_value.value_or("true"));
      case flag_arity::value:
        if (inline_value) return set(flag, *inline_value);
        if (!has_next_value()) return missing_value(flag);
        return set(flag, argv[++i]);
      case flag_arity::list:
        if (flag.begin_occurrence) flag.begin_occurrence(out);
        if (inline_value) return set(flag, *inline_value);
        if (!has_next_value()) return missing_value(flag);
        while (has_next_value()) {
          if (status s = set(flag, argv[++i]); !s) return s;
        }
        return ok_status();
    }
    return ok_status();
  }

  // One argument that looks like a flag: --name, --name=value, --no-name.
  status flag_argument(std::string_view arg) {
    size_t eq = arg.find('=');
    std::string_view typed = arg.substr(0, eq);
    std::optional<std::string_view> inline_value;
    if (eq != std::string_view::npos) inline_value = arg.substr(eq + 1);
    std::string name = detail::normalize_flag_name(typed);
    if (const flag_spec* flag = detail::find_flag(command, name)) return apply(*flag, inline_value);
    if (name.starts_with("no-")) {
      const flag_spec* flag = detail::find_flag(command, name.substr(3));
      if (flag && flag->negatable) {
        if (inline_value) return error{std::string(typed) + " takes no value in " + where(command)};
        return apply(*flag, "false");
      }
    }
    return unknown_flag(command, typed);
  }

  status positional(std::string_view arg) {
    if (!command.positional) {
      return error{"unexpected argument '" + std::string(arg) + "' for " + where(command) +
                   " (flags start with --)"};
    }
    return command.positional(out, arg);
  }

  status run() {
    bool only_positionals = false;
    for (; i < argc; ++i) {
      std::string_view arg = argv[i];
      if (only_positionals || !looks_like_flag(arg)) {
        if (status s = positional(arg); !s) return s;
      } else if (arg == "--") {
        only_positionals = true;
      } else if (std::string name = detail::normalize_flag_name(arg);
                 name == "help" || name == "h") {
        out.help = true;  // like argparse: --help wins over whatever follows
        return ok_status();
      } else if (status s = flag_argument(arg); !s) {
        return s;
      }
    }
    return command.finish ? command.finish(out) : ok_status();
  }
};

std::string command_names() {
  std::string names;
  for (const auto& command : detail::command_specs())
    names += command.name + ", ";
  return names + "version, help";
}

}  // namespace

bool command_line::was_given(const std::string& canonical_name) const {
  return std::find(given_flags.begin(), given_flags.end(), canonical_name) != given_flags.end();
}

result<command_line> parse_command_line(int argc, const char* const* argv) {
  command_line out;
  std::string_view first = argc > 1 ? argv[1] : "help";
  if (first == "help" || first == "-h" || first == "--help") {
    out.command = "help";
    if (argc > 2 && detail::find_command(argv[2])) out.command = argv[2], out.help = true;
    return out;
  }
  if (first == "version" || first == "--version" || first == "-V") {
    if (argc > 2) return error{"'troupe version' takes no arguments"};
    out.command = "version";
    return out;
  }
  const command_spec* command = detail::find_command(first);
  if (!command) {
    return error{"unknown command '" + std::string(first) + "'; expected one of " +
                 command_names() + " (see troupe --help)"};
  }
  out.command = command->name;
  // vLLM's --config FILE.yaml: its flags spliced in before the command line's.
  auto args = expand_config_file(std::vector<std::string>(argv + 2, argv + argc),
                                 static_cast<bool>(command->positional), [&](std::string_view key) {
                                   const flag_spec* flag = detail::find_flag(
                                       *command, detail::normalize_flag_name(key));
                                   return flag != nullptr && flag->negatable;
                                 });
  if (!args) return error{"--config: " + args.message()};
  std::vector<const char*> expanded = {argv[0], argv[1]};
  for (const std::string& arg : *args)
    expanded.push_back(arg.c_str());
  argument_walker walker{*command, out, expanded.data(), static_cast<int>(expanded.size())};
  if (status s = walker.run(); !s) return s.err();
  return out;
}

std::vector<std::string> flag_names(const std::string& command) {
  std::vector<std::string> names;
  if (const command_spec* spec = detail::find_command(command)) {
    for (const flag_spec& flag : spec->flags)
      names.push_back(flag.name);
  }
  return names;
}

}  // namespace troupe::cli
