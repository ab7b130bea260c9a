#include "actors/beam_search.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <utility>

namespace troupe::actors {

// Hands one beam's events of a round to the search.
class beam_search::round_sink final : public generation_sink {
 public:
  round_sink(std::weak_ptr<beam_search> search, size_t beam_index)
      : search_(std::move(search)), beam_index_(beam_index) {}
  void on_event(generation_event event) override {
    if (auto search = search_.lock()) search->on_result(beam_index_, std::move(event));
  }

 private:
  std::weak_ptr<beam_search> search_;
  size_t beam_index_;
};

beam_search::beam_search(engine& eng, generation_request request, const beam_search_params& params,
                         std::shared_ptr<generation_sink> sink)
    : engine_(eng),
      request_(std::move(request)),
      params_(params),
      sink_(std::move(sink)),
      eos_token_id_(eng.tokenizer().eos_id()) {
  beams_.push_back({request_.prompt_token_ids, 0.0, false, {}});
  // Every round on one data-parallel engine, whose prefix cache holds what the beams share.
  request_.data_parallel_rank = eng.route(request_);
}

std::shared_ptr<beam_search> beam_search::start(engine& eng, generation_request request,
                                                const beam_search_params& params,
                                                std::shared_ptr<generation_sink> sink) {
  auto search = std::make_shared<beam_search>(eng, std::move(request), params, std::move(sink));
  search->submit_round();
  return search;
}

double beam_search::score(const beam& b, int32_t eos_token_id, double length_penalty) {
  auto length = static_cast<double>(b.tokens.size());
  if (!b.tokens.empty() && b.tokens.back() == eos_token_id) length -= 1;
  return b.cum_logprob / std::pow(std::max(length, 1.0), length_penalty);
}

// One one-token request per beam. The first round takes the request's own prompt (text or ids,
// truncated as asked) and brings back its ids; later rounds send each beam's tokens as they are.
void beam_search::submit_round() {
  std::vector<generation_request> round;
  std::vector<std::shared_ptr<generation_sink>> sinks;
  {
    std::unique_lock lock(mu_);
    if (done_) return;  // failed meanwhile
    if (aborted_) {
      lock.unlock();
      return finish("abort");
    }
    const bool first = num_prompt_tokens_ < 0;
    results_.assign(beams_.size(), {});
    num_pending_ = beams_.size();
    for (size_t i = 0; i < beams_.size(); ++i) {
      generation_request r;
      r.request_id = request_.request_id + "-beam-" + std::to_string(i);
      if (first) {
        r.prompt = request_.prompt;
        r.add_special_tokens = request_.add_special_tokens;
        r.truncate_prompt_tokens = request_.truncate_prompt_tokens;
        r.truncate_left = request_.truncate_left;
        r.return_prompt_token_ids = true;
      }
      r.prompt_token_ids = beams_[i].tokens;
      r.max_tokens = 1;
      r.logprobs = 2 * params_.beam_width;
      r.sampling.temperature = params_.temperature;
      // Reproducible from the request's seed, round by round and beam by beam.
      r.sampling.seed = request_.sampling.seed + static_cast<uint64_t>(rounds_left_) * 1000003u +
                        static_cast<uint64_t>(i);
      r.cache_salt = request_.cache_salt;
      r.priority = request_.priority;
      r.data_parallel_rank = request_.data_parallel_rank;
      round.push_back(std::move(r));
      sinks.push_back(std::make_shared<round_sink>(weak_from_this(), i));
    }
    in_flight_.clear();
  }
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < round.size(); ++i)
    ids.push_back(engine_.submit(std::move(round[i]), std::move(sinks[i])));
  std::lock_guard lock(mu_);
  in_flight_ = std::move(ids);
}

void beam_search::on_result(size_t beam_index, generation_event event) {
  if (event.error) return fail(std::move(event));
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    generation_event& merged = results_[beam_index];
    if (merged.prompt_token_ids.empty()) merged.prompt_token_ids = event.prompt_token_ids;
    merged.token_ids.insert(merged.token_ids.end(), event.token_ids.begin(), event.token_ids.end());
    merged.logprobs.insert(merged.logprobs.end(), event.logprobs.begin(), event.logprobs.end());
    if (event.finished) merged.finish_reason = event.finish_reason;
    if (!event.finished || --num_pending_ > 0) return;
  }
  // The round is complete.
  std::unique_lock lock(mu_);
  if (done_) return;
  if (aborted_ || std::any_of(results_.begin(), results_.end(), [](const generation_event& r) {
        return r.finish_reason == "abort";
      })) {
    lock.unlock();
    return finish("abort");
  }
  if (num_prompt_tokens_ < 0) {
    const auto& prompt = results_.front().prompt_token_ids;
    num_prompt_tokens_ = static_cast<int32_t>(prompt.size());
    beams_.front().tokens = prompt;
    const int32_t max_len = engine_.info().max_model_len;
    if (request_.max_tokens > 0 && num_prompt_tokens_ + request_.max_tokens > max_len) {
      generation_event error;
      error.finished = true;
      error.error = context_length_message(max_len, num_prompt_tokens_, request_.max_tokens);
      error.error_status = 400;
      lock.unlock();
      return fail(std::move(error));
    }
    rounds_left_ = request_.max_tokens > 0 ? request_.max_tokens : max_len - num_prompt_tokens_;
  }
  const bool more = advance() && --rounds_left_ > 0;
  lock.unlock();
  if (more) return submit_round();
  finish(nullptr);
}

// vLLM's step: every beam's candidates (the sampled token, then the most likely ones), EOS ones
// completing their beam, the beam_width best of the rest (by cumulative logprob) going on.
bool beam_search::advance() {
  struct candidate {
    double cum_logprob;
    int32_t token;
    size_t beam;
    float logprob;
  };
  const bool keep_logprobs = request_.logprobs >= 0;
  std::vector<std::vector<std::pair<int32_t, float>>> dictionaries(beams_.size());
  std::vector<candidate> candidates;
  for (size_t i = 0; i < beams_.size(); ++i) {
    const beam& b = beams_[i];
    if (results_[i].logprobs.empty()) continue;
    const token_logprob& step = results_[i].logprobs.front();
    std::vector<std::pair<int32_t, float>> offered{{step.token_id, step.logprob}};
    for (const auto& [id, logprob] : step.top) {
      if (id == step.token_id) continue;
      offered.emplace_back(id, logprob);
    }
    for (const auto& [id, logprob] : offered) {
      const double cum = b.cum_logprob + static_cast<double>(logprob);
      if (id == eos_token_id_ && !request_.ignore_eos) {
        beam done{b.tokens, cum, true, {}};
        if (params_.include_stop_str_in_output) done.tokens.push_back(id);
        if (keep_logprobs) {
          done.logprobs = b.logprobs;
          done.logprobs.push_back({id, logprob, offered, 0, true});
        }
        completed_.push_back(std::move(done));
      } else {
        candidates.push_back({cum, id, i, logprob});
      }
    }
    if (keep_logprobs) dictionaries[i] = std::move(offered);
  }
  std::stable_sort(
      candidates.begin(), candidates.end(),
      [](const candidate& a, const candidate& b) { return a.cum_logprob > b.cum_logprob; });
  if (candidates.size() > static_cast<size_t>(params_.beam_width))
    candidates.resize(static_cast<size_t>(params_.beam_width));
  std::vector<beam> next;
  for (const candidate& c : candidates) {
    beam b{beams_[c.beam].tokens, c.cum_logprob, false, {}};
    b.tokens.push_back(c.token);
    if (keep_logprobs) {
      b.logprobs = beams_[c.beam].logprobs;
      b.logprobs.push_back({c.token, c.logprob, dictionaries[c.beam], 0, true});
    }
    next.push_back(std::move(b));
  }
  beams_ = std::move(next);
  return !beams_.empty();
}

// The beam_width best of the completed and live beams, one final event each; with `reason`
// ("abort") the live beams as they are instead.
void beam_search::finish(const char* reason) {
  std::vector<generation_event> events;
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    done_ = true;
    std::vector<beam> ranked = std::move(completed_);
    if (reason != nullptr) ranked.clear();
    ranked.insert(ranked.end(), beams_.begin(), beams_.end());
    std::stable_sort(ranked.begin(), ranked.end(), [this](const beam& a, const beam& b) {
      return score(a, eos_token_id_, params_.length_penalty) >
             score(b, eos_token_id_, params_.length_penalty);
    });
    if (ranked.size() > static_cast<size_t>(params_.beam_width))
      ranked.resize(static_cast<size_t>(params_.beam_width));
    const auto prompt_len = static_cast<size_t>(std::max(num_prompt_tokens_, 0));
    for (size_t i = 0; i < ranked.size(); ++i) {
      const beam& b = ranked[i];
      generation_event e;
      e.index = static_cast<int32_t>(i);
      const size_t begin = std::min(prompt_len, b.tokens.size());
      e.token_ids.assign(b.tokens.begin() + static_cast<std::ptrdiff_t>(begin), b.tokens.end());
      std::vector<int32_t> shown = e.token_ids;
      if (!shown.empty() && shown.back() == eos_token_id_ && !request_.ignore_eos) shown.pop_back();
      e.text = engine_.tokenizer().decode(shown, request_.skip_special_tokens);
      e.finished = true;
      e.finish_reason = reason != nullptr ? reason : b.stopped ? "stop" : "length";
      if (b.stopped && reason == nullptr) e.stop_token_id = eos_token_id_;
      e.num_prompt_tokens = num_prompt_tokens_ < 0 ? 0 : num_prompt_tokens_;
      e.num_output_tokens = static_cast<int32_t>(e.token_ids.size());
      if (request_.logprobs >= 0) {
        e.logprobs.assign(b.logprobs.begin(),
                          b.logprobs.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                   b.logprobs.size(), e.token_ids.size())));
      }
      if (request_.return_prompt_token_ids && num_prompt_tokens_ >= 0)
        e.prompt_token_ids.assign(b.tokens.begin(), b.tokens.begin() + num_prompt_tokens_);
      events.push_back(std::move(e));
    }
  }
  for (auto& e : events)
    sink_->on_event(std::move(e));
}

void beam_search::fail(generation_event event) {
  std::vector<uint64_t> others;
  {
    std::lock_guard lock(mu_);
    if (done_) return;
    done_ = true;
    others = in_flight_;
  }
  for (uint64_t id : others)
    engine_.abort(id);
  event.index = 0;
  event.finished = true;
  sink_->on_event(std::move(event));
}

void beam_search::abort() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mu_);
    if (aborted_ || done_) return;
    aborted_ = true;
    ids = in_flight_;
  }
  for (uint64_t id : ids)
    engine_.abort(id);
}

}  // namespace troupe::actors
