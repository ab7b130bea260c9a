#pragma once
// Every message of the runtime actor system, sectioned by recipient, each section followed by
// the recipient's typed interface (so a wrong send fails to compile). Messages carry values and
// ids only. Internal to actors/: CAF headers stop here, engine.hpp never includes this.
//
//   request actor --submit_generation--> batcher --reserve_blocks--> kv allocator
//        ^                                  |  <--blocks_reserved--
//        +-------token_delta----------------+  --execute_step-----> executor
//                                              <--step_executed----
//                                              --release_sequences-> (when no step follows)
//   first choice --prompt_ready--> other choices of an n > 1 request
//   engine --clear_prefix_cache--> kv allocator
//   stats logger --log_stats_tick--> itself, every 10 s
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "actors/request_stats.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/sampling_params.hpp"
#include "runtime/sched/request.hpp"
#include "runtime/sched/step_types.hpp"
#include "runtime/step_delta.hpp"

namespace troupe::actors {

// -- to request actor --

// Tokens a request generated in one step; `finish` is set on its last delta (an aborted request
// gets a last delta with no tokens and finish abort).
struct token_delta {
  uint64_t request_id = 0;
  std::vector<int32_t> token_ids;
  runtime::finish_reason finish = runtime::finish_reason::none;
  int32_t stop_token_id = -1;  // finished by one of the request's stop_token_ids: that token
  // When the request asked for logprobs: one entry per token of token_ids.
  std::vector<runtime::sampled_token> sampled;
  // When it asked for prompt logprobs: those its prompt chunks of the step scored (a delta may
  // carry only these), in position order. They come before its first token.
  std::vector<runtime::sampled_token> prompt_logprobs;
  int32_t num_cached_tokens = 0;  // prompt tokens found in the prefix cache at first admission
  request_times times;            // the batcher's stamps (actors/request_stats.hpp)
};

// The prompt of an n > 1 request, tokenized and hashed once by its first choice and sent to the
// other choices (which wait for it instead of tokenizing it again). A prompt the first choice
// rejects reaches them as request_failed.
struct prompt_ready {
  std::vector<int32_t> token_ids;
  std::vector<runtime::block_hash> block_hashes;
};

// The request ends without (further) output; `status` is the HTTP status to report.
struct request_failed {
  uint64_t request_id = 0;
  std::string message;
  int32_t status = 500;
};

// engine::abort: the client is gone. The request actor forwards it to the batcher behind its own
// submit_generation, so an abort can never overtake the submission it cancels.
struct stop_generation {
  uint64_t request_id = 0;
};

using request_actor =
    caf::typed_actor<caf::reacts_to<token_delta>, caf::reacts_to<request_failed>,
                     caf::reacts_to<stop_generation>, caf::reacts_to<prompt_ready>>;

// -- to batcher --

struct submit_generation {
  runtime::request_spec spec;  // validated: non-empty prompt within max_model_len
  request_actor client;        // receives token_delta / request_failed
};

struct abort_generation {
  uint64_t request_id = 0;
};

using batcher_actor =
    caf::typed_actor<caf::reacts_to<submit_generation>, caf::reacts_to<abort_generation>>;

// -- to kv allocator --

struct reserve_blocks {
  runtime::step_proposal proposal;
};

struct blocks_reserved {
  runtime::step_grant grant;
};

// Finished or aborted requests: their blocks go back to the pool. `failed_step`: the requests of
// a step that failed, whose blocks' cached content is not to be trusted (kv_allocator::release).
struct release_blocks {
  std::vector<uint64_t> request_ids;
  bool failed_step = false;
};

// engine::reset_prefix_cache: forget every cached prefix, unless blocks are in use.
struct clear_prefix_cache {};

struct prefix_cache_cleared {
  bool done = false;            // false: refused, nothing changed
  int32_t num_blocks_used = 0;  // held by requests at the time
};

using kv_allocator_actor =
    caf::typed_actor<caf::replies_to<reserve_blocks>::with<blocks_reserved>,
                     caf::reacts_to<release_blocks>,
                     caf::replies_to<clear_prefix_cache>::with<prefix_cache_cleared>>;

// -- to executor --

// One step as what changed since the last (runtime/step_delta.hpp); the executor keeps each
// running sequence's table, history and sampling settings (runtime/sequence_states.hpp).
struct execute_step {
  runtime::step_delta delta;
};

struct step_executed {
  std::vector<runtime::sampled_token> tokens;  // one per sampling sequence, in batch order
};

// Sequences to forget when no execute_step is going to carry them (the batcher went idle).
struct release_sequences {
  std::vector<uint64_t> seq_ids;
};

using executor_actor = caf::typed_actor<caf::replies_to<execute_step>::with<step_executed>,
                                        caf::reacts_to<release_sequences>>;

// -- to stats logger --

// Time to log vLLM's periodic stats line (the stats logger sends it to itself, delayed).
struct log_stats_tick {};

using stats_logger_actor = caf::typed_actor<caf::reacts_to<log_stats_tick>>;

// -- inspect --

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_times& x) {
  return f(caf::meta::type_name("request_times"), x.queued_ns, x.scheduled_ns);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, token_delta& x) {
  return f(caf::meta::type_name("token_delta"), x.request_id, x.token_ids, x.finish,
           x.stop_token_id, x.sampled, x.prompt_logprobs, x.num_cached_tokens, x.times);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, prompt_ready& x) {
  return f(caf::meta::type_name("prompt_ready"), x.token_ids, x.block_hashes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_failed& x) {
  return f(caf::meta::type_name("request_failed"), x.request_id, x.message, x.status);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stop_generation& x) {
  return f(caf::meta::type_name("stop_generation"), x.request_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, submit_generation& x) {
  return f(caf::meta::type_name("submit_generation"), x.spec, x.client);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, abort_generation& x) {
  return f(caf::meta::type_name("abort_generation"), x.request_id);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reserve_blocks& x) {
  return f(caf::meta::type_name("reserve_blocks"), x.proposal);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, blocks_reserved& x) {
  return f(caf::meta::type_name("blocks_reserved"), x.grant);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, release_blocks& x) {
  return f(caf::meta::type_name("release_blocks"), x.request_ids, x.failed_step);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, clear_prefix_cache&) {
  return f(caf::meta::type_name("clear_prefix_cache"));
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, prefix_cache_cleared& x) {
  return f(caf::meta::type_name("prefix_cache_cleared"), x.done, x.num_blocks_used);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, execute_step& x) {
  return f(caf::meta::type_name("execute_step"), x.delta);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, release_sequences& x) {
  return f(caf::meta::type_name("release_sequences"), x.seq_ids);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_executed& x) {
  return f(caf::meta::type_name("step_executed"), x.tokens);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_stats_tick&) {
  return f(caf::meta::type_name("log_stats_tick"));
}

}  // namespace troupe::actors

// The runtime value types inside the messages, found by argument-dependent lookup. Every field
// is inspected (tests/actors/messages_test round-trips them through CAF's binary serializer), so
// a message can leave the process.
namespace troupe::runtime {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sampling_params& x) {
  return f(caf::meta::type_name("sampling_params"), x.temperature, x.top_p, x.top_k, x.min_p,
           x.presence_penalty, x.frequency_penalty, x.repetition_penalty, x.min_tokens, x.logprobs,
           x.num_top_logprobs, x.num_prompt_logprobs, x.seed, x.logit_bias, x.min_tokens_stop_ids,
           x.allowed_token_ids, x.bad_words_token_ids, x.grammar);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_spec& x) {
  return f(caf::meta::type_name("request_spec"), x.id, x.prompt_token_ids, x.max_tokens,
           x.stop_token_ids, x.request_stop_token_ids, x.ignore_eos, x.return_logprobs, x.sampling,
           x.cache_prefix, x.cache_salt, x.prompt_block_hashes, x.priority);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, block_hash& x) {
  return f(caf::meta::type_name("block_hash"), x.words[0], x.words[1], x.words[2], x.words[3]);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, slot_demand& x) {
  return f(caf::meta::type_name("slot_demand"), x.request_id, x.num_total_tokens, x.first_block,
           x.block_hashes);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admission_candidate& x) {
  return f(caf::meta::type_name("admission_candidate"), x.request_id, x.num_tokens, x.block_hashes,
           x.may_be_passed, x.read_cache);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admission_budget& x) {
  return f(caf::meta::type_name("admission_budget"), x.num_tokens, x.max_num_batched_tokens,
           x.enable_chunked_prefill);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_proposal& x) {
  return f(caf::meta::type_name("step_proposal"), x.running, x.running_rest, x.preemption_order,
           x.waiting, x.budget);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admission_grant& x) {
  return f(caf::meta::type_name("admission_grant"), x.request_id, x.block_ids,
           x.num_computed_tokens, x.num_total_tokens);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, block_grant& x) {
  return f(caf::meta::type_name("block_grant"), x.request_id, x.new_block_ids);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_grant& x) {
  return f(caf::meta::type_name("step_grant"), x.running, x.admitted, x.preempted);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, seq_admission& x) {
  return f(caf::meta::type_name("seq_admission"), x.seq_id, x.sampling, x.num_prompt_tokens,
           x.num_computed_tokens, x.cached_token_ids, x.prompt_token_ids);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, seq_chunk& x) {
  return f(caf::meta::type_name("seq_chunk"), x.seq_id, x.num_tokens, x.sample, x.new_block_ids,
           x.num_draft_tokens, x.start);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, step_delta& x) {
  return f(caf::meta::type_name("step_delta"), x.released, x.admitted, x.seqs, x.token_ids);
}
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sampled_token& x) {
  return f(caf::meta::type_name("sampled_token"), x.seq_id, x.token_id, x.logprob, x.top_logprobs,
           x.prompt_position, x.rank);
}

}  // namespace troupe::runtime
