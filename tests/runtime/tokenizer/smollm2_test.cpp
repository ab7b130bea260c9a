// The default model's vocabulary, read from its GGUF, against token ids from llama.cpp itself
// (tests/data/tokenizer/*, made by tools/llamacpp_tokenize_reference.py). Skips when the model
// has not been fetched.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "runtime/formats/gguf.hpp"
#include "runtime/tokenizer/tokenizer.hpp"
#include "tests/runtime/tokenizer/jsonl.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

class Smollm2Tokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string path = testing::default_model_gguf();
    if (path.empty()) return;
    auto file = gguf_file::open(path);
    ASSERT_TRUE(file.ok()) << file.message();
    auto spec = vocab_from_gguf(**file);
    ASSERT_TRUE(spec.ok()) << spec.message();
    spec_ = new vocab_spec(*spec);
    auto tok = make_bpe_tokenizer(std::move(spec).value());
    ASSERT_TRUE(tok.ok()) << tok.message();
    tok_ = new std::shared_ptr<const tokenizer>(*tok);
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete spec_;
    tok_ = nullptr;
    spec_ = nullptr;
  }
  void SetUp() override {
    if (tok_ == nullptr) GTEST_SKIP() << "default model not fetched (tools/setup.sh fetches it)";
  }
  const tokenizer& tok() const { return **tok_; }

  static inline vocab_spec* spec_ = nullptr;
  static inline std::shared_ptr<const tokenizer>* tok_ = nullptr;
};

TEST_F(Smollm2Tokenizer, VocabFromGguf) {
  EXPECT_EQ(spec_->model, "gpt2");
  EXPECT_EQ(spec_->pre, "smollm");
  EXPECT_EQ(spec_->tokens.size(), 49152u);
  EXPECT_EQ(spec_->types.size(), 49152u);
  EXPECT_EQ(spec_->merges.size(), 48900u);
  EXPECT_EQ(spec_->merges[0], "Ġ t");
  EXPECT_EQ(spec_->tokens[1], "<|im_start|>");
  EXPECT_EQ(spec_->types[1], token_type::control);
  EXPECT_EQ(spec_->unk_id, 0);
  EXPECT_EQ(spec_->pad_id, 2);
  EXPECT_FALSE(spec_->ignore_merges);
}

TEST_F(Smollm2Tokenizer, SpecialIdsMatchLlamaCpp) {
  std::ifstream in(testing::repo_testdata("tokenizer/smollm2_llamacpp_vocab.json"));
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document meta;
  meta.Parse(text.str().c_str());
  ASSERT_FALSE(meta.HasParseError());
  EXPECT_EQ(tok().vocab_size(), meta["num_tokens"].GetInt());
  EXPECT_EQ(spec_->add_bos, meta["add_bos"].GetBool());
  EXPECT_EQ(spec_->add_eos, meta["add_eos"].GetBool());
  EXPECT_EQ(tok().bos_id(), meta["bos_id"].GetInt());
  EXPECT_EQ(tok().eos_id(), meta["eos_id"].GetInt());
  std::vector<int32_t> eog, control;
  for (int32_t id = 0; id < tok().vocab_size(); ++id) {
    if (tok().is_eog(id)) eog.push_back(id);
    if (tok().is_special(id)) control.push_back(id);
  }
  EXPECT_EQ(eog, testing::json_ids(meta["eog_ids"]));
  EXPECT_EQ(control, testing::json_ids(meta["control_ids"]));
}

TEST_F(Smollm2Tokenizer, EncodeMatchesLlamaCppExactly) {
  const auto lines =
      testing::read_jsonl(testing::repo_testdata("tokenizer/smollm2_llamacpp_ids.jsonl"));
  ASSERT_GE(lines.size(), 60u);
  for (const auto& line : lines) {
    const std::string text = testing::json_string(line["text"]);
    const std::vector<int32_t> expected = testing::json_ids(line["ids"]);
    EXPECT_EQ(tok().encode(text, /*add_special=*/true), expected) << "text: " << text;
    EXPECT_EQ(tok().decode(expected, false), testing::json_string(line["detok"])) << text;
  }
}

// The 175 strings of the shared tokenizer corpus (control characters, NUL, NFD text, rare
// scripts, long whitespace runs, ...), with llama.cpp's ids for them.
TEST_F(Smollm2Tokenizer, SharedCorpusMatchesLlamaCpp) {
  const auto lines =
      testing::read_jsonl(testing::repo_testdata("tokenizer/smollm2_llamacpp_corpus_ids.jsonl"));
  ASSERT_GE(lines.size(), 175u);
  for (const auto& line : lines) {
    const std::string text = testing::json_string(line["text"]);
    const std::vector<int32_t> expected = testing::json_ids(line["ids"]);
    EXPECT_EQ(tok().encode(text, true), expected) << testing::json_string(line["id"]);
    EXPECT_EQ(tok().decode(expected, false), testing::json_string(line["detok"]))
        << testing::json_string(line["id"]);
  }
}

TEST_F(Smollm2Tokenizer, RoundTripsVariedText) {
  const char* texts[] = {
      "plain ASCII, with punctuation!?",
      "accents: àéîõü ÀÉÎÕÜ ñ ç ß ø å",
      "CJK: 漢字かなカナ한글 中文文本",
      "emoji: 😀🎉👩‍💻🏳️‍🌈 🇩🇪",
      "digits 0 1 22 333 4444 55555 3.14159e-10",
      "whitespace   runs\t\ttabs \n\n\n newlines \r\n  ",
      "<|im_start|>user\nliteral control tokens<|im_end|>\n<|endoftext|>",
      "mixed: café👍日本 ٣ ½ Ⅻ",
  };
  for (const char* text : texts) {
    const auto ids = tok().encode(text, true);
    EXPECT_EQ(tok().decode(ids, false), text);
  }
  EXPECT_EQ(tok().decode(tok().encode("<|im_start|>user\nhi<|im_end|>", true), true), "user\nhi");
}

TEST_F(Smollm2Tokenizer, IncrementalMatchesDecode) {
  const std::string text = "Streaming 日本語 and emoji 🚀🎉 with <|im_end|> inside\n";
  const auto ids = tok().encode(text, true);
  for (const bool skip : {false, true}) {
    incremental_detokenizer d(*tok_, skip);
    std::string streamed;
    for (const int32_t id : ids)
      streamed += d.push(id);
    streamed += d.finish();
    EXPECT_EQ(streamed, tok().decode(ids, skip));
  }
}

}  // namespace
}  // namespace troupe::runtime
