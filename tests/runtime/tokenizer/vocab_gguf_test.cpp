// vocab_from_gguf on small GGUF files written byte by byte here (format: magic "GGUF", u32
// version 3, u64 tensor count 0, u64 key count, then key/type/value triples, padded to 32).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "runtime/formats/gguf.hpp"
#include "runtime/tokenizer/tokenizer.hpp"

namespace troupe::runtime {
namespace {

class gguf_builder {
 public:
  gguf_builder& str(const std::string& key, const std::string& value) {
    begin(key, 8);
    put_string(value);
    return *this;
  }
  gguf_builder& u32(const std::string& key, uint32_t value) {
    begin(key, 4);
    put(value);
    return *this;
  }
  gguf_builder& boolean(const std::string& key, bool value) {
    begin(key, 7);
    put(static_cast<uint8_t>(value));
    return *this;
  }
  gguf_builder& strs(const std::string& key, const std::vector<std::string>& values) {
    begin(key, 9);
    put(uint32_t{8});
    put(static_cast<uint64_t>(values.size()));
    for (const auto& v : values)
      put_string(v);
    return *this;
  }
  gguf_builder& i32s(const std::string& key, const std::vector<int32_t>& values) {
    begin(key, 9);
    put(uint32_t{5});
    put(static_cast<uint64_t>(values.size()));
    for (const int32_t v : values)
      put(v);
    return *this;
  }

  result<vocab_spec> read_vocab() const {
    const auto path = (std::filesystem::temp_directory_path() /
                       ("troupe_vocab_test_" + std::to_string(::getpid()) + ".gguf"))
                          .string();
    std::string bytes = "GGUF";
    append(bytes, uint32_t{3});
    append(bytes, uint64_t{0});
    append(bytes, num_keys_);
    bytes += body_;
    bytes.resize((bytes.size() + 31) / 32 * 32, '\0');
    std::ofstream(path, std::ios::binary) << bytes;
    auto file = gguf_file::open(path);
    std::remove(path.c_str());
    if (!file) return file.err();
    return vocab_from_gguf(**file);
  }

 private:
  template <class T>
  static void append(std::string& out, T v) {
    char raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    out.append(raw, sizeof(T));
  }
  template <class T>
  void put(T v) {
    append(body_, v);
  }
  void put_string(const std::string& s) {
    put(static_cast<uint64_t>(s.size()));
    body_ += s;
  }
  void begin(const std::string& key, uint32_t type) {
    put_string(key);
    put(type);
    ++num_keys_;
  }
  std::string body_;
  uint64_t num_keys_ = 0;
};

gguf_builder minimal(const std::string& model = "gpt2", const std::string& pre = "smollm") {
  gguf_builder b;
  b.str("tokenizer.ggml.model", model)
      .str("tokenizer.ggml.pre", pre)
      .strs("tokenizer.ggml.tokens", {"a", "b", "ab", "<|im_end|>", ""})
      .strs("tokenizer.ggml.merges", {"a b"});
  return b;
}

TEST(VocabFromGguf, ReadsEveryKey) {
  auto b = minimal();
  b.i32s("tokenizer.ggml.token_type", {1, 1, 1, 3, 9})
      .u32("tokenizer.ggml.bos_token_id", 0)
      .u32("tokenizer.ggml.eos_token_id", 3)
      .u32("tokenizer.ggml.unknown_token_id", 1)
      .u32("tokenizer.ggml.padding_token_id", 77)  // outside the vocabulary: ignored
      .boolean("tokenizer.ggml.add_bos_token", true)
      .boolean("tokenizer.ggml.add_eos_token", false);
  const auto spec = b.read_vocab();
  ASSERT_TRUE(spec.ok()) << spec.message();
  EXPECT_EQ(spec->model, "gpt2");
  EXPECT_EQ(spec->pre, "smollm");
  EXPECT_EQ(spec->tokens, (std::vector<std::string>{"a", "b", "ab", "<|im_end|>", "[EMPTY_4]"}));
  EXPECT_EQ(spec->types,
            (std::vector<token_type>{token_type::normal, token_type::normal, token_type::normal,
                                     token_type::control, token_type::undefined}));
  EXPECT_EQ(spec->merges, std::vector<std::string>{"a b"});
  EXPECT_EQ(spec->bos_id, 0);
  EXPECT_EQ(spec->eos_id, 3);
  EXPECT_EQ(spec->unk_id, 1);
  EXPECT_EQ(spec->pad_id, -1);
  EXPECT_TRUE(spec->add_bos);
  EXPECT_FALSE(spec->add_eos);
  EXPECT_FALSE(spec->ignore_merges);

  auto tok = make_bpe_tokenizer(*spec);
  ASSERT_TRUE(tok.ok()) << tok.message();
  EXPECT_EQ((*tok)->encode("ab<|im_end|>", true), (std::vector<int32_t>{0, 2, 3}));
}

TEST(VocabFromGguf, DefaultsFollowLlamaCpp) {
  const auto plain = minimal().read_vocab();
  ASSERT_TRUE(plain.ok()) << plain.message();
  EXPECT_EQ(plain->types.size(), plain->tokens.size());
  EXPECT_EQ(plain->types[3], token_type::normal);
  EXPECT_EQ(plain->bos_id, -1);
  EXPECT_FALSE(plain->add_bos);

  auto b = minimal("gpt2", "llama-bpe");
  b.u32("tokenizer.ggml.bos_token_id", 2);
  const auto llama3 = b.read_vocab();
  ASSERT_TRUE(llama3.ok()) << llama3.message();
  EXPECT_TRUE(llama3->ignore_merges);
  EXPECT_TRUE(llama3->add_bos);
}

TEST(VocabFromGguf, Errors) {
  EXPECT_FALSE(minimal("llama").read_vocab().ok());
  EXPECT_FALSE(gguf_builder().str("tokenizer.ggml.model", "gpt2").read_vocab().ok());
  auto no_merges =
      gguf_builder().str("tokenizer.ggml.model", "gpt2").strs("tokenizer.ggml.tokens", {"a"});
  EXPECT_FALSE(no_merges.read_vocab().ok());
  auto short_types = minimal();
  short_types.i32s("tokenizer.ggml.token_type", {1, 1});
  EXPECT_FALSE(short_types.read_vocab().ok());
  auto bos_missing = minimal();
  bos_missing.boolean("tokenizer.ggml.add_bos_token", true);
  EXPECT_FALSE(bos_missing.read_vocab().ok());
}

}  // namespace
}  // namespace troupe::runtime
