#pragma once
// The subcommands behind tools/cli/main.cpp. Each returns the process exit code and reports its
// own errors on stderr.
#include "tools/cli/flags.hpp"

namespace troupe::cli {

// Serves the OpenAI-compatible API until SIGINT or SIGTERM.
int run_serve(const command_line& cl);
// Generates one completion offline (through the same actors as serve) and prints it.
int run_generate(const command_line& cl);
// Encodes JSONL {"text": ...} lines from stdin to {"ids": [...]} (or decodes with --decode).
int run_tokenize(const command_line& cl);
// `troupe make-model`: a tiny random Hugging Face model directory. Parses its own flags
// (argv[1] is "make-model"); see make_model_command.cpp.
int run_make_model(int argc, const char* const* argv);
// `troupe chat-template --tokenizer PATH`: renders JSONL chat requests with the tokenizer's
// chat template. Parses its own flags (argv[1] is "chat-template"); see chat_template_command.cpp.
int run_chat_template(int argc, const char* const* argv);
// Runs benchmark_serving's load test against an OpenAI-compatible server; see docs/bench.md.
int run_bench(const command_line& cl);
// `troupe top`: a live terminal view of a server's /v1/telemetry until q, Ctrl-C or
// --iterations; plain lines when stdout is not a terminal. See docs/telemetry.md.
int run_top(const command_line& cl);

// Sets spdlog's level from --log-level; false with a message on stderr for an unknown level.
bool apply_log_level(const std::string& level);

}  // namespace troupe::cli
