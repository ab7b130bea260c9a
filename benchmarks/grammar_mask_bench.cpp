// Structured outputs' per-step cost: the token mask of a grammar over the default model's
// vocabulary (SmolLM2, 49152 tokens), computed (a parse state met for the first time) and looked
// up (a state met before, as inside a JSON string). Skips (with an error) when the model has not
// been fetched.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/default_model.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/grammar/token_matcher.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace {

namespace g = troupe::runtime::grammar;

struct default_vocab {
  std::shared_ptr<const troupe::runtime::tokenizer> tokenizer;
  std::shared_ptr<const g::token_vocabulary> vocabulary;
};

const default_vocab& vocab() {
  static const default_vocab v = []() -> default_vocab {
    auto file = troupe::runtime::gguf_file::open(troupe::runtime::default_model_path());
    if (!file) return {};
    auto spec = troupe::runtime::vocab_from_gguf(**file);
    if (!spec) return {};
    auto made = troupe::runtime::make_bpe_tokenizer(std::move(spec).value());
    if (!made) return {};
    const auto& t = **made;
    std::vector<std::string> bytes(static_cast<size_t>(t.vocab_size()));
    std::vector<char> special(bytes.size());
    std::vector<int32_t> eog;
    for (int32_t id = 0; id < t.vocab_size(); ++id) {
      bytes[static_cast<size_t>(id)] = t.token_bytes(id);
      special[static_cast<size_t>(id)] = t.is_special(id) ? 1 : 0;
      if (t.is_eog(id)) eog.push_back(id);
    }
    return {*made, std::make_shared<g::token_vocabulary>(std::move(bytes), special, eog)};
  }();
  return v;
}

// A JSON object grammar: the states of interest are the start, inside a key string, and after
// a colon (any value may start).
const char* const json_grammar = R"(
root ::= object
value ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}"
array ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws ::= [ \t\n]*
)";

const char* const prefixes[] = {"", "{\"na", "{\"name\": "};

void BM_MaskComputed(benchmark::State& state) {
  const auto& v = vocab();
  if (!v.vocabulary) {
    state.SkipWithError("default model not fetched (tools/setup.sh)");
    return;
  }
  auto compiled = g::compile_grammar(json_grammar);
  const auto prefix = v.tokenizer->encode(prefixes[state.range(0)], false);
  int64_t allowed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    g::token_matcher m(std::make_shared<g::grammar_masks>(*compiled), v.vocabulary);
    for (int32_t t : prefix)
      m.accept(t);
    state.ResumeTiming();
    const auto& mask = m.allowed();
    benchmark::DoNotOptimize(mask.data());
    allowed = 0;
    for (uint64_t w : mask)
      allowed += __builtin_popcountll(w);
  }
  state.SetLabel(std::string("after '") + prefixes[state.range(0)] + "'");
  state.counters["allowed"] = static_cast<double>(allowed);
}
BENCHMARK(BM_MaskComputed)->DenseRange(0, 2)->Unit(benchmark::kMillisecond);

void BM_MaskCached(benchmark::State& state) {
  const auto& v = vocab();
  if (!v.vocabulary) {
    state.SkipWithError("default model not fetched (tools/setup.sh)");
    return;
  }
  auto compiled = g::compile_grammar(json_grammar);
  g::token_matcher m(std::make_shared<g::grammar_masks>(*compiled), v.vocabulary);
  for (int32_t t : v.tokenizer->encode("{\"name\": \"Al", false))
    m.accept(t);
  benchmark::DoNotOptimize(m.allowed().data());
  for (auto _ : state)
    benchmark::DoNotOptimize(m.allowed().data());
}
BENCHMARK(BM_MaskCached)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
