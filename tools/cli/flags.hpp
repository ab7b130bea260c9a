#pragma once
// The `troupe` command line: subcommands and their vLLM / benchmark_serving-named flags, parsed
// into plain values. Parsing is pure (no I/O, no globals); the engine configuration is checked
// by runtime::validate_engine_config (runtime/serving/config_checks.hpp), the CLI's own file
// flags in validate.hpp.
//
//   troupe serve [MODEL] [--max-model-len N ...]   -> command_line::engine (+ serve)
//   troupe generate --prompt TEXT [...]            -> command_line::generate (+ engine)
//   troupe tokenize [--decode] [TEXT|IDS ...]      -> command_line::tokenize
//   troupe bench --backend vllm [...]              -> command_line::bench
//   troupe bench sweep --request-rates 1,2,4 [...] -> command_line::bench (sweep = true)
//   troupe top [--url URL] [--interval S]          -> command_line::top
//   troupe version | help | -h | --help | CMD --help
//
// Flag syntax (all subcommands): `--flag value`, `--flag=value`; `_` and `-` are interchangeable
// in names (`--max_model_len` == `--max-model-len`); booleans as `--flag`, `--flag=true|false`,
// and `--no-flag` where vLLM has it; list flags (--header, --goodput, --metadata) take several
// values after one flag (argparse nargs="+") and may be repeated. The last of a repeated scalar
// flag wins, as in argparse.
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "http/tls.hpp"
#include "runtime/engine_config.hpp"

namespace troupe::cli {

// `serve` flags that have no runtime::engine_config field (yet).
struct serve_options {
  std::string positional_model;  // `troupe serve MODEL`; the parser copies it to engine.model
  std::string chat_template;     // path to a Jinja template file; empty = the model's own
  std::string chat_template_content_format = "auto";  // auto, string or openai
  bool trust_request_chat_template = false;           // requests may bring their own
  std::string default_chat_template_kwargs;           // a JSON object (checked), "" = none
  bool exclude_tools_when_tool_choice_none = false;
  std::optional<int64_t> seed;
  bool trust_remote_code = false;          // accepted for vLLM compatibility; has no effect
  std::string tokenizer_mode = "auto";     // --tokenizer-mode auto|hf: Hugging Face's files
  std::optional<int64_t> max_log_len;      // --max-log-len: accepted; no prompt text is logged
  std::string generation_config = "auto";  // --generation-config auto | vllm | DIR
  std::string override_generation_config;  // --override-generation-config JSON ("" = none)
  // Usage reports prompt_tokens_details.cached_tokens (http::server_options).
  bool enable_prompt_tokens_details = false;
  bool enable_request_id_headers = false;
  int64_t max_logprobs = 20;
  // Final bodies and chunks carry the request's timing (http::server_options).
  bool enable_per_request_metrics = false;
  // Logprobs name tokens "token_id:<id>" (http::server_options).
  bool return_tokens_as_token_ids = false;
  // Streams always report usage, on every chunk (http::server_options).
  bool enable_force_include_usage = false;
  // GET /load counts generations in progress (http::server_options).
  bool enable_server_load_tracking = false;
  // vLLM's --fingerprint-mode (full | hash | custom | none) and --fingerprint-value: the
  // responses' system_fingerprint (tools/cli/fingerprint.hpp).
  std::string fingerprint_mode = "full";
  std::string fingerprint_value;
  // --structured-outputs-config's JSON, checked by the parser (http::server_options).
  std::string structured_outputs_config;
  std::string guided_decoding_backend;  // vLLM before 0.11; accepted, no effect
  // Chat answers parsed as vLLM's parsers do (http/chat_output_parser.hpp): "auto" tool calls
  // with --enable-auto-tool-choice and --tool-call-parser, reasoning with --reasoning-parser.
  bool enable_auto_tool_choice = false;
  std::string tool_call_parser;            // a name http::find_tool_parser knows, or empty
  std::string tool_strict_level = "auto";  // --tool-strict-level: auto, function or parameter
  // --disable-uvicorn-access-log; --disable-access-log-for-endpoints "/health,/metrics" (split
  // at commas, blanks trimmed, empty items dropped, as vLLM splits it).
  bool disable_uvicorn_access_log = false;
  std::vector<std::string> access_log_excluded_paths;
  std::string response_role = "assistant";  // --response-role
  // --api-key KEY [KEY ...]: the Bearer tokens the API's paths require (none: VLLM_API_KEY's).
  std::vector<std::string> api_keys;
  // vLLM's CORS flags (http/cors.hpp): JSON lists, and --allow-credentials.
  std::vector<std::string> allowed_origins;
  std::vector<std::string> allowed_methods = {"*"};
  std::vector<std::string> allowed_headers = {"*"};
  bool allow_credentials = false;
  // vLLM's --ssl-certfile, --ssl-keyfile, --ssl-ca-certs, --ssl-cert-reqs, --ssl-ciphers and
  // --enable-ssl-refresh: HTTPS when a certificate is given.
  http::tls_options tls;
  std::string root_path;         // --root-path: a proxy's path prefix (http::route_path)
  std::string reasoning_parser;  // a name http::find_reasoning_parser knows, or empty
  // vLLM's --anthropic-disabled-thinking-effort (http::server_options).
  std::string anthropic_disabled_thinking_effort = "auto";
};

struct generate_options {
  std::string prompt;                              // text prompt, or ...
  std::optional<std::vector<int32_t>> prompt_ids;  // ... token ids (exactly one of the two)
  int32_t max_tokens = 16;
  double temperature = 0.0;  // greedy by default, so `troupe generate` is reproducible
  double top_p = 1.0;
  int32_t top_k = -1;  // -1 or 0 = disabled
  std::optional<uint64_t> seed;
  bool ignore_eos = false;
  bool json = false;  // print one JSON object (ids, text, timings) instead of the text
  // --logprobs K: with json, "logprobs" lists per generated token the sampled token's and the K
  // most likely tokens' logprobs; -1 = not asked for.
  int32_t logprobs = -1;
};

struct tokenize_options {
  std::string tokenizer;  // --tokenizer or --model: a GGUF file or a Hugging Face directory
  bool add_special_tokens = true;  // --no-special-tokens clears it
  bool decode = false;             // inputs are token ids to turn back into text
  bool skip_special_tokens = false;
  std::vector<std::string> texts;              // positional texts to encode (empty: read stdin)
  std::vector<std::vector<int32_t>> id_lists;  // with --decode: "1,2,3" or "1 2 3" per argument
};

// benchmark_serving's flags; optionals are "not given" where the script treats None specially.
struct bench_options {
  std::string backend = "vllm";
  std::string base_url;  // overrides host/port when set
  std::string host = "127.0.0.1";
  int32_t port = 8000;
  std::string endpoint = "/v1/completions";
  std::string model;
  std::string served_model_name;
  std::string tokenizer;
  bool trust_remote_code = false;
  std::string dataset_name = "random";
  std::string dataset_path;
  int32_t num_prompts = 1000;
  int64_t seed = 0;
  int32_t random_input_len = 1024;
  int32_t random_output_len = 128;
  double random_range_ratio = 0.0;
  int32_t random_prefix_len = 0;
  // prefix_repetition dataset (vLLM's defaults)
  int32_t prefix_repetition_prefix_len = 256;
  int32_t prefix_repetition_suffix_len = 256;
  int32_t prefix_repetition_num_prefixes = 10;
  int32_t prefix_repetition_output_len = 128;
  std::optional<int32_t> sharegpt_output_len;
  int32_t custom_output_len = 256;
  bool skip_chat_template = false;
  double request_rate = std::numeric_limits<double>::infinity();  // requests/s; inf = all at once
  double burstiness = 1.0;                                        // gamma shape; 1 = Poisson
  std::optional<int32_t> max_concurrency;
  std::string ramp_up_strategy;  // "", "linear" or "exponential"
  std::optional<double> ramp_up_start_rps;
  std::optional<double> ramp_up_end_rps;
  int32_t num_warmups = 0;
  bool ignore_eos = false;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int32_t> top_k;
  std::string extra_body;  // a JSON object merged into every request body
  std::vector<std::pair<std::string, std::string>> headers;  // --header KEY=VALUE
  std::vector<std::string> percentile_metrics = {"ttft", "tpot", "itl"};
  std::vector<double> metric_percentiles = {99.0};
  std::vector<std::pair<std::string, double>> goodput;  // --goodput ttft:500 (ms)
  bool save_result = false;
  bool save_detailed = false;
  bool append_result = false;
  std::string result_dir;
  std::string result_filename;
  std::vector<std::pair<std::string, std::string>> metadata;  // --metadata KEY=VALUE
  std::string label;
  bool disable_tqdm = false;
  // --telemetry: the load generator's own actors in the report and JSON, and a line on stderr
  // every --telemetry-interval seconds (0: at the end only). docs/bench.md.
  bool telemetry = false;
  double telemetry_interval = 10.0;
  // `troupe bench sweep` (docs/bench.md): one run per rate, or the SLO search.
  bool sweep = false;  // the positional argument "sweep"
  // --request-rates 1,2,4,inf | 1:16:x2 | 1:8:1
  std::vector<double> request_rates;
  std::vector<std::pair<std::string, double>> slo;  // --slo ttft:500,tpot:50 (ms)
  double slo_percentile = 99.0;
  double slo_tolerance = 0.05;  // relative width of the final bracket
  int32_t slo_max_probes = 12;
};

// `troupe top`: the terminal view of a server's /v1/telemetry (docs/telemetry.md).
struct top_options {
  std::string url = "http://127.0.0.1:8000";
  double interval = 1.0;       // seconds between refreshes
  int32_t iterations = 0;      // refreshes before exiting; 0 = until q or Ctrl-C
  std::string sort = "depth";  // the actor table's order: depth | busy
};

struct command_line {
  std::string command;            // a subcommand ("serve", "top", ...), "version" or "help"
  bool help = false;              // --help given: print help_text(command) and exit 0
  runtime::engine_config engine;  // serve and generate
  serve_options serve;
  generate_options generate;
  tokenize_options tokenize;
  bench_options bench;
  top_options top;
  // Canonical names (dash form, no leading dashes) of the flags given, in order, e.g.
  // "max-model-len", so the caller can tell an explicit value from a default.
  std::vector<std::string> given_flags;

  bool was_given(const std::string& canonical_name) const;
};

// argv[0] is the program name. An error message names the offending flag and subcommand, e.g.
// "unknown flag --max-model-lenn for 'troupe serve'; did you mean --max-model-len?".
// guarantees: no I/O; `troupe` alone parses as command "help".
result<command_line> parse_command_line(int argc, const char* const* argv);

// Help for one subcommand ("serve", "generate", "tokenize", "bench"), or the overview for "help"
// and any other name: every flag with a one-line description and its default.
std::string help_text(const std::string& command);

// The names of the flags of a subcommand, canonical dash form without leading dashes.
std::vector<std::string> flag_names(const std::string& command);

}  // namespace troupe::cli
