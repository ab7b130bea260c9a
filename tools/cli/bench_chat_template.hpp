#pragma once
// The chat template `troupe bench --dataset-name custom` applies to each prompt unless
// --skip-chat-template, as vLLM's CustomDataset does: the prompt becomes the rendering of
// [{"role": "user", "content": PROMPT}] with add_generation_prompt=True.
#include <string>

#include "base/result.hpp"
#include "loadgen/datasets.hpp"

namespace troupe::cli {

// The template of a GGUF file, a tokenizer directory (chat_template.jinja, else
// tokenizer_config.json), or the directory of a tokenizer.json file, as
// runtime::load_chat_template_config finds it for troupe serve. Errors when there is none or it
// does not compile.
// Thread: the returned function may be called from any thread.
result<loadgen::prompt_transform> user_prompt_template(const std::string& tokenizer_path);

}  // namespace troupe::cli
