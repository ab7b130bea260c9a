#pragma once
// Zeroed host memory that is committed page by page on first write, for the CPU KV cache: an
// engine started with a 512 MiB cache holds none of it until requests fill blocks (the block
// pool hands out low block ids first, so a lightly used cache stays small).
//
// Linux and other POSIX systems: an anonymous private mapping without swap reservation
// (MAP_NORESERVE); its pages read as zero and cost memory once written. Elsewhere, or when the
// mapping fails, ordinary zeroed heap memory (committed at once).
#include <cstddef>
#include <cstdint>
#include <span>

namespace troupe::backend {

template <class T>
class lazy_buffer {
 public:
  lazy_buffer() = default;
  // `size` zeroed elements. requires: T trivially copyable and zero-initialised by zero bytes.
  explicit lazy_buffer(size_t size);
  ~lazy_buffer();
  lazy_buffer(lazy_buffer&& other) noexcept { swap(other); }
  lazy_buffer& operator=(lazy_buffer&& other) noexcept {
    lazy_buffer moved(static_cast<lazy_buffer&&>(other));
    swap(moved);
    return *this;
  }
  lazy_buffer(const lazy_buffer&) = delete;
  lazy_buffer& operator=(const lazy_buffer&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  // Whether the memory is the lazily committed mapping (false: heap memory, all committed).
  bool is_lazy() const { return mapped_; }

 private:
  void swap(lazy_buffer& other) noexcept;

  T* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

extern template class lazy_buffer<float>;
extern template class lazy_buffer<uint8_t>;

}  // namespace troupe::backend
