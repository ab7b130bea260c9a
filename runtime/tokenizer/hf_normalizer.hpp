#pragma once
// Hugging Face `tokenizers` normalizers (tokenizer.json "normalizer"): NFC, NFD, NFKC, NFKD,
// Lowercase, Strip, Prepend, Replace (string or regex), Sequence. Internal to troupe_tokenizer.
#include <rapidjson/fwd.h>

#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

class hf_normalizer {
 public:
  virtual ~hf_normalizer() = default;
  // Requires and guarantees valid UTF-8. Thread: any thread, concurrently.
  virtual void apply(std::string& text) const = 0;

  // A JSON null gives nullptr (no normalization); an unknown type is an error.
  static result<std::unique_ptr<hf_normalizer>> from_json(const rapidjson::Value& json);
};

}  // namespace troupe::runtime
