#include "runtime/backend/lazy_buffer.hpp"

#include <cstdlib>
#include <new>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define TROUPE_HAVE_MMAP 1
#endif

namespace troupe::backend {

template <class T>
lazy_buffer<T>::lazy_buffer(size_t size) : size_(size) {
  if (size == 0) return;
  const size_t bytes = size * sizeof(T);
#ifdef TROUPE_HAVE_MMAP
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p != MAP_FAILED) {
    data_ = static_cast<T*>(p);
    mapped_ = true;
    return;
  }
#endif
  data_ = static_cast<T*>(std::calloc(size, sizeof(T)));
  if (data_ == nullptr) throw std::bad_alloc();
}

template <class T>
lazy_buffer<T>::~lazy_buffer() {
  if (data_ == nullptr) return;
#ifdef TROUPE_HAVE_MMAP
  if (mapped_) {
    ::munmap(data_, size_ * sizeof(T));
    return;
  }
#endif
  std::free(data_);
}

template <class T>
void lazy_buffer<T>::swap(lazy_buffer& other) noexcept {
  std::swap(data_, other.data_);
  std::swap(size_, other.size_);
  std::swap(mapped_, other.mapped_);
}

template class lazy_buffer<float>;
template class lazy_buffer<uint8_t>;
template class lazy_buffer<uint16_t>;

}  // namespace troupe::backend
