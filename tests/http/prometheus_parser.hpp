#pragma once
// Checks /metrics text with a real Prometheus parser: runs tests/http/prometheus_parse.py (the
// prometheus_client package's text parser) on it and returns what the parser understood, for the
// tests to inspect. When python3 or prometheus_client is missing the outcome is `unavailable`
// and the test skips with its message (tools/setup.sh --packages installs prometheus_client).
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>

#include <rapidjson/document.h>

#include "tests/support/testdata.hpp"

namespace troupe::http::testing {

struct prometheus_parse {
  enum class outcome { parsed, unavailable, rejected };
  outcome result = outcome::unavailable;
  std::string message;      // why not parsed
  rapidjson::Document doc;  // {"families": [{"name", "type", "documentation", "samples"}]}
};

inline std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// `tag` names the files the exchange leaves under the build dir (for looking at them later).
inline prometheus_parse parse_prometheus_text(const std::string& text, const std::string& tag) {
  prometheus_parse p;
  const std::filesystem::path dir = std::filesystem::path(TROUPE_BINARY_DIR) / "test_output";
  std::filesystem::create_directories(dir);
  const auto in = dir / (tag + ".prom"), out = dir / (tag + ".json"), err = dir / (tag + ".err");
  std::ofstream(in) << text;
  const std::string command = "python3 " + troupe::testing::source_dir() +
                              "/tests/http/prometheus_parse.py " + in.string() + " > " +
                              out.string() + " 2> " + err.string();
  const int status = std::system(command.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 3 || code == 127) {
    p.message = code == 127 ? "python3 is not installed" : read_text_file(err);
    return p;
  }
  if (code != 0) {
    p.result = prometheus_parse::outcome::rejected;
    p.message = read_text_file(err);
    return p;
  }
  const std::string json = read_text_file(out);
  p.doc.Parse(json.data(), json.size());
  if (p.doc.HasParseError() || !p.doc.IsObject() || !p.doc["families"].IsArray()) {
    p.result = prometheus_parse::outcome::rejected;
    p.message = "the parser's output is not the expected JSON: " + json;
    return p;
  }
  p.result = prometheus_parse::outcome::parsed;
  return p;
}

// The parsed family `name` (the parser's name: counters without "_total"), or nullptr.
inline const rapidjson::Value* find_family(const rapidjson::Document& doc, std::string_view name) {
  for (const auto& f : doc["families"].GetArray()) {
    if (name == f["name"].GetString()) return &f;
  }
  return nullptr;
}

// The value of the family's sample `sample_name` whose labels include every pair of `labels`,
// summed over every such sample; nullopt when there is none.
inline std::optional<double> sample_sum(const rapidjson::Value& family,
                                        std::string_view sample_name,
                                        const std::map<std::string, std::string>& labels = {}) {
  std::optional<double> sum;
  for (const auto& s : family["samples"].GetArray()) {
    if (sample_name != s["name"].GetString() || !s["value"].IsNumber()) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      match = match && s["labels"].HasMember(k.c_str()) && v == s["labels"][k.c_str()].GetString();
    }
    if (match) sum = sum.value_or(0.0) + s["value"].GetDouble();
  }
  return sum;
}

}  // namespace troupe::http::testing
