// Parsing of the GGUF header, metadata and tensor infos out of a mapped byte range. Every read is
// bounds-checked, and every count is checked against the bytes left before anything is allocated
// for it, so a corrupt file yields an error instead of a crash or a huge allocation.
#include <bit>
#include <cstring>
#include <limits>

#include "runtime/formats/ggml_types.hpp"
#include "runtime/formats/gguf.hpp"
#include "runtime/formats/gguf_parser.hpp"

namespace troupe::runtime {
namespace {

constexpr uint32_t max_array_depth = 8;  // nested arrays deeper than this are surely corrupt
constexpr uint32_t max_dims = 4;         // GGML_MAX_DIMS

// The fewest bytes one value of `type` can take, so a count can be checked before reading.
std::optional<uint64_t> min_value_size(uint32_t type) {
  switch (static_cast<gguf_value_type>(type)) {
    case gguf_value_type::u8:
    case gguf_value_type::i8:
    case gguf_value_type::boolean:
      return 1;
    case gguf_value_type::u16:
    case gguf_value_type::i16:
      return 2;
    case gguf_value_type::u32:
    case gguf_value_type::i32:
    case gguf_value_type::f32:
      return 4;
    case gguf_value_type::u64:
    case gguf_value_type::i64:
    case gguf_value_type::f64:
    case gguf_value_type::string:
      return 8;  // the length prefix
    case gguf_value_type::array:
      return 12;  // element type + count
  }
  return std::nullopt;
}

}  // namespace

template <class T>
bool gguf_parser::read(T& value) {
  if (remaining() < sizeof(T)) return false;
  std::memcpy(&value, data_ + pos_, sizeof(T));
  pos_ += sizeof(T);
  return true;
}

bool gguf_parser::read_string(std::string& s) {
  uint64_t length = 0;
  if (!read(length) || length > remaining()) return false;
  s.assign(reinterpret_cast<const char*>(data_ + pos_), length);
  pos_ += length;
  return true;
}

template <class Stored, class Widened>
status gguf_parser::read_scalar(gguf_value& out) {
  Stored v{};
  if (!read(v)) return error{"truncated"};
  out.v = static_cast<Widened>(v);
  return ok_status();
}

status gguf_parser::read_value(uint32_t type, uint32_t depth, gguf_value& out) {
  switch (static_cast<gguf_value_type>(type)) {
    case gguf_value_type::u8:
      return read_scalar<uint8_t, uint64_t>(out);
    case gguf_value_type::i8:
      return read_scalar<int8_t, int64_t>(out);
    case gguf_value_type::u16:
      return read_scalar<uint16_t, uint64_t>(out);
    case gguf_value_type::i16:
      return read_scalar<int16_t, int64_t>(out);
    case gguf_value_type::u32:
      return read_scalar<uint32_t, uint64_t>(out);
    case gguf_value_type::i32:
      return read_scalar<int32_t, int64_t>(out);
    case gguf_value_type::u64:
      return read_scalar<uint64_t, uint64_t>(out);
    case gguf_value_type::i64:
      return read_scalar<int64_t, int64_t>(out);
    case gguf_value_type::f32:
      return read_scalar<float, double>(out);
    case gguf_value_type::f64:
      return read_scalar<double, double>(out);
    case gguf_value_type::boolean: {
      uint8_t b = 0;
      if (!read(b)) return error{"truncated"};
      out.v = b != 0;
      return ok_status();
    }
    case gguf_value_type::string: {
      std::string s;
      if (!read_string(s)) return error{"truncated in a string"};
      out.v = std::move(s);
      return ok_status();
    }
    case gguf_value_type::array:
      return read_array(depth, out);
  }
  return error{"unknown value type " + std::to_string(type)};
}

status gguf_parser::read_array(uint32_t depth, gguf_value& out) {
  if (depth >= max_array_depth) return error{"arrays nested too deeply"};
  uint32_t element_type = 0;
  uint64_t count = 0;
  if (!read(element_type) || !read(count)) return error{"truncated in an array header"};
  const std::optional<uint64_t> min_size = min_value_size(element_type);
  if (!min_size) return error{"unknown array element type " + std::to_string(element_type)};
  if (count > remaining() / *min_size) {
    return error{"array of " + std::to_string(count) + " elements exceeds the file"};
  }
  gguf_array elements(count);
  for (uint64_t i = 0; i < count; ++i) {
    status s = read_value(element_type, depth + 1, elements[i]);
    if (!s) return error{s.message() + " (array element " + std::to_string(i) + ")"};
  }
  out.v = std::move(elements);
  return ok_status();
}

status gguf_parser::parse_header() {
  char magic[4] = {};
  if (!read(magic)) return error{"too short for a GGUF header"};
  if (std::memcmp(magic, "GGUF", 4) != 0) return error{"bad magic (not a GGUF file)"};
  uint32_t version = 0;
  if (!read(version)) return error{"truncated in the header"};
  if (version == 1) return error{"GGUF version 1 is not supported (need 2 or 3)"};
  if (version != 2 && version != 3) {
    const uint32_t swapped = __builtin_bswap32(version);
    if (swapped == 2 || swapped == 3) return error{"big-endian GGUF files are not supported"};
    return error{"unsupported GGUF version " + std::to_string(version) + " (need 2 or 3)"};
  }
  file_.version_ = version;
  if (!read(num_tensors_) || !read(num_kv_)) return error{"truncated in the header"};
  // A kv pair takes at least 13 bytes (key length, value type, one byte), a tensor info 24.
  if (num_kv_ > remaining() / 13) {
    return error{"metadata count " + std::to_string(num_kv_) + " exceeds the file"};
  }
  if (num_tensors_ > remaining() / 24) {
    return error{"tensor count " + std::to_string(num_tensors_) + " exceeds the file"};
  }
  return ok_status();
}

status gguf_parser::parse_metadata() {
  for (uint64_t i = 0; i < num_kv_; ++i) {
    std::string key;
    uint32_t type = 0;
    if (!read_string(key) || !read(type)) {
      return error{"truncated in metadata key " + std::to_string(i)};
    }
    gguf_value value;
    status s = read_value(type, 0, value);
    if (!s) return error{s.message() + " in metadata '" + key + "'"};
    if (file_.metadata_.count(key) != 0) return error{"duplicate metadata key '" + key + "'"};
    file_.metadata_types_.emplace(key, static_cast<gguf_value_type>(type));
    file_.metadata_.emplace(std::move(key), std::move(value));
  }
  return ok_status();
}

status gguf_parser::read_tensor_info(uint64_t index, gguf_tensor_info& t) {
  const std::string where = "tensor info " + std::to_string(index);
  uint32_t num_dims = 0;
  if (!read_string(t.name) || !read(num_dims)) return error{"truncated in " + where};
  if (num_dims > max_dims) {
    return error{where + " ('" + t.name + "') has " + std::to_string(num_dims) + " dims (max 4)"};
  }
  t.shape.resize(num_dims);
  uint64_t num_elements = 1;
  for (uint64_t& dim : t.shape) {
    if (!read(dim)) return error{"truncated in " + where};
    // ggml keeps dims as int64 and their product must fit too.
    if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
        (dim != 0 &&
         num_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / dim)) {
      return error{where + " ('" + t.name + "') has an absurd shape"};
    }
    num_elements *= dim;
  }
  if (!read(t.type) || !read(t.offset)) return error{"truncated in " + where};
  const ggml_type_traits* info = ggml_type_info(t.type);
  if (info == nullptr) {
    return error{"unknown tensor type " + std::to_string(t.type) + " for '" + t.name + "'"};
  }
  if (num_dims > 0 && t.shape[0] % info->block_size != 0) {
    return error{"tensor '" + t.name + "': row length " + std::to_string(t.shape[0]) +
                 " is not a multiple of the " + info->name + " block size"};
  }
  const std::optional<uint64_t> num_bytes = ggml_nbytes(t.type, num_elements);
  if (!num_bytes) return error{where + " ('" + t.name + "') has an absurd size"};
  t.num_bytes = *num_bytes;
  return ok_status();
}

status gguf_parser::parse_tensor_infos() {
  file_.tensors_.resize(num_tensors_);
  for (uint64_t i = 0; i < num_tensors_; ++i) {
    gguf_tensor_info& t = file_.tensors_[i];
    status s = read_tensor_info(i, t);
    if (!s) return s;
    if (!file_.tensor_index_.emplace(t.name, i).second) {
      return error{"duplicate tensor name '" + t.name + "'"};
    }
  }
  return ok_status();
}

status gguf_parser::parse_alignment() {
  if (file_.metadata_.count("general.alignment") == 0) return ok_status();
  const std::optional<int64_t> alignment = file_.get_int("general.alignment");
  if (!alignment || *alignment <= 0 || *alignment > (1 << 30) ||
      !std::has_single_bit(static_cast<uint64_t>(*alignment))) {
    return error{"general.alignment must be a power of two"};
  }
  file_.alignment_ = static_cast<uint32_t>(*alignment);
  return ok_status();
}

status gguf_parser::place_data() {
  const uint64_t alignment = file_.alignment_;
  const uint64_t data_offset = (pos_ + alignment - 1) / alignment * alignment;
  file_.data_offset_ = data_offset;
  const uint64_t data_size = size_ > data_offset ? size_ - data_offset : 0;
  for (const gguf_tensor_info& t : file_.tensors_) {
    if (t.offset % alignment != 0) {
      return error{"tensor '" + t.name + "' data offset " + std::to_string(t.offset) +
                   " is not aligned to " + std::to_string(alignment)};
    }
    if (t.offset > data_size || t.num_bytes > data_size - t.offset) {
      return error{"tensor '" + t.name + "' data (" + std::to_string(t.num_bytes) +
                   " bytes at offset " + std::to_string(t.offset) + ") extends beyond the end"};
    }
  }
  return ok_status();
}

status gguf_parser::parse() {
  for (status (gguf_parser::*step)() :
       {&gguf_parser::parse_header, &gguf_parser::parse_metadata, &gguf_parser::parse_tensor_infos,
        &gguf_parser::parse_alignment, &gguf_parser::place_data}) {
    status s = (this->*step)();
    if (!s) return s;
  }
  return ok_status();
}

}  // namespace troupe::runtime
