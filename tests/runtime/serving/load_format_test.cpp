// --load-format through the engine builder: auto, safetensors and gguf read the model given (a
// model of the other format is refused), dummy builds random weights from a directory holding only
// config.json (plain, W8A8, at two tensor-parallel ranks; --dtype applies; a weight file present
// is not read; a smaller tokenizer is accepted; startup logs the generated sizes); vLLM's other
// loaders are refused naming what troupe supports.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include "runtime/formats/hf_make_model.hpp"
#include "runtime/serving/config_checks.hpp"
#include "runtime/serving/engine_builder.hpp"
#include "runtime/serving/model_files.hpp"
#include "tests/support/testdata.hpp"

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;
using backend::weight_format;

class load_format : public ::testing::Test {
 protected:
  // dummy/: config.json only (vocab 640, float32); dummy_bf16/, dummy_w8a8/: bfloat16 and W8A8
  // configs; with_tokenizer/: config.json, the 600-piece tokenizer and a corrupt
  // model.safetensors; model/: a real tiny checkpoint with its tokenizer; fake.gguf: a file.
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("troupe_load_format_test_" + std::to_string(::getpid()));
    fs::remove_all(root_);
    tiny_model_spec spec;
    spec.vocab_size = 640;
    spec.max_position_embeddings = 1024;
    write_config("dummy", spec);
    write_config("with_tokenizer", spec);
    copy_tokenizer("with_tokenizer");
    std::ofstream(root_ / "with_tokenizer" / "model.safetensors") << "not a safetensors file";
    ASSERT_TRUE(write_tiny_model(spec, (root_ / "model").string()).ok());
    copy_tokenizer("model");
    spec.dtype = safetensors_dtype::bf16;
    write_config("dummy_bf16", spec);
    spec.dtype = safetensors_dtype::f32;
    spec.w8a8 = true;
    write_config("dummy_w8a8", spec);
    fs::create_directories(root_ / "no_config");
    std::ofstream(root_ / "fake.gguf") << "GGUF";
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static void write_config(const char* name, const tiny_model_spec& spec) {
    fs::create_directories(root_ / name);
    std::ofstream(root_ / name / "config.json") << tiny_model_config_json(spec);
  }
  static void copy_tokenizer(const char* name) {
    for (const char* file : {"tokenizer.model", "tokenizer_config.json"})
      fs::copy_file(fs::path(tokenizer_dir()) / file, root_ / name / file);
  }
  static std::string tokenizer_dir() {
    return testing::repo_testdata("tokenizer/sentencepiece/legacy");
  }
  static std::string path(const char* name) { return (root_ / name).string(); }

  static engine_config dummy_config(const char* model = "dummy") {
    engine_config c;
    c.model = path(model);
    c.load_format = "dummy";
    c.tokenizer = tokenizer_dir();
    c.num_gpu_blocks_override = 16;
    c.num_compute_threads = 1;
    return c;
  }

  static std::string build_error(const engine_config& config) {
    auto built = build_engine(config);
    EXPECT_FALSE(built.ok()) << "built although it should not";
    return built.ok() ? "" : built.message();
  }

  static inline fs::path root_;
};

TEST_F(load_format, validation_refuses_vllms_other_loaders) {
  engine_config c;
  for (const char* supported : {"auto", "safetensors", "gguf", "dummy"}) {
    c.load_format = supported;
    EXPECT_TRUE(validate_engine_config(c)) << supported;
  }
  for (const char* other : {"pt", "npcache", "tensorizer", "sharded_state", "bitsandbytes",
                            "mistral", "runai_streamer", "fastsafetensors"}) {
    c.load_format = other;
    const auto s = validate_engine_config(c);
    ASSERT_FALSE(s) << other;
    EXPECT_EQ(s.message(), "--load-format " + std::string(other) +
                               " is not supported: troupe supports auto (the model's own format), "
                               "safetensors, gguf and dummy");
  }
  c = dummy_config();
  c.load_format = "pt";
  EXPECT_EQ(build_error(c).rfind("--load-format pt is not supported", 0), 0u);
}

// vLLM's --quantization: the checkpoint's method or nothing (troupe quantizes nothing on load).
TEST_F(load_format, quantization_must_name_the_checkpoints_method) {
  EXPECT_EQ(*checkpoint_quantization(path("dummy")), "");
  EXPECT_EQ(*checkpoint_quantization(path("dummy_w8a8")), "compressed-tensors");
  EXPECT_EQ(*checkpoint_quantization(path("fake.gguf")), "gguf");
  auto c = dummy_config("dummy_w8a8");
  c.quantization = "compressed-tensors";
  EXPECT_TRUE(load_model_files(c).ok());
  c.quantization = "awq";
  auto refused = load_model_files(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(),
            "Quantization method specified in the model config (compressed-tensors) does not "
            "match the quantization method specified in the `quantization` argument (awq).");
  c = dummy_config();
  c.quantization = "fp8";
  refused = load_model_files(c);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.message().find("the checkpoint is not quantized"), std::string::npos)
      << refused.message();
  EXPECT_TRUE(check_quantization("", "gguf"));
  EXPECT_TRUE(check_quantization("gguf", "gguf"));
}

TEST_F(load_format, dummy_builds_an_engine_from_config_json_alone) {
  auto built = build_engine(dummy_config());
  ASSERT_TRUE(built.ok()) << built.message();
  ASSERT_EQ(built->runners.size(), 1u);
  EXPECT_EQ(built->runners[0]->vocab_size(), 640);
  EXPECT_EQ(built->tokenizer->vocab_size(), 600);  // fewer tokens than the model: accepted
  EXPECT_EQ(built->model_max_len, 1024);
  EXPECT_EQ(built->tokenizer_path, tokenizer_dir());
}

TEST_F(load_format, dummy_matrices_are_random_in_the_dtype_asked) {
  for (auto [model, dtype, want] : {std::tuple{"dummy", "auto", weight_format::f32},
                                    {"dummy_bf16", "auto", weight_format::bf16},
                                    {"dummy", "bfloat16", weight_format::bf16},
                                    {"dummy_bf16", "float16", weight_format::f16},
                                    {"dummy_bf16", "float32", weight_format::f32}}) {
    auto c = dummy_config(model);
    c.dtype = dtype;
    auto files = load_model_files(c);
    ASSERT_TRUE(files.ok()) << files.message();
    for_each_matrix(files->weights,
                    [&](const weight_matrix& m, int64_t, int64_t, const std::string& name) {
                      EXPECT_EQ(m.format, want) << model << " " << dtype << " " << name;
                      EXPECT_TRUE(m.random.has_value()) << name;
                      EXPECT_EQ(m.size_bytes(), 0) << name;  // nothing held on the host
                    });
    EXPECT_EQ(files->weights.layers[0].attn_norm, std::vector<float>(64, 1.0f));
  }
}

// The startup line reports the bytes the random matrices take once generated: the tiny model's
// 155648 weights in bf16.
TEST_F(load_format, startup_logs_the_generated_sizes) {
  ::testing::internal::CaptureStdout();
  auto files = load_model_files(dummy_config("dummy_bf16"));
  const std::string out = ::testing::internal::GetCapturedStdout();
  ASSERT_TRUE(files.ok()) << files.message();
  EXPECT_NE(out.find("dtype auto (bfloat16): matrices bf16 0.3 MiB (16)"), std::string::npos)
      << out;
  EXPECT_NE(out.find("--load-format dummy: random weights"), std::string::npos) << out;
}

TEST_F(load_format, dummy_w8a8_keeps_int8_projections_unless_float32) {
  for (auto [dtype, projection, embedding] :
       {std::tuple{"auto", weight_format::w8a8, weight_format::f32},
        {"bfloat16", weight_format::w8a8, weight_format::bf16},
        {"float32", weight_format::f32, weight_format::f32}}) {
    auto c = dummy_config("dummy_w8a8");
    c.dtype = dtype;
    auto files = load_model_files(c);
    ASSERT_TRUE(files.ok()) << files.message();
    const auto& l = files->weights.layers[1];
    EXPECT_EQ(l.wq.format, projection) << dtype;
    EXPECT_EQ(l.w_down.format, projection) << dtype;
    EXPECT_EQ(files->weights.token_embedding.format, embedding) << dtype;
    EXPECT_TRUE(l.wq.random.has_value());
  }
  auto built = build_engine(dummy_config("dummy_w8a8"));
  ASSERT_TRUE(built.ok()) << built.message();
}

TEST_F(load_format, dummy_at_two_tensor_parallel_ranks) {
  auto c = dummy_config();
  c.tensor_parallel_size = 2;
  c.num_compute_threads = 2;
  auto built = build_engine(c);
  ASSERT_TRUE(built.ok()) << built.message();
  ASSERT_EQ(built->runners.size(), 2u);
  for (const auto& runner : built->runners)
    EXPECT_EQ(runner->vocab_size(), 640);
}

// The directory's own tokenizer when it has one; its weight file is not read.
TEST_F(load_format, dummy_reads_no_weight_file_and_uses_the_directorys_tokenizer) {
  auto c = dummy_config("with_tokenizer");
  c.tokenizer.clear();
  auto built = build_engine(c);
  ASSERT_TRUE(built.ok()) << built.message();
  EXPECT_EQ(built->tokenizer_path, path("with_tokenizer"));
  EXPECT_EQ(built->tokenizer->vocab_size(), 600);
  c.load_format = "auto";  // the corrupt model.safetensors is read
  EXPECT_FALSE(build_engine(c).ok());
}

TEST_F(load_format, dummy_needs_a_directory_with_config_json_and_a_tokenizer) {
  auto c = dummy_config();
  c.tokenizer.clear();
  EXPECT_EQ(build_error(c), path("dummy") +
                                ": no tokenizer.json or tokenizer.model; pass a tokenizer with "
                                "--tokenizer PATH");
  c = dummy_config();
  c.model = path("fake.gguf");
  EXPECT_EQ(build_error(c),
            "--load-format dummy makes random weights from a Hugging Face model "
            "directory's config.json, but " +
                path("fake.gguf") + " is a file (dummy GGUF models are not supported)");
  c.model = path("no_config");
  EXPECT_EQ(build_error(c),
            "--load-format dummy makes random weights from a Hugging Face model "
            "directory's config.json, but " +
                path("no_config") + " is a directory without config.json");
  c.model = path("missing");
  EXPECT_EQ(build_error(c).find("--load-format dummy"), 0u);
  EXPECT_NE(build_error(c).find(path("missing") + " does not exist"), std::string::npos);
}

TEST_F(load_format, safetensors_and_gguf_only_read_their_format) {
  engine_config c;
  c.model = path("model");
  c.num_gpu_blocks_override = 16;
  c.num_compute_threads = 1;
  c.load_format = "safetensors";
  auto built = build_engine(c);
  ASSERT_TRUE(built.ok()) << built.message();
  c.load_format = "gguf";
  EXPECT_EQ(build_error(c), "--load-format gguf reads a .gguf file, but " + path("model") +
                                " is a Hugging Face directory: use --load-format auto or "
                                "safetensors");
  c.model = path("fake.gguf");
  c.load_format = "safetensors";
  EXPECT_EQ(build_error(c),
            "--load-format safetensors reads a Hugging Face model directory (config.json and "
            "*.safetensors), but " +
                path("fake.gguf") + " is a file: use --load-format auto or gguf for a .gguf file");
  c.load_format = "gguf";  // the format matches; the file itself is not a GGUF
  EXPECT_EQ(build_error(c).find("--load-format"), std::string::npos);
}

}  // namespace
}  // namespace troupe::runtime
