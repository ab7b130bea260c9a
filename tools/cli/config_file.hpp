#pragma once
// vLLM's `--config FILE.yaml`: a YAML mapping of flag names to values, spliced into the command
// line as vLLM's FlexibleArgumentParser splices it: after the subcommand (and serve's positional
// model), before the other arguments, so a flag given on the command line wins over the file's.
// Each `key: value` becomes (PyYAML's safe_load types, YAML 1.1):
//   true                 --key          false   --no-key (only where that flag exists)
//   [a, b]               --key a b      []      nothing
//   {a: 1}               --key '{"a": 1}' (json.dumps)
//   anything else        --key str(value)  (12_000 -> 12000, 0.90 -> 0.9, null -> None)
// The file (libyaml's parser) must end in .yaml or .yml and hold one mapping.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::cli {

// Whether `--no-<name>` is a flag of the subcommand (name: as the file spells the key).
using negatable_flag = std::function<bool(std::string_view name)>;

// The flags of a YAML document's top-level mapping, in order. Errors name the problem.
result<std::vector<std::string>> config_yaml_args(std::string_view yaml,
                                                  const negatable_flag& negatable);

// `args` (what follows the subcommand) with `--config FILE` (or `--config=FILE`) replaced by the
// file's flags, spliced after a leading positional argument when `positional` (serve's model,
// which then wins over the file's `model`).
// Unchanged without --config; more than one is an error, as in vLLM.
result<std::vector<std::string>> expand_config_file(std::vector<std::string> args, bool positional,
                                                    const negatable_flag& negatable);

}  // namespace troupe::cli
