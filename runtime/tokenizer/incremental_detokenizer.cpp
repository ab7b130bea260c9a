#include <utility>

#include "runtime/tokenizer/tokenizer.hpp"
#include "runtime/tokenizer/utf8.hpp"

namespace troupe::runtime {

incremental_detokenizer::incremental_detokenizer(std::shared_ptr<const tokenizer> tok,
                                                 bool skip_special)
    : tok_(std::move(tok)), skip_special_(skip_special), strip_(tok_->leading_strip()) {}

std::string incremental_detokenizer::push(int32_t id) {
  if (id < 0 || id >= tok_->vocab_size() || (skip_special_ && tok_->is_special(id))) return {};
  std::string bytes = tok_->token_bytes_at(id, num_tokens_++);
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
  const size_t consumed = utf8::append_repaired(pending_, /*final=*/false, text);
  pending_.erase(0, consumed);
  return text;
}

std::string incremental_detokenizer::finish() {
  std::string text;
  (void)utf8::append_repaired(pending_, /*final=*/true, text);
  pending_.clear();
  return text;
}

}  // namespace troupe::runtime
