#pragma once
// generation_config.json -> runtime::sampling_defaults, as vLLM's `--generation-config` reads it
// (vLLM's ModelConfig.get_diff_sampling_param over transformers' GenerationConfig.to_diff_dict):
//   auto (default)  the model directory's generation_config.json, when present
//   vllm            no sampling defaults; eos_token_id is still read from the model's file
//                   (vLLM's input processor reads it in both modes)
//   DIR             DIR/generation_config.json
// Fields: temperature, top_p, top_k, min_p, repetition_penalty, max_new_tokens (-> max_tokens),
// eos_token_id (an int or a list). As to_diff_dict drops values equal to transformers' defaults,
// temperature 1.0, top_p 1.0, top_k 50 and repetition_penalty 1.0 are not overrides.
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "runtime/sampling_defaults.hpp"

namespace troupe::runtime {

// Parses generation_config.json text. `sampling` false keeps only eos_token_ids. Errors name
// the field with the wrong type (vLLM would fail the same file).
result<sampling_defaults> parse_generation_config(std::string_view json, bool sampling = true);

// `mode`: "auto", "vllm" or a directory; `model`: the --model path (a Hugging Face directory or
// a GGUF file, which has no generation config). A missing file is no defaults, except that an
// explicit DIR which does not exist is an error.
result<sampling_defaults> load_generation_config(const std::string& mode, const std::string& model);

// vLLM's --override-generation-config: `json` (an object) merged over `defaults` as vLLM updates
// the generation config with it: its sampling fields (those above) win and are taken as given
// (a value equal to transformers' default is kept), null clears one; other keys are ignored.
// Errors: not a JSON object, a field of the wrong type.
result<sampling_defaults> apply_generation_overrides(sampling_defaults defaults,
                                                     std::string_view json);

// The overridden fields as vLLM logs them: {'temperature': 0.6, 'top_p': 0.9, 'max_tokens': 64}
// ("{}" when empty; eos_token_id is not a sampling field and is not listed).
std::string describe_sampling_defaults(const sampling_defaults& defaults);

}  // namespace troupe::runtime
