#pragma once
// A deterministic stand-in for actors::engine: each submission replays a scripted sequence of
// events from its own thread with small delays, honours abort() like the real engine (a final
// "abort" event), and records requests and aborts for the tests to inspect. reset_prefix_cache
// answers from its own thread too: ok, or the refusal a test set with refuse_resets().
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "actors/engine.hpp"

namespace troupe::http::testing {

// Bytes as tokens: id = byte value; 256 = bos = eos.
class byte_tokenizer final : public runtime::tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    std::vector<int32_t> ids;
    if (add_special) ids.push_back(256);
    for (unsigned char c : text)
      ids.push_back(c);
    return ids;
  }
  std::string decode(std::span<const int32_t> ids, bool) const override {
    std::string out;
    for (int32_t id : ids) {
      if (id < 256) out += static_cast<char>(id);
    }
    return out;
  }
  std::string token_bytes(int32_t id) const override {
    return id < 256 ? std::string(1, static_cast<char>(id)) : std::string();
  }
  int32_t vocab_size() const override { return 257; }
  int32_t bos_id() const override { return 256; }
  int32_t eos_id() const override { return 256; }
  bool is_special(int32_t id) const override { return id == 256; }
  bool is_eog(int32_t id) const override { return id == 256; }
};

// The words every ordinary request generates, one per event, up to max_tokens.
inline const std::vector<std::string> fake_words = {"Hello", " from",  " troupe",  ",",
                                                    " the",  " actor", " runtime", "."};

struct fake_script {
  std::vector<actors::generation_event> events;
  std::chrono::milliseconds delay{2};  // before each event
};

// The timing every ordinary script reports on its final event (seconds).
inline const actors::request_timing fake_timing = {0.25, 0.125, 0.5, 0.625, 0.375, 0.875};

// Prompts select scripts: "error-first", "error-later", "slow", "say:TEXT" (TEXT in four-byte
// events); anything else generates fake_words (finish "length" when max_tokens cuts them short,
// else "stop"; the last event carries fake_timing). A prompt starting with "cached" reports every
// prompt token but the last as served from the prefix cache (the most vLLM's rule allows), on every
// event.
inline fake_script script_for(const actors::generation_request& request, int32_t num_prompt) {
  const int32_t num_cached = request.prompt.starts_with("cached") ? num_prompt - 1 : 0;
  auto event = [&](std::string text, int32_t num_output) {
    actors::generation_event e;
    e.text = std::move(text);
    e.num_prompt_tokens = num_prompt;
    e.num_output_tokens = num_output;
    e.num_cached_tokens = num_cached;
    return e;
  };
  fake_script script;
  if (request.prompt == "error-first" || request.prompt == "error-later") {
    if (request.prompt == "error-later") {
      script.events = {event("a", 1), event("b", 2)};
    }
    actors::generation_event error = event("", 2);
    error.error = "scripted failure";
    error.error_status = request.prompt == "error-first" ? 400 : 500;
    script.events.push_back(error);
    return script;
  }
  if (request.prompt == "slow") {
    for (int i = 0; i < 500; ++i)
      script.events.push_back(event("x", i + 1));
    script.events.back().finished = true;
    script.events.back().finish_reason = "length";
    script.delay = std::chrono::milliseconds(10);
    return script;
  }
  // "say:TEXT" generates TEXT, four bytes an event; anything else fake_words.
  std::vector<std::string> words = fake_words;
  if (request.prompt.starts_with("say:")) {
    words.clear();
    for (size_t i = 4; i < request.prompt.size(); i += 4)
      words.push_back(request.prompt.substr(i, 4));
  }
  int32_t limit = request.max_tokens > 0 ? request.max_tokens : 1 << 30;
  int32_t n = std::min<int32_t>(limit, static_cast<int32_t>(words.size()));
  for (int32_t i = 0; i < n; ++i)
    script.events.push_back(event(words[i], i + 1));
  script.events.back().finished = true;
  script.events.back().finish_reason = n == limit ? "length" : "stop";
  script.events.back().timing = fake_timing;
  return script;
}

class fake_engine final : public actors::engine {
 public:
  fake_engine() { info_ = {"fake-model", 2048, 1700000000}; }
  ~fake_engine() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard lock(mu_);
      threads.swap(threads_);
    }
    for (auto& t : threads)
      t.join();
  }

  uint64_t submit(actors::generation_request request,
                  std::shared_ptr<actors::generation_sink> sink) override {
    int32_t num_prompt =
        request.prompt_token_ids.empty()
            ? static_cast<int32_t>(
                  tokenizer_.encode(request.prompt, request.add_special_tokens).size())
            : static_cast<int32_t>(request.prompt_token_ids.size());
    fake_script script = script_for(request, num_prompt);
    std::lock_guard lock(mu_);
    uint64_t id = ++num_submitted_;
    requests_.push_back(request);
    threads_.emplace_back([this, id, n = request.n, script = std::move(script),
                           sink = std::move(sink)] { replay(id, script, n, *sink); });
    return id;
  }

  void abort(uint64_t id) override {
    std::lock_guard lock(mu_);
    ++aborts_[id];
    cv_.notify_all();
  }

  const actors::model_info& info() const override { return info_; }
  const telemetry::registry& metrics() const override { return metrics_; }
  // The fake's registry, for tests to fill.
  telemetry::registry& mutable_metrics() { return metrics_; }
  const runtime::tokenizer& tokenizer() const override { return tokenizer_; }

  void reset_prefix_cache(std::function<void(status)> done) override {
    std::lock_guard lock(mu_);
    ++num_resets_;
    std::optional<std::string> refusal = reset_refusal_;
    threads_.emplace_back([done = std::move(done), refusal] {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (refusal) {
        done(error{*refusal});
      } else {
        done(ok_status());
      }
    });
  }

  // -- configuration --
  // Later resets fail with `message` (as the real engine's do while KV blocks are in use);
  // nullopt: they succeed (the default).
  void refuse_resets(std::optional<std::string> message) {
    std::lock_guard lock(mu_);
    reset_refusal_ = std::move(message);
  }

  // -- inspection --
  std::vector<actors::generation_request> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int num_aborts(uint64_t id) const {
    std::lock_guard lock(mu_);
    auto it = aborts_.find(id);
    return it == aborts_.end() ? 0 : it->second;
  }
  int num_aborts_total() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [id, count] : aborts_)
      n += count;
    return n;
  }
  bool wait_for_aborts(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      int total = 0;
      for (const auto& [id, count] : aborts_)
        total += count;
      return total >= n;
    });
  }
  uint64_t num_submitted() const {
    std::lock_guard lock(mu_);
    return num_submitted_;
  }
  int num_resets() const {
    std::lock_guard lock(mu_);
    return num_resets_;
  }

 private:
  // Replays the script for each choice: every event for index 0 .. n - 1 in turn (an error once).
  void replay(uint64_t id, const fake_script& script, int32_t n, actors::generation_sink& sink) {
    for (const actors::generation_event& event : script.events) {
      std::unique_lock lock(mu_);
      const bool aborted = cv_.wait_for(lock, script.delay, [&] { return aborts_.count(id) > 0; });
      lock.unlock();
      for (int32_t i = 0; i < (event.error && !aborted ? 1 : std::max(n, 1)); ++i) {
        actors::generation_event choice = event;
        choice.index = i;
        if (aborted) {
          choice.text.clear();
          choice.finished = true;
          choice.finish_reason = "abort";
          choice.error.reset();
        }
        sink.on_event(choice);
      }
      if (aborted) return;
    }
  }

  actors::model_info info_;
  telemetry::registry metrics_;
  byte_tokenizer tokenizer_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::thread> threads_;
  std::vector<actors::generation_request> requests_;
  std::map<uint64_t, int> aborts_;
  uint64_t num_submitted_ = 0;
  int num_resets_ = 0;
  std::optional<std::string> reset_refusal_;
};

}  // namespace troupe::http::testing
