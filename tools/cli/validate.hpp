#pragma once
// Checks of flags that are the CLI's own, not the engine's: the engine configuration is validated
// by runtime::validate_engine_config (runtime/serving/config_checks.hpp), which
// runtime::build_engine runs.
#include "base/result.hpp"
#include "tools/cli/flags.hpp"

namespace troupe::cli {

// Settings that name files: --chat-template must be a readable regular file, or (as vLLM takes
// it) the template text itself, recognised by containing '{', '}' or a newline.
// guarantees: reads the file system only (stat/open), changes nothing.
status validate_paths(const command_line& command);

}  // namespace troupe::cli
