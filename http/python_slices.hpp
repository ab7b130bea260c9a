#pragma once
// Python's str.find and slicing on UTF-8 text, indexed by code points as Python indexes a str
// (negative indexes count from the end, out-of-range ones clamp). For ports of vLLM code whose
// splits must land on the same characters.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace troupe::http {

// The number of code points of `text` (len(text)).
int64_t py_len(std::string_view text);
// text.find(needle): the code-point index of the first occurrence, or -1.
int64_t py_find(std::string_view text, std::string_view needle);
// text[start:stop]; nullopt stop: to the end.
std::string py_slice(std::string_view text, int64_t start, std::optional<int64_t> stop);
// text[n:] for 0 <= n, as a view of `text`.
std::string_view py_drop(std::string_view text, int64_t n);

}  // namespace troupe::http
