#include <utility>

#include "runtime/tokenizer/tokenizer.hpp"
#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime {

incremental_detokenizer::incremental_detokenizer(std::shared_ptr<const tokenizer> tok,
                                                 bool skip_special)
    : tok_(std::move(tok)), skip_special_(skip_special), strip_(tok_->leading_strip()) {}

std::string incremental_detokenizer::push(int32_t id) {
  if (id < 0 || id >= tok_->vocab_size() || (skip_special_ && tok_->is_special(id))) return {};
  const size_t index = num_tokens_++;
  if (const int byte = tok_->fallback_byte(id); byte >= 0) {
    // Held until the run ends: whether it is valid UTF-8 decides its text.
    byte_run_ += static_cast<char>(byte);
    ++num_run_tokens_;
    return {};
  }
  std::string bytes = end_byte_run();
  bytes += tok_->token_bytes_at(id, index);
  return emit(std::move(bytes), /*final=*/false);
}

std::string incremental_detokenizer::finish() {
  std::string text = emit(end_byte_run(), /*final=*/true);
  pending_.clear();
  return text;
}

// A finished run of fallback bytes: as it is when valid UTF-8, else one U+FFFD per token.
std::string incremental_detokenizer::end_byte_run() {
  std::string bytes;
  if (num_run_tokens_ == 0) return bytes;
  std::string repaired;
  (void)utf8::append_repaired(byte_run_, /*final=*/true, repaired);
  if (repaired == byte_run_) {
    bytes = std::move(byte_run_);
  } else {
    for (size_t i = 0; i < num_run_tokens_; ++i)
      bytes += utf8::replacement_char;
  }
  byte_run_.clear();
  num_run_tokens_ = 0;
  return bytes;
}

std::string incremental_detokenizer::emit(std::string bytes, bool final) {
  if (stripping_) {
    // The decode strips the start of the whole text: drop the copies still allowed, until the
    // first byte that is not one.
    size_t drop = 0;
    while (num_stripped_ < strip_.count && !strip_.content.empty() &&
           bytes.compare(drop, strip_.content.size(), strip_.content) == 0) {
      drop += strip_.content.size();
      ++num_stripped_;
    }
    bytes.erase(0, drop);
    if (!bytes.empty()) stripping_ = false;
  }
  pending_ += bytes;
  std::string text;
  // pending_ never keeps more than an incomplete character (< 4 bytes) between calls, so this
  // costs O(token length) per push.
  const size_t consumed = utf8::append_repaired(pending_, final, text);
  pending_.erase(0, consumed);
  return text;
}

}  // namespace troupe::runtime
