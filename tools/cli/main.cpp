// troupe: serve | generate | tokenize | bench | top | make-model | chat-template | version | help.
// See docs/usage.md.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string_view>

#include "tools/cli/flags.hpp"
#include "tools/cli/subcommands.hpp"

namespace {

int run(const troupe::cli::command_line& cl) {
  using namespace troupe::cli;
  if (cl.help || cl.command == "help") {
    std::fputs(help_text(cl.command).c_str(), stdout);
    return 0;
  }
  if (cl.command == "version") {
    std::puts("troupe " TROUPE_VERSION);
    return 0;
  }
  if (!apply_log_level(cl.engine.log_level)) return 2;
  if (cl.command == "serve") return run_serve(cl);
  if (cl.command == "generate") return run_generate(cl);
  if (cl.command == "tokenize") return run_tokenize(cl);
  if (cl.command == "bench") return run_bench(cl);
  if (cl.command == "top") return run_top(cl);
  std::fprintf(stderr, "troupe: unknown command '%s' (troupe --help)\n", cl.command.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr, so stdout carries only results (generate --json, tokenize).
  spdlog::set_default_logger(spdlog::stderr_color_mt("troupe"));
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%l] %v");
  if (argc > 1 && std::string_view(argv[1]) == "make-model") {
    return troupe::cli::run_make_model(argc, argv);
  }
  if (argc > 1 && std::string_view(argv[1]) == "chat-template") {
    return troupe::cli::run_chat_template(argc, argv);
  }
  auto cl = troupe::cli::parse_command_line(argc, argv);
  if (!cl) {
    std::fprintf(stderr, "troupe: %s\n", cl.message().c_str());
    return 2;
  }
  return run(*cl);
}
