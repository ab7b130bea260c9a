#include "actors/stop_strings.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace troupe::actors {
namespace {

// Feeds `pieces` one at a time; returns the emitted text and the stop string matched.
std::pair<std::string, std::string> feed(stop_string_filter& f,
                                         const std::vector<std::string>& pieces) {
  std::string text;
  for (const auto& piece : pieces) {
    auto step = f.push(piece, true);
    text += step.text;
    if (step.matched) return {text, *step.matched};
  }
  return {text + f.flush(), ""};
}

TEST(stop_strings, match_across_pieces_and_cut_the_stop_string) {
  stop_string_filter f({"world"}, false);
  EXPECT_EQ(feed(f, {"Hello wo", "r", "ld! more"}),
            (std::pair<std::string, std::string>{"Hello ", "world"}));
  stop_string_filter g({"world"}, false);
  EXPECT_EQ(g.push("Hello wo", true).text, "Hell");  // 4 characters held back
}

TEST(stop_strings, include_in_output_keeps_the_stop_string_but_nothing_after) {
  stop_string_filter f({"world"}, true);
  EXPECT_EQ(feed(f, {"Hello wo", "rld! more"}),
            (std::pair<std::string, std::string>{"Hello world", "world"}));
}

TEST(stop_strings, include_in_output_matches_a_stop_string_begun_in_emitted_text) {
  stop_string_filter f({"world", "x"}, true);
  EXPECT_EQ(f.push("Hello wo", true).text, "Hello wo");  // nothing held back
  auto s = f.push("rld! more", true);
  ASSERT_TRUE(s.matched);
  EXPECT_EQ(s.text, "rld");
}

TEST(stop_strings, hold_back_the_longest_stop_string_less_one_character) {
  stop_string_filter f({"abc", "xy"}, false);  // vLLM's stop_buffer_length: 2
  auto s = f.push("12ab", true);
  EXPECT_EQ(s.text, "12");
  s = f.push("d", true);
  EXPECT_EQ(s.text, "a");
  s = f.push("x", true);
  EXPECT_EQ(s.text, "b");
  EXPECT_EQ(f.flush(), "dx");
}

TEST(stop_strings, the_stop_string_completed_first_wins_then_the_first_listed) {
  stop_string_filter f({"cd", "ab"}, false);
  auto s = f.push("abcd", true);
  ASSERT_TRUE(s.matched);
  EXPECT_EQ(*s.matched, "ab");
  EXPECT_EQ(s.text, "");
  EXPECT_EQ(f.push("more", true).text, "");  // finished: nothing more

  stop_string_filter tie({"bcd", "cd"}, false);  // both end at "d": the first listed
  s = tie.push("abcde", true);
  ASSERT_TRUE(s.matched);
  EXPECT_EQ(*s.matched, "bcd");
  EXPECT_EQ(s.text, "a");
}

TEST(stop_strings, a_match_must_end_in_the_text_just_pushed) {
  stop_string_filter f({"ab"}, false);
  auto s = f.push("xa", false);
  EXPECT_EQ(s.text, "x");
  s = f.push("b", false);  // below min_tokens: no match yet
  EXPECT_FALSE(s.matched);
  EXPECT_EQ(s.text, "a");
  s = f.push("z", true);  // "ab" ended before: vLLM no longer looks at it
  EXPECT_FALSE(s.matched);
  EXPECT_EQ(s.text, "b");
  s = f.push("zab", true);
  ASSERT_TRUE(s.matched);
  EXPECT_EQ(s.text, "zz");
}

TEST(stop_strings, held_characters_are_code_points_and_never_split) {
  stop_string_filter f({"\xC3\xA9!"}, false);  // two characters: one held back
  auto s = f.push("caf\xC3\xA9", true);
  EXPECT_EQ(s.text, "caf");
  s = f.push("?", true);
  EXPECT_EQ(s.text, "\xC3\xA9");
  EXPECT_EQ(f.flush(), "?");
}

TEST(stop_strings, empty_stop_strings_are_ignored) {
  stop_string_filter f({""}, false);
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.push("abc", true).text, "abc");
}

}  // namespace
}  // namespace troupe::actors
