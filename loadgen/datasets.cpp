#include "loadgen/datasets.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>

namespace troupe::loadgen {
namespace {

int32_t count_tokens(const tokenizer_ptr& tok, const std::string& text) {
  return static_cast<int32_t>(tok->encode(text, false).size());
}

std::vector<int32_t> random_ids(std::mt19937_64& rng, int32_t n, int32_t vocab) {
  std::uniform_int_distribution<int32_t> pick(0, vocab - 1);
  std::vector<int32_t> ids(static_cast<size_t>(std::max(n, 0)));
  for (auto& id : ids)
    id = pick(rng);
  return ids;
}

// Decoding arbitrary ids and re-encoding rarely gives the same length; truncate the re-encoded
// ids to the target so prompt_len is what the server will see (benchmark_serving does the same).
sample_request make_prompt(const tokenizer_ptr& tok, const std::vector<int32_t>& ids,
                           int32_t output_len) {
  std::string text = tok->decode(ids, true);
  auto reencoded = tok->encode(text, false);
  if (reencoded.size() > ids.size()) {
    reencoded.resize(ids.size());
    text = tok->decode(reencoded, true);
  }
  return {text, static_cast<int32_t>(reencoded.size()), output_len};
}

std::pair<int32_t, int32_t> length_range(int32_t len, double ratio) {
  const auto lo = static_cast<int32_t>(std::floor(len * (1.0 - ratio)));
  const auto hi = static_cast<int32_t>(std::ceil(len * (1.0 + ratio)));
  return {std::max(lo, 0), std::max(hi, std::max(lo, 0))};
}

}  // namespace

result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return error{"cannot open dataset file '" + path + "'"};
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

result<std::vector<sample_request>> sample_random(const tokenizer_ptr& tok, const random_spec& spec,
                                                  int64_t num_requests, uint64_t seed) {
  if (!tok) return error{"the random dataset needs a tokenizer (--tokenizer or a GGUF --model)"};
  if (spec.range_ratio < 0 || spec.range_ratio >= 1) {
    return error{"--random-range-ratio must be in [0, 1)"};
  }
  std::mt19937_64 rng(seed);
  const int32_t vocab = tok->vocab_size();
  const auto prefix = random_ids(rng, spec.prefix_len, vocab);
  const auto [in_lo, in_hi] = length_range(spec.input_len, spec.range_ratio);
  const auto [out_lo, out_hi] = length_range(spec.output_len, spec.range_ratio);
  std::uniform_int_distribution<int32_t> input_len(in_lo, in_hi),
      output_len(std::max(out_lo, 1), std::max(out_hi, 1));
  std::uniform_int_distribution<int32_t> offset(0, vocab - 1);
  std::vector<sample_request> out;
  for (int64_t i = 0; i < num_requests; ++i) {
    const int32_t n_in = input_len(rng), n_out = output_len(rng), off = offset(rng);
    std::vector<int32_t> ids = prefix;
    for (int32_t j = 0; j < n_in; ++j) {
      ids.push_back(static_cast<int32_t>((off + i + j) % vocab));
    }
    out.push_back(make_prompt(tok, ids, n_out));
  }
  return out;
}

result<std::vector<sample_request>> sample_custom(const tokenizer_ptr& tok, const std::string& path,
                                                  const std::string& text, int64_t num_requests,
                                                  int32_t output_len,
                                                  const prompt_transform& apply_template) {
  std::vector<sample_request> out;
  std::istringstream lines(text);
  std::string line;
  for (int64_t line_no = 1; std::getline(lines, line); ++line_no) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    rapidjson::Document doc;
    doc.Parse(line.c_str(), line.size());
    const std::string where = path + ":" + std::to_string(line_no);
    if (doc.HasParseError()) {
      return error{where + ": not JSON (" + rapidjson::GetParseError_En(doc.GetParseError()) + ")"};
    }
    if (!doc.IsObject() || !doc.HasMember("prompt") || !doc["prompt"].IsString()) {
      return error{where + ": expected an object with a string \"prompt\" field"};
    }
    std::string prompt(doc["prompt"].GetString(), doc["prompt"].GetStringLength());
    if (apply_template) {
      auto rendered = apply_template(prompt);
      if (!rendered) return error{where + ": chat template: " + rendered.message()};
      prompt = std::move(*rendered);
    }
    const int32_t len = tok ? count_tokens(tok, prompt) : 0;
    out.push_back({std::move(prompt), len, output_len});
  }
  if (out.empty()) return error{path + ": no prompts (expected JSONL with a \"prompt\" field)"};
  if (static_cast<int64_t>(out.size()) > num_requests)
    out.resize(static_cast<size_t>(num_requests));
  // Fewer lines than requested: cycle, as benchmark_serving oversamples.
  for (size_t i = 0; static_cast<int64_t>(out.size()) < num_requests; ++i)
    out.push_back(out[i]);
  return out;
}

result<std::vector<sample_request>> sample_sharegpt(const tokenizer_ptr& tok,
                                                    const std::string& path,
                                                    const std::string& text, int64_t num_requests,
                                                    std::optional<int32_t> output_len,
                                                    uint64_t seed) {
  if (!tok) return error{"the sharegpt dataset needs a tokenizer (--tokenizer or a GGUF --model)"};
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) {
    const size_t offset = doc.GetErrorOffset();
    const auto line =
        1 + std::count(text.begin(),
                       text.begin() + static_cast<long>(std::min(offset, text.size())), '\n');
    return error{path + ":" + std::to_string(line) + ": not JSON (" +
                 rapidjson::GetParseError_En(doc.GetParseError()) + ")"};
  }
  if (!doc.IsArray()) return error{path + ": expected a JSON array of conversations"};
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& entry : doc.GetArray()) {
    if (!entry.IsObject() || !entry.HasMember("conversations")) continue;
    const auto& conv = entry["conversations"];
    if (!conv.IsArray() || conv.Size() < 2) continue;
    if (!conv[0].IsObject() || !conv[1].IsObject() || !conv[0].HasMember("value") ||
        !conv[1].HasMember("value") || !conv[0]["value"].IsString() ||
        !conv[1]["value"].IsString()) {
      continue;
    }
    pairs.emplace_back(conv[0]["value"].GetString(), conv[1]["value"].GetString());
  }
  std::shuffle(pairs.begin(), pairs.end(), std::mt19937_64(seed));
  std::vector<sample_request> out;
  for (const auto& [prompt, completion] : pairs) {
    if (static_cast<int64_t>(out.size()) >= num_requests) break;
    const int32_t prompt_len = count_tokens(tok, prompt);
    const int32_t completion_len = output_len ? *output_len : count_tokens(tok, completion);
    if (!output_len) {
      if (prompt_len < 4 || completion_len < 4) continue;
      if (prompt_len > 1024 || prompt_len + completion_len > 2048) continue;
    }
    out.push_back({prompt, prompt_len, completion_len});
  }
  if (out.empty()) return error{path + ": no usable conversations"};
  return out;
}

result<std::vector<sample_request>> sample_prefix_repetition(const tokenizer_ptr& tok,
                                                             const prefix_repetition_spec& spec,
                                                             int64_t num_requests, uint64_t seed) {
  if (!tok) return error{"the prefix_repetition dataset needs a tokenizer"};
  if (spec.num_prefixes <= 0) return error{"prefix_repetition needs at least one prefix"};
  std::mt19937_64 rng(seed);
  const int32_t vocab = tok->vocab_size();
  std::vector<std::vector<int32_t>> prefixes;
  for (int32_t p = 0; p < spec.num_prefixes; ++p) {
    prefixes.push_back(random_ids(rng, spec.prefix_len, vocab));
  }
  std::vector<sample_request> out;
  for (int64_t i = 0; i < num_requests; ++i) {
    auto ids = prefixes[static_cast<size_t>(i % spec.num_prefixes)];
    const auto suffix = random_ids(rng, spec.suffix_len, vocab);
    ids.insert(ids.end(), suffix.begin(), suffix.end());
    out.push_back(make_prompt(tok, ids, spec.output_len));
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

}  // namespace troupe::loadgen
