#pragma once
// The serving engine as the rest of the program sees it: submit a generation, receive its events,
// abort it. No CAF types appear here, so HTTP and the CLI compile without CAF headers.
//
// Inside (actors/engine.cpp): one request actor per submission, the batcher actor, the KV-cache
// allocator actor and one executor actor per rank (tensor x pipeline parallel), exchanging the
// messages of actors/messages.hpp. With --data-parallel-size N, N such engines
// (actors/engine_core.hpp) in one actor system, each request routed to one of them.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "runtime/engine_config.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/sampling_params.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "runtime/telemetry/metrics.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::actors {

struct generation_request {
  std::string request_id;  // for logs; the engine also assigns a numeric id
  // Exactly one of prompt / prompt_token_ids is used: token ids when non-empty.
  std::string prompt;
  std::vector<int32_t> prompt_token_ids;
  bool add_special_tokens = true;
  int32_t max_tokens = 16;  // <= 0 = up to max_model_len
  bool ignore_eos = false;
  // Stop conditions beyond EOS (vLLM semantics): a generated token in `stop_token_ids` finishes
  // with finish_reason "stop" (the token is kept in token_ids; its text is not emitted when it is a
  // special token); a string of `stop` appearing in the generated text (across token boundaries)
  // finishes with "stop" and is cut from the text, unless `include_stop_str_in_output`.
  std::vector<std::string> stop;
  std::vector<int32_t> stop_token_ids;
  bool include_stop_str_in_output = false;
  bool skip_special_tokens = true;  // in the emitted text
  // Top-N alternatives reported per generated token: -1 = no logprobs at all, 0 = only the
  // sampled token's logprob, N = the sampled token's plus the N most likely tokens'.
  int32_t logprobs = -1;
  // Number of independent completions of the prompt (choices). Choice i samples with seed
  // `sampling.seed + i`; the choices share the prompt's KV blocks. Events carry the choice index.
  int32_t n = 1;
  // Used as given, seed included: callers draw a random seed for requests that have none
  // (0 is a valid seed).
  runtime::sampling_params sampling;
  // Prefix-cache isolation (vLLM's `cache_salt`): requests reuse each other's cached KV blocks
  // only when their salts are equal. Empty = no salt (non-empty is the caller's check).
  std::string cache_salt;
  // vLLM's request priority (lower first) under --scheduling-policy priority; ignored otherwise.
  int64_t priority = 0;
  // vLLM's return_token_ids: each choice's first event carries the prompt's token ids
  // (generation_event::prompt_token_ids), prompt logprobs or not.
  bool return_prompt_token_ids = false;
  // vLLM's truncate_prompt_tokens: the prompt keeps at most this many tokens, the last ones with
  // truncate_left (vLLM's truncation_side: left, its default for generative models), else the
  // first. -1 is the model's length (less one when max_tokens > 0); more than max_model_len is
  // an error (400).
  std::optional<int32_t> truncate_prompt_tokens;
  bool truncate_left = true;
  // vLLM's data_parallel_rank (its X-data-parallel-rank header): which of the data-parallel
  // engines serves the request, 0 .. model_info::data_parallel_size - 1 (the caller's check);
  // empty: engine::route's choice.
  std::optional<int32_t> data_parallel_rank;
};

// vLLM's refusal of a data_parallel_rank outside [0, data_parallel_size).
std::string data_parallel_rank_message(int64_t rank, int32_t data_parallel_size);

// vLLM's refusal of a prompt that leaves no room: `num_prompt` tokens and max_tokens (<= 0: none
// asked) beyond max_model_len.
std::string context_length_message(int32_t max_model_len, int32_t num_prompt, int32_t max_tokens);

// The log-probabilities of one generated token: natural log of the model's raw distribution
// (log_softmax of the logits before penalties, bias, temperature and filters), which is what vLLM
// v1 reports by default (logprobs_mode "raw_logprobs").
struct token_logprob {
  int32_t token_id = 0;
  float logprob = 0.0f;
  // The most likely tokens, most likely first (`generation_request::logprobs` of them, or
  // sampling.num_prompt_logprobs for a prompt token).
  std::vector<std::pair<int32_t, float>> top;
  // A prompt token's (generation_event::prompt_logprobs) only: vLLM's rank of the token, how
  // many tokens are at least as likely, itself included (kernels::cpu::logprob_rank); else 0.
  int32_t rank = 0;
  // A beam search's token: `top` is vLLM's whole dictionary of the beam's step in its order (the
  // token sampled there, then the most likely), which the token, one of its entries, need not
  // lead; a response shows its first entries as they are.
  bool whole_dictionary = false;
};

// Where a finished request's time went, in seconds (vLLM's RequestStateStats intervals):
//   queue   = first scheduled - queued at the batcher     prefill = first token - first scheduled
//   decode  = last token - first token                    inference = last token - first scheduled
//   ttft    = first token - arrival (engine::submit)      e2e = finished - arrival
struct request_timing {
  double queue = 0.0;
  double prefill = 0.0;
  double decode = 0.0;
  double inference = 0.0;
  double ttft = 0.0;
  double e2e = 0.0;
};

// One event of a generation, delivered in order. With n > 1, events of the choices interleave,
// each tagged with its `index`; every choice ends with its own event with `finished` set.
struct generation_event {
  int32_t index = 0;               // the choice (0 .. n-1)
  std::string text;                // newly final text (UTF-8 complete)
  std::vector<int32_t> token_ids;  // tokens generated since the previous event
  // One entry per token of token_ids when the request asked for logprobs, else empty.
  std::vector<token_logprob> logprobs;
  // On a choice's first event when the request asked for prompt logprobs
  // (sampling.num_prompt_logprobs >= 0) or its prompt ids (return_prompt_token_ids): the
  // prompt's token ids; with prompt logprobs also entry i - 1 for each prompt token i >= 1 (its
  // logprob given the tokens before it). Empty otherwise.
  std::vector<int32_t> prompt_token_ids;
  std::vector<token_logprob> prompt_logprobs;
  bool finished = false;
  std::string finish_reason;  // when finished: "stop", "length" or "abort"
  // When finished by a stop condition other than EOS: the stop string or token id that matched
  // (vLLM's `stop_reason`); both empty otherwise.
  std::optional<std::string> stop_string;
  std::optional<int32_t> stop_token_id;
  int32_t num_prompt_tokens = 0;
  int32_t num_output_tokens = 0;  // total so far
  // Prompt tokens whose KV came from the prefix cache when the request was first scheduled
  // (vLLM's num_cached_tokens: full blocks only, never the last prompt token); 0 before that.
  int32_t num_cached_tokens = 0;
  // On the final event of a request that produced output: its timing.
  std::optional<request_timing> timing;
  // An error instead of (further) output: `error_status` is the HTTP status to report (400 for a
  // bad request, 503 when overloaded). An error event is always the last one.
  std::optional<std::string> error;
  int32_t error_status = 0;
};

// Receives a generation's events. Called from an actor thread: must be thread-safe and must not
// block (post the event to the consumer's own executor and return).
class generation_sink {
 public:
  virtual ~generation_sink() = default;
  virtual void on_event(generation_event event) = 0;
};

struct model_info {
  std::string served_model_name;
  int32_t max_model_len = 0;
  int64_t created = 0;  // unix seconds the engine started
  // The weights served (--model, or the default model's file): /v1/models' "root", as vLLM's
  // model path. Empty: the served name stands for it.
  std::string model_path;
  int32_t data_parallel_size = 1;  // the engines requests are routed to (--data-parallel-size)
};

// A snapshot of the engine's load, for telemetry and tests. Counters are updated by the actors
// after each step, so a snapshot may lag the newest events by one message. With data
// parallelism: the sum over the engines (engine::engine_stats_of gives one).
struct engine_stats {
  int32_t num_kv_blocks_total = 0;
  int32_t num_kv_blocks_free = 0;
  int32_t num_kv_blocks_used = 0;
  int32_t num_running = 0;  // requests in the running batch
  int32_t num_waiting = 0;  // requests queued for admission (incl. preempted ones)
  int64_t num_preemptions = 0;
  int64_t num_steps = 0;          // model steps executed
  int32_t num_live_requests = 0;  // request actors alive (submitted, not finished)
  bool prefix_caching = false;    // --enable-prefix-caching
  // Prefix-cache lookups, in tokens as vLLM counts them: every admission of a waiting request
  // adds its tokens to queries and its cached tokens to hits.
  int64_t num_prefix_cache_queries = 0;
  int64_t num_prefix_cache_hits = 0;
  int32_t num_kv_blocks_cached = 0;  // blocks whose content the prefix cache can hand out
};

class engine {
 public:
  virtual ~engine() = default;

  // Starts a generation; events go to `sink`. Thread-safe. Returns the request's engine id.
  virtual uint64_t submit(generation_request request, std::shared_ptr<generation_sink> sink) = 0;
  // Stops a generation (client gone, timeout); its KV blocks are freed in the next step and its
  // sink receives a final event with finish_reason "abort". Thread-safe; unknown ids are ignored.
  virtual void abort(uint64_t id) = 0;

  virtual const model_info& info() const = 0;
  virtual const runtime::tokenizer& tokenizer() const = 0;
  // Thread-safe, non-blocking.
  virtual engine_stats stats() const { return {}; }
  // Data-parallel engine `index`'s own (stats() when there is one engine). requires: index in
  // [0, info().data_parallel_size).
  virtual engine_stats engine_stats_of(int32_t /*index*/) const { return stats(); }
  // The data-parallel engine `request` goes to if submitted now: its data_parallel_rank, else
  // vLLM's internal load balancing (actors/engine_core.hpp's load_score, the lowest, the lowest
  // index among equals). Beam search pins its rounds to one engine this way. Thread-safe.
  virtual int32_t route(const generation_request& /*request*/) const { return 0; }
  // Forgets every cached prefix (vLLM's POST /reset_prefix_cache). `done` is called once, from
  // another thread, with ok or, while any KV block is in use by a request, an error saying so
  // (nothing is reset then). Thread-safe, non-blocking.
  virtual void reset_prefix_cache(std::function<void(status)> done) = 0;
  // The engine's metrics (vLLM's names, actor and step figures; docs/telemetry.md), for
  // GET /metrics and /v1/telemetry. Thread-safe.
  virtual const telemetry::registry& metrics() const = 0;
};

// Starts the actor system around what runtime::build_engine (or assemble_engine) built: one
// engine_core per data-parallel engine d, whose executor actor r owns runners[d x R + r] (its
// rank r; R = TP x PP ranks an engine); the limits are `built.config`'s as resolved
// there, never re-derived (info().max_model_len is built.config.max_model_len). Destroying the
// engine stops every actor: unfinished generations get a final error event (status 503). requires:
// `built` from build_engine / assemble_engine. Errors: no runner.
result<std::unique_ptr<engine>> start_engine(runtime::built_engine built);

// runtime::assemble_engine(config, tokenizer, {runner}, model_max_len), then start_engine: for
// callers that hold a tokenizer and a runner already (tests). Errors: assemble_engine's.
result<std::unique_ptr<engine>> start_engine(const runtime::engine_config& config,
                                             std::shared_ptr<const runtime::tokenizer> tokenizer,
                                             std::unique_ptr<runtime::model_runner> runner,
                                             int32_t model_max_len);

}  // namespace troupe::actors
