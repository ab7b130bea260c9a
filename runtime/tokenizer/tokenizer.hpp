#pragma once
// Text <-> token ids for GPT-2-style byte-level BPE vocabularies (as GGUF files carry them in
// tokenizer.ggml.*; Hugging Face tokenizer.json support builds on the same classes).
//
// Thread safety: a tokenizer is immutable after construction; every const method may be called
// from any thread concurrently.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace troupe::runtime {

class gguf_file;

// GGUF token types (tokenizer.ggml.token_type).
enum class token_type : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

struct vocab_spec {
  std::string model;  // "gpt2" (byte-level BPE)
  std::string pre;    // pre-tokenizer name: "smollm", "llama3"/"llama-bpe", "gpt2", "qwen2", ...
  std::vector<std::string> tokens;  // token text, byte-level encoded (e.g. "Ġthe")
  std::vector<token_type> types;    // same length as tokens
  std::vector<std::string> merges;  // "a b", by priority (first = highest)
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  // A pre-tokenized word that is itself a token is emitted whole, without running merges
  // (Hugging Face BPE `ignore_merges`; llama.cpp turns it on for the llama3 pre-tokenizer).
  bool ignore_merges = false;
};

// Reads tokenizer.ggml.* from a GGUF file. Errors when a required key (model, tokens) is missing
// or malformed, or when the model is not "gpt2" (byte-level BPE). Optional keys keep the
// defaults llama.cpp uses (add_bos/ignore_merges follow the pre-tokenizer unless the file says
// otherwise; a missing token_type array means every token is normal).
result<vocab_spec> vocab_from_gguf(const gguf_file& file);

class tokenizer {
 public:
  virtual ~tokenizer() = default;

  // `add_special`: prepend BOS / append EOS as the vocabulary asks (add_bos/add_eos). Control
  // and user-defined tokens written literally in `text` (e.g. "<|im_start|>") are matched as
  // single tokens before BPE (llama.cpp's parse_special = true), longest token text first. Any
  // byte string is accepted: each byte that does not start valid UTF-8 is encoded as U+FFFD, as
  // llama.cpp does. Ids equal llama.cpp's llama_tokenize(add_special, parse_special = true).
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special) const = 0;
  // `skip_special`: drop control (and unknown-type) tokens from the output text. Ids outside
  // [0, vocab_size) are skipped. The result is valid UTF-8: each invalid or incomplete sequence
  // in the concatenated token bytes becomes U+FFFD.
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special) const = 0;
  // The raw bytes a token stands for (byte-level decoded; may be a partial UTF-8 sequence).
  // Control and user-defined tokens give their text; "" for an invalid id.
  virtual std::string token_bytes(int32_t id) const = 0;

  virtual int32_t vocab_size() const = 0;
  virtual int32_t bos_id() const = 0;
  virtual int32_t eos_id() const = 0;
  // Control or unknown-type tokens: the ones decode(..., skip_special = true) drops.
  virtual bool is_special(int32_t id) const = 0;
  // End-of-generation: eos plus the tokens chat models end a turn with (<|im_end|>,
  // <|endoftext|>, <|eot_id|>, <end_of_turn>, ...) when present in the vocabulary, and the
  // FIM pad/repo/file-separator tokens, exactly as llama.cpp marks them. False for invalid ids.
  virtual bool is_eog(int32_t id) const = 0;

  // Streaming support (incremental_detokenizer). The bytes `id` adds when it is the `index`-th
  // token the decode keeps (0 = first); differs from token_bytes only for position-dependent
  // decoders (Hugging Face Metaspace drops its replacement character in the first token).
  virtual std::string token_bytes_at(int32_t id, size_t index) const {
    (void)index;
    return token_bytes(id);
  }
  // The full decode removes up to `count` leading copies of `content` from the start of the
  // text (a Hugging Face Strip decoder after Fuse); count 0 = nothing.
  struct leading_strip_rule {
    std::string content;
    size_t count = 0;
  };
  virtual leading_strip_rule leading_strip() const { return {}; }
  // Streaming support: the byte `id` stands for when the decode groups runs of byte tokens
  // (Hugging Face ByteFallback: a run that is not valid UTF-8 becomes one U+FFFD per token), or
  // -1 for a token decoded on its own.
  virtual int fallback_byte(int32_t id) const {
    (void)id;
    return -1;
  }
};

// Validates `spec` (model "gpt2", a known pre-tokenizer, types matching tokens, special ids in
// range or -1) and builds the tokenizer. Known pre-tokenizers: "smollm" (and starcoder,
// refact, command-r, codeshell, exaone, minerva-7b), "gpt2"/"gpt-2", "llama3"/"llama-v3"/
// "llama-bpe"/"falcon3", "qwen2"/"deepseek-r1-qwen", "default" or "".
result<std::shared_ptr<const tokenizer>> make_bpe_tokenizer(vocab_spec spec);

// A Hugging Face `tokenizers` (0.22) tokenizer from `dir_or_file` (a directory holding
// tokenizer.json, or that file; tokenizer_config.json next to it gives bos/eos when present).
// Supported: normalizers NFC/NFD/NFKC/NFKD, Lowercase, Strip, Prepend, Replace, Sequence;
// pre-tokenizers ByteLevel, Metaspace, Split, Digits, Whitespace, WhitespaceSplit, Punctuation,
// Sequence; model BPE (byte_fallback, unk/fuse_unk, ignore_merges, both merge forms,
// continuing_subword_prefix, end_of_word_suffix; no dropout); added tokens with their flags;
// post-processors TemplateProcessing, ByteLevel, Roberta/Bert, Sequence; decoders ByteLevel,
// Metaspace, ByteFallback, Fuse, Strip, Replace, Sequence. encode(text, add_special) equals the
// library's encode(text, add_special_tokens).ids; decode(ids, skip) its decode(ids, skip).
// For tokenizer_class Llama/Gemma/CodeLlama(Fast), add_special follows tokenizer_config.json's
// add_bos_token (default true) / add_eos_token (default false), as transformers rebuilds the
// post-processor for those classes; otherwise the post-processor of tokenizer.json decides.
// is_special: added tokens flagged special. Errors name what is malformed or unsupported.
result<std::shared_ptr<const tokenizer>> load_hf_tokenizer(const std::string& dir_or_file);

// Streaming detokenization for one sequence: push() returns the text that became final with this
// token; never returns a broken UTF-8 sequence (bytes of an incomplete character are held back
// until it completes, or flushed by finish() as U+FFFD). Concatenating every push() and finish()
// equals decode(all ids, skip_special), including the position-dependent decoder rules of
// Hugging Face tokenizers (see token_bytes_at, leading_strip, fallback_byte; a run of ByteFallback
// byte tokens is held until it ends). Constant amortized cost per token.
// Thread: one sequence, one caller at a time (not synchronized).
class incremental_detokenizer {
 public:
  incremental_detokenizer(std::shared_ptr<const tokenizer> tok, bool skip_special);
  std::string push(int32_t id);
  std::string finish();

 private:
  std::string end_byte_run();
  std::string emit(std::string bytes, bool final);

  std::shared_ptr<const tokenizer> tok_;
  bool skip_special_;
  std::string pending_;    // bytes of an incomplete UTF-8 character
  size_t num_tokens_ = 0;  // tokens kept so far (their position matters to some decoders)
  size_t num_stripped_ = 0;
  bool stripping_ = true;  // still at the start of the text (leading_strip applies)
  std::string byte_run_;   // bytes of the current run of fallback-byte tokens
  size_t num_run_tokens_ = 0;
  tokenizer::leading_strip_rule strip_;
};

}  // namespace troupe::runtime
