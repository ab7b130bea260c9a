#include "runtime/formats/generation_config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

// Meta-Llama-3-8B-Instruct's generation_config.json.
const std::string llama3_dir = testing::repo_testdata("formats/generation_config/llama3");

TEST(generation_config, llama3_file_overrides_temperature_and_top_p) {
  auto d = load_generation_config(llama3_dir, "");
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->temperature, 0.6f);
  EXPECT_EQ(d->top_p, 0.9f);
  EXPECT_FALSE(d->top_k);
  EXPECT_FALSE(d->max_tokens);  // max_length is not max_new_tokens
  EXPECT_EQ(d->eos_token_ids, (std::vector<int32_t>{128001, 128009}));
  EXPECT_EQ(describe_sampling_defaults(*d), "{'temperature': 0.6, 'top_p': 0.9}");
}

// vLLM's --override-generation-config: config.update(override) before the sampling fields are
// taken, so its values win as given and null clears the file's.
TEST(generation_config, overrides_win_as_given_and_null_clears) {
  auto d = load_generation_config(llama3_dir, "");
  ASSERT_TRUE(d.ok()) << d.message();
  auto o = apply_generation_overrides(
      *d, R"({"temperature": 0.5, "top_p": null, "top_k": 50, "max_new_tokens": 32, "x": 1})");
  ASSERT_TRUE(o.ok()) << o.message();
  EXPECT_EQ(o->temperature, 0.5f);
  EXPECT_FALSE(o->top_p);
  EXPECT_EQ(o->top_k, 50);  // transformers' default, kept: the user gave it
  EXPECT_EQ(o->max_tokens, 32);
  EXPECT_EQ(o->eos_token_ids, d->eos_token_ids);
  EXPECT_EQ(describe_sampling_defaults(*o), "{'temperature': 0.5, 'top_k': 50, 'max_tokens': 32}");
  auto untouched = apply_generation_overrides(*d, "{}");
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(describe_sampling_defaults(*untouched), describe_sampling_defaults(*d));
  EXPECT_FALSE(apply_generation_overrides({}, "[1]").ok());
  EXPECT_FALSE(apply_generation_overrides({}, "{").ok());
  const auto wrong = apply_generation_overrides({}, R"({"top_k": 0.5})");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.message(), "--override-generation-config: top_k must be an integer");
}

TEST(generation_config, auto_reads_the_model_directory_and_vllm_keeps_only_eos) {
  auto automatic = load_generation_config("auto", llama3_dir);
  ASSERT_TRUE(automatic.ok()) << automatic.message();
  EXPECT_EQ(automatic->temperature, 0.6f);
  auto vllm = load_generation_config("vllm", llama3_dir);
  ASSERT_TRUE(vllm.ok()) << vllm.message();
  EXPECT_FALSE(vllm->temperature);
  EXPECT_FALSE(vllm->top_p);
  EXPECT_EQ(vllm->eos_token_ids.size(), 2u);
  EXPECT_EQ(describe_sampling_defaults(*vllm), "{}");
}

TEST(generation_config, every_field_and_huggingface_defaults_dropped) {
  auto d = parse_generation_config(R"({"temperature": 0.7, "top_p": 0.8, "top_k": 20,
      "min_p": 0.05, "repetition_penalty": 1.05, "max_new_tokens": 64, "eos_token_id": 7})");
  ASSERT_TRUE(d.ok()) << d.message();
  EXPECT_EQ(d->top_k, 20);
  EXPECT_EQ(d->min_p, 0.05f);
  EXPECT_EQ(d->repetition_penalty, 1.05f);
  EXPECT_EQ(d->max_tokens, 64);
  EXPECT_EQ(d->eos_token_ids, std::vector<int32_t>{7});
  EXPECT_EQ(describe_sampling_defaults(*d),
            "{'repetition_penalty': 1.05, 'temperature': 0.7, 'top_k': 20, 'top_p': 0.8, "
            "'min_p': 0.05, 'max_tokens': 64}");
  // transformers' GenerationConfig.to_diff_dict leaves out values equal to its defaults.
  auto defaults = parse_generation_config(
      R"({"temperature": 1.0, "top_p": 1.0, "top_k": 50, "repetition_penalty": 1.0,
          "min_p": null, "max_new_tokens": null})");
  ASSERT_TRUE(defaults.ok()) << defaults.message();
  EXPECT_TRUE(defaults->empty());
  EXPECT_EQ(describe_sampling_defaults(*defaults), "{}");
}

TEST(generation_config, wrong_types_are_errors_naming_the_field) {
  auto t = parse_generation_config(R"({"temperature": "hot"})");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.message().find("temperature must be a number"), std::string::npos);
  auto k = parse_generation_config(R"({"top_k": 1.5})");
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.message().find("top_k must be an integer"), std::string::npos);
  EXPECT_FALSE(parse_generation_config(R"({"eos_token_id": ["x"]})").ok());
  EXPECT_FALSE(parse_generation_config("[1, 2]").ok());
  EXPECT_FALSE(parse_generation_config("{").ok());
}

TEST(generation_config, missing_files_give_no_defaults_but_a_missing_dir_is_an_error) {
  const fs::path dir =
      fs::temp_directory_path() / ("troupe_generation_config_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto none = load_generation_config("auto", dir.string());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto gguf = load_generation_config("auto", (dir / "model.gguf").string());
  ASSERT_TRUE(gguf.ok());
  EXPECT_TRUE(gguf->empty());
  auto explicit_dir = load_generation_config(dir.string(), "");
  ASSERT_TRUE(explicit_dir.ok());
  EXPECT_TRUE(explicit_dir->empty());
  auto missing = load_generation_config((dir / "absent").string(), "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("not a directory"), std::string::npos);
  std::ofstream(dir / "generation_config.json") << R"({"top_k": "many"})";
  auto bad = load_generation_config("auto", dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("generation_config.json"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace troupe::runtime
