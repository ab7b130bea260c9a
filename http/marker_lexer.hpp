#pragma once
// vLLM's IncrementalLexer (parser/engine/incremental_lexer.py) for literal terminals only: cuts
// streamed text into markers and the text between them, holding back a tail that could still
// become a marker (the whole held text is a proper prefix of one) until more text or flush().
// Bytes stand for Python's code points: markers begin with an ASCII or lead byte, so a cut never
// falls inside a character.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::http {

struct lexed_piece {
  int32_t terminal = -1;  // an index into the lexer's literals; -1: plain text
  std::string text;
};

class marker_lexer {
 public:
  // `literals`: the markers, each one's index its terminal.
  explicit marker_lexer(std::vector<std::string> literals);

  std::vector<lexed_piece> feed(std::string_view text);
  // Everything held back, lexed as final.
  std::vector<lexed_piece> flush();
  void reset() { buffer_.clear(); }
  bool holding() const { return !buffer_.empty(); }

 private:
  void drain(bool final, std::vector<lexed_piece>& out);
  int32_t longest_match() const;
  bool is_proper_prefix(std::string_view text) const;
  bool has_longer_literal(size_t match_length) const;
  size_t content_boundary() const;

  std::vector<std::string> literals_;
  std::string first_bytes_;
  std::string buffer_;
};

}  // namespace troupe::http
