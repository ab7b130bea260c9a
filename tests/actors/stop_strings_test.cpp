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
}

TEST(stop_strings, include_in_output_keeps_the_stop_string_but_nothing_after) {
  stop_string_filter f({"world"}, true);
  EXPECT_EQ(feed(f, {"Hello wo", "rld! more"}),
            (std::pair<std::string, std::string>{"Hello world", "world"}));
}

TEST(stop_strings, holds_back_only_a_possible_beginning) {
  stop_string_filter f({"abc", "xy"}, false);
  auto s = f.push("12ab", true);
  EXPECT_EQ(s.text, "12");
  s = f.push("d", true);  // "abd": no stop string starts here any more
  EXPECT_EQ(s.text, "abd");
  s = f.push("x", true);
  EXPECT_EQ(s.text, "");
  EXPECT_EQ(f.flush(), "x");
}

TEST(stop_strings, first_listed_stop_string_present_wins) {
  stop_string_filter f({"cd", "ab"}, false);
  auto s = f.push("abcd", true);
  ASSERT_TRUE(s.matched);
  EXPECT_EQ(*s.matched, "cd");
  EXPECT_EQ(s.text, "ab");
  EXPECT_EQ(f.push("more", true).text, "");  // finished: nothing more
}

TEST(stop_strings, unchecked_text_is_held_back_and_matched_later) {
  stop_string_filter f({"ab"}, false);
  auto s = f.push("xa", false);
  EXPECT_EQ(s.text, "x");
  s = f.push("b", false);  // below min_tokens: no match yet
  EXPECT_FALSE(s.matched);
  EXPECT_EQ(s.text, "ab");
  s = f.push("zab", true);
  ASSERT_TRUE(s.matched);
  EXPECT_EQ(s.text, "z");
}

TEST(stop_strings, multibyte_text_is_never_split) {
  stop_string_filter f({"é!"}, false);
  auto s = f.push("caf\xC3\xA9", true);
  EXPECT_EQ(s.text, "caf");
  s = f.push("?", true);
  EXPECT_EQ(s.text, "\xC3\xA9?");
}

TEST(stop_strings, empty_stop_strings_are_ignored) {
  stop_string_filter f({""}, false);
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.push("abc", true).text, "abc");
}

}  // namespace
}  // namespace troupe::actors
