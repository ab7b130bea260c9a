// Truncated and corrupted GGUF files must give an error (never a crash or a read past the map).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "runtime/formats/gguf.hpp"
#include "runtime/formats/gguf_writer.hpp"
#include "tests/runtime/formats/gguf_test_util.hpp"

namespace troupe::runtime {
namespace {

using testing::temp_file;

// A small file with metadata of several types and tensors; the last tensor's data is a multiple
// of the alignment, so the file ends exactly where its data does.
gguf_writer small_writer() {
  gguf_writer w;
  w.set("general.architecture", gguf_meta::string("llama"));
  w.set("a.count", gguf_meta::u32(7));
  w.set("a.list", gguf_meta::string_array({"one", "two"}));
  w.set("a.nested", gguf_meta::array(gguf_value_type::array, {gguf_meta::i32_array({1, 2})}));
  w.set("a.real", gguf_meta::f64(0.5));
  const std::vector<float> values(64, 0.25f);
  EXPECT_TRUE(w.add_tensor("first", {32, 2}, ggml_type::q8_0, values).ok());
  EXPECT_TRUE(w.add_tensor("last", {16}, ggml_type::f32, std::span(values).first(16)).ok());
  return w;
}

// Error message of opening `bytes`, or "" if it opened.
std::string open_error(const std::vector<uint8_t>& bytes, size_t length) {
  temp_file f("corrupt.gguf");
  f.write(bytes, length);
  result<std::shared_ptr<const gguf_file>> file = gguf_file::open(f.path());
  return file.ok() ? std::string() : file.message();
}
std::string open_error(const std::vector<uint8_t>& bytes) {
  return open_error(bytes, bytes.size());
}

template <class T>
void patch(std::vector<uint8_t>& bytes, size_t at, T value) {
  ASSERT_LE(at + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// Position of the first occurrence of `text` in the file.
size_t find(const std::vector<uint8_t>& bytes, const std::string& text) {
  auto it = std::search(bytes.begin(), bytes.end(), text.begin(), text.end());
  EXPECT_NE(it, bytes.end()) << text;
  return static_cast<size_t>(it - bytes.begin());
}

// Position of the `offset` field of the tensor info named `name` with `num_dims` dims.
size_t tensor_offset_field(const std::vector<uint8_t>& bytes, const std::string& name,
                           size_t num_dims) {
  return find(bytes, name) + name.size() + 4 + 8 * num_dims + 4;
}

TEST(gguf_corrupt, the_uncorrupted_file_opens) {
  EXPECT_EQ(open_error(small_writer().to_bytes()), "");
}

TEST(gguf_corrupt, every_truncation_is_an_error) {
  const std::vector<uint8_t> bytes = small_writer().to_bytes();
  for (size_t length = 0; length < bytes.size(); ++length) {
    const std::string message = open_error(bytes, length);
    ASSERT_NE(message, "") << "prefix of " << length << " of " << bytes.size() << " bytes opened";
  }
}

TEST(gguf_corrupt, truncation_messages_say_where) {
  const std::vector<uint8_t> bytes = small_writer().to_bytes();
  EXPECT_NE(open_error(bytes, 10).find("header"), std::string::npos) << open_error(bytes, 10);
  const size_t in_info = find(bytes, "last") + 2;
  EXPECT_NE(open_error(bytes, in_info).find("truncated in tensor info 1"), std::string::npos)
      << open_error(bytes, in_info);
  EXPECT_NE(open_error(bytes, bytes.size() - 1).find("'last'"), std::string::npos);
}

TEST(gguf_corrupt, bad_magic_and_versions) {
  std::vector<uint8_t> bytes = small_writer().to_bytes();
  bytes[0] = 'X';
  EXPECT_NE(open_error(bytes).find("bad magic"), std::string::npos);
  for (uint32_t version : {0u, 1u, 4u}) {
    bytes = small_writer().to_bytes();
    patch(bytes, 4, version);
    EXPECT_NE(open_error(bytes).find("GGUF version " + std::to_string(version)), std::string::npos)
        << open_error(bytes);
  }
  patch(bytes, 4, 0x03000000u);
  EXPECT_NE(open_error(bytes).find("big-endian"), std::string::npos);
}

TEST(gguf_corrupt, absurd_counts) {
  std::vector<uint8_t> bytes = small_writer().to_bytes();
  patch(bytes, 8, uint64_t{1} << 60);  // tensor count
  EXPECT_NE(open_error(bytes).find("tensor count"), std::string::npos);
  bytes = small_writer().to_bytes();
  patch(bytes, 16, uint64_t{1} << 60);  // metadata count
  EXPECT_NE(open_error(bytes).find("metadata count"), std::string::npos);
  bytes = small_writer().to_bytes();
  patch(bytes, 24, ~uint64_t{0});  // first key's length
  EXPECT_NE(open_error(bytes), "");
  bytes = small_writer().to_bytes();
  patch(bytes, find(bytes, "a.list") + 6 + 4 + 4, uint64_t{1} << 40);  // array count
  EXPECT_NE(open_error(bytes).find("exceeds the file"), std::string::npos) << open_error(bytes);
}

TEST(gguf_corrupt, unknown_value_types) {
  std::vector<uint8_t> bytes = small_writer().to_bytes();
  patch(bytes, find(bytes, "a.count") + 7, uint32_t{13});
  EXPECT_NE(open_error(bytes).find("unknown value type 13 in metadata 'a.count'"),
            std::string::npos)
      << open_error(bytes);
  bytes = small_writer().to_bytes();
  patch(bytes, find(bytes, "a.list") + 6 + 4, uint32_t{99});  // array element type
  EXPECT_NE(open_error(bytes).find("unknown array element type 99"), std::string::npos);
}

TEST(gguf_corrupt, arrays_nested_too_deeply) {
  gguf_meta value = gguf_meta::i32_array({1});
  for (int depth = 0; depth < 12; ++depth) {
    value = gguf_meta::array(gguf_value_type::array, {value});
  }
  gguf_writer w;
  w.set("deep", value);
  EXPECT_NE(open_error(w.to_bytes()).find("nested too deeply"), std::string::npos);
}

TEST(gguf_corrupt, bad_tensor_infos) {
  auto with_raw = [](std::vector<uint64_t> shape, uint32_t type, size_t num_bytes) {
    gguf_writer w;
    EXPECT_TRUE(
        w.add_raw_tensor("t", std::move(shape), type, std::vector<uint8_t>(num_bytes)).ok());
    return open_error(w.to_bytes());
  };
  EXPECT_EQ(with_raw({32}, 8, 34), "");
  EXPECT_NE(with_raw({32}, 99, 34).find("unknown tensor type 99 for 't'"), std::string::npos);
  EXPECT_NE(with_raw({32}, 4, 34).find("unknown tensor type 4"), std::string::npos);  // removed
  EXPECT_NE(with_raw({2, 2, 2, 2, 2}, 0, 128).find("5 dims"), std::string::npos);
  EXPECT_NE(with_raw({16}, 8, 34).find("block size"), std::string::npos);
  EXPECT_NE(with_raw({uint64_t{1} << 40, uint64_t{1} << 40}, 0, 4).find("absurd shape"),
            std::string::npos);
  EXPECT_NE(with_raw({64}, 0, 128).find("beyond the end"), std::string::npos);  // 256 B needed
  // 2^62 f32 weights fit int64 but their 2^64 bytes overflow.
  EXPECT_NE(with_raw({uint64_t{1} << 31, uint64_t{1} << 31}, 0, 4).find("absurd size"),
            std::string::npos);
}

TEST(gguf_corrupt, bad_tensor_offsets) {
  std::vector<uint8_t> bytes = small_writer().to_bytes();
  patch(bytes, tensor_offset_field(bytes, "last", 1), uint64_t{96 + 4});
  EXPECT_NE(open_error(bytes).find("not aligned"), std::string::npos) << open_error(bytes);
  patch(bytes, tensor_offset_field(bytes, "last", 1), uint64_t{1} << 20);
  EXPECT_NE(open_error(bytes).find("beyond the end"), std::string::npos);
  patch(bytes, tensor_offset_field(bytes, "last", 1), ~uint64_t{0} - 31);
  EXPECT_NE(open_error(bytes).find("beyond the end"), std::string::npos);
}

TEST(gguf_corrupt, duplicates_and_bad_alignment) {
  gguf_writer w;
  w.set("k.a", gguf_meta::u8(1));
  w.set("k.b", gguf_meta::u8(2));
  EXPECT_TRUE(w.add_tensor("t.a", {1}, ggml_type::f32, std::vector<float>{1}).ok());
  EXPECT_TRUE(w.add_tensor("t.b", {1}, ggml_type::f32, std::vector<float>{1}).ok());
  std::vector<uint8_t> bytes = w.to_bytes();
  bytes[find(bytes, "k.b") + 2] = 'a';
  EXPECT_NE(open_error(bytes).find("duplicate metadata key 'k.a'"), std::string::npos);
  bytes = w.to_bytes();
  bytes[find(bytes, "t.b") + 2] = 'a';
  EXPECT_NE(open_error(bytes).find("duplicate tensor name 't.a'"), std::string::npos);
  for (gguf_meta alignment : {gguf_meta::u32(3), gguf_meta::u32(0), gguf_meta::string("32")}) {
    gguf_writer aligned;
    aligned.set("general.alignment", alignment);
    EXPECT_NE(open_error(aligned.to_bytes()).find("alignment"), std::string::npos);
  }
}

TEST(gguf_corrupt, paths_that_are_not_gguf_files) {
  EXPECT_NE(gguf_file::open("/nonexistent/model.gguf").message().find("cannot open"),
            std::string::npos);
  EXPECT_NE(gguf_file::open("/tmp").message().find("not a regular file"), std::string::npos);
  EXPECT_NE(open_error({}).find("too short"), std::string::npos);
}

// Random byte flips: each file either opens or gives an error; nothing crashes.
TEST(gguf_corrupt, random_byte_flips_never_crash) {
  const std::vector<uint8_t> good = small_writer().to_bytes();
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> position(0, good.size() - 1);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<uint8_t> bytes = good;
    for (int flips = 0; flips < 1 + trial % 4; ++flips) {
      bytes[position(rng)] = static_cast<uint8_t>(byte(rng));
    }
    temp_file f("flipped.gguf");
    f.write(bytes);
    result<std::shared_ptr<const gguf_file>> file = gguf_file::open(f.path());
    if (!file.ok()) continue;
    for (const gguf_tensor_info& t : (*file)->tensors()) {
      EXPECT_LE(t.offset + t.num_bytes, good.size());
      (void)(*file)->dequantize(t);
    }
  }
}

}  // namespace
}  // namespace troupe::runtime
