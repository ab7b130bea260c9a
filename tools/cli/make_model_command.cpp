// `troupe make-model`: writes a tiny random-weight Hugging Face model directory (the test
// suite's models). Weights and config come from runtime::write_tiny_model; this file parses the
// flags and copies a tokenizer.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "runtime/formats/generation_config.hpp"
#include "runtime/formats/hf_make_model.hpp"
#include "tools/cli/flag_spec.hpp"
#include "tools/cli/subcommands.hpp"

namespace troupe::cli {
namespace {

namespace fs = std::filesystem;
using runtime::tiny_model_spec;

constexpr const char* usage =
    "usage: troupe make-model --family llama|mistral|qwen2 --out DIR [flags]\n\n"
    "Writes config.json and model.safetensors of a tiny random-weight model, deterministic\n"
    "from --seed, and copies tokenizer.json or tokenizer.model (with tokenizer_config.json,\n"
    "special_tokens_map.json) from --tokenizer-from.\n\n"
    "flags (defaults in brackets):\n"
    "  --seed S [0]  --hidden N [64]  --layers N [2]  --heads N [4]  --kv-heads N [2]\n"
    "  --head-dim N [hidden/heads, written to config.json only when given]  --vocab N [512]\n"
    "  --ffn N [128]  --max-position-embeddings N [4096]  --rope-theta X [10000]\n"
    "  --rms-norm-eps X [1e-5]  --sliding-window N [none; mistral only]\n"
    "  --rope-scaling TYPE[:key=value,...] [none] e.g. llama3:factor=8,low_freq_factor=1,\n"
    "      high_freq_factor=4,original_max_position_embeddings=64 | yarn:factor=4 | "
    "linear:factor=2\n"
    "      | dynamic:factor=2\n"
    "  --tie-word-embeddings  --dtype float32|bfloat16|float16 [float32]\n"
    "  --quantization none|w8a8|w8a8-asym [none]  w8a8: int8 q/k/v/o/gate/up/down weights with\n"
    "      per-channel scales and llm-compressor's quantization_config (W8A8 dynamic per-token\n"
    "      activations; w8a8-asym: with activation zero points)\n"
    "  --tokenizer-from PATH  (a directory holding tokenizer.json or tokenizer.model, or\n"
    "      the file)\n"
    "  --generation-config JSON  written as generation_config.json,\n"
    "      e.g. '{\"temperature\": 0.6, \"max_new_tokens\": 64}'\n";

using setter = status (*)(tiny_model_spec&, const std::string&);

status set_int(int32_t& field, const std::string& v, int64_t min) {
  auto x = detail::parse_integer(v, min, int64_t{1} << 24);
  if (!x) return x.err();
  field = static_cast<int32_t>(*x);
  return ok_status();
}

status set_real(float& field, const std::string& v) {
  auto x = detail::parse_real(v, 0.0, 1e12, true);
  if (!x) return x.err();
  field = static_cast<float>(*x);
  return ok_status();
}

const std::map<std::string, setter>& setters() {
  static const std::map<std::string, setter> table = {
      {"family",
       [](tiny_model_spec& s, const std::string& v) -> status {
         s.family = v;
         return ok_status();
       }},
      {"seed",
       [](tiny_model_spec& s, const std::string& v) -> status {
         auto x = detail::parse_integer(v, 0, INT64_MAX);
         if (!x) return x.err();
         s.seed = static_cast<uint64_t>(*x);
         return ok_status();
       }},
      {"hidden",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.hidden_size, v, 1); }},
      {"layers",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.num_layers, v, 1); }},
      {"heads",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.num_heads, v, 1); }},
      {"kv-heads",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.num_kv_heads, v, 1); }},
      {"head-dim",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.head_dim, v, 2); }},
      {"vocab",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.vocab_size, v, 1); }},
      {"ffn",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.intermediate_size, v, 1); }},
      {"max-position-embeddings",
       [](tiny_model_spec& s, const std::string& v) {
         return set_int(s.max_position_embeddings, v, 1);
       }},
      {"sliding-window",
       [](tiny_model_spec& s, const std::string& v) { return set_int(s.sliding_window, v, 1); }},
      {"rope-theta",
       [](tiny_model_spec& s, const std::string& v) { return set_real(s.rope_theta, v); }},
      {"rms-norm-eps",
       [](tiny_model_spec& s, const std::string& v) { return set_real(s.rms_norm_eps, v); }},
      {"rope-scaling",
       [](tiny_model_spec& s, const std::string& v) -> status {
         auto r = runtime::parse_rope_scaling_spec(v);
         if (!r) return r.err();
         s.rope_scale = *r;
         return ok_status();
       }},
      {"quantization",
       [](tiny_model_spec& s, const std::string& v) -> status {
         if (v != "none" && v != "w8a8" && v != "w8a8-asym") {
           return error{"expected none, w8a8 or w8a8-asym"};
         }
         s.w8a8 = v != "none";
         s.w8a8_asymmetric = v == "w8a8-asym";
         return ok_status();
       }},
      {"dtype",
       [](tiny_model_spec& s, const std::string& v) -> status {
         if (v == "float32") {
           s.dtype = runtime::safetensors_dtype::f32;
         } else if (v == "bfloat16") {
           s.dtype = runtime::safetensors_dtype::bf16;
         } else if (v == "float16") {
           s.dtype = runtime::safetensors_dtype::f16;
         } else {
           return error{"expected float32, bfloat16 or float16"};
         }
         return ok_status();
       }},
  };
  return table;
}

struct make_model_args {
  tiny_model_spec spec;
  std::string out, tokenizer_from, generation_config;
  bool help = false;
};

// --flag VALUE or --flag=VALUE; --tie-word-embeddings and --help take none.
result<make_model_args> parse_args(int argc, const char* const* argv) {
  make_model_args a;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      a.help = true;
      continue;
    }
    if (arg == "--tie-word-embeddings") {
      a.spec.tie_word_embeddings = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) return error{"unexpected argument '" + arg + "'"};
    std::string name = arg.substr(2), value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return error{"--" + name + " needs a value"};
    }
    if (name == "out") {
      a.out = value;
    } else if (name == "tokenizer-from") {
      a.tokenizer_from = value;
    } else if (name == "generation-config") {
      if (auto ok = runtime::parse_generation_config(value); !ok) {
        return error{"--generation-config: " + ok.message()};
      }
      a.generation_config = value;
    } else if (auto it = setters().find(name); it != setters().end()) {
      if (auto ok = it->second(a.spec, value); !ok) return error{"--" + name + ": " + ok.message()};
    } else {
      return error{"unknown flag --" + name};
    }
  }
  if (!a.help && a.out.empty()) return error{"--out DIR is required"};
  return a;
}

status copy_tokenizer(const std::string& from, const std::string& out) {
  const fs::path src = fs::is_directory(from) ? fs::path(from) : fs::path(from).parent_path();
  if (!fs::exists(src / "tokenizer.json") && !fs::exists(src / "tokenizer.model")) {
    return error{from + ": no tokenizer.json or tokenizer.model"};
  }
  for (const char* name :
       {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json"}) {
    if (!fs::exists(src / name)) continue;
    std::error_code ec;
    fs::copy_file(src / name, fs::path(out) / name, fs::copy_options::overwrite_existing, ec);
    if (ec) return error{(src / name).string() + ": cannot copy: " + ec.message()};
  }
  return ok_status();
}

status write_generation_config(const std::string& json, const std::string& out) {
  std::ofstream file(fs::path(out) / "generation_config.json");
  file << json << "\n";
  if (!file) return error{out + ": cannot write generation_config.json"};
  return ok_status();
}

}  // namespace

int run_make_model(int argc, const char* const* argv) {
  auto args = parse_args(argc, argv);
  if (!args) {
    std::fprintf(stderr, "troupe make-model: %s\n%s", args.message().c_str(), usage);
    return 2;
  }
  if (args->help) {
    std::fputs(usage, stdout);
    return 0;
  }
  status ok = runtime::write_tiny_model(args->spec, args->out);
  if (ok && !args->tokenizer_from.empty()) ok = copy_tokenizer(args->tokenizer_from, args->out);
  if (ok && !args->generation_config.empty()) {
    ok = write_generation_config(args->generation_config, args->out);
  }
  if (!ok) {
    std::fprintf(stderr, "troupe make-model: %s\n", ok.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "troupe make-model: wrote %s\n", args->out.c_str());
  return 0;
}

}  // namespace troupe::cli
