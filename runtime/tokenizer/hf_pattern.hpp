#pragma once
// The {"String": s} / {"Regex": r} patterns of tokenizer.json: all non-overlapping matches.
// Internal to troupe_tokenizer.
#include <rapidjson/fwd.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "runtime/tokenizer/hf_text.hpp"

namespace troupe::runtime {

class hf_pattern {
 public:
  static result<hf_pattern> from_json(const rapidjson::Value& json);
  static hf_pattern literal(std::string text);
  static hf_pattern of_regex(std::shared_ptr<const hf_text::regex> regex);

  // Matches [begin, end), left to right. An empty literal never matches.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
  // `text` with every match replaced by `content`.
  std::string replace_all(std::string_view text, std::string_view content) const;

 private:
  std::string literal_;
  std::shared_ptr<const hf_text::regex> regex_;
};

}  // namespace troupe::runtime
