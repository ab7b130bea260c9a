#include "runtime/serving/model_files.hpp"

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>

#include "runtime/default_model.hpp"
#include "runtime/formats/dummy_weights.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/hf_model.hpp"
#include "runtime/formats/llama_gguf.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/formats/weight_matrix.hpp"
#include "runtime/tokenizer/sentencepiece.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

result<std::shared_ptr<const gguf_file>> open_gguf(const std::string& path) {
  if (!fs::exists(path)) {
    if (path == default_model_path()) {
      return error{"the default model is not in the cache (" + path +
                   "): run `bash tools/setup.sh --model` to fetch it, or pass --model FILE.gguf"};
    }
    return error{"model file not found: " + path};
  }
  if (fs::is_directory(path)) {
    return error{"'" + path +
                 "' is a directory without config.json: pass a Hugging Face model directory or "
                 "a .gguf file"};
  }
  return gguf_file::open(path);
}

result<std::shared_ptr<const tokenizer>> gguf_tokenizer(const std::string& path,
                                                        const gguf_file& file) {
  auto vocab = vocab_from_gguf(file);
  if (!vocab) return error{path + ": " + vocab.message()};
  auto own = make_bpe_tokenizer(std::move(*vocab));
  if (!own) return error{path + ": " + own.message()};
  return own;
}

// tokenizer.json (preferred, as transformers' AutoTokenizer) or tokenizer.model, with
// tokenizer_config.json.
result<std::shared_ptr<const tokenizer>> hf_dir_tokenizer(const std::string& dir) {
  const fs::path d(dir);
  if (!fs::exists(d / "tokenizer.json") && !fs::exists(d / "tokenizer.model")) {
    return error{dir +
                 ": no tokenizer.json or tokenizer.model; pass a tokenizer with --tokenizer PATH"};
  }
  auto tokenizer = load_tokenizer_dir(dir);
  if (!tokenizer) return error{dir + ": " + tokenizer.message()};
  return tokenizer;
}

// What `path` is, for --load-format's messages.
std::string what_is(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return "does not exist";
  if (!fs::is_directory(path, ec)) return "is a file";
  return is_hf_model_dir(path) ? "is a Hugging Face directory"
                               : "is a directory without config.json";
}

// --load-format other than auto: the model must be what the format reads (validated: the format
// is one of auto, safetensors, gguf, dummy).
status check_load_format(const std::string& path, const std::string& format) {
  if (format == "gguf" && is_hf_model_dir(path)) {
    return error{"--load-format gguf reads a .gguf file, but " + path + " " + what_is(path) +
                 ": use --load-format auto or safetensors"};
  }
  if (format == "safetensors" && !is_hf_model_dir(path)) {
    return error{
        "--load-format safetensors reads a Hugging Face model directory (config.json and "
        "*.safetensors), but " +
        path + " " + what_is(path) + ": use --load-format auto or gguf for a .gguf file"};
  }
  if (format == "dummy" && !is_hf_model_dir(path)) {
    const std::string what = what_is(path);
    return error{
        "--load-format dummy makes random weights from a Hugging Face model directory's "
        "config.json, but " +
        path + " " + what + (what == "is a file" ? " (dummy GGUF models are not supported)" : "")};
  }
  return ok_status();
}

// Weights and (unless `files.tokenizer` is set already) tokenizer of a Hugging Face directory:
// as stored, or (dummy) random weights of its config.json's architecture.
status load_hf_dir(model_files& files, unsigned num_threads, bool dummy) {
  if (!files.tokenizer) {
    auto own = hf_dir_tokenizer(files.path);
    if (!own) return own.err();
    files.tokenizer = std::move(*own);
  }
  auto weights = dummy ? load_dummy_weights(files.path) : load_hf_model(files.path, num_threads);
  if (!weights) return weights.err();
  files.weights = std::move(*weights);
  if (dummy) {
    spdlog::info(
        "--load-format dummy: random weights (uniform in [-1e-3, 1e-3], norms 1.0) from {}/"
        "config.json, generated as they are uploaded",
        files.path);
  }
  return ok_status();
}

// Weights and (unless `files.tokenizer` is set already) tokenizer of a GGUF file or a Hugging
// Face directory, as `load_format` says.
status load_as_stored(model_files& files, const std::string& load_format, unsigned num_threads) {
  if (auto ok = check_load_format(files.path, load_format); !ok) return ok;
  if (is_hf_model_dir(files.path)) return load_hf_dir(files, num_threads, load_format == "dummy");
  auto file = open_gguf(files.path);
  if (!file) return file.err();
  if (!files.tokenizer) {
    auto own = gguf_tokenizer(files.path, **file);
    if (!own) return own.err();
    files.tokenizer = std::move(*own);
  }
  auto weights = load_llama_gguf(**file, num_threads);
  if (!weights) return error{files.path + ": " + weights.message()};
  files.weights = std::move(*weights);
  return ok_status();
}

// "q4_1 163.4 MiB (210), f32 108.0 MiB (1)": the bytes of the matrices in each storage format.
std::string describe_storage(const llama_weights& weights) {
  std::map<std::string, std::pair<int64_t, int>> formats;
  for_each_matrix(
      weights, [&](const weight_matrix& m, int64_t rows, int64_t cols, const std::string&) {
        auto& [bytes, count] = formats[backend::weight_format_name(m.format)];
        bytes += matrix_bytes(m, rows, cols);  // a random matrix: what it takes once generated
        ++count;
      });
  std::string text;
  for (const auto& [name, entry] : formats) {
    text += fmt::format("{}{} {:.1f} MiB ({})", text.empty() ? "" : ", ", name,
                        static_cast<double>(entry.first) / (1 << 20), entry.second);
  }
  return text;
}

// auto: the checkpoint's torch_dtype, as vLLM (exact for weights already stored in it).
status apply_config_dtype(model_files& files, const engine_config& config) {
  auto dtype = parse_weight_dtype(config.dtype);
  if (!dtype) return error{"--dtype: " + dtype.message()};
  const weight_dtype target =
      *dtype == weight_dtype::as_stored ? checkpoint_dtype(files.path) : *dtype;
  // `auto` is the checkpoint's dtype for its dense matrices; its quantized ones stay quantized.
  apply_weight_dtype(files.weights, target, *dtype != weight_dtype::as_stored);
  files.dtype = target;
  spdlog::info("dtype {} ({}): matrices {}", config.dtype, weight_dtype_name(target),
               describe_storage(files.weights));
  return ok_status();
}

}  // namespace

std::string resolve_model_path(const engine_config& config) {
  return config.model.empty() ? default_model_path() : config.model;
}

std::string default_served_model_name(const engine_config& config) {
  return resolve_model_path(config) == default_model_path() ? std::string(default_model_served_name)
                                                            : config.model;
}

std::string resolve_tokenizer_path(const engine_config& config) {
  return config.tokenizer.empty() ? resolve_model_path(config) : config.tokenizer;
}

result<std::shared_ptr<const tokenizer>> load_tokenizer(const std::string& path) {
  std::error_code ec;
  const bool is_dir = fs::is_directory(path, ec);
  const auto file_name = fs::path(path).filename();
  if (file_name == "tokenizer.model" && !is_dir) {
    const std::string dir = fs::path(path).parent_path().string();
    auto tokenizer = load_sentencepiece_tokenizer(dir.empty() ? "." : dir);
    if (!tokenizer) return error{path + ": " + tokenizer.message()};
    return tokenizer;
  }
  if (is_dir || file_name == "tokenizer.json") {
    return hf_dir_tokenizer(is_dir ? path : fs::path(path).parent_path().string());
  }
  auto file = open_gguf(path);
  if (!file) return file.err();
  return gguf_tokenizer(path, **file);
}

result<std::string> checkpoint_quantization(const std::string& path) {
  if (path.ends_with(".gguf")) return std::string("gguf");
  if (!is_hf_model_dir(path)) return std::string();
  auto text = read_hf_config_text(path);
  if (!text) return text.err();
  rapidjson::Document doc;
  doc.Parse(text->data(), text->size());
  if (doc.HasParseError() || !doc.IsObject()) return error{path + "/config.json is not JSON"};
  const auto qc = doc.FindMember("quantization_config");
  if (qc == doc.MemberEnd() || !qc->value.IsObject()) return std::string();
  const auto method = qc->value.FindMember("quant_method");
  if (method == qc->value.MemberEnd() || !method->value.IsString()) return std::string();
  return std::string(method->value.GetString(), method->value.GetStringLength());
}

status check_quantization(const std::string& requested, const std::string& checkpoint) {
  if (requested.empty() || requested == checkpoint) return ok_status();
  if (checkpoint.empty()) {
    return error{"--quantization " + requested +
                 ": the checkpoint is not quantized, and troupe does not quantize weights on "
                 "load (serve a checkpoint quantized with " +
                 requested + ", or leave the flag out)"};
  }
  return error{"Quantization method specified in the model config (" + checkpoint +
               ") does not match the quantization method specified in the `quantization` "
               "argument (" +
               requested + ")."};
}

result<model_files> load_model_files(const engine_config& config) {
  model_files files;
  files.path = resolve_model_path(config);
  if (!config.quantization.empty()) {
    auto method = checkpoint_quantization(files.path);
    if (!method) return method.err();
    if (auto ok = check_quantization(config.quantization, *method); !ok) return ok.err();
  }
  if (!config.tokenizer.empty()) {
    auto tokenizer = load_tokenizer(config.tokenizer);
    if (!tokenizer) return tokenizer.err();
    files.tokenizer = std::move(*tokenizer);
  }
  const auto num_threads = static_cast<unsigned>(std::max(0, config.num_compute_threads));
  if (auto ok = load_as_stored(files, config.load_format, num_threads); !ok) return ok.err();
  if (auto ok = apply_config_dtype(files, config); !ok) return ok.err();
  const int32_t num_tokens = files.tokenizer->vocab_size();
  if (!config.tokenizer.empty() && num_tokens > files.weights.hparams.vocab_size) {
    return error{"--tokenizer " + config.tokenizer + " has " + std::to_string(num_tokens) +
                 " tokens, more than the model's " +
                 std::to_string(files.weights.hparams.vocab_size)};
  }
  return files;
}

}  // namespace troupe::runtime
