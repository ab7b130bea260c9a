#pragma once
// ijson.parse's events for a JSON text that arrives in pieces, emitted when ijson's default
// backend (yajl2_c, the one vLLM's mistral tool parser gets) emits them. The pre-v11 mistral
// parser (http/tool_parser_mistral.cpp) keys its streamed deltas on which events a piece
// brings, so the timing is the contract:
//
//   - '{' '[' '}' ']' emit start_map, start_array, end_map, end_array at once;
//   - a string emits at its closing quote (map_key where a key goes, else string), true, false
//     and null at their last letter;
//   - a number emits only once the character after it arrives (the piece "[1" emits start_array
//     alone; "," then emits number);
//   - every event carries ijson's prefix, the path of the value as the C backend writes it:
//     "" for the top-level value; a top-level map's key as it is; a deeper map's key after the
//     map's prefix and a '.' (even an empty prefix: {"": {"x": 1}} gives "x" the prefix ".x");
//     an array's elements "item" below "", else the array's prefix and ".item". A map_key
//     carries its map's prefix. Keys go in as they are, dots and all.
//
// Errors are yajl's: a character no JSON token starts with, a bad escape, a raw control
// character in a string, a token out of place (checked when the token is complete, so "{5"
// fails only once the number ends), anything but whitespace after the top-level value. An
// error is sticky: ijson raises it again for every later piece.
//
// \u escapes decode as yajl decodes them: a high surrogate followed by a \u escape combines
// with it (whatever that escape is); a high surrogate followed by anything else becomes '?'; a
// lone low surrogate is an error (ijson cannot decode the bytes yajl makes of it).
//
// Not thread-safe; one object per stream.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::http {

class json_event_parser {
 public:
  enum class event_type : uint8_t {
    start_map,
    end_map,
    start_array,
    end_array,
    map_key,
    string,
    number,
    boolean,
    null,
  };

  struct event {
    std::string prefix;
    event_type type;
    std::string value;  // map_key: the key; string: its text (UTF-8); number, boolean: the token
  };

  // Parses the next piece, appending to `out` each event it completes. false: the text is not
  // JSON (in this piece or an earlier one); `out` then holds the events before the error.
  bool feed(std::string_view piece, std::vector<event>& out);

 private:
  enum class token_kind : uint8_t { none, string, number, literal };
  // Where the grammar stands: what the next token may be.
  enum class expect : uint8_t {
    value,           // the top-level value, a map value or an array element after ','
    element_or_end,  // just after '['
    key_or_end,      // just after '{'
    key,             // after ',' in a map
    colon,           // after a key
    comma_or_end,    // after a value inside a map or an array
    nothing,         // after the top-level value: only whitespace
  };
  // The parts of a number (-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?) a character may end.
  enum class number_part : uint8_t { minus, zero, integer, dot, fraction, e, e_sign, exponent };

  bool lex(char c, std::vector<event>& out);
  bool lex_string(char c, std::vector<event>& out);
  // false: `c` cannot continue the number; `complete` says whether what came is a number.
  bool continue_number(char c, bool& complete);
  bool start_token(char c, std::vector<event>& out);
  bool on_scalar(event_type type, std::string value, std::vector<event>& out);
  bool on_punctuation(char c, std::vector<event>& out);
  void after_value();
  // The prefix of a value that comes now.
  std::string value_prefix() const;

  // One open map or array.
  struct level {
    char open;           // '{' or '['
    std::string prefix;  // its own
    std::string child;   // its current key's or element's
  };

  bool failed_ = false;
  expect expect_ = expect::value;
  std::vector<level> levels_;  // the open containers, outermost first

  token_kind token_ = token_kind::none;
  std::string text_;  // the token so far: a string's raw body, a number, a literal's letters
  std::string_view literal_;  // the word a literal must spell
  number_part number_ = number_part::minus;
  bool escaped_ = false;  // a string's last character was an unescaped '\'
  int hex_left_ = 0;      // hex digits a \u escape still needs
};

}  // namespace troupe::http
