// http/python_json: JSON parsed as pydantic parses it and written as json.dumps(ensure_ascii=False)
// writes it. Expected texts are what vLLM 0.32's Python (pydantic 2.14) printed for the same input.
#include "http/python_json.hpp"

#include <string>

#include <gtest/gtest.h>

namespace troupe::http {
namespace {

std::string round_trip(const std::string& text) {
  auto v = parse_python_json(text);
  if (!v) return "<invalid>";
  return python_json_dumps(*v);
}

TEST(python_json, separators_and_literals_are_pythons) {
  EXPECT_EQ(round_trip(R"({"a":[1,{"b":[]},{}],"t":true,"f":false,"n":null})"),
            R"({"a": [1, {"b": []}, {}], "t": true, "f": false, "n": null})");
  EXPECT_EQ(round_trip(" [ ] "), "[]");
  EXPECT_EQ(round_trip(R"("x")"), R"("x")");
}

TEST(python_json, integers_keep_their_digits_and_floats_are_python_reprs) {
  EXPECT_EQ(round_trip("[-0, 7, 123456789012345678901234567890]"),
            "[0, 7, 123456789012345678901234567890]");
  EXPECT_EQ(round_trip("[NaN, Infinity, -Infinity, 1E+2, 1e-2, 0e0, -0.0e-0]"),
            "[NaN, Infinity, -Infinity, 100.0, 0.01, 0.0, -0.0]");
  const std::string digits(4300, '9');
  EXPECT_EQ(round_trip("-" + digits), "-" + digits);
  EXPECT_FALSE(parse_python_json(digits + "9"));
  const std::pair<const char*, const char*> floats[] = {
      {"1e5", "100000.0"},
      {"1E2", "100.0"},
      {"2.50", "2.5"},
      {"0.1", "0.1"},
      {"-0.0", "-0.0"},
      {"0.0001", "0.0001"},
      {"0.00001", "1e-05"},
      {"2.5e-5", "2.5e-05"},
      {"1e-7", "1e-07"},
      {"1.5e15", "1500000000000000.0"},
      {"1.0e16", "1e+16"},
      {"12345678901234567.0", "1.2345678901234568e+16"},
      {"100000000000000000000000.5", "1.0000000000000001e+23"},
      {"1.7976931348623157e308", "1.7976931348623157e+308"},
      {"5e-324", "5e-324"},
      {"-1e-400", "-0.0"},
      {"1E400", "Infinity"},
      {"-1E400", "-Infinity"},
  };
  for (auto [in, out] : floats)
    EXPECT_EQ(round_trip(in), out) << in;
}

TEST(python_json, strings_escape_only_quotes_backslashes_and_control_characters) {
  EXPECT_EQ(round_trip(R"("\u00e9\n\u0001\u001f\u007f\u2028 \/\"\\\t\b\f\r")"),
            "\"\u00e9\\n\\u0001\\u001f\x7f\u2028 /\\\"\\\\\\t\\b\\f\\r\"");
}

TEST(python_json, ensure_ascii_escapes_every_other_character_as_utf16) {
  const auto v = parse_python_json(R"({"k\u00e9": ["\u00e9\u2028\ud83d\ude00", "a\"\n"]})");
  ASSERT_TRUE(v);
  EXPECT_EQ(python_json_dumps(*v, /*ensure_ascii=*/true),
            R"({"k\u00e9": ["\u00e9\u2028\ud83d\ude00", "a\"\n"]})");
  EXPECT_EQ(python_json_dumps(*v), "{\"ké\": [\"é 😀\", \"a\\\"\\n\"]}");
}

TEST(python_json, a_repeated_key_keeps_its_place_and_its_last_value) {
  EXPECT_EQ(round_trip(R"({"a": 1, "b": {"c": 1, "c": [2]}, "a": 3})"),
            R"({"a": 3, "b": {"c": [2]}})");
}

TEST(python_json, what_pydantic_refuses_does_not_parse) {
  for (const std::string& bad : {std::string(R"({"a": )"),
                                 std::string("[1] x"),
                                 std::string(R"(["\ud800"])"),
                                 std::string(R"(["\udc00"])"),
                                 std::string(R"(["\ud800\u0041"])"),
                                 std::string("[1,]"),
                                 std::string("\"\xff\""),
                                 std::string("\"\xed\xa0\x80\""),
                                 std::string("\"a\tb\""),
                                 std::string(R"(["\x"])"),
                                 std::string("[01]"),
                                 std::string("[1.]"),
                                 std::string("[.5]"),
                                 std::string("[1e]"),
                                 std::string("[-NaN]"),
                                 std::string("[inf]"),
                                 std::string("[+1]"),
                                 std::string("[1 2]"),
                                 std::string(R"({"a" 1})"),
                                 std::string(R"({1: 2})"),
                                 std::string(202, '[') + std::string(202, ']')}) {
    EXPECT_FALSE(parse_python_json(bad)) << bad;
  }
  EXPECT_TRUE(parse_python_json(std::string(201, '[') + std::string(201, ']')));
}

}  // namespace
}  // namespace troupe::http
