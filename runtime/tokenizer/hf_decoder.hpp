#pragma once
// Hugging Face `tokenizers` decoders (tokenizer.json "decoder"): ByteLevel, Metaspace,
// ByteFallback, Fuse, Strip, Replace, Sequence. Two views of the same chain:
// - decode(): the library's decode_chain over all token strings, then joined (exact);
// - token_bytes(): one token's raw bytes for streaming, with the position-dependent rules
//   (Metaspace drops its replacement in the first token; a Strip after Fuse/ByteLevel strips the
//   start of the whole text) reported separately so a stream can apply them once.
// Internal to troupe_tokenizer.
#include <rapidjson/fwd.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

class hf_decoder {
 public:
  // A JSON null gives a decoder that joins the tokens with spaces, as the library does without a
  // decoder. An unknown type is an error.
  static result<std::shared_ptr<const hf_decoder>> from_json(const rapidjson::Value& json);

  // Thread: any thread, concurrently (all methods).
  std::string decode(std::vector<std::string> tokens) const;
  // The bytes `token` contributes when it is the `index`-th token decoded (0 = first), before
  // the leading strip below and before UTF-8 repair.
  std::string token_bytes(const std::string& token, size_t index) const;
  // The character a Strip applied to the joined text removes from its start, and how many.
  const std::string& leading_strip_content() const { return strip_content_; }
  // With a ByteFallback step: the byte a "<0xXX>" token stands for, else -1. The library turns
  // each run of such tokens into its text when the run is valid UTF-8, else into one U+FFFD per
  // token.
  int fallback_byte(std::string_view token) const;
  size_t leading_strip_count() const { return strip_count_; }

  struct step;  // one decoder of the chain

 private:
  std::vector<std::shared_ptr<const step>> steps_;  // flattened Sequence
  bool none_ = false;                               // no decoder: join with " "
  bool byte_fallback_ = false;
  std::string strip_content_;
  size_t strip_count_ = 0;
};

}  // namespace troupe::runtime
