#pragma once
// Test-only: a vocab_spec from a Hugging Face tokenizer.json with a byte-level BPE model (the
// full tokenizer.json support is a separate component). Added tokens become control tokens when
// "special", user-defined otherwise.
#include <rapidjson/document.h>

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::testing {

inline std::optional<runtime::vocab_spec> vocab_from_tokenizer_json(const std::string& path,
                                                                    const std::string& pre) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  if (doc.HasParseError() || !doc.HasMember("model")) return std::nullopt;
  const auto& model = doc["model"];
  runtime::vocab_spec spec;
  spec.model = "gpt2";
  spec.pre = pre;
  const auto set_token = [&](int id, std::string text, runtime::token_type type) {
    if (static_cast<size_t>(id) >= spec.tokens.size()) {
      spec.tokens.resize(id + 1);
      spec.types.resize(id + 1, runtime::token_type::unused);
    }
    spec.tokens[id] = std::move(text);
    spec.types[id] = type;
  };
  for (const auto& [key, value] : model["vocab"].GetObject())
    set_token(value.GetInt(), std::string(key.GetString(), key.GetStringLength()),
              runtime::token_type::normal);
  for (const auto& added : doc["added_tokens"].GetArray())
    set_token(added["id"].GetInt(), added["content"].GetString(),
              added["special"].GetBool() ? runtime::token_type::control
                                         : runtime::token_type::user_defined);
  for (const auto& merge : model["merges"].GetArray()) {
    spec.merges.push_back(merge.IsString()
                              ? std::string(merge.GetString())
                              : std::string(merge[0].GetString()) + " " + merge[1].GetString());
  }
  spec.ignore_merges = model.HasMember("ignore_merges") && model["ignore_merges"].GetBool();
  return spec;
}

}  // namespace troupe::testing
