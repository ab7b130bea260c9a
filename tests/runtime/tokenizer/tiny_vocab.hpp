#pragma once
// A hand-built byte-level BPE vocabulary for tokenizer tests.
//
//   ids 0..255  the 256 byte-level characters, id = byte value ("Ġ" = 32, "h" = 104, ...)
//   256 "he"  257 "ll"  258 "hell"  259 "hello"  260 "Ġh"  261 "Ġhe"  262 "lo"
//   263 "<|end|>" control   264 "<user>" user-defined   265 "<a>" control   266 "a><b>" control
//   267 "<|im_end|>" normal in the file (llama.cpp makes it control and end-of-generation)
//
//   merges by rank: 0 "h e", 1 "l l", 2 "he ll", 3 "hell o", 4 "Ġ h", 5 "Ġh e", 6 "l o",
//                   7 "x y" (its result "xy" is deliberately not a token)
#include <string>

#include "runtime/tokenizer/byte_level.hpp"
#include "runtime/tokenizer/tokenizer.hpp"
#include "runtime/tokenizer/utf8.hpp"

namespace troupe::testing {

inline runtime::vocab_spec tiny_vocab(const std::string& pre = "gpt2") {
  runtime::vocab_spec spec;
  spec.model = "gpt2";
  spec.pre = pre;
  for (int b = 0; b < 256; ++b) {
    std::string text;
    runtime::utf8::append_codepoint(runtime::byte_level::codepoint_of_byte(static_cast<uint8_t>(b)),
                                    text);
    spec.tokens.push_back(text);
  }
  for (const char* t : {"he", "ll", "hell", "hello", "Ġh", "Ġhe", "lo"})
    spec.tokens.push_back(t);
  spec.tokens.insert(spec.tokens.end(), {"<|end|>", "<user>", "<a>", "a><b>", "<|im_end|>"});
  spec.types.assign(spec.tokens.size(), runtime::token_type::normal);
  spec.types[263] = runtime::token_type::control;
  spec.types[264] = runtime::token_type::user_defined;
  spec.types[265] = runtime::token_type::control;
  spec.types[266] = runtime::token_type::control;
  spec.merges = {"h e", "l l", "he ll", "hell o", "Ġ h", "Ġh e", "l o", "x y"};
  spec.bos_id = 265;
  spec.eos_id = 263;
  return spec;
}

}  // namespace troupe::testing
