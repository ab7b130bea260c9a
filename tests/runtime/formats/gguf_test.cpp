// GGUF writer -> reader round trips: metadata of every value type, tensors of every supported
// type, versions and alignments.
#include "runtime/formats/gguf.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include "runtime/formats/dequant.hpp"
#include "runtime/formats/gguf_writer.hpp"
#include "tests/runtime/formats/gguf_test_util.hpp"

namespace troupe::runtime {
namespace {

using namespace std::string_literals;
using testing::temp_file;

std::shared_ptr<const gguf_file> open_ok(const gguf_writer& w, const temp_file& f) {
  f.write(w.to_bytes());
  result<std::shared_ptr<const gguf_file>> file = gguf_file::open(f.path());
  EXPECT_TRUE(file.ok()) << (file.ok() ? "" : file.message());
  return file.ok() ? *file : nullptr;
}

gguf_writer metadata_writer() {
  gguf_writer w;
  w.set("u8", gguf_meta::u8(200));
  w.set("i8", gguf_meta::i8(-100));
  w.set("u16", gguf_meta::u16(60000));
  w.set("i16", gguf_meta::i16(-30000));
  w.set("u32", gguf_meta::u32(4000000000u));
  w.set("i32", gguf_meta::i32(-2000000000));
  w.set("u64", gguf_meta::u64((uint64_t{1} << 63) + 5));
  w.set("i64", gguf_meta::i64(std::numeric_limits<int64_t>::min()));
  w.set("f32", gguf_meta::f32(1.5f));
  w.set("f64", gguf_meta::f64(3.141592653589793));
  w.set("bool", gguf_meta::boolean(true));
  w.set("string", gguf_meta::string("h\xc3\xa9llo \0 world"s));
  w.set("empty", gguf_meta::string(""));
  w.set("strings", gguf_meta::string_array({"a", "", "ccc"}));
  w.set("ints", gguf_meta::i32_array({1, -2, 3}));
  w.set("floats", gguf_meta::f32_array({0.5f, -0.25f}));
  w.set("u8s", gguf_meta::array(gguf_value_type::u8, {gguf_meta::u8(1), gguf_meta::u8(255)}));
  w.set("no_items", gguf_meta::array(gguf_value_type::u32, {}));
  w.set("nested", gguf_meta::array(gguf_value_type::array,
                                   {gguf_meta::i32_array({7, 8}), gguf_meta::string_array({"x"})}));
  return w;
}

TEST(gguf, metadata_of_every_type_round_trips) {
  temp_file f("metadata.gguf");
  std::shared_ptr<const gguf_file> file = open_ok(metadata_writer(), f);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(file->metadata().size(), 19u);
  EXPECT_EQ(file->get_int("u8"), 200);
  EXPECT_EQ(file->get_int("i8"), -100);
  EXPECT_EQ(file->get_int("u16"), 60000);
  EXPECT_EQ(file->get_int("i16"), -30000);
  EXPECT_EQ(file->get_int("u32"), 4000000000);
  EXPECT_EQ(file->get_int("i32"), -2000000000);
  EXPECT_EQ(file->get_int("u64"), std::nullopt);  // does not fit int64
  EXPECT_EQ(std::get<uint64_t>(file->find("u64")->v), (uint64_t{1} << 63) + 5);
  EXPECT_EQ(file->get_int("i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(file->get_float("f32"), 1.5);
  EXPECT_EQ(file->get_float("f64"), 3.141592653589793);
  EXPECT_EQ(file->get_float("u8"), 200.0);  // integers widen to float
  EXPECT_EQ(file->get_bool("bool"), true);
  EXPECT_EQ(file->get_string("string"), "h\xc3\xa9llo \0 world"s);
  EXPECT_EQ(file->get_string("empty"), "");
  EXPECT_EQ(file->get_string_array("strings"), (std::vector<std::string>{"a", "", "ccc"}));
  EXPECT_EQ(file->get_int_array("ints"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(file->get_float_array("floats"), (std::vector<double>{0.5, -0.25}));
  EXPECT_EQ(file->get_int_array("u8s"), (std::vector<int64_t>{1, 255}));
  EXPECT_EQ(file->get_int_array("no_items"), std::vector<int64_t>{});
  const auto& nested = std::get<gguf_array>(file->find("nested")->v);
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(std::get<int64_t>(std::get<gguf_array>(nested[0].v)[1].v), 8);
  EXPECT_EQ(std::get<std::string>(std::get<gguf_array>(nested[1].v)[0].v), "x");
}

TEST(gguf, stored_types_and_type_mismatches) {
  temp_file f("types.gguf");
  std::shared_ptr<const gguf_file> file = open_ok(metadata_writer(), f);
  ASSERT_TRUE(file);
  const std::pair<const char*, gguf_value_type> expected[] = {
      {"u8", gguf_value_type::u8},        {"i8", gguf_value_type::i8},
      {"u16", gguf_value_type::u16},      {"i16", gguf_value_type::i16},
      {"u32", gguf_value_type::u32},      {"i32", gguf_value_type::i32},
      {"u64", gguf_value_type::u64},      {"i64", gguf_value_type::i64},
      {"f32", gguf_value_type::f32},      {"f64", gguf_value_type::f64},
      {"bool", gguf_value_type::boolean}, {"string", gguf_value_type::string},
      {"nested", gguf_value_type::array}};
  for (const auto& [key, type] : expected)
    EXPECT_EQ(file->metadata_type(key), type) << key;
  EXPECT_EQ(file->metadata_type("absent"), std::nullopt);
  EXPECT_EQ(file->get_int("string"), std::nullopt);
  EXPECT_EQ(file->get_string("u8"), std::nullopt);
  EXPECT_EQ(file->get_bool("u8"), std::nullopt);
  EXPECT_EQ(file->get_float("string"), std::nullopt);
  EXPECT_EQ(file->get_string_array("ints"), std::nullopt);
  EXPECT_EQ(file->get_int_array("strings"), std::nullopt);
  EXPECT_EQ(file->get_int("absent"), std::nullopt);
  EXPECT_EQ(file->find("absent"), nullptr);
}

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (float& x : v)
    x = dist(rng);
  return v;
}

struct tensor_case {
  const char* name;
  ggml_type type;
  std::vector<uint64_t> shape;
  float max_error;  // |x - dequant(quant(x))| bound for values in [-2, 2]
};

const std::vector<tensor_case>& tensor_cases() {
  static const std::vector<tensor_case> cases = {
      {"f32", ggml_type::f32, {8, 3}, 0.0f},
      {"f16", ggml_type::f16, {5, 2}, 2.0f / 2048},
      {"bf16", ggml_type::bf16, {7}, 2.0f / 256},
      {"q8_0", ggml_type::q8_0, {64, 2}, 2.0f / 127 * 0.51f + 2.0f / 2048},
      {"q4_0", ggml_type::q4_0, {32, 3}, 2.0f / 8 + 2.0f / 1024},
      {"q4_1", ggml_type::q4_1, {32, 1, 2}, 4.0f / 15 * 0.5f + 6.0f / 1024},
  };
  return cases;
}

TEST(gguf, tensors_of_every_supported_type_round_trip) {
  gguf_writer w;
  w.set("general.architecture", gguf_meta::string("test"));
  std::vector<std::vector<float>> values;
  for (size_t i = 0; i < tensor_cases().size(); ++i) {
    const tensor_case& c = tensor_cases()[i];
    uint64_t n = 1;
    for (uint64_t d : c.shape)
      n *= d;
    values.push_back(random_values(n, static_cast<uint32_t>(i)));
    ASSERT_TRUE(w.add_tensor(c.name, c.shape, c.type, values.back()).ok()) << c.name;
  }
  temp_file f("tensors.gguf");
  std::shared_ptr<const gguf_file> file = open_ok(w, f);
  ASSERT_TRUE(file);
  ASSERT_EQ(file->tensors().size(), tensor_cases().size());
  for (size_t i = 0; i < tensor_cases().size(); ++i) {
    const tensor_case& c = tensor_cases()[i];
    const gguf_tensor_info* t = file->find_tensor(c.name);
    ASSERT_NE(t, nullptr) << c.name;
    EXPECT_EQ(t->shape, c.shape);
    EXPECT_EQ(t->type, static_cast<uint32_t>(c.type));
    EXPECT_EQ(t->offset % 32, 0u);
    EXPECT_EQ((file->data_offset() + t->offset) % 32, 0u);
    result<std::vector<float>> got = file->dequantize(*t);
    ASSERT_TRUE(got.ok()) << got.message();
    ASSERT_EQ(got->size(), values[i].size());
    for (size_t j = 0; j < got->size(); ++j) {
      ASSERT_LE(std::fabs((*got)[j] - values[i][j]), c.max_error) << c.name << "[" << j << "]";
    }
  }
  EXPECT_EQ(file->find_tensor("absent"), nullptr);
}

TEST(gguf, unsupported_tensor_type_opens_but_does_not_dequantize) {
  gguf_writer w;
  ASSERT_TRUE(
      w.add_raw_tensor("blk.0.ffn_down.weight", {256, 2}, 10, std::vector<uint8_t>(168)).ok());
  temp_file f("q2k.gguf");
  std::shared_ptr<const gguf_file> file = open_ok(w, f);
  ASSERT_TRUE(file);
  const gguf_tensor_info& t = file->tensors()[0];
  EXPECT_EQ(t.num_bytes, 168u);
  EXPECT_EQ(file->tensor_data(t).size(), 168u);
  result<std::vector<float>> got = file->dequantize(t);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.message(), "unsupported tensor type Q2_K (10) for 'blk.0.ffn_down.weight'");
}

TEST(gguf, version_2_and_custom_alignment) {
  gguf_writer w(64);
  w.set_version(2);
  const std::vector<float> a = random_values(3, 1), b = random_values(5, 2);
  ASSERT_TRUE(w.add_tensor("a", {3}, ggml_type::f32, a).ok());
  ASSERT_TRUE(w.add_tensor("b", {5}, ggml_type::f32, b).ok());
  temp_file f("aligned.gguf");
  std::shared_ptr<const gguf_file> file = open_ok(w, f);
  ASSERT_TRUE(file);
  EXPECT_EQ(file->version(), 2u);
  EXPECT_EQ(file->alignment(), 64u);
  EXPECT_EQ(file->metadata_type("general.alignment"), gguf_value_type::u32);
  EXPECT_EQ(file->data_offset() % 64, 0u);
  EXPECT_EQ(file->find_tensor("b")->offset, 64u);
  EXPECT_EQ(*file->dequantize(*file->find_tensor("b")), b);
}

TEST(gguf, write_to_path_matches_to_bytes) {
  gguf_writer w = metadata_writer();
  ASSERT_TRUE(w.add_tensor("t", {32}, ggml_type::q4_1, random_values(32, 9)).ok());
  temp_file f("written.gguf");
  ASSERT_TRUE(w.write(f.path()).ok());
  std::ifstream in(f.path(), std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes, w.to_bytes());
  EXPECT_FALSE(w.write("/nonexistent-dir/x.gguf").ok());
}

TEST(gguf, writer_rejects_bad_tensors) {
  gguf_writer w;
  EXPECT_TRUE(w.add_tensor("t", {4}, ggml_type::f32, random_values(4, 1)).ok());
  EXPECT_FALSE(w.add_tensor("t", {4}, ggml_type::f32, random_values(4, 1)).ok());     // duplicate
  EXPECT_FALSE(w.add_tensor("u", {5}, ggml_type::f32, random_values(4, 1)).ok());     // count
  EXPECT_FALSE(w.add_tensor("v", {16}, ggml_type::q8_0, random_values(16, 1)).ok());  // block
}

TEST(gguf, file_without_tensors_or_metadata_opens) {
  temp_file f("empty.gguf");
  std::shared_ptr<const gguf_file> file = open_ok(gguf_writer(), f);
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_TRUE(file->metadata().empty());
}

}  // namespace
}  // namespace troupe::runtime
