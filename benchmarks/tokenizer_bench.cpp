// Encode / decode throughput of the default model's tokenizer (SmolLM2, "smollm" pre-tokenizer)
// on a few KB of mixed text. Skips (with an error) when the model has not been fetched.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "runtime/default_model.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace {

using troupe::runtime::tokenizer;

std::shared_ptr<const tokenizer> default_tokenizer() {
  static const std::shared_ptr<const tokenizer> tok = []() -> std::shared_ptr<const tokenizer> {
    auto file = troupe::runtime::gguf_file::open(troupe::runtime::default_model_path());
    if (!file) return nullptr;
    auto spec = troupe::runtime::vocab_from_gguf(**file);
    if (!spec) return nullptr;
    auto made = troupe::runtime::make_bpe_tokenizer(std::move(spec).value());
    return made ? *made : nullptr;
  }();
  return tok;
}

// About 4 KB: English prose, code, numbers, whitespace runs, accents, CJK and emoji.
std::string sample_text() {
  const std::string paragraph =
      "<|im_start|>user\nThe quick brown fox jumps over the lazy dog; it's 2024 and we've "
      "counted 1234567 foxes.<|im_end|>\n"
      "def add(a, b):\n    return a + b  # simple\n\n"
      "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9"
      "\u30c8 \U0001F680\U0001F389   spaces\t\ttabs\n";
  std::string text;
  while (text.size() < 4096)
    text += paragraph;
  return text;
}

void BM_Encode(benchmark::State& state) {
  const auto tok = default_tokenizer();
  if (!tok) {
    state.SkipWithError("default model not fetched (tools/setup.sh)");
    return;
  }
  const std::string text = sample_text();
  size_t num_tokens = 0;
  for (auto _ : state) {
    const auto ids = tok->encode(text, true);
    num_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(num_tokens);
}
BENCHMARK(BM_Encode);

void BM_IncrementalDecode(benchmark::State& state) {
  const auto tok = default_tokenizer();
  if (!tok) {
    state.SkipWithError("default model not fetched (tools/setup.sh)");
    return;
  }
  const auto ids = tok->encode(sample_text(), true);
  for (auto _ : state) {
    troupe::runtime::incremental_detokenizer detok(tok, true);
    size_t num_bytes = 0;
    for (const int32_t id : ids)
      num_bytes += detok.push(id).size();
    benchmark::DoNotOptimize(num_bytes);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(BM_IncrementalDecode);

}  // namespace

BENCHMARK_MAIN();
