#include "http/marker_lexer.hpp"

namespace troupe::http {

marker_lexer::marker_lexer(std::vector<std::string> literals) : literals_(std::move(literals)) {
  for (const std::string& literal : literals_)
    if (!literal.empty() && first_bytes_.find(literal[0]) == std::string::npos)
      first_bytes_ += literal[0];
}

std::vector<lexed_piece> marker_lexer::feed(std::string_view text) {
  std::vector<lexed_piece> out;
  buffer_ += text;
  drain(false, out);
  return out;
}

std::vector<lexed_piece> marker_lexer::flush() {
  std::vector<lexed_piece> out;
  drain(true, out);
  if (!buffer_.empty()) out.push_back({-1, std::move(buffer_)});
  buffer_.clear();
  return out;
}

int32_t marker_lexer::longest_match() const {
  int32_t best = -1;
  for (size_t i = 0; i < literals_.size(); ++i) {
    const std::string& literal = literals_[i];
    if (literal.empty() || !buffer_.starts_with(literal)) continue;
    if (best < 0 || literal.size() > literals_[best].size()) best = static_cast<int32_t>(i);
  }
  return best;
}

bool marker_lexer::is_proper_prefix(std::string_view text) const {
  for (const std::string& literal : literals_)
    if (literal.size() > text.size() && literal.starts_with(text)) return true;
  return false;
}

bool marker_lexer::has_longer_literal(size_t match_length) const {
  for (const std::string& literal : literals_)
    if (literal.size() > match_length && literal.starts_with(buffer_)) return true;
  return false;
}

// The first place after the start where a literal (or, at the end, a prefix of one) begins.
size_t marker_lexer::content_boundary() const {
  for (size_t i = 1; i < buffer_.size(); ++i) {
    if (first_bytes_.find(buffer_[i]) == std::string::npos) continue;
    std::string_view rest = std::string_view(buffer_).substr(i);
    for (const std::string& literal : literals_) {
      size_t n = std::min(rest.size(), literal.size());
      if (rest.substr(0, n) == std::string_view(literal).substr(0, n)) return i;
    }
  }
  return buffer_.size();
}

// vLLM's _drain, step for step: its order decides where held-back text is released.
void marker_lexer::drain(bool final, std::vector<lexed_piece>& out) {
  while (!buffer_.empty()) {
    if (buffer_.find_first_of(first_bytes_) == std::string::npos) {
      out.push_back({-1, std::move(buffer_)});
      buffer_.clear();
      return;
    }
    int32_t best = longest_match();
    if (!final && is_proper_prefix(buffer_)) {
      if (best < 0 || has_longer_literal(literals_[best].size())) return;
    }
    if (best >= 0) {
      out.push_back({best, literals_[best]});
      buffer_.erase(0, literals_[best].size());
      continue;
    }
    size_t end = content_boundary();
    out.push_back({-1, buffer_.substr(0, end)});
    buffer_.erase(0, end);
  }
}

}  // namespace troupe::http
