// The subcommands: their flag tables, positional arguments, cross-flag checks, and --help text.
#include <string>
#include <string_view>

#include "tools/cli/flag_spec.hpp"

namespace troupe::cli::detail {
namespace {

// `troupe serve MODEL` as `vllm serve MODEL`.
status serve_positional(command_line& c, std::string_view arg) {
  if (!c.serve.positional_model.empty()) {
    return error{"unexpected argument '" + std::string(arg) +
                 "' for 'troupe serve': the model is '" + c.serve.positional_model + "'"};
  }
  c.serve.positional_model = std::string(arg);
  return ok_status();
}

// A positional model and a different --model are ambiguous (in whichever order they came).
status serve_finish(command_line& c) {
  const std::string& positional = c.serve.positional_model;
  if (positional.empty()) return ok_status();
  if (c.was_given("model") && c.engine.model != positional) {
    return error{"'troupe serve' got two models: '" + positional + "' and --model '" +
                 c.engine.model + "'"};
  }
  c.engine.model = positional;
  return ok_status();
}

status tokenize_positional(command_line& c, std::string_view arg) {
  c.tokenize.texts.emplace_back(arg);
  return ok_status();
}

// `troupe bench sweep [flags]`: the one positional bench takes.
status bench_positional(command_line& c, std::string_view arg) {
  if (arg != "sweep" || c.bench.sweep || !c.given_flags.empty()) {
    return error{"unexpected argument '" + std::string(arg) +
                 "' for 'troupe bench' (only 'troupe bench sweep [flags]' takes one)"};
  }
  c.bench.sweep = true;
  return ok_status();
}

status generate_finish(command_line& c) {
  bool has_text = c.was_given("prompt");
  bool has_ids = c.generate.prompt_ids.has_value();
  if (has_text && has_ids) {
    return error{"'troupe generate' takes --prompt or --prompt-ids, not both"};
  }
  if (!has_text && !has_ids) {
    return error{"'troupe generate' needs a prompt: --prompt TEXT or --prompt-ids 1,2,3"};
  }
  return ok_status();
}

// Texts given to `tokenize --decode` are id lists; parse them here so a typo is a parse error.
status tokenize_finish(command_line& c) {
  if (!c.tokenize.decode) return ok_status();
  c.tokenize.id_lists.clear();
  for (const auto& text : c.tokenize.texts) {
    auto ids = parse_id_list(text);
    if (!ids) return error{"'troupe tokenize --decode': " + ids.message()};
    c.tokenize.id_lists.push_back(std::move(*ids));
  }
  return ok_status();
}

std::vector<command_spec> build_commands() {
  std::vector<command_spec> commands;
  commands.push_back({"serve", "run the OpenAI-compatible HTTP server (vLLM flags)",
                      "troupe serve [MODEL] [flags]", serve_flag_specs(), serve_positional,
                      serve_finish});
  commands.push_back({"generate",
                      "complete one prompt offline and print the result",
                      "troupe generate --prompt TEXT | --prompt-ids IDS [flags]",
                      generate_flag_specs(),
                      {},
                      generate_finish});
  commands.push_back({"tokenize", "encode texts to token ids (or decode ids with --decode)",
                      "troupe tokenize --tokenizer PATH [--decode] [TEXT|IDS ...]",
                      tokenize_flag_specs(), tokenize_positional, tokenize_finish});
  commands.push_back({"bench", "load-test a server (vLLM benchmark_serving flags)",
                      "troupe bench [sweep] [flags]", bench_flag_specs(), bench_positional,
                      check_bench});
  commands.push_back({"top",
                      "live view of a server's engine and actors (/v1/telemetry)",
                      "troupe top [--url URL] [--interval SECONDS] [flags]",
                      top_flag_specs(),
                      {},
                      {}});
  return commands;
}

// "  --enable-chunked-prefill, --no-enable-chunked-prefill" / "  --port N"
std::string flag_label(const flag_spec& flag) {
  std::string label = "  --" + flag.name;
  for (const auto& alias : flag.aliases) {
    label += alias.size() <= 2 ? ", -" + alias : ", --" + alias;
  }
  if (flag.negatable) label += ", --no-" + flag.name;
  if (!flag.metavar.empty()) label += " " + flag.metavar;
  if (flag.arity == flag_arity::list) label += " [" + flag.metavar + " ...]";
  return label;
}

std::string flag_help_lines(const flag_spec& flag) {
  constexpr size_t help_column = 36;
  command_line defaults;
  std::string label = flag_label(flag);
  std::string line = label.size() + 2 <= help_column
                         ? label + std::string(help_column - label.size(), ' ')
                         : label + "\n" + std::string(help_column, ' ');
  return line + flag.help + " (default: " + flag.show(defaults) + ")\n";
}

std::string overview() {
  std::string text =
      "troupe: an actor-model LLM serving runtime (OpenAI-compatible, vLLM-style flags)\n\n"
      "usage: troupe <command> [flags]    (troupe <command> --help for its flags)\n\ncommands:\n";
  for (const auto& command : command_specs()) {
    text +=
        "  " + command.name + std::string(12 - command.name.size(), ' ') + command.summary + "\n";
  }
  // These two parse their own flags (tools/cli/make_model_command.cpp, chat_template_command.cpp).
  text +=
      "  make-model  write a tiny random Hugging Face model directory (test models)\n"
      "  chat-template  render JSONL chat requests with a tokenizer's chat template\n"
      "  version     print the version\n  help        print this overview\n";
  return text;
}

}  // namespace

const std::vector<command_spec>& command_specs() {
  static const std::vector<command_spec> commands = build_commands();
  return commands;
}

const command_spec* find_command(std::string_view name) {
  for (const auto& command : command_specs()) {
    if (command.name == name) return &command;
  }
  return nullptr;
}

const flag_spec* find_flag(const command_spec& command, std::string_view normalized_name) {
  for (const auto& flag : command.flags) {
    if (flag.name == normalized_name) return &flag;
    for (const auto& alias : flag.aliases) {
      if (alias == normalized_name) return &flag;
    }
  }
  return nullptr;
}

}  // namespace troupe::cli::detail

namespace troupe::cli {

std::string help_text(const std::string& command) {
  const detail::command_spec* spec = detail::find_command(command);
  if (!spec) return detail::overview();
  std::string text = "usage: " + spec->usage + "\n\n" + spec->summary + "\n\nflags:\n";
  for (const auto& flag : spec->flags)
    text += detail::flag_help_lines(flag);
  text += "  -h, --help" + std::string(24, ' ') + "show this help and exit\n";
  text +=
      "\nFlag names take '-' or '_' (--max-model-len == --max_model_len); values follow a space "
      "or '='.\n";
  return text;
}

}  // namespace troupe::cli
