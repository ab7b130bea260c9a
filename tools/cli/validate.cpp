#include "tools/cli/validate.hpp"

#include <filesystem>
#include <fstream>
#include <string>

namespace troupe::cli {

status validate_paths(const command_line& command) {
  const std::string& path = command.serve.chat_template;
  if (path.empty()) return ok_status();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    // As vLLM, a value that is no file but looks like a template is the template text itself.
    if (path.find_first_of("{}\n") != std::string::npos) return ok_status();
    return error{"--chat-template " + path + ": no such file"};
  }
  if (!std::ifstream(path)) return error{"--chat-template " + path + ": cannot be read"};
  return ok_status();
}

}  // namespace troupe::cli
