// Encode / decode throughput of a Hugging Face tokenizer.json (load_hf_tokenizer) on a JSONL
// corpus of {"text": ...} lines, single-threaded; prints one JSON line. Driven by
// tools/bench_hf_tokenizer.py, which compares it with the Python `tokenizers` package.
// Usage: hf_tokenizer_bench TOKENIZER_DIR CORPUS.jsonl [SECONDS]
#include <rapidjson/document.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/tokenizer/tokenizer.hpp"

namespace {

std::vector<std::string> read_texts(const std::string& path) {
  std::vector<std::string> texts;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("text") && doc["text"].IsString())
      texts.emplace_back(doc["text"].GetString(), doc["text"].GetStringLength());
  }
  return texts;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR CORPUS.jsonl [SECONDS]\n", argv[0]);
    return 2;
  }
  const double budget = argc > 3 ? std::stod(argv[3]) : 2.0;
  auto start = std::chrono::steady_clock::now();
  auto tok = troupe::runtime::load_hf_tokenizer(argv[1]);
  if (!tok) {
    std::fprintf(stderr, "%s\n", tok.message().c_str());
    return 1;
  }
  const double load_s = seconds_since(start);
  const auto texts = read_texts(argv[2]);
  size_t num_bytes = 0, num_tokens = 0, rounds = 0;
  std::vector<std::vector<int32_t>> encoded(texts.size());
  start = std::chrono::steady_clock::now();
  do {
    for (size_t i = 0; i < texts.size(); ++i) {
      encoded[i] = (*tok)->encode(texts[i], false);
      num_bytes += texts[i].size();
      num_tokens += encoded[i].size();
    }
    ++rounds;
  } while (seconds_since(start) < budget);
  const double encode_s = seconds_since(start);
  size_t num_decoded = 0;
  start = std::chrono::steady_clock::now();
  size_t decode_rounds = 0;
  do {
    for (const auto& ids : encoded) {
      num_decoded += ids.size();
      volatile size_t sink = (*tok)->decode(ids, false).size();
      (void)sink;
    }
    ++decode_rounds;
  } while (seconds_since(start) < budget);
  const double decode_s = seconds_since(start);
  std::printf(
      "{\"load_s\": %.4f, \"encode_bytes_per_s\": %.1f, \"encode_tokens_per_s\": %.1f, "
      "\"decode_tokens_per_s\": %.1f, \"rounds\": %zu}\n",
      load_s, num_bytes / encode_s, num_tokens / encode_s, num_decoded / decode_s, rounds);
  return 0;
}
