// actors::beam_search over a scripted engine whose next-token logprobs depend only on the last
// token, small enough to follow vLLM's algorithm by hand.
#include "actors/beam_search.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace troupe::actors {
namespace {

constexpr int32_t eos = 5;

// Token t decodes to the letter 'a' + t; EOS is special.
class letter_tokenizer final : public runtime::tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool) const override {
    std::vector<int32_t> ids;
    for (char c : text)
      ids.push_back(c - 'a');
    return ids;
  }
  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::string out;
    for (int32_t id : ids) {
      if (id == eos && skip_special) continue;
      out += id == eos ? std::string("</s>") : std::string(1, static_cast<char>('a' + id));
    }
    return out;
  }
  std::string token_bytes(int32_t id) const override { return std::string(1, 'a' + id); }
  int32_t vocab_size() const override { return 6; }
  int32_t bos_id() const override { return -1; }
  int32_t eos_id() const override { return eos; }
  bool is_special(int32_t id) const override { return id == eos; }
  bool is_eog(int32_t id) const override { return id == eos; }
};

// Next-token logprobs after each last token (the rest of the vocabulary: -10 - id).
const std::map<int32_t, std::map<int32_t, float>> table = {
    {0, {{1, -0.2f}, {eos, -0.4f}, {2, -1.0f}, {3, -3.0f}}},
    {1, {{3, -0.1f}, {4, -0.5f}, {eos, -2.0f}}},
    {2, {{4, -0.05f}}},
    {3, {{eos, -0.3f}, {0, -0.6f}}},
    {4, {{eos, -0.2f}}},
    {eos, {{1, -0.1f}}},
};

// Answers every request at once, on the caller's thread, as the engine would for a one-token
// request: the most likely token, with it the `logprobs` most likely (highest first). A prompt
// containing token 2 twice fails (400).
class scripted_engine final : public engine {
 public:
  uint64_t submit(generation_request request, std::shared_ptr<generation_sink> sink) override {
    const uint64_t id = ++next_id_;
    std::vector<int32_t> prompt = request.prompt_token_ids.empty()
                                      ? tokenizer_.encode(request.prompt, false)
                                      : request.prompt_token_ids;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
    }
    generation_event e;
    e.finished = true;
    if (std::count(prompt.begin(), prompt.end(), 2) >= 2) {
      e.error = "no twos";
      e.error_status = 400;
      sink->on_event(std::move(e));
      return id;
    }
    std::vector<std::pair<int32_t, float>> row;
    for (int32_t t = 0; t < 6; ++t) {
      const auto& known = table.at(prompt.back());
      auto it = known.find(t);
      row.emplace_back(t, it != known.end() ? it->second : -10.0f - static_cast<float>(t));
    }
    std::stable_sort(row.begin(), row.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    token_logprob lp{row[0].first, row[0].second, {}, 0};
    lp.top.assign(row.begin(), row.begin() + std::min<size_t>(row.size(), request.logprobs));
    e.token_ids = {row[0].first};
    e.logprobs = {lp};
    e.finish_reason = "length";
    e.num_prompt_tokens = static_cast<int32_t>(prompt.size());
    e.num_output_tokens = 1;
    if (request.return_prompt_token_ids) e.prompt_token_ids = prompt;
    sink->on_event(std::move(e));
    return id;
  }
  void abort(uint64_t) override {}
  // A data-parallel engine's choice: the request's rank, else `routed_to`.
  int32_t route(const generation_request& request) const override {
    return request.data_parallel_rank.value_or(routed_to);
  }
  const model_info& info() const override { return info_; }
  const runtime::tokenizer& tokenizer() const override { return tokenizer_; }
  void reset_prefix_cache(std::function<void(status)> done) override { done(ok_status()); }
  const telemetry::registry& metrics() const override { return metrics_; }

  std::vector<generation_request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

  int32_t routed_to = 0;

 private:
  letter_tokenizer tokenizer_;
  model_info info_{"scripted", 12, 0, ""};
  telemetry::registry metrics_;
  uint64_t next_id_ = 0;
  mutable std::mutex mu_;
  std::vector<generation_request> requests_;
};

class collecting final : public generation_sink {
 public:
  void on_event(generation_event event) override {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(event));
  }
  std::vector<generation_event> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<generation_event> events_;
};

std::vector<generation_event> search(scripted_engine& eng, const std::string& prompt,
                                     int32_t max_tokens, beam_search_params params,
                                     bool ignore_eos = false, int32_t logprobs = -1) {
  generation_request request;
  request.request_id = "cmpl-1";
  request.prompt = prompt;
  request.max_tokens = max_tokens;
  request.ignore_eos = ignore_eos;
  request.logprobs = logprobs;
  auto sink = std::make_shared<collecting>();
  beam_search::start(eng, request, params, sink);
  return sink->events();
}

// Round 1 from "a": EOS completes "a" (-0.4); "ab" (-0.2) and "ac" (-1.0) go on. Round 2: "abd"
// (-0.3) and "abe" (-0.7) beat "ace" (-1.05); "ab"+EOS completes at -2.2. Ranked by cumulative
// logprob / length (prompt included): abd -0.1, abe -0.233, a -0.4, ab -1.1.
TEST(BeamSearch, KeepsTheBestContinuationsAndRanksByLengthPenalizedScore) {
  scripted_engine eng;
  auto events = search(eng, "a", 2, {2, 1.0, 0.0f, false});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].index, 0);
  EXPECT_EQ(events[0].text, "bd");
  EXPECT_EQ(events[0].token_ids, (std::vector<int32_t>{1, 3}));
  EXPECT_EQ(events[0].finish_reason, "length");
  EXPECT_FALSE(events[0].stop_token_id);
  EXPECT_EQ(events[1].index, 1);
  EXPECT_EQ(events[1].text, "be");
  for (const auto& e : events) {
    EXPECT_TRUE(e.finished);
    EXPECT_EQ(e.num_prompt_tokens, 1);
    EXPECT_EQ(e.num_output_tokens, 2);
  }
  // Two rounds of two beams after the first (one beam): one-token requests with 2 * 2 logprobs.
  const auto requests = eng.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].prompt, "a");
  EXPECT_TRUE(requests[0].return_prompt_token_ids);
  EXPECT_EQ(requests[1].prompt_token_ids, (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(requests[2].prompt_token_ids, (std::vector<int32_t>{0, 2}));
  for (const auto& r : requests) {
    EXPECT_EQ(r.max_tokens, 1);
    EXPECT_EQ(r.logprobs, 4);
  }
}

// Without the length penalty the scores are the cumulative logprobs: the beam completed by EOS
// after "a" (-0.4) beats "abe" (-0.7). Its text and tokens leave the EOS out, unless
// include_stop_str_in_output keeps it among the tokens.
// The rounds stay on the engine the first round was routed to (its prefix cache holds the
// beams' shared tokens), or on the one the request names.
TEST(BeamSearch, EveryRoundGoesToTheFirstRoundsDataParallelEngine) {
  scripted_engine eng;
  eng.routed_to = 1;
  (void)search(eng, "a", 3, {2, 1.0, 0.0f, false});
  auto requests = eng.requests();
  ASSERT_EQ(requests.size(), 5u);  // 1 + 2 + 2 beams
  for (const auto& r : requests)
    EXPECT_EQ(r.data_parallel_rank, 1);

  scripted_engine pinned;
  pinned.routed_to = 1;
  generation_request request;
  request.prompt = "a";
  request.max_tokens = 2;
  request.data_parallel_rank = 0;
  beam_search::start(pinned, request, {2, 1.0, 0.0f, false}, std::make_shared<collecting>());
  requests = pinned.requests();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests)
    EXPECT_EQ(r.data_parallel_rank, 0);
}

TEST(BeamSearch, ACompletedBeamStopsOnEos) {
  scripted_engine eng;
  auto events = search(eng, "a", 2, {2, 0.0, 0.0f, false});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].text, "bd");
  EXPECT_EQ(events[1].text, "");
  EXPECT_TRUE(events[1].token_ids.empty());
  EXPECT_EQ(events[1].finish_reason, "stop");
  EXPECT_EQ(events[1].stop_token_id, eos);
  events = search(eng, "a", 2, {2, 0.0, 0.0f, true});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].token_ids, (std::vector<int32_t>{eos}));
  EXPECT_EQ(events[1].text, "");
  // ignore_eos: EOS is an ordinary token; "a"+EOS (-0.4) then goes on.
  events = search(eng, "a", 2, {2, 0.0, 0.0f, false}, /*ignore_eos=*/true);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].text, "bd");
  EXPECT_EQ(events[1].token_ids, (std::vector<int32_t>{eos, 1}));
  EXPECT_EQ(events[1].finish_reason, "length");
}

// With the request's logprobs each token carries its round's whole dictionary, vLLM's
// beam.logprobs: the token sampled there first, then the most likely (2 * width of them), whichever
// the beam took; a beam that EOS completed shows it only if the EOS is among its tokens.
TEST(BeamSearch, WithLogprobsEachTokenCarriesItsRoundsDictionary) {
  scripted_engine eng;
  using dictionary = std::vector<std::pair<int32_t, float>>;
  const dictionary after_a = {{1, -0.2f}, {eos, -0.4f}, {2, -1.0f}, {3, -3.0f}};
  const dictionary after_ab = {{3, -0.1f}, {4, -0.5f}, {eos, -2.0f}, {0, -10.0f}};
  auto events = search(eng, "a", 2, {2, 0.0, 0.0f, true}, false, 1);
  ASSERT_EQ(events.size(), 2u);
  ASSERT_EQ(events[0].token_ids, (std::vector<int32_t>{1, 3}));  // "bd"
  ASSERT_EQ(events[0].logprobs.size(), 2u);
  EXPECT_EQ(events[0].logprobs[0].token_id, 1);
  EXPECT_EQ(events[0].logprobs[0].logprob, -0.2f);
  EXPECT_EQ(events[0].logprobs[0].top, after_a);
  EXPECT_TRUE(events[0].logprobs[0].whole_dictionary);
  EXPECT_EQ(events[0].logprobs[1].token_id, 3);
  EXPECT_EQ(events[0].logprobs[1].top, after_ab);
  ASSERT_EQ(events[1].token_ids, (std::vector<int32_t>{eos}));  // "a" + EOS, kept
  ASSERT_EQ(events[1].logprobs.size(), 1u);
  EXPECT_EQ(events[1].logprobs[0].logprob, -0.4f);
  EXPECT_EQ(events[1].logprobs[0].top, after_a);
  events = search(eng, "a", 2, {2, 0.0, 0.0f, false}, false, 1);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_TRUE(events[1].token_ids.empty());
  EXPECT_TRUE(events[1].logprobs.empty());
  // "be": the beam took 'e', the round's second entry.
  events = search(eng, "a", 2, {2, 1.0, 0.0f, false}, false, 0);
  ASSERT_EQ(events[1].token_ids, (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(events[1].logprobs[1].token_id, 4);
  EXPECT_EQ(events[1].logprobs[1].logprob, -0.5f);
  EXPECT_EQ(events[1].logprobs[1].top, after_ab);
  // Without logprobs no dictionary is kept.
  events = search(eng, "a", 2, {2, 1.0, 0.0f, false});
  EXPECT_TRUE(events[0].logprobs.empty());
}

TEST(BeamSearch, ErrorsEndTheSearch) {
  scripted_engine eng;
  // The prompt leaves no room for max_tokens: the engine's 400, after the first round.
  auto events = search(eng, "abcd", 9, {2, 1.0, 0.0f, false});
  ASSERT_EQ(events.size(), 1u);
  ASSERT_TRUE(events[0].error);
  EXPECT_EQ(events[0].error_status, 400);
  EXPECT_NE(events[0].error->find("maximum context length is 12"), std::string::npos);
  // A round's error reaches the sink once, as the only event.
  events = search(eng, "cc", 2, {2, 1.0, 0.0f, false});
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].error, "no twos");
  EXPECT_TRUE(events[0].finished);
}

TEST(BeamSearch, TheScoreCountsThePromptAndNotTheEos) {
  beam_search::beam b{{7, 8, 9, eos}, -3.0, true};
  EXPECT_DOUBLE_EQ(beam_search::score(b, eos, 1.0), -1.0);
  EXPECT_DOUBLE_EQ(beam_search::score(b, eos, 0.0), -3.0);
  EXPECT_DOUBLE_EQ(beam_search::score(b, eos, 2.0), -3.0 / 9.0);
  b.tokens = {eos};
  EXPECT_DOUBLE_EQ(beam_search::score(b, eos, 1.0), -3.0);
}

}  // namespace
}  // namespace troupe::actors
