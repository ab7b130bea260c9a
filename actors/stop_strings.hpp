#pragma once
// Stop strings on a generation's detokenized text, with vLLM 0.32's semantics (its
// IncrementalDetokenizer): a stop string may span token boundaries; when the new text completes
// several, the one that completes earliest wins (ties: list order); the text is cut where it
// begins, or right after it with include_in_output. A match must end in the text just pushed
// (earlier text was checked when it came, or was below min_tokens).
//
// While no stop string matched, the last (longest stop string - 1) characters (code points) stay
// held back, so that what is emitted never needs taking back; with include_in_output nothing is
// held back. The streamed pieces are therefore vLLM's, character for character.
//
//   stops {"world"}: push("Hello wo") -> "Hell"  (4 characters held)
//                    push("rld!")     -> "o "    matched "world"
//
// Thread: not thread-safe (one request actor owns one).
#include <cstddef>
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
  std::vector<std::string> stops_;
  bool include_in_output_;
  size_t held_characters_ = 0;  // code points kept back from the end while unmatched
  size_t longest_stop_ = 0;     // bytes
  // The end of the text: the last emitted bytes a match may still begin in (fewer than the
  // longest stop string's), then the text not yet emitted, from byte `num_emitted_` on.
  std::string text_;
  size_t num_emitted_ = 0;
  bool matched_ = false;
};

}  // namespace troupe::actors
