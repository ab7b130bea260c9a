// The troupe command line: flag syntax, the user's vLLM serve line, errors, help text.
#include "tools/cli/flags.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

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

TEST(flags, users_vllm_serve_line) {
  auto c = parse_ok({"serve",
                     "--model",
                     "/models/smol",
                     "--served_model_name",
                     "smol",
                     "--max-model-len",
                     "4096",
                     "--gpu-memory-utilization",
                     "0.9",
                     "--enable-chunked-prefill",
                     "--max-num-batched-tokens",
                     "512",
                     "--max-num-seqs",
                     "16",
                     "--enable-prefix-caching",
                     "--kv-cache-dtype",
                     "auto",
                     "--dtype",
                     "auto",
                     "--tensor-parallel-size",
                     "2",
                     "--disable-log-requests"});
  EXPECT_EQ(c.command, "serve");
  EXPECT_FALSE(c.help);
  EXPECT_EQ(c.engine.model, "/models/smol");
  EXPECT_EQ(c.engine.served_model_name, "smol");
  EXPECT_EQ(c.engine.max_model_len, 4096);
  EXPECT_DOUBLE_EQ(c.engine.gpu_memory_utilization, 0.9);
  EXPECT_TRUE(c.engine.enable_chunked_prefill);
  EXPECT_EQ(c.engine.max_num_batched_tokens, 512);
  EXPECT_EQ(c.engine.max_num_seqs, 16);
  EXPECT_TRUE(c.engine.enable_prefix_caching);
  EXPECT_EQ(c.engine.kv_cache_dtype, "auto");
  EXPECT_EQ(c.engine.dtype, "auto");
  EXPECT_EQ(c.engine.tensor_parallel_size, 2);
  EXPECT_TRUE(c.engine.disable_log_requests);
  EXPECT_TRUE(c.was_given("served-model-name"));
  EXPECT_FALSE(c.was_given("port"));
}

TEST(flags, defaults_come_from_engine_config) {
  auto c = parse_ok({"serve"});
  runtime::engine_config defaults;
  EXPECT_EQ(c.engine.max_num_seqs, defaults.max_num_seqs);
  EXPECT_EQ(c.engine.port, defaults.port);
  EXPECT_EQ(c.engine.model, "");
  EXPECT_FALSE(c.serve.seed.has_value());
  EXPECT_FALSE(c.engine.max_num_batched_tokens.has_value());  // vLLM's rule decides it
}

TEST(flags, dash_underscore_and_equals_forms_are_equivalent) {
  for (auto args : {std::initializer_list<const char*>{"serve", "--max-model-len", "1024"},
                    {"serve", "--max_model_len", "1024"},
                    {"serve", "--max-model-len=1024"},
                    {"serve", "--max_model-len=1024"},
                    {"serve", "--max-model-len", "1K", "--port", "1"}}) {
    EXPECT_EQ(parse_ok(args).engine.max_model_len, 1024);
  }
  EXPECT_EQ(parse_ok({"serve", "--max-model-len", "4k"}).engine.max_model_len, 4000);
  EXPECT_EQ(parse_ok({"serve", "-tp", "1"}).engine.tensor_parallel_size, 1);
  EXPECT_EQ(parse_ok({"serve", "--tensor_parallel_size=3"}).engine.tensor_parallel_size, 3);
  EXPECT_EQ(parse_ok({"serve", "--uvicorn-log-level", "debug"}).engine.log_level, "debug");
}

TEST(flags, positional_model) {
  EXPECT_EQ(parse_ok({"serve", "/m.gguf", "--port", "9000"}).engine.model, "/m.gguf");
  EXPECT_EQ(parse_ok({"serve", "--port", "9000", "/m.gguf"}).engine.port, 9000);
  EXPECT_EQ(parse_error({"serve", "/a.gguf", "--model", "/b.gguf"}),
            "'troupe serve' got two models: '/a.gguf' and --model '/b.gguf'");
  EXPECT_EQ(parse_error({"serve", "--model", "/b.gguf", "/a.gguf"}),
            "'troupe serve' got two models: '/a.gguf' and --model '/b.gguf'");
  EXPECT_EQ(parse_ok({"serve", "/a.gguf", "--model", "/a.gguf"}).engine.model, "/a.gguf");
  EXPECT_EQ(parse_error({"serve", "/a.gguf", "/b.gguf"}),
            "unexpected argument '/b.gguf' for 'troupe serve': the model is '/a.gguf'");
}

TEST(flags, boolean_forms) {
  EXPECT_TRUE(parse_ok({"serve"}).engine.enable_prefix_caching);  // vLLM V1's default
  EXPECT_FALSE(parse_ok({"serve", "--no-enable-prefix-caching"}).engine.enable_prefix_caching);
  EXPECT_FALSE(parse_ok({"serve", "--no_enable_prefix_caching"}).engine.enable_prefix_caching);
  EXPECT_TRUE(parse_ok({"serve", "--enable-prefix-caching"}).engine.enable_prefix_caching);
  EXPECT_TRUE(parse_ok({"serve", "--enable-prefix-caching=true"}).engine.enable_prefix_caching);
  EXPECT_FALSE(parse_ok({"serve", "--enable-prefix-caching=false"}).engine.enable_prefix_caching);
  EXPECT_FALSE(parse_ok({"serve", "--enable-prefix-caching", "--no-enable-prefix-caching"})
                   .engine.enable_prefix_caching);
  EXPECT_FALSE(parse_ok({"serve", "--no-enable-chunked-prefill"}).engine.enable_chunked_prefill);
  EXPECT_FALSE(parse_ok({"serve", "--no_enable_chunked_prefill"}).engine.enable_chunked_prefill);
  EXPECT_TRUE(parse_ok({"serve", "--trust-remote-code"}).serve.trust_remote_code);
  // A boolean does not swallow the next argument: that stays the positional model.
  auto c = parse_ok({"serve", "--disable-log-requests", "model.gguf"});
  EXPECT_TRUE(c.engine.disable_log_requests);
  EXPECT_EQ(c.engine.model, "model.gguf");
  EXPECT_EQ(parse_error({"serve", "--enable-prefix-caching=maybe"}),
            "invalid value for --enable-prefix-caching in 'troupe serve': expected true or false, "
            "got 'maybe'");
  EXPECT_EQ(parse_error({"serve", "--no-enable-prefix-caching=true"}),
            "--no-enable-prefix-caching takes no value in 'troupe serve'");
  EXPECT_EQ(parse_error({"serve", "--no-disable-log-requests"}).rfind("unknown flag", 0), 0u);
}

TEST(flags, prefix_caching_flags) {
  auto defaults = parse_ok({"serve"});
  EXPECT_EQ(defaults.engine.prefix_caching_hash_algo, "sha256");
  EXPECT_FALSE(defaults.serve.enable_prompt_tokens_details);
  auto algo = [](std::initializer_list<const char*> args) {
    return parse_ok(args).engine.prefix_caching_hash_algo;
  };
  EXPECT_EQ(algo({"serve", "--prefix-caching-hash-algo", "xxhash"}), "xxhash");
  EXPECT_EQ(algo({"serve", "--prefix_caching_hash_algo=sha256"}), "sha256");
  // vLLM's CBOR variants parse (validate_engine_config refuses them, saying why).
  EXPECT_EQ(algo({"serve", "--prefix-caching-hash-algo", "sha256_cbor"}), "sha256_cbor");
  EXPECT_EQ(parse_error({"serve", "--prefix-caching-hash-algo", "md5"}),
            "invalid value for --prefix-caching-hash-algo in 'troupe serve': expected one of "
            "sha256, sha256_cbor, xxhash, xxhash_cbor, got 'md5'");
  auto details = [](std::initializer_list<const char*> args) {
    return parse_ok(args).serve.enable_prompt_tokens_details;
  };
  EXPECT_TRUE(details({"serve", "--enable-prompt-tokens-details"}));
  EXPECT_FALSE(
      details({"serve", "--enable-prompt-tokens-details", "--no-enable-prompt-tokens-details"}));
}

TEST(flags, pipeline_parallel_size) {
  EXPECT_EQ(parse_ok({"serve"}).engine.pipeline_parallel_size, 1);
  EXPECT_EQ(parse_ok({"serve", "--pipeline-parallel-size", "1"}).engine.pipeline_parallel_size, 1);
  EXPECT_EQ(parse_ok({"serve", "-pp", "2"}).engine.pipeline_parallel_size, 2);
  EXPECT_EQ(parse_ok({"serve", "--pipeline_parallel_size=4"}).engine.pipeline_parallel_size, 4);
  EXPECT_EQ(parse_error({"serve", "--pipeline-parallel-size", "0"}),
            "invalid value for --pipeline-parallel-size in 'troupe serve': expected an integer in "
            "[1, 1024], got '0'");
}

TEST(flags, data_parallel_size) {
  EXPECT_EQ(parse_ok({"serve"}).engine.data_parallel_size, 1);
  EXPECT_EQ(parse_ok({"serve", "-dp", "1"}).engine.data_parallel_size, 1);
  EXPECT_EQ(parse_ok({"serve", "--data_parallel_size=2"}).engine.data_parallel_size, 2);
  EXPECT_EQ(parse_ok({"serve"}).engine.data_parallel_routing, "prefix-aware");
  EXPECT_EQ(
      parse_ok({"serve", "--data-parallel-routing", "least-loaded"}).engine.data_parallel_routing,
      "least-loaded");
  // vLLM's multi-node flags, by their short names too (config_checks says which values run).
  const auto node = parse_ok({"serve", "-dp", "2", "-dpl", "2", "-dpa", "10.0.0.1", "-dpp", "13345",
                              "-dpb", "mp", "-dpr", "0", "-dpn", "1", "-dph", "-dpe", "-dpm"})
                        .engine.data_parallel_node;
  EXPECT_EQ(node.size_local, 2);
  EXPECT_EQ(node.address, "10.0.0.1");
  EXPECT_EQ(node.rpc_port, 13345);
  EXPECT_EQ(node.backend, "mp");
  EXPECT_EQ(node.start_rank, 0);
  EXPECT_EQ(node.rank, 1);
  EXPECT_TRUE(node.hybrid_lb && node.external_lb && node.multi_port_external_lb);
}

// vLLM's serving flags added with their features.
TEST(flags, scheduling_policy_max_logprobs_and_request_id_headers) {
  EXPECT_EQ(parse_ok({"serve"}).engine.scheduling_policy, "fcfs");
  EXPECT_EQ(parse_ok({"serve", "--scheduling-policy", "priority"}).engine.scheduling_policy,
            "priority");
  EXPECT_NE(parse_error({"serve", "--scheduling-policy", "lifo"}).find("fcfs"), std::string::npos);
  EXPECT_EQ(parse_ok({"serve"}).serve.max_logprobs, 20);
  EXPECT_EQ(parse_ok({"serve", "--max-logprobs", "-1"}).serve.max_logprobs, -1);
  EXPECT_EQ(parse_ok({"serve", "--max_logprobs=64"}).serve.max_logprobs, 64);
  parse_error({"serve", "--max-logprobs", "-2"});
  EXPECT_FALSE(parse_ok({"serve"}).serve.enable_request_id_headers);
  EXPECT_TRUE(parse_ok({"serve", "--enable-request-id-headers"}).serve.enable_request_id_headers);
}

TEST(flags, api_keys_cors_and_access_log_as_vllm_reads_them) {
  const command_line none = parse_ok({"serve"});
  EXPECT_TRUE(none.serve.api_keys.empty());
  EXPECT_TRUE(none.serve.allowed_origins.empty());
  EXPECT_EQ(none.serve.allowed_methods, std::vector<std::string>{"*"});
  EXPECT_EQ(none.serve.allowed_headers, std::vector<std::string>{"*"});
  EXPECT_FALSE(none.serve.allow_credentials);
  EXPECT_EQ(parse_ok({"serve", "--api-key", "a", "b"}).serve.api_keys,
            (std::vector<std::string>{"a", "b"}));
  // argparse's nargs="+": a later --api-key replaces the keys before it.
  EXPECT_EQ(parse_ok({"serve", "--api-key", "a", "b", "--api_key=c"}).serve.api_keys,
            std::vector<std::string>{"c"});
  const command_line cors = parse_ok(
      {"serve", "--allowed-origins", R"(["http://a.example", "http://b.example"])",
       "--allowed_methods", R"(["GET", "POST"])", "--allowed-headers=[]", "--allow-credentials"});
  EXPECT_EQ(cors.serve.allowed_origins,
            (std::vector<std::string>{"http://a.example", "http://b.example"}));
  EXPECT_EQ(cors.serve.allowed_methods, (std::vector<std::string>{"GET", "POST"}));
  EXPECT_TRUE(cors.serve.allowed_headers.empty());
  EXPECT_TRUE(cors.serve.allow_credentials);
  EXPECT_FALSE(
      parse_ok({"serve", "--allow-credentials", "--no-allow-credentials"}).serve.allow_credentials);
  EXPECT_NE(parse_error({"serve", "--allowed-origins", "*"}).find("JSON list"), std::string::npos);
  EXPECT_EQ(parse_ok({"serve", "--tokenizer-mode", "hf"}).serve.tokenizer_mode, "hf");
  EXPECT_NE(parse_error({"serve", "--tokenizer-mode", "mistral"}).find("auto, hf"),
            std::string::npos);
  EXPECT_EQ(parse_ok({"serve", "--max-log-len", "100"}).serve.max_log_len, 100);
  EXPECT_EQ(parse_ok({"serve", "--kv-cache-memory-bytes", "2G"}).engine.kv_cache_memory,
            int64_t{2} << 30);
  EXPECT_EQ(parse_ok({"serve", "--override-generation-config", R"({"temperature": 0.5})"})
                .serve.override_generation_config,
            R"({"temperature": 0.5})");
  EXPECT_NE(parse_error({"serve", "--override-generation-config", "0.5"}).find("JSON object"),
            std::string::npos);
  EXPECT_EQ(none.engine.quantization, "");
  EXPECT_EQ(parse_ok({"serve", "-q", "compressed-tensors"}).engine.quantization,
            "compressed-tensors");
  EXPECT_EQ(parse_ok({"serve", "--quantization=gguf"}).engine.quantization, "gguf");
  EXPECT_EQ(none.serve.response_role, "assistant");
  EXPECT_EQ(parse_ok({"serve", "--response-role", "bot"}).serve.response_role, "bot");
  EXPECT_FALSE(none.serve.disable_uvicorn_access_log);
  EXPECT_TRUE(none.serve.access_log_excluded_paths.empty());
  const command_line quiet =
      parse_ok({"serve", "--disable-uvicorn-access-log", "--disable-access-log-for-endpoints",
                " /health, ,/metrics,"});
  EXPECT_TRUE(quiet.serve.disable_uvicorn_access_log);
  EXPECT_EQ(quiet.serve.access_log_excluded_paths,
            (std::vector<std::string>{"/health", "/metrics"}));
  parse_error({"serve", "--api-key"});
  const command_line tls =
      parse_ok({"serve", "--ssl-certfile", "c.pem", "--ssl_keyfile", "k.pem", "--ssl-ca-certs",
                "ca.pem", "--ssl-cert-reqs", "2", "--ssl-ciphers", "ECDHE-RSA-AES256-GCM-SHA384",
                "--enable-ssl-refresh"});
  EXPECT_EQ(tls.serve.tls.certfile, "c.pem");
  EXPECT_EQ(tls.serve.tls.keyfile, "k.pem");
  EXPECT_EQ(tls.serve.tls.ca_certs, "ca.pem");
  EXPECT_EQ(tls.serve.tls.cert_reqs, 2);
  EXPECT_EQ(tls.serve.tls.ciphers, "ECDHE-RSA-AES256-GCM-SHA384");
  EXPECT_TRUE(tls.serve.tls.refresh);
  EXPECT_FALSE(none.serve.tls.enabled());
  parse_error({"serve", "--ssl-cert-reqs", "3"});
  EXPECT_EQ(none.serve.chat_template_content_format, "auto");
  EXPECT_EQ(parse_ok({"serve", "--root-path", "/api"}).serve.root_path, "/api");
  EXPECT_EQ(parse_ok({"serve", "--chat-template-content-format", "openai"})
                .serve.chat_template_content_format,
            "openai");
  parse_error({"serve", "--chat-template-content-format", "list"});
  const command_line chat =
      parse_ok({"serve", "--trust-request-chat-template", "--default-chat-template-kwargs",
                R"({"enable_thinking": false})", "--exclude-tools-when-tool-choice-none"});
  EXPECT_TRUE(chat.serve.trust_request_chat_template);
  EXPECT_EQ(chat.serve.default_chat_template_kwargs, R"({"enable_thinking":false})");
  EXPECT_TRUE(chat.serve.exclude_tools_when_tool_choice_none);
  parse_error({"serve", "--default-chat-template-kwargs", "[]"});
}

// The serve line this work was asked to run, unchanged but for the model path.
TEST(flags, prefix_caching_serve_line) {
  auto c = parse_ok({"serve",
                     "--served_model_name",
                     "story",
                     "--model",
                     "/models/M",
                     "--gpu-memory-utilization",
                     "0.9",
                     "--max-model-len",
                     "8192",
                     "--tensor-parallel-size",
                     "1",
                     "--pipeline-parallel-size",
                     "1",
                     "--enable-chunked-prefill",
                     "--max-num-batched-tokens",
                     "512",
                     "--max-num-seqs",
                     "16",
                     "--enable-prefix-caching",
                     "--kv-cache-dtype",
                     "auto",
                     "--dtype",
                     "auto",
                     "--disable-log-requests"});
  EXPECT_EQ(c.engine.served_model_name, "story");
  EXPECT_EQ(c.engine.model, "/models/M");
  EXPECT_EQ(c.engine.max_model_len, 8192);
  EXPECT_EQ(c.engine.tensor_parallel_size, 1);
  EXPECT_EQ(c.engine.pipeline_parallel_size, 1);
  EXPECT_TRUE(c.engine.enable_chunked_prefill);
  EXPECT_EQ(c.engine.max_num_batched_tokens, 512);
  EXPECT_EQ(c.engine.max_num_seqs, 16);
  EXPECT_TRUE(c.engine.enable_prefix_caching);
  EXPECT_EQ(c.engine.prefix_caching_hash_algo, "sha256");
  EXPECT_TRUE(c.engine.disable_log_requests);
}

TEST(flags, generate_takes_only_the_prefix_caching_switch) {
  EXPECT_FALSE(parse_ok({"generate", "--prompt", "a", "--no-enable-prefix-caching"})
                   .engine.enable_prefix_caching);
  EXPECT_TRUE(parse_ok({"generate", "--prompt", "a"}).engine.enable_prefix_caching);
  for (const char* flag : {"--pipeline-parallel-size=1", "--prefix-caching-hash-algo=sha256",
                           "--enable-prompt-tokens-details"}) {
    EXPECT_EQ(parse_error({"generate", "--prompt", "a", flag}).rfind("unknown flag", 0), 0u)
        << flag;
  }
}

TEST(flags, unknown_flag_suggests_the_closest) {
  EXPECT_EQ(parse_error({"serve", "--max-model-lenn", "4096"}),
            "unknown flag --max-model-lenn for 'troupe serve'; did you mean --max-model-len?");
  EXPECT_EQ(parse_error({"serve", "--max_num_seq", "4"}),
            "unknown flag --max_num_seq for 'troupe serve'; did you mean --max-num-seqs?");
  EXPECT_EQ(parse_error({"serve", "--enable-prefix-cache"}),
            "unknown flag --enable-prefix-cache for 'troupe serve'; did you mean "
            "--enable-prefix-caching?");
  EXPECT_EQ(parse_error({"serve", "--kv-transfer-config", "{}"}),
            "unknown flag --kv-transfer-config for 'troupe serve' (see troupe serve --help)");
  EXPECT_EQ(parse_error({"bench", "--request-rat", "4"}),
            "unknown flag --request-rat for 'troupe bench'; did you mean --request-rate?");
}

TEST(flags, bad_values_name_the_flag) {
  EXPECT_EQ(parse_error({"serve", "--max-num-seqs"}),
            "missing value for --max-num-seqs in 'troupe serve': expected N");
  EXPECT_EQ(parse_error({"serve", "--model", "--port", "1"}),
            "missing value for --model in 'troupe serve': expected PATH");
  EXPECT_EQ(parse_error({"serve", "--port", "eighty"}),
            "invalid value for --port in 'troupe serve': expected an integer, got 'eighty'");
  EXPECT_EQ(parse_error({"serve", "--port", "70000"}),
            "invalid value for --port in 'troupe serve': expected an integer in [0, 65535], got "
            "'70000'");
  EXPECT_EQ(
      parse_error({"serve", "--max-num-seqs", "0"}),
      "invalid value for --max-num-seqs in 'troupe serve': expected an integer >= 1, got '0'");
  EXPECT_EQ(parse_error({"serve", "--gpu-memory-utilization", "1.5"}),
            "invalid value for --gpu-memory-utilization in 'troupe serve': expected a number in "
            "(0, 1], got '1.5'");
  EXPECT_NE(parse_error({"serve", "--gpu-memory-utilization=0"})
                .find("expected a number in (0, 1], got '0'"),
            std::string::npos);
  EXPECT_EQ(parse_error({"serve", "--dtype", "fp4"}),
            "invalid value for --dtype in 'troupe serve': expected one of auto, half, float16, "
            "bfloat16, float, float32, got 'fp4'");
  EXPECT_EQ(parse_error({"serve", "--max-model-len", "4096.5"}),
            "invalid value for --max-model-len in 'troupe serve': expected an integer (suffixes k, "
            "K, m, M allowed), got '4096.5'");
  EXPECT_FALSE(parse({"serve", "--threads", "-1"}).ok());
  EXPECT_FALSE(parse({"serve", "--port", ""}).ok());
  EXPECT_FALSE(parse({"serve", "--model="}).ok());
  EXPECT_FALSE(parse({"serve", "--port", "99999999999999999999999"}).ok());
}

TEST(flags, kv_cache_memory_suffixes) {
  auto bytes = [](const char* text) {
    return parse_ok({"serve", "--kv-cache-memory", text}).engine.kv_cache_memory;
  };
  EXPECT_EQ(bytes("1073741824"), int64_t{1} << 30);
  EXPECT_EQ(bytes("2GiB"), int64_t{2} << 30);
  EXPECT_EQ(bytes("512MiB"), int64_t{512} << 20);
  EXPECT_EQ(bytes("1e9"), 1000000000);
  EXPECT_EQ(bytes("2GB"), 2000000000);
  EXPECT_EQ(bytes("1.5KiB"), 1536);
  EXPECT_EQ(bytes("4G"), int64_t{4} << 30);
  EXPECT_EQ(bytes("0"), 0);
  EXPECT_FALSE(parse({"serve", "--kv-cache-memory", "-1GiB"}).ok());
  EXPECT_FALSE(parse({"serve", "--kv-cache-memory", "12 parsecs"}).ok());
  EXPECT_FALSE(parse({"serve", "--kv-cache-memory", "1e30"}).ok());
  EXPECT_FALSE(parse({"serve", "--kv-cache-memory", "inf"}).ok());
  EXPECT_FALSE(parse({"serve", "--kv-cache-memory", "GiB"}).ok());
}

TEST(flags, every_documented_serve_flag_parses) {
  auto c = parse_ok({"serve",   "--tokenizer",
                     "/tok",    "--block-size",
                     "32",      "--num-gpu-blocks-override",
                     "100",     "--seed",
                     "-7",      "--max-waiting-requests",
                     "8",       "--threads",
                     "2",       "--actor-threads",
                     "2",       "--io-threads",
                     "3",       "--host",
                     "0.0.0.0", "--port",
                     "8080",    "--log-level",
                     "warning", "--chat-template",
                     "/t.jinja"});
  EXPECT_EQ(c.engine.tokenizer, "/tok");
  EXPECT_EQ(c.engine.block_size, 32);
  EXPECT_EQ(c.engine.num_gpu_blocks_override, 100);
  EXPECT_EQ(c.serve.seed, -7);
  EXPECT_EQ(c.engine.max_waiting_requests, 8);
  EXPECT_EQ(c.engine.num_compute_threads, 2);
  EXPECT_EQ(c.engine.num_actor_threads, 2);
  EXPECT_EQ(c.engine.num_io_threads, 3);
  EXPECT_EQ(c.engine.host, "0.0.0.0");
  EXPECT_EQ(c.engine.port, 8080);
  EXPECT_EQ(c.engine.log_level, "warning");
  EXPECT_EQ(c.serve.chat_template, "/t.jinja");
}

TEST(flags, repeated_scalar_flag_last_wins) {
  EXPECT_EQ(parse_ok({"serve", "--port", "1", "--port=2"}).engine.port, 2);
}

// vLLM's answer-parser flags, in both spellings; unknown parser names are errors naming the
// known ones.
TEST(flags, answer_parser_flags_take_vllms_names) {
  const auto cl = parse_ok({"serve", "--enable-auto-tool-choice", "--tool-call-parser", "hermes",
                            "--reasoning_parser", "qwen3"});
  EXPECT_TRUE(cl.serve.enable_auto_tool_choice);
  EXPECT_EQ(cl.serve.tool_call_parser, "hermes");
  EXPECT_EQ(cl.serve.reasoning_parser, "qwen3");
  for (const char* name : {"llama3_json", "llama4_json", "pythonic", "mistral"})
    EXPECT_EQ(parse_ok({"serve", "--tool_call_parser", name}).serve.tool_call_parser, name);
  EXPECT_EQ(parse_ok({"serve", "--reasoning-parser", "deepseek_r1"}).serve.reasoning_parser,
            "deepseek_r1");
  EXPECT_NE(parse_error({"serve", "--tool-call-parser", "internlm"}).find("hermes"),
            std::string::npos);
  EXPECT_NE(parse_error({"serve", "--reasoning-parser", "granite"}).find("deepseek_r1"),
            std::string::npos);
  EXPECT_EQ(parse_ok({"serve"}).serve.tool_strict_level, "auto");
  for (const char* level : {"auto", "function", "parameter"})
    EXPECT_EQ(parse_ok({"serve", "--tool_strict_level", level}).serve.tool_strict_level, level);
  EXPECT_NE(parse_error({"serve", "--tool-strict-level", "arguments"}).find("parameter"),
            std::string::npos);
  EXPECT_EQ(parse_ok({"serve"}).serve.anthropic_disabled_thinking_effort, "auto");
  EXPECT_EQ(parse_ok({"serve", "--anthropic_disabled_thinking_effort", "none"})
                .serve.anthropic_disabled_thinking_effort,
            "none");
  EXPECT_NE(parse_error({"serve", "--anthropic-disabled-thinking-effort", "off"}).find("xhigh"),
            std::string::npos);
}

TEST(flags, structured_outputs_settings_are_checked_when_read) {
  const auto cl = parse_ok({"serve", "--structured-outputs-config",
                            R"({"backend": "xgrammar", "disable_any_whitespace": true})",
                            "--guided-decoding-backend", "outlines"});
  EXPECT_EQ(cl.serve.structured_outputs_config,
            R"({"backend": "xgrammar", "disable_any_whitespace": true})");
  EXPECT_NE(parse_error({"serve", "--structured-outputs-config", "{nope"}).find("JSON object"),
            std::string::npos);
  EXPECT_NE(parse_error({"serve", "--structured-outputs-config", R"({"reasoning_parser": "x"})"})
                .find("reasoning"),
            std::string::npos);
  parse_error({"serve", "--guided-decoding-backend", "lark"});
}

// vLLM's --speculative-config (ngram only), read into engine.speculative when parsed.
TEST(flags, speculative_config) {
  EXPECT_FALSE(parse_ok({"serve"}).engine.speculative.enabled());
  const auto c =
      parse_ok({"serve", "--speculative-config",
                R"({"method":"ngram","num_speculative_tokens":3,"prompt_lookup_max":4})"});
  EXPECT_EQ(c.engine.speculative,
            (runtime::speculative_config{
                .num_speculative_tokens = 3, .prompt_lookup_min = 4, .prompt_lookup_max = 4}));
  EXPECT_EQ(parse_ok({"serve",
                      "--speculative_config="
                      R"({"model": "[ngram]", "num_speculative_tokens": 2})"})
                .engine.speculative.num_speculative_tokens,
            2);
  EXPECT_EQ(parse_ok({"serve", "-sc", R"({"method": "ngram", "num_speculative_tokens": 5})"})
                .engine.speculative.num_speculative_tokens,
            5);
  EXPECT_EQ(parse_ok({"generate", "--prompt", "a", "--speculative-config",
                      R"({"method": "ngram", "num_speculative_tokens": 1})"})
                .engine.speculative.num_speculative_tokens,
            1);
  EXPECT_EQ(
      parse_error({"serve", "--speculative-config", "{nope"})
          .rfind("invalid value for --speculative-config in 'troupe serve': not valid JSON", 0),
      0u);
  EXPECT_EQ(parse_error({"serve", "--speculative-config",
                         R"({"method": "eagle", "num_speculative_tokens": 3})"}),
            "invalid value for --speculative-config in 'troupe serve': method 'eagle' is not "
            "supported: troupe supports only the ngram method (prompt lookup decoding), no draft "
            "model");
}

}  // namespace
}  // namespace troupe::cli
