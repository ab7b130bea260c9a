#include "runtime/formats/gguf_writer.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "runtime/formats/quantize.hpp"

namespace troupe::runtime {
namespace {

class byte_sink {
 public:
  explicit byte_sink(std::vector<uint8_t>& out) : out_(out) {}
  template <class T>
  void put(T value) {
    put_bytes(&value, sizeof(T));
  }
  void put_string(const std::string& s) {
    put(uint64_t{s.size()});
    put_bytes(s.data(), s.size());
  }
  // resize + memcpy rather than vector::insert: GCC 12 warns falsely (-Wstringop-overflow) there.
  void put_bytes(const void* p, size_t n) {
    if (n == 0) return;
    const size_t at = out_.size();
    out_.resize(at + n);
    std::memcpy(out_.data() + at, p, n);
  }
  void pad_to(uint64_t alignment) {
    out_.resize((out_.size() + alignment - 1) / alignment * alignment, 0);
  }

 private:
  std::vector<uint8_t>& out_;
};

uint64_t align_up(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

uint64_t as_u64(const gguf_value& v) {
  if (const auto* u = std::get_if<uint64_t>(&v.v)) return *u;
  if (const auto* i = std::get_if<int64_t>(&v.v)) return static_cast<uint64_t>(*i);
  return 0;
}

// The value's payload only: the caller writes the type tag (arrays tag their elements once).
void put_payload(byte_sink& sink, const gguf_meta& m) {
  switch (m.type) {
    case gguf_value_type::u8:
    case gguf_value_type::i8:
      sink.put(static_cast<uint8_t>(as_u64(m.value)));
      break;
    case gguf_value_type::u16:
    case gguf_value_type::i16:
      sink.put(static_cast<uint16_t>(as_u64(m.value)));
      break;
    case gguf_value_type::u32:
    case gguf_value_type::i32:
      sink.put(static_cast<uint32_t>(as_u64(m.value)));
      break;
    case gguf_value_type::u64:
    case gguf_value_type::i64:
      sink.put(as_u64(m.value));
      break;
    case gguf_value_type::f32:
      sink.put(static_cast<float>(std::get<double>(m.value.v)));
      break;
    case gguf_value_type::f64:
      sink.put(std::get<double>(m.value.v));
      break;
    case gguf_value_type::boolean:
      sink.put(static_cast<uint8_t>(std::get<bool>(m.value.v)));
      break;
    case gguf_value_type::string:
      sink.put_string(std::get<std::string>(m.value.v));
      break;
    case gguf_value_type::array:
      sink.put(static_cast<uint32_t>(m.element_type));
      sink.put(uint64_t{m.elements.size()});
      for (const gguf_meta& element : m.elements)
        put_payload(sink, element);
      break;
  }
}

}  // namespace

gguf_meta gguf_meta::string_array(const std::vector<std::string>& values) {
  std::vector<gguf_meta> elements;
  for (const std::string& v : values)
    elements.push_back(string(v));
  return array(gguf_value_type::string, std::move(elements));
}

gguf_meta gguf_meta::i32_array(const std::vector<int32_t>& values) {
  std::vector<gguf_meta> elements;
  for (int32_t v : values)
    elements.push_back(i32(v));
  return array(gguf_value_type::i32, std::move(elements));
}

gguf_meta gguf_meta::f32_array(const std::vector<float>& values) {
  std::vector<gguf_meta> elements;
  for (float v : values)
    elements.push_back(f32(v));
  return array(gguf_value_type::f32, std::move(elements));
}

gguf_writer::gguf_writer(uint32_t alignment) : alignment_(alignment == 0 ? 32 : alignment) {
  if (alignment_ != 32) set("general.alignment", gguf_meta::u32(alignment_));
}

void gguf_writer::set(const std::string& key, gguf_meta value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

status gguf_writer::add_tensor(const std::string& name, std::vector<uint64_t> shape, ggml_type type,
                               std::span<const float> values) {
  uint64_t num_elements = 1;
  for (uint64_t dim : shape)
    num_elements *= dim;
  if (num_elements != values.size()) {
    return error{"tensor '" + name + "': " + std::to_string(values.size()) +
                 " values for a shape of " + std::to_string(num_elements)};
  }
  result<std::vector<uint8_t>> bytes = encode_tensor(static_cast<uint32_t>(type), values);
  if (!bytes) return error{"tensor '" + name + "': " + bytes.message()};
  return add_raw_tensor(name, std::move(shape), static_cast<uint32_t>(type),
                        std::move(bytes.value()));
}

status gguf_writer::add_raw_tensor(const std::string& name, std::vector<uint64_t> shape,
                                   uint32_t type, std::vector<uint8_t> bytes) {
  for (const tensor& t : tensors_) {
    if (t.name == name) return error{"duplicate tensor '" + name + "'"};
  }
  tensors_.push_back({name, std::move(shape), type, std::move(bytes)});
  return ok_status();
}

std::vector<uint8_t> gguf_writer::header_bytes() const {
  std::vector<uint8_t> out;
  byte_sink sink(out);
  sink.put(uint32_t{0x46554747});  // "GGUF" read as a little-endian u32
  sink.put(version_);
  sink.put(uint64_t{tensors_.size()});
  sink.put(uint64_t{metadata_.size()});
  for (const auto& [key, value] : metadata_) {
    sink.put_string(key);
    sink.put(static_cast<uint32_t>(value.type));
    put_payload(sink, value);
  }
  uint64_t offset = 0;
  for (const tensor& t : tensors_) {
    sink.put_string(t.name);
    sink.put(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t dim : t.shape)
      sink.put(dim);
    sink.put(t.type);
    sink.put(offset);
    offset += align_up(t.bytes.size(), alignment_);
  }
  sink.pad_to(alignment_);
  return out;
}

std::vector<uint8_t> gguf_writer::to_bytes() const {
  std::vector<uint8_t> out = header_bytes();
  byte_sink sink(out);
  for (const tensor& t : tensors_) {
    sink.put_bytes(t.bytes.data(), t.bytes.size());
    sink.pad_to(alignment_);
  }
  return out;
}

status gguf_writer::write(const std::string& path) const {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) return error{path + ": cannot create: " + std::strerror(errno)};
  const std::vector<uint8_t> header = header_bytes();
  file.write(reinterpret_cast<const char*>(header.data()),
             static_cast<std::streamsize>(header.size()));
  static const char zeros[256] = {};
  for (const tensor& t : tensors_) {
    file.write(reinterpret_cast<const char*>(t.bytes.data()),
               static_cast<std::streamsize>(t.bytes.size()));
    file.write(zeros,
               static_cast<std::streamsize>(align_up(t.bytes.size(), alignment_) - t.bytes.size()));
  }
  file.close();
  if (!file) return error{path + ": write failed: " + std::strerror(errno)};
  return ok_status();
}

}  // namespace troupe::runtime
