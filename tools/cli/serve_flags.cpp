// `troupe serve` flags (vLLM's names and meanings), and the offline subcommands' tables:
// `generate` reuses the engine flags that matter without a server; `tokenize` has its own few.
// Ranges here are what a value can mean at all; what troupe does not support yet (pp > 1,
// fp8 KV cache, ...) is accepted here and rejected by runtime::validate_engine_config with a
// message saying so.
#include <fmt/format.h>
#include <algorithm>
#include <cctype>
#include <limits>
#include <ranges>
#include <string>

#include "http/chat_prompt.hpp"
#include "http/cors.hpp"
#include "http/reasoning_parsers.hpp"
#include "http/structured_outputs_config.hpp"
#include "http/tool_parsers.hpp"
#include "runtime/formats/generation_config.hpp"
#include "runtime/serving/speculative_config.hpp"
#include "tools/cli/flag_spec.hpp"

namespace troupe::cli::detail {
namespace {

// A captureless accessor lambda for a field of command_line, e.g. FIELD(engine.port).
#define FIELD(path)               \
  [](command_line & c) -> auto& { \
    return c.path;                \
  }

constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
constexpr double no_max = std::numeric_limits<double>::max();

template <class Access>
flag_spec human_int_flag(std::string name, std::string help, Access field, int64_t min) {
  return parsed_flag(std::move(name), "N", std::move(help), field,
                     [min](std::string_view v) { return parse_human_integer(v, min, int32_max); });
}

// A vLLM flag whose value is a JSON list of strings (--allowed-origins '["*"]').
template <class Access>
flag_spec json_list_flag(std::string name, std::string help, Access field) {
  return parsed_flag(std::move(name), "JSON", std::move(help), field, http::parse_json_string_list);
}

// "a, b,,c" -> {"a", "b", "c"}: split at commas, blanks trimmed, empty items dropped (vLLM's
// --disable-access-log-for-endpoints).
result<std::vector<std::string>> comma_list(std::string_view text) {
  std::vector<std::string> items;
  for (const auto part : std::views::split(text, ',')) {
    std::string_view item(part.begin(), part.end());
    const auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
    while (!item.empty() && blank(item.front()))
      item.remove_prefix(1);
    while (!item.empty() && blank(item.back()))
      item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

// --api-key KEY [KEY ...]: as vLLM's argparse reads it, the last occurrence's keys.
flag_spec api_key_flag() {
  flag_spec f{"api-key",
              {},
              flag_arity::list,
              false,
              "KEY",
              "the API's paths (/v1/...) need `Authorization: Bearer KEY`, one of these keys; "
              "none = VLLM_API_KEY's, if set",
              {},
              {}};
  f.set = [](command_line& c, std::string_view v) -> status {
    c.serve.api_keys.emplace_back(v);
    return ok_status();
  };
  f.show = [](command_line&) { return std::string("none"); };
  f.begin_occurrence = [](command_line& c) { c.serve.api_keys.clear(); };
  return f;
}

std::vector<flag_spec> model_flags() {
  return {
      string_flag("model", "PATH",
                  "a .gguf file or Hugging Face model directory (or positional MODEL); "
                  "none = the default SmolLM2-135M-Instruct",
                  FIELD(engine.model)),
      string_flag("served-model-name", "NAME", "model name clients send; none = the model's name",
                  FIELD(engine.served_model_name)),
      with_aliases(string_flag("quantization", "METHOD",
                               "the method the checkpoint is quantized with (vLLM's names: "
                               "compressed-tensors, gguf); another, or one on an unquantized "
                               "checkpoint, is refused",
                               FIELD(engine.quantization)),
                   {"q"}),
      string_flag("tokenizer", "PATH",
                  "tokenizer to use instead of the model's own: a .gguf file, a directory, or "
                  "its tokenizer.json / tokenizer.model",
                  FIELD(engine.tokenizer)),
      human_int_flag("max-model-len",
                     "context length (prompt + output); 0 = the model's (4k, 4K ok)",
                     FIELD(engine.max_model_len), 0),
      choice_flag("dtype", "weight/activation dtype; CPU computes in float32", FIELD(engine.dtype),
                  {"auto", "half", "float16", "bfloat16", "float", "float32"}),
      // vLLM's full list, so its other names get validate_engine_config's message.
      choice_flag("load-format",
                  "how to load the weights: auto (the model's format), safetensors, gguf, or "
                  "dummy (random weights from a directory's config.json, for benchmarks)",
                  FIELD(engine.load_format),
                  {"auto", "pt", "safetensors", "npcache", "dummy", "tensorizer", "sharded_state",
                   "gguf", "bitsandbytes", "mistral", "runai_streamer", "runai_streamer_sharded",
                   "fastsafetensors", "instanttensor"}),
      choice_flag("kv-cache-dtype",
                  "KV cache dtype: auto (the model's dtype on a GPU, f32 on the CPU), two bytes "
                  "an element: bfloat16, float16, or one: fp8 (= fp8_e4m3), fp8_e5m2",
                  FIELD(engine.kv_cache_dtype),
                  {"auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2"}),
      choice_flag("tokenizer-mode",
                  "auto and hf read the Hugging Face tokenizer files (troupe has no "
                  "mistral_common or other tokenizer modes)",
                  FIELD(serve.tokenizer_mode), {"auto", "hf"}),
      int_flag("max-log-len", "N",
               "accepted for vLLM compatibility; has no effect (request log lines carry token "
               "counts, never prompt text)",
               FIELD(serve.max_log_len), 0, int64_max),
      bool_flag("trust-remote-code",
                "accepted for vLLM compatibility; has no effect (troupe runs no model code)",
                FIELD(serve.trust_remote_code)),
      int_flag("seed", "N", "seeds requests that send none, in arrival order; none = random",
               FIELD(serve.seed), std::numeric_limits<int64_t>::min(), int64_max),
      string_flag("generation-config", "auto|vllm|DIR",
                  "sampling defaults: auto = the model's generation_config.json, vllm = none, "
                  "DIR = DIR/generation_config.json",
                  FIELD(serve.generation_config)),
      parsed_flag("override-generation-config", "JSON",
                  "sampling defaults over the generation config's, e.g. '{\"temperature\": "
                  "0.5}' (with --generation-config vllm, the only ones)",
                  FIELD(serve.override_generation_config),
                  [](std::string_view v) -> result<std::string> {
                    auto checked = runtime::apply_generation_overrides({}, v);
                    if (!checked) return checked.err();
                    return std::string(v);
                  }),
      string_flag("chat-template", "PATH",
                  "Jinja chat template of /v1/chat/completions: a file, or the template text "
                  "itself; none = the tokenizer's",
                  FIELD(serve.chat_template)),
      choice_flag("chat-template-content-format",
                  "how message content reaches the chat template: auto (detected from the "
                  "template), string (text) or openai (a list of {\"type\": \"text\"} parts)",
                  FIELD(serve.chat_template_content_format), {"auto", "string", "openai"}),
      bool_flag("trust-request-chat-template",
                "a request's own chat_template is rendered instead of the server's (refused "
                "without this flag)",
                FIELD(serve.trust_request_chat_template)),
      parsed_flag("default-chat-template-kwargs", "JSON",
                  "template variables every chat render starts from, under the request's "
                  "chat_template_kwargs, e.g. '{\"enable_thinking\": false}'",
                  FIELD(serve.default_chat_template_kwargs),
                  http::parse_default_chat_template_kwargs),
      bool_flag("exclude-tools-when-tool-choice-none",
                "a chat request with tool_choice \"none\" renders its template without the "
                "tools",
                FIELD(serve.exclude_tools_when_tool_choice_none)),
  };
}

// vLLM's --speculative-config (also -sc): its JSON object becomes engine.speculative whole, so
// the spec is built here; parsed_flag's --help would need a show_value for it.
flag_spec speculative_config_flag() {
  flag_spec f;
  f.name = "speculative-config";
  f.aliases = {"sc"};
  f.metavar = "JSON";
  f.help =
      "speculative decoding by prompt lookup (vLLM's ngram method, troupe's only one), e.g. "
      "'{\"method\": \"ngram\", \"num_speculative_tokens\": 3}'; prompt_lookup_min/max: the "
      "n-gram lengths matched (default 5)";
  f.set = [](command_line& c, std::string_view v) -> status {
    auto config = runtime::parse_speculative_config(v);
    if (!config) {
      // The parser already names the flag: keep the reason only.
      constexpr std::string_view prefix = "--speculative-config: ";
      std::string_view reason = config.message();
      if (reason.starts_with(prefix)) reason.remove_prefix(prefix.size());
      return troupe::error{std::string(reason)};
    }
    c.engine.speculative = *config;
    return ok_status();
  };
  f.show = [](command_line& c) -> std::string {
    const auto& s = c.engine.speculative;
    if (!s.enabled()) return "none";
    return fmt::format(
        R"({{"method": "ngram", "num_speculative_tokens": {}, "prompt_lookup_min": {}, )"
        R"("prompt_lookup_max": {}}})",
        s.num_speculative_tokens, s.prompt_lookup_min, s.prompt_lookup_max);
  };
  return f;
}

std::vector<flag_spec> scheduling_flags() {
  return {
      int_flag("max-num-seqs", "N", "most sequences running in one step",
               FIELD(engine.max_num_seqs), 1, int32_max),
      human_int_flag("max-num-batched-tokens",
                     "token budget of one step; none = 2048, without chunked prefill "
                     "max(max-model-len, 2048)",
                     FIELD(engine.max_num_batched_tokens), 1),
      bool_flag("enable-chunked-prefill", "split long prompts across steps",
                FIELD(engine.enable_chunked_prefill), true),
      bool_flag("enable-prefix-caching",
                "reuse the KV blocks of earlier requests' identical prompt prefixes",
                FIELD(engine.enable_prefix_caching), true),
      // vLLM's full list, so its other names get validate_engine_config's message, not "expected
      // one of".
      choice_flag("prefix-caching-hash-algo", "hash of a prefix-cache block (sha256 or xxhash)",
                  FIELD(engine.prefix_caching_hash_algo),
                  {"sha256", "sha256_cbor", "xxhash", "xxhash_cbor"}),
      int_flag("max-waiting-requests", "N", "waiting-queue bound; beyond it requests get 503",
               FIELD(engine.max_waiting_requests), 1, int32_max),
      bool_flag("async-scheduling",
                "schedule the next step while one runs (its decode tokens filled in by the "
                "executor), so the executors never wait for the scheduler",
                FIELD(engine.async_scheduling), true),
      choice_flag("scheduling-policy",
                  "waiting-queue order and preemption victims: fcfs (arrival order) or priority "
                  "(the requests' priority field, lower first, then arrival)",
                  FIELD(engine.scheduling_policy), {"fcfs", "priority"}),
      speculative_config_flag(),
  };
}

std::vector<flag_spec> cache_flags() {
  return {
      int_flag("block-size", "N", "tokens per KV-cache block (a power of two up to 256)",
               FIELD(engine.block_size), 1, 256),
      with_aliases(parsed_flag("kv-cache-memory", "BYTES",
                               "KV cache size on CPU, e.g. 2GiB, 512MiB, 1e9; 0 = automatic "
                               "(VLLM_CPU_KVCACHE_SPACE, in GiB, wins as in vLLM)",
                               FIELD(engine.kv_cache_memory), parse_bytes),
                   {"kv-cache-memory-bytes"}),
      int_flag("num-gpu-blocks-override", "N", "exact number of KV blocks; 0 = from memory",
               FIELD(engine.num_gpu_blocks_override), 0, int32_max),
      real_flag("gpu-memory-utilization", "FRACTION",
                "GPU memory fraction for the engine (the KV cache gets what the weights and a "
                "profiled step leave of it), in (0, 1]; no effect on CPU",
                FIELD(engine.gpu_memory_utilization), 0.0, 1.0, true),
      choice_flag("device",
                  "where the model runs: auto (a CUDA GPU when this build has CUDA and one is "
                  "present, else the CPU), cpu, cuda",
                  FIELD(engine.device), {"auto", "cpu", "cuda", "tpu", "xpu", "hpu", "neuron"}),
      bool_flag("enforce-eager", "GPU: launch every step's kernels one by one (no CUDA graphs)",
                FIELD(engine.enforce_eager)),
  };
}

std::vector<flag_spec> thread_flags() {
  return {
      with_aliases(int_flag("tensor-parallel-size", "N",
                            "tensor-parallel ranks (a pipeline stage's, with -pp)",
                            FIELD(engine.tensor_parallel_size), 1, 1024),
                   {"tp"}),
      with_aliases(int_flag("pipeline-parallel-size", "N",
                            "pipeline stages, each --tensor-parallel-size ranks",
                            FIELD(engine.pipeline_parallel_size), 1, 1024),
                   {"pp"}),
      with_aliases(int_flag("data-parallel-size", "N",
                            "engines behind this server, each TP x PP ranks with its own KV cache",
                            FIELD(engine.data_parallel_size), 1, 1024),
                   {"dp"}),
      with_aliases(int_flag("data-parallel-size-local", "N",
                            "engines on this node: only --data-parallel-size (one node)",
                            FIELD(engine.data_parallel_node.size_local), 1, 1024),
                   {"dpl"}),
      with_aliases(int_flag("data-parallel-start-rank", "N",
                            "first engine's rank on this node: only 0 (one node)",
                            FIELD(engine.data_parallel_node.start_rank), 0, 1024),
                   {"dpr"}),
      with_aliases(int_flag("data-parallel-rank", "N",
                            "vLLM's one-server-per-rank mode: refused (run servers of their own)",
                            FIELD(engine.data_parallel_node.rank), 0, 1024),
                   {"dpn"}),
      with_aliases(string_flag("data-parallel-address", "HOST",
                               "vLLM's head node for several nodes: no effect on one",
                               FIELD(engine.data_parallel_node.address)),
                   {"dpa"}),
      with_aliases(int_flag("data-parallel-rpc-port", "PORT",
                            "vLLM's RPC port for several nodes: no effect on one",
                            FIELD(engine.data_parallel_node.rpc_port), 1, 65535),
                   {"dpp"}),
      with_aliases(string_flag("data-parallel-backend", "NAME",
                               "mp (the engines are actors of this process); ray is refused",
                               FIELD(engine.data_parallel_node.backend)),
                   {"dpb"}),
      with_aliases(bool_flag("data-parallel-hybrid-lb", "vLLM's per-node load balancing: refused",
                             FIELD(engine.data_parallel_node.hybrid_lb)),
                   {"dph"}),
      with_aliases(bool_flag("data-parallel-external-lb",
                             "vLLM's external load balancing (a server per rank): refused",
                             FIELD(engine.data_parallel_node.external_lb)),
                   {"dpe"}),
      with_aliases(bool_flag("data-parallel-multi-port-external-lb",
                             "vLLM's supervisor of per-rank servers: refused",
                             FIELD(engine.data_parallel_node.multi_port_external_lb)),
                   {"dpm"}),
      choice_flag("data-parallel-routing",
                  "how a request picks its engine: prefix-aware (the least loaded, or near it "
                  "the engine likely caching the prompt's prefix) or least-loaded (vLLM's rule)",
                  FIELD(engine.data_parallel_routing), {"prefix-aware", "least-loaded"}),
      int_flag("threads", "N", "compute threads; 0 = all cores", FIELD(engine.num_compute_threads),
               0, 1024),
      int_flag("actor-threads", "N", "CAF scheduler worker threads",
               FIELD(engine.num_actor_threads), 1, 1024),
      int_flag("io-threads", "N", "HTTP I/O threads", FIELD(engine.num_io_threads), 1, 1024),
  };
}

std::vector<flag_spec> server_flags() {
  return {
      string_flag("host", "ADDRESS", "address to listen on", FIELD(engine.host)),
      int_flag("port", "N", "port to listen on", FIELD(engine.port), 0, 65535),
      with_aliases(choice_flag("log-level", "log verbosity", FIELD(engine.log_level),
                               {"trace", "debug", "info", "warning", "error", "critical"}),
                   {"uvicorn-log-level"}),
      bool_flag("enable-log-requests",
                "log each request's lifecycle (received, queued, scheduled, first token, "
                "finished with its timing), one structured line per event",
                FIELD(engine.enable_log_requests)),
      bool_flag("disable-log-requests",
                "vLLM's deprecated flag: no request lifecycle lines even with "
                "--enable-log-requests, and no HTTP access lines",
                FIELD(engine.disable_log_requests)),
      bool_flag("disable-uvicorn-access-log",
                "no access lines (the line per HTTP request; --disable-log-requests too)",
                FIELD(serve.disable_uvicorn_access_log)),
      parsed_flag("disable-access-log-for-endpoints", "PATHS",
                  "comma-separated paths whose requests get no access line, e.g. "
                  "\"/health,/metrics\"",
                  FIELD(serve.access_log_excluded_paths), comma_list),
      bool_flag("disable-log-stats",
                "no engine metrics (vllm:* on /metrics) and no periodic stats line; actor and "
                "step figures stay",
                FIELD(engine.disable_log_stats)),
      bool_flag("enable-prompt-tokens-details",
                "usage reports prompt_tokens_details.cached_tokens (when non-zero)",
                FIELD(serve.enable_prompt_tokens_details), true),
      int_flag("max-logprobs", "N",
               "the most logprobs a request may ask for (logprobs, top_logprobs, "
               "prompt_logprobs); -1 = the whole vocabulary",
               FIELD(serve.max_logprobs), -1, int32_max),
      bool_flag("enable-request-id-headers",
                "responses carry an X-Request-Id header (the request's own, else a new id)",
                FIELD(serve.enable_request_id_headers)),
      bool_flag("return-tokens-as-token-ids",
                "logprobs name tokens \"token_id:<id>\" instead of their text (a request's "
                "return_tokens_as_token_ids overrides it)",
                FIELD(serve.return_tokens_as_token_ids)),
      parsed_flag("structured-outputs-config", "JSON",
                  "vLLM's structured-outputs settings, e.g. '{\"disable_any_whitespace\": "
                  "true}' (backend names are accepted; troupe has one grammar engine)",
                  FIELD(serve.structured_outputs_config),
                  [](std::string_view v) -> result<std::string> {
                    auto config = http::parse_structured_outputs_config(v);
                    if (!config) return config.err();
                    return std::string(v);
                  }),
      choice_flag("guided-decoding-backend",
                  "vLLM before 0.11's structured-outputs backend: accepted, no effect",
                  FIELD(serve.guided_decoding_backend),
                  {"auto", "xgrammar", "guidance", "outlines", "lm-format-enforcer"}),
      bool_flag("enable-auto-tool-choice",
                "chat tool_choice \"auto\" (or none given with tools): the answer is parsed for "
                "tool calls by --tool-call-parser",
                FIELD(serve.enable_auto_tool_choice)),
      parsed_flag("tool-call-parser", "NAME",
                  "how chat answers write tool calls: " + http::tool_parser_names(),
                  FIELD(serve.tool_call_parser),
                  [](std::string_view v) -> result<std::string> {
                    if (!http::find_tool_parser(v)) {
                      return troupe::error{fmt::format("unknown tool call parser '{}' (known: {})",
                                                       v, http::tool_parser_names())};
                    }
                    return std::string(v);
                  }),
      string_flag("response-role", "ROLE",
                  "a chat answer's role after a generation prompt (without one, the last "
                  "message's)",
                  FIELD(serve.response_role)),
      api_key_flag(),
      json_list_flag("allowed-origins",
                     "origins whose browsers may read answers (CORS), e.g. '[\"*\"]'; none by "
                     "default",
                     FIELD(serve.allowed_origins)),
      json_list_flag("allowed-methods", "methods a CORS preflight may ask for",
                     FIELD(serve.allowed_methods)),
      json_list_flag("allowed-headers", "headers a CORS preflight may ask for",
                     FIELD(serve.allowed_headers)),
      bool_flag("allow-credentials", "CORS answers allow credentials (cookies, authorization)",
                FIELD(serve.allow_credentials), true),
      string_flag("ssl-certfile", "FILE",
                  "serve HTTPS with this PEM certificate chain (its key in --ssl-keyfile, or in "
                  "this file)",
                  FIELD(serve.tls.certfile)),
      string_flag("ssl-keyfile", "FILE", "the PEM private key of --ssl-certfile",
                  FIELD(serve.tls.keyfile)),
      string_flag("ssl-ca-certs", "FILE",
                  "PEM certificates that client certificates are checked against",
                  FIELD(serve.tls.ca_certs)),
      int_flag("ssl-cert-reqs", "N",
               "client certificates (Python's ssl.CERT_*): 0 none asked for, 1 checked when "
               "sent, 2 required",
               FIELD(serve.tls.cert_reqs), 0, 2),
      string_flag("ssl-ciphers", "LIST",
                  "OpenSSL cipher list for TLS 1.2 connections, e.g. "
                  "'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305'",
                  FIELD(serve.tls.ciphers)),
      string_flag("root-path", "PATH",
                  "the path prefix of a proxy in front (e.g. /api): /api/v1/models answers as "
                  "/v1/models does",
                  FIELD(serve.root_path)),
      bool_flag("enable-ssl-refresh",
                "certificate files rewritten while serving (a renewal) serve the connections "
                "accepted after",
                FIELD(serve.tls.refresh)),
      choice_flag("tool-strict-level",
                  "how strictly tool calls are held to the tools (http/tool_choice.hpp): auto "
                  "(tools with \"strict\": true), function (the call format of every call), "
                  "parameter (and every tool's arguments)",
                  FIELD(serve.tool_strict_level), {"auto", "function", "parameter"}),
      parsed_flag(
          "reasoning-parser", "NAME",
          "chat answers' <think> part becomes message.reasoning: " + http::reasoning_parser_names(),
          FIELD(serve.reasoning_parser),
          [](std::string_view v) -> result<std::string> {
            if (!http::find_reasoning_parser(v)) {
              return troupe::error{fmt::format("unknown reasoning parser '{}' (known: {})", v,
                                               http::reasoning_parser_names())};
            }
            return std::string(v);
          }),
      choice_flag("anthropic-disabled-thinking-effort",
                  "the reasoning_effort of a /v1/messages request with thinking {\"type\": "
                  "\"disabled\"}: auto (low when the chat template refuses none or renders it "
                  "as a thinking effort, else none), none, low, medium, high, xhigh or max",
                  FIELD(serve.anthropic_disabled_thinking_effort),
                  {"auto", "none", "low", "medium", "high", "xhigh", "max"}),
      bool_flag("enable-force-include-usage",
                "every stream reports usage: a final usage chunk and the usage so far on every "
                "chunk, whatever stream_options says",
                FIELD(serve.enable_force_include_usage)),
      bool_flag("enable-server-load-tracking",
                "GET /load reports the completions and chat generations in progress "
                "(server_load; 0 without the flag)",
                FIELD(serve.enable_server_load_tracking)),
      choice_flag("fingerprint-mode",
                  "responses' system_fingerprint: full (troupe-<version>[-tpN][-ppN]-<config "
                  "hash>), hash (without the parallel sizes), custom (--fingerprint-value) or none "
                  "(null)",
                  FIELD(serve.fingerprint_mode), {"full", "hash", "custom", "none"}),
      string_flag("fingerprint-value", "TEXT",
                  "the system_fingerprint of --fingerprint-mode custom",
                  FIELD(serve.fingerprint_value)),
      bool_flag("enable-per-request-metrics",
                "responses carry vLLM's per-request metrics (ms) in \"metrics\": the body, or a "
                "stream's usage chunk",
                FIELD(serve.enable_per_request_metrics)),
  };
}

void append(std::vector<flag_spec>& to, std::vector<flag_spec> from) {
  for (auto& flag : from)
    to.push_back(std::move(flag));
}

}  // namespace

std::vector<flag_spec> serve_flag_specs() {
  std::vector<flag_spec> flags = model_flags();
  append(flags, scheduling_flags());
  append(flags, cache_flags());
  append(flags, thread_flags());
  append(flags, server_flags());
  return flags;
}

std::vector<flag_spec> generate_flag_specs() {
  std::vector<flag_spec> flags = {
      string_flag("model", "PATH", "a .gguf file or Hugging Face model directory; none = default",
                  FIELD(engine.model)),
      string_flag("prompt", "TEXT", "the prompt text", FIELD(generate.prompt)),
      parsed_flag("prompt-ids", "IDS", "the prompt as token ids, e.g. 1,2,3",
                  FIELD(generate.prompt_ids), parse_id_list),
      int_flag("max-tokens", "N", "tokens to generate", FIELD(generate.max_tokens), 1, int32_max),
      real_flag("temperature", "T", "sampling temperature; 0 = greedy", FIELD(generate.temperature),
                0.0, no_max),
      real_flag("top-p", "P", "nucleus sampling mass, in (0, 1]", FIELD(generate.top_p), 0.0, 1.0,
                true),
      int_flag("top-k", "K", "sample from the K most likely tokens; -1 or 0 = all",
               FIELD(generate.top_k), -1, int32_max),
      int_flag("seed", "N", "sampling seed; none = random", FIELD(generate.seed), 0, int64_max),
      bool_flag("ignore-eos", "keep generating past the end-of-sequence token",
                FIELD(generate.ignore_eos)),
      bool_flag("json", "print one JSON object (ids, text, timings)", FIELD(generate.json)),
      int_flag("logprobs", "K",
               "with --json: each generated token's logprob and the K most likely (0-20)",
               FIELD(generate.logprobs), 0, 20),
  };
  const char* engine_names[] = {
      "max-model-len", "threads",        "kv-cache-memory",        "num-gpu-blocks-override",
      "block-size",    "max-num-seqs",   "max-num-batched-tokens", "generation-config",
      "dtype",         "kv-cache-dtype", "enable-prefix-caching",  "load-format",
      "tokenizer",     "device",         "enforce-eager",          "async-scheduling"};
  for (auto& flag : serve_flag_specs()) {
    if (std::find(std::begin(engine_names), std::end(engine_names), flag.name) !=
        std::end(engine_names)) {
      flags.push_back(std::move(flag));
    }
  }
  flags.push_back(speculative_config_flag());
  return flags;
}

std::vector<flag_spec> tokenize_flag_specs() {
  flag_spec no_special = bool_flag("no-special-tokens", "do not add BOS/EOS special tokens",
                                   FIELD(tokenize.add_special_tokens));
  no_special.set = [](command_line& c, std::string_view v) -> status {
    auto b = parse_bool(v);
    if (!b) return b.err();
    c.tokenize.add_special_tokens = !*b;
    return ok_status();
  };
  no_special.show = [](command_line& c) { return show_value(!c.tokenize.add_special_tokens); };
  return {
      with_aliases(string_flag("tokenizer", "PATH", "a .gguf file or tokenizer directory",
                               FIELD(tokenize.tokenizer)),
                   {"model"}),
      std::move(no_special),
      bool_flag("decode", "arguments are token ids (1,2,3) to decode to text",
                FIELD(tokenize.decode)),
      bool_flag("skip-special-tokens", "with --decode, leave special tokens out of the text",
                FIELD(tokenize.skip_special_tokens)),
  };
}

#undef FIELD

}  // namespace troupe::cli::detail
