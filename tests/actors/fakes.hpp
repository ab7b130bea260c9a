#pragma once
// Test doubles for the engine: a byte tokenizer and a model runner whose next token is a function
// of the whole sequence as read back from its paged "KV cache", so a wrong block table, a block
// shared by two requests or a botched recompute after preemption changes the output text.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine.hpp"
#include "runtime/model_runner.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::testing {

constexpr int32_t fake_vocab_size = 128;
constexpr int32_t fake_eos = 0;  // "</s>": special, end of generation

// One byte = one token (bytes 1..127); token 0 is EOS.
class byte_tokenizer : public runtime::tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool) const override {
    std::vector<int32_t> ids;
    for (unsigned char c : text)
      ids.push_back(c > 0 && c < fake_vocab_size ? c : '?');
    return ids;
  }
  std::string decode(std::span<const int32_t> ids, bool skip_special) const override {
    std::string text;
    for (int32_t id : ids) {
      if (!(skip_special && is_special(id))) text += token_bytes(id);
    }
    return text;
  }
  std::string token_bytes(int32_t id) const override {
    return id == fake_eos ? "</s>" : std::string(1, static_cast<char>(id));
  }
  int32_t vocab_size() const override { return fake_vocab_size; }
  int32_t bos_id() const override { return fake_eos; }
  int32_t eos_id() const override { return fake_eos; }
  bool is_special(int32_t id) const override { return id == fake_eos; }
  bool is_eog(int32_t id) const override { return id == fake_eos; }
};

// The fake model: the next token after tokens t_0..t_p is a printable character derived from
// sum((p+1) * t_p); at output index `eos_at` it is EOS instead.
inline int32_t fake_next_token(const std::vector<int32_t>& tokens, int32_t output_index,
                               int32_t eos_at) {
  if (output_index == eos_at) return fake_eos;
  int64_t h = 0;
  for (size_t p = 0; p < tokens.size(); ++p)
    h += int64_t(p + 1) * tokens[p];
  return 32 + static_cast<int32_t>(h % 95);
}

// What the fake model generates for `prompt` alone: `n` tokens.
inline std::vector<int32_t> fake_generate(std::vector<int32_t> tokens, int32_t n,
                                          int32_t eos_at = -1) {
  std::vector<int32_t> out;
  for (int32_t i = 0; i < n; ++i) {
    out.push_back(fake_next_token(tokens, i, eos_at));
    tokens.push_back(out.back());
  }
  return out;
}

inline std::string fake_text(const std::vector<int32_t>& ids) {
  return byte_tokenizer{}.decode(ids, /*skip_special=*/true);
}

struct fake_runner_options {
  int32_t num_kv_blocks = 256;
  int32_t block_size = 4;
  int32_t eos_at = -1;
  std::chrono::microseconds step_sleep{0};
};

// Observations the test reads while the engine owns the runner.
struct fake_runner_probe {
  std::atomic<int32_t> num_errors{0};  // tokens written outside their block table, bad ids
  std::atomic<int32_t> num_steps{0};
  std::atomic<int32_t> max_seqs_in_step{0};
  std::atomic<uint64_t> last_seed{0};
};

class fake_runner : public runtime::model_runner {
 public:
  fake_runner(fake_runner_options options, std::shared_ptr<fake_runner_probe> probe)
      : options_(options),
        probe_(std::move(probe)),
        kv_(size_t(options.num_kv_blocks) * options.block_size, -1) {}

  std::vector<runtime::sampled_token> execute(const runtime::step_batch& batch) override {
    if (options_.step_sleep.count() > 0) std::this_thread::sleep_for(options_.step_sleep);
    probe_->num_steps++;
    int32_t seen = probe_->max_seqs_in_step.load();
    while (int32_t(batch.seqs.size()) > seen &&
           !probe_->max_seqs_in_step.compare_exchange_weak(seen, int32_t(batch.seqs.size()))) {
    }
    std::vector<runtime::sampled_token> sampled;
    size_t offset = 0;
    for (const auto& seq : batch.seqs) {
      for (int32_t i = 0; i < seq.num_tokens; ++i) {
        const int32_t slot = slot_of(seq, seq.start_pos + i);
        if (slot >= 0) kv_[size_t(slot)] = batch.token_ids[offset + size_t(i)];
      }
      offset += size_t(seq.num_tokens);
      if (!seq.sample) continue;
      probe_->last_seed = seq.sampling.seed;
      std::vector<int32_t> tokens;
      for (int32_t p = 0; p < seq.start_pos + seq.num_tokens; ++p) {
        const int32_t slot = slot_of(seq, p);
        tokens.push_back(slot >= 0 ? kv_[size_t(slot)] : -1);
      }
      sampled.push_back({seq.seq_id, fake_next_token(tokens, seq.output_index, options_.eos_at)});
    }
    return sampled;
  }

  int32_t vocab_size() const override { return fake_vocab_size; }
  int32_t block_size() const override { return options_.block_size; }
  int32_t num_kv_blocks() const override { return options_.num_kv_blocks; }

 private:
  int32_t slot_of(const runtime::seq_step& seq, int32_t pos) {
    const size_t index = size_t(pos / options_.block_size);
    if (index >= seq.block_table.size() || seq.block_table[index] < 0 ||
        seq.block_table[index] >= options_.num_kv_blocks) {
      probe_->num_errors++;
      return -1;
    }
    return seq.block_table[index] * options_.block_size + pos % options_.block_size;
  }

  fake_runner_options options_;
  std::shared_ptr<fake_runner_probe> probe_;
  std::vector<int32_t> kv_;
};

// Collects a generation's events; waits with a timeout (a broken engine fails, never hangs).
class collecting_sink : public actors::generation_sink {
 public:
  void on_event(actors::generation_event event) override {
    std::lock_guard lock{mutex_};
    if (finished_) num_events_after_finish_++;
    finished_ = event.finished;
    events_.push_back(std::move(event));
    cv_.notify_all();
  }

  bool wait_finished(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock{mutex_};
    return cv_.wait_for(lock, timeout, [this] { return finished_; });
  }
  bool wait_events(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    std::unique_lock lock{mutex_};
    return cv_.wait_for(lock, timeout, [&] { return events_.size() >= n || finished_; });
  }

  std::vector<actors::generation_event> events() const {
    std::lock_guard lock{mutex_};
    return events_;
  }
  actors::generation_event last() const {
    std::lock_guard lock{mutex_};
    return events_.empty() ? actors::generation_event{} : events_.back();
  }
  std::string text() const {
    std::lock_guard lock{mutex_};
    std::string text;
    for (const auto& e : events_)
      text += e.text;
    return text;
  }
  std::vector<int32_t> token_ids() const {
    std::lock_guard lock{mutex_};
    std::vector<int32_t> ids;
    for (const auto& e : events_)
      ids.insert(ids.end(), e.token_ids.begin(), e.token_ids.end());
    return ids;
  }
  int32_t num_events_after_finish() const {
    std::lock_guard lock{mutex_};
    return num_events_after_finish_;
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<actors::generation_event> events_;
  bool finished_ = false;
  int32_t num_events_after_finish_ = 0;
};

}  // namespace troupe::testing
