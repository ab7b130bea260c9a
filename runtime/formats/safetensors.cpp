// safetensors: mmap a file, parse its JSON header, validate every tensor (contract:
// safetensors.hpp).
#include "runtime/formats/safetensors.hpp"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "runtime/formats/half.hpp"

namespace troupe::runtime {
namespace {

// The header must be read before anything is trusted; 100 MB is far above any real header.
constexpr uint64_t max_header_bytes = uint64_t{100} << 20;

result<safetensors_dtype> parse_dtype(const std::string& name) {
  if (name == "F32") return safetensors_dtype::f32;
  if (name == "F16") return safetensors_dtype::f16;
  if (name == "BF16") return safetensors_dtype::bf16;
  if (name == "I8") return safetensors_dtype::i8;
  return error{"unsupported dtype " + name + " (supported: F32, F16, BF16, I8)"};
}

result<std::vector<int64_t>> parse_shape(const rapidjson::Value& v) {
  if (!v.IsArray()) return error{"\"shape\" is not an array"};
  std::vector<int64_t> shape;
  for (const auto& d : v.GetArray()) {
    if (!d.IsUint64() || d.GetUint64() > (uint64_t{1} << 40)) {
      return error{"\"shape\" has a bad dimension"};
    }
    shape.push_back(static_cast<int64_t>(d.GetUint64()));
  }
  return shape;
}

// Element count, or -1 when it overflows.
int64_t checked_count(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d != 0 && n > INT64_MAX / 8 / d) return -1;
    n *= d;
  }
  return n;
}

}  // namespace

const char* safetensors_dtype_name(safetensors_dtype dtype) {
  switch (dtype) {
    case safetensors_dtype::f32:
      return "F32";
    case safetensors_dtype::f16:
      return "F16";
    case safetensors_dtype::bf16:
      return "BF16";
    case safetensors_dtype::i8:
      return "I8";
  }
  return "?";
}

int64_t safetensors_dtype_size(safetensors_dtype dtype) {
  if (dtype == safetensors_dtype::i8) return 1;
  return dtype == safetensors_dtype::f32 ? 4 : 2;
}

int64_t safetensors_tensor::num_elements() const {
  return checked_count(shape);
}

std::vector<float> safetensors_tensor::to_f32() const {
  const size_t n = static_cast<size_t>(num_elements());
  std::vector<float> out(n);
  if (dtype == safetensors_dtype::f32) {
    std::memcpy(out.data(), data.data(), n * 4);
    return out;
  }
  if (dtype == safetensors_dtype::i8) {
    for (size_t i = 0; i < n; ++i)
      out[i] = static_cast<float>(static_cast<int8_t>(data[i]));
    return out;
  }
  for (size_t i = 0; i < n; ++i) {
    uint16_t bits;
    std::memcpy(&bits, data.data() + 2 * i, 2);  // the mapping need not be 2-byte aligned
    out[i] = dtype == safetensors_dtype::f16 ? f16_to_f32(bits) : bf16_to_f32(bits);
  }
  return out;
}

result<std::shared_ptr<const safetensors_file>> safetensors_file::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error{path + ": cannot open: " + std::strerror(errno)};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return error{path + ": not a regular file"};
  }
  std::shared_ptr<safetensors_file> file(new safetensors_file());
  file->path_ = path;
  file->map_size_ = static_cast<size_t>(st.st_size);
  if (file->map_size_ > 0) {
    void* map = ::mmap(nullptr, file->map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      return error{path + ": mmap failed: " + std::strerror(errno)};
    }
    file->map_ = static_cast<const uint8_t*>(map);
  }
  ::close(fd);  // the mapping keeps the file alive
  if (auto ok = file->parse(); !ok) return error{path + ": " + ok.message()};
  return std::shared_ptr<const safetensors_file>(std::move(file));
}

safetensors_file::~safetensors_file() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

status safetensors_file::parse() {
  if (map_size_ < 8) return error{"truncated: no header length"};
  uint64_t header_len = 0;
  std::memcpy(&header_len, map_, 8);
  if (header_len > max_header_bytes || header_len > map_size_ - 8) {
    return error{"header length " + std::to_string(header_len) + " exceeds the file"};
  }
  rapidjson::Document doc;
  doc.Parse(reinterpret_cast<const char*>(map_ + 8), header_len);
  if (doc.HasParseError() || !doc.IsObject()) return error{"header is not a JSON object"};
  const uint8_t* data = map_ + 8 + header_len;
  const uint64_t data_size = map_size_ - 8 - header_len;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& m : doc.GetObject()) {
    std::string name(m.name.GetString(), m.name.GetStringLength());
    if (name == "__metadata__") continue;
    const auto& v = m.value;
    if (!v.IsObject() || !v.HasMember("dtype") || !v["dtype"].IsString() || !v.HasMember("shape") ||
        !v.HasMember("data_offsets")) {
      return error{"tensor '" + name + "': needs dtype, shape and data_offsets"};
    }
    auto dtype = parse_dtype(v["dtype"].GetString());
    if (!dtype) return error{"tensor '" + name + "': " + dtype.message()};
    auto shape = parse_shape(v["shape"]);
    if (!shape) return error{"tensor '" + name + "': " + shape.message()};
    const auto& off = v["data_offsets"];
    if (!off.IsArray() || off.Size() != 2 || !off[0].IsUint64() || !off[1].IsUint64()) {
      return error{"tensor '" + name + "': data_offsets must be [begin, end]"};
    }
    const uint64_t begin = off[0].GetUint64(), end = off[1].GetUint64();
    const int64_t count = checked_count(*shape);
    if (count < 0) return error{"tensor '" + name + "': element count overflows"};
    if (begin > end || end > data_size) {
      return error{"tensor '" + name + "': data_offsets outside the data section"};
    }
    if (end - begin != static_cast<uint64_t>(count * safetensors_dtype_size(*dtype))) {
      return error{"tensor '" + name + "': byte size does not match its shape and dtype"};
    }
    ranges.emplace_back(begin, end);
    tensors_[name] = {name, *dtype, std::move(*shape), {data + begin, end - begin}};
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first < ranges[i - 1].second) return error{"tensors overlap in the data"};
  }
  return ok_status();
}

const safetensors_tensor* safetensors_file::find(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

}  // namespace troupe::runtime
