#pragma once
// Stop strings on a generation's detokenized text, with vLLM's semantics: a stop string may span
// token boundaries; the text is cut where the first of `stop` (in list order) that appears
// begins, or right after it with include_in_output; text that could be the beginning of a stop
// string is held back until the next tokens decide.
//
//   push("Hello wo")  -> "Hello "  (holds "wo": stop "world" may follow)
//   push("rld!")      -> ""        matched "world"
//
// Thread: not thread-safe (one request actor owns one).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace troupe::actors {

class stop_string_filter {
 public:
  // Empty strings in `stops` are ignored (they would match everywhere).
  stop_string_filter(std::vector<std::string> stops, bool include_in_output);

  struct step {
    std::string text;                    // newly final text
    std::optional<std::string> matched;  // the stop string that ended the generation
  };

  // Appends `text` (UTF-8 complete). With `check` false (fewer than min_tokens outputs) no stop
  // string matches yet, but text is still held back. After a match, nothing more is accepted.
  step push(std::string_view text, bool check);
  // The held-back text, at the end of the generation.
  std::string flush();

  bool empty() const { return stops_.empty(); }

 private:
  size_t held_back_length() const;

  std::vector<std::string> stops_;
  bool include_in_output_;
  std::string pending_;  // text not yet emitted
  bool matched_ = false;
};

}  // namespace troupe::actors
