#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "actors/engine.hpp"
#include "http/api_keys.hpp"
#include "http/server.hpp"
#include "tools/cli/engine_startup.hpp"
#include "tools/cli/fingerprint.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

// Blocks SIGINT/SIGTERM in this thread (and so in every thread started after), so that
// wait_for_shutdown_signal() can take them synchronously instead of in a handler.
sigset_t block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

int wait_for_shutdown_signal(const sigset_t& set) {
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

// The chat template in vLLM's order: --chat-template, else the tokenizer's (--tokenizer or the
// model's files).
result<std::shared_ptr<const http::chat_template_setup>> load_chat_template(
    const command_line& cl, const started_engine& started) {
  auto setup = http::load_chat_template_setup(cl.serve.chat_template, started.tokenizer_path,
                                              &started.engine->tokenizer());
  if (!setup) return setup.err();
  if (setup->tpl) {
    spdlog::info("chat template: {}", setup->origin);
    http::apply_content_format_flag(*setup, cl.serve.chat_template_content_format);
  } else {
    spdlog::info("no chat template: /v1/chat/completions answers 400 (pass --chat-template)");
  }
  setup->content_format_flag = cl.serve.chat_template_content_format;
  setup->trust_request_template = cl.serve.trust_request_chat_template;
  setup->default_kwargs_json = cl.serve.default_chat_template_kwargs;
  return std::make_shared<const http::chat_template_setup>(std::move(*setup));
}

}  // namespace

int run_serve(const command_line& cl) {
  sigset_t signals = block_shutdown_signals();
  auto defaults = load_sampling_defaults(cl);
  if (!defaults) {
    std::fprintf(stderr, "troupe serve: %s\n", defaults.message().c_str());
    return 1;
  }
  // The certificates are read before the model loads: a wrong path fails at once.
  std::shared_ptr<http::tls_contexts> tls;
  if (cl.serve.tls.enabled()) {
    auto contexts = http::tls_contexts::create(cl.serve.tls);
    if (!contexts) {
      std::fprintf(stderr, "troupe serve: %s\n", contexts.message().c_str());
      return 1;
    }
    tls = std::move(*contexts);
  }
  if (cl.serve.enable_auto_tool_choice && cl.serve.tool_call_parser.empty()) {
    std::fprintf(stderr, "troupe serve: --enable-auto-tool-choice requires --tool-call-parser\n");
    return 1;
  }
  auto started = start_engine_from_flags(cl);
  if (!started) {
    std::fprintf(stderr, "troupe serve: %s\n", started.message().c_str());
    return 1;
  }
  const runtime::engine_config& config = started->config;
  actors::engine& engine = *started->engine;

  http::server_options options;
  options.host = config.host;
  options.port = static_cast<uint16_t>(config.port);
  options.num_io_threads = config.num_io_threads;
  options.disable_log_requests = config.disable_log_requests;
  options.disable_access_log = cl.serve.disable_uvicorn_access_log;
  options.access_log_excluded_paths = cl.serve.access_log_excluded_paths;
  options.enable_prompt_tokens_details = cl.serve.enable_prompt_tokens_details;
  options.enable_request_id_headers = cl.serve.enable_request_id_headers;
  options.max_logprobs = static_cast<int32_t>(cl.serve.max_logprobs);
  options.enable_per_request_metrics = cl.serve.enable_per_request_metrics;
  options.return_tokens_as_token_ids = cl.serve.return_tokens_as_token_ids;
  options.enable_force_include_usage = cl.serve.enable_force_include_usage;
  options.api_keys = http::effective_api_keys(cl.serve.api_keys, std::getenv("VLLM_API_KEY"));
  options.cors = http::cors_policy{cl.serve.allowed_origins, cl.serve.allowed_methods,
                                   cl.serve.allowed_headers, cl.serve.allow_credentials};
  options.response_role = cl.serve.response_role;
  options.tls = tls;
  options.root_path = cl.serve.root_path;
  options.exclude_tools_when_tool_choice_none = cl.serve.exclude_tools_when_tool_choice_none;
  options.version = TROUPE_VERSION;
  options.enable_server_load_tracking = cl.serve.enable_server_load_tracking;
  options.system_fingerprint =
      system_fingerprint(cl.serve, config, engine.info().max_model_len, TROUPE_VERSION);
  if (!cl.serve.structured_outputs_config.empty()) {  // checked when the flag was read
    options.structured_outputs =
        *http::parse_structured_outputs_config(cl.serve.structured_outputs_config);
  }
  // --reasoning-parser, or --structured-outputs-config's reasoning_parser (vLLM's two names).
  const std::string& reasoning_parser = cl.serve.reasoning_parser.empty()
                                            ? options.structured_outputs.reasoning_parser
                                            : cl.serve.reasoning_parser;
  auto chat_output =
      http::make_chat_output_setup(reasoning_parser, cl.serve.enable_auto_tool_choice,
                                   cl.serve.tool_call_parser, engine.tokenizer());
  if (!chat_output) {
    std::fprintf(stderr, "troupe serve: %s\n", chat_output.message().c_str());
    return 1;
  }
  options.chat_output = std::move(*chat_output);
  options.chat_output.grammar_in_reasoning = options.structured_outputs.enable_in_reasoning;
  options.chat_output.strict_tools = *http::find_tool_strict_level(cl.serve.tool_strict_level);
  if (cl.serve.seed) options.seed = static_cast<uint64_t>(*cl.serve.seed);
  options.sampling_defaults = std::move(*defaults);
  auto chat = load_chat_template(cl, *started);
  if (!chat) {
    std::fprintf(stderr, "troupe serve: %s\n", chat.message().c_str());
    return 1;
  }
  options.chat_template = std::move(*chat);
  options.anthropic_disabled_thinking_effort = cl.serve.anthropic_disabled_thinking_effort;
  // vLLM's switch, read as vLLM reads it (an integer, non-zero on).
  if (const char* store = std::getenv("VLLM_ENABLE_RESPONSES_API_STORE")) {
    options.enable_responses_store = std::strtol(store, nullptr, 10) != 0;
    if (options.enable_responses_store) {
      spdlog::info(
          "VLLM_ENABLE_RESPONSES_API_STORE: /v1/responses keeps stored responses (the "
          "newest 10000)");
    }
  }
  auto server = http::start_server(engine, options);
  if (!server) {
    std::fprintf(stderr, "troupe serve: %s\n", server.message().c_str());
    return 1;
  }
  spdlog::info("serving '{}' (max_model_len {}) on http://{}:{}", engine.info().served_model_name,
               engine.info().max_model_len, config.host, (*server)->port());

  int sig = wait_for_shutdown_signal(signals);
  spdlog::info("received signal {}, shutting down", sig);
  (*server)->stop();
  (*server)->wait();
  return 0;
}

}  // namespace troupe::cli
