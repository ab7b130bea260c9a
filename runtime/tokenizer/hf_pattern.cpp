#include "runtime/tokenizer/hf_pattern.hpp"

#include <rapidjson/document.h>

namespace troupe::runtime {

result<hf_pattern> hf_pattern::from_json(const rapidjson::Value& json) {
  if (!json.IsObject()) return error{"pattern is not an object"};
  if (json.HasMember("String") && json["String"].IsString())
    return literal(std::string(json["String"].GetString(), json["String"].GetStringLength()));
  if (json.HasMember("Regex") && json["Regex"].IsString()) {
    auto compiled = hf_text::regex::make(
        std::string_view(json["Regex"].GetString(), json["Regex"].GetStringLength()));
    if (!compiled) return compiled.err();
    hf_pattern p;
    p.regex_ = std::move(compiled).value();
    return p;
  }
  return error{"pattern has neither String nor Regex"};
}

hf_pattern hf_pattern::literal(std::string text) {
  hf_pattern p;
  p.literal_ = std::move(text);
  return p;
}

hf_pattern hf_pattern::of_regex(std::shared_ptr<const hf_text::regex> regex) {
  hf_pattern p;
  p.regex_ = std::move(regex);
  return p;
}

std::vector<std::pair<size_t, size_t>> hf_pattern::find_all(std::string_view text) const {
  if (regex_) return regex_->find_all(text);
  std::vector<std::pair<size_t, size_t>> matches;
  if (literal_.empty()) return matches;
  for (size_t at = text.find(literal_); at != std::string_view::npos;
       at = text.find(literal_, at + literal_.size()))
    matches.emplace_back(at, at + literal_.size());
  return matches;
}

std::string hf_pattern::replace_all(std::string_view text, std::string_view content) const {
  std::string out;
  size_t done = 0;
  for (const auto& [begin, end] : find_all(text)) {
    out.append(text.substr(done, begin - done));
    out.append(content);
    done = end;
  }
  out.append(text.substr(done));
  return out;
}

}  // namespace troupe::runtime
