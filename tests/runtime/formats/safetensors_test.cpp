// safetensors: round trip of every dtype through the writer and reader, sharded checkpoints, and
// clear errors for malformed files.
#include "runtime/formats/safetensors.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

namespace troupe::runtime {
namespace {

namespace fs = std::filesystem;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("troupe_st_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write_raw(const std::string& name, const std::string& header, const std::string& data) {
    std::ofstream out(path(name), std::ios::binary);
    uint64_t len = header.size();
    out.write(reinterpret_cast<const char*>(&len), 8);
    out << header << data;
  }
  fs::path dir_;
};

TEST_F(SafetensorsTest, RoundTripsEveryDtype) {
  std::vector<float> values = {0.0f, 1.0f, -2.5f, 0.15625f, 3.0e-3f, -65504.0f};
  ASSERT_TRUE(write_safetensors(path("model.safetensors"),
                                {{"a", safetensors_dtype::f32, {2, 3}, values},
                                 {"b", safetensors_dtype::f16, {6}, values},
                                 {"c", safetensors_dtype::bf16, {3, 2}, values}}));
  auto file = safetensors_file::open(path("model.safetensors"));
  ASSERT_TRUE(file) << file.message();
  ASSERT_EQ((*file)->tensors().size(), 3u);
  const auto* a = (*file)->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->to_f32(), values);
  const auto* b = (*file)->find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->dtype, safetensors_dtype::f16);
  auto bv = b->to_f32();
  for (size_t i = 0; i < values.size(); ++i)
    EXPECT_NEAR(bv[i], values[i], std::abs(values[i]) * 1e-3f) << i;
  auto cv = (*file)->find("c")->to_f32();
  EXPECT_EQ(cv[2], -2.5f);      // exactly representable in bf16
  EXPECT_NE(cv[4], values[4]);  // 3e-3 is not: bf16 keeps 8 bits of mantissa
  EXPECT_NEAR(cv[4], values[4], 3e-5f);
  EXPECT_EQ((*file)->find("missing"), nullptr);
}

TEST_F(SafetensorsTest, ReadsAHandWrittenFileWithMetadata) {
  float v[2] = {1.5f, -4.0f};
  std::string data(reinterpret_cast<const char*>(v), 8);
  write_raw(
      "x.safetensors",
      R"({"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      data);
  auto file = safetensors_file::open(path("x.safetensors"));
  ASSERT_TRUE(file) << file.message();
  EXPECT_EQ((*file)->find("w")->to_f32(), (std::vector<float>{1.5f, -4.0f}));
}

TEST_F(SafetensorsTest, RejectsMalformedFiles) {
  struct bad_case {
    std::string header, data, expected;
  };
  const std::vector<bad_case> cases = {
      {"not json", "", "not a JSON object"},
      {R"({"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", std::string(8, '\0'),
       "unsupported dtype I64"},
      {R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'),
       "does not match its shape"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", std::string(4, '\0'),
       "outside the data section"},
      {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
       R"("v":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
       std::string(8, '\0'), "overlap"},
      {R"({"w":{"dtype":"F32","shape":[1]}})", std::string(4, '\0'), "needs dtype"},
  };
  for (const auto& c : cases) {
    write_raw("bad.safetensors", c.header, c.data);
    auto file = safetensors_file::open(path("bad.safetensors"));
    ASSERT_FALSE(file) << c.header;
    EXPECT_NE(file.message().find(c.expected), std::string::npos) << file.message();
  }
  std::ofstream(path("short.safetensors")) << "abc";
  EXPECT_FALSE(safetensors_file::open(path("short.safetensors")));
  std::ofstream huge(path("huge.safetensors"), std::ios::binary);
  uint64_t len = uint64_t{1} << 50;
  huge.write(reinterpret_cast<const char*>(&len), 8);
  huge.close();
  auto file = safetensors_file::open(path("huge.safetensors"));
  ASSERT_FALSE(file);
  EXPECT_NE(file.message().find("exceeds the file"), std::string::npos);
}

TEST_F(SafetensorsTest, OpensShardedCheckpoints) {
  ASSERT_TRUE(write_safetensors(path("s1.safetensors"), {{"a", safetensors_dtype::f32, {1}, {1}}}));
  ASSERT_TRUE(
      write_safetensors(path("s2.safetensors"), {{"b", safetensors_dtype::bf16, {2}, {2, 3}}}));
  std::ofstream(path("model.safetensors.index.json"))
      << R"({"metadata":{},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}})";
  auto ckpt = safetensors_checkpoint::open_dir(dir_.string());
  ASSERT_TRUE(ckpt) << ckpt.message();
  EXPECT_EQ(ckpt->num_tensors(), 2u);
  EXPECT_EQ(ckpt->files().size(), 2u);
  EXPECT_EQ(ckpt->find("b")->to_f32(), (std::vector<float>{2, 3}));

  std::ofstream(path("model.safetensors.index.json"))
      << R"({"weight_map":{"a":"s1.safetensors","c":"s2.safetensors"}})";
  auto missing = safetensors_checkpoint::open_dir(dir_.string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("'c' is not in its shard"), std::string::npos);
  std::ofstream(path("model.safetensors.index.json"))
      << R"({"weight_map":{"a":"../s1.safetensors"}})";
  EXPECT_FALSE(safetensors_checkpoint::open_dir(dir_.string()));
}

TEST_F(SafetensorsTest, EmptyDirectoryIsAClearError) {
  auto ckpt = safetensors_checkpoint::open_dir(dir_.string());
  ASSERT_FALSE(ckpt);
  EXPECT_NE(ckpt.message().find("neither model.safetensors"), std::string::npos);
}

}  // namespace
}  // namespace troupe::runtime
