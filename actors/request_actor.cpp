#include "actors/request_actor.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>

#include <spdlog/spdlog.h>
#include <caf/typed_event_based_actor.hpp>

#include "actors/request_log.hpp"
#include "actors/stop_strings.hpp"

namespace troupe::actors {

std::string context_length_message(int32_t max_model_len, int32_t num_prompt, int32_t max_tokens) {
  if (max_tokens <= 0) {
    return "This model's maximum context length is " + std::to_string(max_model_len) +
           " tokens. However, your request has " + std::to_string(num_prompt) +
           " input tokens. Please reduce the length of the input messages.";
  }
  return "This model's maximum context length is " + std::to_string(max_model_len) +
         " tokens. However, you requested " + std::to_string(num_prompt + max_tokens) +
         " tokens (" + std::to_string(num_prompt) + " in the messages, " +
         std::to_string(max_tokens) + " in the completion). Please reduce the length of the " +
         "messages or completion.";
}

namespace {

class request_actor_impl : public request_actor::base {
 public:
  request_actor_impl(caf::actor_config& cfg, std::shared_ptr<const request_context> context,
                     uint64_t id, generation_request request, std::shared_ptr<generation_sink> sink,
                     int64_t arrival_ns, choice_links links)
      : request_actor::base(cfg),
        context_(std::move(context)),
        id_(id),
        links_(std::move(links)),
        request_(std::move(request)),
        sink_(std::move(sink)),
        detokenizer_(context_->tokenizer, request_.skip_special_tokens),
        stops_(request_.stop, request_.include_stop_str_in_output),
        stats_(arrival_ns, context_->stats) {}

  behavior_type make_behavior() override {
    if (!links_.awaits_prompt) share_prompt(prepare_prompt());
    return {
        [this](token_delta& msg) { on_delta(msg); },
        [this](request_failed& msg) { fail(msg.message, msg.status); },
        [this](stop_generation&) {
          if (submitted_) {
            send(context_->batcher, abort_generation{id_});
          } else {
            finish({}, runtime::finish_reason::abort);  // still waiting for its prompt
          }
        },
        [this](prompt_ready& msg) { submit(std::move(msg)); },
    };
  }

  void on_exit() override {
    if (!finished_) emit_error("the engine shut down before the request finished", 503);
    context_ = nullptr;  // drops the batcher handle: no cycle with the batcher's client table
    links_.siblings.clear();
  }

 private:
  // The first (or only) choice: tokenizes, then hands the prompt to the other choices too.
  void share_prompt(result<prompt_ready> prompt) {
    if (!prompt) {
      for (auto& sibling : links_.siblings)
        send(sibling, request_failed{id_, prompt.message(), 400});
      fail(prompt.message(), 400);
      return;
    }
    for (auto& sibling : links_.siblings)
      send(sibling, *prompt);
    links_.siblings.clear();
    submit(std::move(*prompt));
  }

  void submit(prompt_ready prompt) {
    auto spec = make_spec(std::move(prompt));
    if (!spec) {
      fail(spec.message(), 400);
      return;
    }
    num_prompt_tokens_ = static_cast<int32_t>(spec->prompt_token_ids.size());
    if (sends_prompt()) prompt_token_ids_ = spec->prompt_token_ids;
    if (request_.sampling.num_prompt_logprobs >= 0)
      prompt_logprobs_.resize(static_cast<size_t>(num_prompt_tokens_ - 1));
    log_start(*spec);
    submitted_ = true;
    send(context_->batcher,
         submit_generation{std::move(*spec), caf::actor_cast<request_actor>(this)});
  }

  // Tokenizes, checks the ids and hashes the full blocks (the same for every choice).
  result<prompt_ready> prepare_prompt() {
    prompt_ready prompt;
    prompt.token_ids =
        request_.prompt_token_ids.empty()
            ? context_->tokenizer->encode(request_.prompt, request_.add_special_tokens)
            : std::move(request_.prompt_token_ids);
    if (auto st = truncate(prompt.token_ids); !st) return st.err();
    if (prompt.token_ids.empty()) return error{"The decoder prompt cannot be empty"};
    for (int32_t token : prompt.token_ids) {
      if (token < 0 || token >= context_->vocab_size) {
        return error{"Token id " + std::to_string(token) + " is out of vocabulary"};
      }
    }
    if (caches_prefix()) {
      runtime::extend_block_hashes(context_->hash_algo, context_->block_size, prompt.token_ids,
                                   cache_salt(), prompt.block_hashes);
    }
    return prompt;
  }

  // truncate_prompt_tokens, as vLLM's TokenizeParams applies it.
  status truncate(std::vector<int32_t>& tokens) const {
    if (!request_.truncate_prompt_tokens) return ok_status();
    const int32_t max_len = context_->max_model_len;
    int32_t keep = *request_.truncate_prompt_tokens;
    if (keep > max_len) {
      return error{"truncate_prompt_tokens=" + std::to_string(keep) +
                   " cannot be greater than max_model_len = " + std::to_string(max_len) +
                   ". Please request a smaller truncation size."};
    }
    if (keep < 0) keep = request_.max_tokens > 0 ? max_len - 1 : max_len;
    const auto kept = static_cast<size_t>(keep);
    if (kept >= tokens.size()) return ok_status();
    if (request_.truncate_left) {
      tokens.erase(tokens.begin(), tokens.end() - keep);
    } else {
      tokens.resize(kept);
    }
    return ok_status();
  }

  bool caches_prefix() const { return context_->prefix_caching || links_.group_id != 0; }

  // Block 0's extra key. Without prefix caching the choices of one request share only among
  // themselves: their group id is the salt (no other request has it).
  std::string cache_salt() const {
    if (context_->prefix_caching) return request_.cache_salt;
    return "troupe-choice-group:" + std::to_string(links_.group_id);
  }

  // Validates the rest of the request around its prompt; errors become 400s.
  result<runtime::request_spec> make_spec(prompt_ready prompt) {
    runtime::request_spec spec;
    spec.id = id_;
    spec.prompt_token_ids = std::move(prompt.token_ids);
    const auto num_prompt = static_cast<int32_t>(spec.prompt_token_ids.size());
    const int32_t max_len = context_->max_model_len;
    const int32_t max_tokens = request_.max_tokens;
    if (num_prompt >= max_len || (max_tokens > 0 && num_prompt + max_tokens > max_len)) {
      return error{context_length_message(max_len, num_prompt, max_tokens)};
    }
    spec.max_tokens = max_tokens > 0 ? max_tokens : max_len - num_prompt;
    spec.stop_token_ids = context_->eog_token_ids;
    spec.request_stop_token_ids = request_.stop_token_ids;
    spec.ignore_eos = request_.ignore_eos;
    spec.return_logprobs = request_.logprobs >= 0;
    spec.sampling = request_.sampling;
    spec.sampling.logprobs = request_.logprobs >= 0;
    spec.sampling.num_top_logprobs = std::max(request_.logprobs, 0);
    spec.sampling.min_tokens = std::min(spec.sampling.min_tokens, spec.max_tokens);
    if (spec.sampling.min_tokens > 0) spec.sampling.min_tokens_stop_ids = min_tokens_stops(spec);
    spec.cache_prefix = caches_prefix();
    if (spec.cache_prefix) spec.cache_salt = cache_salt();
    spec.prompt_block_hashes = std::move(prompt.block_hashes);
    spec.priority = request_.priority;
    return spec;
  }

  // The tokens min_tokens masks: every token that would stop the request (vLLM masks the EOS
  // token even with ignore_eos).
  static std::vector<int32_t> min_tokens_stops(const runtime::request_spec& spec) {
    std::vector<int32_t> ids = spec.stop_token_ids;
    ids.insert(ids.end(), spec.request_stop_token_ids.begin(), spec.request_stop_token_ids.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    return ids;
  }

  void on_delta(token_delta& msg) {
    if (finished_) return;  // ended by a stop string; the batcher's last deltas are moot
    // A chunk computed again after a preemption scores its positions again, alike.
    for (auto& s : msg.prompt_logprobs) {
      const auto i = static_cast<size_t>(s.prompt_position - 1);
      if (i < prompt_logprobs_.size())
        prompt_logprobs_[i] = {s.token_id, s.logprob, std::move(s.top_logprobs), s.rank};
    }
    // A prompt chunk's delta carries only its prompt logprobs.
    if (msg.token_ids.empty() && msg.finish == runtime::finish_reason::none) return;
    const auto num_tokens = static_cast<int32_t>(msg.token_ids.size());
    if (stats_.on_delta(msg.times, num_tokens, num_prompt_tokens_, steady_now_ns())) {
      log_first_token();
    }
    generation_event event;
    num_cached_tokens_ = msg.num_cached_tokens;
    const bool last = msg.finish != runtime::finish_reason::none;
    auto matched = decode(msg, event.text);
    event.token_ids = std::move(msg.token_ids);
    for (auto& s : msg.sampled)
      event.logprobs.push_back({s.token_id, s.logprob, std::move(s.top_logprobs)});
    if (matched) {
      // Finished here, whatever the batcher still runs: release the request there at once.
      if (!last) send(context_->batcher, abort_generation{id_});
      event.stop_string = std::move(matched);
      finish(std::move(event), runtime::finish_reason::stop);
      return;
    }
    if (!stops_.empty() && last) event.text += stops_.flush();
    if (!last) {
      emit(std::move(event));
      return;
    }
    if (msg.stop_token_id >= 0) event.stop_token_id = msg.stop_token_id;
    finish(std::move(event), msg.finish);
  }

  // The text of the delta's tokens. As in vLLM, the token that stopped the generation (EOS or a
  // stop token id) adds no text unless include_stop_str_in_output.
  // Detokenizes msg's tokens one at a time into `text`, through the stop strings when there are
  // any (a delta of drafts accepted with speculative decoding has several), counting them as
  // outputs. The stop string a token completed, if one did: the tokens after it are dropped from
  // msg (vLLM's IncrementalDetokenizer drops them too); only a token past min_tokens completes
  // one.
  std::optional<std::string> decode(token_delta& msg, std::string& text) {
    const bool stopped_by_token = msg.finish == runtime::finish_reason::stop;
    const size_t n = msg.token_ids.size();
    for (size_t i = 0; i < n; ++i) {
      std::string piece;
      const bool stop_token = stopped_by_token && i + 1 == n;
      if (!stop_token || request_.include_stop_str_in_output)
        piece = detokenizer_.push(msg.token_ids[i]);
      if (i + 1 == n && msg.finish != runtime::finish_reason::none) piece += detokenizer_.finish();
      ++num_output_tokens_;
      if (stops_.empty()) {
        text += piece;
        continue;
      }
      auto step = stops_.push(piece, num_output_tokens_ > request_.sampling.min_tokens);
      text += step.text;
      if (step.matched) {
        msg.token_ids.resize(i + 1);
        if (msg.sampled.size() > i + 1) msg.sampled.resize(i + 1);
        return std::move(step.matched);
      }
    }
    return std::nullopt;
  }

  void finish(generation_event event, runtime::finish_reason reason) {
    event.finished = true;
    event.finish_reason = std::string{runtime::to_string(reason)};
    event.timing = stats_.on_finish(reason, num_prompt_tokens_, num_output_tokens_,
                                    request_.max_tokens, steady_now_ns());
    log_finish(reason, event.timing);  // before the sink hears of it: the log is in order
    emit(std::move(event));
    quit();
  }

  void fail(const std::string& message, int32_t status) {
    if (context_->log_requests) {
      spdlog::info(request_log_line(id_, "failed")
                       .add("request_id", request_.request_id)
                       .add("status", status)
                       .add("error", message)
                       .str());
    }
    emit_error(message, status);
    quit();
  }

  void emit_error(const std::string& message, int32_t status) {
    generation_event event;
    event.finished = true;
    event.error = message;
    event.error_status = status;
    emit(std::move(event));
  }

  // The first event carries the prompt's ids (and its logprobs when asked for).
  bool sends_prompt() const {
    return request_.sampling.num_prompt_logprobs >= 0 || request_.return_prompt_token_ids;
  }

  void emit(generation_event event) {
    if (!prompt_sent_ && sends_prompt() && !event.error) {
      event.prompt_token_ids = std::move(prompt_token_ids_);
      event.prompt_logprobs = std::move(prompt_logprobs_);
      prompt_sent_ = true;
    }
    event.num_prompt_tokens = num_prompt_tokens_;
    event.num_output_tokens = num_output_tokens_;
    event.num_cached_tokens = num_cached_tokens_;
    finished_ = event.finished;
    sink_->on_event(std::move(event));
  }

  // -- --enable-log-requests (actors/request_log.hpp) --

  void log_start(const runtime::request_spec& spec) const {
    if (!context_->log_requests) return;
    const auto& p = spec.sampling;
    spdlog::info(request_log_line(id_, "received")
                     .add("request_id", request_.request_id)
                     .add("prompt_tokens", static_cast<int64_t>(spec.prompt_token_ids.size()))
                     .add("max_tokens", spec.max_tokens)
                     .add("n", request_.n)
                     .add("temperature", static_cast<double>(p.temperature))
                     .add("top_p", static_cast<double>(p.top_p))
                     .add("top_k", p.top_k)
                     .add("seed", p.seed)
                     .add("group", links_.group_id)
                     .str());
  }

  void log_first_token() const {
    if (!context_->log_requests) return;
    spdlog::info(request_log_line(id_, "first_token").add("ttft_s", stats_.ttft_seconds()).str());
  }

  void log_finish(runtime::finish_reason reason, const std::optional<request_timing>& t) const {
    if (!context_->log_requests) return;
    const bool aborted = reason == runtime::finish_reason::abort;
    request_log_line line(id_, aborted ? "aborted" : "finished");
    line.add("request_id", request_.request_id)
        .add("finish_reason", runtime::to_string(reason))
        .add("prompt_tokens", num_prompt_tokens_)
        .add("output_tokens", num_output_tokens_)
        .add("cached_tokens", num_cached_tokens_);
    if (t) {
      line.add("queue_s", t->queue)
          .add("prefill_s", t->prefill)
          .add("decode_s", t->decode)
          .add("inference_s", t->inference)
          .add("ttft_s", t->ttft)
          .add("e2e_s", t->e2e);
    }
    spdlog::info(line.str());
  }

  std::shared_ptr<const request_context> context_;
  uint64_t id_;
  choice_links links_;
  generation_request request_;
  std::shared_ptr<generation_sink> sink_;
  runtime::incremental_detokenizer detokenizer_;
  stop_string_filter stops_;
  int32_t num_prompt_tokens_ = 0;
  int32_t num_output_tokens_ = 0;
  int32_t num_cached_tokens_ = 0;
  // With prompt logprobs or return_prompt_token_ids, until the first event takes them: the
  // prompt's ids, and with prompt logprobs entry i - 1 for prompt token i.
  std::vector<int32_t> prompt_token_ids_;
  std::vector<token_logprob> prompt_logprobs_;
  bool prompt_sent_ = false;
  bool submitted_ = false;  // submit_generation went to the batcher
  bool finished_ = false;   // the final event went out
  request_stats stats_;
};

}  // namespace

request_actor spawn_request_actor(caf::actor_system& system,
                                  std::shared_ptr<const request_context> context, uint64_t id,
                                  generation_request request, std::shared_ptr<generation_sink> sink,
                                  int64_t arrival_ns, choice_links links) {
  const actor_kind_metrics actor = context->actor;
  return system.spawn<instrumented<request_actor_impl>>(actor, std::move(context), id,
                                                        std::move(request), std::move(sink),
                                                        arrival_ns, std::move(links));
}

}  // namespace troupe::actors
