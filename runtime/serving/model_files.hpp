#pragma once
// The model and tokenizer files an engine is built from, one loader per on-disk format shared by
// the server and every CLI tool:
//
//   model:     a GGUF file, or a Hugging Face directory (config.json, *.safetensors; only
//              config.json with --load-format dummy)
//   tokenizer: the model's own (GGUF vocab; tokenizer.json, else tokenizer.model, in the
//              directory), or engine_config::tokenizer: a GGUF file, a directory, or the
//              tokenizer.json / tokenizer.model file itself
#include <memory>
#include <string>

#include "base/result.hpp"
#include "runtime/engine_config.hpp"
#include "runtime/formats/weight_dtype.hpp"
#include "runtime/model/llama_weights.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::runtime {

// The model `config.model` names: the path as given, or the embedded default model's file.
std::string resolve_model_path(const engine_config& config);

// The name clients use when --served-model-name is not given: the default model's name, else the
// --model argument as given (as vLLM).
std::string default_served_model_name(const engine_config& config);

// Where the tokenizer (and with it the chat template) comes from: config.tokenizer, else the model.
std::string resolve_tokenizer_path(const engine_config& config);

// The tokenizer of a GGUF file, a directory (tokenizer.json, else tokenizer.model), or the
// tokenizer.json / tokenizer.model file itself. Errors name the path.
result<std::shared_ptr<const tokenizer>> load_tokenizer(const std::string& path);

// The quantization method of the checkpoint at `path` as vLLM names it: "gguf" for a .gguf
// file, a directory's config.json quantization_config.quant_method, or "" when it has none.
result<std::string> checkpoint_quantization(const std::string& path);

// vLLM's --quantization check against the checkpoint's method: equal, or vLLM's mismatch error;
// a method on an unquantized checkpoint is refused (vLLM would quantize it on load; troupe does
// not). An empty `requested` always passes.
status check_quantization(const std::string& requested, const std::string& checkpoint);

struct model_files {
  std::string path;  // resolve_model_path(config)
  std::shared_ptr<const runtime::tokenizer> tokenizer;
  llama_weights weights;
  // config.dtype resolved: an explicit --dtype, else the checkpoint's (checkpoint_dtype; as_stored
  // when it names none, as a GGUF file).
  weight_dtype dtype = weight_dtype::as_stored;
};

// The weights and tokenizer of resolve_model_path(config), as config.load_format says: auto
// reads the model's format, safetensors and gguf only that one (another model is an error),
// dummy makes random weights from a Hugging Face directory's config.json and reads no weight file
// (runtime/formats/dummy_weights.hpp). Matrices as stored, then as config.dtype says
// (runtime/formats/weight_dtype: auto is the checkpoint's dtype for dense matrices, quantized
// ones stay quantized; an explicit float32 dequantizes everything); the tokenizer of
// config.tokenizer when set, else the model's own (a dummy directory without one needs
// --tokenizer). `num_compute_threads` dequantize / widen in parallel.
// requires: config validated (dtype and load_format known).
result<model_files> load_model_files(const engine_config& config);

}  // namespace troupe::runtime
