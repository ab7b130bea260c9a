#include "runtime/formats/gguf.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "runtime/formats/dequant.hpp"
#include "runtime/formats/gguf_parser.hpp"

namespace troupe::runtime {
namespace {

std::optional<int64_t> as_int(const gguf_value& value) {
  if (const auto* u = std::get_if<uint64_t>(&value.v)) {
    if (*u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(*u);
  }
  if (const auto* i = std::get_if<int64_t>(&value.v)) return *i;
  return std::nullopt;
}

std::optional<double> as_float(const gguf_value& value) {
  if (const auto* d = std::get_if<double>(&value.v)) return *d;
  if (std::optional<int64_t> i = as_int(value)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<std::string> as_string(const gguf_value& value) {
  if (const auto* s = std::get_if<std::string>(&value.v)) return *s;
  return std::nullopt;
}

// The array under `value` converted element-wise, or nullopt if any element does not convert.
template <class T, class Convert>
std::optional<std::vector<T>> as_array(const gguf_value* value, Convert convert) {
  if (value == nullptr) return std::nullopt;
  const auto* array = std::get_if<gguf_array>(&value->v);
  if (array == nullptr) return std::nullopt;
  std::vector<T> out;
  out.reserve(array->size());
  for (const gguf_value& element : *array) {
    std::optional<T> converted = convert(element);
    if (!converted) return std::nullopt;
    out.push_back(std::move(*converted));
  }
  return out;
}

std::string errno_text() {
  return std::strerror(errno);
}

}  // namespace

uint64_t gguf_tensor_info::num_elements() const {
  uint64_t n = 1;
  for (uint64_t dim : shape)
    n *= dim;
  return n;
}

result<std::shared_ptr<const gguf_file>> gguf_file::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return error{path + ": cannot open: " + errno_text()};
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return error{path + ": not a regular file"};
  }
  std::shared_ptr<gguf_file> file(new gguf_file());
  file->path_ = path;
  file->map_size_ = static_cast<size_t>(st.st_size);
  if (file->map_size_ > 0) {
    void* map = ::mmap(nullptr, file->map_size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      ::close(fd);
      return error{path + ": mmap failed: " + errno_text()};
    }
    file->map_ = static_cast<const uint8_t*>(map);
  }
  ::close(fd);  // the mapping keeps the file alive
  gguf_parser parser(*file, file->map_, file->map_size_);
  status parsed = parser.parse();
  if (!parsed) return error{path + ": " + parsed.message()};
  return std::shared_ptr<const gguf_file>(std::move(file));
}

gguf_file::~gguf_file() {
  if (map_ != nullptr) ::munmap(const_cast<uint8_t*>(map_), map_size_);
}

const gguf_value* gguf_file::find(const std::string& key) const {
  auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

std::optional<gguf_value_type> gguf_file::metadata_type(const std::string& key) const {
  auto it = metadata_types_.find(key);
  if (it == metadata_types_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> gguf_file::get_string(const std::string& key) const {
  const gguf_value* v = find(key);
  return v != nullptr ? as_string(*v) : std::nullopt;
}

std::optional<int64_t> gguf_file::get_int(const std::string& key) const {
  const gguf_value* v = find(key);
  return v != nullptr ? as_int(*v) : std::nullopt;
}

std::optional<double> gguf_file::get_float(const std::string& key) const {
  const gguf_value* v = find(key);
  return v != nullptr ? as_float(*v) : std::nullopt;
}

std::optional<bool> gguf_file::get_bool(const std::string& key) const {
  const gguf_value* v = find(key);
  if (v == nullptr || !std::holds_alternative<bool>(v->v)) return std::nullopt;
  return std::get<bool>(v->v);
}

std::optional<std::vector<std::string>> gguf_file::get_string_array(const std::string& key) const {
  return as_array<std::string>(find(key), as_string);
}

std::optional<std::vector<int64_t>> gguf_file::get_int_array(const std::string& key) const {
  return as_array<int64_t>(find(key), as_int);
}

std::optional<std::vector<double>> gguf_file::get_float_array(const std::string& key) const {
  return as_array<double>(find(key), as_float);
}

const gguf_tensor_info* gguf_file::find_tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> gguf_file::tensor_data(const gguf_tensor_info& t) const {
  const uint64_t data_size = map_size_ > data_offset_ ? map_size_ - data_offset_ : 0;
  if (t.offset > data_size || t.num_bytes > data_size - t.offset) return {};
  return {map_ + data_offset_ + t.offset, static_cast<size_t>(t.num_bytes)};
}

result<std::vector<float>> gguf_file::dequantize(const gguf_tensor_info& t) const {
  if (!can_dequantize(t.type)) {
    return error{"unsupported tensor type " + ggml_type_name(t.type) + " (" +
                 std::to_string(t.type) + ") for '" + t.name + "'"};
  }
  std::vector<float> out(t.num_elements());
  status s = runtime::dequantize(t.type, tensor_data(t), out, t.name);
  if (!s) return s.err();
  return out;
}

}  // namespace troupe::runtime
