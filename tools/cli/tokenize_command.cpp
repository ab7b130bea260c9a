#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "runtime/serving/model_files.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

void print_ids(const std::vector<int32_t>& ids) {
  rapidjson::StringBuffer buffer;
  json_writer out(buffer);
  out.StartObject();
  out.Key("ids");
  out.StartArray();
  for (int32_t id : ids)
    out.Int(id);
  out.EndArray();
  out.EndObject();
  std::printf("%s\n", buffer.GetString());
}

void print_text(const std::string& text) {
  rapidjson::StringBuffer buffer;
  json_writer out(buffer);
  out.StartObject();
  out.Key("text");
  out.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
  out.EndObject();
  std::printf("%s\n", buffer.GetString());
}

// One JSONL line: {"text": "..."} to encode, or {"ids": [...]} to decode.
result<std::vector<int32_t>> read_ids(const rapidjson::Value& doc) {
  if (!doc.IsObject() || !doc.HasMember("ids") || !doc["ids"].IsArray()) {
    return error{"expected {\"ids\": [...]}"};
  }
  std::vector<int32_t> ids;
  for (const auto& v : doc["ids"].GetArray()) {
    if (!v.IsInt()) return error{"token ids must be integers"};
    ids.push_back(v.GetInt());
  }
  return ids;
}

result<std::string> read_text(const rapidjson::Value& doc) {
  if (!doc.IsObject() || !doc.HasMember("text") || !doc["text"].IsString()) {
    return error{"expected {\"text\": \"...\"}"};
  }
  return std::string(doc["text"].GetString(), doc["text"].GetStringLength());
}

// Applies the subcommand to one stdin line; false (with a message) on a malformed line.
bool handle_line(const runtime::tokenizer& tok, const tokenize_options& options,
                 const std::string& line, int line_number) {
  rapidjson::Document doc;
  doc.Parse(line.data(), line.size());
  if (doc.HasParseError()) {
    std::fprintf(stderr, "troupe tokenize: line %d: invalid JSON\n", line_number);
    return false;
  }
  if (options.decode) {
    auto ids = read_ids(doc);
    if (!ids) {
      std::fprintf(stderr, "troupe tokenize: line %d: %s\n", line_number, ids.message().c_str());
      return false;
    }
    print_text(tok.decode(*ids, options.skip_special_tokens));
    return true;
  }
  auto text = read_text(doc);
  if (!text) {
    std::fprintf(stderr, "troupe tokenize: line %d: %s\n", line_number, text.message().c_str());
    return false;
  }
  print_ids(tok.encode(*text, options.add_special_tokens));
  return true;
}

}  // namespace

int run_tokenize(const command_line& cl) {
  const tokenize_options& options = cl.tokenize;
  std::string path =
      options.tokenizer.empty() ? runtime::resolve_model_path(cl.engine) : options.tokenizer;
  auto tok = runtime::load_tokenizer(path);
  if (!tok) {
    std::fprintf(stderr, "troupe tokenize: %s\n", tok.message().c_str());
    return 1;
  }
  // Arguments given on the command line are handled instead of stdin.
  if (!options.texts.empty() || !options.id_lists.empty()) {
    for (const auto& text : options.texts)
      print_ids((*tok)->encode(text, options.add_special_tokens));
    for (const auto& ids : options.id_lists)
      print_text((*tok)->decode(ids, options.skip_special_tokens));
    return 0;
  }
  std::string line;
  int line_number = 0;
  bool all_ok = true;
  while (std::getline(std::cin, line)) {
    ++line_number;
    if (line.empty()) continue;
    all_ok = handle_line(**tok, options, line, line_number) && all_ok;
  }
  return all_ok ? 0 : 1;
}

}  // namespace troupe::cli
