#pragma once
// Reads JSON Lines test data with RapidJSON (one document per line).
#include <rapidjson/document.h>

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

namespace troupe::testing {

inline std::vector<rapidjson::Document> read_jsonl(const std::string& path) {
  std::vector<rapidjson::Document> docs;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (!doc.HasParseError()) docs.push_back(std::move(doc));
  }
  return docs;
}

inline std::string json_string(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

inline std::vector<int32_t> json_ids(const rapidjson::Value& v) {
  std::vector<int32_t> ids;
  for (const auto& x : v.GetArray())
    ids.push_back(x.GetInt());
  return ids;
}

}  // namespace troupe::testing
