// `troupe chat-template --tokenizer PATH [--chat-template FILE]`: renders JSONL chat requests
// from stdin with a tokenizer's chat template, one {"rendered": ...} or {"error": ...} line per
// input line on stdout. Parses its own flags (argv[1] is "chat-template").
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

#include "runtime/chat_template/chat_template.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

constexpr const char* usage =
    "usage: troupe chat-template --tokenizer PATH [--chat-template FILE]\n"
    "  Reads JSONL {\"messages\": [...], \"add_generation_prompt\": bool, \"tools\": [...],\n"
    "  \"extra_context\": {...}} on stdin and writes {\"rendered\": \"...\"} or\n"
    "  {\"error\": \"...\"} per line, rendering as transformers' apply_chat_template.\n"
    "  --tokenizer PATH       a GGUF file or a directory with tokenizer_config.json\n"
    "  --chat-template FILE   use this template text instead of the tokenizer's\n";

struct chat_template_flags {
  std::string tokenizer;
  std::string template_file;
};

// Accepts --name VALUE and --name=VALUE (underscores as dashes). nullopt after printing usage.
std::optional<chat_template_flags> parse_flags(int argc, const char* const* argv, int& exit_code) {
  chat_template_flags f;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      exit_code = 0;
      return std::nullopt;
    }
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    for (char& c : arg)
      c = c == '_' ? '-' : c;
    if (arg != "--tokenizer" && arg != "--chat-template") {
      std::fprintf(stderr, "troupe chat-template: unknown flag '%s'\n%s", argv[i], usage);
      exit_code = 2;
      return std::nullopt;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "troupe chat-template: %s needs a value\n", arg.c_str());
        exit_code = 2;
        return std::nullopt;
      }
      value = argv[++i];
    }
    (arg == "--tokenizer" ? f.tokenizer : f.template_file) = value;
  }
  if (f.tokenizer.empty()) {
    std::fprintf(stderr, "troupe chat-template: --tokenizer is required\n%s", usage);
    exit_code = 2;
    return std::nullopt;
  }
  return f;
}

}  // namespace

int run_chat_template(int argc, const char* const* argv) {
  int exit_code = 0;
  auto flags = parse_flags(argc, argv, exit_code);
  if (!flags) return exit_code;
  auto config = runtime::load_chat_template_config(flags->tokenizer);
  if (!config) {
    std::fprintf(stderr, "troupe chat-template: %s\n", config.message().c_str());
    return 2;
  }
  if (!flags->template_file.empty()) {
    std::ifstream in(flags->template_file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "troupe chat-template: cannot open %s\n", flags->template_file.c_str());
      return 2;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    config->source = ss.str();
  }
  auto tpl = runtime::chat_template::parse(config->source);
  if (!tpl) {
    std::fprintf(stderr, "troupe chat-template: %s\n", tpl.message().c_str());
    return 2;
  }
  std::string line;
  while (std::getline(std::cin, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string out = runtime::render_jsonl_line(*tpl, config->special_tokens, line);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace troupe::cli
