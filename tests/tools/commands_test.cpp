// The subcommands other than serve's engine flags: dispatch, generate, tokenize, bench, help.
#include <gtest/gtest.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "tools/cli/flags.hpp"

namespace troupe::cli {
namespace {

result<command_line> parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv = {"troupe"};
  argv.insert(argv.end(), args.begin(), args.end());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

command_line parse_ok(std::initializer_list<const char*> args) {
  auto parsed = parse(args);
  EXPECT_TRUE(parsed.ok()) << parsed.message();
  return parsed.ok() ? *parsed : command_line{};
}

std::string parse_error(std::initializer_list<const char*> args) {
  auto parsed = parse(args);
  EXPECT_FALSE(parsed.ok()) << "parsed although it should not";
  return parsed.ok() ? "" : parsed.message();
}

TEST(commands, dispatch_and_help_forms) {
  EXPECT_EQ(parse_ok({}).command, "help");
  for (const char* form : {"help", "-h", "--help"})
    EXPECT_EQ(parse_ok({form}).command, "help");
  EXPECT_EQ(parse_ok({"version"}).command, "version");
  EXPECT_EQ(parse_ok({"--version"}).command, "version");
  auto c = parse_ok({"serve", "--help"});
  EXPECT_EQ(c.command, "serve");
  EXPECT_TRUE(c.help);
  EXPECT_TRUE(parse_ok({"bench", "-h"}).help);
  EXPECT_TRUE(parse_ok({"help", "generate"}).help);
  EXPECT_EQ(parse_ok({"help", "generate"}).command, "generate");
  for (const char* command : {"serve", "generate", "tokenize", "bench", "top", "make-model",
                              "chat-template", "version"}) {
    EXPECT_NE(help_text("help").find(std::string("  ") + command + " "), std::string::npos)
        << command;
  }
  // --help wins even over an incomplete command, as in argparse.
  EXPECT_TRUE(parse_ok({"generate", "--help"}).help);
  EXPECT_EQ(parse_error({"srve"}),
            "unknown command 'srve'; expected one of serve, generate, tokenize, bench, top, "
            "version, help (see troupe --help)");
  EXPECT_EQ(parse_error({"version", "x"}), "'troupe version' takes no arguments");
}

TEST(commands, generate) {
  auto c = parse_ok({"generate", "--model",
                     "m.gguf",   "--prompt",
                     "Hello",    "--max-tokens",
                     "8",        "--temperature",
                     "0.7",      "--top-p",
                     "0.9",      "--top-k",
                     "40",       "--seed",
                     "3",        "--ignore-eos",
                     "--json",   "--max-model-len",
                     "512",      "--threads",
                     "2",        "--kv-cache-memory",
                     "64MiB",    "--block-size",
                     "16",       "--max-num-seqs",
                     "4",        "--max-num-batched-tokens",
                     "256",      "--num-gpu-blocks-override",
                     "10"});
  EXPECT_EQ(c.command, "generate");
  EXPECT_EQ(c.engine.model, "m.gguf");
  EXPECT_EQ(c.generate.prompt, "Hello");
  EXPECT_FALSE(c.generate.prompt_ids.has_value());
  EXPECT_EQ(c.generate.max_tokens, 8);
  EXPECT_DOUBLE_EQ(c.generate.temperature, 0.7);
  EXPECT_DOUBLE_EQ(c.generate.top_p, 0.9);
  EXPECT_EQ(c.generate.top_k, 40);
  EXPECT_EQ(c.generate.seed, 3u);
  EXPECT_TRUE(c.generate.ignore_eos);
  EXPECT_TRUE(c.generate.json);
  EXPECT_EQ(c.engine.max_model_len, 512);
  EXPECT_EQ(c.engine.num_compute_threads, 2);
  EXPECT_EQ(c.engine.kv_cache_memory, 64 << 20);
  EXPECT_EQ(c.engine.max_num_seqs, 4);
  EXPECT_EQ(c.engine.max_num_batched_tokens, 256);
  EXPECT_EQ(c.engine.num_gpu_blocks_override, 10);

  auto ids = parse_ok({"generate", "--prompt-ids", "1,2, 3"}).generate.prompt_ids;
  ASSERT_TRUE(ids.has_value());
  EXPECT_EQ(*ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(parse_ok({"generate", "--prompt", "x"}).generate.temperature, 0.0);  // greedy default
  EXPECT_EQ(
      parse_ok({"generate", "--prompt", "x", "--kv-cache-dtype", "fp8"}).engine.kv_cache_dtype,
      "fp8");
  for (const char* name : {"bfloat16", "float16"}) {
    EXPECT_EQ(
        parse_ok({"generate", "--prompt", "x", "--kv-cache-dtype", name}).engine.kv_cache_dtype,
        name);
  }
}

TEST(commands, generate_errors) {
  EXPECT_EQ(parse_error({"generate"}),
            "'troupe generate' needs a prompt: --prompt TEXT or --prompt-ids 1,2,3");
  EXPECT_EQ(parse_error({"generate", "--prompt", "a", "--prompt-ids", "1"}),
            "'troupe generate' takes --prompt or --prompt-ids, not both");
  EXPECT_EQ(parse_error({"generate", "--prompt-ids", "1,x"}),
            "invalid value for --prompt-ids in 'troupe generate': expected token ids like 1,2,3: "
            "expected an integer, got 'x'");
  EXPECT_FALSE(parse({"generate", "--prompt", "a", "--top-p", "0"}).ok());
  EXPECT_FALSE(parse({"generate", "--prompt", "a", "--temperature", "-1"}).ok());
  EXPECT_FALSE(parse({"generate", "--prompt", "a", "--max-tokens", "0"}).ok());
  // Server-only flags are not generate flags.
  EXPECT_EQ(
      parse_error({"generate", "--prompt", "a", "--port", "1"}).rfind("unknown flag --port", 0),
      0u);
  EXPECT_EQ(parse_error({"generate", "--prompt", "a", "stray"}),
            "unexpected argument 'stray' for 'troupe generate' (flags start with --)");
}

TEST(commands, tokenize) {
  auto c = parse_ok({"tokenize", "--model", "m.gguf", "--no-special-tokens", "hello", "world"});
  EXPECT_EQ(c.tokenize.tokenizer, "m.gguf");
  EXPECT_FALSE(c.tokenize.add_special_tokens);
  EXPECT_EQ(c.tokenize.texts, (std::vector<std::string>{"hello", "world"}));
  EXPECT_TRUE(parse_ok({"tokenize", "--tokenizer", "t"}).tokenize.add_special_tokens);

  auto d =
      parse_ok({"tokenize", "--tokenizer", "t", "--decode", "--skip-special-tokens", "1,2", "3 4"});
  EXPECT_TRUE(d.tokenize.decode);
  EXPECT_TRUE(d.tokenize.skip_special_tokens);
  ASSERT_EQ(d.tokenize.id_lists.size(), 2u);
  EXPECT_EQ(d.tokenize.id_lists[1], (std::vector<int32_t>{3, 4}));
  // A text that starts with dashes goes after "--".
  EXPECT_EQ(parse_ok({"tokenize", "--", "--not-a-flag"}).tokenize.texts[0], "--not-a-flag");
  EXPECT_EQ(parse_error({"tokenize", "--decode", "1,two"}),
            "'troupe tokenize --decode': expected token ids like 1,2,3: expected an integer, got "
            "'two'");
}

TEST(commands, bench_line_from_the_brief) {
  auto c = parse_ok({"bench", "--backend", "vllm", "--model", "/models/smol", "--dataset-name",
                     "custom", "--request-rate", "4", "--burstiness", "1", "--num-prompts", "10",
                     "--max-concurrency", "10"});
  EXPECT_EQ(c.command, "bench");
  EXPECT_EQ(c.bench.backend, "vllm");
  EXPECT_EQ(c.bench.model, "/models/smol");
  EXPECT_EQ(c.bench.dataset_name, "custom");
  EXPECT_DOUBLE_EQ(c.bench.request_rate, 4.0);
  EXPECT_DOUBLE_EQ(c.bench.burstiness, 1.0);
  EXPECT_EQ(c.bench.num_prompts, 10);
  EXPECT_EQ(c.bench.max_concurrency, 10);
}

TEST(commands, bench_prefix_repetition_flags_as_vllm_names_them) {
  auto d = parse_ok({"bench", "--dataset-name", "prefix_repetition"});
  EXPECT_EQ(d.bench.dataset_name, "prefix_repetition");
  EXPECT_EQ(d.bench.prefix_repetition_prefix_len, 256);
  EXPECT_EQ(d.bench.prefix_repetition_suffix_len, 256);
  EXPECT_EQ(d.bench.prefix_repetition_num_prefixes, 10);
  EXPECT_EQ(d.bench.prefix_repetition_output_len, 128);
  auto c =
      parse_ok({"bench", "--dataset-name", "prefix_repetition", "--prefix-repetition-prefix-len",
                "512", "--prefix_repetition_suffix_len", "16", "--prefix-repetition-num-prefixes",
                "2", "--prefix-repetition-output-len", "8"});
  EXPECT_EQ(c.bench.prefix_repetition_prefix_len, 512);
  EXPECT_EQ(c.bench.prefix_repetition_suffix_len, 16);
  EXPECT_EQ(c.bench.prefix_repetition_num_prefixes, 2);
  EXPECT_EQ(c.bench.prefix_repetition_output_len, 8);
  EXPECT_FALSE(parse_error({"bench", "--prefix-repetition-num-prefixes", "0"}).empty());
}

TEST(commands, bench_defaults_and_lists) {
  auto d = parse_ok({"bench"});
  EXPECT_TRUE(std::isinf(d.bench.request_rate));
  EXPECT_FALSE(d.bench.max_concurrency.has_value());
  EXPECT_EQ(d.bench.percentile_metrics, (std::vector<std::string>{"ttft", "tpot", "itl"}));

  auto c = parse_ok({"bench",
                     "--request_rate",
                     "inf",
                     "--header",
                     "A=1",
                     "B=x=y",
                     "--header=C=3",
                     "--goodput",
                     "ttft:500",
                     "tpot:50",
                     "--metadata",
                     "gpu=none",
                     "--percentile-metrics",
                     "ttft,e2el",
                     "--metric-percentiles",
                     "50,90,99.9",
                     "--save-result",
                     "--result-dir",
                     "/tmp",
                     "--ignore-eos",
                     "--temperature",
                     "0",
                     "--random-input-len",
                     "128",
                     "--random-output-len",
                     "64",
                     "--random-range-ratio",
                     "0.5",
                     "--disable-tqdm",
                     "--label",
                     "x"});
  EXPECT_TRUE(std::isinf(c.bench.request_rate));
  ASSERT_EQ(c.bench.headers.size(), 3u);
  EXPECT_EQ(c.bench.headers[1], (std::pair<std::string, std::string>{"B", "x=y"}));
  ASSERT_EQ(c.bench.goodput.size(), 2u);
  EXPECT_EQ(c.bench.goodput[1].first, "tpot");
  EXPECT_DOUBLE_EQ(c.bench.goodput[1].second, 50.0);
  EXPECT_EQ(c.bench.metadata[0].second, "none");
  EXPECT_EQ(c.bench.percentile_metrics, (std::vector<std::string>{"ttft", "e2el"}));
  EXPECT_EQ(c.bench.metric_percentiles, (std::vector<double>{50, 90, 99.9}));
  EXPECT_TRUE(c.bench.save_result);
  EXPECT_EQ(c.bench.temperature, 0.0);
  EXPECT_DOUBLE_EQ(c.bench.random_range_ratio, 0.5);
}

TEST(commands, bench_errors) {
  EXPECT_EQ(
      parse_error({"bench", "--backend", "vllm2"})
          .rfind("invalid value for --backend in 'troupe bench': expected one of vllm, openai", 0),
      0u);
  EXPECT_FALSE(parse({"bench", "--request-rate", "0"}).ok());
  EXPECT_FALSE(parse({"bench", "--burstiness", "0"}).ok());
  EXPECT_FALSE(parse({"bench", "--header"}).ok());
  EXPECT_FALSE(parse({"bench", "--header", "novalue"}).ok());
  EXPECT_FALSE(parse({"bench", "--goodput", "itl:5"}).ok());
  EXPECT_FALSE(parse({"bench", "--percentile-metrics", "ttft,foo"}).ok());
  EXPECT_FALSE(parse({"bench", "--metric-percentiles", "0"}).ok());
  EXPECT_FALSE(parse({"bench", "--random-range-ratio", "1"}).ok());
  EXPECT_EQ(parse_error({"bench", "--ramp-up-strategy", "linear"}),
            "'troupe bench': --ramp-up-strategy needs --ramp-up-start-rps and --ramp-up-end-rps");
  EXPECT_TRUE(parse({"bench", "--ramp-up-strategy", "linear", "--ramp-up-start-rps", "1",
                     "--ramp-up-end-rps", "5"})
                  .ok());
  EXPECT_FALSE(parse({"bench", "--ramp-up-end-rps", "5"}).ok());
}

TEST(commands, help_mentions_every_flag_with_a_default) {
  for (const char* command : {"serve", "generate", "tokenize", "bench"}) {
    std::string help = help_text(command);
    auto names = flag_names(command);
    EXPECT_FALSE(names.empty());
    for (const auto& name : names) {
      bool listed = help.find("--" + name + " ") != std::string::npos ||
                    help.find("--" + name + ",") != std::string::npos ||
                    help.find("--" + name + "\n") != std::string::npos;
      EXPECT_TRUE(listed) << command << " --" << name;
    }
    size_t defaults = 0;
    for (size_t at = help.find("(default: "); at != std::string::npos;
         at = help.find("(default: ", at + 1)) {
      ++defaults;
    }
    EXPECT_EQ(defaults, names.size()) << command;
  }
}

TEST(commands, serve_help_lists_every_flag_of_the_brief) {
  std::string help = help_text("serve");
  for (const char* flag : {"--model",
                           "--served-model-name",
                           "--max-model-len",
                           "--gpu-memory-utilization",
                           "--enable-chunked-prefill",
                           "--no-enable-chunked-prefill",
                           "--max-num-batched-tokens",
                           "--max-num-seqs",
                           "--enable-prefix-caching",
                           "--no-enable-prefix-caching",
                           "--prefix-caching-hash-algo",
                           "--enable-prompt-tokens-details",
                           "--pipeline-parallel-size",
                           "-pp",
                           "--kv-cache-dtype",
                           "--dtype",
                           "--tensor-parallel-size",
                           "-tp",
                           "--disable-log-requests",
                           "--host",
                           "--port",
                           "--log-level",
                           "--uvicorn-log-level",
                           "--block-size",
                           "--num-gpu-blocks-override",
                           "--kv-cache-memory",
                           "--seed",
                           "--trust-remote-code",
                           "--tokenizer",
                           "--max-waiting-requests",
                           "--threads",
                           "--actor-threads",
                           "--io-threads",
                           "--chat-template"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(help.find("has no effect"), std::string::npos);  // --trust-remote-code says so
  EXPECT_NE(help.find("--port N"), std::string::npos);
  EXPECT_NE(help.find("(default: 8000)"), std::string::npos);
  EXPECT_NE(help_text("help").find("serve"), std::string::npos);
}

}  // namespace
}  // namespace troupe::cli
